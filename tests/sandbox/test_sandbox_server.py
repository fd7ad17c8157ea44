"""Over a real socket: uvicorn on loopback, and the ``sandbox serve`` CLI as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sbx_helpers import AUTH, REPO, SAMPLE_SEED, ok

from batchpay.sandbox import FaultConfig, SandboxStore, create_app, load_seed_file, sandbox_cli

PAY = {"transaction[payment_method]": "cash", "transaction[amount]": "100"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any, log_level: str = "critical") -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="h11",
        log_level=log_level,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a hang guard, not a speed limit (the machine may be busy)
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def test_apply_then_drop_over_a_real_socket(capfd: pytest.CaptureFixture[str]) -> None:
    store = SandboxStore(":memory:")
    store.load_seed(load_seed_file(SAMPLE_SEED))
    app = create_app(store, faults=FaultConfig(drop_after_apply_rate=1.0))
    key = {"chargebee-idempotency-key": "socket-drop"}
    with (
        serving(app, log_level="warning") as base,
        httpx.Client(base_url=f"{base}/api/v2", auth=AUTH) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/invoices/INV-1001/record_payment", data=PAY, headers=key)
        assert len(store.ledger()) == 1
        replay = client.post("/invoices/INV-1001/record_payment", data=PAY, headers=key)
        assert replay.headers["chargebee-idempotency-replayed"] == "true"
        assert ok(replay)["invoice"]["amount_due"] == 119900
        assert ok(client.get("/invoices/INV-1001"))["invoice"]["amount_due"] == 119900
        ledger = httpx.get(f"{base}/_sandbox/ledger").json()
    assert [e["idempotency_key"] for e in ledger["ledger"]] == ["socket-drop"]
    assert ledger["replays"] == 1
    assert "ASGI" not in capfd.readouterr().err  # a clean close, not a crashed app


def test_cli_help() -> None:
    result = CliRunner().invoke(sandbox_cli, ["serve", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    for option in (
        "--port",
        "--state",
        "--seed",
        "--config",
        "--rate-per-minute",
        "--latency-ms",
        "--drop-after-apply-rate",
    ):
        assert option in result.output


def test_cli_rejects_a_bad_fault_config(tmp_path: Path) -> None:
    config = tmp_path / "faults.yaml"
    config.write_text("latency: 5\n")
    result = CliRunner().invoke(
        sandbox_cli, ["serve", "--config", str(config), "--state", str(tmp_path / "s.sqlite")]
    )
    assert result.exit_code == 1 and "unknown fault setting(s): latency" in result.output


def _start(port: int, state: Path, *extra: str) -> subprocess.Popen[str]:
    code = "from batchpay.sandbox import sandbox_cli; sandbox_cli()"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "serve",
            "--port",
            str(port),
            "--state",
            str(state),
            "--seed",
            str(SAMPLE_SEED),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_up(base: str, started: float) -> None:
    while True:
        try:
            httpx.get(f"{base}/_sandbox/faults", timeout=0.5)
            return
        except httpx.TransportError:
            # a hang guard, not a speed limit: a loaded machine can take seconds to start Python
            assert time.monotonic() - started < 60, "sandbox serve did not start in 60 s"
            time.sleep(0.02)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def test_serve_subprocess_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = _start(port, state, "--config", str(_fault_file(tmp_path)))
    try:
        _wait_up(base, started)
        response = httpx.get(f"{base}/api/v2/invoices/INV-1001", auth=AUTH)
        assert ok(response)["invoice"]["amount_due"] == 120000
        assert httpx.get(f"{base}/api/v2/invoices/INV-1001").status_code == 401
        assert httpx.get(f"{base}/_sandbox/faults").json()["latency_ms"] == 5
        ok(httpx.post(f"{base}/api/v2/invoices/INV-1001/record_payment", data=PAY, auth=AUTH))
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    assert f"{base}/api/v2" in out and "API key: the sandbox's default key" in out
    assert "test_batchpay_sandbox" not in out  # issue 13 item 14: where to find it, not the key

    # a second run on the same state sees the first run's payment
    started = time.monotonic()
    proc = _start(port, state, "--rate-per-minute", "100")
    try:
        _wait_up(base, started)
        assert (
            ok(httpx.get(f"{base}/api/v2/invoices/INV-1001", auth=AUTH))["invoice"]["amount_due"]
            == 119900
        )
        assert httpx.get(f"{base}/_sandbox/faults").json()["rate_per_minute"] == 100
    finally:
        code, _, err = _stop(proc)
    assert code == 0, err


def _fault_file(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text("latency_ms: 5\nseed: 3\n")
    return path
