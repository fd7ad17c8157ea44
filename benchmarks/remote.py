"""Cases 2-4: execute throughput, dry-run checks and faults, against ``batchpay sandbox serve``
on loopback (a separate process, 127.0.0.1, a free port, stopped when the case ends)."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from batchpay.sandbox import DEFAULT_API_KEY, synthetic_seed

from . import generate
from .local import JOBS, REPO

PREFIX = "INV-"  # the sample job's regex is (INV-\d+)
WINDOW = 60.0  # Chargebee's (and the sandbox's) sliding window


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def api(self) -> str:
        return f"{self.url}/api/v2"

    def ledger(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_sandbox/ledger", timeout=60.0)
        response.raise_for_status()
        return list(response.json()["ledger"])


@contextmanager
def sandbox(workdir: Path, invoices: int, seed_doc: dict[str, Any] | None = None,
            **faults: Any) -> Iterator[Server]:
    """``batchpay sandbox serve`` seeded with ``invoices`` USD 100.00 invoices INV-000001...
    (or with ``seed_doc``)."""
    name = f"sandbox-{time.monotonic_ns()}"
    seed = workdir / f"{name}.json"
    seed.write_text(json.dumps(seed_doc or synthetic_seed(invoices, prefix=PREFIX)),
                    encoding="utf-8")
    port = free_port()
    args = [sys.executable, "-m", "batchpay.cli", "sandbox", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--state", str(workdir / f"{name}.sqlite"), "--seed", str(seed)]
    for key, value in faults.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                            stdin=subprocess.DEVNULL)
    log.close()
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {proc.returncode}")
            try:
                httpx.get(f"{server.url}/_sandbox/clock", timeout=1.0).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox did not start") from None
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: counts requests by method and stamps each write's start."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=100))
        self.counts: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.read_statuses: dict[int, int] = {}
        self.write_starts: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.counts[request.method] = self.counts.get(request.method, 0) + 1
        if request.method == "POST":
            self.write_starts.append(time.monotonic())
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if request.method == "GET":
            status = response.status_code
            self.read_statuses[status] = self.read_statuses.get(status, 0) + 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class BatchpayRun:
    seconds: float
    outcomes: dict[str, int]
    transport: CountingTransport
    extra: dict[str, Any] = field(default_factory=dict)


def sandbox_input(workdir: Path, n: int) -> Path:
    path = workdir / f"sandbox-rows-{n}.csv"
    if not path.exists():
        generate.write_csv(path, generate.rows(n, invoice_prefix=PREFIX, currency="USD",
                                               amount="100.00", mixed=False))
    return path


def run_batchpay(workdir: Path, server: Server, n: int, mode: str,
                 rate: int | None = None) -> BatchpayRun:
    from batchpay.api import run_and_report
    from batchpay.run import RunOptions
    from batchpay.target import Target

    transport = CountingTransport()
    target = Target(label="benchmark sandbox", site="bench-test", base_url=server.api,
                    api_key=DEFAULT_API_KEY, transport=transport)
    tag = time.monotonic_ns()
    options = RunOptions(mode=mode,  # type: ignore[arg-type]
                         target=target, rate_per_minute=rate,
                         journal_path=workdir / f"journal-{tag}.sqlite",
                         confirm=lambda _summary: True)
    start = time.perf_counter()
    report = run_and_report(JOBS["csv"], sandbox_input(workdir, n), options,
                            report_path=workdir / f"report-{tag}.xlsx")
    seconds = time.perf_counter() - start
    outcomes: dict[str, int] = {}
    for o in report.result.outcomes:
        outcomes[o.outcome.value] = outcomes.get(o.outcome.value, 0) + 1
    return BatchpayRun(seconds, outcomes, transport)


def throughput(starts: list[float], rate: int) -> dict[str, Any]:
    """Calls/s overall, and in steady state: the writes started after the first window (which
    the sliding window lets through as a burst), over the time from the window's end to the
    last write's start."""
    first, last = starts[0], starts[-1]
    overall = len(starts) / max(last - first, 1e-9)
    steady_from = first + WINDOW
    steady = [t for t in starts if t >= steady_from]
    steady_rate = (len(steady) / (last - steady_from)) if len(steady) > 1 else float("nan")
    return {"calls": len(starts), "span_s": last - first, "overall_per_s": overall,
            "steady_calls": len(steady), "steady_per_s": steady_rate,
            "limit_per_s": rate / 60.0, "steady_fraction": steady_rate / (rate / 60.0)}


