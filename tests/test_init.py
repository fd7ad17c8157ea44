"""`batchpay init FILE`: the starter spec it writes reads every row of the real exports as the
hand-checked specs in tests/real_specs do, and small generated files cover each inference."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from batchpay.cli import main
from batchpay.prepare import PreparedInput, prepare
from batchpay.presets import PRESETS
from batchpay.records import Origin
from batchpay.spec import load_spec

TESTS = Path(__file__).resolve().parent
REAL_INPUTS = TESTS.parents[1] / "shared" / "real-inputs"
SPECS = TESTS / "real_specs"


def init(tmp_path: Path, file: Path, *options: str, output: str = "job.yaml") -> Result:
    """batchpay init, inferring the spec (--no-preset) unless the test says otherwise."""
    args = ["init", str(file), "-o", str(tmp_path / output), "--no-preset", *options]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def validate(tmp_path: Path, file: Path, job: str = "job.yaml") -> Result:
    args = ["validate", str(tmp_path / job), str(file), "--reports-dir", str(tmp_path / "r"),
            "--journal", str(tmp_path / "journal.sqlite")]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def real(name: str) -> Path:
    path = REAL_INPUTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def by_origin(prepared: PreparedInput, name: str) -> dict[Origin, object]:
    frame = prepared.table.frame
    return {prepared.table.origin(int(frame.index[p])): v
            for p, v in enumerate(prepared.parsed.values[name])}  # fmt: skip


def calendar_dates(prepared: PreparedInput) -> dict[Origin, date]:
    zone = ZoneInfo(prepared.spec.fields["date"].timezone)
    return {o: datetime.fromtimestamp(v, zone).date()
            for o, v in by_origin(prepared, "date").items() if isinstance(v, int)}  # fmt: skip


# (file, init options, hand-checked spec, fields of the hand-checked spec that init's
# "reference" and "invoice_id" must equal on the rows it marks valid)
REAL_CSV = [
    ("lloyds-uk__sample-statement.csv",
     ["--currency", "GBP", "--invoice-pattern", r"RP\d+|\b\d{18}\b"], "lloyds", None),
    ("op-fi__csv-test.csv", ["--currency", "EUR"], "op", "reference"),
    ("schwab-us__EAC_Checking_Transactions_20201223-160009.CSV", [], "schwab", None),
    ("easybank-at__easybank-giro.csv", ["--invoice-pattern", r"/INV/(\d+)"], "easybank", None),
    ("fineco-it__movements.xlsx", ["--currency", "EUR"], "fineco", None),
    ("paypal-us__paypal-custom.csv", ["--invoice-pattern", r"Order (\d+)"], "paypal",
     "transaction"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "options", "spec_name", "reference"), REAL_CSV)
def test_init_reads_real_exports_as_the_hand_checked_specs(
    tmp_path: Path, name: str, options: list[str], spec_name: str, reference: str | None
) -> None:
    file = real(name)
    result = init(tmp_path, file, *options)
    assert result.exit_code == 0, result.output
    checked = validate(tmp_path, file)
    assert checked.exit_code == 0, checked.output
    mine = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    theirs = prepare(load_spec(SPECS / f"{spec_name}.yaml"), file, SPECS)
    assert mine.rows_read == theirs.rows_read
    assert by_origin(mine, "amount") == by_origin(theirs, "amount")
    assert calendar_dates(mine) == calendar_dates(theirs)
    assert {r.origin for r in mine.valid} >= {r.origin for r in theirs.valid}
    valid = {r.origin: r.fields for r in theirs.valid}
    if "--invoice-pattern" in options or spec_name == "op":
        assert {o: by_origin(mine, "invoice_id")[o] for o in valid} == {
            o: f["invoice_id"] for o, f in valid.items()
        }
    if reference is not None:
        assert by_origin(mine, "reference") == by_origin(theirs, reference)


def test_init_gnucash_charge_lines(tmp_path: Path) -> None:
    file = real("gnucash-bill-import__invoice.csv")
    result = init(tmp_path, file, "--currency", "GBP", "--invoice-pattern", r"MEC-\d+")
    assert result.exit_code == 0, result.output
    assert validate(tmp_path, file).exit_code == 0
    mine = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    theirs = prepare(load_spec(SPECS / "gnucash.yaml"), file, SPECS)
    assert mine.rows_read == theirs.rows_read == 12
    assert by_origin(mine, "invoice_id") == by_origin(theirs, "bill")
    # The unit price (the hand-checked spec multiplies it by the quantity column).
    assert by_origin(mine, "amount")[Origin(1)] == 439


def test_init_tells_which_option_a_real_file_needs(tmp_path: Path) -> None:
    result = init(tmp_path, real("lloyds-uk__sample-statement.csv"))
    assert result.exit_code == 2
    assert "names no currency" in result.output and "--currency" in result.output
    assert not (tmp_path / "job.yaml").exists()


@pytest.mark.parametrize(
    ("name", "rows"),
    [("abnamro-nl__test-camt053", 2), ("ubs-ch__valid_example_v8.xml", 3),
     ("postfinance-ch__valid_example_v4.xml", 30),
     ("postfinance-ch-camt054__valid_example.xml", 3), ("dresdner-de__sepa_mt9401.txt", 95),
     ("rabobank-nl__rabobank_sepa.txt", 12), ("mbank-pl__mt942.sta", 3),
     ("goldman-us__sample4-continuations-newline-delimited.txt", 17),
     ("natwest-uk__nwb_example.bai2", 5), ("bancodobrasil-br__ofxdata-bb-two-stmtrs.ofx", 36)],
)  # fmt: skip
def test_init_writes_a_ready_job_for_real_statements(tmp_path: Path, name: str, rows: int) -> None:
    file = real(name)
    result = init(tmp_path, file)
    assert result.exit_code == 0, result.output
    assert f"{rows} rows read:" in result.output
    checked = validate(tmp_path, file)
    assert checked.exit_code == 0, checked.output
    assert f": {rows} rows" in " ".join(checked.output.split())


# ------------------------------------------------------------------------ generated edge cases


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def spec_text(tmp_path: Path) -> str:
    return (tmp_path / "job.yaml").read_text(encoding="utf-8")


AMBIGUOUS = "Date,Amount,Ref\n01/02/2024,10.00,INV-1\n03/04/2024,20.50,INV-2\n"


def test_ambiguous_dates_ask_for_date_order(tmp_path: Path) -> None:
    file = write(tmp_path, "a.csv", AMBIGUOUS)
    result = init(tmp_path, file, "--currency", "EUR")
    assert result.exit_code == 2
    assert 'column "Date": 2 dates like "01/02/2024" and none has a number above 12' in (
        result.output
    )
    assert "--date-order DMY or --date-order MDY" in result.output
    assert init(tmp_path, file, "--currency", "EUR", "--date-order", "MDY").exit_code == 0
    assert "formats: ['%m/%d/%Y']" in spec_text(tmp_path)
    assert "no value decides the order: --date-order says so" in spec_text(tmp_path)


def test_a_date_order_the_file_contradicts_is_refused(tmp_path: Path) -> None:
    file = write(tmp_path, "a.csv", AMBIGUOUS + "13/04/2024,1.00,INV-3\n")
    result = init(tmp_path, file, "--currency", "EUR", "--date-order", "MDY")
    assert result.exit_code == 2
    assert "--date-order MDY contradicts the file: 1 has a day > 12 in front" in result.output


def test_preamble_markers_symbols_and_a_unique_reference(tmp_path: Path) -> None:
    text = ('Account statement for 12345 as of today\n'
            '"Date","Details","Paid out","Paid in","Txn Id"\n'
            '"Posted"\n'
            '"13/01/2024","Invoice INV-0042 thanks","","£1,234.50","TX000001"\n'
            '"14/01/2024","Card","£5.00","","TX000002"\n'
            '"15/01/2024","Payment INV-0043","","£20.00","TX000003"\n')  # fmt: skip
    file = write(tmp_path, "s.csv", text)
    result = init(tmp_path, file, "--invoice-pattern", "INV-0042")
    assert result.exit_code == 0, result.output
    spec = spec_text(tmp_path)
    assert "  skip_lines: 1\n" in spec
    assert "  drop_rows_matching: '^(?:Posted)'\n" in spec
    assert "    credit_column: 'Paid in'\n    debit_column: 'Paid out'\n" in spec
    assert "    thousands: ','\n    currency: GBP\n" in spec
    assert "    regex: 'INV\\-\\d+'\n" in spec  # the sample id, generalised
    assert "  business_key: [reference]\n" in spec and "column: 'Txn Id'" in spec
    assert "# 3 of 3 dates in \"Date\" read as DD/MM/YYYY; 3 have a day > 12 in front" in spec
    prepared = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    assert [(r.fields["invoice_id"], r.fields["amount"]) for r in prepared.valid] == [
        ("INV-0042", 123450), ("INV-0043", 2000),
    ]  # fmt: skip
    assert "line 4  2024-01-13  1,234.50 GBP  INV-0042    ready" in result.output


def test_windows_encoding_semicolons_decimal_comma_and_no_header(tmp_path: Path) -> None:
    text = ("02.01.2024;Überweisung Rechnung 77 – danke;+1.234,56;EUR\n"
            "15.01.2024;Lastschrift Müller;-12,30;EUR\n")  # fmt: skip
    file = write(tmp_path, "w.csv", text.encode("cp1252"))
    result = init(tmp_path, file)
    assert result.exit_code == 0, result.output
    spec = spec_text(tmp_path)
    assert "  encoding: cp1252\n" in spec  # the en dash is byte 0x96: not latin-1
    assert "  delimiter: ';'\n" in spec
    assert "  header: false\n  columns: ['Booking date', 'Text', 'Amount', 'Currency']\n" in spec
    assert "    decimal: ','\n    thousands: '.'\n    currency_field: currency\n" in spec
    prepared = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    assert by_origin(prepared, "amount") == {Origin(1): 123456, Origin(2): -1230}
    assert by_origin(prepared, "invoice_id")[Origin(1)] == "Überweisung Rechnung 77 – danke"


def test_no_currency_and_an_unmatched_invoice_pattern_name_the_option(tmp_path: Path) -> None:
    file = write(tmp_path, "n.csv", "Date,Amount\n2024-01-02,1.00\n2024-01-03,2.00\n")
    result = init(tmp_path, file)
    assert result.exit_code == 2
    assert result.output.startswith("Error: the file names no currency")
    result = init(tmp_path, file, "--currency", "EUR", "--invoice-pattern", r"INV-\d+")
    assert result.exit_code == 2
    assert "--invoice-pattern 'INV-\\\\d+' matches no cell of the file" in result.output


def test_an_existing_spec_is_kept_unless_forced(tmp_path: Path) -> None:
    file = write(tmp_path, "n.csv", "Date,Amount,Note\n2024-01-02,1.00,a b\n")
    (tmp_path / "job.yaml").write_text("mine")
    result = init(tmp_path, file, "--currency", "EUR")
    assert result.exit_code == 2 and "exists" in result.output
    assert (tmp_path / "job.yaml").read_text() == "mine"
    assert init(tmp_path, file, "--currency", "EUR", "--force").exit_code == 0




# ------------------------------------------------------------------------------------ presets


@pytest.mark.parametrize(
    ("name", "preset"),
    [(name, spec_name) for name, _, spec_name, _ in REAL_CSV]
    + [("gnucash-bill-import__invoice.csv", "gnucash")],
)
def test_init_recognises_a_known_export_and_writes_its_preset(
    tmp_path: Path, name: str, preset: str
) -> None:
    file = real(name)
    args = ["init", str(file), "-o", str(tmp_path / "job.yaml")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert spec_text(tmp_path).startswith(f"# Written by batchpay init from {name}: recognised "
                                          f'as the preset "{preset}"')
    assert validate(tmp_path, file).exit_code == 0
    assert load_spec(tmp_path / "job.yaml") == load_spec(SPECS / f"{preset}.yaml")


def test_presets_are_the_hand_checked_specs() -> None:
    for preset in PRESETS:
        assert load_spec(preset.path) == load_spec(SPECS / f"{preset.name}.yaml"), preset.name


def test_list_presets() -> None:
    result = CliRunner().invoke(main, ["init", "--list-presets"], catch_exceptions=False)
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [
        "lloyds", "op", "schwab", "easybank", "fineco", "paypal", "gnucash",
    ]  # fmt: skip
    assert "easybank   easybank (AT) giro account CSV; recognised by its shape: no header" in (
        result.output
    )


def test_a_file_like_a_preset_but_not_it_is_inferred(tmp_path: Path) -> None:
    # Schwab's header minus one column: not the preset.
    text = '"Date","Type","Check #","Description","Withdrawal (-)","Deposit (+)"\n' \
           '"01/13/2024","ACH","","x","","$1.00"\n'
    file = write(tmp_path, "s.csv", text)
    result = CliRunner().invoke(main, ["init", str(file), "-o", str(tmp_path / "job.yaml")])
    assert result.exit_code == 0, result.output
    assert "recognised as the preset" not in spec_text(tmp_path)


def test_the_onboarding_guide_shows_the_real_preview(tmp_path: Path) -> None:
    """docs/onboarding.md shows init's output for the Lloyds export: it must be the real one."""
    file = tmp_path / "statement.csv"
    file.write_bytes(real("lloyds-uk__sample-statement.csv").read_bytes())
    guide = (TESTS.parent / "docs" / "onboarding.md").read_text(encoding="utf-8")
    args = ["init", str(file), "-o", str(tmp_path / "lloyds.yaml"), "--no-preset",
            "--currency", "GBP", "--invoice-pattern", r"RP\d+|\b\d{18}\b"]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0
    shown = result.output.replace(str(tmp_path / "lloyds.yaml"), "lloyds.yaml")
    shown = shown.replace(str(file), "statement.csv")
    for line in shown.splitlines():
        assert line in guide, line
    spec = (tmp_path / "lloyds.yaml").read_text(encoding="utf-8")
    assert spec in guide
    refused = CliRunner().invoke(main, ["init", str(file), "-o", str(tmp_path / "x.yaml"),
                                        "--no-preset"])  # fmt: skip
    assert refused.exit_code == 2 and refused.output.strip() in guide


