"""Job specs for the real exports in ../shared/real-inputs: rows, amounts, dates and origins.

Every expected value below was read by eye from the file (see its SOURCES.md). The files are
never copied into this repository: these tests skip when the folder is absent.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batchpay.prepare import PreparedInput, prepare
from batchpay.records import Origin, Outcome
from batchpay.run import RunOptions, run_job
from batchpay.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parents[1]
REAL_INPUTS = REPO.parent / "shared" / "real-inputs"
SPECS = Path(__file__).resolve().parent / "real_specs"

LLOYDS = "lloyds-uk__sample-statement.csv"
SCHWAB = "schwab-us__EAC_Checking_Transactions_20201223-160009.CSV"
OP = "op-fi__csv-test.csv"
EASYBANK = "easybank-at__easybank-giro.csv"
FINECO = "fineco-it__movements.xlsx"
PAYPAL = "paypal-us__paypal-custom.csv"
GNUCASH = "gnucash-bill-import__invoice.csv"


def real(name: str) -> Path:
    path = REAL_INPUTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def prepared(spec_name: str, file_name: str) -> PreparedInput:
    return prepare(load_spec(SPECS / f"{spec_name}.yaml"), real(file_name), SPECS)


def unix(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
         second: int = 0) -> int:
    """Test oracle only: the moment as unix seconds."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).timestamp())


def valid_rows(result: PreparedInput) -> list[tuple[Origin, object, object, object]]:
    return [
        (row.origin, row.fields["invoice_id"], row.fields["amount"], row.fields["date"])
        for row in result.valid
    ]


def skipped(result: PreparedInput) -> list[tuple[int, int | None, str]]:
    return [
        (o.origin.row, o.amount_minor, o.reason)
        for o in result.outcomes.values()
        if o.outcome is Outcome.SKIPPED
    ]


def assert_nothing_lost(result: PreparedInput) -> None:
    assert len(result.valid) + len(result.outcomes) == result.rows_read
    assert {r.position for r in result.valid}.isdisjoint(result.outcomes)


def test_lloyds() -> None:
    result = prepared("lloyds", LLOYDS)
    assert result.rows_read == 12
    assert_nothing_lost(result)
    assert valid_rows(result) == [
        (Origin(5), "RP555000111222333", 200000, unix("Europe/London", 2023, 12, 1)),
        (Origin(13), "400000005566778899", 50000, unix("Europe/London", 2023, 12, 1)),
    ]
    outgoing = "outgoing payment, not a deposit"
    assert skipped(result) == [
        (2, -899, outgoing), (3, -479, outgoing), (4, -597512, outgoing), (6, -597, outgoing),
        (7, -412, outgoing), (8, -25000, outgoing), (9, -7348, outgoing), (10, -1250, outgoing),
        (11, -202, outgoing), (12, -4500, outgoing),
    ]  # fmt: skip
    # 15/01/2024 and 12/01/2024 read day first.
    assert result.parsed.values["date"][:3] == [
        unix("Europe/London", 2024, 1, 15),
        unix("Europe/London", 2024, 1, 12),
        unix("Europe/London", 2024, 1, 12),
    ]


def test_lloyds_with_the_wrong_date_order_fails_loudly() -> None:
    data = load_spec(SPECS / "lloyds.yaml").model_dump(by_alias=True, exclude_unset=True)
    data["fields"]["date"]["formats"] = ["%m/%d/%Y"]
    spec = parse_spec(data)
    result = prepare(spec, real(LLOYDS), SPECS)
    # Nothing is posted with a swapped date, and the debit filter hides none of it.
    assert result.valid == []
    assert len(result.outcomes) == 12
    assert all(o.outcome is Outcome.INVALID for o in result.outcomes.values())
    failures = [str(f) for o in result.outcomes.values() for f in o.failures]
    assert failures[0] == (
        'line 2, column "Transaction Date": "15/01/2024" is not a date in format MM/DD/YYYY '
        "(expected MM/DD/YYYY; 15 cannot be a month — is the file DD/MM/YYYY?)"
    )
    assert failures[3] == (
        'line 5, column "Transaction Date": "01/12/2023" is ambiguous: line 2 ("15/01/2024") '
        "shows the dates are DD/MM/YYYY, not MM/DD/YYYY "
        "(expected the job's formats to say DD/MM/YYYY (%d/%m/%Y))"
    )


def test_schwab() -> None:
    result = prepared("schwab", SCHWAB)
    # Lines 1-4 are the title, the header and two marker rows.
    assert result.rows_read == 12
    assert [o.origin.row for o in result.outcomes.values()] == list(range(5, 17))
    assert_nothing_lost(result)
    assert result.valid == []  # this export names no invoices
    none, withdrawal = "no invoice number in the description", "withdrawal, not a deposit"
    assert skipped(result) == [
        (5, 300, none), (6, 2000000, none), (7, -1050000, withdrawal), (8, 1050000, none),
        (9, -110, withdrawal), (10, 156, none), (11, 250000, none), (12, 9, none),
        (13, -614, withdrawal), (14, -1669, withdrawal), (15, -123411, withdrawal),
        (16, 123456, none),
    ]  # fmt: skip
    dates = result.parsed.values["date"]
    assert dates[0] == unix("America/New_York", 2021, 7, 30)  # "07/30/2021", line 5
    assert dates[10] == unix("America/New_York", 2019, 11, 22)  # "11/22/2019", line 15
    assert result.parsed.values["cheque"][10] == "1002"
    assert result.parsed.values["method"][10] == "check"
    assert result.parsed.values["method"][1] == "bank_transfer"


