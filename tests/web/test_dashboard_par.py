"""The dashboard's PAR Index pages: ranking, a unit's scorecard, the comparison by content area,
the council's appraisal form and the XLSX report, each within the staff member's scope."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from par.assessment import open_assessment
from par.criteria import load_criteria
from par.self_assessment import import_self_assessment
from storage.db import Database
from storage.par import appraisals
from storage.staff import add_staff, set_password
from tests.conftest import TEST_SECRET
from tests.par.scorecards import scheme_file, units_and_responses
from tests.web.test_dashboard import PASSWORD, app_for, csrf_of, log_in
from web.dashboard.auth import LANGUAGE_COOKIE

NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
ADMIN, WARD, DEPARTMENT = "council", "lan.ba-dinh", "minh.stp"


@pytest.fixture
async def http(database: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """2026 open with the test scheme, two wards' self-scores, and three staff accounts."""
    await units_and_responses(database)
    await open_assessment(database, load_criteria(scheme_file(tmp_path)), NOW)
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "Mã đơn vị,Mã tiêu chí,Điểm tự chấm,Tài liệu kiểm chứng\n00004,A1,3,QĐ 1\n00070,A1,4,QĐ 2\n",
        encoding="utf-8",
    )
    await import_self_assessment(database, scores, now=NOW)
    async with database.transaction() as session:
        for name, role, units in (
            (ADMIN, "admin", []),
            (WARD, "viewer", ["00004"]),
            (DEPARTMENT, "viewer", ["HN-STP"]),
        ):
            added = await add_staff(
                session, TEST_SECRET, name=name, role=role, unit_codes=units, now=NOW
            )
            set_password(added.account, PASSWORD)
    transport = httpx.ASGITransport(app=app_for(database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def ranked(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-code="([^"]+)" data-value="([^"]*)">\d+/\d+<', page))


async def test_a_viewer_sees_only_their_units_scorecards(http: httpx.AsyncClient) -> None:
    assert (await http.get("/dashboard/par")).status_code == 303  # signed out: to sign in
    await log_in(http, WARD)
    page = await http.get("/dashboard/par")
    assert page.status_code == 200
    assert ranked(page.text) == {"00004": "1"}
    assert (
        "Chỉ số cải cách hành chính năm 2026" in page.text and "Phường Hoàn Kiếm" not in page.text
    )
    own = await http.get("/dashboard/par/units/00004")
    assert own.status_code == 200
    assert "Tổng điểm 13/20, chỉ số 65.00%, hạng 1/3, Đạt." in own.text
    assert 'action="/dashboard/par/units/00004/appraise"' not in own.text  # not an admin
    assert (await http.get("/dashboard/par/units/00070")).status_code == 403
    assert (await http.get("/dashboard/par/units/HN-STP")).status_code == 403
    assert (await http.get("/dashboard/par/units/99999")).status_code == 404
    assert (await http.get("/dashboard/par?year=20x6")).status_code == 400
    compare = await http.get("/dashboard/par/compare")
    assert 'data-code="00004-A"' in compare.text and "00070-A" not in compare.text
    refused = await http.post(
        "/dashboard/par/units/00004/appraise",
        data={"csrf": csrf_of(own.text), "criterion": "A1", "points": "1", "reason": "x"},
    )
    assert refused.status_code == 403
    report = await http.get("/dashboard/par/report.xlsx")
    assert report.status_code == 200
    assert load_workbook(io.BytesIO(report.content)).sheetnames == [
        "Tổng hợp xã, phường",
        "00004",
        "Ghi chú",
    ]


async def test_the_department_viewer_sees_the_departments_tree_only(
    http: httpx.AsyncClient,
) -> None:
    await log_in(http, DEPARTMENT)
    http.cookies.set(LANGUAGE_COOKIE, "en", path="/dashboard")
    page = await http.get("/dashboard/par")
    assert ranked(page.text) == {"HN-STP": "1"}
    assert "Departments (Sở)" in page.text and "Communes and wards" not in page.text
    card = await http.get("/dashboard/par/units/HN-STP")
    assert 'data-code="A2" data-value=""' in card.text  # suppressed: no points, not 0
    assert "suppressed: too few respondents" in card.text


async def test_an_admin_records_the_councils_appraisal_beside_the_self_score(
    http: httpx.AsyncClient, database: Database
) -> None:
    await log_in(http, ADMIN)
    assert set(ranked((await http.get("/dashboard/par")).text)) == {
        "HN-STP",
        "00004",
        "00070",
        "00082",
    }
    card = await http.get("/dashboard/par/units/00004?year=2026")
    form = {"csrf": csrf_of(card.text), "year": "2026", "criterion": "A1", "points": "2"}
    missing = await http.post("/dashboard/par/units/00004/appraise", data=form | {"reason": ""})
    assert missing.status_code == 400 and "Lý do điều chỉnh: empty" in missing.text
    survey = await http.post(
        "/dashboard/par/units/00004/appraise",
        data=form | {"criterion": "A2", "reason": "x"},
    )
    assert survey.status_code == 400 and "filled from the survey" in survey.text
    done = await http.post(
        "/dashboard/par/units/00004/appraise",
        data=form | {"reason": "Kế hoạch ban hành muộn"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/dashboard/par/units/00004?year=2026&saved=1#c-A1"
    after = await http.get(done.headers["location"])
    assert "Đã ghi điểm thẩm định." in after.text and "Kế hoạch ban hành muộn" in after.text
    row = re.search(r'<tr id="c-A1">(.*?)</tr>', after.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row.group(1))
    assert cells[:3] == ["4", "3", "2"]  # maximum, the unit's own score, the council's
    history = await appraisals(database, 2026, unit_code="00004")
    assert [(entry.points, entry.staff_name, entry.channel) for entry in history] == [
        (2.0, ADMIN, "dashboard")
    ]
