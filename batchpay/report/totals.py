"""Control totals: one pass over the outcomes, grouped by currency (and by method or action)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from batchpay.records import CATEGORIES, RowOutcome

from .amounts import UNKNOWN_CURRENCY, known_currency


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

    ``currency`` is an ISO code, or ``"?"`` for rows whose currency or amount is unknown
    (typically invalid rows); amounts in that bucket are always 0.
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


@dataclass
class _Bucket:
    read: Totals = Totals()
    categories: dict[str, Totals] = field(default_factory=dict)


def bucket_of(outcome: RowOutcome) -> tuple[str, int]:
    """The currency bucket of a row and the amount it contributes to it."""
    currency = known_currency(outcome.currency)
    if currency == UNKNOWN_CURRENCY or outcome.amount_minor is None:
        return UNKNOWN_CURRENCY, 0
    return currency, outcome.amount_minor


def _currency_order(currency: str) -> tuple[bool, str]:
    return currency == UNKNOWN_CURRENCY, currency


def control_totals(outcomes: Sequence[RowOutcome]) -> list[CurrencyTotals]:
    """Per currency: rows and amounts read, and per category; ``"?"`` sorts last.

    "Read" and the categories are accumulated separately, so the balance check compares two
    independently kept sums rather than one sum with itself.
    """
    buckets: dict[str, _Bucket] = {}
    for outcome in outcomes:
        currency, amount = bucket_of(outcome)
        bucket = buckets.setdefault(currency, _Bucket())
        bucket.read += Totals(1, amount)
        category = outcome.outcome.category
        bucket.categories[category] = bucket.categories.get(category, Totals()) + Totals(1, amount)
    return [
        CurrencyTotals(
            currency,
            buckets[currency].read,
            {name: buckets[currency].categories.get(name, Totals()) for name in CATEGORIES},
        )
        for currency in sorted(buckets, key=_currency_order)
    ]


def group_totals(
    outcomes: Iterable[RowOutcome], key: Callable[[RowOutcome], str | None]
) -> list[GroupTotals]:
    """Per currency and per ``key`` (payment method, action): rows read and rows posted."""
    read: dict[tuple[str, str], Totals] = {}
    posted: dict[tuple[str, str], Totals] = {}
    for outcome in outcomes:
        currency, amount = bucket_of(outcome)
        group = (currency, key(outcome) or "(none)")
        read[group] = read.get(group, Totals()) + Totals(1, amount)
        if outcome.outcome.category == "posted":
            posted[group] = posted.get(group, Totals()) + Totals(1, amount)
    ordered = sorted(read, key=lambda g: (_currency_order(g[0]), g[1]))
    return [GroupTotals(c, g, read[(c, g)], posted.get((c, g), Totals())) for c, g in ordered]


def category_counts(outcomes: Iterable[RowOutcome]) -> dict[str, int]:
    """Rows per category, every category present."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for outcome in outcomes:
        counts[outcome.outcome.category] += 1
    return counts
