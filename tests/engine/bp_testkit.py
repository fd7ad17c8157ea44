"""Shared helpers for the engine and reliability tests: a job spec, input files, seeds, a
sandbox server in a subprocess, a counting transport, and the exactly-once checks on the ledger.

Everything here is test data generation and plumbing; nothing in batchpay depends on it.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from batchpay.chargebee.retry import RetryPolicy
from batchpay.records import Outcome, RunResult
from batchpay.run import RunOptions
from batchpay.sandbox import SandboxStore, synthetic_seed
from batchpay.target import Target

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# A distinctive key: if it shows up anywhere it should not, the greps find it.
SECRET_KEY = "test_SECRETKEY_9f3c2a7be1d04c58"
FAST_POLICY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.1, jitter=0.25)
FAST_RATE = 1_000_000  # the tests measure correctness, not the 150/min default

# -- the job --------------------------------------------------------------------------------

JOB_YAML = """\
name: {name}
api_version: v2
schema: bank_deposit
input:
  format: csv
fields:
  invoice_id:
    column: Invoice
  amount:
    type: money
    column: Amount
    decimal: "."
    currency_field: currency
  currency:
    column: Currency
  date:
    type: date
    column: Date
    formats: ["%Y-%m-%d"]
  reference:
    column: Reference
    required: {ref_required}
  comment:
    template: "Deposit {{Reference}}"
filters:
  - column: Note
    equals: skip
    reason: marked skip by the bank clerk
action:
  type: record_payment
  params:
    invoice_id: invoice_id
    amount: amount
    payment_method: {{const: bank_transfer}}
{reference_param}    date: date
    comment: comment
  business_key: {business_key}
site:
  rate_per_minute: {rate}
  concurrency: {concurrency}
"""

HEADER = ("Date", "Reference", "Invoice", "Amount", "Currency", "Note")


def write_job(
    path: Path,
    *,
    name: str = "reliability",
    with_reference: bool = True,
    rate: int = FAST_RATE,
    concurrency: int = 8,
    business_key: str | None = None,
) -> Path:
    """A bank-deposit job. ``with_reference=False``: no reference_number is sent, so a lost
    call's outcome cannot be looked up on the site (business key: invoice, amount, date)."""
    default_key = "[reference]" if with_reference else "[reference, invoice_id, amount]"
    text = JOB_YAML.format(
        name=name,
        ref_required="true" if with_reference else "false",
        reference_param="    reference_number: reference\n" if with_reference else "",
        business_key=business_key or default_key,
        rate=rate,
        concurrency=concurrency,
    )
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Deposit:
    invoice: str
    amount: str
    reference: str
    currency: str = "USD"
    date: str = "2026-11-03"
    note: str = ""