def test_op_keeps_the_reference_number_leading_zeros() -> None:
    result = prepared("op", OP)
    assert result.rows_read == 7  # lines 2-8; the trailing blank line is not a row
    assert_nothing_lost(result)
    helsinki = "Europe/Helsinki"
    assert valid_rows(result) == [
        (Origin(4), "00000000000007009017", 3000, unix(helsinki, 2009, 1, 27)),
        (Origin(7), "00000000000001110012", 3000, unix(helsinki, 2010, 1, 25)),
        (Origin(8), "00000000000000032094", 2000, unix(helsinki, 2010, 4, 21)),
    ]
    assert [row.fields["reference"] for row in result.valid] == [
        "200901252588NGNO0290", "201001255UTZ00002150", "201004202588NGN52047",
    ]  # fmt: skip
    not_588 = "not an incoming reference payment (588 VIITESIIRTO)"
    assert skipped(result) == [
        (2, -6650, not_588), (3, -3300, not_588), (5, -106335, not_588), (6, -7310, not_588),
    ]  # fmt: skip


def test_easybank() -> None:
    result = prepared("easybank", EASYBANK)
    assert result.rows_read == 10  # no header: line 1 is data
    assert_nothing_lost(result)
    assert valid_rows(result) == [
        (Origin(10), "123456790", 998, unix("Europe/Vienna", 2015, 10, 7)),
    ]
    outgoing, no_inv = "outgoing payment, not a deposit", "no /INV/ number in the text"
    assert skipped(result) == [
        (1, -42, outgoing), (2, 123, no_inv), (3, -12345, outgoing), (4, -3200, outgoing),
        (5, -100100, outgoing), (6, -40000, outgoing), (7, -2090, outgoing), (8, -840, outgoing),
        (9, 1210, no_inv),
    ]  # fmt: skip
    assert result.parsed.values["date"][4] == unix("Europe/Vienna", 2014, 1, 19)  # line 5


def test_fineco_xlsx() -> None:
    result = prepared("fineco", FINECO)
    assert result.rows_read == 2
    assert_nothing_lost(result)
    assert result.valid == []  # "Lorem ipsum" names no invoice
    origins = [o.origin for o in result.outcomes.values()]
    assert origins == [Origin(8, "Movimenti"), Origin(9, "Movimenti")]
    assert skipped(result) == [
        (8, -999, "outgoing payment (Uscite), not a deposit"),  # Uscite -9.99, already negative
        (9, 15062, "no invoice number in Descrizione_Completa"),  # Entrate 150.62
    ]
    assert result.parsed.values["date"] == [unix("Europe/Rome", 2024, 12, 31)] * 2


def test_paypal_joins_date_time_and_zone() -> None:
    result = prepared("paypal", PAYPAL)
    assert result.rows_read == 7
    assert_nothing_lost(result)
    assert result.valid == []
    paid_out, funding = "money paid out, not received", "funding row of the payment above it"
    assert skipped(result) == [
        (2, -699, paid_out), (3, 699, funding), (4, -700, paid_out), (5, 700, funding),
        (6, -200, paid_out), (7, 200, funding), (8, 1000, "no order number in the item title"),
    ]  # fmt: skip
    # "10/22/2019","05:07:06","PDT"
    assert result.parsed.values["date"][6] == unix("America/Los_Angeles", 2019, 10, 22, 5, 7, 6)
    assert result.parsed.values["invoice_id"][0] == "99309"  # "... Order 99309. ..."


@pytest.mark.parametrize(
    ("spec_name", "file_name", "would_post", "skipped_rows"),
    [
        ("lloyds", LLOYDS, [5, 13], 10),
        ("schwab", SCHWAB, [], 12),
        ("op", OP, [4, 7, 8], 4),
        ("easybank", EASYBANK, [10], 9),
        ("fineco", FINECO, [], 2),
        ("paypal", PAYPAL, [], 7),
        ("gnucash", GNUCASH, list(range(1, 13)), 0),
    ],
)
def test_offline_validate_run(
    spec_name: str, file_name: str, would_post: list[int], skipped_rows: int
) -> None:
    result = run_job(SPECS / f"{spec_name}.yaml", real(file_name), RunOptions(mode="validate"))
    assert [o.origin.row for o in result.outcomes if o.outcome is Outcome.WOULD_POST] == would_post
    assert sum(o.outcome is Outcome.SKIPPED for o in result.outcomes) == skipped_rows
    assert len(result.outcomes) == result.info.rows_read



def test_schwab_run_notes_name_the_dropped_marker_rows() -> None:
    result = run_job(SPECS / "schwab.yaml", real(SCHWAB), RunOptions(mode="validate"))
    assert result.info.notes[:2] == (
        'line 3 dropped by drop_rows_matching: "Pending Transactions are not reflected within '
        'this sort criterion."',
        'line 4 dropped by drop_rows_matching: "Posted Transactions"',
    )


def test_gnucash_bill_lines_as_charges_quantity_times_price() -> None:
    result = prepared("gnucash", GNUCASH)
    assert result.rows_read == 12
    assert_nothing_lost(result)
    assert not result.outcomes
    rows = [(row.origin, row.fields["customer_id"], row.fields["amount"],
             row.fields["description"]) for row in result.valid]
    assert rows[0] == (Origin(1), "000013", 439, "MEC-0072: 34-0655 > PROTOBLOC 2 BREADBOARD")
    # 10 x 0.06, 5 x 0.50, 20 x 0.16: products exact in pence
    assert [amount for _, _, amount, _ in rows] == [
        439, 60, 50, 50, 695, 50, 250, 115, 597, 320, 495, 435,
    ]
    assert rows[-1][3] == "MEC-0072: VAT"
    assert {row.currencies["amount"] for row in result.valid} == {"GBP"}
