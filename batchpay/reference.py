"""The job-spec reference, generated from the pydantic model so it cannot drift from the code.

    python -m batchpay.reference > docs/job-spec.md

Every key of every nested model with its type, default and description (the ``Field``
descriptions in :mod:`batchpay.spec`), the canonical parameters of each action
(:data:`batchpay.spec.ACTION_PARAMS`) with their wire names per API version (from the encoders'
tables), and an example that is validated while the page is generated.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from batchpay.chargebee.encode import (
    APPLY_TXN_AMOUNT,
    APPLY_TXN_ID,
    CATALOG_2_OPERATIONS,
    OPERATIONS,
    Operation,
)
from batchpay.spec import (
    ACTION_PARAMS,
    ACTIONS,
    REQUIRED_PARAMS,
    ActionSpec,
    ApprovalSpec,
    Condition,
    ConstParam,
    FieldSpec,
    FilterSpec,
    InputSpec,
    JobSpec,
    RouteSpec,
    SiteSpec,
    parse_spec,
)
from batchpay.statements import FIELD_DOCS as STATEMENT_FIELDS

# (heading, key path as written in a job, model), in reading order.
SECTIONS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("Top level", "", JobSpec),
    ("input", "input", InputSpec),
    ("fields", "fields.<name>", FieldSpec),
    ("filters", "filters[]", FilterSpec),
    ("action", "action", ActionSpec),
    ("routes", "routes[]", RouteSpec),
    ("routes[].when", "routes[].when", Condition),
    ("Constant parameter values", "action.params.<param>", ConstParam),
    ("site", "site", SiteSpec),
    ("approval", "approval", ApprovalSpec),
)

CONST_DESCRIPTIONS = {"const": "The value sent for this parameter, whatever the row holds."}

EXAMPLE = """\
name: cheque-log
description: Cheques deposited at the lockbox, recorded against Chargebee invoices
api_version: v2
schema: cheque_log
input:
  format: xlsx
  sheet: November
  skip_lines: 1            # a title row above the header
  skip_footer: 1           # the totals row
fields:
  invoice_id:
    column: "Invoice #"
  cheque_number:
    column: Cheque No.
  amount:
    type: money
    column: Amount
    currency_field: currency
  currency:
    column: Currency
  date:
    type: date
    column: Deposit Date
    formats: ["%Y-%m-%dT%H:%M:%S", "%d/%m/%Y"]
    timezone: America/New_York
filters:
  - column: Status
    equals: Bounced
    reason: cheque bounced; nothing to record
action:
  type: record_payment
  params:
    invoice_id: invoice_id
    amount: amount
    payment_method: {const: check}
    reference_number: cheque_number
    date: date
  business_key: [cheque_number]
"""

ROUTES_EXAMPLE = """\
name: mixed-sheet
product_catalog: "2.0"     # how charge is sent on this site (see product_catalog)
fields:
  invoice_id: {column: Invoice, required: false}
  customer_id: {column: Customer, required: false}
  amount: {type: money, column: Amount, currency_field: currency, required: false}
  currency: {column: Currency, required: false}
  description: {column: Description, required: false}
routes:
  - when: {column: Type, equals: PAYMENT}
    action:
      type: record_payment
      params: {invoice_id: invoice_id, amount: amount, payment_method: {const: bank_transfer}}
  - when: {column: Type, equals: CHARGE}
    action:
      type: charge
      params: {customer_id: customer_id, amount: amount, description: description}