def execute_case(workdir: Path, rate: int, latency_ms: int, windows: float,
                 baseline_calls: int) -> dict[str, Any]:
    n = int(rate * windows)
    result: dict[str, Any] = {"rate_per_minute": rate, "latency_ms": latency_ms, "rows": n}
    with sandbox(workdir, n, rate_per_minute=rate, latency_ms=latency_ms) as server:
        run = run_batchpay(workdir, server, n, "execute", rate)
        ledger = server.ledger()
        result["batchpay"] = {
            "seconds": run.seconds, "outcomes": run.outcomes, "statuses": run.transport.statuses,
            "requests": run.transport.counts, "ledger_writes": len(ledger),
            "posted_once": _posted_once(ledger, n),
            **throughput(run.transport.write_starts, rate),
        }
    with sandbox(workdir, baseline_calls, rate_per_minute=rate, latency_ms=latency_ms) as server:
        result["httpx_loop"] = httpx_loop(server, baseline_calls, rate)
    with sandbox(workdir, baseline_calls, rate_per_minute=rate, latency_ms=latency_ms) as server:
        result["sdk_loop"] = sdk_loop(server, baseline_calls, rate)
    return result


def _posted_once(ledger: list[dict[str, Any]], n: int) -> bool:
    invoices = [e["invoice_id"] for e in ledger]
    return len(invoices) == n and len(set(invoices)) == n


def _form(i: int, width: int) -> tuple[str, dict[str, str]]:
    invoice = f"{PREFIX}{i + 1:0{width}d}"
    return invoice, {"transaction[amount]": "10000", "transaction[payment_method]":
                     "bank_transfer", "transaction[reference_number]": f"LOOP-{i + 1}",
                     "transaction[date]": "1794571200"}


def httpx_loop(server: Server, calls: int, rate: int) -> dict[str, Any]:
    """What a quick script does: one httpx.Client, one POST after another."""
    width = max(6, len(str(calls)))
    statuses: dict[int, int] = {}
    starts = []
    with httpx.Client(base_url=server.api, auth=(DEFAULT_API_KEY, ""), timeout=30) as client:
        for i in range(calls):
            invoice, form = _form(i, width)
            starts.append(time.monotonic())
            response = client.post(f"/invoices/{invoice}/record_payment", data=form)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    seconds = time.monotonic() - starts[0]
    per_s = calls / seconds
    return {"calls": calls, "seconds": seconds, "per_s": per_s, "statuses": statuses,
            "fraction": per_s / (rate / 60.0), "ledger_writes": len(server.ledger())}


def sdk_loop(server: Server, calls: int, rate: int) -> dict[str, Any]:
    """The official SDK in a sequential loop. Its client builds
    ``{protocol}://{site}.{chargebee_domain}/api/v2``: site "127" and domain "0.0.1:PORT"
    make that ``http://127.0.0.1:PORT/api/v2``. ``protocol="http"`` alone is not enough: the
    SDK sets ``verify_ca_certs = False`` on the instance but its request code reads the class
    attribute and switches the scheme back to https, so the class attribute is cleared for the
    loop (and restored)."""
    try:
        import chargebee
    except ImportError:
        return {"skipped": "chargebee SDK not installed (pip install -e '.[bench]')"}
    port = server.url.rsplit(":", 1)[1]
    cb = chargebee.Chargebee(api_key=DEFAULT_API_KEY, site="127",
                             chargebee_domain=f"0.0.1:{port}", protocol="http")
    width = max(6, len(str(calls)))
    errors: dict[str, int] = {}
    saved = chargebee.Chargebee.verify_ca_certs
    chargebee.Chargebee.verify_ca_certs = False
    start = time.monotonic()
    try:
        _sdk_calls(cb, calls, width, errors)
    finally:
        chargebee.Chargebee.verify_ca_certs = saved
    ok = calls - sum(errors.values())
    seconds = time.monotonic() - start
    per_s = calls / seconds
    return {"calls": calls, "ok": ok, "errors": errors, "seconds": seconds, "per_s": per_s,
            "fraction": per_s / (rate / 60.0), "ledger_writes": len(server.ledger()),
            "endpoint": cb.env.api_endpoint}


