"""Chargebee-shaped API errors, raised inside the sandbox and rendered as JSON at one boundary.

SandboxApiError            an error response: status, type, api_error_code, param, message
ConnectionDropped          apply-then-drop: the effect is committed, the response must not be sent
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxApiError(Exception):
    """One Chargebee error response."""

    status: int
    type: str
    api_error_code: str
    message: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "api_error_code": self.api_error_code,
            "error_code": self.api_error_code,
            "error_msg": self.message,
            "http_status_code": self.status,
        }
        if self.param is not None:
            body["param"] = self.param
            body["error_param"] = self.param
        return body


class ConnectionDropped(Exception):
    """Raised by the app when a fault closes the connection after the effect was committed."""


def param_wrong_value(param: str, message: str) -> SandboxApiError:
    return SandboxApiError(
        400, "invalid_request", "param_wrong_value", f"{param} : {message}", param
    )


def not_found(what: str, ident: str, param: str | None = None) -> SandboxApiError:
    return SandboxApiError(
        404, "invalid_request", "resource_not_found", f"{what} {ident} not found", param
    )


def invalid_state(message: str) -> SandboxApiError:
    return SandboxApiError(409, "invalid_request", "invalid_state_for_request", message)


def invalid_request(message: str, param: str | None = None) -> SandboxApiError:
    return SandboxApiError(400, "invalid_request", "invalid_request", message, param)


def payment_error(code: str, message: str, param: str | None = None) -> SandboxApiError:
    return SandboxApiError(400, "payment", code, message, param)


def unauthenticated() -> SandboxApiError:
    return SandboxApiError(
        401,
        "untyped",
        "api_authentication_failed",
        "Sorry, authentication failed. Invalid api key",
    )


def idempotency_mismatch() -> SandboxApiError:
    return SandboxApiError(
        422,
        "invalid_request",
        "unable_to_process_request",
        "The idempotency key was already used with different request parameters",
    )


def too_many_requests(code: str, message: str, retry_after: int | None) -> SandboxApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return SandboxApiError(429, "operation_failed", code, message, headers=headers)


def server_error(status: int) -> SandboxApiError:
    if status == 503:
        return SandboxApiError(
            503,
            "operation_failed",
            "internal_temporary_error",
            "Sorry, something went wrong when trying to process the request. Please retry.",
        )
    return SandboxApiError(
        500, "operation_failed", "internal_error", "Sorry, an internal error occurred"
    )
