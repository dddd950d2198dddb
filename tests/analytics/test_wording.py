"""How outputs word periods, dates, numbers, roles and the method, in Vietnamese first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.days import parse_period
from analytics.levels import LEVELS
from analytics.method import load_method
from analytics.wording import (
    LANGUAGES,
    LEVEL_NAMES,
    date_text,
    local_time,
    method_notes,
    number,
    period_name,
    period_span,
    points_wide,
    role_name,
)


@pytest.mark.parametrize(
    ("label", "vi", "en"),
    [
        ("2026-11", "Tháng 11/2026", "November 2026"),
        ("2026-Q4", "Quý IV/2026", "Q4 2026"),
        ("2026-W47", "Tuần 47/2026", "week 47 of 2026"),
        ("2026", "Năm 2026", "2026"),
        ("2026-11-28", "Ngày 28/11/2026", "28/11/2026"),
    ],
)
def test_periods_read_as_people_name_them(label: str, vi: str, en: str) -> None:
    period = parse_period(label)
    assert (period_name(period, "vi"), period_name(period, "en")) == (vi, en)


def test_dates_times_and_numbers() -> None:
    assert date_text(date(2026, 11, 28)) == "28/11/2026"
    assert period_span(parse_period("2026-11")) == "Tháng 11/2026 (01/11/2026 – 30/11/2026)"
    noon_utc = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    assert local_time(noon_utc, ZoneInfo("Asia/Ho_Chi_Minh")) == "28/11/2026 12:00"
    assert (number(64.84), number(64.84, "en"), number(None)) == ("64,8", "64.8", "–")
    assert points_wide(10) == "±10 điểm phần trăm"
    assert (role_name("admin"), role_name("viewer")) == ("quản trị viên", "cán bộ xem báo cáo")


def test_method_notes_come_from_the_method() -> None:
    default = " ".join(method_notes(load_method("sipas-2023-default")))
    assert "là 4 hoặc 5." in default and "không trọng số" in default
    neutral = " ".join(method_notes(load_method("sipas-2023-neutral-half")))
    assert "câu trả lời 3 được tính 50%" in neutral and "CONG_CHUC × 2" in neutral


def test_every_level_has_its_name_in_both_languages() -> None:
    for language in LANGUAGES:
        assert set(LEVEL_NAMES[language]) == set(LEVELS)
