"""The HTTP client against httpx.MockTransport: wire format, error mapping, paging, base URLs."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from batchpay.chargebee.client import (
    DEFAULT_TIMEOUT,
    ApiResponse,
    ChargebeeClient,
    api_version_of,
    base_url_for,
    is_test_site,
    suppression_headers,
)
from batchpay.chargebee.encode import Request, encode, retrieve_request
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
from batchpay.errors import BatchpayError

KEY = "test_sEcReTkEy123"
BASE = "http://127.0.0.1:8765/api/v2"
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, base: str = BASE) -> ChargebeeClient:
    return ChargebeeClient(base, KEY, transport=httpx.MockTransport(handler))


def run(handler: Handler, call: Callable[[ChargebeeClient], Awaitable[Any]],
        base: str = BASE) -> Any:
    async def main() -> Any:
        async with make_client(handler, base) as client:
            return await call(client)
    return asyncio.run(main())


def error_body(status: int, **fields: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=fields)
    return handler


RECORD = encode("record_payment", "v2", {"invoice_id": "inv_1", "amount": 1500,
                                         "payment_method": "check", "reference_number": "CHK 7"})


# -- wire format ----------------------------------------------------------------------------


def test_post_wire_format() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"invoice": {"id": "inv_1"}}, headers={
            "chargebee-idempotency-replayed": "true", "x-request-id": "req_1"})

    response = run(handler, lambda c: c.send(RECORD, idempotency_key="k-1",
                                             headers={"chargebee-event-email": "all-disabled"}))
    assert response == ApiResponse(200, {"invoice": {"id": "inv_1"}}, True, "req_1")
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/invoices/inv_1/record_payment"
    expected_auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert request.headers["authorization"] == expected_auth
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["chargebee-idempotency-key"] == "k-1"
    assert request.headers["chargebee-event-email"] == "all-disabled"
    assert request.headers["user-agent"].startswith("batchpay/")
    assert parse_qsl(request.content.decode()) == [
        ("transaction[amount]", "1500"), ("transaction[payment_method]", "check"),
        ("transaction[reference_number]", "CHK 7"),
    ]


def test_not_replayed_without_header_and_no_key_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"invoice": {}})

    response = run(handler, lambda c: c.send(RECORD))
    assert response.replayed is False and response.request_id is None
    assert "chargebee-idempotency-key" not in seen[0].headers


def test_get_sends_form_as_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"list": []})

    request = Request("GET", "/invoices", (("id[in]", '["a","b"]'), ("limit", "100")), None)
    run(handler, lambda c: c.send(request))
    assert seen[0].method == "GET" and seen[0].content == b""
    assert list(seen[0].url.params.multi_items()) == [("id[in]", '["a","b"]'), ("limit", "100")]


@pytest.mark.parametrize(("invoice_id", "raw_path"), [
    ("../x", b"/api/v2/invoices/..%2Fx/close"),
    ("a/b", b"/api/v2/invoices/a%2Fb/close"),
    ("%2F", b"/api/v2/invoices/%252F/close"),
    ("..", b"/api/v2/invoices/%2E%2E/close"),
    ("a b", b"/api/v2/invoices/a%20b/close"),
    ("ü", b"/api/v2/invoices/%C3%BC/close"),
])
def test_hostile_ids_reach_the_right_endpoint(invoice_id: str, raw_path: bytes) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"invoice": {}})

    run(handler, lambda c: c.send(encode("close_invoice", "v2", {"invoice_id": invoice_id})))
    assert seen[0].url.raw_path == raw_path


def test_path_leaving_the_base_is_refused() -> None:
    bad = Request("POST", "/../../admin", (), None)
    with pytest.raises(ValueError, match="leaves the API base path"):
        run(error_body(200), lambda c: c.send(bad))


@pytest.mark.parametrize(("key", "words"), [("k" * 101, "at most 100"), ("a\nb", "printable"),
                                            ("", "non-empty")])
def test_bad_idempotency_key(key: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        run(error_body(200), lambda c: c.send(RECORD, idempotency_key=key))


def test_idempotency_key_of_100_chars_is_fine() -> None:
    assert run(error_body(200, ok=True), lambda c: c.send(RECORD, idempotency_key="k" * 100))


def test_reserved_header_refused() -> None:
    with pytest.raises(ValueError, match="set by the client"):
        run(error_body(200), lambda c: c.send(RECORD, headers={"Authorization": "x"}))


def test_calls_made_counts_requests() -> None:
    async def call(client: ChargebeeClient) -> int:
        await client.send(RECORD)
        with pytest.raises(ServerError):
            await client.send(RECORD)
        return client.calls_made

    responses = iter([httpx.Response(200, json={}), httpx.Response(500, json={})])
    assert run(lambda r: next(responses), call) == 2


# -- error_from_response: one test per branch -----------------------------------------------


def _json(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_400_param_wrong_value() -> None:
    error = error_from_response(400, _json(
        message="transaction[amount] : cannot be negative", type="invalid_request",
        api_error_code="param_wrong_value", param="transaction[amount]", error_code="x"), {})
    assert type(error) is InvalidRequestError
    assert (error.status, error.type, error.api_error_code, error.param) == (
        400, "invalid_request", "param_wrong_value", "transaction[amount]")
    assert "param=transaction[amount]" in str(error)


def test_payment_error() -> None:
    error = error_from_response(400, _json(
        message="declined", type="payment", api_error_code="payment_processing_failed",
        error_cause_id="gateway.general.decline"), {})
    assert type(error) is PaymentError
    assert error.error_cause_id == "gateway.general.decline"


def test_401() -> None:
    error = error_from_response(401, _json(message="Sorry, authentication failed",
                                           type="untyped",
                                           api_error_code="api_authentication_failed"), {})
    assert type(error) is AuthenticationError and error.status == 401


def test_403() -> None:
    error = error_from_response(403, _json(message="blocked", api_error_code="request_blocked",
                                           type="untyped"), {})
    assert type(error) is ForbiddenError


def test_404() -> None:
    error = error_from_response(404, _json(message="not found", type="invalid_request",
                                           api_error_code="resource_not_found"), {})
    assert type(error) is NotFoundError and error.api_error_code == "resource_not_found"


def test_405_is_invalid_request() -> None:
    error = error_from_response(405, _json(message="no", api_error_code="http_method_not_supported",
                                           type="invalid_request"), {})
    assert type(error) is InvalidRequestError


def test_409() -> None:
    error = error_from_response(409, _json(message="invoice is paid", type="invalid_request",
                                           api_error_code="invalid_state_for_request"), {})
    assert type(error) is InvalidStateError


def test_422() -> None:
    error = error_from_response(422, _json(message="key reused", type="invalid_request",
                                           api_error_code="unable_to_process_request"), {})
    assert type(error) is IdempotencyConflictError


def test_429_retry_after() -> None:
    error = error_from_response(429, _json(message="slow down", type="operation_failed",
                                           api_error_code="api_request_limit_exceeded"),
                                {"Retry-After": "7"})
    assert type(error) is RateLimitError
    assert error.retry_after == 7.0 and error.lock_timeout is False


def test_429_lock_timeout() -> None:
    error = error_from_response(429, _json(message="locked", type="operation_failed",
                                           api_error_code="lock_timeout"), {})
    assert isinstance(error, RateLimitError)
    assert error.lock_timeout is True and error.retry_after is None


def test_500() -> None:
    error = error_from_response(500, _json(message="oops", type="operation_failed",
                                           api_error_code="internal_error"), {})
    assert type(error) is ServerError and error.status == 500


def test_503() -> None:
    error = error_from_response(503, _json(message="read only", type="operation_failed",
                                           api_error_code="site_read_only_mode"),
                                {"retry-after": "30"})
    assert type(error) is ServerError and error.retry_after == 30.0


def test_502_html_page() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = error_from_response(502, html, {"content-type": "text/html"})
    assert type(error) is ServerError and error.status == 502
    assert error.api_error_code is None and error.type is None
    assert "not a Chargebee JSON error (text/html)" in error.message
    assert "502 Bad Gateway" in error.message


def test_empty_body() -> None:
    error = error_from_response(500, b"", {})
    assert type(error) is ServerError and "(empty body)" in error.message


def test_legacy_error_code() -> None:
    error = error_from_response(400, _json(message="m", error_code="param_wrong_value"), {})
    assert error.api_error_code == "param_wrong_value"


def test_unmapped_status_is_plain_api_error() -> None:
    error = error_from_response(302, b"", {"location": "https://elsewhere"})
    assert type(error) is ApiError and error.status == 302


def test_str_body_accepted() -> None:
    error = error_from_response(404, '{"message": "m", "api_error_code": "site_not_found"}', {})
    assert isinstance(error, NotFoundError) and error.api_error_code == "site_not_found"


def test_client_raises_mapped_error() -> None:
    handler = error_body(409, message="paid", type="invalid_request",
                         api_error_code="invalid_state_for_request")
    with pytest.raises(InvalidStateError) as info:
        run(handler, lambda c: c.send(RECORD))
    assert isinstance(info.value, ChargebeeError) and isinstance(info.value, BatchpayError)


def test_non_json_2xx() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>ok</html>", headers={"content-type": "text/html"})

    with pytest.raises(MalformedResponseError, match="not a JSON object"):
        run(handler, lambda c: c.send(RECORD))


# -- transport errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("exc", "sent"), [
    (httpx.ConnectError("refused"), False),
    (httpx.ConnectTimeout("slow connect"), False),
    (httpx.PoolTimeout("pool"), False),
    (httpx.ReadTimeout("slow read"), True),
    (httpx.WriteTimeout("slow write"), True),
    (httpx.RemoteProtocolError("server disconnected"), True),
    (httpx.ReadError("reset"), True),
])
def test_transport_error_sent(exc: Exception, sent: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(TransportError) as info:
        run(handler, lambda c: c.send(RECORD))
    assert info.value.sent is sent
    assert "POST /invoices/inv_1/record_payment" in str(info.value)
    assert ("outcome unknown" in str(info.value)) is sent


# -- reads ---------------------------------------------------------------------------------------


def invoice_server(existing: set[str], page_size: int = 100) -> tuple[Handler, list[httpx.Request]]:
    """A /invoices list endpoint that honours id[in], limit and a numeric offset."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/api/v2/invoices"
        ids = json.loads(request.url.params["id[in]"])
        assert len(ids) <= 100
        matches = [i for i in ids if i in existing]
        start = int(request.url.params.get("offset", "0"))
        page = matches[start : start + page_size]
        body: dict[str, Any] = {"list": [{"invoice": {"id": i, "status": "payment_due"}}
                                         for i in page]}
        if start + page_size < len(matches):
            body["next_offset"] = str(start + page_size)
        return httpx.Response(200, json=body)

    return handler, seen


