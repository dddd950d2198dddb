"""How outputs word periods, dates, times, numbers, roles, the method and the caveat, in Vietnamese and English.

Every output a person reads (the staff chat, the XLSX report, the dashboard, `sipas summary`)
formats through these functions, so a period reads "Tháng 11/2026" and a figure "64,8"
everywhere in Vietnamese, and the caveat is the same sentence on every output:

    period_name(parse_period("2026-Q4"), "vi")   # 'Quý IV/2026'
    number(64.84, "vi")                          # '64,8'
    date_text(date(2026, 11, 28), "vi")          # '28/11/2026'
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from analytics.days import Period
from analytics.indices import LOW_RELIABILITY_HALF_WIDTH
from analytics.method import Method

LANGUAGES = ("vi", "en")
_ROMAN = ("I", "II", "III", "IV")

CAVEAT = {
    "vi": "Mức độ hài lòng của người đến Bộ phận Một cửa, đo theo phương pháp SIPAS; "
    "đây không phải Chỉ số SIPAS quốc gia do Bộ Nội vụ công bố.",
    "en": "Satisfaction of one-stop users measured by the SIPAS method; this is not the "
    "national SIPAS index published by the Ministry of Home Affairs.",
}
"""What the figures are, and what they are not: on every output that shows them."""

LEVEL_NAMES = {
    "vi": {
        "commune": "xã/phường",
        "district": "quận/huyện cũ",
        "province": "tỉnh/thành phố",
        "agency": "cơ quan",
        "service_point": "quầy",
        "authority": "cơ quan có thẩm quyền",
        "field": "lĩnh vực",
    },
    "en": {
        "commune": "communes/wards",
        "district": "former districts",
        "province": "provinces",
        "agency": "agencies",
        "service_point": "counters",
        "authority": "competent authorities",
        "field": "fields",
    },
}
"""The reporting levels in words."""

ROW_NAMES = {
    "vi": {
        "all": "tất cả",
        "citizen": "người dân",
        "organisation": "tổ chức",
        "overall": "chung",
        "element": "yếu tố",
        "item": "câu hỏi",
        "expectation": "nhu cầu, mong đợi",
    },
    "en": {
        "all": "all",
        "citizen": "citizens",
        "organisation": "organisations",
        "overall": "overall",
        "element": "element",
        "item": "item",
        "expectation": "expectation",
    },
}
"""The respondent types and scopes of index rows, in words."""

ROLES = {
    "vi": {"admin": "quản trị viên", "viewer": "cán bộ xem báo cáo"},
    "en": {"admin": "administrator", "viewer": "report viewer"},
}


def language_of(text: str | None) -> str:
    """A supported language from a locale or setting ("en-US" → en); Vietnamese otherwise."""
    return "en" if text and text.lower().startswith("en") else "vi"


def period_name(period: Period, language: str = "vi") -> str:
    """The period as a reader names it: Tháng 11/2026, Quý IV/2026, Tuần 47/2026, Năm 2026,
    Ngày 28/11/2026 (English: November 2026, Q4 2026, week 47 of 2026, 2026, 28/11/2026)."""
    start = period.start
    if period.kind == "year":
        return f"Năm {start.year}" if language == "vi" else str(start.year)
    if period.kind == "quarter":
        quarter = (start.month - 1) // 3 + 1
        if language == "vi":
            return f"Quý {_ROMAN[quarter - 1]}/{start.year}"
        return f"Q{quarter} {start.year}"
    if period.kind == "month":
        return f"Tháng {start.month}/{start.year}" if language == "vi" else f"{start:%B %Y}"
    if period.kind == "week":
        iso = start.isocalendar()
        if language == "vi":
            return f"Tuần {iso.week}/{iso.year}"
        return f"week {iso.week} of {iso.year}"
    if period.kind == "window":
        span = f"{date_text(start)}–{date_text(period.end)}"
        return f"Từ {date_text(start)} đến {date_text(period.end)}" if language == "vi" else span
    return f"Ngày {date_text(start)}" if language == "vi" else date_text(start)


def period_input(period: Period) -> str:
    """The period as staff type it, which `parse_period` reads back: 11/2026, Q4/2026, 2026,
    tuần 47/2026, 28/11/2026."""
    start = period.start
    if period.kind == "window":
        return period.label
    if period.kind == "month":
        return f"{start.month}/{start.year}"
    if period.kind == "quarter":
        return f"Q{(start.month - 1) // 3 + 1}/{start.year}"
    if period.kind == "week":
        iso = start.isocalendar()
        return f"tuần {iso.week}/{iso.year}"
    return str(start.year) if period.kind == "year" else date_text(start)


def date_text(day: date, language: str = "vi") -> str:
    """A date as 28/11/2026 (both languages: the form Vietnamese documents use)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def period_span(period: Period, language: str = "vi") -> str:
    """The period's name and its days: "Tháng 11/2026 (01/11/2026 – 30/11/2026)"."""
    name = period_name(period, language)
    if period.start == period.end:
        return name
    return f"{name} ({date_text(period.start)} – {date_text(period.end)})"


