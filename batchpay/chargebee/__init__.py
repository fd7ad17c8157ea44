"""The Chargebee client layer: encoders, the HTTP client, its errors and the retry policy.

``encode`` turns an action's canonical parameters into a :class:`Request`; ``ChargebeeClient``
sends one request per call and maps failures to the tree in :mod:`batchpay.chargebee.errors`;
``retry`` holds the pure functions the run engine's retry loop uses.
"""

from batchpay.chargebee.client import (
    DEFAULT_TIMEOUT,
    ApiResponse,
    ChargebeeClient,
    base_url_for,
    is_test_site,
)
from batchpay.chargebee.encode import (
    EncodeError,
    Request,
    encode,
    list_invoices_request,
    list_transactions_request,
    retrieve_request,
)
from batchpay.chargebee.errors import (
    ApiError,
    AuthenticationError,
    ChargebeeError,
    ConfigError,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidRequestError,
    InvalidStateError,
    MalformedResponseError,
    NotFoundError,
    NotSupportedError,
    PaymentError,
    RateLimitError,
    ServerError,
    TransportError,
    error_from_response,
)
from batchpay.chargebee.retry import (
    RetryPolicy,
    delay_seconds,
    is_retryable,
    parse_retry_after,
    retry_delay,
    should_retry,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiError",
    "ApiResponse",
    "AuthenticationError",
    "ChargebeeClient",
    "ChargebeeError",
    "ConfigError",
    "EncodeError",
    "ForbiddenError",
    "IdempotencyConflictError",
    "InvalidRequestError",
    "InvalidStateError",
    "MalformedResponseError",
    "NotFoundError",
    "NotSupportedError",
    "PaymentError",
    "RateLimitError",
    "Request",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "base_url_for",
    "delay_seconds",
    "encode",
    "error_from_response",
    "is_retryable",
    "is_test_site",
    "list_invoices_request",
    "list_transactions_request",
    "parse_retry_after",
    "retrieve_request",
    "retry_delay",
    "should_retry",
]
