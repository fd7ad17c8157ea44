"""In-process access: httpx.ASGITransport with apply-then-drop surfaced as over a real socket."""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp

from batchpay.sandbox.errors import ConnectionDropped


class SandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def sandbox_transport(app: ASGIApp) -> httpx.AsyncBaseTransport:
    """``httpx.AsyncClient(transport=sandbox_transport(app), base_url="http://sandbox.local/api/v2")``."""
    return SandboxTransport(app)
