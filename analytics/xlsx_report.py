"""The XLSX report of a period: a summary sheet, one sheet per unit, native charts, and a notes sheet.

Every figure is a cell of the export's index table (`analytics.report.index_table`), with
its suppression: this module only lays the rows out, it computes no index. The bytes are
deterministic for equal tables (fixed document times and zip entry times).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from analytics.days import Period, parse_period
from analytics.export import workbook_bytes
from analytics.indices import LOW_RELIABILITY_HALF_WIDTH
from analytics.levels import unit_map
from analytics.query import ReportQuery
from analytics.report import index_table
from analytics.wording import (
    CAVEAT,
    LEVEL_NAMES,
    local_time,
    method_notes,
    period_name,
    period_span,
    points_wide,
    row_name,
)
from storage.db import Database

__all__ = [
    "TREND_MONTHS",
    "ReportTables",
    "figure",
    "monthly_tables",
    "months_before",
    "report_filename",
    "report_tables",
    "xlsx_report",
]

TREND_MONTHS = 12
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_HEADER_FILL = PatternFill("solid", fgColor="DDE7F0")
_ONE_DECIMAL = "0.0"  # Excel shows the reader's decimal mark: 64,8 on a Vietnamese system
_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # SIPAS_TIMEZONE's default; callers pass the setting
_NAME_WIDTH = (24, 60)  # a name column is as wide as its longest name, within these

# Allowed: which (level, code) a reader may see. None = everything.
ScopeCheck = Callable[[str, str], bool]

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Chỉ số hài lòng theo phương pháp SIPAS",
        "summary": "Tổng hợp",
        "notes": "Ghi chú",
        "unit_code": "Mã đơn vị",
        "unit_name": "Tên đơn vị",
        "n": "Số người trả lời",
        "overall": "Chỉ số chung (%)",
        "ci_low": "Cận dưới khoảng tin cậy 95%",
        "ci_high": "Cận trên khoảng tin cậy 95%",
        "suppressed": "Ẩn (mẫu nhỏ)",
        "low_reliability": "Độ tin cậy thấp",
        "respondent_type": "Đối tượng",
        "scope": "Phạm vi",
        "code": "Mã",
        "label": "Nội dung",
        "valid": "Số câu trả lời hợp lệ",
        "satisfied": "Số câu trả lời hài lòng",
        "index": "Chỉ số (%)",
        "month": "Tháng",
        "trend": "Diễn biến theo tháng (chỉ số chung)",
        "elements": "Năm yếu tố",
        "counters": "Quầy tiếp nhận",
        "yes": "có",
        "no": "",
        "period": "Kỳ",
        "level": "Cấp",
        "method": "Phương pháp",
        "questionnaire": "Bộ câu hỏi",
        "as_of": "Số liệu tính đến",
        "never": "chưa tổng hợp lần nào",
        "min_cell_size": "Số người trả lời tối thiểu để hiện số liệu",
        "caveat": "Lưu ý",
        "no_data": "Không có phản hồi trong kỳ này.",
        "chart_overall": "Chỉ số chung theo đơn vị (%)",
        "chart_elements": "Chỉ số theo yếu tố (%)",
    },
    "en": {
        "title": "SIPAS-method satisfaction index",
        "summary": "Summary",
        "notes": "Notes",
        "unit_code": "Unit code",
        "unit_name": "Unit name",
        "n": "Respondents",
        "overall": "Overall index (%)",
        "ci_low": "95% CI low",
        "ci_high": "95% CI high",
        "suppressed": "Suppressed (small cell)",
        "low_reliability": "Low reliability",
        "respondent_type": "Respondents",
        "scope": "Scope",
        "code": "Code",
        "label": "Label",
        "valid": "Valid answers",
        "satisfied": "Satisfied answers",
        "index": "Index (%)",
        "month": "Month",
        "trend": "Trend by month (overall index)",
        "elements": "The five elements",
        "counters": "Counters",
        "yes": "yes",
        "no": "",
        "period": "Period",
        "level": "Level",
        "method": "Method",
        "questionnaire": "Questionnaire",
        "as_of": "Data as of",
        "never": "never aggregated",
        "min_cell_size": "Fewest respondents for a figure to be shown",
        "caveat": "Caveat",
        "no_data": "No responses in this period.",
        "chart_overall": "Overall index by unit (%)",
        "chart_elements": "Index by element (%)",
    },
}

NOTES: dict[str, list[str]] = {
    "vi": [
        "Khoảng tin cậy 95% theo phương pháp Wilson; “độ tin cậy thấp” khi nửa khoảng tin cậy "
        "rộng hơn {wide}.",
        "Ẩn số liệu: ô có ít hơn {min_cell_size} người trả lời bị ẩn; một ô khác cũng bị ẩn "
        "khi tổng và các phần còn lại có thể làm lộ ô đó (ẩn thứ cấp). Ô bị ẩn để trống.",
        "Số liệu giống hệt tệp xuất (sipas export) của cùng kỳ và cấp. Các số có một chữ số "
        "thập phân; dấu thập phân theo cài đặt của máy (dấu phẩy trên máy cài tiếng Việt).",
    ],
    "en": [
        "95% Wilson score interval; 'low reliability' when the half-width exceeds {wide}.",
        "Suppression: cells with fewer than {min_cell_size} respondents are hidden; another cell "
        "is hidden too where a total and the other parts would reveal it (secondary "
        "suppression). Hidden cells are left empty.",
        "The figures are exactly those of the export file (sipas export) of the same period and "
        "level, shown with one decimal.",
    ],
}


@dataclass(frozen=True)
class ReportTables:
    """What the report shows: the index table a query asks for, its counters and monthly trend."""

    query: ReportQuery
    units: pd.DataFrame  # index_table rows at the query's level
    counters: pd.DataFrame  # index_table rows at service_point level
    counter_unit: dict[str, str]  # service point code -> unit code at the query's level
    trend: list[tuple[Period, pd.DataFrame]]  # monthly index tables, oldest first
    data_as_of: datetime | None

    @property
    def period(self) -> Period:
        return self.query.period

    @property
    def level(self) -> str:
        return self.query.level


def figure(value: Any) -> float | None:
    """A table cell as a float, or None when missing or suppressed."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def months_before(period: Period, count: int = TREND_MONTHS) -> list[Period]:
    """The `count` calendar months ending with the month of the period's last day, oldest first."""
    year, month = period.end.year, period.end.month
    months: list[Period] = []
    for _ in range(count):
        months.append(parse_period(f"{year}-{month:02d}"))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