def test_list_invoices_batches_250_ids_into_3_requests() -> None:
    ids = [f"inv_{i}" for i in range(250)]
    handler, seen = invoice_server(set(ids[::2]))
    found = run(handler, lambda c: c.list_invoices(ids))
    assert len(seen) == 3
    assert set(found) == set(ids[::2])
    assert found["inv_0"] == {"id": "inv_0", "status": "payment_due"}


def test_list_invoices_follows_next_offset() -> None:
    ids = [f"inv_{i}" for i in range(30)]
    handler, seen = invoice_server(set(ids), page_size=10)
    found = run(handler, lambda c: c.list_invoices(ids + ids[:5]))  # duplicates asked once
    assert len(found) == 30
    assert [r.url.params.get("offset") for r in seen] == [None, "10", "20"]


def test_list_invoices_empty_makes_no_call() -> None:
    handler, seen = invoice_server(set())
    assert run(handler, lambda c: c.list_invoices([])) == {}
    assert seen == []


def test_list_invoices_v1_retrieves_each() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/b"):
            return httpx.Response(404, json={"message": "no", "api_error_code":
                                             "resource_not_found"})
        return httpx.Response(200, json={"invoice": {"id": "a"}})

    found = run(handler, lambda c: c.list_invoices(["a", "b"]),
                base="http://127.0.0.1:8765/api/v1")
    assert found == {"a": {"id": "a"}}
    assert seen == ["/api/v1/invoices/a", "/api/v1/invoices/b"]


