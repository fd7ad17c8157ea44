"""Seeded inputs in the shape of ``samples/bank-deposits`` (CSV and XLSX)."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

TITLE = "Northwind Bank plc - synthetic statement for benchmarks"
HEADER = ("Date", "Reference ID", "Description", "Paid In", "Paid Out", "Currency", "Balance")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
PAYERS = ("ACME INC PAYMENT", "GLOBEX GMBH", "INITECH LTD BACS", "UMBRELLA KK", "HOOLI")
START = date(2026, 11, 1)


def rows(n: int, *, seed: int = 7, invoice_prefix: str = "INV-", currency: str | None = None,
         amount: str | None = None, mixed: bool = True) -> list[tuple[object, ...]]:
    """``n`` statement lines, one payment per invoice ``INV-000001``...

    With ``mixed`` about 3% are outgoing card payments (filtered) and 1% have no invoice
    number (filtered), as a real statement has; ``currency``/``amount`` fix those columns
    (for sandbox runs, where invoices are USD 100.00).
    """
    rng = random.Random(seed)
    width = max(6, len(str(n)))
    out: list[tuple[object, ...]] = []
    for i in range(n):
        day = START + timedelta(days=rng.randrange(28))
        ref = f"NW-{i + 1:08d}"
        cur = currency or rng.choice(CURRENCIES)
        dice = rng.random() if mixed else 1.0
        if dice < 0.03:
            out.append((day, ref, "CARD PAYMENT OFFICE SUPPLIES", "", f"{rng.randint(1, 999)}.20",
                        cur, ""))
            continue
        desc = (f"{rng.choice(PAYERS)} {invoice_prefix}{i + 1:0{width}d} THANK YOU"
                if dice >= 0.04 else "INTEREST")
        if amount is not None:
            paid = amount
        elif cur == "JPY":
            paid = f"{rng.randint(1, 2_000_000):,}"
        else:
            paid = f"{rng.randint(100, 500_000_00) / 100:,.2f}"
        out.append((day, ref, desc, paid, "", cur, f"{rng.randint(1, 10**7):,}.00"))
    return out


def write_csv(path: Path, data: list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(TITLE + "\n")
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for r in data:
            writer.writerow((r[0].strftime("%d/%m/%Y"), *r[1:]))  # type: ignore[attr-defined]
    return path


def write_xlsx(path: Path, data: list[tuple[object, ...]]) -> Path:
    """Typed cells like a bank's export: real dates, numbers as numbers."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Statement")
    ws.append([TITLE])
    ws.append(list(HEADER))
    for r in data:
        paid_in = _number(r[3])
        paid_out = _number(r[4])
        ws.append([r[0], r[1], r[2], paid_in, paid_out, r[5], _number(r[6])])
    wb.save(path)
    return path


def _number(text: object) -> float | int | None:
    if not text:
        return None
    value = str(text).replace(",", "")
    return int(value) if "." not in value else float(value)
