"""Issue 12 items 1-5 and 7: money in the right currency, actions that work per API version,
and failures the dry run can foresee. Each case runs the real dry run and execute against the
sandbox (which serves each version's documents exactly as its spec shapes them) and reads the
ledger: a row predicted to fail is never sent."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from wf_helpers import SAMPLES, SEED, Workflow, by_row, outcomes, sheet_rows

from batchpay.cli import main
from batchpay.errors import RunRefused
from batchpay.records import Outcome
from batchpay.report.totals import control_totals
from batchpay.run import PlanSummary, RunOptions, run_job
from batchpay.sandbox import SandboxStore, load_seed_file
from batchpay.target import sandbox_target

WOULD_POST, WOULD_FAIL = Outcome.WOULD_POST, Outcome.WOULD_FAIL
POSTED, FAILED = Outcome.POSTED, Outcome.FAILED
COLLECT = SAMPLES / "collection-list" / "job.yaml"
V1 = SAMPLES / "legacy-v1"
COLLECT_HEADER = "Invoice Number,Amount to collect,Currency,Payment Source,Initiated by,Comment\n"
EXTRA_SEED = {
    "customers": [{"id": "cust_eu", "currency": "EUR", "payment_sources": ["pm_eu_card"]},
                  {"id": "cust_new", "currency": "EUR", "payment_sources": []}],
    "transactions": [{"id": "txn_eu_1", "customer": "cust_eu", "amount": 5000,
                      "amount_unused": 5000}],
    "invoices": [
        {"id": "INV-M201", "customer": "cust_eu", "status": "payment_due", "total": 3000},
        {"id": "INV-M501", "customer": "cust_acme", "status": "posted", "total": 5000},
        {"id": "INV-M701", "customer": "cust_acme", "status": "payment_due", "total": 1000,
         "channel": "app_store"},
    ],
}


def _workflow(tmp: Path, job: Path, csv: str, version: str = "v2") -> Workflow:
    data = tmp / "rows.csv"
    data.write_text(csv, encoding="utf-8")
    wf = Workflow(tmp, job, data, version=version)
    wf.store.load_seed(EXTRA_SEED)
    return wf


def _dry_then_execute(wf: Workflow) -> tuple[dict, dict]:
    dry = wf.run("dry-run").result
    assert wf.ledger() == []
    return by_row(dry), by_row(wf.run("execute").result)


def test_collect_payment_in_another_currency_is_never_sent(tmp_path: Path) -> None:
    """Item 1: EUR 15.00 on a USD invoice was predicted to post and charged as USD 15.00."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2302,15.00,EUR,,Merchant,x\n")
    dry, execute = _dry_then_execute(wf)
    assert dry[2].outcome is WOULD_FAIL and execute[2].outcome is FAILED
    assert "the row is in EUR but invoice INV-2302 is in USD" in execute[2].reason
    assert wf.ledger() == []


def test_apply_payments_in_another_currency_is_never_sent(tmp_path: Path) -> None:
    """Item 2: USD 10.00 (the allocation job's currency) on a EUR invoice was applied as EUR."""
    job = SAMPLES / "allocation" / "job.yaml"
    wf = _workflow(tmp_path, job, "Invoice,Payment Txn,Apply Amount,Note\n"
                                  "INV-M201,txn_eu_1,10.00,x\n")
    dry, execute = _dry_then_execute(wf)
    assert dry[2].outcome is WOULD_FAIL and execute[2].outcome is FAILED
    assert "the row is in USD but invoice INV-M201 is in EUR" in execute[2].reason
    assert wf.ledger() == []


CHARGES = "Charge Ref;Customer ID;Amount;Currency;Description;PO Number\n"


def test_v1_charge_currency_is_checked_against_the_customers_invoices(tmp_path: Path) -> None:
    """Item 3: a v1 customer has no currency field; the check read preferred_currency_code and
    did nothing, so a USD row made a EUR invoice. Now the customer's latest invoice says EUR;
    a customer with no invoice at all cannot be confirmed and is not charged."""
    wf = _workflow(tmp_path, V1 / "charge.yaml", CHARGES
                   + "C-1;cust_globex;10,00;USD;wrong currency;\n"
                   + "C-2;cust_globex;10,00;EUR;right currency;\n"
                   + "C-3;cust_new;10,00;EUR;no invoice yet;\n", version="v1")
    dry, execute = _dry_then_execute(wf)
    assert [dry[r].outcome for r in (2, 3, 4)] == [WOULD_FAIL, WOULD_POST, WOULD_FAIL]
    assert [execute[r].outcome for r in (2, 3, 4)] == [FAILED, POSTED, FAILED]
    assert "customer cust_globex is billed in EUR" in execute[2].reason
    assert "cannot be confirmed" in execute[4].reason
    assert [e["params"]["description"] for e in wf.ledger()] == ["right currency"]