def write_csv(path: Path, rows: Iterable[Deposit]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for r in rows:
            writer.writerow((r.date, r.reference, r.invoice, r.amount, r.currency, r.note))
    return path


def synthetic_rows(n: int, prefix: str, *, amount: str = "100.00") -> list[Deposit]:
    """One full payment per synthetic invoice (``synthetic_seed(n, prefix=prefix)``)."""
    width = max(6, len(str(n)))
    return [
        Deposit(invoice=f"{prefix}{i + 1:0{width}d}", amount=amount,
                reference=f"{prefix}REF-{i + 1}")
        for i in range(n)
    ]


def seeded_store(n: int, prefix: str, path: Path | str = ":memory:") -> SandboxStore:
    store = SandboxStore(path)
    store.load_seed(synthetic_seed(n, prefix=prefix))
    return store


# A small fixed seed for the mixed file (independent of samples/, which other people edit).
MIXED_SEED: dict[str, Any] = {
    "customers": [
        {"id": "c_usd", "currency": "USD", "payment_sources": ["pm_usd"]},
        {"id": "c_eur", "currency": "EUR", "payment_sources": ["pm_eur"]},
    ],
    "transactions": [
        {"id": "txn_old", "customer": "c_usd", "amount": 30000, "amount_unused": 0,
         "payment_method": "bank_transfer", "reference_number": "REF-OLD"},
    ],
    "invoices": [
        {"id": "M-FULL", "customer": "c_usd", "status": "payment_due", "total": 120000},
        {"id": "M-OVER", "customer": "c_usd", "status": "payment_due", "total": 7500},
        {"id": "M-PAID", "customer": "c_usd", "status": "paid", "total": 30000,
         "amount_due": 0, "amount_paid": 30000,
         "linked_payments": [{"txn_id": "txn_old", "amount": 30000}]},
        {"id": "M-VOID", "customer": "c_eur", "status": "voided", "total": 10000},
        {"id": "M-TWO", "customer": "c_usd", "status": "payment_due", "total": 45050},
        {"id": "M-TWOOVER", "customer": "c_usd", "status": "payment_due", "total": 10000},
        {"id": "M-PEND", "customer": "c_usd", "status": "pending", "total": 8000},
        {"id": "M-EUR", "customer": "c_eur", "status": "payment_due", "total": 99999},
        {"id": "M-PART", "customer": "c_usd", "status": "payment_due", "total": 50000},
        {"id": "M-NOTPAID", "customer": "c_eur", "status": "not_paid", "total": 25000},
    ],
}

MIXED_ROWS: list[Deposit] = [
    Deposit("M-FULL", "1200.00", "R-01"),  # pays in full
    Deposit("M-OVER", "100.00", "R-02"),  # overpayment (75.00 due)
    Deposit("M-PAID", "300.00", "R-03"),  # invoice already paid
    Deposit("M-PAID", "300.00", "REF-OLD"),  # already recorded with this reference
    Deposit("M-VOID", "100.00", "R-05", currency="EUR"),  # voided: would fail 409
    Deposit("M-NONE", "50.00", "R-06"),  # not found: would fail 404
    Deposit("M-FULL", "1200.00", "R-01"),  # duplicate in the file
    Deposit("M-PART", "10.00", "R-08", note="skip"),  # filter skip
    Deposit("M-TWO", "200.00", "R-09"),  # two payments on one invoice ...
    Deposit("M-TWO", "250.50", "R-10"),  # ... the second pays it off exactly
    Deposit("M-TWOOVER", "60.00", "R-11"),  # two payments, the second overpays
    Deposit("M-TWOOVER", "60.00", "R-12"),
    Deposit("M-PEND", "80.00", "R-13"),  # pending invoice: would fail 409
    Deposit("M-EUR", "10.00", "R-14"),  # USD row on an EUR invoice: currency mismatch
    Deposit("M-PART", "100.00", "R-15"),  # partial payment
    Deposit("M-NOTPAID", "250.00", "R-16", currency="EUR"),  # not_paid invoice: payable
    Deposit("M-FULL", "0.00", "R-17"),  # zero amount: invalid
    Deposit("M-FULL", "-5.00", "R-18"),  # negative: invalid
]


# -- results and ledger checks --------------------------------------------------------------


def outcomes_by_line(result: RunResult) -> dict[int, Outcome]:
    return {o.origin.row: o.outcome for o in result.outcomes}


def counts(result: RunResult) -> collections.Counter[str]:
    return collections.Counter(o.outcome.category for o in result.outcomes)


def ledger_duplicates(ledger: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Idempotency keys and business payments (invoice + reference) applied more than once."""
    keys = collections.Counter(e["idempotency_key"] for e in ledger if e["idempotency_key"])
    refs = collections.Counter(
        (e["invoice_id"], _reference(e)) for e in ledger if _reference(e)
    )
    dupes = {k: n for k, n in keys.items() if n > 1}
    dupes.update({f"{inv}/{ref}": n for (inv, ref), n in refs.items() if n > 1})
    return dupes


def _reference(entry: Mapping[str, Any]) -> str | None:
    params = entry.get("params") or {}
    return params.get("transaction[reference_number]") or params.get("reference_number")


def posted_references(ledger: Sequence[Mapping[str, Any]], prefix: str = "") -> list[str]:
    return [r for e in ledger if (r := _reference(e)) and r.startswith(prefix)]


def assert_exactly_once(
    ledger: Sequence[Mapping[str, Any]], expected_refs: Iterable[str], prefix: str = ""
) -> None:
    """Every expected reference applied exactly once, nothing else with this prefix."""
    assert ledger_duplicates(ledger) == {}
    refs = collections.Counter(posted_references(ledger, prefix))
    expected = set(expected_refs)
    missing = expected - set(refs)
    extra = set(refs) - expected
    assert not missing, f"{len(missing)} row(s) never posted, e.g. {sorted(missing)[:3]}"
    assert not extra, f"unexpected payments: {sorted(extra)[:3]}"
    assert all(n == 1 for n in refs.values())


# -- transports -----------------------------------------------------------------------------


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts (method, path) of every request that reaches ``inner``; keeps raw paths."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.raw_paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[(request.method, request.url.path)] += 1
        self.raw_paths.append(request.url.raw_path.decode("ascii"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, method: str, path_suffix: str) -> int:
        return sum(n for (m, p), n in self.calls.items() if m == method and p.endswith(path_suffix))


Inner = httpx.AsyncBaseTransport
PostHook = Callable[[int, httpx.Request, Inner], Awaitable[httpx.Response]]


class ManualClock:
    """A clock that moves only when a test moves it (batchpay and the sandbox share it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class OnPost(httpx.AsyncBaseTransport):
    """Hands the n-th POST (1-based) to ``hook``; reads pass straight through."""

    def __init__(self, inner: Inner, hook: PostHook) -> None:
        self.inner, self.hook, self.posts = inner, hook, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.inner.handle_async_request(request)
        self.posts += 1
        return await self.hook(self.posts, request, self.inner)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def applied(request: httpx.Request, inner: Inner) -> None:
    """Let the sandbox apply the request, and throw its answer away."""
    response = await inner.handle_async_request(request)
    await response.aread()


def with_transport(target: Target, wrap: Callable[[httpx.AsyncBaseTransport], Any]) -> Target:
    assert target.transport is not None
    target.transport = wrap(target.transport)
    return target


def run_options(mode: str, tmp: Path, **kw: Any) -> RunOptions:
    """RunOptions with a journal in ``tmp``, the fast retry policy and no prompt."""
    kw.setdefault("journal_path", tmp / "journal.sqlite")
    kw.setdefault("policy", FAST_POLICY)
    kw.setdefault("rate_per_minute", FAST_RATE)
    kw.setdefault("sandbox_state", tmp / "embedded-sandbox.sqlite")
    kw.setdefault("env", {"CHARGEBEE_API_KEY": SECRET_KEY, "USER": "tester"})
    return RunOptions(mode=mode, **kw)  # type: ignore[arg-type]


# -- a sandbox server in a subprocess -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SandboxServer:
    """``batchpay sandbox serve`` in a subprocess on a free loopback port."""

    state: Path
    seed: Path | None = None
    api_key: str = SECRET_KEY
    faults: Mapping[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v2"

    def start(self, timeout: float = 20.0) -> SandboxServer:
        args = [PYTHON, "-m", "batchpay.cli", "sandbox", "serve", "--port", str(self.port),
                "--state", str(self.state), "--api-key", self.api_key]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        for name, value in self.faults.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else flag.replace("--", "--no-", 1))
            elif name == "seed":
                args += ["--fault-seed", str(value)]
            else:
                args += [flag, str(value)]
        log = (self.log or self.state.with_suffix(".log")).open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                     env=_child_env())
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox server exited with {self.proc.returncode}")
            try:
                httpx.get(f"{self.url}/_sandbox/clock", timeout=1.0).raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox server did not become ready") from None
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def ledger(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_sandbox/ledger", timeout=10.0)
        response.raise_for_status()
        return list(response.json()["ledger"])

    def seed_with(self, seed: Mapping[str, Any]) -> None:
        httpx.post(f"{self.url}/_sandbox/seed", json=dict(seed), timeout=10.0).raise_for_status()

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Return once the server handles no API request: every request a killed client left
        behind is applied (or refused). Observed, not guessed: with ``max_concurrent`` 1 for a
        moment, a probe is let in (not 429) only when no other request is in progress."""
        faults = httpx.get(f"{self.url}/_sandbox/faults", timeout=10.0).json()
        self.set_faults({**faults, "max_concurrent": 1})
        try:
            deadline = time.monotonic() + timeout  # a hang guard, not a speed limit
            while (status := self._probe()) == 429:
                assert time.monotonic() < deadline, "the server never became idle"
                time.sleep(0.01)
            assert status == 200, f"the idle probe got HTTP {status}"
        finally:
            self.set_faults(faults)

    def _probe(self) -> int:
        return httpx.get(f"{self.api}/invoices", params={"limit": 1}, auth=(self.api_key, ""),
                         timeout=30.0).status_code

    def advance_clock(self, seconds: float) -> None:
        response = httpx.post(f"{self.url}/_sandbox/clock", json={"advance_seconds": seconds},
                              timeout=10.0)
        response.raise_for_status()

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        httpx.put(f"{self.url}/_sandbox/faults", json=dict(faults), timeout=10.0).raise_for_status()


@contextmanager
def sandbox_server(tmp: Path, **kw: Any) -> Iterator[SandboxServer]:
    server = SandboxServer(state=tmp / "server-state.sqlite", **kw).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def paused(server: SandboxServer) -> Iterator[None]:
    """The sandbox server stopped (SIGSTOP): a run talking to it waits where it is, however
    slowly another process starts on a busy machine."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.proc.send_signal(signal.SIGCONT)


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBEE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def batchpay_args(
    job: Path, data: Path, tmp: Path, server: SandboxServer | None, *extra: str
) -> list[str]:
    args = [PYTHON, "-m", "batchpay.cli", "run", str(job), str(data),
            "--journal", str(tmp / "journal.sqlite"), "--reports-dir", str(tmp / "reports"),
            "--sandbox-state", str(tmp / "embedded-sandbox.sqlite")]
    if server is not None:
        args += ["--base-url", server.api]
    return args + list(extra)


def start_batchpay(args: Sequence[str], key: str = SECRET_KEY,
                   out: Path | None = None) -> subprocess.Popen[bytes]:
    sink = out.open("ab") if out else subprocess.DEVNULL
    try:
        return subprocess.Popen(list(args), stdout=sink, stderr=subprocess.STDOUT, cwd=REPO,
                                env=_child_env({"CHARGEBEE_API_KEY": key}),
                                stdin=subprocess.DEVNULL)
    finally:
        if out:
            sink.close()  # type: ignore[union-attr]


def run_batchpay(args: Sequence[str], key: str = SECRET_KEY,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env=_child_env({"CHARGEBEE_API_KEY": key}), stdin=subprocess.DEVNULL,
                          check=False)


def kill_when(
    proc: subprocess.Popen[bytes], journal: Path, calls: int, extra_delay: float,
    timeout: float = 60.0,
) -> int:
    """SIGKILL ``proc`` once its journal shows ``calls`` calls begun, after ``extra_delay``.

    Watching the journal (a local file) rather than the server keeps the polling from slowing
    the run down. Returns the calls begun when the kill landed (-1: the process had already
    finished by itself).
    """
    deadline = time.monotonic() + timeout
    while sum(journal_states(journal).values()) < calls:
        if proc.poll() is not None:
            return -1
        if time.monotonic() > deadline:
            raise AssertionError("the run never reached the kill point")
        time.sleep(0.003)
    time.sleep(extra_delay)
    if proc.poll() is not None:
        return -1
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return sum(journal_states(journal).values())


def seeded_rng(name: str) -> random.Random:
    return random.Random(f"batchpay-{name}-{os.environ.get('BATCHPAY_TEST_SEED', '0')}")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "") or default)


def grep_files(root: Path, needles: Sequence[str]) -> list[str]:
    """Files under ``root`` whose bytes contain any needle (SQLite, xlsx zips included)."""
    import zipfile

    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        blobs = [path.read_bytes()]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(name) for name in archive.namelist()]
        if any(n.encode() in blob for n in needles for blob in blobs):
            found.append(str(path))
    return found


