"""`sipas par` as the Sở Nội vụ uses it: check, open, template, import, appraise, show, export."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import cli
from par.criteria import SCHEMES_DIR
from storage.db import Database
from storage.migrate import upgrade
from storage.staff import add_staff
from tests.conftest import TEST_SECRET
from tests.par.scorecards import scheme_file, units_and_responses
from tests.par.test_criteria import BROKEN


def sipas(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["par", *args])
    return result.exit_code, result.output


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file with the test units, their responses and a staff admin `council`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_EXPORT_DIR", str(tmp_path / "exports"))

    async def fill() -> None:
        await upgrade(url)
        database = Database(url)
        await units_and_responses(database)
        async with database.transaction() as session:
            await add_staff(
                session,
                TEST_SECRET,
                name="council",
                role="admin",
                unit_codes=[],
                now=datetime.now(UTC),
            )
        await database.dispose()

    asyncio.run(fill())
    return url


def test_check_says_what_a_file_holds_or_every_problem_in_it(tmp_path: Path) -> None:
    code, output = sipas("check", str(SCHEMES_DIR / "hn-qd5666-2026.yaml"))
    assert code == 0
    assert output.splitlines()[0] == "OK: hn-qd5666-2026 (EXAMPLE point values), 100 points"
    assert "department (Sở, cơ quan tương đương Sở): 9 content areas" in output
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    code, output = sipas("check", str(broken))
    assert code == 1
    assert f"{broken}: trees.department: code '1.1' appears 2 times" in output
    assert (
        f"{broken}: trees.department.contents[1].criteria[0].source.figure: unknown source"
        in output
    )
    assert f"Error: 12 problems in {broken}: not a usable criteria file" in output


def test_a_year_from_opening_to_the_vietnamese_report(database_url: str, tmp_path: Path) -> None:
    scheme = scheme_file(tmp_path)
    code, output = sipas("open", "--year", "2026", "--scheme", str(scheme))
    assert code == 0, output
    assert "4 scorecards added (department 1, commune 3), 0 already open" in output
    assert "0 scorecards added" in sipas("open", "--year", "2026", "--scheme", str(scheme))[1]

    template = tmp_path / "00004.xlsx"
    code, output = sipas("template", "--unit", "00004", "--out", str(template))
    assert code == 0, output
    workbook = load_workbook(template)
    assert workbook.sheetnames == ["Tự chấm điểm", "Hướng dẫn"]
    sheet = workbook["Tự chấm điểm"]
    assert [cell.value for cell in sheet[1]][:6] == [
        "Mã đơn vị",
        "Mã tiêu chí",
        "Tiêu chí",
        "Cách chấm",
        "Điểm tối đa",
        "Điểm tự chấm",
    ]
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["A1", "B1"]
    sheet["F2"], sheet["G2"], sheet["F3"] = 9, "", 5  # A1: 9 of 4 points, and no evidence
    workbook.save(template)
    code, output = sipas("import", str(template))
    assert code == 1
    assert f"{template}:2: Điểm tự chấm: 9 is outside 0–4, the points of A1" in output
    assert "nothing was stored" in output
    sheet["F2"], sheet["G2"] = 3, "QĐ 1/QĐ-UBND"
    workbook.save(template)
    code, output = sipas("import", str(template))
    assert code == 0, output
    assert "2 scores of 00004 (2 added, 0 changed, 0 unchanged)" in output

    code, output = sipas(
        "appraise",
        "--by",
        "council",
        "--unit",
        "00004",
        "--criterion",
        "B1",
        "--points",
        "4",
        "--reason",
        "Thiếu minh chứng",
    )
    assert code == 0, output
    assert "1 adjustment recorded by council" in output
    code, output = sipas(
        "appraise",
        "--by",
        "council",
        "--unit",
        "00004",
        "--criterion",
        "A2",
        "--points",
        "1",
        "--reason",
        "x",
    )
    assert code == 2 and "--criterion: A2 is filled from the survey" in output

    code, output = sipas("show", "--unit", "00004")
    assert code == 0, output
    assert "17/20 points, index 85.00%, place 1 of 3, Tốt" in output
    assert "B1 → 4 by council (cli): Thiếu minh chứng" in output

    code, output = sipas("export", "--format", "xlsx")
    assert code == 0, output
    exports = tmp_path / "exports"
    report = load_workbook(exports / "par-2026.xlsx")
    assert report.sheetnames == [
        "Tổng hợp Sở",
        "Tổng hợp xã, phường",
        "HN-STP",
        "00004",
        "00070",
        "00082",
        "Ghi chú",
    ]
    summary = report["Tổng hợp xã, phường"]
    assert [cell.value for cell in summary[2]][:7] == [
        "Xếp hạng",
        "Mã",
        "Đơn vị",
        "Tổng điểm",
        "Điểm tối đa",
        "Chỉ số (%)",
        "Xếp loại",
    ]
    assert [row[:7] for row in summary.iter_rows(min_row=3, values_only=True)] == [
        (1, "00004", "Phường Ba Đình", 17, 20, 85, "Tốt"),
        (2, "00070", "Phường Hoàn Kiếm", 5, 20, 25, "không xếp loại"),  # surveys only
        (3, "00082", "Phường Cửa Nam", 0, 20, 0, "không xếp loại"),
    ]
    ward = {row[0]: row for row in report["00004"].iter_rows(values_only=True) if row[0]}
    assert ward["B1"][4:8] == (5, 4, "Thiếu minh chứng", "council")
    assert ward["A2"][8] == "100.00% (n=12)" and ward["A2"][11] == "từ khảo sát"
    stp = {row[0]: row for row in report["HN-STP"].iter_rows(values_only=True) if row[0]}
    assert stp["A2"][8].startswith("ẩn (dưới 10 người trả lời")
    assert stp["A2"][10] is None  # suppressed: no points, never 0
    manifest = json.loads((exports / "par-2026.xlsx.manifest.json").read_text())
    assert (
        manifest["scheme"]["id"] == "test-2026" and manifest["method"]["id"] == "sipas-2023-default"
    )

    code, output = sipas("export", "--format", "json", "--out", str(tmp_path / "json"))
    assert code == 0, output
    manifest = json.loads((tmp_path / "json" / "par-2026.json.manifest.json").read_text())
    assert [entry["name"] for entry in manifest["files"]] == [
        "par-2026-results.json",
        "par-2026-criteria.json",
    ]
    for entry in manifest["files"]:
        data = (tmp_path / "json" / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    results = json.loads((tmp_path / "json" / "par-2026-results.json").read_text())
    assert [(row["unit_code"], row["points"], row["rank"]) for row in results] == [
        ("HN-STP", 0.0, 1),
        ("00004", 17.0, 1),
        ("00070", 5.0, 2),
        ("00082", 0.0, 3),
    ]

    # The council's file: the unit's scores so far, its latest adjustments, its own columns.
    council = tmp_path / "council-00004.xlsx"
    code, output = sipas("template", "--unit", "00004", "--appraisal", "--out", str(council))
    assert code == 0, output
    workbook = load_workbook(council)
    sheet = workbook.active
    assert [cell.value for cell in sheet[1]][-2:] == ["Điểm thẩm định", "Lý do điều chỉnh"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["B1"][5] == 5 and rows["B1"][-2:] == (4, "Thiếu minh chứng")
    sheet["J2"], sheet["K2"] = 2, "Kế hoạch ban hành muộn"  # A1
    workbook.save(council)
    code, output = sipas("appraise", str(council), "--by", "council")
    assert code == 0, output
    assert "1 adjustment recorded by council, 1 as recorded already" in output
    assert "16/20 points" in sipas("show", "--unit", "00004")[1]
