"""A row edited after it was posted (the amount's typo fixed): its business key is posted in
the journal, but the money posted is not what the file now says. It needs review, named with
both (an accountant must see that Chargebee differs from the file); nothing is sent. The dry
run predicts it. An identical re-run still skips. The real CLI on the built-in sandbox."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
from bp_testkit import (
    Inner,
    ManualClock,
    OnPost,
    applied,
    run_options,
    seeded_store,
    synthetic_rows,
    with_transport,
    write_csv,
    write_job,
)
from click.testing import CliRunner
from openpyxl import load_workbook

from batchpay.chargebee.retry import RetryPolicy
from batchpay.cli import main
from batchpay.records import Outcome
from batchpay.run import IDEMPOTENCY_WINDOW, run_job
from batchpay.sandbox import SandboxStore
from batchpay.target import sandbox_target


def run(tmp: Path, data: Path, report: str, *more: str) -> dict[str, int]:
    args = ["run", str(tmp / "job.yaml"), str(data), "--json", "--yes",
            "--sandbox-state", str(tmp / "sandbox.sqlite"), "--journal", str(tmp / "j.sqlite"),
            "--report", str(tmp / report), *more]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return dict(json.loads(result.output)["outcomes"])


def ledger(tmp: Path) -> list[tuple[str, int]]:
    store = SandboxStore(tmp / "sandbox.sqlite")
    try:
        return [(str(e["invoice_id"]), int(e["amount"])) for e in store.ledger()]
    finally:
        store.close()


def test_an_amount_edited_after_posting_needs_review_and_is_not_sent(tmp_path: Path) -> None:
    seeded_store(2, "ED-", tmp_path / "sandbox.sqlite").close()
    write_job(tmp_path / "job.yaml")  # business_key: [reference]
    first, second = synthetic_rows(2, "ED-", amount="40.00")
    posted = write_csv(tmp_path / "d1.csv", [first, second])
    assert run(tmp_path, posted, "r1.xlsx", "--execute") == {"posted": 2}
    assert run(tmp_path, posted, "r2.xlsx", "--execute") == {"skipped": 2}

    edited = write_csv(tmp_path / "d2.csv", [replace(first, amount="45.00"), second])
    assert run(tmp_path, edited, "r3.xlsx") == {"needs review": 1, "skipped": 1}
    assert run(tmp_path, edited, "r4.xlsx", "--execute") == {"needs review": 1, "skipped": 1}
    assert ledger(tmp_path) == [("ED-000001", 4000), ("ED-000002", 4000)]

    sheet = load_workbook(tmp_path / "r4.xlsx")["Needs review"]
    rows = list(sheet.iter_rows(values_only=True))
    known = rows[0].index("What is known")
    (reason,) = [str(r[known]) for r in rows[1:] if r[known]]
    assert reason.startswith("this key was posted on ")
    assert ("as 40.00 USD to invoice ED-000001; this row is 45.00 USD to invoice ED-000001: "
            "a different payment under the same key") in reason
    assert "nothing is sent" in reason


def test_the_same_rows_sent_through_another_api_version_still_skip(tmp_path: Path) -> None:
    """Posted through API v1 (amount, /invoices/…/record_payment), run again after the job moved
    to v2 (transaction[amount]): the same money, so skipped, not needs review."""
    seeded_store(2, "AV-", tmp_path / "sandbox.sqlite").close()
    job = write_job(tmp_path / "job.yaml")
    job.write_text(job.read_text().replace("api_version: v2", "api_version: v1"))
    data = write_csv(tmp_path / "d.csv", synthetic_rows(2, "AV-", amount="40.00"))
    assert run(tmp_path, data, "r1.xlsx", "--execute") == {"posted": 2}
    write_job(tmp_path / "job.yaml")
    assert run(tmp_path, data, "r2.xlsx", "--execute") == {"skipped": 2}
    assert ledger(tmp_path) == [("AV-000001", 4000), ("AV-000002", 4000)]


async def applied_answer_lost(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    await applied(request, inner)
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


def test_an_unfinished_call_found_on_the_site_after_the_row_was_edited(tmp_path: Path) -> None:
    """The call was applied but its answer lost (needs review); the amount is then edited and
    the job run again past the idempotency window. The site shows the payment (its reference
    on the invoice), so it was posted, but with the old amount: needs review, naming both,
    not skipped as "already posted"; nothing is sent."""
    store = seeded_store(1, "UF-")
    job = write_job(tmp_path / "job.yaml")
    (row,) = synthetic_rows(1, "UF-", amount="40.00")
    clock = ManualClock()
    lossy = with_transport(sandbox_target(store, clock=clock),
                           lambda inner: OnPost(inner, applied_answer_lost))
    first = run_job(job, write_csv(tmp_path / "d1.csv", [row]),
                    run_options("execute", tmp_path, target=lossy, clock=clock,
                                policy=RetryPolicy(max_attempts=1)))  # fmt: skip
    assert [o.outcome for o in first.outcomes] == [Outcome.NEEDS_REVIEW]
    clock.now += IDEMPOTENCY_WINDOW + 60
    edited = write_csv(tmp_path / "d2.csv", [replace(row, amount="45.00")])
    for mode in ("dry-run", "execute"):
        again = run_job(job, edited, run_options(mode, tmp_path, clock=clock,
                                                 target=sandbox_target(store, clock=clock)))
        (outcome,) = again.outcomes
        assert outcome.outcome is Outcome.NEEDS_REVIEW, (mode, outcome.reason)
        assert "as 40.00 USD to invoice UF-000001; this row is 45.00 USD" in outcome.reason
    assert [int(e["amount"]) for e in store.ledger()] == [4000]
