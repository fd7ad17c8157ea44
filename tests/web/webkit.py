"""Helpers for the web tests: an app over a temporary data dir, the samples as jobs, the
built-in sandbox in a temporary state file, users of each role, sign-in and CSRF-aware posts."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from batchpay.web import Settings, create_app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DEPOSITS = SAMPLES / "bank-deposits" / "deposits.csv"
PASSWORD = "correct horse battery"
USERS = {"pat": "preparer", "ann": "approver", "ada": "admin", "pia": "preparer",
         "abe": "approver"}
# argon2 is slow on purpose (about 0.1-0.6 s a check here); the test users' hashes are made with
# the cheapest parameters, which verify_password reads from the hash itself.
_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@dataclass
class Site:
    app: object
    settings: Settings
    tmp: Path

    @property
    def web(self):  # type: ignore[no-untyped-def]
        return self.app.state.web  # type: ignore[attr-defined]

    def client(self, user: str | None = None) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        if user is not None:
            sign_in(client, user)
        return client


def make_site(tmp: Path, **settings: object) -> Site:
    jobs = tmp / "jobs"
    shutil.copytree(SAMPLES / "bank-deposits", jobs / "bank-deposits")
    values: dict[str, object] = {
        "data_dir": tmp / "data", "jobs_dir": jobs, "sandbox_state": tmp / "sandbox.sqlite",
        "journal": tmp / "journal.sqlite", "env": {}, **settings,
    }
    s = Settings(**values)  # type: ignore[arg-type]
    app = create_app(s)
    for name, role in USERS.items():
        app.state.web.store.add_user(name, role, _HASH)
    return Site(app, s, tmp)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> object:
    token = csrf_of(client.get("/signin").text)
    return client.post("/signin", data={"name": name, "password": password, "csrf": token,
                                        "next": "/"})


def post(client: TestClient, url: str, data: dict[str, str] | None = None,
         files: dict[str, tuple[str, bytes]] | None = None) -> object:
    """A form POST with the CSRF token read from the home page, as a browser would."""
    token = csrf_of(client.get("/").text)
    return client.post(url, data={"csrf": token, **(data or {})}, files=files)


def upload(client: TestClient, path: Path = DEPOSITS, job: str = "bank-deposits/job.yaml",
           content: bytes | None = None, name: str | None = None, wait: bool = True) -> object:
    """Upload a file for a new run; ``wait``: until its dry run (in the background) has ended."""
    body = path.read_bytes() if content is None else content
    response = post(client, "/runs", {"job": job}, files={"file": (name or path.name, body)})
    if wait and response.status_code == 303:  # type: ignore[attr-defined]
        client.app.state.web.runs.wait(run_id_of(response))  # type: ignore[attr-defined]
    return response


def run_id_of(response: object) -> int:
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.match(r"/runs/(\d+)", location)
    assert found, location
    return int(found.group(1))


GATE_LIMIT = 30.0  # a gate opens by itself after this, so a failing test cannot hang


class Gate:
    """ASGI middleware: every HTTP request waits until ``open`` is set (or the limit passes),
    so a test sees a run provably in progress without sleeping."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open = threading.Event()
        self.deadline = time.monotonic() + GATE_LIMIT

    def close(self) -> None:
        """Hold the requests from now on (again), for at most the limit from now."""
        self.deadline = time.monotonic() + GATE_LIMIT
        self.open.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await anyio.to_thread.run_sync(
                self.open.wait, max(self.deadline - time.monotonic(), 0))
        await self.app(scope, receive, send)


@contextmanager
def gated_sandbox_site(tmp: Path) -> Iterator[tuple[Site, Gate]]:
    """The web app whose job's site is a real sandbox on a loopback port, behind a gate (closed
    at first)."""
    from batchpay.sandbox import DEFAULT_API_KEY, SandboxStore, create_app, load_seed_file
    from batchpay.target import DEFAULT_SANDBOX_SEED

    store = SandboxStore(tmp / "remote-sandbox.sqlite")
    store.load_seed(load_seed_file(DEFAULT_SANDBOX_SEED))
    gate = Gate(create_app(store))
    with serving(gate) as port:
        try:  # the gate opens before the server stops: it waits for held requests
            site = make_site(tmp, env={"CHARGEBEE_API_KEY": DEFAULT_API_KEY})
            spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
            spec.write_text(spec.read_text() + "\nsite: {base_url: "
                            f"'http://127.0.0.1:{port}/api/v2'}}\n")
            yield site, gate
        finally:
            gate.open.set()
    store.close()


def progress_until(client: TestClient, run_id: int, step: str) -> dict[str, Any]:
    """Poll the run's progress until its step starts with ``step`` (bounded by the gate)."""
    deadline = time.monotonic() + GATE_LIMIT
    while True:
        progress: dict[str, Any] = client.get(f"/runs/{run_id}/progress").json()
        if progress.get("step", "").startswith(step) or time.monotonic() > deadline:
            return progress
        time.sleep(0.05)


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free loopback port (bound first: no race); yields it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
