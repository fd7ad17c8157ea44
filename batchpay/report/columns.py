"""Which columns each row sheet has, and where each value comes from in the records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from batchpay.records import CellFailure, Origin, RowOutcome, RunInfo

from .cells import OUTCOME_FILLS, Money

T = TypeVar("T")

FIX_SOURCE = "batchpay: source row"
FIX_OUTCOME = "batchpay: outcome"
FIX_PROBLEM = "batchpay: problem"


@dataclass(frozen=True)
class Column(Generic[T]):
    """A header, how to render (a ``CellMaker`` method name) and how to get the value.

    ``technical`` columns (keys batchpay uses, not the accountant) sit at the right, grouped.
    """

    header: str
    kind: str  # "text", "ident", "number", "money", "date" or "yes_no"
    get: Callable[[T], Any]
    fill: Callable[[T], str | None] | None = None
    technical: bool = False
    wrap: bool = False  # long text: wrapped within the column's width


@dataclass(frozen=True)
class FailureRow:
    """One line of the Invalid rows sheet: a row and one of its cell failures."""

    outcome: RowOutcome
    failure: CellFailure | None  # None: invalid, but no cell failure was recorded

    @property
    def origin(self) -> Origin:
        return self.failure.origin if self.failure else self.outcome.origin


def _raw(name: str) -> Callable[[RowOutcome], str | None]:
    return lambda o: o.raw.get(name)


def location_columns(on_sheet: bool) -> list[Column[Any]]:
    """Where the row is: its line (CSV) or sheet row number, and the sheet's name if any."""
    row = Column[Any]("Row", "number", lambda o: o.origin.row)
    return [Column("Sheet", "text", lambda o: o.origin.sheet), row] if on_sheet else [row]


FIELD_COLUMNS: list[Column[RowOutcome]] = [
    Column("Invoice id", "ident", lambda o: o.invoice_id),
    Column("Customer id", "ident", lambda o: o.customer_id),
    Column("Currency", "text", lambda o: o.currency),
    Column("Amount", "money", lambda o: Money(o.amount_minor, o.currency)),
    Column("Payment method", "text", lambda o: o.payment_method),
    Column("Date", "date", lambda o: o.date),
    Column("Action", "text", lambda o: o.action),
]
BUSINESS_KEY = Column[RowOutcome]("Business key", "ident", lambda o: o.business_key,
                                  technical=True)
_OUR_HEADERS = {"Sheet", "Row", "Business key", *(c.header for c in FIELD_COLUMNS)}

IDEMPOTENCY = Column[RowOutcome]("Idempotency key", "ident", lambda o: o.idempotency_key,
                                 technical=True)
REPLAY = Column[RowOutcome]("Idempotent replay", "yes_no", lambda o: o.replayed,
                            technical=True)
TRANSACTION = Column[RowOutcome]("Chargebee transaction id", "ident", lambda o: o.transaction_id)
STATUS_AFTER = Column[RowOutcome]("Invoice status after", "text", lambda o: o.invoice_status_after)
HTTP_STATUS = Column[RowOutcome]("HTTP status", "number", lambda o: o.http_status)
# blank, not 0, for a row never sent (e.g. a failure batchpay predicted)
ATTEMPTS = Column[RowOutcome]("Attempts", "number", lambda o: o.attempts or None)


def key_columns(info: RunInfo) -> list[Column[RowOutcome]]:
    """The input's own key fields as the file has them, by header (suffixed " (input)" if it
    clashes with ours): the text as read, beside the parsed values of the fields."""
    return [
        Column(f"{name} (input)" if name in _OUR_HEADERS else name, "ident", _raw(name))
        for name in info.key_columns
    ]


def _row_sheet(
    info: RunInfo, on_sheet: bool, outcome: Sequence[Column[RowOutcome]],
    technical: Sequence[Column[RowOutcome]],
) -> list[Column[RowOutcome]]:
    """Where, the parsed fields, what happened, the input's own text, then the keys."""
    return [*location_columns(on_sheet), *FIELD_COLUMNS, *outcome, *key_columns(info),
            BUSINESS_KEY, *technical]


