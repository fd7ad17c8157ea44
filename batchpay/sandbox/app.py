"""The Starlette app: routes, auth, idempotency and the fault pipeline around each write.

A write goes: auth -> rate/concurrency admission -> param check -> idempotency (replay or 422)
-> invoice lock -> latency -> injected 5xx -> apply + ledger + idempotency record in one
transaction -> maybe drop the connection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from batchpay.sandbox import errors, operations, params, reads
from batchpay.sandbox.errors import ConnectionDropped, SandboxApiError
from batchpay.sandbox.faults import FaultConfig, FaultConfigError, Faults
from batchpay.sandbox.seed import SeedError
from batchpay.sandbox.store import SandboxStore

DEFAULT_API_KEY = "test_batchpay_sandbox"
IDEMPOTENCY_WINDOW = 30 * 60
IDEMPOTENCY_HEADER = "chargebee-idempotency-key"
REPLAYED_HEADER = "chargebee-idempotency-replayed"
_RAW_SEND = "batchpay.sandbox.raw_send"
MAX_BODY_BYTES = 8 * 2**20  # a seed of ~50,000 invoices; Chargebee's own forms are tiny
MAX_CLOCK_OFFSET = 100 * 365 * 86400  # the clock may run up to a century ahead, no further
MAX_INTEGER = 2**63 - 1  # what the store's SQLite columns hold


class Sandbox:
    """Everything a request needs: the store, the faults, the keys and the clock."""

    def __init__(
        self,
        store: SandboxStore,
        faults: FaultConfig,
        api_keys: set[str],
        clock: Callable[[], float],
        site: str,
    ) -> None:
        self.store = store
        self.faults = Faults(faults)
        self.api_keys = api_keys
        self.clock = clock
        self.site = site
        self.offset = 0.0
        self.control = True  # the unauthenticated /_sandbox/* endpoints
        self._key_locks: dict[str, asyncio.Lock] = {}

    def now(self) -> float:
        return self.clock() + self.offset

    def authenticate(self, request: Request) -> None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            username = base64.b64decode(encoded, validate=True).decode().partition(":")[0]
        except ValueError:
            username = ""
        if scheme.lower() != "basic" or username not in self.api_keys:
            raise errors.unauthenticated()

    async def serve(self, request: Request, inner: Callable[[], Awaitable[Response]]) -> Response:
        try:
            self.authenticate(request)
            self.faults.admit(self.now())
            try:
                return await inner()
            finally:
                self.faults.release()
        except SandboxApiError as exc:
            return error_response(exc)

    async def read(self, request: Request, entry: dict, fn: Callable[[dict], dict]) -> Response:
        items = [(k, v) for k, v in request.query_params.multi_items() if v != ""]
        values = params.validate(entry, items)
        await self.faults.latency()
        self.faults.maybe_fail()
        return JSONResponse(fn(values))

    async def write(
        self,
        request: Request,
        version: str,
        operation: str,
        handler: operations.Handler,
        entry: dict,
    ) -> Response:
        items = parse_qsl((await request.body()).decode("utf-8", "replace"))
        values = params.validate(entry, items)
        invoice_id = request.path_params.get("invoice_id")
        key = request.headers.get(IDEMPOTENCY_HEADER)
        write = PendingWrite(version, operation, handler, invoice_id, values, dict(items), key)
        if key is None:
            return await self.apply(write, "")
        if len(key) > 100:
            raise errors.param_wrong_value(IDEMPOTENCY_HEADER, "must be at most 100 characters")
        fingerprint = hashlib.sha256(
            json.dumps([request.url.path, sorted(items)]).encode()
        ).hexdigest()
        async with self._key_lock(key):
            record = self.store.idempotency_record(key, self.now() - IDEMPOTENCY_WINDOW)
            if record is None:
                return await self.apply(write, fingerprint)
            if record["fingerprint"] != fingerprint:
                raise errors.idempotency_mismatch()
            self.store.count_replay()
            return JSONResponse(record["body"], record["status"], headers={REPLAYED_HEADER: "true"})

    @asynccontextmanager
    async def _key_lock(self, key: str) -> AsyncIterator[None]:
        # Two requests with one key at once: the second waits, then sees the first's record.
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield

    async def apply(self, write: PendingWrite, fingerprint: str) -> Response:
        async with self.faults.invoice_lock(write.invoice_id):
            await self.faults.latency()
            self.faults.maybe_fail()
            now = self.now()
            try:
                applied = self._apply_atomically(write, fingerprint, now)
            except SandboxApiError as exc:
                if exc.type == "payment":
                    self.store.count_decline(write.invoice_id)
                raise
        if self.faults.drop_after_apply():
            return DropResponse()
        return JSONResponse(applied.body)

    def _apply_atomically(
        self, write: PendingWrite, fingerprint: str, now: float
    ) -> operations.Applied:
        """The write, its ledger entry and its idempotency record: all or nothing."""
        with self.store.atomic():
            applied = write.handler(
                operations.Write(self.store, now, write.version, write.invoice_id), write.values
            )
            self.store.add_ledger(
                {
                    "at": int(now),
                    "version": write.version,
                    "operation": write.operation,
                    "invoice_id": applied.invoice_id,
                    "idempotency_key": write.key,
                    "params": write.form,
                    "transaction_id": applied.transaction_id,
                    "amount": applied.amount,
                }
            )
            if write.key is not None:
                self.store.save_idempotency(write.key, fingerprint, 200, applied.body, now)
        return applied


class PendingWrite:
    def __init__(
        self,
        version: str,
        operation: str,
        handler: operations.Handler,
        invoice_id: str | None,
        values: dict[str, Any],
        form: dict[str, str],
        key: str | None,
    ) -> None:
        self.version, self.operation, self.handler = version, operation, handler
        self.invoice_id, self.values, self.form, self.key = invoice_id, values, form, key


class DropResponse(Response):
    """Close the connection without a response (the effect is already committed).

    Under uvicorn the raw ``send`` is a bound method of the request cycle, whose transport we
    close so the client sees EOF before any byte; elsewhere (httpx.ASGITransport) there is no
    socket, so we raise ConnectionDropped for ``sandbox_transport`` to translate.
    """

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(scope.get(_RAW_SEND), "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionDropped("connection dropped after the write was applied")
        transport.close()
        for _ in range(200):
            if getattr(cycle, "disconnected", True):
                return
            await asyncio.sleep(0.005)


class SandboxStarlette(Starlette):
    """Starlette that remembers the server's own ``send`` so DropResponse can find the socket,
    and that reads at most MAX_BODY_BYTES of a request body (413 beyond)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_RAW_SEND] = send
        if scope["type"] == "http":
            body = await _bounded_body(scope, receive)
            if body is None:
                too_large = JSONResponse(
                    {"message": f"request body over {MAX_BODY_BYTES} bytes", "http_status_code":
                     413, "api_error_code": "invalid_request", "type": "invalid_request"}, 413)
                await too_large(scope, receive, send)
                return
            receive = _replaying(body, receive)
        await super().__call__(scope, receive, send)