def test_v1_collect_payment_uses_the_card_on_file(tmp_path: Path) -> None:
    """Item 4: v1 customers have payment_method, not primary_payment_source_id; every v1
    collection failed before sending. A customer without a card is still predicted to fail."""
    job = V1 / "collect-payment.yaml"
    wf = _workflow(tmp_path, job, (SAMPLES / "collection-list" / "collections.csv").read_text(
        encoding="utf-8"), version="v1")
    dry, execute = _dry_then_execute(wf)
    assert dry[2].outcome is WOULD_POST and execute[2].outcome is POSTED  # INV-2302, acme
    assert dry[6].outcome is WOULD_FAIL and execute[6].outcome is FAILED  # INV-2305, initech
    assert "no valid card on file" in execute[6].reason
    assert "INV-2305" not in {e["invoice_id"] for e in wf.ledger()}


def test_collect_payment_status_rules_per_version(tmp_path: Path) -> None:
    """Item 5: v2 collects posted invoices (the spec allows payment_due, posted, not_paid); the
    client refused them. v1 has no posted status (such an invoice is payment_due there)."""
    csv = COLLECT_HEADER + "INV-M501,,USD,,Merchant,x\nINV-1006,,EUR,,Merchant,x\n"
    for version in ("v2", "v1"):
        folder = tmp_path / version
        folder.mkdir()
        job = COLLECT if version == "v2" else V1 / "collect-payment.yaml"
        wf = _workflow(folder, job, csv, version=version)
        dry, execute = _dry_then_execute(wf)
        assert (dry[2].outcome, execute[2].outcome) == (WOULD_POST, POSTED), version
        assert (dry[3].outcome, execute[3].outcome) == (WOULD_FAIL, FAILED), version  # voided
        assert [e["invoice_id"] for e in wf.ledger()] == ["INV-M501"]


def test_store_invoice_and_foreign_payment_source_are_foreseen(tmp_path: Path) -> None:
    """Item 7: the channel that blocks a collection is the invoice's (the check read the
    customer's); a payment source another customer has paid with is not this customer's."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2304,,EUR,pm_globex_card,Merchant,x\n")
    wf.run("execute")  # globex pays INV-2304 with its card: the site now knows whose it is
    data = tmp_path / "second.csv"
    data.write_text(COLLECT_HEADER + "INV-M701,,USD,,Merchant,x\n"
                    "INV-2302,,USD,pm_globex_card,Merchant,x\n", encoding="utf-8")
    before = wf.ledger()
    dry = by_row(wf.run("dry-run", data=data).result)
    execute = by_row(wf.run("execute", data=data).result)
    assert (dry[2].outcome, execute[2].outcome) == (WOULD_FAIL, FAILED)
    assert "belongs to app_store" in execute[2].reason
    assert (dry[3].outcome, execute[3].outcome) == (WOULD_FAIL, FAILED)
    assert "payment source pm_globex_card belongs to customer cust_globex" in execute[3].reason
    assert wf.ledger() == before


def test_apply_payments_of_another_customers_transaction_is_foreseen(tmp_path: Path) -> None:
    """Item 7: a transaction of another customer in an allocation row."""
    job = SAMPLES / "allocation" / "job.yaml"
    wf = _workflow(tmp_path, job, "Invoice,Payment Txn,Apply Amount,Note\n"
                                  "INV-1014,txn_eu_1,10.00,x\n")
    dry, execute = _dry_then_execute(wf)
    assert (dry[2].outcome, execute[2].outcome) == (WOULD_FAIL, FAILED)
    assert "transaction txn_eu_1 belongs to customer cust_eu" in execute[2].reason
    assert wf.ledger() == []
    assert outcomes(wf.run("dry-run").result) == {2: WOULD_FAIL}


def test_predicted_failures_are_not_presented_as_chargebees(tmp_path: Path) -> None:
    """Item 19: rows never sent showed "HTTP status 409", "invalid_state_for_request" and
    "Attempts 0" on the Errors sheet, as if Chargebee had answered. A declined card (sent, and
    answered) keeps Chargebee's status, code and attempts."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-1006,,EUR,,Merchant,x\n"
                   "INV-2301,,USD,,Merchant,x\n")
    for mode in ("dry-run", "execute"):
        report = wf.run(mode)  # type: ignore[arg-type]
        errors = {str(r["Invoice id"]): r for r in sheet_rows(report.path, "Errors")}
        voided = errors["INV-1006"]
        assert voided["Message"].startswith("predicted by batchpay, not sent: invoice INV-1006")
        assert (voided["HTTP status"], voided["API error code"], voided["Attempts"]) == (
            None, None, None)
    declined = errors["INV-2301"]
    assert (declined["HTTP status"], declined["API error code"], declined["Attempts"]) == (
        400, "payment_processing_failed", 1)