NOTE = Column[RowOutcome]("Note", "text", lambda o: o.reason, wrap=True)


def posted_columns(info: RunInfo, on_sheet: bool = False) -> list[Column[RowOutcome]]:
    if info.mode != "execute":
        return _row_sheet(info, on_sheet, [NOTE], [IDEMPOTENCY])
    return _row_sheet(info, on_sheet, [TRANSACTION, STATUS_AFTER, NOTE], [IDEMPOTENCY, REPLAY])


def skipped_columns(info: RunInfo, on_sheet: bool = False) -> list[Column[RowOutcome]]:
    reason = Column[RowOutcome]("Reason", "text", lambda o: o.reason, wrap=True)
    return _row_sheet(info, on_sheet, [reason], [])


def error_columns(info: RunInfo, on_sheet: bool = False) -> list[Column[RowOutcome]]:
    outcome = [
        HTTP_STATUS,
        Column[RowOutcome]("API error code", "text", lambda o: o.api_error_code),
        Column[RowOutcome]("Param", "text", lambda o: o.error_param),
        Column[RowOutcome]("Message", "text", lambda o: o.reason, wrap=True),
        ATTEMPTS,
    ]
    return _row_sheet(info, on_sheet, outcome, [IDEMPOTENCY])


def review_columns(info: RunInfo, on_sheet: bool = False) -> list[Column[RowOutcome]]:
    known = Column[RowOutcome]("What is known", "text", lambda o: o.reason, wrap=True)
    return _row_sheet(info, on_sheet, [known, HTTP_STATUS, ATTEMPTS, TRANSACTION, STATUS_AFTER],
                      [IDEMPOTENCY])


def invalid_columns(info: RunInfo, on_sheet: bool = False) -> list[Column[FailureRow]]:
    keys = [Column[FailureRow](c.header, "ident", _failure_raw(name))
            for c, name in zip(key_columns(info), info.key_columns, strict=True)]
    return [
        *location_columns(on_sheet),
        Column("Column", "text", lambda r: r.failure and r.failure.column),
        Column("Raw value", "ident", lambda r: r.failure and r.failure.value),
        Column("Problem", "text", lambda r: r.failure.problem if r.failure else r.outcome.reason,
               wrap=True),
        Column("Expected", "text", lambda r: r.failure and r.failure.expected),
        *keys,
    ]


def _failure_raw(name: str) -> Callable[[FailureRow], str | None]:
    return lambda r: r.outcome.raw.get(name)


def problem_text(outcome: RowOutcome) -> str:
    """One line saying what is wrong with a row, for the Fix and re-upload sheet."""
    if outcome.failures:
        return "; ".join(_failure_text(f) for f in outcome.failures)
    if outcome.http_status or outcome.api_error_code:
        status = f"HTTP {outcome.http_status}" if outcome.http_status else ""
        code = " ".join(x for x in (status, outcome.api_error_code or "") if x)
        param = f" (param {outcome.error_param})" if outcome.error_param else ""
        return f"{code}{param}: {outcome.reason}" if outcome.reason else f"{code}{param}"
    return outcome.reason


def _failure_text(failure: CellFailure) -> str:
    text = f'column "{failure.column}": "{failure.value}" {failure.problem}'
    return f"{text} (expected {failure.expected})" if failure.expected else text


def fix_columns(input_columns: Sequence[str]) -> list[Column[RowOutcome]]:
    """The input's columns, exact names and order, then batchpay's three columns at the end
    (an input that is a fix sheet read back has them already: they are not repeated)."""
    ours = (FIX_SOURCE, FIX_OUTCOME, FIX_PROBLEM)
    return [
        *(Column(name, "ident", _raw(name)) for name in input_columns if name not in ours),
        Column(FIX_SOURCE, "text", lambda o: str(o.origin)),
        Column(FIX_OUTCOME, "text", lambda o: o.outcome.value,
               fill=lambda o: OUTCOME_FILLS[o.outcome.category]),
        Column(FIX_PROBLEM, "text", problem_text, wrap=True),
    ]
