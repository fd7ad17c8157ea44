"""The journal: a SQLite record of every write batchpay sends, before and after it is sent.

A call is written ``in_flight`` (with its idempotency key and the request last sent) and
committed before it goes out, then settled as ``posted``, ``failed`` or ``needs_review``; a
posted call then records what it moved (``moved``: by row, for rows that name no amount). A
re-run skips what is posted and never re-sends what needs review; an in-flight entry left by a
crash is resolved by the run engine (re-send with the same key inside Chargebee's 30-minute
window, else a server-state check). No secret is ever stored.

A journal is a promise that what it lists was posted, so it is never taken as empty when it
cannot be read: a file that is not a batchpay journal, a damaged one, or a disk that refuses a
write ends the run with a :class:`~batchpay.errors.JournalError` naming the file and what to do.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from batchpay.errors import JournalError
from batchpay.siteid import same_site

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
    moved TEXT,
    PRIMARY KEY (site, idempotency_key)
);
"""
# Posted calls of a bank reference's other payments (B1, B1/2...) are found by business key;
# made when first needed (a statement run), so other journals keep their size.
_INDEX = (
    "CREATE INDEX IF NOT EXISTS calls_by_business_key ON calls (site, action, business_key)"
)
_OWN_TABLES = frozenset({"calls", "runs"})  # runs: batchpay.history
_SQLITE_MAGIC = b"SQLite format 3\x00"
_RESUME = (
    "free the space (or fix the disk) and run the same command again: rows already posted are "
    "skipped, and calls left unfinished are re-sent with the same idempotency key (within 30 "
    "minutes) or checked on the site"
)