async def monthly_tables(
    database: Database, query: ReportQuery, months: int = TREND_MONTHS
) -> list[tuple[Period, pd.DataFrame]]:
    """The query's index table for each month up to its period's last month (same
    suppression as exports)."""
    return [
        (month, await index_table(database, replace(query, period=month)))
        for month in months_before(query.period, months)
    ]


def _in_scope(table: pd.DataFrame, level: str, allowed: ScopeCheck | None) -> pd.DataFrame:
    if allowed is None or table.empty:
        return table
    keep = table["unit_code"].map(lambda code: allowed(level, str(code)))
    return table[keep.astype(bool)].reset_index(drop=True)


async def report_tables(
    database: Database,
    query: ReportQuery,
    *,
    data_as_of: datetime | None,
    allowed: ScopeCheck | None = None,
) -> ReportTables:
    """The tables of a report, kept to what `allowed` lets the reader see."""
    units = await index_table(database, query)
    counters = await index_table(database, replace(query, level="service_point"))
    async with database.reading() as session:
        points = await unit_map(session, query.level)
    trend = await monthly_tables(database, query)
    level = query.level
    return ReportTables(
        query=query,
        units=_in_scope(units, level, allowed),
        counters=_in_scope(counters, "service_point", allowed),
        counter_unit=dict(zip(points["service_point_code"], points["unit_code"], strict=True)),
        trend=[(month, _in_scope(table, level, allowed)) for month, table in trend],
        data_as_of=data_as_of,
    )


# --- Layout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    """What every sheet is written with: the language's labels, the language and the zone."""

    text: dict[str, str]
    language: str
    zone: ZoneInfo

    def as_of(self, when: datetime | None) -> str:
        return self.text["never"] if when is None else local_time(when, self.zone, self.language)


def _sheet_name(text: str, taken: set[str]) -> str:
    base = _SHEET_NAME_FORBIDDEN.sub(" ", text).strip()[:31] or "unit"
    name, number = base, 2
    while name.lower() in taken:
        suffix = f" ({number})"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.lower())
    return name


