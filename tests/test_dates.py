"""Exact dates: formats tried in order, ISO always accepted, Excel serials, swapped day/month."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchpay.dates import DateError, _excel_moment, describe_format, parse_date


def unix(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp())  # test oracle only


@pytest.mark.parametrize(
    ("text", "formats", "zone", "expected"),
    [
        ("21.05.2008", ["%d.%m.%Y"], "Europe/Helsinki", unix(2008, 5, 20, 21)),  # OP, UTC+3
        ("01.01.2014", ["%d.%m.%Y"], "Europe/Vienna", unix(2013, 12, 31, 23)),  # easybank
        ("15/01/2024", ["%d/%m/%Y"], "Europe/London", unix(2024, 1, 15)),  # Lloyds
        ("07/30/2021", ["%m/%d/%Y"], "America/New_York", unix(2021, 7, 30, 4)),  # Schwab
        ("31/12/2024", ["%d/%m/%Y"], "Europe/Rome", unix(2024, 12, 30, 23)),  # Fineco
        ("10/01/2019 03:46:20", ["%m/%d/%Y %H:%M:%S"], "America/Los_Angeles",
         unix(2019, 10, 1, 10, 46, 20)),  # PayPal Date + Time, PDT
        (" 2024-01-15 ", ["%d/%m/%Y"], "UTC", unix(2024, 1, 15)),  # ISO from a date cell
        ("2024-01-15T10:30:00", ["%d/%m/%Y"], "UTC", unix(2024, 1, 15, 10, 30)),
        ("2024-01-15T10:30:00+0100", ["%Y-%m-%dT%H:%M:%S%z"], "Asia/Tokyo",
         unix(2024, 1, 15, 9, 30)),  # an explicit offset wins over the zone
        ("'15/01/2024", ["%d/%m/%Y"], "UTC", unix(2024, 1, 15)),  # text-guard apostrophe
    ],
)  # fmt: skip
def test_parse_date(text: str, formats: list[str], zone: str, expected: int) -> None:
    assert parse_date(text, formats, timezone=zone) == expected


def test_formats_are_tried_in_order() -> None:
    assert parse_date("05/01/2024", ["%d/%m/%Y", "%m/%d/%Y"]) == unix(2024, 1, 5)
    assert parse_date("2024.01.05", ["%d/%m/%Y", "%Y.%m.%d"]) == unix(2024, 1, 5)


def test_time_of_day_applies_to_date_only_values_in_the_zone() -> None:
    # Summer time in Rome starts 2024-03-31: noon there is 10:00 UTC.
    assert parse_date("31/03/2024", ["%d/%m/%Y"], timezone="Europe/Rome", time_of_day="12:00") == (
        unix(2024, 3, 31, 10)
    )
    assert parse_date("2024-01-15T08:00:00", [], time_of_day="12:00") == unix(2024, 1, 15, 8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45292", unix(2024, 1, 1)),
        ("45292.5", unix(2024, 1, 1, 12)),
        ("45292.25000000001", unix(2024, 1, 1, 6)),  # float noise: nearest second
        ("25569", 0),  # 1970-01-01: serials past 60 count from 1899-12-30
    ],
)
def test_excel_serials(text: str, expected: int) -> None:
    assert parse_date(text, ["%d/%m/%Y"], excel_serial=True) == expected


def test_excel_1900_leap_year_bug() -> None:
    assert _excel_moment("1", datetime.min.time()) == datetime(1900, 1, 1)
    assert _excel_moment("59", datetime.min.time()) == datetime(1900, 2, 28)
    assert _excel_moment("60", datetime.min.time()) is None  # Excel's 1900-02-29
    assert _excel_moment("61", datetime.min.time()) == datetime(1900, 3, 1)


def test_serials_need_excel_serial() -> None:
    with pytest.raises(DateError, match="is not a date"):
        parse_date("45292", ["%d/%m/%Y"])


def test_a_serial_without_excel_serial_gets_a_hint() -> None:
    hint = "DD/MM/YYYY (an Excel serial day number? set excel_serial: true)"
    for text, expected in [("45292", hint), ("45292.5", hint), (" 45306 ", hint),
                           ("1234", "DD/MM/YYYY"), ("123456", "DD/MM/YYYY")]:
        with pytest.raises(DateError) as caught:
            parse_date(text, ["%d/%m/%Y"])
        assert caught.value.problem == "is not a date in format DD/MM/YYYY"
        assert caught.value.expected == expected, text


def test_swapped_day_and_month_is_named() -> None:
    with pytest.raises(DateError) as caught:
        parse_date("15/01/2024", ["%m/%d/%Y"])
    assert caught.value.problem == "is not a date in format MM/DD/YYYY"
    assert caught.value.expected == "MM/DD/YYYY; 15 cannot be a month — is the file DD/MM/YYYY?"


@pytest.mark.parametrize(
    ("text", "formats", "problem", "expected"),
    [
        ("", ["%d/%m/%Y"], "is empty", "DD/MM/YYYY"),
        ("31/02/2024", ["%d/%m/%Y"], "is not a date: February 2024 has no day 31",
         "DD/MM/YYYY"),
        ("31/11/2026", ["%d/%m/%Y"], "is not a date: November 2026 has no day 31",
         "DD/MM/YYYY"),
        ("31/11/2031", ["%d/%m/%Y"], "is not a date: November 2031 has no day 31",
         "DD/MM/YYYY"),
        ("29/02/2023", ["%d/%m/%Y"], "is not a date: February 2023 has no day 29",
         "DD/MM/YYYY"),
        ("11/31/2026", ["%m/%d/%Y"], "is not a date: November 2026 has no day 31",
         "MM/DD/YYYY"),
        ("2026-04-31", ["%Y-%m-%d"], "is not a date: April 2026 has no day 31", "YYYY-MM-DD"),
        ("30/13/2026", ["%d/%m/%Y"], "is not a date in format DD/MM/YYYY", "DD/MM/YYYY"),
        ("next week", ["%d.%m.%Y", "%Y%m%d"], "is not a date in the expected formats",
         "DD.MM.YYYY or YYYYMMDD"),
        ("x", ["%d/%m/%y"], "is not a date in format DD/MM/YY", "DD/MM/YY"),
        ("x", [], "is not a date in the expected formats", "YYYY-MM-DD"),
        ("1", ["%d/%m/%Y"], "is out of range (year 1900)", "a year from 1970 to 2100"),
        ("31/12/1969", ["%d/%m/%Y"], "is out of range (year 1969)", "a year from 1970 to 2100"),
        ("01/01/2101", ["%d/%m/%Y"], "is out of range (year 2101)", "a year from 1970 to 2100"),
    ],
)  # fmt: skip
def test_date_errors(text: str, formats: list[str], problem: str, expected: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_date(text, formats, excel_serial=text == "1")
    assert (caught.value.problem, caught.value.expected) == (problem, expected)


def test_serial_is_mentioned_when_accepted() -> None:
    with pytest.raises(DateError) as caught:
        parse_date("soon", ["%d/%m/%Y"], excel_serial=True)
    assert caught.value.expected == "DD/MM/YYYY or an Excel serial day number such as 45292"


def test_bad_settings_are_plain_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        parse_date("2024-01-15", [], timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="time_of_day must be HH:MM"):
        parse_date("2024-01-15", [], time_of_day="noon")


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%d/%m/%Y", "DD/MM/YYYY"),
        ("%m/%d/%y %H:%M", "MM/DD/YY hh:mm"),
        ("%Y-%m-%dT%H:%M:%S%z", "YYYY-MM-DDThh:mm:ss+hhmm"),
        ("%d %b %Y", "DD Mon YYYY"),
        ("100%%", "100%"),
    ],
)
def test_describe_format(fmt: str, text: str) -> None:
    assert describe_format(fmt) == text