def local_time(instant: datetime, zone: ZoneInfo, language: str = "vi") -> str:
    """An instant in the deployment's local time: 28/11/2026 14:05 (naive instants are UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo("UTC"))
    local = instant.astimezone(zone)
    return f"{date_text(local.date(), language)} {local:%H:%M}"


def number(value: float | None, language: str = "vi", digits: int = 1) -> str:
    """A figure with `digits` decimals, the decimal comma in Vietnamese: 64,8; "–" when none."""
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "vi" else text


def interval(low: float | None, high: float | None, language: str = "vi") -> str:
    """A 95 % interval as "60,1–69,2" (the dash, not a minus)."""
    if low is None or high is None:
        return "–"
    return f"{number(low, language)}–{number(high, language)}"


def points_wide(points: float, language: str = "vi") -> str:
    """An interval's half-width in percentage points (not PAR points): "±10 điểm phần trăm"."""
    value = f"{points:g}".replace(".", ",") if language == "vi" else f"{points:g}"
    return f"±{value} điểm phần trăm" if language == "vi" else f"±{value} percentage points"


def row_name(value: str, language: str = "vi") -> str:
    """A respondent type or scope of an index row in words (citizen → người dân)."""
    return ROW_NAMES.get(language, ROW_NAMES["vi"]).get(value, value)


def role_name(role: str, language: str = "vi") -> str:
    """A staff role in words (admin → quản trị viên)."""
    return ROLES.get(language, ROLES["vi"]).get(role, role)


def _value_list(values: list[str], language: str) -> str:
    joiner = " hoặc " if language == "vi" else " or "
    return ", ".join(values[:-1]) + joiner + values[-1] if len(values) > 1 else values[0]


