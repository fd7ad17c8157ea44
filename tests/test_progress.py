"""Issue 14 item 1: progress on every long step; plain lines when stderr is not a terminal,
nothing with --quiet; the execute rate counts from after the confirmation prompt."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pty_output import read_until_closed

from batchpay.cli import main
from batchpay.execute import Progress
from batchpay.progress import ProgressPrinter, Step, duration

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "samples" / "bank-deposits" / "job.yaml"
DATA = REPO / "samples" / "bank-deposits" / "deposits.csv"


def _run(tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    args = ["run", str(JOB), str(DATA), "--sandbox-state", str(tmp_path / "sb.sqlite"),
            "--reports-dir", str(tmp_path / "reports"), "--journal", str(tmp_path / "j.sqlite"),
            *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_plain_progress_lines_for_every_step_when_not_a_terminal(tmp_path: Path) -> None:
    code, stdout, stderr = _run(tmp_path)
    assert code == 0
    expected = [
        r"Reading deposits\.csv: done in \d+\.\d s",
        r"Validating 14 rows: done in \d+\.\d s",
        r"Checking 11 calls against the built-in sandbox: done in \d+\.\d s, 2 requests",
        r"Writing bank-deposits-\d{8}-\d{6}-dry-run\.xlsx: done in \d+\.\d s",
    ]
    # a step longer than 5 s also prints "...: 5 s so far, ..." lines while it runs
    lines = [line for line in stderr.splitlines() if " s so far" not in line]
    assert len(lines) == len(expected), stderr
    for pattern, line in zip(expected, lines, strict=True):
        assert re.fullmatch(pattern, line), line
    assert "\r" not in stderr and "\x1b" not in stderr  # plain lines, no redraws
    assert all(len(line) <= 80 for line in lines), lines  # an 80-column terminal
    assert stdout.startswith('Dry run of "deposits.csv"')  # the summary alone on stdout


def test_execute_progress_lines_after_the_plan(tmp_path: Path) -> None:
    code, _, stderr = _run(tmp_path, "--execute", "--yes")
    assert code == 1  # two rows fail on the demo site
    lines = stderr.splitlines()
    start = lines.index("Sending 8 calls...")  # the two failing rows are never sent
    assert lines[start - 1].startswith("Checking 11 calls against")
    last = [line for line in lines if line.startswith("8/8 done")]
    assert len(last) == 1 and lines.index(last[0]) > start
    assert re.fullmatch(r"8/8 done, \d+\.\d calls/s, ETA 0s, 8 posted, 0 failed, 0 review, "
                        r"0 retries", last[0]), last[0]


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, stdout, stderr = _run(tmp_path, "--quiet")
    assert (code, stdout, stderr) == (0, "", "")
    assert list((tmp_path / "reports").glob("*.xlsx"))  # the run itself happened


def test_verbose_prints_each_steps_time(tmp_path: Path) -> None:
    _, _, stderr = _run(tmp_path, "-v")
    steps = stderr.splitlines()[-1]
    assert re.fullmatch(r"Steps: read \S+ s, validate \S+ s, check \S+ s \(2 requests\), "
                        r"write \S+ s", steps), steps


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("tty", [True, False])
def test_execute_rate_excludes_the_time_at_the_prompt(tty: bool) -> None:
    clock, out = FakeClock(), io.StringIO()
    printer = ProgressPrinter(out, tty=tty, clock=clock)
    printer(Step("execute", "Sending 100 calls"))  # ... announced once confirmed
    clock.now = 5.0
    printer.execute(Progress(total=100, done=50, posted=50))
    clock.now = 10.0
    printer.execute(Progress(total=100, done=100, posted=100))
    printer.close()
    text = out.getvalue()
    assert "50/100 done, 10.0 calls/s, ETA 5s, 50 posted" in text
    assert "100/100 done, 10.0 calls/s, ETA 0s, 100 posted" in text


def test_execute_rate_starts_when_sending_starts() -> None:
    clock, out = FakeClock(), io.StringIO()
    printer = ProgressPrinter(out, tty=False, clock=clock)
    printer(Step("check", "Checking 100 calls"))
    clock.now = 100.0  # the operator reads the plan for 95 s before answering
    printer(Step("execute", "Sending 100 calls"))
    clock.now = 110.0
    printer.execute(Progress(total=100, done=100, posted=100))
    printer.close()
    assert "10.0 calls/s" in out.getvalue()  # not 100 / 110 s = 0.9


def test_terminal_redraws_erase_the_rest_of_the_line() -> None:
    """A shorter redraw ("ETA 0s" after "ETA 10s") must not leave "ETA 0ss" on screen."""
    clock, out = FakeClock(), io.StringIO()
    printer = ProgressPrinter(out, tty=True, clock=clock)
    printer(Step("execute", "Sending 20 calls"))
    clock.now = 1.0
    printer.execute(Progress(total=20, done=1))
    clock.now = 2.0
    printer.execute(Progress(total=20, done=20))
    printer.close()
    redraws = out.getvalue().split("\r")[1:]
    assert len(redraws) == 2
    assert all(r.rstrip("\n").endswith("\x1b[K") for r in redraws)
    assert redraws[-1].endswith("0 retries\x1b[K\n")
    assert "ETA 19s" in redraws[0] and "ETA 0s," in redraws[1]


def test_a_step_ended_before_the_prompt_is_reported_done_once() -> None:
    """The CLI ends the check step before asking to confirm; closing later adds nothing."""
    clock, out = FakeClock(), io.StringIO()
    printer = ProgressPrinter(out, tty=True, clock=clock)
    printer(Step("check", "Checking 3 calls", lambda: "2 requests"))
    clock.now = 1.5
    printer.end_step()
    printer.close()
    assert out.getvalue().endswith("\rChecking 3 calls: done in 1.5 s, 2 requests\x1b[K\n")
    assert out.getvalue().count("done in") == 1
    assert [name for name, _, _ in printer.timings] == ["check"]


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59.4, "59s"), (61, "1m 01s"),
                                               (3599, "59m 59s"), (8040, "2h 14m")])
def test_eta_reads_as_minutes_and_hours(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_each_step_is_one_line_redrawn_in_place(tmp_path: Path) -> None:
    """The real CLI with stderr on a pseudo-terminal: steps and the execute bar are redrawn
    with a carriage return and an erase to the end of the line, then finished with a newline."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-c", "from batchpay.cli import main; main()", "run", str(JOB),
               str(DATA), "--execute", "--yes", "--sandbox-state", str(tmp_path / "sb.sqlite"),
               "--reports-dir", str(tmp_path / "reports"), "--journal", str(tmp_path / "j.sqlite")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower,
                               stdin=subprocess.DEVNULL, cwd=tmp_path)
    os.close(follower)
    terminal = read_until_closed(leader)
    stdout = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 1  # the two rows that cannot be posted
    shown = terminal.decode().replace("\r\n", "\n")
    assert stdout.startswith('Execute of "deposits.csv"')  # the summary stays on stdout
    redraws = [part for part in shown.split("\r") if part]
    assert all(part.rstrip("\n").endswith("\x1b[K") for part in redraws), redraws
    finished = [part.removesuffix("\x1b[K\n") for part in redraws if part.endswith("\n")]
    assert [line.split(":")[0] for line in finished if "done in" in line] == [
        "Reading deposits.csv", "Validating 14 rows",
        "Checking 11 calls against the built-in sandbox",
        next(line.split(":")[0] for line in finished if line.startswith("Writing "))]
    bar = next(line for line in finished if "8/8 done" in line)
    assert bar.startswith("[################] 8/8 done, ") and ", ETA 0s, 8 posted" in bar
