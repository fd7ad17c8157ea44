"""The journal: a SQLite record of every write batchpay sends, before and after it is sent.

A call is written ``in_flight`` (with its idempotency key and the request last sent) and
committed before it goes out, then settled as ``posted``, ``failed`` or ``needs_review``. A
re-run skips what is posted and never re-sends what needs review; an in-flight entry left by a
crash is resolved by the run engine (re-send with the same key inside Chargebee's 30-minute
window, else a server-state check). No secret is ever stored.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from batchpay.errors import RunRefused

IN_FLIGHT = "in_flight"
POSTED = "posted"
FAILED = "failed"
NEEDS_REVIEW = "needs_review"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    site TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    job TEXT NOT NULL,
    action TEXT NOT NULL,
    invoice_id TEXT,
    business_key TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_sent_at REAL,
    last_sent_at REAL,
    settled_at REAL,
    http_status INTEGER,
    api_error_code TEXT,
    message TEXT,
    transaction_id TEXT,
    invoice_status TEXT,
    result_invoice_id TEXT,
    PRIMARY KEY (site, idempotency_key)
);
"""

_ENTRY_COLUMNS = (
    "idempotency_key, state, attempts, first_sent_at, last_sent_at, settled_at, http_status,"
    " api_error_code, message, transaction_id, invoice_status, result_invoice_id"
)


@dataclass(frozen=True)
class Entry:
    key: str
    state: str
    attempts: int
    first_sent_at: float | None
    last_sent_at: float | None
    settled_at: float | None
    http_status: int | None
    api_error_code: str | None
    message: str | None
    transaction_id: str | None
    invoice_status: str | None
    result_invoice_id: str | None


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (before SQLite opens it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class Journal:
    """One SQLite file, shared by every job and site (rows are keyed by site and key)."""

    def __init__(self, path: Path | None, clock: Callable[[], float] | None = None) -> None:
        """Open (creating, owner-only) the journal at ``path``; None: an empty one in memory."""
        self.path = path
        self._clock = clock or time.time
        if path is not None:
            _private_file(path)
        self._db = sqlite3.connect(path or ":memory:", isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def lookup(self, site: str, keys: Iterable[str]) -> dict[str, Entry]:
        keys = list(keys)
        found: dict[str, Entry] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM calls"
                f" WHERE site = ? AND idempotency_key IN ({marks})",
                [site, *chunk],
            )
            for row in rows:
                found[row[0]] = Entry(*row)
        return found

    def by_business_key(self, site: str, action: str) -> list[tuple[str, Entry]]:
        """(business key, entry) of every call of ``action`` on ``site``."""
        rows = self._db.execute(
            f"SELECT business_key, {_ENTRY_COLUMNS} FROM calls WHERE site = ? AND action = ?",
            (site, action),
        )
        return [(row[0], Entry(*row[1:])) for row in rows]

    def begin(
        self,
        site: str,
        key: str,
        *,
        job: str,
        action: str,
        invoice_id: str | None,
        business_key: str,
        request: dict[str, object],
    ) -> None:
        """Record an attempt as in flight; committed before the request leaves."""
        now = self._clock()
        self._db.execute(
            "INSERT INTO calls (site, idempotency_key, job, action, invoice_id, business_key,"
            " request, state, attempts, first_sent_at, last_sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
            " ON CONFLICT (site, idempotency_key) DO UPDATE SET state = excluded.state,"
            " request = excluded.request,"  # the file may have been edited since the last send
            " attempts = attempts + 1, last_sent_at = excluded.last_sent_at,"
            " first_sent_at = CASE WHEN state = 'in_flight' THEN first_sent_at"
            "                 ELSE excluded.first_sent_at END",
            (site, key, job, action, invoice_id, business_key, json.dumps(request), IN_FLIGHT,
             now, now),
        )

    def settle(
        self,
        site: str,
        key: str,
        state: str,
        *,
        http_status: int | None = None,
        api_error_code: str | None = None,
        message: str | None = None,
        transaction_id: str | None = None,
        invoice_status: str | None = None,
        result_invoice_id: str | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE calls SET state = ?, settled_at = ?, http_status = ?, api_error_code = ?,"
            " message = ?, transaction_id = ?, invoice_status = ?, result_invoice_id = ?"
            " WHERE site = ? AND idempotency_key = ?",
            (state, self._clock(), http_status, api_error_code, message, transaction_id,
             invoice_status, result_invoice_id, site, key),
        )

    def entries(self) -> list[tuple[str, ...]]:
        """Every row, for inspection and tests."""
        return list(self._db.execute("SELECT * FROM calls ORDER BY rowid"))


@contextmanager
def execute_lock(journal_path: Path, site: str) -> Iterator[None]:
    """Only one execute per journal and site at a time; a second one is refused, not queued.
    The lock file is removed on release (while still locked), so none is left behind."""
    lock_path = journal_path.with_name(f"{journal_path.name}.{_safe(site)}.lock")
    while True:
        _private_file(lock_path)
        with lock_path.open("r+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = handle.read().strip() or "another process"
                raise RunRefused(
                    f"another execute for site {site} is running ({holder}); "
                    "wait for it to finish — running both could post twice"
                ) from None
            if not _still_at(handle.fileno(), lock_path):
                continue  # its holder removed it as we opened it: lock the new file
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                lock_path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