def test_a_declined_card_is_not_charged_again_by_a_rerun(tmp_path: Path) -> None:
    """Item 6: a decline (400 payment_processing_failed) was settled failed, and the next
    execute sent the same collection again, charging the card again. Now it is "failed, not
    retried" until the row changes or --retry-failed is given. Real CLI, sandbox state file."""
    data = tmp_path / "rows.csv"
    data.write_text(COLLECT_HEADER + "INV-2301,,USD,,Merchant,x\n", encoding="utf-8")
    state = tmp_path / "sandbox.sqlite"
    store = SandboxStore(state)
    store.load_seed(load_seed_file(SEED))

    def run(*extra: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [
            "run", str(COLLECT), str(data), "--sandbox-state", str(state),
            "--journal", str(tmp_path / "journal.sqlite"), "--reports-dir",
            str(tmp_path / "reports"), *extra], env={"BATCHPAY_OPERATOR": "tests"})
        return result.exit_code, result.output

    assert run("--execute", "--yes")[0] == 1
    assert store.declines("INV-2301") == 1
    assert run("--execute", "--yes")[0] == 1
    assert store.declines("INV-2301") == 1, "the re-run charged the card again"
    run("--report", str(tmp_path / "dry.xlsx"))  # the dry run says so, and sends nothing
    assert store.declines("INV-2301") == 1
    errors = sheet_rows(tmp_path / "dry.xlsx", "Errors")
    assert "failed, not retried" in errors[0]["Message"]
    assert run("--execute", "--yes", "--retry-failed")[0] == 1
    assert store.declines("INV-2301") == 2  # asked for: sent again (and declined again)
    assert store.ledger() == []


def _totals(outcomes_: list) -> dict[str, tuple[int, int]]:
    """currency -> (rows posted, minor units posted), and "?" -> rows of unknown currency."""
    found = {}
    for t in control_totals(outcomes_):
        posted = t.by_category["posted"]
        found[t.currency] = (posted.count, posted.amount_minor) if t.currency != "?" else (
            t.read.count, 0)
        assert t.balanced
    return found


def test_rows_without_an_amount_are_totalled_with_what_they_move(tmp_path: Path) -> None:
    """Item 8: collecting in full and closing an invoice were counted under currency "unknown"
    ("usually invalid rows"). Now the dry run counts what the invoice says would move and
    execute what Chargebee answered, in the invoice's currency."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2302,,USD,,Merchant,x\n"
                   "INV-2306,,USD,,Merchant,already paid\n")
    dry = wf.run("dry-run").result
    assert _totals(dry.outcomes) == {"USD": (1, 20000)}
    assert "no amount in the row: 200.00 USD (from the invoice)" in by_row(dry)[2].reason
    executed = wf.run("execute").result
    assert _totals(executed.outcomes) == {"USD": (1, 20000)}
    assert wf.ledger()[0]["amount"] == 20000
    assert "(Chargebee's answer)" in by_row(executed)[2].reason

    (tmp_path / "close").mkdir()
    close = _workflow(tmp_path / "close", SAMPLES / "pending-invoices" / "job.yaml",
                      "Invoice,Close?,Comment,Note on invoice\nINV-1011,yes,done,\n"
                      "INV-1010,yes,done,\n")
    assert _totals(close.run("dry-run").result.outcomes) == {"JPY": (1, 8000),
                                                              "USD": (1, 12000)}
    assert _totals(close.run("execute").result.outcomes) == {"JPY": (1, 8000),
                                                              "USD": (1, 12000)}


def test_the_confirmation_counts_rows_without_an_amount(tmp_path: Path) -> None:
    """Item 8: the execute prompt's totals left out a collection of the full amount."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2302,,USD,,Merchant,x\n"
                   "INV-2304,75.00,EUR,,Merchant,x\n")
    seen: list[PlanSummary] = []

    def confirm(summary: PlanSummary) -> bool:
        seen.append(summary)
        return False

    options = RunOptions(mode="execute", target=sandbox_target(wf.store),
                         journal_path=tmp_path / "journal.sqlite", confirm=confirm,
                         env={"BATCHPAY_OPERATOR": "tests"})
    with pytest.raises(RunRefused):
        run_job(COLLECT, wf.data, options)
    assert seen[0].totals == {"USD": 20000, "EUR": 7500}
    assert wf.ledger() == []