def _sdk_calls(cb: Any, calls: int, width: int, errors: dict[str, int]) -> None:
    for i in range(calls):
        invoice = f"{PREFIX}{i + 1:0{width}d}"
        try:
            cb.Invoice.record_payment(invoice, {"transaction": {
                "amount": 10000, "payment_method": "bank_transfer",
                "reference_number": f"SDK-{i + 1}", "date": 1794571200}})
        except Exception as exc:  # the SDK raises its own error types
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1


def checks_case(workdir: Path, sizes: list[int]) -> list[dict[str, Any]]:
    """Dry run (batched reads) vs one GET per row, on a sandbox with no latency or limit."""
    results = []
    for n in sizes:
        with sandbox(workdir, n) as server:
            run = run_batchpay(workdir, server, n, "dry-run")
            width = max(6, len(str(n)))
            start = time.monotonic()
            with httpx.Client(base_url=server.api, auth=(DEFAULT_API_KEY, ""),
                              timeout=30) as client:
                for i in range(n):
                    client.get(f"/invoices/{PREFIX}{i + 1:0{width}d}").raise_for_status()
            per_row_s = time.monotonic() - start
        results.append({"rows": n, "batchpay_requests": sum(run.transport.counts.values()),
                        "batchpay_s": run.seconds, "outcomes": run.outcomes,
                        "per_row_requests": n, "per_row_s": per_row_s})
    return results


def dryrun_case(workdir: Path, n: int, rate: int, paid_fraction: float = 0.1) -> dict[str, Any]:
    """Issue 14: an ``n``-row dry run against a site limited to ``rate`` calls/minute (sandbox
    and batchpay alike), every request counted. A ``paid_fraction`` of the file's invoices are
    already paid by a payment with the row's reference, dated in the file's window (the file
    run again after an execute): P payments that the checks must find, and skip."""
    seed = synthetic_seed(n, prefix=PREFIX)
    paid = int(n * paid_fraction)
    seed["transactions"] = []
    for i, invoice in enumerate(seed["invoices"][:paid]):
        txn = f"txn_bench_{i + 1}"
        seed["transactions"].append({"id": txn, "customer": invoice["customer"], "amount": 10000,
                                     "reference_number": f"NW-{i + 1:08d}",
                                     "date": 1793577600})  # 2026-11-02, inside the file
        invoice.update(status="paid", amount_due=0, amount_paid=10000,
                       linked_payments=[{"txn_id": txn, "amount": 10000}])
    with sandbox(workdir, n, seed_doc=seed, rate_per_minute=rate) as server:
        run = run_batchpay(workdir, server, n, "dry-run", rate)
    requests = sum(run.transport.counts.values())
    goal = math.ceil(n / 100) + math.ceil(paid / 100)
    return {"rows": n, "payments_on_site": paid, "rate_per_minute": rate, "requests": requests,
            "requests_goal": goal, "seconds": run.seconds, "outcomes": run.outcomes,
            "statuses": run.transport.statuses}


def faults_case(workdir: Path, rate: int, latency_ms: int, windows: float,
                clean_fraction: float | None) -> dict[str, Any]:
    """Faults on from the sandbox's start: the dry-run reads before execute get them too."""
    n = int(rate * windows)
    with sandbox(workdir, n, rate_per_minute=rate, latency_ms=latency_ms, error_5xx_rate=0.05,
                 drop_after_apply_rate=0.02, fault_seed=11) as server:
        run = run_batchpay(workdir, server, n, "execute", rate)
        ledger = server.ledger()
    stats = throughput(run.transport.write_starts, rate)
    posted = run.outcomes.get("posted", 0)
    # rows posted per second in steady state: writes include retries, rows do not
    return {"rows": n, "rate_per_minute": rate, "latency_ms": latency_ms,
            "seconds": run.seconds, "outcomes": run.outcomes, "statuses": run.transport.statuses,
            "read_statuses": run.transport.read_statuses, "ledger_writes": len(ledger),
            "posted_once": _posted_once(ledger, n),
            "rows_per_s": posted / run.seconds, **stats,
            "fraction_of_clean": (stats["steady_fraction"] / clean_fraction
                                  if clean_fraction else None)}
