"""The job spec: a YAML file, written once per bank or tool format, validated by pydantic.

A job spec says how to read the file (``input``), how to derive each business field from the
row (``fields``), which rows to skip and why (``filters``), and which Chargebee call each row
becomes (``action``, or ``routes`` to send rows to different actions by a condition).
"""

from __future__ import annotations

import codecs
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from batchpay.chargebee.client import base_url_for
from batchpay.chargebee.errors import ConfigError
from batchpay.dates import check_format
from batchpay.errors import SpecError
from batchpay.money import (
    UnknownCurrency,
    checked_declarations,
    currency_exponent,
    declared_currencies,
    to_minor_units,
)
from batchpay.patterns import compile_pattern

ActionName = Literal[
    "record_payment", "collect_payment", "apply_payments", "close_invoice", "charge"
]
ACTIONS: tuple[str, ...] = (
    "record_payment",
    "collect_payment",
    "apply_payments",
    "close_invoice",
    "charge",
)


def _compiles(pattern: str | None) -> str | None:
    if pattern is not None:
        compile_pattern(pattern)  # PatternError is a ValueError: pydantic reports it at the key
    return pattern


def _folded(values: list[str]) -> set[str]:
    return {value.strip().upper() for value in values}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Model):
    """How to read the file. Every cell is read as text; nothing is inferred."""

    format: Literal["csv", "xlsx", "xls", "ods", "camt053", "mt940", "bai2", "ofx"] | None = Field(
        None,
        description="File format; detected from the file's content and name when not given. "
        "camt053 (also camt.052/.054), mt940 (also MT942), bai2 and ofx are bank statements: "
        "they yield fixed columns (see 'Statement formats') and ignore the CSV options.",
    )
    encoding: str = Field(
        "utf-8",
        description="Text encoding of a CSV: utf-8 (a BOM is accepted), cp1252 (Excel on Windows "
        "in Western Europe and the Americas), latin-1, cp1250, iso-8859-13, ...",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field delimiter.")
    quotechar: str = Field(
        '"', min_length=1, max_length=1, description="CSV quote character (not the delimiter)."
    )
    quoting: Literal["strict", "lenient"] = Field(
        "strict",
        description="CSV quoting. strict: a quote inside a quoted field must be doubled, else "
        "the line is refused. lenient: a quote closes a quoted field only before a delimiter "
        "or the end of the line, any other quote is text, so \"UAB \"Naktida\"\" reads as "
        "UAB \"Naktida\"; the run notes name each line read so.",
    )
    skip_lines: int = Field(
        0, ge=0, description="Lines (CSV) or rows (spreadsheet) before the header, e.g. a title."
    )
    header: bool = Field(True, description="Whether the first line after skip_lines is a header.")
    columns: list[str] | None = Field(
        None,
        description="Column names for a file without a header (header: false), in order.",
    )
    skip_footer: int = Field(
        0,
        ge=0,
        description="Lines or rows to drop at the end (summaries), whether or not they are a "
        "footer; the run notes name each dropped row, so a month without a total line does "
        "not lose its last payment silently.",
    )
    drop_rows_matching: str | None = Field(
        None,
        description="Regex (RE2 syntax); a row whose first non-empty cell matches it is dropped "
        "before parsing (marker lines such as 'Posted Transactions'); the run notes name each "
        "dropped row.",
    )
    sheet: str | int | None = Field(
        None,
        description="Sheet name or 0-based index for spreadsheets; the first sheet if unset "
        "(batchpay's own report, sent back, is read from its 'Fix and re-upload' sheet, and the "
        "run notes say so; a sheet of that name in any other workbook is not read unless "
        "named here). Hidden rows and columns (and rows an AutoFilter hides) are read like "
        "visible ones: delete them from the file, or skip them with a filter. A cell the job "
        "reads that holds a spreadsheet error (#N/A, #REF!...) or a number of more than 15 "
        "significant digits is invalid, never read as empty or rounded.",
    )
    comment_prefix: str | None = Field(
        None, description="Lines starting with this text are ignored (CSV)."
    )
    skip_blank_rows: bool = Field(True, description="Ignore rows whose cells are all empty.")
    continuation_when_empty: str | None = Field(
        None,
        description="Column name: a row whose cell in this column is empty (e.g. the date) "
        "continues the row above: its filled cells are appended, after a space, to the same "
        "columns of that row, so a description (and the invoice reference in it) spread over "
        "two lines is read whole. The run notes name each appended row.",
    )
    allow_short_rows: bool = Field(
        False,
        description="Read a row with fewer fields than the header as if its missing trailing "
        "cells were empty (for exports that leave trailing empty fields out). Off by default: "
        "a short row is invalid, because a field missing in the middle shifts every value "
        "after it into the wrong column.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codec = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        if not getattr(codec, "_is_text_encoding", True):  # zlib, base64, rot13, hex, ...
            raise ValueError(f"{value!r} is not a text encoding; use e.g. utf-8, cp1252, latin-1")
        return value

    @field_validator("drop_rows_matching")
    @classmethod
    def _marker_regex(cls, value: str | None) -> str | None:
        return _compiles(value)

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _not_a_line_break(cls, value: str) -> str:
        if value in "\r\n":
            raise ValueError("a line break cannot separate or quote fields")
        return value

    @model_validator(mode="after")
    def _delimiter_is_not_the_quote(self) -> InputSpec:
        if self.delimiter == self.quotechar:
            raise ValueError(f"delimiter and quotechar are both {self.delimiter!r}")
        return self

    @model_validator(mode="after")
    def _columns_for_headerless(self) -> InputSpec:
        if not self.header and not self.columns:
            raise ValueError("a file without a header (header: false) needs 'columns'")
        return self


class FieldSpec(_Model):
    """How one business field is derived from a row.

    Exactly one source: ``column``, ``columns`` (first non-empty), ``const`` or ``template``;
    or, for money, ``credit_column``/``debit_column``. Then, in order: ``regex`` capture,
    ``lookup`` table, ``default`` when empty, and conversion by ``type``.
    """

    column: str | None = Field(
        None,
        description="Input column to read, by its header name. A header cell left empty names "
        "its column \"Column N\" (N its 1-based position, e.g. \"Column 3\").",
    )
    columns: list[str] | None = Field(None, description="Input columns; the first non-empty wins.")
    const: str | None = Field(None, description="A constant value.")
    template: str | None = Field(
        None, description="Text with {Column Name} placeholders, e.g. '{Check #}-{Account}'."
    )
    regex: str | None = Field(
        None,
        description="Regex (RE2 syntax: linear time; no backreferences or lookaround; \\d \\w \\s "
        "are ASCII) searched in the text; the named group 'value', else group 1, else the "
        "whole match is kept. No match makes the field empty (an error when required).",
    )
    lookup: dict[str, str] | None = Field(
        None, description="Table mapping the text to a value, e.g. {CHECK: check}."
    )
    lookup_default: str | None = Field(
        None, description="Value for text not in the lookup table (otherwise it is an error)."
    )
    default: str | None = Field(None, description="Value when the text is empty.")
    required: bool = Field(True, description="An empty value is a failure (unless default is set).")
    type: Literal["text", "money", "date", "integer", "boolean"] = Field(
        "text", description="How the text is converted."
    )
    # money
    decimal: str = Field(".", description="money: decimal separator ('.' or ',').")
    thousands: str | None = Field(
        None, description="money: thousands separator (',', '.', ' ', \"'\"); none if unset."
    )
    currency: str | None = Field(
        None,
        description="money: ISO 4217 code, e.g. EUR. A code or symbol written in the cell must "
        "fit it ('JPY 5000' or '$5' in a EUR column is an error); cents (50¢) are refused.",
    )
    currency_field: str | None = Field(
        None, description="money: name of the field holding the ISO 4217 code (checked likewise)."
    )
    credit_column: str | None = Field(None, description="money: column of incoming amounts.")
    debit_column: str | None = Field(
        None, description="money: column of outgoing amounts (made negative)."
    )
    sign_column: str | None = Field(
        None, description="money: column with a debit/credit flag, e.g. D/C or CR/DR."
    )
    debit_values: list[str] = Field(
        default_factory=lambda: ["D", "DR", "DEBIT", "S", "-"],
        description="money: sign_column values that mean a debit (case-insensitive). List \"\" "
        "to read an empty flag cell as a debit (e.g. [\"D\", \"\"]), or put it in credit_values; "
        "otherwise an empty flag makes the row invalid.",
    )
    credit_values: list[str] = Field(
        default_factory=lambda: ["C", "CR", "CREDIT", "H", "+"],
        description="money: sign_column values that mean a credit (case-insensitive); a flag "
        "in neither list makes the row invalid.",
    )
    negate: bool = Field(
        False,
        description="money: flip the sign (for files that show in as -). With sign_column, the "
        "flag is applied first and then every amount is flipped, debits and credits alike.",
    )
    quantity_column: str | None = Field(
        None,
        description="money: column of a quantity (e.g. units on a charge line); the field is "
        "the amount times the quantity, exactly: a product with more decimals than the "
        "currency has is an error, never rounded.",
    )
    # date
    formats: list[str] = Field(
        default_factory=list,
        description="date: strptime formats tried in order, e.g. ['%d/%m/%Y'].",
    )
    timezone: str = Field("UTC", description="date: IANA time zone of the values.")
    time_of_day: str = Field("00:00", description="date: time used for date-only values (HH:MM).")
    excel_serial: bool = Field(
        False, description="date: accept Excel serial day numbers (e.g. 45292) as well."
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                currency_exponent(value)
            except UnknownCurrency as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("regex")
    @classmethod
    def _field_regex(cls, value: str | None) -> str | None:
        return _compiles(value)

    @field_validator("formats")
    @classmethod
    def _strptime_formats(cls, value: list[str]) -> list[str]:
        for fmt in value:
            check_format(fmt)
        return value

    @field_validator("lookup")
    @classmethod
    def _distinct_lookup_keys(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        first: dict[str, str] = {}
        for key in value or {}:
            folded = key.strip().casefold()
            if folded in first:
                raise ValueError(
                    f"keys {first[folded]!r} and {key!r} are the same key (lookup ignores case "
                    "and surrounding spaces); keep one"
                )
            first[folded] = key
        return value

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Rome"
            ) from None
        return value

    @field_validator("time_of_day")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                datetime.strptime(value, fmt)
                return value
            except ValueError:
                continue
        raise ValueError(f"time_of_day must be HH:MM, not {value!r}")

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [
            name
            for name in ("column", "columns", "const", "template")
            if getattr(self, name) is not None
        ]
        money_columns = self.credit_column is not None or self.debit_column is not None
        if money_columns and self.type != "money":
            raise ValueError("credit_column/debit_column need type: money")
        if self.quantity_column is not None and self.type != "money":
            raise ValueError("quantity_column needs type: money")
        if len(sources) + (1 if money_columns else 0) != 1:
            found = ", ".join(sources) or "none"
            raise ValueError(
                "give exactly one of column, columns, const, template "
                f"(or credit_column/debit_column for money); found: {found}"
            )
        if self.type == "money" and self.currency is None and self.currency_field is None:
            raise ValueError("a money field needs 'currency' (e.g. EUR) or 'currency_field'")
        shared = _folded(self.debit_values) & _folded(self.credit_values)
        if shared:
            raise ValueError(f"debit_values and credit_values share {', '.join(sorted(shared))}")
        if self.type == "date" and not self.formats and not self.excel_serial:
            raise ValueError("a date field needs 'formats' (e.g. ['%d/%m/%Y']) or excel_serial")
        return self

    def input_columns(self) -> list[str]:
        """The input columns this field reads."""
        cols = [c for c in (self.column, self.credit_column, self.debit_column) if c]
        cols += self.columns or []
        if self.sign_column:
            cols.append(self.sign_column)
        if self.quantity_column:
            cols.append(self.quantity_column)
        if self.template:
            cols += re.findall(r"\{([^{}]+)\}", self.template)
        return cols


class Condition(_Model):
    """A test on one input column (raw text) or one parsed field. All given tests must hold."""

    column: str | None = Field(None, description="Input column to test (raw text).")
    field: str | None = Field(None, description="Parsed field to test.")
    equals: str | None = Field(None, description="Text equals this (after trimming spaces).")
    one_of: list[str] | None = Field(None, description="Text is one of these.")
    matches: str | None = Field(None, description="Regex (RE2 syntax) searched in the text.")
    empty: bool | None = Field(None, description="true: text is empty; false: not empty.")
    gt: int | None = Field(None, description="Field value greater than (money: minor units).")
    lt: int | None = Field(None, description="Field value less than (money: minor units).")
    ge: int | None = Field(None, description="Field value at least.")
    le: int | None = Field(None, description="Field value at most.")

    @field_validator("matches")
    @classmethod
    def _matches_regex(cls, value: str | None) -> str | None:
        return _compiles(value)

    @model_validator(mode="after")
    def _target(self) -> Condition:
        if (self.column is None) == (self.field is None):
            raise ValueError("a condition names exactly one of 'column' or 'field'")
        tests = ("equals", "one_of", "matches", "empty", "gt", "lt", "ge", "le")
        if all(getattr(self, t) is None for t in tests):
            raise ValueError(f"a condition needs a test: one of {', '.join(tests)}")
        if self.column is not None and any(
            getattr(self, t) is not None for t in ("gt", "lt", "ge", "le")
        ):
            raise ValueError("gt/lt/ge/le compare parsed values: use 'field', not 'column'")
        return self


class FilterSpec(Condition):
    """Skip rows matching the condition (``skip`` is the default) or keep only those (``keep``)."""

    keep: bool = Field(False, description="true: keep only rows matching; false: skip them.")
    reason: str = Field(..., min_length=1, description="Reason shown in the report.")


class ConstParam(_Model):
    const: str | int | bool


ParamSource = Annotated[str | ConstParam, Field(union_mode="left_to_right")]

# Canonical (version-independent) parameter names per action; encoders map them to the wire.
ACTION_PARAMS: dict[str, dict[str, str]] = {
    "record_payment": {
        "invoice_id": "text",
        "amount": "money",
        "payment_method": "text",
        "reference_number": "text",
        "date": "date",
        "comment": "text",
        "custom_payment_method_id": "text",
        "id_at_gateway": "text",
    },
    "collect_payment": {
        "invoice_id": "text",
        "amount": "money",
        "payment_source_id": "text",
        "comment": "text",
        "payment_initiator": "text",
    },
    "apply_payments": {
        "invoice_id": "text",
        "transaction_id": "text",
        "amount": "money",
        "comment": "text",
    },
    "close_invoice": {
        "invoice_id": "text",
        "comment": "text",
        "invoice_note": "text",
        "remove_general_note": "boolean",
        "invoice_date": "date",
    },
    "charge": {
        "customer_id": "text",
        "subscription_id": "text",
        "amount": "money",
        "description": "text",
        "po_number": "text",
        "date_from": "date",
        "date_to": "date",
        "invoice_date": "date",
        "payment_source_id": "text",
        "payment_initiator": "text",
        "coupon": "text",
    },
}

REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "record_payment": ("invoice_id", "payment_method"),
    "collect_payment": ("invoice_id",),
    "apply_payments": ("invoice_id",),
    "close_invoice": ("invoice_id",),
    "charge": ("description",),
}


class ActionSpec(_Model):
    """The Chargebee call a row becomes, and which field feeds each parameter."""

    type: ActionName = Field(..., description="One of the five operations.")
    params: dict[str, ParamSource] = Field(
        default_factory=dict,
        description="Parameter name -> field name, or {const: value}. Names are batchpay's "
        "version-independent ones (see the reference).",
    )
    business_key: list[str] | None = Field(
        None,
        description="Fields that identify the payment in the real world (e.g. the bank's "
        "transaction reference). Default: every mapped parameter. Never the row position.",
    )

    @model_validator(mode="after")
    def _known_params(self) -> ActionSpec:
        known = ACTION_PARAMS[self.type]
        unknown = sorted(set(self.params) - set(known))
        if unknown:
            raise ValueError(
                f"{self.type} has no parameter {', '.join(unknown)}; "
                f"known: {', '.join(known)}"
            )
        missing = [p for p in REQUIRED_PARAMS[self.type] if p not in self.params]
        if missing:
            raise ValueError(f"{self.type} needs parameter {', '.join(missing)}")
        if self.type == "charge" and not (
            {"customer_id", "subscription_id"} & set(self.params)
        ):
            raise ValueError("charge needs parameter customer_id or subscription_id")
        return self


class RouteSpec(_Model):
    """Rows matching ``when`` go to ``action``; the first matching route wins."""

    when: Condition | None = Field(None, description="Condition; none means every other row.")
    action: ActionSpec


class ApprovalSpec(_Model):
    """When ``batchpay web`` needs a second person to approve a run before it executes."""

    required_above: dict[str, str] | None = Field(
        None,
        description="Currency code -> amount, e.g. {USD: '10000.00'}: a run whose would-post "
        "total in every currency is at most its amount is approved without a second person; "
        "a currency not listed always needs one. Default: every run needs approval.",
    )

    @field_validator("required_above", mode="before")
    @classmethod
    def _amounts(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        checked = {}
        for code, amount in value.items():
            currency_exponent(str(code))  # UnknownCurrency names the code
            text = str(amount).strip()
            try:
                to_minor_units(Decimal(text), str(code))
            except (InvalidOperation, ValueError) as exc:
                raise ValueError(f"{code}: {text!r} is not an amount of {code} ({exc})") from None
            checked[str(code).strip().upper()] = text
        return checked

    def thresholds_minor(self) -> dict[str, int] | None:
        """The thresholds in minor units, or None when every run needs approval."""
        if self.required_above is None:
            return None
        return {c: to_minor_units(Decimal(a), c) for c, a in self.required_above.items()}


class SiteSpec(_Model):
    """Where calls go. With no site and no base_url, the built-in sandbox is used."""

    name: str | None = Field(None, description="Chargebee site name, e.g. acme-test.")
    base_url: str | None = Field(
        None, description="Explicit API base URL (plain http only for loopback)."
    )
    allow_live: bool = Field(False, description="Allow execute on a live (non -test) site.")
    rate_per_minute: int = Field(150, ge=1, description="Calls per minute (test sites: 150).")
    concurrency: int = Field(8, ge=1, le=100, description="Calls in flight at once.")
    suppress_events: list[Literal["email", "webhook", "actions"]] = Field(
        default_factory=list,
        description="Send chargebee-event-<x>: all-disabled on writes.",
    )


class JobSpec(_Model):
    """A batchpay job: how to read one kind of file and what to do with each row."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Job name.")
    description: str = Field("", description="Free text for people.")
    api_version: Literal["v1", "v2"] = Field("v2", description="Chargebee API version of the site.")
    product_catalog: Literal["1.0", "2.0"] | None = Field(
        None,
        description="The site's Product Catalog version, needed by charge on API v2: 1.0 sends "
        "POST /invoices/charge, 2.0 sends POST /invoices/create_for_charge_items_and_charges "
        "(one ad-hoc charge line). API v1 serves 1.0 sites only.",
    )
    input: InputSpec = Field(default_factory=lambda: InputSpec())  # type: ignore[call-arg]
    fields: dict[str, FieldSpec] = Field(..., description="Business fields, by name.")
    filters: list[FilterSpec] = Field(default_factory=list, description="Rows to skip, and why.")
    schema_: str | None = Field(
        None,
        alias="schema",
        description="pandera schema validating the parsed fields: a name in schemas/ "
        "(bank_deposit, cheque_log, charge_list, ...) or a path relative to the spec.",
    )
    action: ActionSpec | None = Field(None, description="The call every row becomes.")
    routes: list[RouteSpec] | None = Field(
        None, description="Instead of action: send rows to actions by condition."
    )
    site: SiteSpec = Field(default_factory=lambda: SiteSpec())  # type: ignore[call-arg]
    currencies: dict[str, int] = Field(
        default_factory=dict,
        description="Currencies ISO 4217 does not list today (historic or private), with the "
        "number of decimals of their minor unit, e.g. {LTL: 2} for an old Lithuanian litas "
        "statement. Money fields may then use them; an ISO code keeps its own decimals.",
    )
    journal: str | None = Field(
        None, description="Journal file (SQLite); default reports/batchpay-journal.sqlite."
    )
    approval: ApprovalSpec = Field(
        default_factory=lambda: ApprovalSpec(),  # type: ignore[call-arg]
        description="batchpay web: when a run needs a second person's approval.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="wrap")
    @classmethod
    def _with_declared_currencies(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """The job's currencies are known while its fields are checked (``currency: LTL``),
        and only then: a run declares them again for its own duration."""
        declared = data.get("currencies") if isinstance(data, dict) else None
        currencies = {code: exponent for code, exponent in declared.items()
                      if isinstance(code, str) and isinstance(exponent, int)
                      } if isinstance(declared, dict) else {}
        try:
            checked_declarations(currencies)
        except ValueError as exc:
            raise ValueError(f"currencies: {exc}") from None
        with declared_currencies(currencies):
            return handler(data)

    @field_validator("product_catalog", mode="before")
    @classmethod
    def _catalog_as_text(cls, value: object) -> object:
        """``2``, ``2.0`` (YAML numbers) and ``"2"`` all mean "2.0"; likewise for 1."""
        if isinstance(value, int | float) and not isinstance(value, bool) and value in (1, 2):
            return f"{value:.1f}"
        return {"1": "1.0", "2": "2.0"}.get(value, value) if isinstance(value, str) else value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if not value:
            raise ValueError("declare at least one field")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        # Messages start with their key path; _describe shows them as "file: path: problem".
        if (self.action is None) == (self.routes is None):
            raise ValueError("give exactly one of 'action' or 'routes'")
        if self.api_version == "v1" and self.product_catalog == "2.0":
            raise ValueError(
                "product_catalog: Chargebee API v1 serves Product Catalog 1.0 sites only; "
                "use api_version: v2"
            )
        if self.site.base_url is not None:
            try:
                base_url_for(base_url=self.site.base_url, version=self.api_version)
            except ConfigError as exc:
                raise ValueError(f"site.base_url: {exc}") from None
        for where, action in self._actions_with_paths():
            if action.type == "charge" and self.api_version == "v2" and not self.product_catalog:
                raise ValueError(
                    f"{where}.type: charge on API v2 depends on the site's Product Catalog: "
                    'set product_catalog: "1.0" (POST /invoices/charge) or "2.0" '
                    "(POST /invoices/create_for_charge_items_and_charges)"
                )
            if self.api_version == "v1" and action.type == "apply_payments":
                raise ValueError(
                    f"{where}.type: apply_payments does not exist in Chargebee API v1; "
                    "use api_version: v2 or another action"
                )
            for param, source in action.params.items():
                if isinstance(source, str) and source not in self.fields:
                    raise ValueError(f"{where}.params.{param}: {self._no_field(source)}")
            for key in action.business_key or []:
                if key not in self.fields:
                    raise ValueError(f"{where}.business_key: {self._no_field(key)}")
        for name, spec in self.fields.items():
            if spec.currency_field is not None and spec.currency_field not in self.fields:
                raise ValueError(
                    f"fields.{name}.currency_field: {self._no_field(spec.currency_field)}"
                )
        conditions: list[tuple[str, Condition]] = [
            (f"filters.{i}", rule) for i, rule in enumerate(self.filters)
        ]
        conditions += [
            (f"routes.{i}.when", route.when)
            for i, route in enumerate(self.routes or [])
            if route.when is not None
        ]
        for where, condition in conditions:
            if condition.field is not None and condition.field not in self.fields:
                raise ValueError(f"{where}.field: {self._no_field(condition.field)}")
        return self

    def _no_field(self, name: str) -> str:
        return f"no field named '{name}'; the job defines {', '.join(self.fields)}"

    def _actions_with_paths(self) -> list[tuple[str, ActionSpec]]:
        if self.action is not None:
            return [("action", self.action)]
        return [(f"routes.{i}.action", route.action) for i, route in enumerate(self.routes or [])]

    def actions(self) -> list[ActionSpec]:
        if self.action is not None:
            return [self.action]
        return [route.action for route in self.routes or []]


def job_currencies(path: str | Path) -> AbstractContextManager[None]:
    """For the duration of a ``with`` block: the currencies the job at ``path`` declares (none
    when the spec does not load: then the run reports why)."""
    try:
        return declared_currencies(load_spec(path).currencies)
    except SpecError:
        return nullcontext()


def load_spec(path: str | Path) -> JobSpec:
    """Load and validate a job spec; errors name the file and the key path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such job spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read job spec: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise SpecError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a job spec is a YAML mapping (name:, fields:, action: ...)")
    spec = parse_spec(data, source=str(path))
    if spec.schema_ is not None:
        from batchpay.schema import load_schema  # schema imports pandera: load it only when used

        field_types = {name: f.type for name, f in spec.fields.items()}
        try:
            load_schema(spec.schema_, path.parent, field_types)
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from None
    return spec


class _DuplicateKey(ValueError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a job spec refuses them (issue 12 item 17:
    ``reference:`` given twice sent the wrong reference)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[object, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults" may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: PyYAML says so below
                continue
            if seen != key_node.start_mark.line + 1:
                raise _DuplicateKey(
                    f"line {key_node.start_mark.line + 1}: key '{key}' is given twice "
                    f"(first on line {seen}); keep one"
                )
        return super().construct_mapping(node, deep=deep)


def parse_spec(data: dict[str, Any], source: str = "<spec>") -> JobSpec:
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe(exc, source)) from None


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"] if not _is_union_tag(part))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "field required"
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}: {loc}: {message}" if loc else f"{source}: {message}")
    return "\n".join(dict.fromkeys(lines))


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in {"str", "ConstParam", "function-after[_target(), "
                                                                   "FilterSpec]"}