def test_grouped_apply_payments_rows_without_an_amount_are_totalled(tmp_path: Path) -> None:
    """Item 8, grouped rows: two allocation rows for INV-1014 (due 400.00) name a payment each
    and no amount; they are one call applying 300.00 of txn_hooli_1 and 100.00 of txn_hooli_2
    (what is still due). Their totals were 0.00, and a priced row beside an unpriced one made
    the confirmation show only the priced row's amount."""
    allocation = SAMPLES / "allocation" / "job.yaml"
    header = "Invoice,Payment Txn,Apply Amount,Note\n"
    wf = _workflow(tmp_path, allocation, header + "INV-1014,txn_hooli_1,,a\n"
                   "INV-1014,txn_hooli_2,,b\n")
    dry = wf.run("dry-run").result
    assert _totals(dry.outcomes) == {"USD": (2, 40000)}
    assert [by_row(dry)[n].amount_minor for n in (2, 3)] == [30000, 10000]
    assert by_row(dry)[3].reason.endswith("no amount in the row: 100.00 USD (its payment's "
                                          "unused amount, at most what the invoice has left due)")
    executed = wf.run("execute").result
    assert _totals(executed.outcomes) == {"USD": (2, 40000)}
    assert wf.store.invoice("INV-1014")["amount_due"] == 0  # type: ignore[index]

    (tmp_path / "mixed").mkdir()
    mixed = _workflow(tmp_path / "mixed", allocation, header + "INV-1015,txn_hooli_1,50.00,a\n"
                      "INV-1015,txn_hooli_2,,b\n")
    seen: list[PlanSummary] = []
    options = RunOptions(mode="execute", target=sandbox_target(mixed.store),
                         journal_path=tmp_path / "mixed" / "journal.sqlite",
                         confirm=lambda summary: seen.append(summary) or False,
                         env={"BATCHPAY_OPERATOR": "tests"})
    with pytest.raises(RunRefused):
        run_job(allocation, mixed.data, options)
    assert seen[0].totals == {"USD": 5000 + 20000}
    assert _totals(mixed.run("dry-run").result.outcomes) == {"USD": (2, 25000)}


def _read(outcomes_: list) -> dict[str, tuple[int, int]]:
    """currency -> (rows read, minor units read)."""
    return {t.currency: (t.read.count, t.read.amount_minor) for t in control_totals(outcomes_)}


def test_a_rerun_of_the_allocation_sample_reads_the_same_total(tmp_path: Path) -> None:
    """The sample's row 3 (INV-1015) names no amount: "as much as the transaction has unused".
    Its first execute read 660.00 USD and the second 410.00 USD: skipped as already applied,
    the row was counted with nothing. Now a re-run, and a dry run after it, count it with what
    its posting moved, as the journal recorded it. Real CLI, sandbox state file."""
    job, data = SAMPLES / "allocation" / "job.yaml", SAMPLES / "allocation" / "allocation.csv"
    state = tmp_path / "sandbox.sqlite"
    SandboxStore(state).load_seed(load_seed_file(SEED))

    def run(name: str, *extra: str) -> dict[str, dict]:
        result = CliRunner().invoke(main, [
            "run", str(job), str(data), "--sandbox-state", str(state),
            "--journal", str(tmp_path / "journal.sqlite"),
            "--report", str(tmp_path / f"{name}.xlsx"), "--json", *extra],
            env={"BATCHPAY_OPERATOR": "tests"})
        assert result.exit_code in (0, 1), result.output
        return {t["currency"]: t["read"] for t in json.loads(result.stdout)["control_totals"]}

    first = run("first", "--execute", "--yes")
    posted = {r["Row"]: r for r in sheet_rows(tmp_path / "first.xlsx", "Posted")}
    assert posted[4]["Invoice id"] == "INV-1015" and posted[4]["Amount"]
    assert run("second", "--execute", "--yes") == first
    skipped = {r["Row"]: r for r in sheet_rows(tmp_path / "second.xlsx", "Skipped")}
    assert skipped[4]["Amount"] == posted[4]["Amount"]
    assert "already posted" in skipped[4]["Reason"]
    assert skipped[4]["Reason"].endswith(
        f"no amount in the row: {posted[4]['Amount']:.2f} USD (as counted when it was posted; "
        "from the journal)")
    assert run("dry") == first


