"""`/par` in the staff chat: the PAR Index within each staff member's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from analytics.method import load_method
from handlers.staff import StaffCommands
from par.assessment import open_assessment
from par.criteria import load_criteria
from par.self_assessment import import_self_assessment
from storage.db import Database
from storage.staff import add_staff
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.conftest import TEST_SECRET
from tests.par.scorecards import scheme_file, units_and_responses

NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
WARD_STAFF, DEPARTMENT_STAFF, ADMIN = "777000222", "777000333", "777000444"


async def enrolled(staff: StaffCommands, chat: str, name: str, role: str, units: list[str]) -> None:
    async with staff.database.transaction() as session:
        issued = await add_staff(
            session, TEST_SECRET, name=name, role=role, unit_codes=units, now=NOW
        )
    assert await staff.handle("telegram", chat, "staff", [issued.enrolment_code]) is not None


async def par(staff: StaffCommands, chat: str, *args: str, locale: str = "vi") -> str:
    replies = await staff.handle("telegram", chat, "par", list(args), locale=locale)
    assert replies is not None and len(replies) == 1
    return replies[0].text


async def test_a_viewer_sees_only_the_scorecards_of_their_units(
    database: Database, tmp_path: Path
) -> None:
    staff = StaffCommands(
        database,
        secret=TEST_SECRET,
        zone=ZoneInfo("Asia/Ho_Chi_Minh"),
        layout=SIPAS_LAYOUT,
        method=load_method(),
        min_cell_size=10,
        clock=lambda: NOW,
    )
    await units_and_responses(database)
    await enrolled(staff, WARD_STAFF, "lan", "viewer", ["00004"])
    await enrolled(staff, DEPARTMENT_STAFF, "minh", "viewer", ["HN-STP"])
    await enrolled(staff, ADMIN, "council", "admin", [])
    assert await par(staff, WARD_STAFF) == "Chưa mở kỳ đánh giá Chỉ số cải cách hành chính nào."
    await open_assessment(database, load_criteria(scheme_file(tmp_path)), NOW)
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "Mã đơn vị,Mã tiêu chí,Điểm tự chấm,Tài liệu kiểm chứng\n00004,A1,3,QĐ 1\n00070,A1,4,QĐ 2\n",
        encoding="utf-8",
    )
    await import_self_assessment(database, scores, now=NOW)

    ward = (await par(staff, WARD_STAFF)).splitlines()
    assert ward[0] == "Chỉ số cải cách hành chính năm 2026 · Bộ tiêu chí thử"
    assert ward[1:-1] == [
        "UBND xã, phường (hạng/số đơn vị):",
        "1/3. Phường Ba Đình: 13/20 (65.00%) Đạt (1 tiêu chí chưa có điểm)",
    ]
    department = await par(staff, DEPARTMENT_STAFF, "2026", locale="en")
    assert "Departments (place/units):" in department
    assert "1/1. Sở Tư pháp: 0/20 (0.00%) unclassified (5 criteria without points)" in department
    assert "Phường" not in department
    everyone = await par(staff, ADMIN)
    assert all(name in everyone for name in ("Sở Tư pháp", "Ba Đình", "Hoàn Kiếm", "Cửa Nam"))

    assert await par(staff, WARD_STAFF, "00070") == "Đơn vị 00070 không thuộc phạm vi của bạn."
    card = (await par(staff, WARD_STAFF, "00004")).splitlines()
    assert card[1:4] == [
        "Phường Ba Đình (00004): 13/20 điểm, chỉ số 65.00%, hạng 1/3, Đạt",
        "• A. Nội dung A: 9/10",
        "• B. Công chức: 4/10",
    ]
    assert await par(staff, WARD_STAFF, "2025") == (
        "Kỳ đánh giá Chỉ số cải cách hành chính năm 2025 chưa mở."
    )
    assert await staff.handle("telegram", "555000111", "par", []) is None  # a stranger
