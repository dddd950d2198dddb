"""Reporting days and periods: the local day a response counts on, day/week/month/quarter/year
spans, and evaluation windows (any span of days)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIOD_KINDS = ("day", "week", "month", "quarter", "year")
WINDOW = "window"
"""The kind of an evaluation window: any span of days, e.g. Hà Nội's "from 1/3/2025 to the
survey date", labelled `2025-03-01..2026-11-30`."""
_WINDOW = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def reporting_day(instant: datetime, zone: ZoneInfo | str) -> date:
    """The local calendar day an instant falls on in `zone` (SIPAS_TIMEZONE, Asia/Ho_Chi_Minh by
    default). A naive instant is in UTC, as the database keeps instants; never the clock of the
    machine this runs on."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).date()


@dataclass(frozen=True)
class Period:
    """A span of reporting days, both ends included, with the label outputs carry."""

    kind: str
    label: str
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("year", re.compile(r"^(\d{4})$")),
)


PERIOD_FORMS = {
    "vi": "2026 (năm), 2026-Q4, Q4/2026 hoặc quý 4/2026 (quý), 2026-11, 11/2026, T11/2026 hoặc "
    "tháng 11/2026 (tháng), 2026-W47 hoặc tuần 47/2026 (tuần), 2026-11-28 hoặc 28/11/2026 "
    "(ngày), 2025-03-01..2026-11-30 (khoảng đánh giá)",
    "en": "2026 (year), 2026-Q4 or Q4/2026 (quarter), 2026-11 or 11/2026 (month), 2026-W47 "
    "(ISO week), 2026-11-28 or 28/11/2026 (day), 2025-03-01..2026-11-30 (window)",
}
"""The period forms every output accepts, per language, for error messages and hints."""

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_WORDS = {"thang": "T", "tháng": "T", "quy": "Q", "quý": "Q", "tuan": "W", "tuần": "W"}
_YEAR_WORDS = ("nam ", "năm ")
# The forms staff type, as written on paper: 11/2026, T11/2026, Q4/2026, Q IV/2026, W47/2026,
# 28/11/2026 (after "tháng 11" → "T11", "quý 4" → "Q4", "tuần 47" → "W47").
_LOCAL = (
    ("day", re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")),
    ("month", re.compile(r"^T?(\d{1,2})/(\d{4})$")),
    ("quarter", re.compile(r"^Q([1-4]|IV|III|II|I)/(\d{4})$")),
    ("week", re.compile(r"^W(\d{1,2})/(\d{4})$")),
)


def _iso_label(text: str) -> str:
    """The ISO label of a period written the Vietnamese way, or the text unchanged."""
    label = " ".join(text.strip().lower().split())
    for word in _YEAR_WORDS:
        if label.startswith(word):
            return label[len(word) :]
    for word, letter in _WORDS.items():
        if label.startswith(word + " "):
            label = letter.lower() + label[len(word) + 1 :]
            break
    label = label.replace(" ", "").upper()
    for kind, pattern in _LOCAL:
        match = pattern.match(label)
        if match is None:
            continue
        groups = match.groups()
        if kind == "day":
            return f"{groups[2]}-{int(groups[1]):02d}-{int(groups[0]):02d}"
        number = _ROMAN.get(groups[0]) or int(groups[0])
        return {
            "month": f"{groups[1]}-{number:02d}",
            "quarter": f"{groups[1]}-Q{number}",
            "week": f"{groups[1]}-W{number:02d}",
        }[kind]
    return label


def window(first: date, last: date) -> Period:
    """The evaluation window from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the window ends ({last}) before it starts ({first})")
    return Period(WINDOW, f"{first.isoformat()}..{last.isoformat()}", first, last)


def chosen_period(text: str | None, first: date | None, last: date | None) -> Period | None:
    """The period a command was given: a label (`--period`) or a window (`--from`, `--to`,
    both needed), not both; None when given neither."""
    if first is None and last is None:
        return parse_period(text) if text else None
    if text:
        raise ValueError("give either a period or a window (from, to), not both")
    if first is None or last is None:
        raise ValueError("a window needs both its first day (from) and its last day (to)")
    return window(first, last)


def parse_period(text: str) -> Period:
    """A period from its label: 2026, 2026-Q4, 2026-11, 2026-W47 (ISO week) or 2026-11-28, or a window
    2025-03-01..2026-11-30, or as staff write it: năm 2026, quý 4/2026, Q4/2026, Q IV/2026, tháng 11/2026, T11/2026,
    11/2026, tuần 47/2026, 28/11/2026. The label is always the ISO one (2026-11)."""
    spans = _WINDOW.match(text.strip())
    if spans is not None:
        try:
            return window(date.fromisoformat(spans[1]), date.fromisoformat(spans[2]))
        except ValueError as error:
            raise ValueError(f"not a window: “{text.strip()}”: {error}") from None
    label = _iso_label(text)
    for kind, pattern in _PATTERNS:
        match = pattern.match(label)
        if match is None:
            continue
        numbers = [int(group) for group in match.groups()]
        try:
            return _period(kind, label, numbers)
        except ValueError:
            break
    raise ValueError(f"not a period: “{text.strip()}”; use {PERIOD_FORMS['en']}")


def _period(kind: str, label: str, numbers: list[int]) -> Period:
    year = numbers[0]
    if kind == "day":
        day = date(year, numbers[1], numbers[2])
        return Period(kind, day.isoformat(), day, day)
    if kind == "week":
        start = date.fromisocalendar(year, numbers[1], 1)
        return Period(kind, label, start, start + timedelta(days=6))
    if kind == "quarter":
        first_month = 3 * (numbers[1] - 1) + 1
        start = date(year, first_month, 1)
        return Period(kind, label, start, _month_end(year, first_month + 2))
    if kind == "month":
        start = date(year, numbers[1], 1)
        return Period(kind, label, start, _month_end(year, numbers[1]))
    return Period(kind, label, date(year, 1, 1), date(year, 12, 31))


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def period_of(day: date, kind: str) -> Period:
    """The period of a kind that contains a day (e.g. the month of 2026-11-28 is 2026-11)."""
    if kind == "day":
        return parse_period(day.isoformat())
    if kind == "week":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    if kind == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    if kind == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if kind == "year":
        return parse_period(str(day.year))
    raise ValueError(f"period kind must be one of {', '.join(PERIOD_KINDS)}, not {kind!r}")


YOUNG_MONTH_DAYS = 15
"""Until this day of a month, outputs that choose a period by themselves show the last complete
month instead: early in a month nearly every cell would be suppressed."""


def default_month(day: date, today: date) -> tuple[Period, Period | None]:
    """The month to show by default for data up to `day`: its month, or, while that month is
    today's and younger than YOUNG_MONTH_DAYS days, the month before. Also the month passed
    over (None when none was), so the output can say which it shows and why."""
    month = period_of(day, "month")
    if month.start <= today <= month.end and today.day < YOUNG_MONTH_DAYS:
        return period_of(month.start - timedelta(days=1), "month"), month
    return month, None
