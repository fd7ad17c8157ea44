"""Bad journals (issue 13 items 7, 8 and the ``journal:`` part of 9), under the corpus's rule:
the exit code, one ``Error:`` line naming the file and what to do, no traceback, nothing
posted; and the named file is never changed (nor re-permissioned) by batchpay.

A journal is a promise that what it lists was posted: a damaged one must never be read as empty.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from badinput_files import BASE_SPEC, GOOD_ROW, GOOD_ROW_2, csv_text
from click.testing import CliRunner, Result

from batchpay.cli import main
from batchpay.sandbox import SandboxStore

REPO = Path(__file__).resolve().parents[2]


def _setup(tmp: Path, journal: Path | None = None) -> tuple[Path, Path]:
    spec = dict(BASE_SPEC)
    if journal is not None:
        spec["journal"] = str(journal)
    job = tmp / "job.yaml"
    job.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    data = tmp / "deposits.csv"
    data.write_text(csv_text([GOOD_ROW, GOOD_ROW_2]), encoding="utf-8")
    return job, data


def _run(tmp: Path, job: Path, data: Path, *extra: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in [
        "run", job, data, "--execute", "--yes", "--sandbox-state", tmp / "sb.sqlite",
        "--reports-dir", tmp / "reports", *extra]])


def _posted(tmp: Path) -> int:
    if not (tmp / "sb.sqlite").exists():
        return 0
    store = SandboxStore(tmp / "sb.sqlite")
    try:
        return len(store.ledger())
    finally:
        store.db.close()


def _refused(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def _a_real_journal(tmp: Path) -> tuple[Path, Path, Path, int]:
    """A job run once: the journal it wrote, and the rows it posted."""
    job, data = _setup(tmp)
    journal = tmp / "journal.sqlite"
    first = _run(tmp, job, data, "--journal", journal)
    assert first.exit_code == 0, first.output
    posted = _posted(tmp)
    assert posted == 2
    return job, data, journal, posted


@pytest.mark.parametrize("damage", ["garbage", "header-then-garbage", "truncated", "tiny"])
def test_a_damaged_journal_is_refused_never_read_as_empty(tmp_path: Path, damage: str) -> None:
    job, data, journal, posted = _a_real_journal(tmp_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    body = journal.read_bytes()
    damaged = {
        "garbage": bytes(range(256)) * 64,
        "header-then-garbage": body[:100] + b"\xa5" * (len(body) - 100),
        "truncated": body[: len(body) // 2],
        "tiny": body[:60],
    }[damage]
    journal.write_bytes(damaged)
    result = _run(tmp_path, job, data, "--journal", journal)
    _refused(result, str(journal), "will not take it as empty")
    assert _posted(tmp_path) == posted  # nothing posted again
    assert journal.read_bytes() == damaged  # left as found, for the person restoring it


def test_an_existing_text_file_named_as_journal_is_refused_at_load(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a journal\n", encoding="utf-8")
    notes.chmod(0o644)
    job, data = _setup(tmp_path, journal=notes)
    validate = CliRunner().invoke(main, ["validate", str(job), str(data),
                                         "--reports-dir", str(tmp_path / "reports")])
    _refused(validate, f"{notes} is not a batchpay journal", "it was not changed")
    result = _run(tmp_path, job, data)
    _refused(result, f"{notes} is not a batchpay journal")
    assert _posted(tmp_path) == 0
    assert notes.read_text(encoding="utf-8") == "my notes, not a journal\n"
    assert stat.S_IMODE(notes.stat().st_mode) == 0o644  # never re-permissioned


def test_another_sqlite_database_named_as_journal_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "crm.sqlite"
    store = SandboxStore(other)  # any SQLite database that is not a journal
    store.db.close()
    before = other.read_bytes()
    job, data = _setup(tmp_path)
    result = _run(tmp_path, job, data, "--journal", other)
    _refused(result, f"{other} is an SQLite file but not a batchpay journal")
    assert _posted(tmp_path) == 0
    assert other.read_bytes() == before


def test_a_folder_named_as_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jdir").mkdir()
    job, data = _setup(tmp_path, journal=tmp_path / "jdir")
    result = _run(tmp_path, job, data)
    _refused(result, f"the journal {tmp_path / 'jdir'} is not a regular file")
    assert _posted(tmp_path) == 0


# -- disk full mid-run (issue 13 item 7) ------------------------------------------------------

sys.path.insert(0, str(REPO / "tests" / "engine"))
FILE_SIZE_LIMIT = 48 * 1024  # the journal's WAL outgrows this after a few calls


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def test_disk_full_mid_run_ends_in_one_error_and_the_rerun_posts_the_rest_once(
    tmp_path: Path,
) -> None:
    from bp_testkit import (
        SECRET_KEY,
        _child_env,
        assert_exactly_once,
        batchpay_args,
        journal_states,
        sandbox_server,
        synthetic_rows,
        synthetic_seed,
        write_csv,
        write_job,
    )

    n = 20
    rows = synthetic_rows(n, "DF-")
    job = write_job(tmp_path / "job.yaml", concurrency=1)
    data = write_csv(tmp_path / "d.csv", rows)
    with sandbox_server(tmp_path) as server:
        server.seed_with(synthetic_seed(n, prefix="DF-"))
        args = batchpay_args(job, data, tmp_path, server, "--execute", "--yes")
        full = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=120,
                              env=_child_env({"CHARGEBEE_API_KEY": SECRET_KEY}),
                              stdin=subprocess.DEVNULL, preexec_fn=_limit_file_size, check=False)
        output = full.stdout + full.stderr
        assert full.returncode == 2, output
        assert "Traceback" not in output
        errors = [line for line in full.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, output
        assert f"cannot write to the journal {tmp_path / 'journal.sqlite'}" in errors[0]
        assert "run the same command again" in errors[0]
        posted_before = len(server.ledger())
        assert 0 < posted_before < n, "the limit must bite mid-run"
        assert sum(journal_states(tmp_path / "journal.sqlite").values()) >= posted_before
        again = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=120,
                               env=_child_env({"CHARGEBEE_API_KEY": SECRET_KEY}),
                               stdin=subprocess.DEVNULL, check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_exactly_once(server.ledger(), [r.reference for r in rows], "DF-")
