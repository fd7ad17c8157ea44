"""Issue 13 item 11: text from the input (a cell, a header, the file's own name) never drives
the terminal: escape sequences, BEL and bidi overrides are shown as "?" on every path that
prints it: the run's steps and summary, the execute refusal, the run history."""

from __future__ import annotations

from pathlib import Path

import yaml
from badinput_files import BASE_SPEC, GOOD_ROW, csv_text, row
from click.testing import CliRunner
from test_badinput import TERMINAL_CONTROLS

from batchpay.cli import main

HOSTILE_NAME = "dep\x1b]0;pwned\x07osits\u202egsm.csv"


def _output(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output
    return result.output


def test_a_hostile_file_name_and_cell_reach_no_terminal_raw(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(BASE_SPEC), encoding="utf-8")
    data = tmp_path / HOSTILE_NAME
    data.write_text(csv_text([GOOD_ROW, row(reference="NW-0003", invoice="INV-1017",
                                            amount="1\x1b[2J\x07\u202e2")]), encoding="utf-8")
    common = ["--journal", str(tmp_path / "j.sqlite"), "--sandbox-state",
              str(tmp_path / "sb.sqlite"), "--reports-dir", str(tmp_path / "reports")]
    outputs = [
        _output(["run", str(job), str(data), *common]),
        _output(["run", str(job), str(data), "--execute", "--yes", *common]),
        _output(["runs", "--journal", str(tmp_path / "j.sqlite")]),
        _output(["runs", "--journal", str(tmp_path / "j.sqlite"), "show", "1"]),
    ]
    for output in outputs:
        raw = sorted({repr(c) for c in output if c in TERMINAL_CONTROLS})
        assert not raw, f"raw control characters reach the terminal: {raw}\n{output}"
    assert "dep?]0;pwned?osits?gsm.csv" in outputs[2]
    assert '"1?[2J??2" is not an amount' in outputs[1]