async def _bounded_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed MAX_BODY_BYTES."""
    for name, value in scope.get("headers", []):
        if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
            return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _BadJson(ValueError):
    pass


async def _json_body(request: Request) -> Any:
    """The body as JSON: finite numbers, integers within int64, or _BadJson saying why."""
    try:
        data = json.loads(await request.body(), parse_constant=_no_constant)
    except RecursionError:
        raise _BadJson("the JSON is nested too deeply") from None
    except ValueError as exc:  # also ints over Python's 4300-digit limit
        raise _BadJson(f"the body is not valid JSON: {exc}") from None
    _check_numbers(data)
    return data


def _no_constant(name: str) -> float:
    raise _BadJson(f"{name} is not a JSON number")


def _check_numbers(data: Any) -> None:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INTEGER:
            raise _BadJson(f"integer {str(item)[:20]}... is out of range (at most 2^63-1)")
        elif isinstance(item, float) and not (math.isfinite(item) and abs(item) <= MAX_INTEGER):
            raise _BadJson(f"number {item} is too large (at most 2^63-1)")  # 1e400 reads as inf


def error_response(exc: SandboxApiError) -> JSONResponse:
    return JSONResponse(exc.body(), exc.status, headers=exc.headers)


# routes


def _starlette_path(spec_path: str) -> str:
    return spec_path.replace("{invoice-id}", "{invoice_id}").replace(
        "{customer-id}", "{customer_id}"
    )


def _write_route(
    sandbox: Sandbox, version: str, spec_path: str, operation: str, handler: operations.Handler
) -> Route:
    entry = params.operation(version, f"POST {spec_path}")

    async def endpoint(request: Request) -> Response:
        return await sandbox.serve(
            request, lambda: sandbox.write(request, version, operation, handler, entry)
        )

    return Route(f"/api/{version}{_starlette_path(spec_path)}", endpoint, methods=["POST"])


Reader = Callable[[Request, dict], dict]


def _read_route(sandbox: Sandbox, version: str, spec_path: str, fn: Reader) -> Route:
    entry = params.operation(version, f"GET {spec_path}")

    async def endpoint(request: Request) -> Response:
        return await sandbox.serve(
            request, lambda: sandbox.read(request, entry, lambda values: fn(request, values))
        )

    return Route(f"/api/{version}{_starlette_path(spec_path)}", endpoint, methods=["GET"])


def _readers(store: SandboxStore, version: str) -> list[tuple[str, Reader]]:
    readers: list[tuple[str, Reader]] = [
        ("/invoices", lambda r, v: reads.list_invoices(store, v, version)),
        (
            "/invoices/{invoice-id}",
            lambda r, v: reads.retrieve(store, "invoice", r.path_params["invoice_id"], version),
        ),
        ("/transactions", lambda r, v: reads.list_transactions(store, v, version)),
        (
            "/customers/{customer-id}",
            lambda r, v: reads.retrieve(store, "customer", r.path_params["customer_id"], version),
        ),
    ]
    if version == "v1":  # v1 lists invoices without filters; per customer it has its own path
        readers.append((
            "/customers/{customer-id}/invoices",
            lambda r, v: reads.customer_invoices(store, r.path_params["customer_id"], v, version),
        ))
    return readers


def _api_routes(sandbox: Sandbox) -> list[Route]:
    routes = []
    for version, writes in operations.WRITES.items():
        routes += [_write_route(sandbox, version, *w) for w in writes]
        routes += [
            _read_route(sandbox, version, path, fn)
            for path, fn in _readers(sandbox.store, version)
        ]
    return routes


def _control_routes(sandbox: Sandbox) -> list[Route]:
    async def ledger(request: Request) -> Response:
        return JSONResponse({"ledger": sandbox.store.ledger(), "replays": sandbox.store.replays()})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                sandbox.faults.configure(FaultConfig.from_dict(await _json_body(request)))
            except (FaultConfigError, ValueError) as exc:
                return JSONResponse({"message": str(exc)}, 400)
        return JSONResponse(sandbox.faults.config.to_dict())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
            except _BadJson as exc:
                return JSONResponse({"message": str(exc)}, 400)
            seconds = body.get("advance_seconds") if isinstance(body, dict) else None
            room = MAX_CLOCK_OFFSET - sandbox.offset
            if (not isinstance(seconds, int | float) or isinstance(seconds, bool)
                    or not 0 <= seconds <= room):
                return JSONResponse({"message": "advance_seconds must be a number from 0 to "
                                                f"{room:.0f} (the clock may run at most 100 "
                                                "years ahead)"}, 400)
            sandbox.offset += seconds
        return JSONResponse({"now": sandbox.now()})

    async def seed(request: Request) -> Response:
        try:
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise SeedError("a seed is a JSON object with customers/invoices/transactions")
            added = sandbox.store.load_seed(body)
        except (SeedError, ValueError, OverflowError) as exc:
            return JSONResponse({"message": str(exc)}, 400)
        return JSONResponse({"added": added})

    if not sandbox.control:
        async def refused(request: Request) -> Response:
            return JSONResponse({"message": "the /_sandbox control endpoints are off: they need "
                                            "no key, and this sandbox listens on a non-loopback "
                                            "address (serve with --allow-remote-control to turn "
                                            "them on)"}, 403)

        return [Route("/_sandbox/{rest:path}", refused, methods=["GET", "PUT", "POST"])]
    return [
        Route("/_sandbox/ledger", ledger, methods=["GET"]),
        Route("/_sandbox/faults", faults, methods=["GET", "PUT"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(
            SandboxApiError(
                404, "invalid_request", "resource_not_found", f"No such endpoint {request.url.path}"
            )
        )
    return error_response(
        SandboxApiError(
            status, "invalid_request", "invalid_request", f"{request.method} is not allowed here"
        )
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(errors.server_error(500))


def create_app(
    store: SandboxStore,
    *,
    faults: FaultConfig | None = None,
    api_keys: set[str] | None = None,
    clock: Callable[[], float] | None = None,
    site: str = "sandbox-test",
    control: bool = True,
) -> Starlette:
    """The sandbox as an ASGI app, serving ``/api/v2`` and ``/api/v1`` plus ``/_sandbox/*``
    (``control=False``: those answer 403)."""
    sandbox = Sandbox(
        store, faults or FaultConfig(), api_keys or {DEFAULT_API_KEY}, clock or time.time, site
    )
    sandbox.control = control
    app = SandboxStarlette(
        routes=_api_routes(sandbox) + _control_routes(sandbox),
        exception_handlers={HTTPException: _http_error, 500: _internal_error},
    )
    app.state.sandbox = sandbox
    return app
