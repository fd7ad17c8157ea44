"""Plain result records shared by validation, the run engine and the report writer.

Nothing here knows about HTTP, pandas or openpyxl: the engine fills these in, the report and
the terminal summary only read them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar, overload

T = TypeVar("T")


class RawRow(Mapping[str, str]):
    """One input row's original cells, by column name, read from columns shared by every row
    of the file (a dict per row would cost a few hundred bytes per row, 100k rows or not)."""

    __slots__ = ("_columns", "_position")

    def __init__(self, columns: Mapping[str, Sequence[str]], position: int) -> None:
        self._columns = columns
        self._position = position

    def __getitem__(self, name: str) -> str:
        return self._columns[name][self._position]

    def __contains__(self, name: object) -> bool:  # the Mapping default raises and catches
        return name in self._columns

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | T) -> str | T: ...
    def get(self, name: str, /, default: object = None) -> object:
        column = self._columns.get(name)
        return default if column is None else column[self._position]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, order=True)
class Origin:
    """Where a row came from: 1-based file line (CSV) or sheet row number (spreadsheets)."""

    row: int
    sheet: str | None = None

    def __str__(self) -> str:
        if self.sheet is None:
            return f"line {self.row}"
        return f'sheet "{self.sheet}" row {self.row}'


@dataclass(frozen=True)
class CellFailure:
    """One validation or parse failure, pointing at the spreadsheet."""

    origin: Origin
    column: str  # the input column header, or the field name when no single column applies
    value: str  # the raw text as read
    problem: str  # e.g. "is not an amount"
    expected: str = ""  # e.g. "decimal comma, e.g. 1.234,56"

    def __str__(self) -> str:
        value = self.value
        if len(value) > 80:  # a huge cell must not make a huge message
            value = f"{value[:60]}… ({len(value):,} characters)"
        text = f'{self.origin}, column "{self.column}": "{value}" {self.problem}'
        return f"{text} (expected {self.expected})" if self.expected else text


class Outcome(StrEnum):
    """What happened (execute) or would happen (dry run) to one input row."""

    POSTED = "posted"
    WOULD_POST = "would post"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_FAIL = "would fail"
    INVALID = "invalid"
    NEEDS_REVIEW = "needs review"

    @property
    def category(self) -> str:
        """The control-total bucket: posted, skipped, failed, invalid or needs_review."""
        return _CATEGORY[self]


_CATEGORY = {
    Outcome.POSTED: "posted",
    Outcome.WOULD_POST: "posted",
    Outcome.SKIPPED: "skipped",
    Outcome.FAILED: "failed",
    Outcome.WOULD_FAIL: "failed",
    Outcome.INVALID: "invalid",
    Outcome.NEEDS_REVIEW: "needs_review",
}

CATEGORIES = ("posted", "skipped", "failed", "invalid", "needs_review")


@dataclass
class RowOutcome:
    """One input row and its outcome. Amounts are integer minor units of ``currency``."""

    origin: Origin
    outcome: Outcome
    raw: Mapping[str, str]  # the row's original cells, by input column name
    action: str | None = None
    invoice_id: str | None = None  # for charge: the invoice Chargebee created
    customer_id: str | None = None
    currency: str | None = None
    amount_minor: int | None = None
    payment_method: str | None = None
    date: datetime | None = None  # payment / charge date (timezone-aware), if the row has one
    business_key: str | None = None
    idempotency_key: str | None = None
    reason: str = ""  # skip reason, error message or what is known (needs review)
    failures: tuple[CellFailure, ...] = ()  # for INVALID rows
    http_status: int | None = None
    api_error_code: str | None = None
    error_param: str | None = None
    attempts: int = 0
    transaction_id: str | None = None
    invoice_status_after: str | None = None
    replayed: bool = False  # Chargebee answered with a stored idempotent response


@dataclass
class RunInfo:
    """Facts about one validate / dry-run / execute, for the Summary sheet and JSON."""

    job_name: str
    input_name: str  # file name only, never a full path with a home directory
    input_sha256: str
    mode: str  # "validate", "dry-run" or "execute"
    target: str  # e.g. "built-in sandbox" or "acme-test.chargebee.com"
    api_version: str
    batchpay_version: str
    started_at: datetime
    finished_at: datetime
    operator: str
    input_columns: tuple[str, ...] = ()  # the input's own column order, for "Fix and re-upload"
    key_columns: tuple[str, ...] = ()  # input columns shown beside each row (the fields' sources)
    rows_read: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. "offline: no live checks"
    interrupted: bool = False  # execute stopped by Ctrl-C: some rows were not sent


@dataclass
class RunResult:
    """Everything a report needs: the facts and one outcome per input row, in input order."""

    info: RunInfo
    outcomes: list[RowOutcome]
