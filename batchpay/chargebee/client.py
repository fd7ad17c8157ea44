"""The HTTP client: one ``httpx.AsyncClient`` (one connection pool) per run, one attempt per call.

Layers, as in httpx: :meth:`ChargebeeClient.send` (one :class:`~batchpay.chargebee.encode.Request`
→ one :class:`ApiResponse` or one typed error) over ``httpx.AsyncClient`` over a transport that
tests replace with ``httpx.MockTransport``. Retries and rate limiting belong to the run engine
(see :mod:`batchpay.chargebee.retry`); the read helpers below page but never retry.

Base URLs: ``base_url_for(site="acme-test")`` → ``https://acme-test.chargebee.com/api/v2``. An
explicit base URL ending in ``/api/v1`` or ``/api/v2`` is used as is (its version must match);
any other gets ``/api/{version}`` appended. Plain ``http://`` only for loopback hosts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import unquote, urlencode, urlsplit

import httpx

from batchpay import __version__
from batchpay.chargebee.encode import (
    MAX_LIST_LIMIT,
    Request,
    latest_invoice_request,
    list_invoices_request,
    list_transactions_request,
    retrieve_request,
)
from batchpay.chargebee.errors import (
    ConfigError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    TransportError,
    error_from_response,
    header,
    redact_text,
)
from batchpay.siteid import is_loopback as _is_loopback

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "ApiResponse",
    "ChargebeeClient",
    "api_version_of",
    "base_url_for",
    "is_test_site",
    "suppression_headers",
]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=30.0)
DEFAULT_MAX_CONNECTIONS = 20
DEFAULT_USER_AGENT = f"batchpay/{__version__} (+httpx/{httpx.__version__})"
MAX_IDEMPOTENCY_KEY_LENGTH = 100  # [IDEMP-V1]
CHARGEBEE_DOMAIN = "chargebee.com"
IDEMPOTENCY_KEY_HEADER = "chargebee-idempotency-key"
IDEMPOTENCY_REPLAYED_HEADER = "chargebee-idempotency-replayed"
REQUEST_ID_HEADER = "x-request-id"

_SITE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_VERSION_SUFFIX = re.compile(r"/api/(v1|v2)$")
# scheme:// then an authority holding "@" before any "/", "?" or "#": user info, maybe a secret
_USERINFO = re.compile(r"^[^:/?#]*:?/*[^/?#]*@")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces or line breaks
# ConnectError and the connect/pool timeouts happen before any byte of the request is written;
# UnsupportedProtocol before a connection is even tried. Everything else may have been sent.
_NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})


def _check_base_url(url: str) -> tuple[str, str]:
    """Validate an absolute base URL; return it without a trailing slash, and its host.

    Credentials are looked for first, on the raw text, so that no later message can quote
    them; a message shows the URL only once it is known to carry none.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("base URL is empty")
    if _USERINFO.match(url.strip()):
        raise ConfigError("base URL must not carry credentials (user:password@); the API key is "
                          "sent separately (CHARGEBEE_API_KEY)")
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"base URL {url!r} is not a valid URL: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"base URL {url!r} must be http(s)://host[:port][/path]")
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise ConfigError(f"base URL {url!r} must not contain . or .. path segments (they "
                          "would leave the API's path)")
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {url!r} must not have a query or fragment")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"plain http is allowed only for loopback hosts (127.0.0.0/8, localhost, ::1), "
            f"not {host}; use https"
        )
    return url.strip().rstrip("/"), host


def base_url_for(
    *, site: str | None = None, base_url: str | None = None, version: str = "v2"
) -> str:
    """The API base URL for a Chargebee ``site`` name or an explicit ``base_url``.

    ``site="acme-test"`` → ``https://acme-test.chargebee.com/api/v2``; a site name is letters,
    digits and hyphens only, so it cannot inject a host. ``base_url`` ending in ``/api/v1`` or
    ``/api/v2`` is kept (the suffix must match ``version``); otherwise ``/api/{version}`` is
    appended. Exactly one of ``site`` and ``base_url``.
    """
    if version not in ("v1", "v2"):
        raise ConfigError(f"API version must be v1 or v2, got {version!r}")
    if (site is None) == (base_url is None):
        raise ConfigError("give exactly one of site or base_url")
    if site is not None:
        if not _SITE.match(site):
            raise ConfigError(
                f"site {site!r} is not a Chargebee site name (letters, digits, hyphens; "
                f"e.g. acme-test)"
            )
        return f"https://{site.lower()}.{CHARGEBEE_DOMAIN}/api/{version}"
    assert base_url is not None
    url, _ = _check_base_url(base_url)
    match = _VERSION_SUFFIX.search(urlsplit(url).path)
    if match is None:
        return f"{url}/api/{version}"
    if match.group(1) != version:
        raise ConfigError(f"base URL {url!r} is for API {match.group(1)}, the job says {version}")
    return url


