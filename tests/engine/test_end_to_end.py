"""Issue 4 "Done when": dry run predicts, execute posts, a re-run posts nothing — in-process and
over loopback; predictions match execute outcomes row by row; the dry run reads in batches."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import httpx
import pytest
from bp_testkit import (
    MIXED_ROWS,
    MIXED_SEED,
    SECRET_KEY,
    CountingTransport,
    Deposit,
    assert_exactly_once,
    batchpay_args,
    counts,
    ledger_duplicates,
    outcomes_by_line,
    run_batchpay,
    run_options,
    sandbox_server,
    seeded_store,
    synthetic_rows,
    with_transport,
    write_csv,
    write_job,
)

from batchpay.chargebee.client import ChargebeeClient
from batchpay.checks import Prediction, predict, read_state
from batchpay.plan import plan
from batchpay.prepare import prepare
from batchpay.records import Outcome
from batchpay.run import run_job
from batchpay.sandbox import DEFAULT_API_KEY, SandboxStore, create_app, sandbox_transport
from batchpay.spec import load_spec
from batchpay.target import Target, sandbox_target

EXECUTED = {
    Outcome.WOULD_POST: Outcome.POSTED,
    Outcome.WOULD_FAIL: Outcome.FAILED,
    Outcome.SKIPPED: Outcome.SKIPPED,
    Outcome.INVALID: Outcome.INVALID,
}
# What the mixed file must give, by file line (header is line 1).
MIXED_EXPECTED = {
    2: Outcome.WOULD_POST, 3: Outcome.WOULD_POST, 4: Outcome.SKIPPED, 5: Outcome.SKIPPED,
    6: Outcome.WOULD_FAIL, 7: Outcome.WOULD_FAIL, 8: Outcome.SKIPPED, 9: Outcome.SKIPPED,
    10: Outcome.WOULD_POST, 11: Outcome.WOULD_POST, 12: Outcome.WOULD_POST, 13: Outcome.WOULD_POST,
    14: Outcome.WOULD_FAIL, 15: Outcome.WOULD_FAIL, 16: Outcome.WOULD_POST,
    17: Outcome.WOULD_POST, 18: Outcome.INVALID, 19: Outcome.INVALID,
}


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, Path]:
    return write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "mixed.csv", MIXED_ROWS)


def _mixed_store() -> SandboxStore:
    store = SandboxStore(":memory:")
    store.load_seed(MIXED_SEED)
    return store


def _check_dry_run_then_execute(dry: dict[int, Outcome], executed: dict[int, Outcome]) -> None:
    assert dry == MIXED_EXPECTED
    assert executed == {line: EXECUTED[o] for line, o in dry.items()}


def test_mixed_file_in_process_dry_run_matches_execute(tmp_path: Path,
                                                       mixed: tuple[Path, Path]) -> None:
    job, data = mixed
    store = _mixed_store()
    dry = run_job(job, data, run_options("dry-run", tmp_path, target=sandbox_target(store)))
    assert store.ledger() == []  # a dry run writes nothing
    assert not (tmp_path / "journal.sqlite").exists()  # ... not even a journal
    done = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store),
                                          skip_invalid=True))
    _check_dry_run_then_execute(outcomes_by_line(dry), outcomes_by_line(done))
    posted = [o for o in done.outcomes if o.outcome is Outcome.POSTED]
    assert len(store.ledger()) == len(posted) == 8
    assert all(o.transaction_id for o in posted)
    assert_exactly_once(store.ledger(), [o.raw["Reference"] for o in posted])

    again = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store),
                                           skip_invalid=True))
    assert len(store.ledger()) == 8  # the re-run posted nothing
    assert counts(again)["posted"] == 0
    for line, outcome in outcomes_by_line(done).items():
        if outcome is Outcome.POSTED:
            assert outcomes_by_line(again)[line] is Outcome.SKIPPED


def test_would_fail_predictions_are_what_the_site_answers(mixed: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    """Send the rows predicted to fail anyway: the sandbox gives the status and code the checks
    expected. The report shows neither (issue 12 item 19): they were never sent."""
    job, data = mixed
    store = _mixed_store()
    target = sandbox_target(store)
    dry = run_job(job, data, run_options("dry-run", tmp_path, target=target))
    spec = load_spec(job)
    planned = plan(prepare(spec, data, spec_dir=job.parent), target.site, spec.api_version)

    async def predictions() -> dict[str, Prediction]:
        async with ChargebeeClient(target.base_url, target.api_key,
                                   transport=target.transport) as client:
            return predict(planned.calls, await read_state(client, planned.calls, "v2"))

    predicted = asyncio.run(predictions())
    failing = [(call, predicted[call.key]) for call in planned.calls
               if predicted[call.key].outcome is Outcome.WOULD_FAIL
               and predicted[call.key].http_status]
    assert len(failing) == 3
    rows = {o.origin.row: o for o in dry.outcomes}
    for call, _ in failing:
        row = rows[call.rows[0].row.origin.row]
        assert row.outcome is Outcome.WOULD_FAIL
        assert (row.http_status, row.api_error_code) == (None, None)
        assert row.reason.startswith("predicted by batchpay, not sent: ")

    async def send_all() -> list[tuple[int, str]]:
        app = create_app(store)
        async with httpx.AsyncClient(transport=sandbox_transport(app), auth=(DEFAULT_API_KEY, ""),
                                     base_url="http://sandbox.local/api/v2") as client:
            answers = []
            for call, _ in failing:
                r = await client.post(
                    f"/invoices/{call.invoice_id}/record_payment",
                    data={"transaction[amount]": str(call.amount),
                          "transaction[payment_method]": "bank_transfer"})
                answers.append((r.status_code, r.json()["api_error_code"]))
            return answers

    answers = asyncio.run(send_all())
    assert answers == [(p.http_status, p.api_error_code) for _, p in failing]
    assert store.ledger() == []


def test_mixed_file_over_loopback_dry_run_matches_execute(tmp_path: Path,
                                                          mixed: tuple[Path, Path]) -> None:
    job, data = mixed
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(MIXED_SEED), encoding="utf-8")
    with sandbox_server(tmp_path, seed=seed) as server:
        dry = run_job(job, data, run_options("dry-run", tmp_path, base_url=server.api))
        assert server.ledger() == []
        done = run_job(job, data, run_options("execute", tmp_path, base_url=server.api,
                                              skip_invalid=True))
        _check_dry_run_then_execute(outcomes_by_line(dry), outcomes_by_line(done))
        assert len(server.ledger()) == 8
        again = run_job(job, data, run_options("execute", tmp_path, base_url=server.api,
                                               skip_invalid=True))
        assert counts(again)["posted"] == 0
        assert len(server.ledger()) == 8
        assert ledger_duplicates(server.ledger()) == {}


def test_cli_over_loopback_dry_run_execute_rerun(tmp_path: Path) -> None:
    """The real command, as a user runs it: exit codes, reports, and a re-run that posts nothing."""
    rows = synthetic_rows(30, "CLI-")
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "deposits.csv", rows)
    seed = tmp_path / "seed.json"
    from batchpay.sandbox import synthetic_seed

    seed.write_text(json.dumps(synthetic_seed(30, prefix="CLI-")), encoding="utf-8")
    with sandbox_server(tmp_path, seed=seed) as server:
        dry = run_batchpay(batchpay_args(job, data, tmp_path, server))
        assert dry.returncode == 0, dry.stderr
        assert "would post" in dry.stdout and server.ledger() == []
        done = run_batchpay(batchpay_args(job, data, tmp_path, server, "--execute", "--yes"))
        assert done.returncode == 0, done.stderr
        assert_exactly_once(server.ledger(), [r.reference for r in rows])
        first = set((tmp_path / "reports").glob("*execute*.json"))
        again = run_batchpay(batchpay_args(job, data, tmp_path, server, "--execute", "--yes"))
        assert again.returncode == 0, again.stderr
        assert len(server.ledger()) == 30
        # by name, a second run in the same second (...execute-2.json) sorts first
        (summary,) = set((tmp_path / "reports").glob("*execute*.json")) - first
        last = json.loads(summary.read_text(encoding="utf-8"))
        assert last["counts"]["posted"] == 0 and last["counts"]["skipped"] == 30
        assert last["balanced"] is True


def test_cli_execute_without_yes_and_without_tty_refuses(tmp_path: Path) -> None:
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", [Deposit("INV-1001", "1.00", "R-1")])
    refused = run_batchpay(batchpay_args(job, data, tmp_path, None, "--execute"))
    assert refused.returncode == 2
    assert "--yes" in refused.stderr


@pytest.mark.parametrize("n", [1, 100, 101, 250])
def test_dry_run_reads_invoices_in_batches_of_100(tmp_path: Path, n: int) -> None:
    job = write_job(tmp_path / "job.yaml")
    rows = synthetic_rows(n, "BAT-")
    data = write_csv(tmp_path / "d.csv", rows)
    store = seeded_store(n, "BAT-")
    counter: list[CountingTransport] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> CountingTransport:
        counter.append(CountingTransport(inner))
        return counter[-1]

    def target() -> Target:
        return with_transport(sandbox_target(store), wrap)

    run_job(job, data, run_options("dry-run", tmp_path, target=target()))
    first = counter[-1]
    assert first.count("GET", "/invoices") == math.ceil(n / 100)
    assert sum(first.calls.values()) == math.ceil(n / 100)  # no per-row or reference reads

    # Pay half of them partly: those invoices now carry linked payments, so those payments
    # are read, 100 per request (issue 14: not one look-up per reference); the others are not.
    half = rows[: (n + 1) // 2]
    partial = write_csv(tmp_path / "half.csv", [
        Deposit(r.invoice, "40.00", r.reference) for r in half])
    run_job(job, partial, run_options("execute", tmp_path, target=sandbox_target(store)))
    (tmp_path / "journal.sqlite").unlink()  # force the server-state path for the dry run
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'journal.sqlite'}{suffix}").unlink(missing_ok=True)
    run_job(job, data, run_options("dry-run", tmp_path, target=target()))
    second = counter[-1]
    lookups = second.count("GET", "/transactions")
    assert second.count("GET", "/invoices") == math.ceil(n / 100)
    assert lookups == math.ceil(len(half) / 100)
    assert sum(second.calls.values()) == math.ceil(n / 100) + lookups


def test_embedded_default_sandbox_via_cli(tmp_path: Path) -> None:
    """With no site, the CLI uses the embedded sandbox whose state is --sandbox-state."""
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", [Deposit("NOPE-1", "1.00", "R-1")])
    result = run_batchpay(batchpay_args(job, data, tmp_path, None), key="")
    assert result.returncode == 0, result.stderr  # a dry run: exit 0 ...
    assert "1 row needs your attention" in result.stdout  # ... not found on the sandbox
    assert (tmp_path / "embedded-sandbox.sqlite").exists()
    assert SECRET_KEY not in result.stdout + result.stderr