def test_a_rerun_reads_the_same_total_for_a_full_collection_and_a_close(tmp_path: Path) -> None:
    """Collecting "the full amount" and closing an invoice name no amount either: a re-run, or
    a dry run after the execute, counted them with nothing."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2302,,USD,,Merchant,x\n")
    first = _read(wf.run("execute").result.outcomes)
    assert first == {"USD": (1, 20000)}
    assert _read(wf.run("execute").result.outcomes) == first
    assert _read(wf.run("dry-run").result.outcomes) == first

    (tmp_path / "close").mkdir()
    close = _workflow(tmp_path / "close", SAMPLES / "pending-invoices" / "job.yaml",
                      "Invoice,Close?,Comment,Note on invoice\nINV-1011,yes,done,\n"
                      "INV-1010,yes,done,\n")
    first = _read(close.run("execute").result.outcomes)
    assert first == {"JPY": (1, 8000), "USD": (1, 12000)}
    again = close.run("execute").result
    assert _read(again.outcomes) == first
    assert all("counted when it was posted" in row.reason for row in again.outcomes)
    assert _read(close.run("dry-run").result.outcomes) == first


def test_a_row_posted_before_its_amount_was_recorded_says_it_adds_nothing(
    tmp_path: Path,
) -> None:
    """A journal written before batchpay recorded what a call moved (its ``moved`` empty) says
    nothing of a row without an amount: the re-run counts it with nothing, and says so."""
    wf = _workflow(tmp_path, COLLECT, COLLECT_HEADER + "INV-2302,,USD,,Merchant,x\n")
    wf.run("execute")
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("UPDATE calls SET moved = NULL")
    db.commit()
    db.close()
    row = by_row(wf.run("execute").result)[2]
    assert (row.outcome, row.amount_minor) == (Outcome.SKIPPED, None)
    assert row.reason.endswith("no amount in the row, and nothing recorded says what its "
                               "posting moved: it adds nothing to the totals")


def _minor(cell: float) -> int:
    return int(Decimal(str(cell)).scaleb(2).to_integral_exact())


def test_an_apply_all_row_reports_what_it_applied_on_the_site(tmp_path: Path) -> None:
    """The allocation sample's row 4 (INV-1015, no payment, no amount: "apply whatever Hooli
    has left") reported 250.00 USD "(from the invoice)" on its first execute though the sandbox
    then showed only 100.00 paid on INV-1015: rows 2-3 had used up the rest of Hooli's excess.
    The row now reports what the call moved, read from Chargebee's answer. Real CLI, sandbox
    state file read afterwards."""
    job, data = SAMPLES / "allocation" / "job.yaml", SAMPLES / "allocation" / "allocation.csv"
    state = tmp_path / "sandbox.sqlite"
    SandboxStore(state).load_seed(load_seed_file(SEED))
    before = SandboxStore(state).invoice("INV-1015")
    assert before is not None

    def run(name: str, *extra: str) -> dict:
        result = CliRunner().invoke(main, [
            "run", str(job), str(data), "--sandbox-state", str(state),
            "--journal", str(tmp_path / "journal.sqlite"),
            "--report", str(tmp_path / f"{name}.xlsx"), "--json", *extra],
            env={"BATCHPAY_OPERATOR": "tests"})
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    first = run("first", "--execute", "--yes")
    totals = {t["currency"]: t for t in first["control_totals"]}
    after = SandboxStore(state).invoice("INV-1015")
    assert after is not None
    applied = after["amount_paid"] - before["amount_paid"]
    assert applied > 0
    posted = {r["Row"]: r for r in sheet_rows(tmp_path / "first.xlsx", "Posted")}
    assert posted[4]["Invoice id"] == "INV-1015"
    assert _minor(posted[4]["Amount"]) == applied
    named = sum(_minor(r["Amount"]) for n, r in posted.items() if n != 4)
    assert totals["USD"]["by_category"]["posted"]["amount_minor"] == named + applied
    again = {t["currency"]: t for t in run("second", "--execute", "--yes")["control_totals"]}
    assert again["USD"]["read"] == totals["USD"]["read"]
    skipped = {r["Row"]: r for r in sheet_rows(tmp_path / "second.xlsx", "Skipped")}
    assert skipped[4]["Reason"].endswith(f"no amount in the row: {Decimal(applied).scaleb(-2)} USD "
                                         "(as counted when it was posted; from the journal)")