def is_test_site(base_url: str) -> bool:
    """True for a Chargebee test site (``*-test.chargebee.com``) or a loopback host."""
    try:
        host = (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return False
    return host.endswith(f"-test.{CHARGEBEE_DOMAIN}") or _is_loopback(host)


def api_version_of(base_url: str) -> Literal["v1", "v2"]:
    """The API version a base URL addresses: v1 when its path ends in ``/v1``, else v2."""
    return "v1" if urlsplit(base_url).path.rstrip("/").endswith("/v1") else "v2"


EVENT_KINDS = ("email", "webhook", "actions")


def suppression_headers(kinds: Iterable[str]) -> dict[str, str]:
    """``chargebee-event-<kind>: all-disabled`` for each kind (email, webhook, actions), to pass
    as ``send(..., headers=...)`` on writes."""
    headers: dict[str, str] = {}
    for kind in kinds:
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {', '.join(EVENT_KINDS)}, got {kind!r}")
        headers[f"chargebee-event-{kind}"] = "all-disabled"
    return headers


@dataclass(frozen=True)
class ApiResponse:
    """A 2xx JSON response. ``replayed``: Chargebee answered from its idempotency store."""

    status: int
    body: dict[str, Any]
    replayed: bool
    request_id: str | None


def _check_idempotency_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("idempotency key must be a non-empty text")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(
            f"idempotency key is {len(key)} characters; Chargebee allows at most "
            f"{MAX_IDEMPOTENCY_KEY_LENGTH}"
        )
    if not _HEADER_VALUE.match(key):
        raise ValueError("idempotency key must be printable ASCII without spaces")


class ChargebeeClient:
    """An async Chargebee API client over one connection pool. Use ``async with``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self.base_url, _ = _check_base_url(base_url)
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigError("no Chargebee API key (set CHARGEBEE_API_KEY)")
        if not _HEADER_VALUE.match(api_key):
            raise ConfigError("the Chargebee API key contains spaces or non-ASCII characters")
        self._api_key = api_key
        self.api_version = api_version_of(self.base_url)
        self._base_path = urlsplit(self.base_url).path
        self.calls_made = 0
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(api_key, ""),
            headers={"Accept": "application/json", "User-Agent": user_agent},
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ChargebeeClient(base_url={self.base_url!r}, api_key='***')"

    async def __aenter__(self) -> ChargebeeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- one attempt -----------------------------------------------------------------------

    def _url(self, request: Request) -> httpx.URL:
        if not request.path.startswith("/"):
            raise ValueError(f"request path must start with '/', got {request.path!r}")
        url = httpx.URL(self.base_url + request.path)
        if not url.path.startswith(self._base_path + "/"):  # defence in depth: no dot-segments
            raise ValueError(f"request path {request.path!r} leaves the API base path")
        return url

    def _build(
        self, request: Request, idempotency_key: str | None, headers: Mapping[str, str] | None
    ) -> httpx.Request:
        extra: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the client")
            extra[name] = value
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
            extra[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        url = self._url(request)
        if request.method == "GET":
            return self._http.build_request(
                "GET", url, params=list(request.form), headers=extra
            )
        extra["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode(list(request.form)).encode("ascii")
        return self._http.build_request("POST", url, content=body, headers=extra)

    async def send(
        self,
        request: Request,
        *,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send ``request`` once. Non-2xx → :func:`error_from_response`; no response →
        :class:`TransportError` (``.sent`` False only if it surely never left)."""
        http_request = self._build(request, idempotency_key, headers)
        where = f"{request.method} {request.path}"
        self.calls_made += 1
        try:
            response = await self._http.send(http_request)
            content = response.content
        except httpx.RequestError as exc:
            sent = not isinstance(exc, _NEVER_SENT)
            outcome = "outcome unknown" if sent else "request not sent"
            message = f"{where}: {type(exc).__name__}: {exc or 'no detail'} ({outcome})"
            raise TransportError(redact_text(message, self._api_key), sent=sent) from None
        request_id = header(response.headers, REQUEST_ID_HEADER)
        if not 200 <= response.status_code < 300:
            raise error_from_response(
                response.status_code, content, response.headers, redact=self._api_key
            )
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            snippet = " ".join(content.decode("utf-8", "replace").split())[:200]
            raise MalformedResponseError(
                redact_text(
                    f"{where}: HTTP {response.status_code} but the body is not a JSON object "
                    f"({response.headers.get('content-type', 'no content type')}): {snippet}",
                    self._api_key,
                ),
                status=response.status_code,
                request_id=request_id,
            )
        replayed = (header(response.headers, IDEMPOTENCY_REPLAYED_HEADER) or "").lower() == "true"
        return ApiResponse(
            status=response.status_code, body=body, replayed=replayed, request_id=request_id
        )

    # -- reads for dry runs ------------------------------------------------------------------

    async def _pages(self, first: Request, make: Any) -> list[dict[str, Any]]:
        """Every ``list`` entry of a list endpoint, following ``next_offset``."""
        entries: list[dict[str, Any]] = []
        request = first
        seen_offsets: set[str] = set()
        while True:
            body = (await self.send(request)).body
            page = body.get("list")
            if not isinstance(page, list):
                raise MalformedResponseError(
                    f"{request.method} {request.path}: response has no 'list'", status=200
                )
            entries.extend(e for e in page if isinstance(e, dict))
            next_offset = body.get("next_offset")
            if not next_offset:
                return entries
            if next_offset in seen_offsets:
                raise MalformedResponseError(
                    f"{request.method} {request.path}: next_offset repeats", status=200
                )
            seen_offsets.add(next_offset)
            request = make(str(next_offset))

    async def list_invoices(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Invoice id → invoice for ``ids`` (100 per request, pages followed); unknown ids are
        absent. API v1 has no ``id[in]`` filter: there each invoice is retrieved on its own."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        if self.api_version == "v1":
            for invoice_id in wanted:
                invoice = await self.retrieve_invoice(invoice_id)
                if invoice is not None:
                    found[invoice_id] = invoice
            return found
        wanted_set = set(wanted)
        for start in range(0, len(wanted), MAX_LIST_LIMIT):
            chunk = wanted[start : start + MAX_LIST_LIMIT]
            entries = await self._pages(
                list_invoices_request(chunk),
                lambda offset, chunk=chunk: list_invoices_request(chunk, offset=offset),
            )
            for entry in entries:
                invoice = entry.get("invoice")
                if isinstance(invoice, dict) and invoice.get("id") in wanted_set:
                    found[invoice["id"]] = invoice
        return found

    async def find_transactions(
        self,
        *,
        reference_number: str | None = None,
        customer_id: str | None = None,
        payment_source_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Transactions matching every given filter (API v2), all pages."""
        if not reference_number and not customer_id and not payment_source_id:
            raise ValueError(
                "find_transactions needs reference_number, customer_id or payment_source_id"
            )
        if self.api_version == "v1":
            raise NotSupportedError("API v1 cannot filter transactions by reference or customer")
        def page(offset: str | None = None) -> Request:
            return list_transactions_request(
                reference_number=reference_number, customer_id=customer_id,
                payment_source_id=payment_source_id, offset=offset,
            )

        entries = await self._pages(page(), page)
        return [e["transaction"] for e in entries if isinstance(e.get("transaction"), dict)]

    async def list_transactions(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The transactions with these ids (API v2 ``id[in]``, 100 per request, pages
        followed); unknown ids are absent."""
        if self.api_version == "v1":
            raise NotSupportedError("API v1 cannot list transactions by id")
        wanted = list(dict.fromkeys(ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), MAX_LIST_LIMIT):
            chunk = wanted[start : start + MAX_LIST_LIMIT]
            entries = await self._pages(
                list_transactions_request(ids=chunk),
                lambda offset, chunk=chunk: list_transactions_request(ids=chunk, offset=offset),
            )
            found += [e["transaction"] for e in entries if isinstance(e.get("transaction"), dict)]
        return found

    async def latest_invoice(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's most recent invoice, or None when it has none."""
        body = (await self.send(latest_invoice_request(customer_id, self.api_version))).body
        page = body.get("list")
        first = page[0] if isinstance(page, list) and page else None
        invoice = first.get("invoice") if isinstance(first, dict) else None
        return invoice if isinstance(invoice, dict) else None

    async def _retrieve(
        self, kind: Literal["invoice", "customer"], id: str
    ) -> dict[str, Any] | None:
        try:
            body = (await self.send(retrieve_request(kind, id))).body
        except NotFoundError as exc:
            if exc.api_error_code == "site_not_found":
                raise
            return None
        found = body.get(kind)
        return found if isinstance(found, dict) else None

    async def retrieve_invoice(self, id: str) -> dict[str, Any] | None:
        """The invoice, or None when Chargebee says it does not exist (a missing *site* raises)."""
        return await self._retrieve("invoice", id)

    async def retrieve_customer(self, id: str) -> dict[str, Any] | None:
        """The customer, or None when Chargebee says it does not exist."""
        return await self._retrieve("customer", id)

