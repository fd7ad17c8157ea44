"""Helpers for the web tests: an app over a temporary data dir, the samples as jobs, the
built-in sandbox in a temporary state file, users of each role, sign-in and CSRF-aware posts."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

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
           content: bytes | None = None, name: str | None = None) -> object:
    body = path.read_bytes() if content is None else content
    return post(client, "/runs", {"job": job}, files={"file": (name or path.name, body)})


def run_id_of(response: object) -> int:
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.match(r"/runs/(\d+)", location)
    assert found, location
    return int(found.group(1))
