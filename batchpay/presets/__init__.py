"""Job specs for exports batchpay has met, recognised by their header or shape (batchpay init).

Each preset is a YAML job spec beside this module, hand-checked against a real export (the same
specs as tests/real_specs, which a test keeps equal). ``recognise`` names the preset whose
header (or, for a file without one, whose row shape) the sniffed file has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    header: tuple[str, ...] = ()  # the header's filled names, in order
    row_shape: str | None = None  # headerless files: a regex every first data row matches
    width: int = 0  # headerless files: the number of fields

    @property
    def path(self) -> Path:
        return HERE / f"{self.name}.yaml"

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def recognised_by(self) -> str:
        if self.header:
            return f"its header {', '.join(self.header[:3])}, ... ({len(self.header)} columns)"
        return f"its shape: no header, {self.width} fields in a known pattern"


PRESETS: tuple[Preset, ...] = (
    Preset("lloyds", "Lloyds Bank (UK) statement CSV", header=(
        "Transaction Date", "Transaction Type", "Sort Code", "Account Number",
        "Transaction Description", "Debit Amount", "Credit Amount", "Balance")),
    Preset("op", "Osuuspankki OP (FI) account export CSV", header=(
        "Kirjauspäivä", "Arvopäivä", "Määrä EUROA", "Tapahtumalajikoodi", "Selitys",
        "Saaja/Maksaja", "Saajan tilinumero", "Viite", "Viesti", "Arkistotunnus")),
    Preset("schwab", "Charles Schwab Bank (US) checking transactions CSV", header=(
        "Date", "Type", "Check #", "Description", "Withdrawal (-)", "Deposit (+)",
        "RunningBalance")),
    Preset("easybank", "easybank (AT) giro account CSV", width=6,
           row_shape=r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30};[^;]*;\d\d\.\d\d\.\d{4};\d\d\.\d\d\.\d{4};"
                     r"[+-][\d.]*\d,\d\d;[A-Z]{3}$"),
    Preset("fineco", "FinecoBank (IT) movements workbook", header=(
        "Data", "Entrate", "Uscite", "Descrizione", "Descrizione_Completa", "Stato")),
    Preset("paypal", "PayPal (US) custom activity report CSV", header=(
        "Date", "Time", "TimeZone", "Name", "Type", "Status", "Currency", "Gross", "Fee", "Net",
        "From Email Address", "To Email Address", "Transaction ID", "Item Title", "Item ID",
        "Reference Txn ID", "Receipt ID", "Balance", "Note")),
    Preset("gnucash", "GnuCash bill/invoice import CSV (charge lines)", width=22,
           row_shape=r"^[^,]+,[^,]*,\d+,(?:[^,]*,){6}\d+(?:\.\d+)?,\d+(?:\.\d+)?,"),
)  # fmt: skip


def find(name: str) -> Preset | None:
    return next((p for p in PRESETS if p.name == name), None)


def recognise(header: Sequence[str] | None, rows: Sequence[str], width: int) -> Preset | None:
    """The preset for a file with this header (filled names), or for headerless ``rows`` (the
    first data rows as written, delimiter included) of ``width`` fields."""
    if header is not None:
        names = tuple(name.strip() for name in header if name.strip())
        return next((p for p in PRESETS if p.header and p.header == names), None)
    for preset in PRESETS:
        if preset.row_shape and preset.width == width and rows and all(
            re.match(preset.row_shape, row) for row in rows
        ):
            return preset
    return None
