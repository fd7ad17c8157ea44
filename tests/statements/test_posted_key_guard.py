"""A business key the journal shows posted never swallows a different payment: the row is
skipped only when the journal's request moved the money the row asks (same invoice, amount,
currency); otherwise it needs review, named with both, and nothing is sent. A statement row
whose money the journal posted under another number of its bank reference (a notice holding
part of a batch) needs review too, never posted twice.

The real CLI on the built-in sandbox, real statement and CSV files."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from test_repeated_references import Site, camt, mt940, ntry, outcomes, tx


def review_reasons(report: Path) -> dict[int, str]:
    """Row (file line) -> reason of the report's Needs review sheet."""
    sheet = load_workbook(report)["Needs review"]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    line, reason = header.index("Row"), header.index("What is known")
    return {int(r[line]): str(r[reason]) for r in rows if r[line] is not None}


def test_notice_with_the_later_payment_of_a_batch_then_the_statement(tmp_path: Path) -> None:
    """The notice holds only the second payment of the batch under B1 (20.00 to INV-2); the
    statement holds both, so the first (10.00 to INV-1) is read as B1 and the second as B1/2.
    Before: B1 was skipped "already posted" (INV-1's payment silently lost) and B1/2 posted
    INV-2's payment a second time. Now both need review, in the dry run as in execute, and
    nothing is sent."""
    site = Site(tmp_path)
    notice = mt940(("20,", "INV-2", "B1", "second"), statement=":20:NOTICE\n:28C:1/1")
    assert outcomes(site.run("notice.sta", notice, "--execute")) == {"posted": 1}
    statement = mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-2", "B1", "second"))
    assert outcomes(site.run("statement.sta", statement)) == {"needs review": 2}
    assert outcomes(site.run("statement.sta", statement, "--execute")) == {"needs review": 2}
    assert site.ledger() == [("INV-2", 2000)]
    reasons = review_reasons(tmp_path / "run3.xlsx")
    assert reasons[5].startswith("this key was posted on ")
    assert ("as 20.00 EUR to invoice INV-2; this row is 10.00 EUR to invoice INV-1: a "
            "different payment under the same key") in reasons[5]
    assert "check in Chargebee" in reasons[5]
    assert " (transaction " in reasons[5] and " (transaction " in reasons[7]  # INV-2's payment
    assert "the journal shows 20.00 EUR to invoice INV-2 posted on " in reasons[7]
    assert "under bank reference B1 of this account" in reasons[7]
    assert reasons[7].endswith("check invoice INV-2 in Chargebee")


def test_the_same_notice_and_statement_in_order_still_post_once(tmp_path: Path) -> None:
    """The notice holds the first payment: the statement's B1 is it (skipped), B1/2 posts."""
    site = Site(tmp_path)
    notice = mt940(("10,", "INV-1", "B1", "first"), statement=":20:NOTICE\n:28C:1/1")
    assert outcomes(site.run("notice.sta", notice, "--execute")) == {"posted": 1}
    statement = mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-2", "B1", "second"))
    assert outcomes(site.run("statement.sta", statement)) == {"skipped": 1, "would post": 1}
    assert outcomes(site.run("statement.sta", statement, "--execute")) == {
        "skipped": 1, "posted": 1,
    }  # fmt: skip
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]


def test_a_second_identical_booking_posts_when_its_first_is_in_the_file(tmp_path: Path) -> None:
    """B1 (10.00 to INV-1) was posted; the next file holds it and a second, identical booking
    (B1/2): the journal's B1 is the file's B1, so B1/2 is a payment of its own and posts."""
    site = Site(tmp_path)
    once = mt940(("10,", "INV-1", "B1", "INV-1"))
    assert outcomes(site.run("a.sta", once, "--execute")) == {"posted": 1}
    twice = mt940(("10,", "INV-1", "B1", "INV-1"), ("10,", "INV-1", "B1", "INV-1"))
    assert outcomes(site.run("b.sta", twice, "--execute")) == {"skipped": 1, "posted": 1}
    assert site.ledger() == [("INV-1", 1000), ("INV-1", 1000)]


def test_a_camt054_with_one_payment_then_the_camt053_batch(tmp_path: Path) -> None:
    """The camt.054 notice reports the second payment of a batch on its own (X1, unique); the
    camt.053 batches both (X1/1, X1/2): X1/2 moves what X1 posted and no row of the statement
    is X1, so it needs review, not posted twice; X1/1 posts."""
    site = Site(tmp_path)
    second = tx("20.00", "INV-2", "E2")
    assert outcomes(site.run("n.xml", camt(ntry("20.00", "X1", second), notice=True),
                             "--execute")) == {"posted": 1}  # fmt: skip
    batch = camt(ntry("30.00", "X1", tx("10.00", "INV-1", "E1") + second))
    assert outcomes(site.run("s.xml", batch, "--execute")) == {
        "posted": 1, "needs review": 1,
    }  # fmt: skip
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]