def _header(sheet: Worksheet, row: int, labels: Sequence[str]) -> None:
    for column, label in enumerate(labels, start=1):
        cell = sheet.cell(row=row, column=column, value=label)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _name_width(names: Sequence[str]) -> int:
    """A column wide enough for its names (within _NAME_WIDTH; longer ones wrap)."""
    longest = max((len(name) for name in names), default=0) + 2
    return min(max(longest, _NAME_WIDTH[0]), _NAME_WIDTH[1])


def _print_setup(sheet: Worksheet, *, landscape: bool) -> None:
    """A4, fitted to the page width (as many pages down as needed), headings repeated."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4


def _one_decimal(sheet: Worksheet, row: int, columns: Sequence[int]) -> None:
    for column in columns:
        sheet.cell(row=row, column=column).number_format = _ONE_DECIMAL


def _caveat(sheet: Worksheet, cell: str, words: _Words) -> None:
    sheet[cell] = CAVEAT[words.language]
    sheet[cell].font = Font(italic=True)


def _flag(value: Any, text: dict[str, str]) -> str:
    return text["yes"] if bool(value) else text["no"]


def _overall_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["respondent_type"] == "all") & (table["scope"] == "overall")]


def _summary_sheet(sheet: Worksheet, tables: ReportTables, words: _Words) -> None:
    text, language = words.text, words.language
    period, method, layout = tables.period, tables.query.method, tables.query.layout
    sheet["A1"] = f"{text['title']} — {period_span(period, language)}"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = (
        f"{text['level']}: {LEVEL_NAMES[language][tables.level]} · {text['method']}: {method.id} "
        f"v{method.version} · {text['as_of']}: {words.as_of(tables.data_as_of)}"
    )
    _caveat(sheet, "A3", words)
    header_row = 4
    elements = [code for code, _ in layout.elements]
    _header(
        sheet,
        header_row,
        [
            text["unit_code"],
            text["unit_name"],
            text["n"],
            text["overall"],
            text["ci_low"],
            text["ci_high"],
            text["suppressed"],
            text["low_reliability"],
            *(label for _, label in layout.elements),
        ],
    )
    rows = tables.units[tables.units["respondent_type"] == "all"]
    names = [str(name) for name in rows["unit_name"]]
    _widths(sheet, [12, _name_width(names), 12, 12, 13, 13, 12, 12, *([14] * len(elements))])
    _print_setup(sheet, landscape=True)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    row = header_row
    for unit_code, unit_rows in rows.groupby("unit_code", sort=False):
        overall = unit_rows[unit_rows["scope"] == "overall"].iloc[0]
        by_element = unit_rows[unit_rows["scope"] == "element"].set_index("code")["index_pct"]
        row += 1
        sheet.append(
            [
                str(unit_code),
                str(overall["unit_name"]),
                int(overall["n_respondents"]),
                figure(overall["index_pct"]),
                figure(overall["ci_low"]),
                figure(overall["ci_high"]),
                _flag(overall["suppressed"], text),
                _flag(overall["low_reliability"], text),
                *(figure(by_element.get(code)) for code in elements),
            ]
        )
        _one_decimal(sheet, row, [4, 5, 6, *range(9, 9 + len(elements))])
    if row == header_row:
        sheet.cell(row=header_row + 1, column=1, value=text["no_data"])
        return
    chart = BarChart()
    chart.type = "bar"
    chart.title = text["chart_overall"]
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 100
    chart.legend = None
    chart.add_data(
        Reference(sheet, min_col=4, min_row=header_row, max_row=row), titles_from_data=True
    )
    chart.set_categories(Reference(sheet, min_col=2, min_row=header_row + 1, max_row=row))
    chart.height = max(7.5, 0.6 * (row - header_row) + 3)
    chart.width = 16
    # Below the table, after a page break: printed whole on its own page, not split.
    sheet.row_breaks.append(Break(id=row + 1))
    sheet.add_chart(chart, f"A{row + 3}")
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=3)


def _element_table(
    sheet: Worksheet, unit_rows: pd.DataFrame, tables: ReportTables, words: _Words
) -> int:
    """The unit's elements (respondent type 'all') and their chart; the last row used."""
    text, layout = words.text, tables.query.layout
    sheet["A4"] = text["elements"]
    sheet["A4"].font = Font(bold=True)
    _header(sheet, 5, [text["code"], text["label"], text["valid"], text["index"]])
    elements = unit_rows[
        (unit_rows["respondent_type"] == "all") & (unit_rows["scope"] == "element")
    ]
    row = 5
    for _, element in elements.iterrows():
        row += 1
        sheet.cell(row=row, column=1, value=str(element["code"]))
        sheet.cell(row=row, column=2, value=layout.label(str(element["code"])))
        sheet.cell(row=row, column=3, value=int(element["n_valid"]))
        sheet.cell(row=row, column=4, value=figure(element["index_pct"]))
        _one_decimal(sheet, row, [4])
    if row > 5:
        chart = BarChart()
        chart.title = text["chart_elements"]
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.legend = None
        chart.add_data(Reference(sheet, min_col=4, min_row=5, max_row=row), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=2, min_row=6, max_row=row))
        chart.width, chart.height = 16, 7.5
        sheet.add_chart(chart, f"A{row + 2}")
        row += 17  # the chart's rows
    return row


