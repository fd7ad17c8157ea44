"""Run history: one row per validate, dry run or execute, in the journal file's ``runs`` table.

Kept apart from the ``calls`` table (``batchpay.journal``): a run is recorded after its report
is written, with the same summary the JSON report holds, so ``batchpay runs show`` and
``--json`` give back exactly what the run reported. No secret is stored (the summary has none).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchpay.errors import BatchpayError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    job TEXT NOT NULL,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    mode TEXT NOT NULL,
    target TEXT NOT NULL,
    report_path TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    summary TEXT NOT NULL
);
"""
_COLUMNS = ("id, started_at, job, input_path, input_sha256, mode, target, report_path,"
            " exit_code, summary")


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: str  # ISO 8601 with the offset the run used
    job: str
    input_path: str
    input_sha256: str
    mode: str
    target: str
    report_path: str
    exit_code: int
    summary: dict[str, Any]  # the JSON report's content (batchpay.report.jsonout)


def record_run(journal: Path, summary: dict[str, Any], input_path: Path, report_path: Path,
               exit_code: int) -> int:
    """Add a run to the history in ``journal`` (created, owner-only, if missing); its id."""
    info = summary["info"]
    with _open(journal, create=True) as db:
        cursor = db.execute(
            "INSERT INTO runs (started_at, finished_at, job, input_path, input_sha256, mode,"
            " target, report_path, exit_code, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info["started_at"], info["finished_at"], info["job_name"],
             str(input_path.resolve()), info["input_sha256"], info["mode"], info["target"],
             str(report_path.resolve()), exit_code, json.dumps(summary)),
        )
        return int(cursor.lastrowid or 0)


def list_runs(journal: Path, *, job: str | None = None, limit: int | None = None
              ) -> list[RunRecord]:
    """The runs recorded in ``journal``, newest first."""
    if not journal.is_file():
        return []
    query = f"SELECT {_COLUMNS} FROM runs"
    params: list[Any] = []
    if job is not None:
        query += " WHERE job = ?"
        params.append(job)
    query += " ORDER BY id DESC"
    if limit is not None:
        query += " LIMIT ?"
        params.append(limit)
    with _open(journal, create=False) as db:
        return [_record(row) for row in db.execute(query, params)]


def get_run(journal: Path, run_id: int) -> RunRecord:
    with _open(journal, create=False) as db:
        row = db.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise BatchpayError(f"no run {run_id} in {journal} (batchpay runs lists them)")
    return _record(row)


def _record(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(id=row[0], started_at=row[1], job=row[2], input_path=row[3],
                     input_sha256=row[4], mode=row[5], target=row[6], report_path=row[7],
                     exit_code=row[8], summary=json.loads(row[9]))


@contextmanager
def _open(journal: Path, *, create: bool) -> Iterator[sqlite3.Connection]:
    if not create and not journal.is_file():
        raise BatchpayError(f"no journal at {journal}: no run has been recorded there")
    try:
        if create and not journal.exists():
            journal.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(journal, os.O_CREAT | os.O_RDWR, 0o600))  # owner only
        db = sqlite3.connect(journal, isolation_level=None, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise BatchpayError(f"{journal}: cannot open the run history ({exc})") from None
    try:
        db.executescript(_SCHEMA)
        yield db
    except sqlite3.Error as exc:
        raise BatchpayError(f"{journal}: cannot use the run history ({exc})") from None
    finally:
        db.close()
