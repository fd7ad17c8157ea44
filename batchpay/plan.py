"""Valid rows to planned Chargebee calls.

Each call gets a business key (what identifies the payment in the real world, declared in the
job or defaulting to every mapped parameter but free-text comments) and an idempotency key
derived from site, action and business key only, never from the row's position or the attempt,
so a re-run, an edited file or a crashed run always sends the same key for the same payment.

A business key is a JSON object of its parts, ``{"reference":"NW-1"}`` (a grouped call's, a JSON
list of its rows' keys), so no value can imitate a separator. Each part is normalised first:
NFKC, zero-width and other invisible format characters (BOM, ZWSP, bidi marks) removed, white
space trimmed and runs of it made one space; case is kept. A declared part that is empty after
that is a text field makes the row invalid: an empty reference must not make two payments one
(an empty amount or date is a value: "collect the full amount").
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from batchpay.chargebee.encode import EncodeError, Request, encode
from batchpay.dates import clock_time
from batchpay.fields import source_column
from batchpay.prepare import PreparedInput, PreparedRow, condition_mask
from batchpay.records import CellFailure, Outcome, RowOutcome
from batchpay.spec import ActionSpec, ConstParam, JobSpec
from batchpay.statements import COLUMNS as STATEMENT_COLUMNS

FREE_TEXT_PARAMS = frozenset({"comment", "invoice_note"})
KEY_PREFIX = "bp1-"
LEGACY_GROUP_SEPARATOR = "||"  # grouped keys of journals written before the JSON keys


@dataclass
class PlannedRow:
    row: PreparedRow
    action: ActionSpec
    params: dict[str, object]
    currency: str | None
    amount: int | None
    business_key: str
    empty_part: str | None = None  # a declared business-key field that is empty
    date: datetime | None = None  # the row's date as shown in reports (see _ShownDates)
    customer_id: str | None = None  # the invoice's customer, once the invoice has been read

    @property
    def legacy_key(self) -> str:
        """The key journals written before the JSON keys have for this row."""
        return "|".join(f"{name}={'' if value is None else value}"
                        for name, value in _raw_key_parts(self.action, self.row, self.params))


@dataclass
class PlannedCall:
    """One Chargebee write, made from one row (or several rows, for apply_payments)."""

    key: str  # the idempotency key
    action: str
    request: Request
    rows: list[PlannedRow]
    business_key: str
    params: dict[str, object]

    @property
    def invoice_id(self) -> str | None:
        value = self.params.get("invoice_id")
        return str(value) if value else None

    @property
    def currency(self) -> str | None:
        return self.rows[0].currency

    @property
    def legacy_business_key(self) -> str:
        return LEGACY_GROUP_SEPARATOR.join(sorted(r.legacy_key for r in self.rows))

    @property
    def amount(self) -> int | None:
        amounts = [r.amount for r in self.rows if r.amount is not None]
        return sum(amounts) if amounts else None


@dataclass
class Plan:
    calls: list[PlannedCall]
    outcomes: dict[int, RowOutcome] = field(default_factory=dict)  # duplicates, unroutable, bad


def idempotency_key(site: str, action: str, business_key: str) -> str:
    digest = hashlib.sha256(f"{site}\x1f{action}\x1f{business_key}".encode()).hexdigest()
    return KEY_PREFIX + digest[:40]


def plan(prepared: PreparedInput, site: str, version: str) -> Plan:
    """Plan every valid row; duplicates and unencodable rows become outcomes, not calls."""
    spec = prepared.spec
    result = Plan(calls=[])
    routed = _route(spec, prepared, result)
    seen: dict[tuple[str, str], PlannedRow] = {}
    singles: list[PlannedRow] = []
    for planned in routed:
        if planned.empty_part is not None:
            result.outcomes[planned.row.position] = _empty_key_part(spec, planned)
            continue
        identity = (planned.action.type, planned.business_key)
        if identity in seen:
            first = seen[identity]
            result.outcomes[planned.row.position] = outcome_for(
                planned, Outcome.SKIPPED,
                f"duplicate of {first.row.origin} in this file (same business key)",
            )
            continue
        seen[identity] = planned
        singles.append(planned)
    groups = _group(singles)
    for rows in groups:
        call = _call(rows, site, version, spec, result)
        if call is not None:
            result.calls.append(call)
    return result


def _route(spec: JobSpec, prepared: PreparedInput, result: Plan) -> list[PlannedRow]:
    if spec.action is not None:
        planner = RowPlanner(spec, spec.action)
        return [planner.plan(row) for row in prepared.valid]
    masks = [
        condition_mask(route.when, prepared.table.frame, prepared.parsed) if route.when else None
        for route in spec.routes or []
    ]
    planners = [RowPlanner(spec, route.action) for route in spec.routes or []]
    planned = []
    for row in prepared.valid:
        for planner, mask in zip(planners, masks, strict=True):
            if mask is None or mask[row.position]:
                planned.append(planner.plan(row))
                break
        else:
            result.outcomes[row.position] = RowOutcome(
                origin=row.origin, outcome=Outcome.SKIPPED, raw=row.raw,
                reason="no route of the job matches this row",
            )
    return planned


def planned_row(spec: JobSpec, action: ActionSpec, row: PreparedRow) -> PlannedRow:
    return RowPlanner(spec, action).plan(row)


class RowPlanner:
    """Plans the rows of one action: what depends on the spec alone is worked out once."""

    def __init__(self, spec: JobSpec, action: ActionSpec) -> None:
        self.spec, self.action = spec, action
        # (parameter, constant, field): a parameter has a constant value or reads a field
        self.sources = [(name, source.const, None) if isinstance(source, ConstParam)
                        else (name, None, source) for name, source in action.params.items()]
        amount_source = action.params.get("amount")
        self.amount_source = amount_source if isinstance(amount_source, str) else None
        self.identifying = {name for name in action.business_key or ()
                            if _identifies(spec, name)}
        self.dates = _ShownDates(spec, action)

    def plan(self, row: PreparedRow) -> PlannedRow:
        fields = row.fields
        params: dict[str, object] = {}
        for name, const, source in self.sources:
            value = const if source is None else fields.get(source)
            if value is not None and value != "":  # an empty value is not sent
                params[name] = value
        currency = None
        if self.amount_source is not None:
            currency = row.currencies.get(self.amount_source)
        elif isinstance(fields.get("currency"), str):
            currency = str(fields["currency"]).upper()
        amount = params.get("amount")
        parts = _key_parts(self.action, row, params)
        empty = [name for name, value in parts if value == "" and name in self.identifying]
        return PlannedRow(
            row=row,
            action=self.action,
            params=params,
            currency=currency,
            amount=amount if isinstance(amount, int) else None,
            business_key=business_key(parts),
            empty_part=empty[0] if empty else None,
            date=self.dates.shown(params),
        )


class _ShownDates:
    """The row's date as the file meant it, for the report: in the date field's time zone,
    at midnight (shown as a date alone) when its time is the ``time_of_day`` batchpay put on
    a date-only value. Chargebee gets the exact instant regardless. A file holds few distinct
    dates: each is worked out once."""

    def __init__(self, spec: JobSpec, action: ActionSpec) -> None:
        self.spec, self.action = spec, action
        self.seen: dict[tuple[str, int], datetime] = {}

    def shown(self, params: dict[str, object]) -> datetime | None:
        name = "date" if "date" in params else "invoice_date"
        value = params.get(name)
        if not isinstance(value, int):
            return None
        moment = self.seen.get((name, value))
        if moment is None:
            moment = self.seen[(name, value)] = self._moment(name, value)
        return moment

    def _moment(self, name: str, value: int) -> datetime:
        source = self.action.params.get(name)
        field = self.spec.fields.get(source) if isinstance(source, str) else None
        if field is None:
            return datetime.fromtimestamp(value, UTC)
        moment = datetime.fromtimestamp(value, ZoneInfo(field.timezone))
        if moment.time() == clock_time(field.time_of_day):
            return moment.replace(hour=0, minute=0, second=0)
        return moment


def _raw_key_parts(
    action: ActionSpec, row: PreparedRow, params: Mapping[str, object]
) -> list[tuple[str, object]]:
    if action.business_key:
        return [(name, row.fields.get(name)) for name in action.business_key]
    if all(name in row.raw for name in STATEMENT_COLUMNS) and row.raw["bank_reference"]:
        # A bank statement (or batchpay's fix sheet of one): the bank's own reference, so a
        # payment reported in two files (a camt.054 notice, then the camt.053) posts once.
        return [(name, row.raw[name]) for name in ("account", "bank_reference")]
    return [(name, params.get(name)) for name in sorted(action.params)
            if name not in FREE_TEXT_PARAMS]


def _key_parts(
    action: ActionSpec, row: PreparedRow, params: Mapping[str, object]
) -> list[tuple[str, str]]:
    return [(name, normalise_key_part(value))
            for name, value in _raw_key_parts(action, row, params)]


def _identifies(spec: JobSpec, name: str) -> bool:
    """A text field in a business key identifies the payment: empty, it cannot tell two apart.
    An empty amount or date is a value (collect "the full amount", "today")."""
    field_spec = spec.fields.get(name)
    return field_spec is None or field_spec.type == "text"


def normalise_key_part(value: object) -> str:
    """A business-key part as compared: NFKC, no invisible format characters (BOM, zero-width
    space/joiners, bidi marks, soft hyphen), trimmed, inner white space runs made one space."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii():  # NFKC keeps ASCII as it is, and no ASCII character is a format one
        return " ".join(text.split())
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return " ".join(text.split())