def _trend_table(
    sheet: Worksheet, row: int, unit_code: str, tables: ReportTables, words: _Words
) -> int:
    """The monthly trend of the unit's overall index and its chart, on a page of its own."""
    text = words.text
    sheet.row_breaks.append(Break(id=row))
    row += 1
    sheet.cell(row=row, column=1, value=text["trend"]).font = Font(bold=True)
    trend_header = row + 1
    _header(sheet, trend_header, [text["month"], text["n"], text["overall"], text["suppressed"]])
    row = trend_header
    for month, table in tables.trend:
        found = _overall_rows(table)
        found = found[found["unit_code"] == unit_code]
        row += 1
        sheet.cell(row=row, column=1, value=period_name(month, words.language))
        if not found.empty:
            sheet.cell(row=row, column=2, value=int(found.iloc[0]["n_respondents"]))
            sheet.cell(row=row, column=3, value=figure(found.iloc[0]["index_pct"]))
            sheet.cell(row=row, column=4, value=_flag(found.iloc[0]["suppressed"], text))
            _one_decimal(sheet, row, [3])
    if tables.trend:
        line = LineChart()
        line.title = text["trend"]
        line.y_axis.scaling.min = 0
        line.y_axis.scaling.max = 100
        line.legend = None
        line.add_data(
            Reference(sheet, min_col=3, min_row=trend_header, max_row=row), titles_from_data=True
        )
        line.set_categories(Reference(sheet, min_col=1, min_row=trend_header + 1, max_row=row))
        line.width, line.height = 16, 7.5
        sheet.add_chart(line, f"A{row + 2}")
        row += 17
    return row


def _unit_sheet(
    sheet: Worksheet,
    unit_code: str,
    unit_rows: pd.DataFrame,
    tables: ReportTables,
    words: _Words,
) -> None:
    text, layout = words.text, tables.query.layout
    overall = unit_rows[(unit_rows["respondent_type"] == "all") & (unit_rows["scope"] == "overall")]
    name = str(overall.iloc[0]["unit_name"]) if not overall.empty else unit_code
    sheet["A1"] = f"{unit_code} {name} — {period_span(tables.period, words.language)}"
    sheet["A1"].font = Font(bold=True, size=14)
    _caveat(sheet, "A2", words)
    _print_setup(sheet, landscape=True)
    row = _trend_table(
        sheet, _element_table(sheet, unit_rows, tables, words) + 1, unit_code, tables, words
    )

    # Counters of the unit.
    counters = _overall_rows(tables.counters)
    counters = counters[
        counters["unit_code"].map(lambda code: tables.counter_unit.get(str(code)) == unit_code)
    ]
    names = [str(name) for name in counters.get("unit_name", [])]
    if tables.level != "service_point" and not counters.empty:
        row += 2
        sheet.cell(row=row, column=1, value=text["counters"]).font = Font(bold=True)
        row += 1
        _header(
            sheet,
            row,
            [text["code"], text["unit_name"], text["n"], text["overall"], text["suppressed"]],
        )
        for _, counter in counters.iterrows():
            row += 1
            sheet.cell(row=row, column=1, value=str(counter["unit_code"]))
            sheet.cell(row=row, column=2, value=str(counter["unit_name"]))
            sheet.cell(row=row, column=3, value=int(counter["n_respondents"]))
            sheet.cell(row=row, column=4, value=figure(counter["index_pct"]))
            sheet.cell(row=row, column=5, value=_flag(counter["suppressed"], text))
            _one_decimal(sheet, row, [4])
    row += 2

    # Every row of the export for this unit: overall, elements, items, per respondent type.
    _header(
        sheet,
        row,
        [
            text["respondent_type"],
            text["scope"],
            text["code"],
            text["label"],
            text["n"],
            text["valid"],
            text["satisfied"],
            text["index"],
            text["ci_low"],
            text["ci_high"],
            text["suppressed"],
            text["low_reliability"],
        ],
    )
    for _, cell in unit_rows.iterrows():
        row += 1
        sheet.append(
            [
                row_name(str(cell["respondent_type"]), words.language),
                row_name(str(cell["scope"]), words.language),
                str(cell["code"]),
                layout.label(str(cell["code"])),
                int(cell["n_respondents"]),
                int(cell["n_valid"]),
                figure(cell["n_satisfied"]),
                figure(cell["index_pct"]),
                figure(cell["ci_low"]),
                figure(cell["ci_high"]),
                _flag(cell["suppressed"], text),
                _flag(cell["low_reliability"], text),
            ]
        )
        sheet.cell(row=row, column=4).alignment = Alignment(wrap_text=True, vertical="top")
        _one_decimal(sheet, row, [7, 8, 9, 10])
    _widths(sheet, [16, _name_width([name, *names]), 14, 60, 12, 14, 14, 12, 13, 13, 12, 12])


