"""Exact dates: text -> unix seconds in a declared time zone. No floats.

Formats are tried in order; ISO text (what the spreadsheet reader makes of real date cells) is
always accepted too. A value that only parses with day and month swapped gets an error that
says so, because that is how a spec with the wrong date order shows itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class DateError(ValueError):
    """A text that is not a date in the expected format(s)."""

    def __init__(self, problem: str, expected: str = "") -> None:
        super().__init__(f"{problem} (expected {expected})" if expected else problem)
        self.problem = problem
        self.expected = expected


MIN_YEAR = 1970
MAX_YEAR = 2100
ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 is 1900-03-01; see _excel_date
_SERIAL = re.compile(r"^\d{1,6}(?:\.\d+)?$")
_LIKELY_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")  # 25569 is 1970-01-01, 73415 2100-12-31
_TIME_DIRECTIVES = re.compile(r"%[HIMSXcp]")
_DIRECTIVES = {
    "d": "DD", "m": "MM", "Y": "YYYY", "y": "YY", "H": "hh", "I": "hh", "M": "mm", "S": "ss",
    "f": "ffffff", "p": "AM/PM", "b": "Mon", "B": "Month", "a": "Ddd", "A": "Weekday",
    "z": "+hhmm", "Z": "TZ", "j": "DDD", "%": "%",
}  # fmt: skip


def describe_format(fmt: str) -> str:
    """A strptime format for people: ``%d/%m/%Y`` -> ``DD/MM/YYYY``."""
    return re.sub(r"%(.)", lambda m: _DIRECTIVES.get(m[1], m[0]), fmt)


def check_format(fmt: str) -> None:
    """ValueError, in words, for a format strptime cannot use or that reads no date part."""
    try:
        datetime.strptime("\0", fmt)
    except ValueError as exc:
        if "does not match format" not in str(exc) and "unconverted data" not in str(exc):
            raise ValueError(f"{fmt!r} is not a strptime format ({exc}); e.g. '%d/%m/%Y'") from None
    if not re.search(r"%[dmYyjbBxc]", fmt):
        raise ValueError(f"{fmt!r} reads no day, month or year: write directives such as "
                         "'%d/%m/%Y', not 'dd/mm/yyyy'")


def parse_date(
    text: str,
    formats: Sequence[str],
    *,
    timezone: str = "UTC",
    time_of_day: str = "00:00",
    excel_serial: bool = False,
) -> int:
    """Unix seconds of ``text``; date-only values get ``time_of_day`` in ``timezone``."""
    zone = _zone(timezone)
    default_time = clock_time(time_of_day)
    value = text.strip().removeprefix("'").strip()
    if not value:
        raise DateError("is empty", _expected(formats, excel_serial))
    moment = _match_formats(value, formats, default_time)
    if moment is None and excel_serial and _SERIAL.match(value):
        moment = _excel_moment(value, default_time)
    if moment is None:
        raise _no_match(value, formats, excel_serial)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise DateError(
            f"is out of range (year {moment.year})", f"a year from {MIN_YEAR} to {MAX_YEAR}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (moment - _EPOCH) // timedelta(seconds=1)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {name!r}; use an IANA name such as Europe/Rome"
        raise ValueError(message) from None


@lru_cache(maxsize=64)
def clock_time(text: str) -> time:
    """``"12:00"`` or ``"9:30:15"`` as a time of day."""
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise ValueError(f"time_of_day must be HH:MM, not {text!r}")


def _match_formats(value: str, formats: Sequence[str], default_time: time) -> datetime | None:
    for fmt in (*formats, *ISO_FORMATS):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if not _TIME_DIRECTIVES.search(fmt):
            parsed = datetime.combine(parsed.date(), default_time, parsed.tzinfo)
        return parsed
    return None


def _excel_moment(value: str, default_time: time) -> datetime | None:
    """Excel's 1900 date system, which counts the non-existent 1900-02-29 as serial 60."""
    try:
        serial = Decimal(value)
    except InvalidOperation:
        return None
    days = int(serial)
    if days < 1 or days == 60:
        return None
    day = _EXCEL_EPOCH + timedelta(days=days + (1 if days < 60 else 0))
    fraction = serial - days
    if not fraction:
        return datetime.combine(day, default_time)
    # Excel stores times as fractions of a day with binary noise; the nearest second is meant.
    seconds = int((fraction * 86400).to_integral_value(rounding=ROUND_HALF_EVEN))
    return datetime.combine(day, time()) + timedelta(seconds=seconds)


def _no_match(value: str, formats: Sequence[str], excel_serial: bool) -> DateError:
    for fmt in formats:
        missing = _missing_day(value, fmt)
        if missing:
            return DateError(f"is not a date: {missing}", describe_format(fmt))
    for fmt in formats:
        swapped = _swap_day_month(fmt)
        if swapped == fmt:
            continue
        try:
            misread = datetime.strptime(value, swapped)
        except ValueError:
            continue
        return DateError(
            f"is not a date in format {describe_format(fmt)}",
            f"{describe_format(fmt)}; {misread.day} cannot be a month — "
            f"is the file {describe_format(swapped)}?",
        )
    if len(formats) == 1:
        problem = f"is not a date in format {describe_format(formats[0])}"
    else:
        problem = "is not a date in the expected formats"
    expected = _expected(formats, excel_serial)
    if not excel_serial and _LIKELY_SERIAL.match(value):
        expected += " (an Excel serial day number? set excel_serial: true)"
    return DateError(problem, expected)


def _missing_day(value: str, fmt: str) -> str | None:
    """"November 2026 has no day 31" when ``value`` fits ``fmt`` but for a day past the end of
    its month: the same text with that day as 28 parses, and names the month."""
    try:
        datetime.strptime(value, fmt)
    except ValueError as exc:
        if "day is out of range for month" not in str(exc):
            return None
    else:
        return None
    for day in ("29", "30", "31"):
        start = value.find(day)
        while start >= 0:
            try:
                month = datetime.strptime(value[:start] + "28" + value[start + 2 :], fmt)
            except ValueError:
                start = value.find(day, start + 1)
                continue
            if month.day == 28:
                return f"{month:%B %Y} has no day {int(day)}"
            start = value.find(day, start + 1)
    return None


def _swap_day_month(fmt: str) -> str:
    if "%d" not in fmt or "%m" not in fmt:
        return fmt
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _expected(formats: Sequence[str], excel_serial: bool) -> str:
    shapes = [describe_format(f) for f in formats]
    if excel_serial:
        shapes.append("an Excel serial day number such as 45292")
    return " or ".join(shapes) or "YYYY-MM-DD"
