"""Control totals: one pass over the outcomes, grouped by currency (and by method or action)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from batchpay.records import CATEGORIES, Outcome, RowOutcome

from .amounts import UNKNOWN_CURRENCY, known_currency

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Totals:
    """A number of rows and their amount in integer minor units of one currency."""

    count: int = 0
    amount_minor: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.count + other.count, self.amount_minor + other.amount_minor)


@dataclass(frozen=True)
class CurrencyTotals:
    """Rows read in one currency and how they split over the outcome categories.

    ``currency`` is an ISO code, or ``"?"`` for rows whose currency is unknown and invalid
    rows without an amount; amounts in that bucket are always 0. A valid row that names no
    amount is counted with what its call moved (or would move) in the invoice's currency.
    """

    currency: str
    read: Totals
    by_category: dict[str, Totals]

    @property
    def outcomes_total(self) -> Totals:
        """Sum of the categories: posted + skipped + failed + invalid + needs review."""
        return sum((self.by_category.get(name, Totals()) for name in CATEGORIES), Totals())

    @property
    def balanced(self) -> bool:
        """Read equals the sum of the categories, in count and in amount."""
        return self.read == self.outcomes_total


@dataclass(frozen=True)
class GroupTotals:
    """Rows of one currency sharing a payment method (or an action)."""

    currency: str
    group: str
    read: Totals
    posted: Totals


class _Sums(Generic[K]):
    """Running row counts and amounts per key, as plain integers (one pass, no objects)."""

    def __init__(self) -> None:
        self.counts: dict[K, int] = {}
        self.amounts: dict[K, int] = {}

    def add(self, key: K, amount: int) -> None:
        counts, amounts = self.counts, self.amounts
        if key in counts:
            counts[key] += 1
            amounts[key] += amount
        else:
            counts[key], amounts[key] = 1, amount

    def totals(self, key: K) -> Totals:
        return Totals(self.counts.get(key, 0), self.amounts.get(key, 0))


def is_outgoing_skip(outcome: RowOutcome) -> bool:
    """A row of money going out (a debit) that was skipped, e.g. filtered as not a deposit:
    shown apart, so that it is never netted against the money coming in."""
    return (outcome.outcome.category == "skipped" and outcome.amount_minor is not None
            and outcome.amount_minor < 0)


def bucket_of(outcome: RowOutcome) -> tuple[str, int]:
    """The currency bucket of a row and the amount it contributes to it."""
    currency = known_currency(outcome.currency)
    if currency == UNKNOWN_CURRENCY:
        return UNKNOWN_CURRENCY, 0
    if outcome.amount_minor is None:
        # a valid row that names no amount and moved nothing (e.g. skipped: already paid)
        # is a row of its currency adding nothing; an invalid row's amount is unknown
        return (UNKNOWN_CURRENCY if outcome.outcome is Outcome.INVALID else currency), 0
    return currency, outcome.amount_minor


def _currency_order(currency: str) -> tuple[bool, str]:
    return currency == UNKNOWN_CURRENCY, currency


def control_totals(outcomes: Sequence[RowOutcome]) -> list[CurrencyTotals]:
    """Per currency: rows and amounts read, and per category; ``"?"`` sorts last.

    "Read" and the categories are accumulated separately, so the balance check compares two
    independently kept sums rather than one sum with itself.
    """
    read: _Sums[str] = _Sums()
    by_category: _Sums[tuple[str, str]] = _Sums()
    for outcome in outcomes:
        currency, amount = bucket_of(outcome)
        read.add(currency, amount)
        by_category.add((currency, outcome.outcome.category), amount)
    return [
        CurrencyTotals(
            currency,
            read.totals(currency),
            {name: by_category.totals((currency, name)) for name in CATEGORIES},
        )
        for currency in sorted(read.counts, key=_currency_order)
    ]


def group_totals(
    outcomes: Iterable[RowOutcome], key: Callable[[RowOutcome], str | None]
) -> list[GroupTotals]:
    """Per currency and per ``key`` (payment method, action): rows read and rows posted."""
    read: _Sums[tuple[str, str]] = _Sums()
    posted: _Sums[tuple[str, str]] = _Sums()
    for outcome in outcomes:
        currency, amount = bucket_of(outcome)
        group = (currency, key(outcome) or "(none)")
        read.add(group, amount)
        if outcome.outcome.category == "posted":
            posted.add(group, amount)
    groups = sorted(read.counts, key=lambda g: (_currency_order(g[0]), g[1]))
    return [GroupTotals(c, g, read.totals((c, g)), posted.totals((c, g))) for c, g in groups]


def category_counts(outcomes: Iterable[RowOutcome]) -> dict[str, int]:
    """Rows per category, every category present."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for outcome in outcomes:
        counts[outcome.outcome.category] += 1
    return counts