_ENTRY_COLUMNS = (
    "idempotency_key, state, attempts, first_sent_at, last_sent_at, settled_at, http_status,"
    " api_error_code, message, transaction_id, invoice_status, result_invoice_id, request, moved"
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
    request: str | None = None  # JSON of the request last sent (method, path, form)
    moved: str | None = None  # JSON of what a posted call moved (see Journal.record_moved)


def _create_private(path: Path) -> None:
    """Create ``path`` readable by its owner only (before SQLite opens it). An existing file
    is left as it is: it may be someone else's, and it must not be re-permissioned."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise JournalError(f"cannot create the journal {path}: {exc.strerror}") from None
    os.close(fd)


def check_journal_file(path: Path) -> None:
    """Refuse, before opening it, a ``path`` that cannot be a batchpay journal."""
    if not path.exists():
        return
    if not path.is_file():
        raise JournalError(f"the journal {path} is not a regular file; name a journal file")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise JournalError(f"cannot read the journal {path}: {exc.strerror}") from None
    if head and head != _SQLITE_MAGIC:
        raise JournalError(
            f"{path} is not a batchpay journal (not an SQLite file; "
            f"{'it is damaged or ' if path.suffix in ('.sqlite', '.db') else ''}"
            "another file was named); it was not changed. Name another --journal (or "
            "journal: in the job), or restore the journal from a backup: batchpay will not take "
            "it as empty, since that could post every row again"
        )


def journal_id_of(path: Path) -> str | None:
    """The id a journal file was created with; None when there is none to read (no file, not
    a journal, damaged, or written before journals had ids)."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        (number,) = db.execute("PRAGMA user_version").fetchone()
        return f"{number:08x}" if number else None
    except sqlite3.Error:
        return None
    finally:
        db.close()


class Journal:
    """One SQLite file, shared by every job and site (rows are keyed by site and key)."""

    def __init__(self, path: Path | None, clock: Callable[[], float] | None = None) -> None:
        """Open (creating, owner-only) the journal at ``path``; None: an empty one in memory."""
        self.path = path
        self._clock = clock or time.time
        self._indexed = False
        if path is not None:
            check_journal_file(path)
            fresh = not path.exists() or path.stat().st_size == 0
            _create_private(path)
        try:
            self._db = sqlite3.connect(path or ":memory:", isolation_level=None, timeout=30)
            if path is not None and not fresh:
                self._check_existing()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self.journal_id = self._create()
        except sqlite3.Error as exc:
            raise self._error("open", exc) from None

    def _create(self) -> str:
        """The tables, and the journal's id: a random number in the file's header
        (``user_version``), so a file replaced at the same path is told from the one that was
        there (see batchpay.sitestate). One transaction: a small first write."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(_SCHEMA)
        if "moved" not in {c[1] for c in self._db.execute("PRAGMA table_info(calls)")}:
            self._db.execute("ALTER TABLE calls ADD COLUMN moved TEXT")  # an older journal
        (number,) = self._db.execute("PRAGMA user_version").fetchone()
        if not number:
            number = secrets.randbelow(2**31 - 1) + 1
            self._db.execute(f"PRAGMA user_version = {number}")
        self._db.execute("COMMIT")
        return f"{number:08x}"

    def _check_existing(self) -> None:
        tables = {name for (name,) in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not tables & _OWN_TABLES:  # the run history alone (runs) is batchpay's
            raise JournalError(
                f"{self.path} is an SQLite file but not a batchpay journal (it has none of the "
                "tables calls, runs); it was not changed. Name another --journal (or journal: "
                "in the job)"
            )
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"database disk image is malformed ({problems[0]})")

    def _error(self, doing: str, exc: sqlite3.Error) -> JournalError:
        where = self.path or "in memory"
        text = str(exc)
        if doing == "open" or "malformed" in text or "not a database" in text:
            return JournalError(
                f"the journal {where} is damaged ({text}); batchpay will not take it as empty, "
                "since that could post every row again: restore it from a backup, or move it "
                "away and check in Chargebee what it recorded before running again"
            )
        return JournalError(
            f"cannot {doing} the journal {where} ({text}); the run stopped, and no call was "
            f"sent without being journalled first. To resume, {_RESUME}"
        )

    def _run(self, doing: str, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from None

    def close(self) -> None:
        self._db.close()

    def lookup(self, site: str, keys: Iterable[str]) -> dict[str, Entry]:
        keys = list(keys)
        found: dict[str, Entry] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._run(
                "read",
                f"SELECT {_ENTRY_COLUMNS} FROM calls"
                f" WHERE site = ? AND idempotency_key IN ({marks})",
                [site, *chunk],
            )
            for row in rows:
                found[row[0]] = Entry(*row)
        return found

    def by_business_key(self, site: str, action: str) -> list[tuple[str, Entry]]:
        """(business key, entry) of every call of ``action`` on ``site`` (also as journals
        written before the site identity rule spelled the site)."""
        sites = self._spellings(site)
        marks = ",".join("?" * len(sites))
        rows = self._run(
            "read",
            f"SELECT business_key, {_ENTRY_COLUMNS} FROM calls"
            f" WHERE site IN ({marks}) AND action = ?",
            (*sites, action),
        )
        return [(row[0], Entry(*row[1:])) for row in rows]

    def posted_under(
        self, site: str, action: str, exact: str, prefix: str
    ) -> list[tuple[str, Entry]]:
        """(business key, entry) of the posted calls of ``action`` whose business key is
        ``exact`` or starts with ``prefix`` (which must end in ``/``: the range up to ``0``,
        the next character, is every key that starts so)."""
        if not self._indexed:
            self._run("write to", _INDEX)
            self._indexed = True
        select = f"SELECT business_key, {_ENTRY_COLUMNS} FROM calls WHERE site = ? AND action = ?"
        rows = self._run(
            "read",  # two searches of the index: an OR of the two would scan the site's calls
            f"{select} AND business_key = ? AND state = ? UNION ALL"
            f" {select} AND business_key >= ? AND business_key < ? AND state = ?",
            (site, action, exact, POSTED, site, action, prefix, prefix[:-1] + "0", POSTED),
        )
        return [(row[0], Entry(*row[1:])) for row in rows]

    def legacy_lookup(
        self, site: str, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Entry]:
        """Entries written before the site identity and JSON business keys, by (action, old
        business key): their idempotency keys differ from today's for the same payment."""
        wanted = set(wanted)
        older = [s for s in self._spellings(site) if s != site]
        if not wanted or not older:
            return {}
        marks = ",".join("?" * len(older))
        rows = self._run(
            "read",
            f"SELECT action, business_key, {_ENTRY_COLUMNS} FROM calls WHERE site IN ({marks})",
            older,
        )
        return {(r[0], r[1]): Entry(*r[2:]) for r in rows if (r[0], r[1]) in wanted}

    def _spellings(self, site: str) -> list[str]:
        """Every site text recorded in this journal that names ``site``."""
        recorded = [s for (s,) in self._run("read", "SELECT DISTINCT site FROM calls")]
        return sorted({site, *(s for s in recorded if same_site(s, site))})


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
        self._run(
            "write to",
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
        self._run(
            "write to",
            "UPDATE calls SET state = ?, settled_at = ?, http_status = ?, api_error_code = ?,"
            " message = ?, transaction_id = ?, invoice_status = ?, result_invoice_id = ?"
            " WHERE site = ? AND idempotency_key = ?",
            (state, self._clock(), http_status, api_error_code, message, transaction_id,
             invoice_status, result_invoice_id, site, key),
        )

    def record_moved(self, site: str, moved: Iterable[tuple[str, str, Mapping[str, int]]]) -> None:
        """What posted calls moved: (key, currency, row business key -> minor units) each, so
        that a re-run skipping them counts rows that name no amount with it, not with what the
        site shows now. One transaction for a run's calls: no write per call."""
        updates = [(json.dumps({"currency": currency, "rows": dict(amounts)}, ensure_ascii=False),
                    site, key) for key, currency, amounts in moved]
        if not updates:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE calls SET moved = ? WHERE site = ? AND idempotency_key = ?", updates)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._error("write to", exc) from None

    def entries(self) -> list[tuple[str, ...]]:
        """Every row, for inspection and tests."""
        return list(self._run("read", "SELECT * FROM calls ORDER BY rowid"))