"""


def type_name(annotation: Any) -> str:
    """A reader-friendly type: ``text``, ``integer``, ``list of text``, ``one of: a, b``..."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if origin is Literal:
        return "one of: " + ", ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        parts = [type_name(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return text
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"mapping ({_anchor_for(annotation)})"
    names = {str: "text", int: "integer", bool: "boolean", float: "number"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _anchor_for(model: type[BaseModel]) -> str:
    for heading, _, candidate in SECTIONS:
        if candidate is model:
            return f"see [{heading}](#{_slug(heading)})"
    return model.__name__


def _slug(heading: str) -> str:
    keep = [c for c in heading.lower() if c.isalnum() or c in " -_"]
    return "".join(keep).replace(" ", "-")


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "(defaults of each key)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict) and not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    return f"`{value}`" if value != "" else '`""`'


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def model_table(model: type[BaseModel], prefix: str) -> Iterator[str]:
    yield "| key | type | default | description |"
    yield "|---|---|---|---|"
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        description = info.description or _model_summary(info.annotation) or (
            CONST_DESCRIPTIONS.get(name, "") if model is ConstParam else ""
        )
        yield (f"| `{path}` | {_cell(type_name(info.annotation))} | {_cell(default_text(info))} "
               f"| {_cell(description)} |")


def _model_summary(annotation: Any) -> str:
    """The first line of a nested model's docstring, for keys declared without a description."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return _doc(annotation).split("\n")[0]
    return ""


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _wire(op: Operation | None, param: str) -> str:
    if op is None:
        return "—"
    if op.action == "apply_payments" and param in ("transaction_id", "amount"):
        column = APPLY_TXN_ID if param == "transaction_id" else APPLY_TXN_AMOUNT
        return f"`{column.wire}[i]`"
    if param == "invoice_id" and op.on_invoice:
        return "path `{invoice-id}`"
    for field in op.fields:
        if field.name == param:
            return f"`{field.wire}`" + (" (required)" if field.required else "")
    return "— (not accepted: a row giving it is refused)"


def _endpoint(op: Operation | None) -> str:
    if op is None:
        return "— (does not exist; a v1 job asking for it is rejected when it loads)"
    return f"`POST {op.spec_path}`"


def _flavours(action: str) -> list[tuple[str, Operation | None]]:
    """The endpoints an action can take: per API version, and per Product Catalog in v2."""
    catalog_2 = CATALOG_2_OPERATIONS.get((action, "v2"))
    v2 = OPERATIONS.get((action, "v2"))
    v1 = OPERATIONS.get((action, "v1"))
    if catalog_2 is None:
        return [("API v2", v2), ("API v1", v1)]
    return [("API v2, product_catalog 2.0", catalog_2), ("API v2, product_catalog 1.0", v2),
            ("API v1", v1)]


def action_tables() -> Iterator[str]:
    for action in ACTIONS:
        params = ACTION_PARAMS[action]
        required = REQUIRED_PARAMS[action]
        flavours = _flavours(action)
        yield f"### `{action}`"
        yield ""
        for label, op in flavours:
            yield f"- {label}: {_endpoint(op)}"
        if action == "charge":
            yield "- needs `customer_id` or `subscription_id` (exactly one per row)"
        if action == "apply_payments":
            yield ("- rows with the same `invoice_id` are grouped into one call; with no "
                   "`transaction_id` Chargebee applies all of the customer's excess payments")
        yield ""
        yield ("| parameter | value | required | "
               + " | ".join(f"{label} wire name" for label, _ in flavours) + " |")
        yield "|---|---|---|" + "---|" * len(flavours)
        for param, kind in params.items():
            need = "yes" if param in required else ""
            wires = " | ".join(_wire(op, param) for _, op in flavours)
            yield f"| `{param}` | {kind} | {need} | {wires} |"
        yield ""


VALUE_KINDS = (
    "Parameter values: **text** is sent as written; **money** is a `type: money` field, sent as "
    "an integer in the currency's minor units (cents; JPY has none, KWD three); **date** is a "
    "`type: date` field, sent as unix seconds; **boolean** is a `type: boolean` field (or a "
    "`const: true`), sent as `true`/`false`."
)


def render() -> str:
    """The whole reference page, as Markdown."""
    # The examples are validated here: a reference whose example does not load is not written.
    parse_spec(yaml.safe_load(EXAMPLE), source="reference example")
    parse_spec(yaml.safe_load(ROUTES_EXAMPLE), source="reference routes example")
    out = [
        "# Job-spec reference",
        "",
        "<!-- Generated by `python -m batchpay.reference > docs/job-spec.md` from "
        "batchpay/spec.py. Do not edit by hand: tests/test_docs.py fails when it is stale. -->",
        "",
        "A job spec is a YAML file, written once per bank or tool format. It says how to read "
        "the file (`input`), how to derive each business field from a row (`fields`), which rows "
        "to skip and why (`filters`), and which Chargebee call each row becomes (`action`, or "
        "`routes` to send rows to different actions by a condition). Unknown keys are errors; "
        "every error names the file and the key path.",
        "",
        "## Example",
        "",
        "```yaml",
        EXAMPLE.rstrip(),
        "```",
        "",
        "One sheet, several actions (`routes` instead of `action`; the first matching route "
        "wins, and a row no route matches is skipped with a reason):",
        "",
        "```yaml",
        ROUTES_EXAMPLE.rstrip(),
        "```",
        "",
        "## Keys",
        "",
    ]
    for heading, prefix, model in SECTIONS:
        out += [f"### {heading}", "", _doc(model), ""]
        if model is FilterSpec:
            out += ["A filter is a condition (the keys of `routes[].when`) plus `keep` and "
                    "`reason`.", ""]
        if model is ConstParam:
            out += ["Each value of `action.params` is either the name of a field (a text) or "
                    "`{const: value}`.", ""]
        out += [*model_table(model, prefix), ""]
    out += [
        "## Parameters per action",
        "",
        "`action.params` maps these canonical, version-independent names to fields (or "
        "constants); batchpay sends them under the wire name of the job's `api_version`. A "
        "parameter a version does not take is reported on the row, before anything is sent.",
        "",
        VALUE_KINDS,
        "",
        *action_tables(),
        "`business_key` defaults to every mapped parameter except free text "
        "(`comment`, `invoice_note`); the idempotency key is derived from the site, the action "
        "and the business key only, so a re-run, an edited file or a crashed run never posts a "
        "payment twice. Each part of the key is compared normalised: Unicode NFKC (full-width "
        "`ＮＷ－１` is `NW-1`), invisible format characters removed (BOM, zero-width space and "
        "joiners, word joiner, bidi marks, soft hyphen), white space trimmed and inner runs made "
        "one space; case is kept (`nw-1` and `NW-1` are two keys). The value sent to Chargebee "
        "is not changed. A text field named in `business_key` that is empty on a row makes the "
        "row invalid (the message names the column): an empty reference must never make two "
        "payments one; make the field required, or leave it out of `business_key`. An empty "
        "money or date field is a value (`[invoice_id, amount]` with no amount: collect the "
        "full amount, once). The site is "
        "one identity however it is spelled (`acme-test`, `ACME-Test`, "
        "`https://acme-test.chargebee.com/api/v2/`), see docs/reliability.md.",
        "",
        *statement_section(),
    ]
    return "\n".join(out)


STATEMENT_EXAMPLE = """\
input:
  format: camt053            # or mt940, bai2, ofx; detected from the content when unset
fields:
  amount: {column: amount, type: money, currency_field: currency}
  currency: {column: currency}
  date: {column: booking_date, type: date, formats: ["%Y-%m-%d"]}
  account: {column: account}
  reference: {column: bank_reference}
"""


def statement_section() -> Iterator[str]:
    """The fixed fields every statement reader yields (batchpay.statements.FIELD_DOCS)."""
    yield from [
        "## Statement formats",
        "",
        "`input.format: camt053 | mt940 | bai2 | ofx` (or a file whose content shows one of "
        "them) reads a bank statement instead of a table: camt.053 (and camt.052 reports, "
        "camt.054 notifications; versions .001.02 to .001.08), MT940 (and MT942), BAI2, OFX 1.x "
        "and 2.x. Each payment is one row with the fields below, all text, so a job maps them "
        "as `column:` without separator, header or date settings. A batched entry gives one row "
        "per payment. Reversals (CAMT `RvslInd`, MT940 `RC`/`RD`) undo an earlier booking: "
        "they are never rows, and the run notes name each one, as they do statements whose "
        "balances do not reconcile. Unless the action sets `business_key`, a statement row's key "
        "is its `account` and `bank_reference` (when the bank gives one), so a payment "
        "reported twice (a camt.054 notice, then the camt.053 statement) posts once. See "
        "docs/formats.md.",
        "",
        "```yaml",
        STATEMENT_EXAMPLE.rstrip(),
        "```",
        "",
        "| field | what it holds |",
        "|---|---|",
        *(f"| `{name}` | {_cell(text)} |" for name, text in STATEMENT_FIELDS.items()),
        "",
    ]


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