def test_a_sign_flag_column_and_a_total_footer(tmp_path: Path) -> None:
    text = ("Booking date;Amount;D/C;Text\n"
            "13.01.2024;1.234,50;C;INV-1\n"
            "14.01.2024;5,00;D;card\n"
            "Total;1.229,50;;\n")  # fmt: skip
    file = write(tmp_path, "f.csv", text)
    result = init(tmp_path, file, "--currency", "EUR")
    assert result.exit_code == 0, result.output
    spec = spec_text(tmp_path)
    assert "  skip_footer: 1\n" in spec
    assert "    sign_column: 'D/C'\n" in spec
    assert "# amount: unsigned; the sign is the flag in \"D/C\" (C, D)" in spec
    prepared = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    assert by_origin(prepared, "amount") == {Origin(2): 123450, Origin(3): -500}
    assert prepared.table.dropped_notes() == [
        'line 4 dropped by skip_footer: "Total | 1.229,50"'
    ]


def test_a_statement_invoice_pattern_searches_every_reference_field(tmp_path: Path) -> None:
    file = real("ubs-ch__valid_example_v8.xml")
    result = init(tmp_path, file, "--invoice-pattern", r"R\d{5}|RF\d+")
    assert result.exit_code == 0, result.output
    prepared = prepare(load_spec(tmp_path / "job.yaml"), file, tmp_path)
    # credit 1 has it in its remittance text, credit 2 as a structured creditor reference
    assert [r.fields["invoice_id"] for r in prepared.valid] == [
        "R77561", "RF38000000000000000000552",
    ]  # fmt: skip
