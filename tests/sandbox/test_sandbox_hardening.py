"""Issue 13 item 14: the HTTP sandbox stays sane under hostile control requests.

Clock values that are not finite or absurdly large are refused (one NaN made every later write
a 500), bodies are capped, seeds with huge integers or deep nesting get a 400 with a message,
the control endpoints are off on a non-loopback address without a flag, the banner does not
print the API key, and the state file is owner-only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sbx_helpers import AUTH, REPO, SAMPLE_SEED, Sandbox, ok, run

from batchpay.cli import main
from batchpay.sandbox import SandboxStore

PAY = {"transaction[payment_method]": "cash", "transaction[amount]": "100"}
SECRET = "test_SECRET_sandbox_key_51f0"


@pytest.mark.parametrize("body", [
    b'{"advance_seconds": NaN}', b'{"advance_seconds": Infinity}',
    b'{"advance_seconds": -Infinity}', b'{"advance_seconds": 1e308}',
    b'{"advance_seconds": 1e400}', b'{"advance_seconds": -1}', b'{"advance_seconds": true}',
    b'{"advance_seconds": "60"}', b'{"advance_seconds": 1' + b"0" * 5000 + b"}", b"[1,",
])
def test_a_bad_clock_value_is_refused_and_writes_keep_working(body: bytes) -> None:
    sandbox = Sandbox()

    async def go() -> None:
        async with sandbox.control() as ctl, sandbox.client() as c:
            before = (await ctl.get("/_sandbox/clock")).json()["now"]
            refused = await ctl.post("/_sandbox/clock", content=body,
                                     headers={"content-type": "application/json"})
            assert refused.status_code == 400, refused.text
            assert refused.json()["message"]
            assert (await ctl.get("/_sandbox/clock")).json()["now"] == before
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY))

    run(go())


def test_the_clock_still_advances_by_a_sane_amount() -> None:
    sandbox = Sandbox()

    async def go() -> None:
        async with sandbox.control() as ctl, sandbox.client() as c:
            before = (await ctl.get("/_sandbox/clock")).json()["now"]
            moved = await ctl.post("/_sandbox/clock", json={"advance_seconds": 31 * 60})
            assert moved.json()["now"] == before + 31 * 60
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY))

    run(go())


@pytest.mark.parametrize(("body", "words"), [
    (b'{"invoices": [{"id": "INV-9", "customer": "cust_acme", "status": "posted", "total": 1'
     + b"0" * 5000 + b"}]}", "not valid JSON"),
    (b'{"invoices": [{"id": "INV-9", "customer": "cust_acme", "status": "posted", "total": '
     + str(2**64).encode() + b"}]}", "out of range"),
    (b'{"invoices": [{"id": "INV-9", "customer": "cust_acme", "status": "posted", "total": '
     b"1e308}]}", "too large"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"invoices": [' * 20_000 + b"]}" * 20_000, "nested too deeply"),
    (b'"just a string"', "a seed is a JSON object"),
])
def test_a_hostile_seed_gets_a_400_with_a_message(body: bytes, words: str) -> None:
    sandbox = Sandbox()

    async def go() -> None:
        async with sandbox.control() as ctl:
            refused = await ctl.post("/_sandbox/seed", content=body,
                                     headers={"content-type": "application/json"})
            assert refused.status_code == 400, refused.text
            assert words in refused.json()["message"]

    run(go())
    assert sandbox.store.invoice("INV-9") is None


def test_a_body_over_the_cap_is_refused_unread() -> None:
    sandbox = Sandbox()
    big = b'{"invoices": []' + b" " * (9 * 2**20) + b"}"

    async def go() -> None:
        async with sandbox.control() as ctl, sandbox.client() as c:
            refused = await ctl.post("/_sandbox/seed", content=big)
            assert refused.status_code == 413
            assert "request body over 8388608 bytes" in refused.json()["message"]
            form = await c.post("/invoices/INV-1001/record_payment",
                                data={**PAY, "comment": "x" * (9 * 2**20)})
            assert form.status_code == 413
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY))

    run(go())
    assert len(sandbox.ledger()) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchpay.cli", "sandbox", "serve", "--port", str(port),
         "--state", str(tmp / "state" / "sandbox.sqlite"), "--seed", str(SAMPLE_SEED), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/api/v2/invoices/INV-1001", timeout=0.5)
            return proc, base
        except httpx.TransportError:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "sandbox serve did not start"
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=10)
    return out


def test_control_is_off_on_every_interface_without_the_flag(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path, "--host", "0.0.0.0", "--api-key", SECRET)
    try:
        for method, path in (("GET", "ledger"), ("POST", "clock"), ("POST", "seed"),
                             ("PUT", "faults")):
            refused = httpx.request(method, f"{base}/_sandbox/{path}", json={})
            assert refused.status_code == 403
            assert "--allow-remote-control" in refused.json()["message"]
        assert ok(httpx.get(f"{base}/api/v2/invoices/INV-1001", auth=(SECRET, "")))
    finally:
        out = _stop(proc)
    assert SECRET not in out
    assert "API key: the one given with --api-key" in out
    assert "0.0.0.0 is not a loopback address: /_sandbox/* is off" in out


def test_the_flag_turns_control_on_for_every_interface(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path, "--host", "0.0.0.0", "--allow-remote-control")
    try:
        assert httpx.get(f"{base}/_sandbox/ledger").json()["ledger"] == []
    finally:
        out = _stop(proc)
    assert "test_batchpay_sandbox" not in out


def test_on_loopback_control_is_on_and_the_banner_hides_the_key(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path, "--api-key", SECRET)
    try:
        assert httpx.get(f"{base}/_sandbox/ledger").status_code == 200
        assert httpx.get(f"{base}/api/v2/invoices/INV-1001", auth=AUTH).status_code == 401
    finally:
        out = _stop(proc)
    assert SECRET not in out
    assert (tmp_path / "state" / "sandbox.sqlite").stat().st_mode & 0o777 == 0o600


def test_the_built_in_sandbox_state_is_owner_only(tmp_path: Path) -> None:
    state = tmp_path / ".batchpay" / "sandbox.sqlite"
    job, data = REPO / "samples" / "bank-deposits" / "job.yaml", REPO / "samples" / \
        "bank-deposits" / "deposits.csv"
    result = CliRunner().invoke(main, [
        "run", str(job), str(data), "--sandbox-state", str(state),
        "--journal", str(tmp_path / "j.sqlite"), "--reports-dir", str(tmp_path / "reports"),
    ])  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in state.parent.iterdir()
             if p.name.startswith("sandbox.sqlite")}
    assert modes and set(modes.values()) == {0o600}, modes
    assert SandboxStore(state).ledger() == []
