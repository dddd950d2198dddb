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

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analytics.days import Period, parse_period
from analytics.export import workbook_bytes
from analytics.levels import unit_map
from analytics.query import ReportQuery
from analytics.report import index_table
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
        "ci_low": "KTC 95% thấp",
        "ci_high": "KTC 95% cao",
        "suppressed": "Ẩn (mẫu nhỏ)",
        "low_reliability": "Độ tin cậy thấp",
        "respondent_type": "Đối tượng",
        "scope": "Phạm vi",
        "code": "Mã",
        "label": "Nội dung",
        "valid": "Câu trả lời hợp lệ",
        "satisfied": "Hài lòng",
        "index": "Chỉ số (%)",
        "month": "Tháng",
        "trend": "Xu hướng theo tháng (chỉ số chung)",
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
        "no_data": "Không có phản hồi trong kỳ này.",
        "all": "tất cả",
        "citizen": "người dân",
        "organisation": "tổ chức",
        "overall_scope": "chung",
        "element": "yếu tố",
        "item": "câu hỏi",
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
        "satisfied": "Satisfied",
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
        "no_data": "No responses in this period.",
        "all": "all",
        "citizen": "citizens",
        "organisation": "organisations",
        "overall_scope": "overall",
        "element": "element",
        "item": "item",
        "chart_overall": "Overall index by unit (%)",
        "chart_elements": "Index by element (%)",
    },
}

NOTES: dict[str, list[str]] = {
    "vi": [
        "Chỉ số câu hỏi = tỷ lệ câu trả lời hợp lệ (1–5) là 4 (Hài lòng) hoặc 5 (Rất hài lòng), "
        "theo định nghĩa của phương pháp nêu trên. Bỏ qua và 'không áp dụng' không tính vào mẫu số.",
        "Chỉ số yếu tố = trung bình các chỉ số câu hỏi của yếu tố; chỉ số chung = trung bình "
        "các chỉ số yếu tố (yếu tố không có câu trả lời hợp lệ bị bỏ ra).",
        "Khoảng tin cậy 95% theo Wilson; 'độ tin cậy thấp' khi nửa khoảng rộng hơn 10 điểm.",
        "Ẩn số liệu: ô có ít hơn {min_cell_size} người trả lời bị ẩn; một ô khác cũng bị ẩn "
        "khi tổng và các phần còn lại có thể làm lộ ô đó (ẩn thứ cấp). Ô bị ẩn để trống.",
        "Chỉ tính phản hồi đã làm sạch: phản hồi bị gắn cờ chất lượng (trả lời đồng loạt, quá "
        "nhanh, lặp lại) bị loại.",
        "Số liệu giống hệt tệp xuất (sipas export) của cùng kỳ và cấp.",
    ],
    "en": [
        "Item index = share of valid answers (1–5) that are 4 (satisfied) or 5 (very satisfied), "
        "as the method above defines it. Skipped and not-applicable answers are out of the "
        "denominator.",
        "Element index = mean of its item indices; overall index = mean of the element indices "
        "(an element with no valid answers is left out).",
        "95% Wilson score interval; 'low reliability' when the half-width exceeds 10 points.",
        "Suppression: cells with fewer than {min_cell_size} respondents are hidden; another cell "
        "is hidden too where a total and the other parts would reveal it (secondary "
        "suppression). Hidden cells are left empty.",
        "Cleaned responses only: responses with a quality flag (straight-lining, speeding, "
        "repeats) are left out.",
        "The figures are exactly those of the export file (sipas export) of the same period and "
        "level.",
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


def _flag(value: Any, text: dict[str, str]) -> str:
    return text["yes"] if bool(value) else text["no"]


def _overall_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["respondent_type"] == "all") & (table["scope"] == "overall")]


def _summary_sheet(sheet: Worksheet, tables: ReportTables, text: dict[str, str]) -> None:
    period, method, layout = tables.period, tables.query.method, tables.query.layout
    sheet["A1"] = f"{text['title']} — {period.label} ({period.start} – {period.end})"
    sheet["A1"].font = Font(bold=True, size=14)
    as_of = tables.data_as_of.isoformat(timespec="minutes") if tables.data_as_of else text["never"]
    sheet["A2"] = (
        f"{text['level']}: {tables.level} · {text['method']}: {method.id} v{method.version} · "
        f"{text['as_of']}: {as_of}"
    )
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
    _widths(sheet, [12, 30, 12, 12, 10, 10, 12, 12, *([14] * len(elements))])
    rows = tables.units[tables.units["respondent_type"] == "all"]
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
    sheet.add_chart(chart, f"{get_column_letter(len(elements) + 10)}{header_row}")
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=3)


