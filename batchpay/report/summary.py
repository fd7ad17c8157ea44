"""The Summary sheet: what happened, run facts, control totals with their balance check,
totals by payment method and by action, and a guide to the other sheets."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchpay.records import CATEGORIES, RunResult

from .amounts import UNKNOWN_CURRENCY
from .cells import (
    BANNER_FILLS,
    MISMATCH_FILL,
    MISMATCH_FONT,
    OK_FILL,
    OK_FONT,
    OUTCOME_FILLS,
    CellMaker,
    Money,
    Style,
)
from .sheets import HEADER_STYLE, Heading, add_sheet, landscape, page_heading, set_width
from .totals import (
    CurrencyTotals,
    GroupTotals,
    control_totals,
    group_totals,
    is_outgoing_skip,
)
from .words import balance_equation, category_label, mode_banner, rows_check, story

TITLE = "Summary"
PAGE_BREAK: list[Any] = []  # a marker in the rows: start a new printed page here
WIDTHS = (24, 18, 15, 15, 15, 21, 21, 15, 15)  # F, G hold "Would post: amount" in bold
STORY_WIDTH = 125  # characters per line of the story (the lines overflow into empty cells)
BOLD = Style(bold=True)
SECTION = Style(bold=True, size=12)
MONEY_OUT = "money out"
LEFT = Style(align="left")  # a value beside text must not run into it
CENTER = Style(align="center")


@dataclass(frozen=True)
class SheetGuide:
    """A line of the sheet guide: sheet name, what it holds, how many rows."""

    title: str
    about: str
    rows: int


def write_summary(
    cells: CellMaker, result: RunResult, totals: Sequence[CurrencyTotals],
    guide: Sequence[SheetGuide], heading: Heading,
) -> None:
    ws = add_sheet(cells, TITLE)
    for index, width in enumerate(WIDTHS):
        set_width(ws, index, width)
    landscape(ws, sum(WIDTHS))
    page_heading(ws, heading)
    ws.set_tab_color(f"#{BANNER_FILLS.get(result.info.mode, 'DDEBF7')}")
    written = 0
    breaks = []
    for row in _rows(cells, result, totals, guide):
        if row is PAGE_BREAK:  # the tables below start a printed page, never split by one
            breaks.append(written)
            continue
        ws.add_row(written, row)
        written += 1
    ws.set_h_pagebreaks(breaks)


def _rows(
    c: CellMaker, result: RunResult, totals: Sequence[CurrencyTotals],
    guide: Sequence[SheetGuide],
) -> list[list[Any]]:
    info = result.info
    banner = Style(bold=True, fill=BANNER_FILLS.get(info.mode, "DDEBF7"))
    rows: list[list[Any]] = [
        [c.text(f"batchpay reconciliation report: {info.job_name}", Style(bold=True, size=14))],
        [c.text(mode_banner(info), banner), *(c.blank(banner) for _ in WIDTHS[1:])],
        [],
        [c.text("What happened", SECTION)],
        *([c.text(line)] for line in textwrap.wrap(story(result, totals), STORY_WIDTH)),
        [],
        [c.text("Run facts", SECTION)],
        *_facts(c, result),
        [],
        [c.text("Control totals per currency", SECTION)],
        [c.text(f"Check: {balance_equation(info)}, in rows and in amount, to the cent.")],
        *_control_table(c, result, totals),
        PAGE_BREAK,
        *_group_table(c, result, "payment method", lambda o: o.payment_method),
        [],
        *_group_table(c, result, "action", lambda o: o.action),
        [],
        [c.text("Sheets in this workbook", SECTION)],
        [c.text("Sheet", HEADER_STYLE), c.text("Rows", HEADER_STYLE),
         c.text("What it holds", HEADER_STYLE)],
        *([c.text(g.title, BOLD), c.number(g.rows, LEFT), c.text(g.about)] for g in guide),
    ]
    return rows


def check_cell(c: CellMaker, ok: bool, text: str | None = None, align: str = "center") -> Any:
    """A green OK or a red MISMATCH cell."""
    if ok:
        return c.text(text or "OK", Style(bold=True, color=OK_FONT, fill=OK_FILL, align=align))
    return c.text(text or "MISMATCH", Style(bold=True, color=MISMATCH_FONT, fill=MISMATCH_FILL,
                                            align=align))


def _when(c: CellMaker, value: datetime) -> list[Any]:
    """The moment and its UTC offset as text (Excel dates have no zone)."""
    offset = value.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "(time zone not recorded)"
    return [c.text(f"{value:%Y-%m-%d %H:%M:%S} {zone}")]


def _facts(c: CellMaker, result: RunResult) -> list[list[Any]]:
    info = result.info
    ok, check = rows_check(result)
    facts: list[list[Any]] = [
        [c.text("Job", BOLD), c.text(info.job_name)],
        [c.text("Input file", BOLD), c.text(info.input_name)],
        [c.text("Input file SHA-256", BOLD), c.ident(info.input_sha256)],
        [c.text("Rows read", BOLD), c.number(info.rows_read, LEFT),
         check_cell(c, ok, check, align="left")],
        [c.text("Mode", BOLD), c.text(info.mode)],
        [c.text("Target", BOLD), c.text(info.target)],
        [c.text("Chargebee API version", BOLD), c.ident(info.api_version)],
        [c.text("batchpay version", BOLD), c.ident(info.batchpay_version)],
        [c.text("Started", BOLD), *_when(c, info.started_at)],
        [c.text("Finished", BOLD), *_when(c, info.finished_at)],
        [c.text("Operator", BOLD), c.text(info.operator)],
    ]
    facts += [[c.text("Note", BOLD), c.text(note)] for note in info.notes]
    return facts


def _control_table(
    c: CellMaker, result: RunResult, totals: Sequence[CurrencyTotals]
) -> list[list[Any]]:
    info = result.info
    header = [c.text("Currency", HEADER_STYLE), c.text("Measure", HEADER_STYLE),
              c.text("Read", HEADER_STYLE)]
    header += [c.text(category_label(name, info).capitalize(),
                      Style(bold=True, fill=OUTCOME_FILLS[name])) for name in CATEGORIES]
    header.append(c.text("Balance check", HEADER_STYLE))
    rows = [header]
    incoming = {t.currency: t for t in control_totals(
        [o for o in result.outcomes if not is_outgoing_skip(o)])}
    outgoing = {t.currency: t for t in control_totals(
        [o for o in result.outcomes if is_outgoing_skip(o)])}
    for currency in (t.currency for t in totals):
        for t, what in ((incoming.get(currency), ""), (outgoing.get(currency), MONEY_OUT)):
            if t is not None:
                rows.append(_count_row(c, t, what))
                if t.currency != UNKNOWN_CURRENCY:
                    rows.append(_amount_row(c, t, what))
    if outgoing:
        rows.append([c.text(f"{MONEY_OUT}: rows of money going out (debits) that were skipped, "
                            "kept apart from the money coming in, never netted into it.")])
    if any(t.currency == UNKNOWN_CURRENCY for t in totals):
        rows.append([c.text("unknown: rows of no known currency, counted without an amount: "
                            "invalid rows, or rows naming no currency whose invoice was not found "
                            "or not read.")])
    if not totals:
        rows.append([c.text("No rows were read.")])
    return rows


def _measure(what: str, unit: str) -> str:
    return f"{what}: {unit}" if what else unit


def _count_row(c: CellMaker, t: CurrencyTotals, what: str = "") -> list[Any]:
    currency = "unknown" if t.currency == UNKNOWN_CURRENCY else t.currency
    parts = [c.number(t.by_category[name].count) for name in CATEGORIES]
    ok = t.read.count == t.outcomes_total.count
    return [c.text(currency, BOLD), c.text(_measure(what, "rows")), c.number(t.read.count),
            *parts, check_cell(c, ok)]


def _amount_row(c: CellMaker, t: CurrencyTotals, what: str = "") -> list[Any]:
    def money(minor: int) -> Any:
        return c.money(Money(minor, t.currency))

    parts = [money(t.by_category[name].amount_minor) for name in CATEGORIES]
    ok = t.read.amount_minor == t.outcomes_total.amount_minor
    return [c.text(t.currency, BOLD), c.text(_measure(what, "amount")),
            money(t.read.amount_minor), *parts, check_cell(c, ok)]


def _group_table(c: CellMaker, result: RunResult, name: str, key: Any) -> list[list[Any]]:
    posted = category_label("posted", result.info).capitalize()
    incoming = [o for o in result.outcomes if not is_outgoing_skip(o)]
    rows: list[list[Any]] = [[c.text(f"Totals by {name}", SECTION)]]
    if len(incoming) < len(result.outcomes):
        rows.append([c.text(f"Money coming in; the {MONEY_OUT} rows skipped are on the "
                            "control totals above.")])
    rows.append([c.text(h, HEADER_STYLE) for h in ("Currency", name.capitalize(), "Rows read",
                                                   "Amount read", f"{posted}: rows",
                                                   f"{posted}: amount")])
    groups: list[GroupTotals] = group_totals(incoming, key)
    for g in groups:
        rows.append([
            c.text("unknown" if g.currency == UNKNOWN_CURRENCY else g.currency, BOLD),
            c.text(g.group), c.number(g.read.count), c.money(Money(g.read.amount_minor,
                                                                  g.currency)),
            c.number(g.posted.count), c.money(Money(g.posted.amount_minor, g.currency)),
        ])
    return rows