def _notes_sheet(sheet: Worksheet, tables: ReportTables, words: _Words) -> None:
    text, language = words.text, words.language
    period, method, layout = tables.period, tables.query.method, tables.query.layout
    min_cell_size = tables.query.min_cell_size
    facts = [
        (text["period"], period_span(period, language)),
        (text["level"], LEVEL_NAMES[language][tables.level]),
        (text["method"], f"{method.id} v{method.version} (sha256 {method.sha256[:16]}…)"),
        (text["questionnaire"], f"{layout.questionnaire_id} v{layout.questionnaire_version}"),
        (text["as_of"], words.as_of(tables.data_as_of)),
        (text["min_cell_size"], str(min_cell_size)),
        (text["caveat"], CAVEAT[language]),
    ]
    sheet["A1"] = text["notes"]
    sheet["A1"].font = Font(bold=True, size=14)
    row = 2
    for label, value in facts:
        row += 1
        sheet.cell(row=row, column=1, value=label).font = Font(bold=True)
        sheet.cell(row=row, column=2, value=value).alignment = Alignment(wrap_text=True)
        sheet.cell(row=row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    row += 1
    sheet.cell(row=row + 1, column=1, value=text["method"]).font = Font(bold=True)
    wide = points_wide(LOW_RELIABILITY_HALF_WIDTH, language)
    for note in [
        *method_notes(method, language),
        *(note.format(min_cell_size=min_cell_size, wide=wide) for note in NOTES[language]),
    ]:
        row += 1
        cell = sheet.cell(row=row, column=2, value=note)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    _widths(sheet, [26, 100])
    _print_setup(sheet, landscape=False)


def xlsx_report(tables: ReportTables, *, language: str = "vi", zone: ZoneInfo = _ZONE) -> bytes:
    """The report workbook's bytes: summary, a sheet per unit, notes (language vi or en;
    times in `zone`, SIPAS_TIMEZONE)."""
    language = language if language in TEXT else "vi"
    words = _Words(TEXT[language], language, zone)
    workbook = Workbook()
    summary = workbook.active
    summary.title = words.text["summary"]
    taken = {summary.title.lower(), words.text["notes"].lower()}
    _summary_sheet(summary, tables, words)
    for unit_code, unit_rows in tables.units.groupby("unit_code", sort=False):
        name = str(unit_rows.iloc[0]["unit_name"])
        sheet = workbook.create_sheet(_sheet_name(f"{unit_code} {name}", taken))
        _unit_sheet(sheet, str(unit_code), unit_rows, tables, words)
    _notes_sheet(workbook.create_sheet(words.text["notes"]), tables, words)
    workbook.properties.title = f"SIPAS {period_name(tables.period, language)} {tables.level}"
    return workbook_bytes(workbook)


def report_filename(period: Period, level: str) -> str:
    """The download name of a report, e.g. sipas-report-2026-11-commune.xlsx."""
    return f"sipas-report-{period.label}-{level}.xlsx"
