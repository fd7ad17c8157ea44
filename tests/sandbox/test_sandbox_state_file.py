"""A sandbox state file that cannot be opened or written (a file that is not SQLite, a folder or a
regular file in its place, no permission, a full disk) ends in one ``Error:`` line naming the
file and what to do, exit code 2, no traceback, nothing posted; a state left half made by the
failure is removed, so the next run creates and seeds it anew."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from batchpay.cli import main
from batchpay.sandbox import SandboxStore

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "samples" / "bank-deposits" / "job.yaml"
DATA = REPO / "samples" / "bank-deposits" / "deposits.csv"
FULL_DISK = 2048  # bytes a process may write to one file: less than SQLite's first page


def _run(tmp: Path, state: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, [
        "run", str(JOB), str(DATA), "--sandbox-state", str(state),
        "--journal", str(tmp / "journal.sqlite"), "--reports-dir", str(tmp / "reports"), *extra,
    ])  # fmt: skip


def _one_error(output: str, exit_code: int, *words: str) -> str:
    assert exit_code == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_a_state_file_that_is_not_sqlite_is_named_and_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite"
    noise = random.Random(3).randbytes(8192)
    state.write_bytes(noise)
    result = _run(tmp_path, state, "--execute", "--yes")
    _one_error(result.output, result.exit_code, f"the sandbox's state {state}",
               "not a sandbox state file", "move it away or give another file")
    assert state.read_bytes() == noise  # not the run's to delete
    assert not (tmp_path / "journal.sqlite").exists()  # nothing was sent, nor about to be


def test_sandbox_serve_names_a_state_file_that_is_not_sqlite(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite"
    state.write_bytes(random.Random(4).randbytes(8192))
    result = CliRunner().invoke(main, ["sandbox", "serve", "--state", str(state), "--port", "1"])
    _one_error(result.output, result.exit_code, str(state), "not a sandbox state file")


def test_a_regular_file_where_the_state_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = _run(tmp_path, blocker / "sandbox.sqlite", "--execute", "--yes")
    _one_error(result.output, result.exit_code, str(blocker / "sandbox.sqlite"),
               f"{blocker} is a file, not a folder")
    assert not (tmp_path / "journal.sqlite").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_for_a_new_state(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    try:
        result = _run(tmp_path, folder / "sandbox.sqlite")
    finally:
        folder.chmod(0o700)
    _one_error(result.output, result.exit_code, str(folder / "sandbox.sqlite"),
               "Permission denied", "folder is writable")


def _full_disk() -> None:  # runs in the child: Python ignores SIGXFSZ, writes get EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_DISK, FULL_DISK))


def test_a_full_disk_leaves_no_half_made_state_behind(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite"
    args = [sys.executable, "-m", "batchpay.cli", "run", str(JOB), str(DATA),
            "--sandbox-state", str(state), "--reports-dir", str(tmp_path / "reports"),
            "--journal", str(tmp_path / "journal.sqlite")]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          stdin=subprocess.DEVNULL, preexec_fn=_full_disk)
    _one_error(done.stderr, done.returncode, f"cannot open the sandbox's state {state}",
               "disk has free space")
    assert "Traceback" not in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(state.name)) == []

    again = _run(tmp_path, state)  # space again: a fresh sandbox, seeded with the demo seed
    assert again.exit_code == 0, again.output
    store = SandboxStore(state)
    try:
        assert store.invoices()
    finally:
        store.close()
