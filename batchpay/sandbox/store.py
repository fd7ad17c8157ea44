"""SQLite-backed sandbox state: documents, the ledger of applied writes, idempotency records.

One connection, used from the event loop's thread; every write goes through :meth:`atomic`.
WAL mode lets a second process (a later ``batchpay`` run, or an inspecting test) read it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from batchpay.errors import BatchpayError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    customer_id TEXT NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    customer_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, version TEXT NOT NULL,
    operation TEXT NOT NULL, invoice_id TEXT, idempotency_key TEXT, params TEXT NOT NULL,
    transaction_id TEXT, amount INTEGER);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

Doc = dict[str, Any]


class SandboxStateError(BatchpayError):
    """The sandbox's state file cannot be opened or written (full disk, no permission, a folder
    or a file that is not SQLite in its place): the message names the file and what to do."""


class SandboxStore:
    """The sandbox's state. ``SandboxStore(":memory:")`` for tests, a file path to persist."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self.db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise state_error(self.path, exc, "open") from None

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # owner only, like the journal and the reports (SQLite gives -wal/-shm the same mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        # isolation_level=None: we issue BEGIN/COMMIT ourselves in atomic().
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nesting joins the outer transaction."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def load_seed(self, seed: dict[str, Any]) -> dict[str, int]:
        """Add a seed's documents; ids already present are skipped: re-seeding never duplicates."""
        from batchpay.sandbox.seed import seed_documents

        customers, invoices, transactions = seed_documents(seed, self)
        added = {"customers": 0, "invoices": 0, "transactions": 0}
        try:
            with self.atomic():
                for doc in customers:
                    added["customers"] += self._insert("customers", doc)
                for doc in transactions:
                    added["transactions"] += self._insert("transactions", doc)
                for doc in invoices:
                    added["invoices"] += self._insert("invoices", doc)
        except (OSError, sqlite3.Error) as exc:  # e.g. the disk filled up while seeding
            raise state_error(self.path, exc, "write") from None
        return added

    def _insert(self, table: str, doc: Doc) -> int:
        if self._get(table, doc["id"]) is not None:
            return 0
        self._put(table, doc)
        return 1

    # documents

    def _get(self, table: str, ident: str) -> Doc | None:
        row = self.db.execute(f"SELECT doc FROM {table} WHERE id = ?", (ident,)).fetchone()
        return json.loads(row[0]) if row else None

    def _put(self, table: str, doc: Doc) -> None:
        text = json.dumps(doc, sort_keys=True)
        if table == "customers":
            self.db.execute(
                "INSERT INTO customers (id, doc) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                (doc["id"], text),
            )
        elif table == "invoices":
            self.db.execute(
                "INSERT INTO invoices (id, customer_id, status, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                (doc["id"], doc["customer_id"], doc["status"], text),
            )
        else:
            self.db.execute(
                "INSERT INTO transactions (id, customer_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                (doc["id"], doc["customer_id"], text),
            )

    def customer(self, ident: str) -> Doc | None:
        return self._get("customers", ident)

    def invoice(self, ident: str) -> Doc | None:
        return self._get("invoices", ident)

    def transaction(self, ident: str) -> Doc | None:
        return self._get("transactions", ident)

    def put_customer(self, doc: Doc) -> None:
        self._put("customers", doc)

    def put_invoice(self, doc: Doc) -> None:
        self._put("invoices", doc)

    def put_transaction(self, doc: Doc) -> None:
        self._put("transactions", doc)

    def invoices(
        self,
        ids: list[str] | None = None,
        customer_id: str | None = None,
        statuses: list[str] | None = None,
    ) -> list[Doc]:
        """Invoices in creation order, narrowed in SQL by the common filters."""
        where, args = [], []
        for column, values in (("id", ids), ("status", statuses)):
            if values is not None:
                where.append(f"{column} IN (SELECT value FROM json_each(?))")
                args.append(json.dumps(values))
        if customer_id is not None:
            where.append("customer_id = ?")
            args.append(customer_id)
        sql = "SELECT doc FROM invoices" + (" WHERE " + " AND ".join(where) if where else "")
        return [json.loads(r[0]) for r in self.db.execute(sql + " ORDER BY seq", args)]

    def transactions(self, customer_id: str | None = None) -> list[Doc]:
        sql, args = "SELECT doc FROM transactions", []
        if customer_id is not None:
            sql, args = sql + " WHERE customer_id = ?", [customer_id]
        return [json.loads(r[0]) for r in self.db.execute(sql + " ORDER BY seq", args)]

    def next_id(self, kind: str, prefix: str) -> str:
        """A fresh id like ``txn_sbx_1``; skips ids a seed already took."""
        table = {"txn": "transactions", "inv": "invoices"}[kind]
        while True:
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1)"
                " ON CONFLICT(name) DO UPDATE SET value = value + 1",
                (kind,),
            )
            (n,) = self.db.execute("SELECT value FROM counters WHERE name = ?", (kind,)).fetchone()
            ident = f"{prefix}{n}"
            if self._get(table, ident) is None:
                return ident

    # ledger

    def add_ledger(self, entry: dict[str, Any]) -> int:
        cur = self.db.execute(
            "INSERT INTO ledger (at, version, operation, invoice_id, idempotency_key, params,"
            " transaction_id, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry["at"],
                entry["version"],
                entry["operation"],
                entry.get("invoice_id"),
                entry.get("idempotency_key"),
                json.dumps(entry["params"], sort_keys=True),
                entry.get("transaction_id"),
                entry.get("amount"),
            ),
        )
        return int(cur.lastrowid or 0)

    def ledger(self) -> list[dict[str, Any]]:
        """Every applied write, oldest first. Replays are not here (see :meth:`replays`)."""
        rows = self.db.execute(
            "SELECT seq, at, version, operation, invoice_id, idempotency_key, params,"
            " transaction_id, amount FROM ledger ORDER BY seq"
        )
        names = (
            "seq",
            "at",
            "version",
            "operation",
            "invoice_id",
            "idempotency_key",
            "params",
            "transaction_id",
            "amount",
        )
        entries = [dict(zip(names, row, strict=True)) for row in rows]
        for entry in entries:
            entry["params"] = json.loads(entry["params"])
        return entries

    def count_replay(self) -> None:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES ('replays', 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1"
        )

    def count_decline(self, invoice_id: str | None) -> None:
        """A card payment refused by the (simulated) gateway: nothing is written, but the card
        was charged at, which a test of "never charged again" must be able to see."""
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (f"declines:{invoice_id}",),
        )

    def declines(self, invoice_id: str) -> int:
        row = self.db.execute(
            "SELECT value FROM counters WHERE name = ?", (f"declines:{invoice_id}",)
        ).fetchone()
        return int(row[0]) if row else 0

    def replays(self) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = 'replays'").fetchone()
        return int(row[0]) if row else 0

    # idempotency

    def idempotency_record(self, key: str, not_before: float) -> dict[str, Any] | None:
        """The stored response for ``key``, unless older than ``not_before`` (then forgotten)."""
        row = self.db.execute(
            "SELECT fingerprint, status, body, created_at FROM idempotency WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        if row[3] < not_before:
            self.db.execute("DELETE FROM idempotency WHERE key = ?", (key,))
            return None
        return {"fingerprint": row[0], "status": row[1], "body": json.loads(row[2])}

    def save_idempotency(
        self, key: str, fingerprint: str, status: int, body: Any, at: float
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, fingerprint, status, json.dumps(body), at),
        )


def state_error(path: str, exc: OSError | sqlite3.Error, verb: str) -> SandboxStateError:
    """One line: which state file, what went wrong, what to do about it."""
    where = f"cannot {verb} the sandbox's state {path}"
    if _safely(Path(path).is_dir):
        return SandboxStateError(f"{where}: it is a folder; give the path of a file (a new one "
                                 "is created)")
    above = next((p for p in Path(path).parents if _safely(p.exists)), None)
    if above is not None and not _safely(above.is_dir):
        return SandboxStateError(f"{where}: {above} is a file, not a folder; give another path")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
        return SandboxStateError(f"{where}: it is not a sandbox state file (not SQLite); move it "
                                 "away or give another file (a new one is created)")
    return SandboxStateError(f"{where}: {reason}; check that its folder is writable and the "
                             "disk has free space, or give another file")


def _safely(test: Callable[[], bool]) -> bool:
    try:
        return test()
    except OSError:  # e.g. a folder on the way that may not be searched
        return False