def business_key(parts: list[tuple[str, str]]) -> str:
    """The parts as one JSON object: unambiguous whatever the values hold."""
    return _KEY_JSON.encode(dict(parts))


_KEY_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _empty_key_part(spec: JobSpec, planned: PlannedRow) -> RowOutcome:
    name = planned.empty_part or ""
    field_spec = spec.fields.get(name)
    column = source_column(name, field_spec) if field_spec is not None else name
    failure = CellFailure(
        planned.row.origin, column, planned.row.raw.get(column, ""),
        f"is empty, but it is part of the business key ({name})",
        "a value that tells this payment apart, or a business_key without this field",
    )
    outcome = outcome_for(planned, Outcome.INVALID, str(failure))
    outcome.failures = (failure,)
    return outcome


def _group(rows: list[PlannedRow]) -> list[list[PlannedRow]]:
    """apply_payments rows for the same invoice become one call; others stay one row each."""
    groups: list[list[PlannedRow]] = []
    by_invoice: dict[str, list[PlannedRow]] = {}
    for planned in rows:
        if planned.action.type != "apply_payments":
            groups.append([planned])
            continue
        invoice = str(planned.params["invoice_id"])
        if invoice not in by_invoice:
            by_invoice[invoice] = []
            groups.append(by_invoice[invoice])
        by_invoice[invoice].append(planned)
    return groups


