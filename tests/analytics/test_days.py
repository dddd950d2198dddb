"""Reporting days and periods."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.days import (
    chosen_period,
    default_month,
    parse_period,
    period_of,
    reporting_day,
    window,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_reporting_day_is_the_local_day() -> None:
    assert reporting_day(datetime(2026, 11, 27, 23, 30, tzinfo=HCM), HCM) == date(2026, 11, 27)
    # 23:30 UTC is 06:30 the next morning in Hà Nội.
    assert reporting_day(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "Asia/Ho_Chi_Minh") == date(
        2026, 11, 28
    )


def test_a_naive_instant_is_utc_as_stored_whatever_the_machine_clock_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The machine's own zone must not matter: a naive value read back from the database is UTC.
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        # 14:00 UTC is 21:00 in Hà Nội; 14:00 in New York would be 02:00 the next day there.
        naive = datetime(2026, 11, 27, 14, 0)
        assert reporting_day(naive, HCM) == date(2026, 11, 27)
        assert reporting_day(naive, HCM) == reporting_day(naive.replace(tzinfo=UTC), HCM)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("label", "kind", "start", "end"),
    [
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-02", "month", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-12", "month", date(2026, 12, 1), date(2026, 12, 31)),
        ("2026-W48", "week", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-11-28", "day", date(2026, 11, 28), date(2026, 11, 28)),
    ],
)
def test_periods(label: str, kind: str, start: date, end: date) -> None:
    period = parse_period(label)
    assert (period.kind, period.start, period.end) == (kind, start, end)


@pytest.mark.parametrize("label", ["2026-13", "2026-Q5", "26", "2026-11-31", "last month"])
def test_bad_periods_say_what_is_expected(label: str) -> None:
    with pytest.raises(ValueError, match="2026-Q4"):
        parse_period(label)


def test_period_of_a_day() -> None:
    assert period_of(date(2026, 11, 28), "quarter").label == "2026-Q4"
    assert period_of(date(2026, 11, 28), "week").label == "2026-W48"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("11/2026", "2026-11"),
        ("T11/2026", "2026-11"),
        ("tháng 11/2026", "2026-11"),
        ("Tháng 3/2026", "2026-03"),
        ("quý 4/2026", "2026-Q4"),
        ("Quý IV/2026", "2026-Q4"),
        ("Q4/2026", "2026-Q4"),
        ("năm 2026", "2026"),
        ("tuần 47/2026", "2026-W47"),
        ("28/11/2026", "2026-11-28"),
    ],
)
def test_periods_as_staff_write_them(text: str, label: str) -> None:
    assert parse_period(text).label == label


@pytest.mark.parametrize("text", ["T11", "tháng 11", "13/2026", "quý 5/2026", "31/11/2026"])
def test_local_forms_that_are_not_periods(text: str) -> None:
    with pytest.raises(ValueError, match="11/2026"):
        parse_period(text)


def test_a_young_month_gives_way_to_the_last_complete_one() -> None:
    december_4 = date(2026, 12, 4)
    shown, passed_over = default_month(december_4, december_4)
    assert (shown.label, passed_over and passed_over.label) == ("2026-11", "2026-12")
    assert default_month(date(2026, 12, 15), date(2026, 12, 15)) == (parse_period("2026-12"), None)
    # Data that stopped in an earlier month: that month, complete.
    assert default_month(date(2026, 9, 3), december_4) == (parse_period("2026-09"), None)


def test_an_evaluation_window_is_any_span_of_days_with_both_ends_included() -> None:
    hanoi = window(date(2025, 3, 1), date(2026, 11, 30))
    assert (hanoi.kind, hanoi.label) == ("window", "2025-03-01..2026-11-30")
    assert date(2025, 3, 1) in hanoi and date(2026, 11, 30) in hanoi
    assert date(2025, 2, 28) not in hanoi and date(2026, 12, 1) not in hanoi
    assert parse_period(" 2025-03-01..2026-11-30 ") == hanoi  # its label reads back
    assert chosen_period(None, date(2025, 3, 1), date(2026, 11, 30)) == hanoi
    assert chosen_period("2026-11", None, None) == parse_period("2026-11")
    assert chosen_period(None, None, None) is None
    with pytest.raises(ValueError, match=r"ends \(2026-11-01\) before it starts"):
        window(date(2026, 11, 30), date(2026, 11, 1))
    with pytest.raises(ValueError, match="not both"):
        chosen_period("2026-11", date(2025, 3, 1), date(2026, 11, 30))
    with pytest.raises(ValueError, match="needs both"):
        chosen_period(None, date(2025, 3, 1), None)
    with pytest.raises(ValueError, match="not a window"):
        parse_period("2026-02-30..2026-03-01")