def test_repeating_next_offset_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"list": [], "next_offset": "same"})

    with pytest.raises(MalformedResponseError, match="repeats"):
        run(handler, lambda c: c.list_invoices(["a"]))


def test_find_transactions_pages() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "offset" not in request.url.params:
            return httpx.Response(200, json={"list": [{"transaction": {"id": "t1"}}],
                                             "next_offset": "n"})
        return httpx.Response(200, json={"list": [{"transaction": {"id": "t2"}}]})

    found = run(handler, lambda c: c.find_transactions(reference_number="CHK-1"))
    assert [t["id"] for t in found] == ["t1", "t2"]
    assert seen[0].url.params["reference_number[is]"] == "CHK-1"
    assert seen[1].url.params["offset"] == "n"


def test_find_transactions_needs_a_filter_and_v2() -> None:
    with pytest.raises(ValueError):
        run(error_body(200), lambda c: c.find_transactions())
    with pytest.raises(NotSupportedError):
        run(error_body(200), lambda c: c.find_transactions(customer_id="c"),
            base="http://127.0.0.1:8765/api/v1")


def test_retrieve_found_and_missing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/customers/cus_1":
            return httpx.Response(200, json={"customer": {"id": "cus_1", "excess_payments": 5}})
        return httpx.Response(404, json={"message": "gone", "type": "invalid_request",
                                         "api_error_code": "resource_not_found"})

    assert run(handler, lambda c: c.retrieve_customer("cus_1")) == {"id": "cus_1",
                                                                   "excess_payments": 5}
    assert run(handler, lambda c: c.retrieve_invoice("nope")) is None


