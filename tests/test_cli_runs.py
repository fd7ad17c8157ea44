"""Issue 14 item 5: the journal records runs; ``batchpay runs``, ``runs show`` and ``--json``."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from batchpay.cli import main

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "samples" / "bank-deposits" / "job.yaml"
DATA = REPO / "samples" / "bank-deposits" / "deposits.csv"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the default journal and reports are under ./reports
    return tmp_path


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def dry_run(*extra: str) -> Result:
    return invoke("run", JOB, DATA, "--sandbox-state", "sb.sqlite", *extra)


def test_run_json_is_the_report_summary_on_stdout(work: Path) -> None:
    result = dry_run("--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # nothing but JSON on stdout
    report = Path(printed.pop("report"))
    assert printed.pop("run_id") == 1
    assert printed == json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert printed["format"] == "batchpay-report-summary/1"
    assert printed["info"]["mode"] == "dry-run"
    assert result.stderr == ""  # --json: no progress either


def test_validate_json(work: Path) -> None:
    result = invoke("validate", JOB, DATA, "--json")
    printed = json.loads(result.stdout)
    assert printed["info"]["mode"] == "validate"
    assert printed["counts"]["invalid"] == 0
    assert result.exit_code == 0


def test_runs_lists_what_ran_newest_first(work: Path) -> None:
    assert invoke("validate", JOB, DATA).exit_code == 0
    assert dry_run().exit_code == 0
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    sha = hashlib.sha256(DATA.read_bytes()).hexdigest()
    heads = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert [h.split()[0] for h in heads] == ["#2", "#1"]
    assert "dry-run" in heads[0] and "validate" in heads[1]
    assert all("bank-deposits" in h and "deposits.csv" in h and sha[:12] in h for h in heads)
    # as each run's summary says it: a validation predicts too, only an execute posts
    assert "    8 would post, 3 skipped, 2 would fail; 1 money out, skipped" in result.stdout
    assert "    11 would post, 2 skipped; 1 money out, skipped" in result.stdout
    assert ("read (money in): 1,399.99 EUR, 2,001.12 GBP, 150,000 JPY, 12.345 KWD, "
            "3,025.00 USD") in " ".join(result.stdout.split())
    assert "money out, skipped: -45.20 GBP" in result.stdout
    assert result.stdout.count("report: ") == 2

    listed = json.loads(invoke("runs", "--json").stdout)
    assert listed["format"] == "batchpay-runs/1"
    assert [r["run_id"] for r in listed["runs"]] == [2, 1]
    assert listed["runs"][0]["info"]["input_sha256"] == sha
    assert listed["runs"][0]["input_path"] == str(DATA)
    assert Path(listed["runs"][0]["report"]).is_file()


def test_runs_show_gives_the_summary_and_report_again(work: Path) -> None:
    dry_run()
    shown = invoke("runs", "show", "1")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("Run #1: dry-run of deposits.csv (job bank-deposits)")
    assert "USD       read (money in) 6 = 3,025.00; would post 3 = 1,475.00," in shown.stdout
    assert all(len(line) <= 80 for line in shown.stdout.splitlines()[:-1])  # all but the path
    report = shown.stdout.splitlines()[-1].removeprefix("Report: ")
    assert Path(report).is_file() and report.endswith("-dry-run.xlsx")
    as_json = json.loads(invoke("runs", "show", "1", "--json").stdout)
    assert as_json["report"] == report and as_json["exit_code"] == 0


def test_runs_of_one_job_from_its_journal(work: Path) -> None:
    job = work / "job.yaml"
    job.write_text(JOB.read_text(encoding="utf-8").replace(
        "name: bank-deposits", "name: bank-deposits\njournal: other/journal.sqlite"),
        encoding="utf-8")
    invoke("validate", job, DATA)
    assert (work / "other" / "journal.sqlite").is_file()
    assert invoke("runs").stdout.startswith("No runs recorded")
    assert invoke("runs", "--job", job).stdout.startswith("#1 ")


def test_unknown_run_is_one_error_line(work: Path) -> None:
    dry_run()
    result = invoke("runs", "show", "7")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no run 7 in reports/batchpay-journal.sqlite")
    assert "Traceback" not in result.output


def test_a_history_that_cannot_be_written_is_a_warning_not_a_failed_run(work: Path) -> None:
    (work / "not-a-folder").write_text("x", encoding="utf-8")
    result = dry_run("--journal", "not-a-folder/journal.sqlite")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('Dry run of "deposits.csv"')
    assert "Warning: this run is not in the history: not-a-folder/journal.sqlite: cannot " \
        "open the run history" in result.stderr


def _table(summary: str) -> dict[str, dict[str, tuple[str, str]]]:
    """The run summary's control-total table: {label: {currency: (rows, amount)}}."""
    table: dict[str, dict[str, tuple[str, str]]] = {}
    currencies: list[str] = []
    for line in summary.splitlines():
        if re.fullmatch(r"\s+([A-Z]{3}|unknown)(\s+([A-Z]{3}|unknown))*", line):
            currencies = line.split()
            continue
        row = re.fullmatch(r"([a-z][a-z (),]*?)\s{2,}([-\d,. ]+)", line)
        if currencies and row:
            cells = row[2].split()
            table.setdefault(row[1], {}).update(
                {c: (cells[2 * i], cells[2 * i + 1]) for i, c in enumerate(currencies)})
    return table


def test_runs_keep_money_out_apart_as_the_run_summary_does(work: Path) -> None:
    """The sample has credits and a debit (line 11, GBP 45.20 paid out, skipped): the history
    says what the run's own summary said, the debit never netted into the money read in."""
    run = dry_run()
    assert run.exit_code == 0, run.output
    table = _table(run.stdout)
    read_in, money_out = table["read (money in)"], table["money out, skipped"]
    assert read_in["GBP"] == ("2", "2,001.12") and money_out["GBP"] == ("1", "-45.20")

    listing = " ".join(invoke("runs").stdout.split())
    in_words = ", ".join(f"{amount} {c}" for c, (rows, amount) in read_in.items() if rows != "0")
    assert f"read (money in): {in_words}" in listing
    assert "money out, skipped: -45.20 GBP" in listing
    assert "8 would post, 3 skipped, 2 would fail; 1 money out, skipped" in listing

    shown = " ".join(invoke("runs", "show", "1").stdout.split())
    for currency, (rows, amount) in read_in.items():
        assert f"{currency} read (money in) {rows} = {amount};" in shown
    assert "money out, skipped 1 = -45.20" in shown

    as_json = json.loads(invoke("runs", "show", "1", "--json").stdout)
    assert as_json["control_totals"] == json.loads(invoke("runs", "--json").stdout)["runs"][0][
        "control_totals"]
    for t in as_json["control_totals"]:
        rows, amount = read_in[t["currency"]]
        assert (t["read"]["count"], t["read"]["amount"]) == (int(rows), amount.replace(",", ""))
        out_rows, out_amount = money_out[t["currency"]]
        assert t["money_out"]["count"] == int(out_rows)
        assert t["money_out"]["amount"] == out_amount.replace(",", "")
        assert t["by_category"]["skipped"]["count"] == int(table["skipped"][t["currency"]][0])
