"""What batchpay keeps per site outside any journal, in a per-user state folder: the execute
lock and the register of the journals that have posted to the site.

Both are keyed by the site's canonical identity (:mod:`batchpay.siteid`), not by a journal file,
so two executes against one site are refused however the site is spelled and whichever
``--journal`` each one names; and a journal that disappears (``reports/`` deleted) is noticed
instead of being mistaken for a site that was never posted to.

The folder is ``$BATCHPAY_STATE_DIR``, else ``$XDG_STATE_HOME/batchpay``, else
``~/.local/state/batchpay``; created owner-only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from batchpay.errors import JournalError, RunRefused


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("BATCHPAY_STATE_DIR"):
        return Path(env["BATCHPAY_STATE_DIR"]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "batchpay"
    return Path.home() / ".local" / "state" / "batchpay"


def _folder(state_dir: Path, name: str) -> Path:
    folder = state_dir / name
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise JournalError(
            f"cannot create batchpay's state folder {folder}: {exc.strerror} "
            "(set BATCHPAY_STATE_DIR to a writable folder)"
        ) from None
    return folder


def _file_name(site: str, suffix: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in site)[-60:]
    digest = hashlib.sha256(site.encode()).hexdigest()[:12]
    return f"{safe}-{digest}{suffix}"


@contextmanager
def site_lock(state_dir: Path, site: str) -> Iterator[None]:
    """Only one execute per site at a time; a second one is refused, not queued. The lock file
    is removed on release (while still locked), so none is left behind."""
    path = _folder(state_dir, "locks") / _file_name(site, ".lock")
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        with os.fdopen(fd, "r+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = handle.read().strip() or "another process"
                raise RunRefused(
                    f"another execute for site {site} is running ({holder}); "
                    "wait for it to finish — running both could post twice"
                ) from None
            if not _still_at(handle.fileno(), path):
                continue  # its holder removed it as we opened it: lock the new file
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class JournalRecord:
    """A journal that posted (or began posting) to a site."""

    path: str
    journal_id: str
    since: float


class SiteRegister:
    """The journals that have posted to one site (written under the site's execute lock)."""

    def __init__(self, state_dir: Path, site: str) -> None:
        self.site = site
        self._path = _folder(state_dir, "sites") / _file_name(site, ".json")

    def records(self) -> list[JournalRecord]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            return [JournalRecord(**record) for record in data["journals"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(
                f"batchpay's register of journals for site {self.site} ({self._path}) cannot be "
                f"read ({exc}); it lists the journals that posted to the site: restore it, or "
                "delete it once no journal of the site is missing"
            ) from None

    def add(self, path: Path, journal_id: str) -> None:
        records = self.records()
        if any(r.journal_id == journal_id and r.path == str(path) for r in records):
            return
        records.append(JournalRecord(str(path), journal_id, time.time()))
        self._write(records)

    def forget(self, records: list[JournalRecord]) -> None:
        gone = {(r.path, r.journal_id) for r in records}
        self._write([r for r in self.records() if (r.path, r.journal_id) not in gone])

    def forget_all(self) -> None:
        self._path.unlink(missing_ok=True)

    def _write(self, records: list[JournalRecord]) -> None:
        data = {"site": self.site, "journals": [r.__dict__ for r in records]}
        temporary = self._path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path)
