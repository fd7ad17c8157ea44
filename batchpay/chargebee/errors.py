"""Every error the Chargebee client layer raises, and the one function that maps a response to one.

    BatchpayError                       (batchpay.errors)
    ├── PlanError
    │   └── EncodeError                 a value an action/version cannot take (encode.py)
    └── ChargebeeError
        ├── ConfigError                 bad base URL or site, http to a non-loopback host, no key
        ├── NotSupportedError           an operation the site's API version does not have
        ├── TransportError              no HTTP response; .sent False only if it surely never left
        └── ApiError                    an HTTP response that is not a 2xx JSON object
            ├── InvalidRequestError     400 (and 405), e.g. param_wrong_value with .param
            ├── PaymentError            type "payment", e.g. payment_processing_failed (decline)
            ├── AuthenticationError     401
            ├── ForbiddenError          403
            ├── NotFoundError           404 (resource_not_found, site_not_found)
            ├── InvalidStateError       409 invalid_state_for_request
            ├── IdempotencyConflictError  422 unable_to_process_request (key reused, other payload)
            ├── RateLimitError          429; .lock_timeout when api_error_code == "lock_timeout"
            ├── ServerError             5xx
            └── MalformedResponseError  a 2xx whose body is not a JSON object

``str()`` of any of these never contains the API key: the client passes its key to
:func:`error_from_response` and :class:`TransportError` builders as ``redact``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from batchpay.errors import BatchpayError

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ChargebeeError",
    "ConfigError",
    "ForbiddenError",
    "IdempotencyConflictError",
    "InvalidRequestError",
    "InvalidStateError",
    "MalformedResponseError",
    "NotFoundError",
    "NotSupportedError",
    "PaymentError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "error_from_response",
    "header",
    "redact_text",
]

_SNIPPET = 200  # characters of a non-JSON body quoted in a message


class ChargebeeError(BatchpayError):
    """Root of the Chargebee client layer's errors."""


class ConfigError(ChargebeeError):
    """A base URL, site name or API key that the client refuses to use."""


class NotSupportedError(ChargebeeError):
    """An operation that the site's API version does not offer (e.g. filtered lists in v1)."""


class TransportError(ChargebeeError):
    """No HTTP response arrived: connect error, timeout, dropped connection.

    ``sent`` is False only when the request certainly never left (connect error, connect or pool
    timeout). For a write with ``sent=True`` the outcome is UNKNOWN: re-send with the same
    idempotency key, or check server state.
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent


class ApiError(ChargebeeError):
    """An HTTP response Chargebee (or something in front of it) sent instead of success."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        api_error_code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        error_cause_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.type = type
        self.api_error_code = api_error_code
        self.param = param
        self.retry_after = retry_after
        self.error_cause_id = error_cause_id
        self.request_id = request_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.api_error_code:
            parts.append(self.api_error_code)
        if self.type:
            parts.append(f"({self.type})")
        if self.param:
            parts.append(f"param={self.param}")
        if self.error_cause_id:
            parts.append(f"cause={self.error_cause_id}")
        return " ".join(parts) + f": {self.message}"


class InvalidRequestError(ApiError):
    """400 (or 405): a parameter Chargebee rejects; ``param`` names it when Chargebee says."""


class PaymentError(ApiError):
    """``type == "payment"``: the gateway declined or failed. Never retried."""


class AuthenticationError(ApiError):
    """401: the API key is wrong or missing."""


class ForbiddenError(ApiError):
    """403: the key may not do this, or the request was blocked."""


class NotFoundError(ApiError):
    """404: the resource (``resource_not_found``) or the whole site (``site_not_found``)."""


class InvalidStateError(ApiError):
    """409: the resource is in a state that forbids this (e.g. paying a paid invoice)."""


class IdempotencyConflictError(ApiError):
    """422 ``unable_to_process_request``; documented cause: an idempotency key reused with
    different parameters."""


class RateLimitError(ApiError):
    """429: request or concurrency limit, or ``lock_timeout`` (concurrent writes, one resource)."""

    @property
    def lock_timeout(self) -> bool:
        return self.api_error_code == "lock_timeout"


class ServerError(ApiError):
    """5xx, including an HTML error page from a proxy."""


class MalformedResponseError(ApiError):
    """A 2xx response whose body is not a JSON object: the call's outcome cannot be read."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup on any mapping (httpx.Headers or a plain dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def redact_text(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if secret:
        return text.replace(secret, "***")
    return text


def _status_class(status: int, error_type: str | None) -> type[ApiError]:
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if error_type == "payment":
        return PaymentError
    return _BY_STATUS.get(status, ApiError)


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    405: InvalidRequestError,
    409: InvalidStateError,
    422: IdempotencyConflictError,
}


def _text_field(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    return str(value)


def error_from_response(
    status: int,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    redact: str | None = None,
) -> ApiError:
    """Map one non-2xx response to the matching :class:`ApiError` subclass.

    Reads ``message``, ``type``, ``api_error_code`` (else the legacy ``error_code``), ``param``
    and ``error_cause_id`` from a JSON body; a body that is not a JSON object (an HTML 502 page
    from a proxy) still yields the class for its status, with a message quoting its start.
    ``Retry-After`` (seconds or an HTTP date) becomes ``retry_after``. ``redact`` is removed
    from every text the error carries.
    """
    from batchpay.chargebee.retry import parse_retry_after  # retry imports this module

    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    retry_after = parse_retry_after(header(headers, "retry-after"))
    request_id = header(headers, "x-request-id")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        content_type = header(headers, "content-type") or "no content type"
        snippet = " ".join(text.split())[:_SNIPPET] or "(empty body)"
        message = f"response body is not a Chargebee JSON error ({content_type}): {snippet}"
        return _status_class(status, None)(
            redact_text(message, redact),
            status=status,
            retry_after=retry_after,
            request_id=request_id,
        )
    error_type = _text_field(data, "type")

    def field(name: str) -> str | None:
        value = _text_field(data, name)
        return None if value is None else redact_text(value, redact)

    return _status_class(status, error_type)(
        field("message") or f"HTTP {status} with no message",
        status=status,
        type=error_type,
        api_error_code=field("api_error_code") or field("error_code"),
        param=field("param"),
        retry_after=retry_after,
        error_cause_id=field("error_cause_id"),
        request_id=request_id,
    )