def test_retrieve_missing_site_raises() -> None:
    handler = error_body(404, message="site not found", type="untyped",
                         api_error_code="site_not_found")
    with pytest.raises(NotFoundError):
        run(handler, lambda c: c.retrieve_invoice("inv_1"))


def test_retrieve_request_shape() -> None:
    assert retrieve_request("invoice", "inv 1") == Request("GET", "/invoices/inv%201", (), None)


# -- base URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"site": "acme-test"}, "https://acme-test.chargebee.com/api/v2"),
    ({"site": "acme", "version": "v1"}, "https://acme.chargebee.com/api/v1"),
    ({"base_url": "http://127.0.0.1:8765"}, "http://127.0.0.1:8765/api/v2"),
    ({"base_url": "http://127.0.0.1:8765/api/v2/"}, "http://127.0.0.1:8765/api/v2"),
    ({"base_url": "http://localhost:9000/api/v1", "version": "v1"},
     "http://localhost:9000/api/v1"),
    ({"base_url": "http://[::1]:8000/prefix"}, "http://[::1]:8000/prefix/api/v2"),
    ({"base_url": "http://127.8.9.10"}, "http://127.8.9.10/api/v2"),
    ({"base_url": "https://proxy.example.com/cb"}, "https://proxy.example.com/cb/api/v2"),
])
def test_base_url_for(kwargs: dict[str, Any], expected: str) -> None:
    assert base_url_for(**kwargs) == expected


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"base_url": "http://10.0.0.1"}, "only for loopback"),
    ({"base_url": "http://acme.chargebee.com"}, "only for loopback"),
    ({"base_url": "http://127.0.0.1.evil.com"}, "only for loopback"),
    ({"base_url": "ftp://127.0.0.1"}, "http(s)"),
    ({"base_url": "https://user:pw@acme.chargebee.com"}, "credentials"),
    ({"base_url": "https://acme.chargebee.com/?x=1"}, "query"),
    ({"base_url": "https://acme.chargebee.com:notaport"}, "not a valid URL"),
    ({"base_url": "http://127.0.0.1/api/v2", "version": "v1"}, "is for API v2"),
    ({"site": "evil.com/x"}, "not a Chargebee site name"),
    ({"site": "acme.evil.com"}, "not a Chargebee site name"),
    ({"site": "-acme"}, "not a Chargebee site name"),
    ({"site": ""}, "not a Chargebee site name"),
    ({"site": "a", "base_url": "https://x"}, "exactly one"),
    ({}, "exactly one"),
    ({"site": "acme", "version": "v3"}, "v1 or v2"),
])
def test_base_url_for_refuses(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        base_url_for(**kwargs)


@pytest.mark.parametrize("url", [
    "ftp://test_SECRET_abc123@acme.chargebee.com",  # issue 13 item 12: the scheme message
    "test_SECRET_abc123@acme.chargebee.com",
    "https://test_SECRET_abc123@acme.chargebee.com:notaport",
    "https://x:test_SECRET_abc123@acme.chargebee.com/?q=1",
    "http://test_SECRET_abc123@10.0.0.1/api/v2/../x",
    "https://test_SECRET_abc123@[::1/",
])
def test_base_url_userinfo_never_reaches_a_message(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        base_url_for(base_url=url)
    assert "SECRET" not in str(raised.value)
    assert "credentials" in str(raised.value)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/api/v2/../../_sandbox", "http://127.0.0.1:9/api/v2/%2E%2E/_sandbox",
    "https://acme-test.chargebee.com/./api/v2",
])
def test_base_url_with_dot_segments_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"must not contain \. or \.\. path segments"):
        base_url_for(base_url=url)