def _unit_sheet(
    sheet: Worksheet,
    unit_code: str,
    unit_rows: pd.DataFrame,
    tables: ReportTables,
    text: dict[str, str],
) -> None:
    labels = dict(tables.query.layout.elements)
    overall = unit_rows[(unit_rows["respondent_type"] == "all") & (unit_rows["scope"] == "overall")]
    name = str(overall.iloc[0]["unit_name"]) if not overall.empty else unit_code
    sheet["A1"] = f"{unit_code} {name} — {tables.period.label}"
    sheet["A1"].font = Font(bold=True, size=14)
    _widths(sheet, [14, 10, 12, 30, 10, 12, 10, 10, 10, 10, 12, 12])

    # Elements (respondent type 'all') first: the chart reads them.
    sheet["A3"] = text["elements"]
    sheet["A3"].font = Font(bold=True)
    _header(sheet, 4, [text["code"], text["label"], text["n"], text["index"]])
    elements = unit_rows[
        (unit_rows["respondent_type"] == "all") & (unit_rows["scope"] == "element")
    ]
    row = 4
    for _, element in elements.iterrows():
        row += 1
        sheet.cell(row=row, column=1, value=str(element["code"]))
        sheet.cell(row=row, column=2, value=labels.get(str(element["code"]), ""))
        sheet.cell(row=row, column=3, value=int(element["n_valid"]))
        sheet.cell(row=row, column=4, value=figure(element["index_pct"]))
    if row > 4:
        chart = BarChart()
        chart.title = text["chart_elements"]
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.legend = None
        chart.add_data(Reference(sheet, min_col=4, min_row=4, max_row=row), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=2, min_row=5, max_row=row))
        chart.width, chart.height = 16, 7.5
        sheet.add_chart(chart, "F3")

    # Trend by month.
    row = max(row, 18) + 2
    sheet.cell(row=row, column=1, value=text["trend"]).font = Font(bold=True)
    trend_header = row + 1
    _header(sheet, trend_header, [text["month"], text["n"], text["overall"], text["suppressed"]])
    row = trend_header
    for month, table in tables.trend:
        found = _overall_rows(table)
        found = found[found["unit_code"] == unit_code]
        row += 1
        sheet.cell(row=row, column=1, value=month.label)
        if not found.empty:
            sheet.cell(row=row, column=2, value=int(found.iloc[0]["n_respondents"]))
            sheet.cell(row=row, column=3, value=figure(found.iloc[0]["index_pct"]))
            sheet.cell(row=row, column=4, value=_flag(found.iloc[0]["suppressed"], text))
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
        sheet.add_chart(line, f"F{trend_header}")
    row = max(row, trend_header + 15) + 2

    # Counters of the unit.
    counters = _overall_rows(tables.counters)
    counters = counters[
        counters["unit_code"].map(lambda code: tables.counter_unit.get(str(code)) == unit_code)
    ]
    if tables.level != "service_point" and not counters.empty:
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
    scope_text = {
        "overall": text["overall_scope"],
        "element": text["element"],
        "item": text["item"],
    }
    for _, cell in unit_rows.iterrows():
        sheet.append(
            [
                text.get(str(cell["respondent_type"]), str(cell["respondent_type"])),
                scope_text.get(str(cell["scope"]), str(cell["scope"])),
                str(cell["code"]),
                labels.get(str(cell["code"]), ""),
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


def _notes_sheet(sheet: Worksheet, tables: ReportTables, language: str) -> None:
    text = TEXT[language]
    period, method, layout = tables.period, tables.query.method, tables.query.layout
    min_cell_size = tables.query.min_cell_size
    as_of = tables.data_as_of.isoformat(timespec="minutes") if tables.data_as_of else text["never"]
    facts = [
        (text["period"], f"{period.label} ({period.start} – {period.end})"),
        (text["level"], tables.level),
        (text["method"], f"{method.id} v{method.version} (sha256 {method.sha256[:16]}…)"),
        (text["questionnaire"], f"{layout.questionnaire_id} v{layout.questionnaire_version}"),
        (text["as_of"], as_of),
        ("min_cell_size", str(min_cell_size)),
    ]
    sheet["A1"] = text["notes"]
    sheet["A1"].font = Font(bold=True, size=14)
    row = 2
    for label, value in facts:
        row += 1
        sheet.cell(row=row, column=1, value=label).font = Font(bold=True)
        sheet.cell(row=row, column=2, value=value)
    row += 2
    sheet.cell(row=row, column=1, value=text["method"]).font = Font(bold=True)
    sheet.cell(row=row, column=2, value=method.description)
    for note in NOTES[language]:
        row += 1
        cell = sheet.cell(row=row, column=2, value=note.format(min_cell_size=min_cell_size))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    _widths(sheet, [22, 100])


def xlsx_report(tables: ReportTables, *, language: str = "vi") -> bytes:
    """The report workbook's bytes: summary, a sheet per unit, notes (language vi or en)."""
    text = TEXT.get(language, TEXT["vi"])
    language = language if language in TEXT else "vi"
    workbook = Workbook()
    summary = workbook.active
    summary.title = text["summary"]
    taken = {summary.title.lower(), text["notes"].lower()}
    _summary_sheet(summary, tables, text)
    for unit_code, unit_rows in tables.units.groupby("unit_code", sort=False):
        name = str(unit_rows.iloc[0]["unit_name"])
        sheet = workbook.create_sheet(_sheet_name(f"{unit_code} {name}", taken))
        _unit_sheet(sheet, str(unit_code), unit_rows, tables, text)
    _notes_sheet(workbook.create_sheet(text["notes"]), tables, language)
    workbook.properties.title = f"SIPAS {tables.period.label} {tables.level}"
    return workbook_bytes(workbook)


def report_filename(period: Period, level: str) -> str:
    """The download name of a report, e.g. sipas-report-2026-11-commune.xlsx."""
    return f"sipas-report-{period.label}-{level}.xlsx"
