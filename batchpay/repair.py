"""Reading what real exports get wrong, the way a person would, and saying so in the run notes.

    split_lenient          one CSV record whose quoted fields hold bare quotes ("UAB "Naktida"")
    append_continuations   rows that continue the row above (a description over two lines)

Both are off unless the job asks (``input.quoting: lenient``, ``input.continuation_when_empty``)
and every row they touch is named in the run notes.
"""

from __future__ import annotations

from collections.abc import Callable

from batchpay.errors import InputError
from batchpay.records import Origin

Record = tuple[int, list[str]]
MAX_NOTES = 20  # rows named one by one; the rest counted


def split_lenient(
    line: str, more: Callable[[], str | None], delimiter: str, quote: str, max_field: int
) -> tuple[list[str], bool]:
    """The fields of the record starting at ``line`` (``more`` gives the next physical line when
    a quoted field goes on), and whether a bare quote was read as text.

    A quote closes a quoted field only when a delimiter or the end of the line follows it; any
    other quote inside is text. ``""`` is a quote, as in strict CSV, except just before the
    end of the field, where ``""`` is a quote ending a quoted word and then the field's end
    (``"UAB "Naktida""`` is ``UAB "Naktida"``).
    """
    text = line.rstrip("\r\n")
    fields: list[str] = []
    repaired = False
    i = 0
    while True:
        if text[i : i + 1] == quote:
            value, i, text, bare = _quoted(text, i + 1, more, delimiter, quote, max_field)
            repaired = repaired or bare
        else:
            end = text.find(delimiter, i)
            end = len(text) if end < 0 else end
            value, i = text[i:end], end
        fields.append(value)
        if i >= len(text):
            return fields, repaired
        i += 1  # the delimiter
        if i == len(text):
            fields.append("")
            return fields, repaired


def _quoted(
    text: str, i: int, more: Callable[[], str | None], delimiter: str, quote: str, max_field: int
) -> tuple[str, int, str, bool]:
    """(value, index after the closing quote, the text it ends in, a bare quote was read)."""
    parts: list[str] = []
    bare = False
    size = 0
    while True:
        k = text.find(quote, i)
        if k < 0:
            parts.append(text[i:] + "\n")
            size += len(text) - i + 1
            following = more()
            if following is None or size > max_field:
                raise InputError("a quoted field is never closed")
            text, i = following.rstrip("\r\n"), 0
            continue
        parts.append(text[i:k])
        after = text[k + 1 : k + 2]
        if after in (delimiter, ""):
            return "".join(parts), k + 1, text, bare
        if after == quote:
            parts.append(quote)
            if text[k + 2 : k + 3] in (delimiter, ""):  # "...Naktida"" then the field's end
                bare = True
                return "".join(parts), k + 2, text, bare
            i = k + 2
            continue
        parts.append(quote)  # a bare quote inside the field: text
        bare = True
        i = k + 1


def append_continuations(
    records: list[Record], columns: list[str], column: str, sheet: str | None
) -> tuple[list[Record], list[str]]:
    """Rows whose ``column`` is empty continue the row above: each filled cell is appended, after
    a space, to the same column of that row. Returns the rows and the run notes."""
    if column not in columns:
        raise InputError(
            f'input.continuation_when_empty: no column "{column}"; the columns are '
            + ", ".join(f'"{c}"' for c in columns)
        )
    index = columns.index(column)
    kept: list[Record] = []
    notes: list[str] = []
    for number, cells in records:
        empty = index >= len(cells) or not cells[index].strip()
        if not empty or not kept or not any(c.strip() for c in cells):
            kept.append((number, list(cells)))
            continue
        above_number, above = kept[-1]
        for i, cell in enumerate(cells):
            if cell.strip():
                above.extend([""] * (i + 1 - len(above)))
                above[i] = f"{above[i].rstrip()} {cell.strip()}".strip()
        notes.append(f'{Origin(number, sheet)} appended to {Origin(above_number, sheet)} (its '
                      f'"{column}" is empty: input.continuation_when_empty)')  # fmt: skip
    return kept, capped(notes, "rows appended to the row above")


def capped(notes: list[str], what: str) -> list[str]:
    if len(notes) <= MAX_NOTES:
        return notes
    return [*notes[:MAX_NOTES], f"and {len(notes) - MAX_NOTES} more {what}"]


def lenient_note(origin: Origin, line: str) -> str:
    shown = line.strip()
    shown = shown if len(shown) <= 80 else f"{shown[:77]}…"
    return (f"{origin}: a quote inside a quoted field was read as text (input.quoting: "
            f'lenient): "{shown}"')  # fmt: skip