def method_notes(method: Method, language: str = "vi") -> list[str]:
    """How the method in use turns answers into indices, in words, from its own fields (so a
    report under sipas-2023-neutral-half says that 3 counts half)."""
    vi = language == "vi"
    full = [value for value, weight in method.satisfied.items() if weight >= 1]
    partial = [(value, weight) for value, weight in method.satisfied.items() if 0 < weight < 1]
    scale = f"{method.valid_values[0]}–{method.valid_values[-1]}"
    if vi:
        notes = [
            f"Chỉ số câu hỏi = tỷ lệ câu trả lời hợp lệ ({scale}) là {_value_list(full, language)}"
            + "".join(
                f"; câu trả lời {value} được tính {number(weight * 100, language, 0)}% "
                "của một câu trả lời hài lòng"
                for value, weight in partial
            )
            + ". Câu bỏ qua và “không áp dụng” không tính vào mẫu số."
        ]
    else:
        notes = [
            f"Item index = share of valid answers ({scale}) that are {_value_list(full, language)}"
            + "".join(
                f"; an answer of {value} counts as {number(weight * 100, language, 0)}% of a "
                "satisfied one"
                for value, weight in partial
            )
            + ". Skipped and not-applicable answers are out of the denominator."
        ]
    weights = {code: weight for code, weight in method.element_weights.items() if weight != 1}
    if weights:
        listed = ", ".join(
            f"{code} × {number(weight, language, 0)}" for code, weight in weights.items()
        )
        notes.append(
            "Chỉ số yếu tố = trung bình các chỉ số câu hỏi của yếu tố; chỉ số chung = trung bình "
            f"có trọng số các chỉ số yếu tố ({listed}; các yếu tố khác trọng số 1)."
            if vi
            else "Element index = mean of its item indices; overall index = weighted mean of the "
            f"element indices ({listed}; other elements weigh 1)."
        )
    else:
        notes.append(
            "Chỉ số yếu tố = trung bình các chỉ số câu hỏi của yếu tố; chỉ số chung = trung bình "
            "không trọng số các chỉ số yếu tố."
            if vi
            else "Element index = mean of its item indices; overall index = unweighted mean of "
            "the element indices."
        )
    notes.append(
        "Yếu tố không có câu trả lời hợp lệ trong một ô bị bỏ ra khỏi chỉ số chung."
        if vi
        else "An element with no valid answers in a cell is left out of the overall index."
    )
    notes.append(_cleaning_note(method, language))
    notes.append(
        "Nhu cầu, mong đợi (câu 10): với mỗi nội dung cần ưu tiên cải thiện, tỷ lệ người trả lời "
        "chọn “Rất nhiều” hoặc “Nhiều” trong số người trả lời nội dung đó (câu bỏ qua không "
        "tính), kèm số người trả lời và khoảng tin cậy 95%."
        if vi
        else "Needs and expectations (question 10): per priority for improvement, the share "
        "answering “Very much” or “Much” among those who answered it (skips left out), with n "
        "and the 95% interval."
    )
    return notes


FLAG_NAMES = {
    "vi": {
        "straight_lining": "trả lời đồng loạt",
        "speeding": "trả lời quá nhanh",
        "repeated": "phản hồi lặp lại",
    },
    "en": {"straight_lining": "straight-lining", "speeding": "speeding", "repeated": "repeats"},
}
"""The quality flags in words."""


def _cleaning_note(method: Method, language: str) -> str:
    """The method's cleaning rule in words: which combinations of flags leave a response out."""
    vi = language == "vi"
    names = FLAG_NAMES.get(language, FLAG_NAMES["vi"])
    rules = [
        (" và " if vi else " and ").join(names.get(flag, flag) for flag in combination)
        for combination in method.exclude_when
    ]
    if not rules:
        return (
            "Làm sạch: không loại phản hồi nào; các cờ chất lượng chỉ được đánh dấu."
            if vi
            else "Cleaning: no response is left out; quality flags only mark responses."
        )
    listed = "; ".join(rules)
    return (
        f"Làm sạch: phản hồi bị loại khi có {listed}; một cờ đứng riêng (ví dụ trả lời đồng loạt "
        "ở người hài lòng với mọi nội dung) chỉ được đánh dấu, phản hồi vẫn được tính."
        if vi
        else f"Cleaning: a response is left out when it shows {listed}; a flag on its own (say, "
        "straight-lining by someone satisfied with everything) only marks it, and it still counts."
    )


def low_reliability_note(language: str = "vi") -> str:
    """What the low-reliability mark means."""
    wide = points_wide(LOW_RELIABILITY_HALF_WIDTH, language)
    if language == "vi":
        return f"*: độ tin cậy thấp (khoảng tin cậy 95% rộng hơn {wide})"
    return f"*: low reliability (95% interval wider than {wide})"
