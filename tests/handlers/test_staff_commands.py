"""Staff chat commands at handler level: enrolment, /summary, /ranking, /export, and strangers."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from analytics.aggregate import aggregate
from analytics.days import parse_period
from analytics.method import load_method
from analytics.query import ReportQuery
from analytics.report import index_table
from handlers.staff import StaffCommands
from storage.db import Database
from storage.staff import add_staff, disable_staff
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey, answers
from tests.conftest import TEST_SECRET

METHOD = load_method()
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
STRANGER = "555000111"
WARD_STAFF = "777000222"


def commands(database: Database) -> StaffCommands:
    return StaffCommands(
        database,
        secret=TEST_SECRET,
        zone=ZoneInfo("Asia/Ho_Chi_Minh"),
        layout=SIPAS_LAYOUT,
        method=METHOD,
        min_cell_size=10,
        clock=lambda: NOW,
    )


@pytest.fixture
async def bare(database: Database) -> StaffCommands:
    """Units but no responses."""
    await Survey(database).units()
    return commands(database)


@pytest.fixture
async def staff(database: Database) -> StaffCommands:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL, point="W1-A")
    await survey.many(11, TYPICAL | answers(PAKN="2"), point="W1-B")
    await survey.many(
        12, answers(TIEP_CAN="2", TTHC="4", CONG_CHUC="5", KET_QUA="3", PAKN="4"), point="W2-A"
    )
    await survey.many(10, TYPICAL | answers(TTHC="2"), point="W1-A", day=date(2026, 10, 5))
    await survey.many(3, TYPICAL, point="W1-B", day=date(2026, 10, 6))
    await aggregate(database, SIPAS_LAYOUT)
    return commands(database)


async def new_staff(
    database: Database, name: str, role: str, units: list[str], now: datetime = NOW
) -> str:
    async with database.transaction() as session:
        issued = await add_staff(
            session, TEST_SECRET, name=name, role=role, unit_codes=units, now=now
        )
    return issued.enrolment_code


async def test_strangers_and_wrong_codes_get_what_any_unknown_command_gets(
    bare: StaffCommands,
) -> None:
    staff = bare
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    for command, args in (
        ("summary", []),
        ("ranking", ["2026-11"]),
        ("export", []),
        ("staff", ["WRONG-CODE"]),
        ("staff", []),
        ("weather", []),
    ):
        assert await staff.handle("telegram", STRANGER, command, args) is None
    # Only Telegram ids can be bound; a good code on another channel is no good.
    assert await staff.handle("zalo_oa", STRANGER, "staff", [code]) is None
    # Enough wrong codes and /staff goes quiet for that user, even with the right code.
    for _ in range(4):
        assert await staff.handle("telegram", STRANGER, "staff", ["AAAAA-BBBBB"]) is None
    assert await staff.handle("telegram", STRANGER, "staff", [code]) is None
    # Someone else still enrols with it, once.
    replies = await staff.handle("telegram", WARD_STAFF, "staff", [code.lower().replace("-", " ")])
    assert replies is not None and "lan" in replies[0].text
    assert await staff.handle("telegram", "999", "staff", [code]) is None
    expired = await new_staff(staff.database, "old", "viewer", ["00004"], NOW - timedelta(days=4))
    assert await staff.handle("telegram", "999", "staff", [expired]) is None


async def test_summary_ranking_and_export_for_a_ward_viewer_and_an_admin(
    staff: StaffCommands,
) -> None:
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None

    replies = await staff.handle("telegram", WARD_STAFF, "summary", [], locale="vi")
    assert replies is not None and len(replies) == 2
    text = replies[0].text
    table = await index_table(
        staff.database,
        ReportQuery(parse_period("2026-11"), "commune", SIPAS_LAYOUT, METHOD, 10),
        unit_code="00004",
    )
    overall = table[(table["respondent_type"] == "all") & (table["scope"] == "overall")].iloc[0]
    assert "Phường Ba Đình (00004) · Tháng 11/2026" in text
    assert "Số người trả lời: 23" in text
    assert f"Chỉ số chung: {overall['index_pct']:.1f}".replace(".", ",") in text
    assert "so với Tháng 10/2026" in text and "▲" in text  # TTHC was 0 in October
    assert "không phải Chỉ số SIPAS quốc gia" in text  # the caveat
    assert replies[1].image is not None and replies[1].image.startswith(b"\x89PNG")

    other = await staff.handle("telegram", WARD_STAFF, "summary", ["00070"], locale="en")
    assert other is not None and other[0].text == "Unit 00070 is not one of yours."
    counter = await staff.handle("telegram", WARD_STAFF, "summary", ["W1-B", "2026-11"])
    assert counter is not None and "Quầy W1-B" in counter[0].text
    bad = await staff.handle("telegram", WARD_STAFF, "summary", ["2026-13"], locale="en")
    assert bad is not None and bad[0].text.startswith("Not a period: “2026-13”")
    suppressed = await staff.handle(
        "telegram", WARD_STAFF, "summary", ["W1-B", "2026-10"], locale="en"
    )
    assert suppressed is not None and "Overall: suppressed" in suppressed[0].text

    ranking = await staff.handle("telegram", WARD_STAFF, "ranking", ["2026-11"], locale="en")
    assert ranking is not None
    lines = ranking[0].text.splitlines()
    assert lines[0].startswith("Ranking of counters · November 2026")
    assert lines[1].startswith("1. Quầy W1-A: 100.0 (75.8–100.0)")
    # 80.0 (50.5–94.0) overlaps the interval above it: marked, and the mark explained.
    assert lines[2].startswith("≈2. Quầy W1-B: 80.0 (50.5–94.0)")
    assert lines[3].startswith("≈: the interval overlaps that of the unit ranked just above")
    assert "W2-A" not in ranking[0].text  # another ward's counter

    export = await staff.handle("telegram", WARD_STAFF, "export", ["2026-11"])
    assert export is not None and export[0].filename == "sipas-report-2026-11-commune.xlsx"
    assert export[0].document is not None
    book = load_workbook(io.BytesIO(export[0].document))
    assert book.sheetnames == ["Tổng hợp", "00004 Phường Ba Đình", "Ghi chú"]

    async with staff.database.transaction() as session:
        await disable_staff(session, "lan", NOW)
    assert await staff.handle("telegram", WARD_STAFF, "summary", []) is None

    code = await new_staff(staff.database, "snv", "admin", [])
    assert await staff.handle("telegram", "42", "staff", [code]) is not None
    ranking = await staff.handle("telegram", "42", "ranking", ["2026-11"], locale="en")
    assert ranking is not None
    assert "1. Phường Ba Đình" in ranking[0].text and "2. Phường Hoàn Kiếm" in ranking[0].text
    summary = await staff.handle("telegram", "42", "summary", [])
    assert summary is not None and "Thành phố Hà Nội (01)" in summary[0].text


@pytest.mark.parametrize(
    "words",
    [["11/2026"], ["T11/2026"], ["tháng", "11/2026"], ["Tháng", "11/2026"], ["2026-11"]],
)
async def test_a_month_as_staff_write_it(staff: StaffCommands, words: list[str]) -> None:
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None
    replies = await staff.handle("telegram", WARD_STAFF, "summary", ["00004", *words])
    assert replies is not None and "· Tháng 11/2026" in replies[0].text


@pytest.mark.parametrize(
    "words", [["00004", "T11"], ["00004", "tháng", "11"], ["00004", "11/26"], ["00004", "x"]]
)
async def test_a_period_not_understood_is_an_error_not_this_month(
    staff: StaffCommands, words: list[str]
) -> None:
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None
    for command, args in (("summary", words), ("ranking", words[1:]), ("export", words[1:])):
        replies = await staff.handle("telegram", WARD_STAFF, command, args)
        assert replies is not None and len(replies) == 1, command
        assert replies[0].text.startswith("Không hiểu kỳ “"), command
        assert "T11/2026" in replies[0].text and "2026-12" not in replies[0].text


async def test_quarters_an_empty_period_in_text_and_roles_in_words(staff: StaffCommands) -> None:
    code = await new_staff(staff.database, "snv", "admin", [])
    enrolled = await staff.handle("telegram", "42", "staff", [code])
    assert enrolled is not None and "(quản trị viên)" in enrolled[0].text
    for words in (["quý", "4/2026"], ["Q4/2026"], ["2026-Q4"]):
        ranking = await staff.handle("telegram", "42", "ranking", words)
        assert ranking is not None and "· Quý IV/2026" in ranking[0].text
    empty = await staff.handle("telegram", "42", "export", ["2025-11"])
    assert empty is not None and len(empty) == 1 and empty[0].document is None
    assert empty[0].text.startswith("Không có phản hồi trong Tháng 11/2025")


async def test_help_lists_staff_commands_for_staff_only(staff: StaffCommands) -> None:
    assert await staff.help_text("telegram", WARD_STAFF) is None
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None
    found = await staff.help_text("telegram", WARD_STAFF)
    assert found is not None and "/summary" in found and "/export" in found


async def test_no_arrow_when_the_change_is_within_the_interval(staff: StaffCommands) -> None:
    code = await new_staff(staff.database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None
    replies = await staff.handle("telegram", WARD_STAFF, "summary", ["00004", "11/2026"])
    assert replies is not None
    lines = replies[0].text.splitlines()
    # Overall 90.4 (72.1–97.2) now; October's overall lies inside that interval: no arrow.
    overall = next(line for line in lines if line.startswith("Chỉ số chung:"))
    assert "≈ +" in overall and "▲" not in overall and "▼" not in overall
    # TTHC was 0 in October, outside this month's interval: a clear rise.
    assert any("▲" in line for line in lines if line.startswith("• Tthc"))


async def test_ranking_compares_only_units_with_every_element(database: Database) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL | answers(PAKN="2"), point="W1-A")  # 80.0 on five elements
    await survey.many(12, answers(TIEP_CAN="5", TTHC="4"), point="W1-B")  # 100.0 on two
    await aggregate(database, SIPAS_LAYOUT)
    staff = commands(database)
    code = await new_staff(database, "lan", "viewer", ["00004"])
    assert await staff.handle("telegram", WARD_STAFF, "staff", [code]) is not None
    ranking = await staff.handle("telegram", WARD_STAFF, "ranking", ["2026-11"], locale="en")
    assert ranking is not None
    lines = ranking[0].text.splitlines()
    assert lines[1].startswith("1. Quầy W1-A: 80.0")
    assert lines[2].startswith("– Quầy W1-B: 100.0")
    assert lines[2].endswith("only 2 of 5 elements: not ranked with units that have all")
