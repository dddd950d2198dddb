"""The XLSX report: a summary sheet, a sheet per unit, native charts, notes; figures as in the export."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import update

from analytics.aggregate import aggregate
from analytics.days import parse_period
from analytics.layout import bundled_layout
from analytics.method import load_method
from analytics.query import ReportQuery
from analytics.report import index_table
from analytics.xlsx_report import report_tables, xlsx_report
from storage.db import Database
from storage.models import AdminUnit, ServicePoint
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey, answers
from tests.clock import built_at_two_instants
from tests.formulas import FORMULA, cell_texts, live_cells

METHOD = load_method()
PERIOD = parse_period("2026-11")
AS_OF = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
QUERY = ReportQuery(PERIOD, "commune", SIPAS_LAYOUT, METHOD, 10)


async def seeded(survey: Survey) -> Database:
    await survey.many(12, TYPICAL | {"10.1": "nhieu"}, point="W1-A")
    await survey.many(3, TYPICAL | answers(PAKN="2") | {"10.1": "it"}, point="W1-B")
    await survey.many(
        4, answers(TIEP_CAN="2", TTHC="4", CONG_CHUC="5", KET_QUA="3", PAKN="4"), point="W2-A"
    )
    await survey.many(5, TYPICAL, point="W1-A", day=date(2026, 10, 3))
    await aggregate(survey.database, SIPAS_LAYOUT)
    return survey.database


async def test_report_sheets_charts_and_figures_match_the_export(survey: Survey) -> None:
    database = await seeded(survey)
    tables = await report_tables(database, QUERY, data_as_of=AS_OF)
    data = xlsx_report(tables)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "Tổng hợp",
        "00004 Phường Ba Đình",
        "00070 Phường Hoàn Kiếm",
        "Ghi chú",
    ]

    export = await index_table(database, QUERY)
    overall = export[(export["respondent_type"] == "all") & (export["scope"] == "overall")]
    summary = book["Tổng hợp"]
    rows = {row[0]: row for row in summary.iter_rows(min_row=5, values_only=True)}
    for _, expected in overall.iterrows():
        row = rows[expected["unit_code"]]
        assert row[2] == expected["n_respondents"]
        if expected["suppressed"]:
            assert row[3] is None and row[6] == "có"  # hidden, and marked
        else:
            assert row[3] == expected["index_pct"]
            assert (row[4], row[5]) == (expected["ci_low"], expected["ci_high"])
    assert rows["00004"][2] == 15 and rows["00070"][3] is None  # 4 respondents < 10

    assert len(summary._charts) == 1
    ward = book["00004 Phường Ba Đình"]
    assert len(ward._charts) == 2  # elements (bar) and trend (line)
    values = [cell for row in ward.iter_rows(values_only=True) for cell in row]
    assert "Tháng 10/2026" in values and "W1-A" in values  # the trend months and the counters
    # Question 10, as scope "nhu cầu, mong đợi": 15 answers, hidden with the ward (secondary
    # suppression: 00070 is under 10).
    expectation = [
        row
        for row in ward.iter_rows(values_only=True)
        if row[:3] == ("tất cả", "nhu cầu, mong đợi", "10.1")
    ]
    assert len(expectation) == 1 and expectation[0][3] == "Priority 1"
    assert (expectation[0][5], expectation[0][7], expectation[0][10]) == (15, None, "có")

    notes = " ".join(
        str(cell) for row in book["Ghi chú"].iter_rows(values_only=True) for cell in row if cell
    )
    assert "sipas-2023-default" in notes and "ít hơn 10 người trả lời" in notes

    first, later = built_at_two_instants(lambda: xlsx_report(tables))
    assert first == later == data  # the same bytes whenever the report is built


def _texts(sheet: Worksheet) -> list[str]:
    return [str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_report_reads_as_vietnamese(survey: Survey) -> None:
    database = await seeded(survey)
    worded = replace(QUERY, layout=bundled_layout("sipas-2023"))  # the questions' wording
    tables = await report_tables(database, worded, data_as_of=AS_OF)
    book = load_workbook(io.BytesIO(xlsx_report(tables, zone=ZoneInfo("Asia/Ho_Chi_Minh"))))
    summary, ward, notes = book["Tổng hợp"], book["00004 Phường Ba Đình"], book["Ghi chú"]

    heading = " ".join(_texts(summary)[:3])
    assert "Tháng 11/2026 (01/11/2026 – 30/11/2026)" in heading
    assert "Cấp: xã/phường" in heading and "01/12/2026 08:30" in heading  # local time
    for sheet in book.worksheets:  # the caveat on every sheet
        assert any("không phải Chỉ số SIPAS quốc gia" in text for text in _texts(sheet))
    ward_texts = _texts(ward)
    assert "Số câu trả lời hợp lệ" in ward_texts and "commune" not in ward_texts
    assert any(text.startswith("Trụ sở cơ quan tiếp nhận hồ sơ") for text in ward_texts)
    figures = [cell for row in summary.iter_rows(min_row=5) for cell in row[3:6]]
    assert figures and all(cell.number_format == "0.0" for cell in figures)
    assert summary.page_setup.fitToWidth == 1 and summary.page_setup.paperSize == 9  # A4
    assert summary.sheet_properties.pageSetUpPr.fitToPage and summary.row_breaks.count == 1
    note_texts = " ".join(_texts(notes))
    assert "4 hoặc 5" in note_texts and "không trọng số" in note_texts
    assert "±10 điểm phần trăm" in note_texts and "min_cell_size" not in note_texts


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_notes_follow_the_method_in_use(survey: Survey) -> None:
    database = await seeded(survey)
    neutral_half = replace(QUERY, method=load_method("sipas-2023-neutral-half"))
    tables = await report_tables(database, neutral_half, data_as_of=AS_OF)
    notes = " ".join(_texts(load_workbook(io.BytesIO(xlsx_report(tables)))["Ghi chú"]))
    assert "câu trả lời 3 được tính 50% của một câu trả lời hài lòng" in notes
    assert "trung bình có trọng số" in notes and "CONG_CHUC × 2" in notes
    assert "không trọng số" not in notes


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_report_kept_to_a_scope_and_in_english(survey: Survey) -> None:
    database = await seeded(survey)
    tables = await report_tables(
        database, QUERY, data_as_of=None, allowed=lambda level, code: code == "00004"
    )
    book = load_workbook(io.BytesIO(xlsx_report(tables, language="en")))
    assert book.sheetnames == ["Summary", "00004 Phường Ba Đình", "Notes"]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_names_that_look_like_formulas_are_text_in_the_report(survey: Survey) -> None:
    async with survey.database.transaction() as session:
        await session.execute(
            update(AdminUnit)
            .where(AdminUnit.code == "00004")
            .values(name=FORMULA, full_name=FORMULA)
        )
        await session.execute(
            update(ServicePoint).where(ServicePoint.code == "W1-A").values(name="@Quầy 1")
        )
    database = await seeded(survey)
    tables = await report_tables(database, QUERY, data_as_of=AS_OF)

    data = xlsx_report(tables)

    assert live_cells(data, "xlsx") == []
    assert {"'" + FORMULA, "'@Quầy 1"} <= set(cell_texts(data, "xlsx"))
    summary = load_workbook(io.BytesIO(data)).worksheets[0]
    figures = [row[2] for row in summary.iter_rows(min_row=5, values_only=True) if row[0]]
    assert figures and all(isinstance(value, int) for value in figures)  # numbers stay numbers
