"""The same payments get the same keys whichever way a file reports them: a CAMT batch whose
transactions carry no reference of their own, one whose transactions repeat the entry's
reference, and a camt.054 reporting them as separate entries under that reference all read
X1/1, X1/2; a debit (a fee) under a payment's reference, which only one file of a notice and
statement pair may carry, never shifts the payments' numbers.

The real CLI on the built-in sandbox; keys read through the real planner."""

from __future__ import annotations

from pathlib import Path

from test_repeated_references import ACCOUNT, Site, camt, keys, mt940, ntry, outcomes, tx


def key(reference: str) -> str:
    return f'{{"account":"{ACCOUNT}","bank_reference":"{reference}"}}'


FIRST, SECOND = ("10.00", "INV-1", "E1"), ("20.00", "INV-2", "E2")
CAMT_STYLES = {
    "a batch whose TxDtls have no reference": camt(ntry("30.00", "X1", tx(*FIRST) + tx(*SECOND))),
    "a batch whose TxDtls repeat the entry's reference": camt(
        ntry("30.00", "X1", tx(*FIRST, ref="X1") + tx(*SECOND, ref="X1"))),
    "a camt.054 with one entry per transaction": camt(
        ntry("10.00", "X1", tx(*FIRST)) + ntry("20.00", "X1", tx(*SECOND)), notice=True),
    "a camt.054 with one entry per transaction repeating its reference": camt(
        ntry("10.00", "X1", tx(*FIRST, ref="X1")) + ntry("20.00", "X1", tx(*SECOND, ref="X1")),
        notice=True),
}  # fmt: skip


def test_every_camt_style_gives_the_same_keys(tmp_path: Path) -> None:
    """Before: the batch without references read X1/1, X1/2 and the others X1, X1/2."""
    found = {style: keys(tmp_path, "x.xml", text) for style, text in CAMT_STYLES.items()}
    first = found["a batch whose TxDtls have no reference"]
    assert [business for business, _ in first] == [key("X1/1"), key("X1/2")]
    assert all(keys_ == first for keys_ in found.values()), found


def test_a_camt054_of_separate_entries_then_the_camt053_batch_posts_once(tmp_path: Path) -> None:
    site = Site(tmp_path)
    notice = CAMT_STYLES["a camt.054 with one entry per transaction"]
    assert outcomes(site.run("notice.xml", notice, "--execute")) == {"posted": 2}
    for style in ("a batch whose TxDtls have no reference",
                  "a batch whose TxDtls repeat the entry's reference"):  # fmt: skip
        assert outcomes(site.run("statement.xml", CAMT_STYLES[style], "--execute")) == {
            "skipped": 2
        }, style
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]


def with_fee(statement: str, after: str) -> str:
    """``statement`` with a 1,50 fee debited under reference B1 after the line ``after``."""
    fee = ":61:2401020102D1,50NCHGNONREF//B1\n:86:bank fee\n"
    at = statement.index(after) + len(after)
    return statement[:at] + fee + statement[at:]


def test_a_fee_under_a_payments_reference_does_not_shift_its_number(tmp_path: Path) -> None:
    """The notice holds the batch's two credits; the statement the same and the bank's fee
    between them, under the same reference. Before: the fee was B1/2 and the second payment
    B1/3 in the statement, so it did not match the notice's B1/2 and posted again (now the
    journal guard would stop it as needs review). Now credits are numbered apart: both
    statement payments are the notice's, skipped; the fee is read as B1/debit."""
    site = Site(tmp_path)
    notice = mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-2", "B1", "second"))
    statement = with_fee(notice, ":86:first\n")
    assert outcomes(site.run("notice.sta", notice, "--execute")) == {"posted": 2}
    summary = site.run("statement.sta", statement, "--execute")
    assert outcomes(summary) == {"skipped": 3}  # two in the journal, the fee is money out
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]
    assert keys(tmp_path, "s.sta", statement) == keys(tmp_path, "n.sta", notice)
    assert (f"bank_reference B1 repeats on account {ACCOUNT}, lines 5, 9: different payments, "
            "read as B1, B1/2 so that each posts") in summary["info"]["notes"]  # type: ignore[index]


def test_fees_sharing_a_reference_are_numbered_among_themselves(tmp_path: Path) -> None:
    """Two fees under B1 next to a credit under B1: B1/debit and B1/debit/2, never a key of a
    credit, and the credit keeps B1."""
    statement = with_fee(with_fee(mt940(("10,", "INV-1", "B1", "first")), ":86:first\n"),
                         ":86:first\n")  # fmt: skip
    site = Site(tmp_path)
    summary = site.run("x.sta", statement)
    assert outcomes(summary) == {"would post": 1, "skipped": 2}
    assert keys(tmp_path, "x.sta", statement) == keys(
        tmp_path, "y.sta", mt940(("10,", "INV-1", "B1", "first")))
    assert any("read as B1/debit, B1/debit/2" in note
               for note in summary["info"]["notes"])  # type: ignore[index]