@pytest.mark.parametrize(("url", "test"), [
    ("https://acme-test.chargebee.com/api/v2", True),
    ("https://acme.chargebee.com/api/v2", False),
    ("https://acme-test.chargebee.com.evil.com/api/v2", False),
    ("http://127.0.0.1:8765/api/v2", True),
    ("http://localhost/api/v2", True),
    ("http://[::1]/api/v2", True),
    ("https://proxy.example.com/api/v2", False),
])
def test_is_test_site(url: str, test: bool) -> None:
    assert is_test_site(url) is test


def test_api_version_of() -> None:
    assert api_version_of("https://a.chargebee.com/api/v1") == "v1"
    assert api_version_of("https://a.chargebee.com/api/v2") == "v2"


def test_client_refuses_plain_http_and_missing_key() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        ChargebeeClient("http://10.0.0.1/api/v2", KEY)
    with pytest.raises(ConfigError, match="CHARGEBEE_API_KEY"):
        ChargebeeClient(BASE, "")
    with pytest.raises(ConfigError, match="spaces"):
        ChargebeeClient(BASE, "key with space")


def test_default_timeout_is_named() -> None:
    assert DEFAULT_TIMEOUT.connect == 10.0 and DEFAULT_TIMEOUT.read == 60.0
    assert DEFAULT_TIMEOUT.write == 30.0 and DEFAULT_TIMEOUT.pool == 30.0


# -- the key never shows ------------------------------------------------------------------------


def test_key_absent_from_repr_and_every_error() -> None:
    client = ChargebeeClient(BASE, KEY)
    assert KEY not in repr(client) and KEY not in str(client)
    asyncio.run(client.aclose())

    errors: list[BaseException] = []
    echo = {"message": f"bad key {KEY}", "param": KEY, "api_error_code": "x", "type": "t"}
    for status in (400, 401, 403, 404, 409, 422, 429, 500, 502, 503):
        with pytest.raises(ApiError) as info:
            run(error_body(status, **echo), lambda c: c.send(RECORD))
        errors.append(info.value)

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=f"<html>{KEY}</html>")

    def ok_html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"<html>{KEY}</html>")

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timeout talking with {KEY}")

    for handler in (html, ok_html, boom):
        with pytest.raises(ChargebeeError) as chargebee_info:
            run(handler, lambda c: c.send(RECORD))
        errors.append(chargebee_info.value)
    for error in errors:
        assert KEY not in str(error) and KEY not in repr(error)
        assert all(KEY not in str(v) for v in vars(error).values())
    assert len(errors) == 13


def test_suppression_headers() -> None:
    assert suppression_headers(["email", "webhook"]) == {
        "chargebee-event-email": "all-disabled", "chargebee-event-webhook": "all-disabled"}
    assert suppression_headers([]) == {}
    with pytest.raises(ValueError):
        suppression_headers(["sms"])
