"""The web application's state: one SQLite file under the data dir (users, runs, their rows,
approvals and the audit log). The audit table refuses UPDATE and DELETE (triggers), so no code
path, the UI's included, can rewrite history."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("preparer", "approver", "admin")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, job TEXT NOT NULL, spec_sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL, file_sha256 TEXT NOT NULL, stored_path TEXT NOT NULL,
    size INTEGER NOT NULL, uploaded_by TEXT NOT NULL, uploaded_at REAL NOT NULL,
    state TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', live INTEGER NOT NULL DEFAULT 0,
    dry_hash TEXT NOT NULL DEFAULT '', dry_report TEXT NOT NULL DEFAULT '',
    dry_summary TEXT NOT NULL DEFAULT '{}', exec_report TEXT NOT NULL DEFAULT '',
    exec_summary TEXT NOT NULL DEFAULT '{}', executed_by TEXT NOT NULL DEFAULT '',
    executed_at REAL, message TEXT NOT NULL DEFAULT '', changes TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS runs_by_file ON runs (file_sha256);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL, phase TEXT NOT NULL, position INTEGER NOT NULL,
    category TEXT NOT NULL, outcome TEXT NOT NULL, data TEXT NOT NULL, search TEXT NOT NULL,
    PRIMARY KEY (run_id, phase, position)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_category ON rows (run_id, phase, category, position);
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, approver TEXT NOT NULL,
    decision TEXT NOT NULL, comment TEXT NOT NULL, file_sha256 TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL, dry_hash TEXT NOT NULL, at REAL NOT NULL,
    void_reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    run_id INTEGER, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_by_run ON audit (run_id);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
# Columns added after the first release: a data folder made before gets them when opened.
_ADDED_COLUMNS = (
    ("runs", "changes", "TEXT NOT NULL DEFAULT '{}'"),  # what a void re-check found changed
)


@dataclass(frozen=True)
class User:
    name: str
    role: str


class Store:
    """Thread-safe access to the web database (one connection, one lock: writes are short)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if fresh:
            path.chmod(0o600)  # password hashes and customers' payment rows: owner only
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self.path = path
        self._add_missing_columns()

    def close(self) -> None:
        self._db.close()

    def _add_missing_columns(self) -> None:
        with self._tx() as db:  # one writer at a time: two servers starting cannot add twice
            for table, column, declaration in _ADDED_COLUMNS:
                known = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in known:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    def _one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    # users
    def add_user(self, name: str, role: str, password_hash: str) -> None:
        """Add a user, or reset their role and password (which signs them out everywhere)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                       (name, role, password_hash, time.time()))
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def password_hash(self, name: str) -> tuple[User, str] | None:
        row = self._one("SELECT name, role, password_hash FROM users WHERE name = ?", (name,))
        return (User(row["name"], row["role"]), row["password_hash"]) if row else None

    def user(self, name: str) -> User | None:
        row = self._one("SELECT name, role FROM users WHERE name = ?", (name,))
        return User(row["name"], row["role"]) if row else None

    def users(self) -> list[User]:
        return [User(r["name"], r["role"]) for r in self._all("SELECT * FROM users ORDER BY name")]

    # sessions: the signed cookie names one; signing out (or a new password) ends it here
    def add_session(self, session_id: str, user: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (session_id, user, time.time()))

    def session_user(self, session_id: str) -> str | None:
        row = self._one("SELECT user FROM sessions WHERE id = ?", (session_id,))
        return row["user"] if row else None

    def end_sessions(self, *, session_id: str = "", user: str = "") -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id = ? OR user = ?", (session_id, user))

    # runs
    def add_run(self, **values: Any) -> int:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._tx() as db:
            cursor = db.execute(f"INSERT INTO runs ({names}) VALUES ({marks})",
                                tuple(values.values()))
            return int(cursor.lastrowid or 0)

    def update_run(self, run_id: int, **values: Any) -> None:
        sets = ", ".join(f"{name} = ?" for name in values)
        with self._tx() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values.values(), run_id))

    def claim_run(self, run_id: int, states: Sequence[str], new_state: str) -> bool:
        """Move the run to ``new_state`` if it is in one of ``states``; False if it was not."""
        marks = ", ".join("?" for _ in states)
        with self._tx() as db:
            cursor = db.execute(f"UPDATE runs SET state = ? WHERE id = ? AND state IN ({marks})",
                                (new_state, run_id, *states))
            return cursor.rowcount == 1

    def run(self, run_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run_dict(row) if row else None

    def runs(self, *, state: str = "", job: str = "", user: str = "",
             limit: int = 200) -> list[dict[str, Any]]:
        sql, args = ("SELECT *, (SELECT approver FROM approvals WHERE run_id = runs.id AND "
                     "decision = 'approved' ORDER BY id DESC LIMIT 1) AS approved_by "
                     "FROM runs WHERE 1=1"), []
        for column, value in (("state", state), ("job", job)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        if user:
            sql += " AND (uploaded_by = ? OR executed_by = ? OR id IN " \
                   "(SELECT run_id FROM approvals WHERE approver = ?))"
            args += [user, user, user]
        sql += " ORDER BY id DESC LIMIT ?"
        return [_run_dict(r) for r in self._all(sql, (*args, limit))]

    def earlier_runs_of_file(self, sha256: str, before: int) -> list[int]:
        rows = self._all("SELECT id FROM runs WHERE file_sha256 = ? AND id < ? ORDER BY id",
                         (sha256, before))
        return [r["id"] for r in rows]

    def runs_in_state(self, state: str) -> list[int]:
        return [r["id"] for r in self._all("SELECT id FROM runs WHERE state = ?", (state,))]

    # rows of a run (dry run or execute), for paging
    def put_rows(self, run_id: int, phase: str, rows: Iterable[tuple[int, str, str, dict[str, Any],
                                                                     str]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM rows WHERE run_id = ? AND phase = ?", (run_id, phase))
            db.executemany(
                "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((run_id, phase, pos, cat, outcome, json.dumps(data), search)
                 for pos, cat, outcome, data, search in rows),
            )

    def page_rows(self, run_id: int, phase: str, *, category: str = "", search: str = "",
                  offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        where, args = "run_id = ? AND phase = ?", [run_id, phase]
        if category:
            where += " AND category = ?"
            args.append(category)
        if search:
            where += " AND instr(search, ?) > 0"
            args.append(search.lower())
        total = self._one(f"SELECT count(*) AS n FROM rows WHERE {where}", args)
        page = self._all(f"SELECT data FROM rows WHERE {where} ORDER BY position LIMIT ? OFFSET ?",
                         (*args, limit, offset))
        return [json.loads(r["data"]) for r in page], int(total["n"]) if total else 0

    def outcomes(self, run_id: int, phase: str) -> dict[int, dict[str, Any]]:
        rows = self._all("SELECT position, data FROM rows WHERE run_id = ? AND phase = ?",
                         (run_id, phase))
        return {r["position"]: json.loads(r["data"]) for r in rows}

    # approvals
    def add_approval(self, run_id: int, approver: str, decision: str, comment: str,
                     binding: tuple[str, str, str]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO approvals (run_id, approver, decision, comment, file_sha256, "
                "spec_sha256, dry_hash, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, approver, decision, comment, *binding, time.time()),
            )

    def approvals(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM approvals WHERE run_id = ? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]

    def void_approvals(self, run_id: int, reason: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE approvals SET void_reason = ? WHERE run_id = ? AND "
                       "decision = 'approved' AND void_reason = ''", (reason, run_id))

    # audit
    def audit(self, user: str, action: str, run_id: int | None = None, detail: str = "") -> None:
        with self._tx() as db:
            db.execute("INSERT INTO audit (at, user, action, run_id, detail) "
                       "VALUES (?, ?, ?, ?, ?)", (time.time(), user, action, run_id, detail))

    def audit_log(self, *, user: str = "", action: str = "", run_id: int | None = None,
                  limit: int = 500) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM audit WHERE 1=1", []
        for column, value in (("user", user), ("action", action), ("run_id", run_id)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY id DESC LIMIT ?"
        return [dict(r) for r in self._all(sql, (*args, limit))]

    def raw_execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        """For tests that prove what the database itself refuses."""
        with self._lock:
            self._db.execute(sql, args)


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    run["dry_summary"] = json.loads(run["dry_summary"])
    run["exec_summary"] = json.loads(run["exec_summary"])
    run["changes"] = json.loads(run["changes"])
    return run