def key_forms(key: str) -> list[str]:
    """The key as text and as it travels in an Authorization header."""
    import base64

    return [key, base64.b64encode(f"{key}:".encode()).decode()]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)


# -- crash and resume -----------------------------------------------------------------------


@dataclass
class KillRecord:
    index: int
    target_writes: int
    landed_at: int  # calls begun when the kill landed; -1: the run had already finished
    in_flight: int  # journal rows left in flight by the killed run
    resumed_posted: int
    resumed_skipped: int


def journal_states(path: Path) -> collections.Counter[str]:
    import sqlite3

    if not path.exists():
        return collections.Counter()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return collections.Counter()
    try:
        return collections.Counter(s for (s,) in db.execute("SELECT state FROM calls"))
    except sqlite3.OperationalError:  # not created yet, or killed before the table was
        return collections.Counter()
    finally:
        db.close()


def kill_and_resume(
    server: SandboxServer, tmp: Path, index: int, goal: int, delay: float, rows: int = 40,
    *, delete_journal: bool = False,
) -> KillRecord:
    """Seed ``rows`` fresh invoices, start ``batchpay run --execute`` as a real process, SIGKILL
    it at a seeded point, run the job again, and prove every row was applied exactly once."""
    from batchpay.run import run_job

    prefix = f"K{index:03d}-"
    server.seed_with(synthetic_seed(rows, prefix=prefix))
    work = tmp / f"kill-{index:03d}"
    work.mkdir()
    job = write_job(work / "job.yaml", concurrency=4)
    deposits = synthetic_rows(rows, prefix)
    data = write_csv(work / "deposits.csv", deposits)
    proc = start_batchpay(batchpay_args(job, data, work, server, "--execute", "--yes"),
                          out=work / "killed-run.log")
    landed = kill_when(proc, work / "journal.sqlite", goal, delay)
    in_flight = journal_states(work / "journal.sqlite")["in_flight"]
    if delete_journal:
        remove_journal(work / "journal.sqlite")
    resumed = run_job(job, data, run_options("execute", work, base_url=server.api))
    by = counts(resumed)
    assert by["failed"] == by["needs_review"] == by["invalid"] == 0, dump(by)
    assert by["posted"] + by["skipped"] == rows
    assert_exactly_once(server.ledger(), [d.reference for d in deposits], prefix)
    again = run_job(job, data, run_options("execute", work, base_url=server.api))
    assert counts(again)["posted"] == 0
    assert_exactly_once(server.ledger(), [d.reference for d in deposits], prefix)
    return KillRecord(index, goal, landed, in_flight, by["posted"], by["skipped"])


def kill_points(rng: random.Random, n: int, rows: int = 40) -> list[tuple[int, float]]:
    """``n`` seeded kill points: (payments applied before the kill, extra delay in seconds)."""
    return [(rng.randint(0, rows), rng.uniform(0.0, 0.03)) for _ in range(n)]


def kill_loop(
    server: SandboxServer, tmp: Path, points: Sequence[tuple[int, float]], rows: int = 40,
    workers: int = 3, *, delete_journal: bool = False, first_index: int = 0,
) -> list[KillRecord]:
    """Run :func:`kill_and_resume` for every point, ``workers`` at a time (each on its own
    invoices and journal; the kill lands by the ledger count, so overlap does not move it)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(kill_and_resume, server, tmp, first_index + i, goal, delay, rows,
                               delete_journal=delete_journal)
                   for i, (goal, delay) in enumerate(points)]
        return [f.result() for f in futures]


def remove_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