def _call(
    rows: list[PlannedRow], site: str, version: str, spec: JobSpec, result: Plan
) -> PlannedCall | None:
    first = rows[0]
    action = first.action.type
    params = dict(first.params) if len(rows) == 1 else _merged_params(rows)
    if action == "apply_payments":
        params = _apply_params(rows)
    keys = sorted(r.business_key for r in rows)
    key_text = keys[0] if len(keys) == 1 else f"[{','.join(keys)}]"
    try:
        request = encode(action, version, params, spec.product_catalog)  # type: ignore[arg-type]
    except EncodeError as exc:
        for planned in rows:
            result.outcomes[planned.row.position] = _encode_failure(spec, planned, exc)
        return None
    return PlannedCall(
        key=idempotency_key(site, action, key_text),
        action=action,
        request=request,
        rows=rows,
        business_key=key_text,
        params=params,
    )


def regroup(rows: list[PlannedRow], site: str, version: str, spec: JobSpec) -> PlannedCall | None:
    """A grouped call rebuilt from ``rows`` (some of its rows): params, request and key from
    those rows only. None when the rows cannot be encoded on their own."""
    return _call(rows, site, version, spec, Plan(calls=[]))


def row_business_keys(call_business_key: str) -> list[str]:
    """The business keys of the rows a call was made from (one, or a group's); also of keys
    written before the JSON keys (``name=value|...`` joined by ``||``)."""
    if not call_business_key.startswith(("{", "[")):
        return call_business_key.split(LEGACY_GROUP_SEPARATOR)
    try:
        parsed = json.loads(call_business_key)
    except ValueError:
        return [call_business_key]
    if isinstance(parsed, list):
        return [json.dumps(part, ensure_ascii=False, separators=(",", ":")) for part in parsed]
    return [call_business_key]


def _merged_params(rows: list[PlannedRow]) -> dict[str, object]:
    merged: dict[str, object] = {}
    for planned in rows:
        for name, value in planned.params.items():
            merged.setdefault(name, value)
    return merged


def _apply_params(rows: list[PlannedRow]) -> dict[str, object]:
    params = _merged_params(rows)
    transactions = [
        (str(r.params["transaction_id"]), r.amount) for r in rows if r.params.get("transaction_id")
    ]
    params.pop("transaction_id", None)
    params.pop("amount", None)
    params["transactions"] = transactions
    return params


def _encode_failure(spec: JobSpec, planned: PlannedRow, exc: EncodeError) -> RowOutcome:
    source = planned.action.params.get(exc.param)
    if isinstance(source, str) and source in spec.fields:
        column = source_column(source, spec.fields[source])
        value = planned.row.raw.get(column, "")
    else:
        column, value = exc.param, str(planned.params.get(exc.param, ""))
    failure = CellFailure(planned.row.origin, column, value, "cannot be sent", str(exc))
    outcome = outcome_for(planned, Outcome.INVALID, str(failure))
    outcome.failures = (failure,)
    return outcome


def outcome_for(planned: PlannedRow, outcome: Outcome, reason: str = "") -> RowOutcome:
    """A row outcome carrying everything the plan knows about the row."""
    params = planned.params
    return RowOutcome(
        origin=planned.row.origin,
        outcome=outcome,
        raw=planned.row.raw,
        action=planned.action.type,
        invoice_id=_text(params.get("invoice_id")),
        customer_id=_text(params.get("customer_id")) or planned.customer_id,
        currency=planned.currency,
        amount_minor=planned.amount,
        payment_method=_text(params.get("payment_method")),
        date=planned.date,
        business_key=planned.business_key,
        reason=reason,
    )


def note_customers(calls: Sequence[PlannedCall], invoices: Mapping[str, Mapping[str, Any]]) -> None:
    """Give each row the customer of the invoice read for it (for the report)."""
    for call in calls:
        invoice = invoices.get(call.invoice_id or "")
        if invoice and invoice.get("customer_id"):
            for row in call.rows:
                row.customer_id = str(invoice["customer_id"])


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)
