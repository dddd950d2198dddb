"""`sipas aggregate`, `sipas export` and `sipas summary` from the command line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from analytics.aggregate import AGGREGATION_LEASE
from bot.commands.aggregate import aggregate_command
from bot.commands.export import export_command
from bot.commands.summary import summary_command
from storage.db import Database
from storage.leases import acquire_lease
from storage.migrate import upgrade
from tests.analytics.survey_rows import TYPICAL, Survey, answers
from tests.conftest import TEST_SECRET


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file with units and 25 responses in November 2026, named by SIPAS_DATABASE_URL."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)

    async def fill() -> None:
        await upgrade(url)
        database = Database(url)
        survey = Survey(database)
        await survey.units()
        await survey.many(12, TYPICAL, day=date(2026, 11, 10))
        await survey.many(
            13, answers(TIEP_CAN="5", TTHC="2", CONG_CHUC="4"), day=date(2026, 11, 11), point="W2-A"
        )
        await database.dispose()

    asyncio.run(fill())
    return url


def test_aggregate_then_export_twice_gives_the_same_bytes(
    database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(aggregate_command, [])
    assert result.exit_code == 0, result.output
    assert "3 day(s)" in result.output  # the two dirty days, and the day after each
    assert "25 response(s), 0 flagged" in result.output
    out = tmp_path / "out" / "nov.csv"
    first = runner.invoke(
        export_command,
        [
            "--period",
            "2026-11",
            "--level",
            "commune",
            "--out",
            str(out),
            "--scheme",
            "example-linear",
        ],
    )
    assert first.exit_code == 0, first.output
    data = out.read_bytes()
    header = data.splitlines()[0].decode()
    assert header.endswith("method_id,questionnaire_version,breakdown,band,points")
    again = runner.invoke(aggregate_command, ["--full"])
    assert again.exit_code == 0, again.output
    assert (
        runner.invoke(
            export_command,
            [
                "--period",
                "2026-11",
                "--level",
                "commune",
                "--out",
                str(out),
                "--scheme",
                "example-linear",
            ],
        ).exit_code
        == 0
    )
    assert out.read_bytes() == data
    manifest = json.loads((tmp_path / "out" / "nov.csv.manifest.json").read_text())
    assert [entry["name"] for entry in manifest["files"]] == ["nov.csv", "nov.raw.csv"]
    assert manifest["scheme"] == {"id": "example-linear", "example": True}


def test_summary_shows_a_table_in_vietnamese_in_80_columns(database_url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(aggregate_command, []).exit_code == 0
    result = runner.invoke(
        summary_command, ["--period", "11/2026", "--level", "service_point"], terminal_width=80
    )
    assert result.exit_code == 0, result.output
    assert "W1-A" in result.output and "100,0" in result.output
    assert "Tháng 11/2026 (01/11/2026" in result.output and "cấp quầy" in result.output
    assert "1 Tiếp cận dịch vụ" in result.output  # the numbered elements named in words
    assert "không phải Chỉ số SIPAS quốc gia" in " ".join(result.output.split())
    assert re.search(r"W1-A .*100,0 .* 5/5", result.output)  # the elements its overall rests on
    detail = runner.invoke(
        summary_command, ["--unit", "W2-A", "--period", "2026-11"], terminal_width=80
    )
    assert detail.exit_code == 0, detail.output
    assert "Thủ tục hành chính" in detail.output and "câu hỏi" in detail.output
    for output in (result.output, detail.output):
        assert max(len(line) for line in output.splitlines()) <= 80
        assert "…" not in output  # nothing cut off


def test_summary_in_english_when_the_deployment_says_so(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DEFAULT_LANGUAGE", "en")
    runner = CliRunner()
    assert runner.invoke(aggregate_command, []).exit_code == 0
    result = runner.invoke(summary_command, ["--period", "2026-11"], terminal_width=80)
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())  # as read, whatever the line breaks
    assert "November 2026" in words and "not the national SIPAS index" in words


def test_export_writes_the_report_too(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(aggregate_command, []).exit_code == 0
    report = tmp_path / "q4-report.xlsx"
    result = runner.invoke(
        export_command,
        ["--period", "Q4/2026", "--out", str(tmp_path / "q4.xlsx"), "--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    book = load_workbook(report)
    assert book.sheetnames[0] == "Tổng hợp" and book.sheetnames[-1] == "Ghi chú"
    assert "Quý IV/2026" in str(book["Tổng hợp"]["A1"].value)
    assert (tmp_path / "q4.xlsx").exists()  # the flat table, as before


def test_aggregate_fails_clearly_when_another_run_holds_the_lease(database_url: str) -> None:
    async def hold() -> None:
        database = Database(database_url)
        await acquire_lease(
            database, AGGREGATION_LEASE, "elsewhere:1", __import__("datetime").timedelta(hours=1)
        )
        await database.dispose()

    asyncio.run(hold())
    result = CliRunner().invoke(aggregate_command, [])
    assert result.exit_code != 0
    assert "another aggregation is running" in result.output


def test_bad_options_are_refused(database_url: str) -> None:
    runner = CliRunner()
    assert (
        "give one of" in runner.invoke(aggregate_command, ["--full", "--date", "2026-11-10"]).output
    )
    bad = runner.invoke(export_command, ["--period", "November"])
    assert bad.exit_code == 2 and "2026-Q4" in bad.output


def test_the_export_format_follows_the_file_extension_and_refuses_a_contradiction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    runner = CliRunner()
    wrote = runner.invoke(
        export_command, ["--period", "2026-11", "--out", str(tmp_path / "nov.xlsx")]
    )
    assert wrote.exit_code == 0, wrote.output
    assert (tmp_path / "nov.xlsx").read_bytes().startswith(b"PK")  # a real workbook
    assert (tmp_path / "nov.xlsx.manifest.json").exists()
    refused = runner.invoke(
        export_command,
        ["--period", "2026-11", "--format", "csv", "--out", str(tmp_path / "n.xlsx")],
    )
    assert refused.exit_code == 2
    assert "make them agree" in refused.output


def test_export_and_summary_take_an_evaluation_window(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(aggregate_command, []).exit_code == 0
    out = tmp_path / "window.csv"
    # 10 and 11 November: the window holds both days, W1-A's 12 and W2-A's 13 responses.
    window = ["--from", "2026-11-10", "--to", "2026-11-11"]
    exported = runner.invoke(export_command, [*window, "--level", "province", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    overall = next(
        row for row in rows if row["scope"] == "overall" and row["respondent_type"] == "all"
    )
    assert (overall["period"], overall["n_respondents"]) == ("2026-11-10..2026-11-11", "25")
    manifest = json.loads((tmp_path / "window.csv.manifest.json").read_text())
    assert manifest["period"] == {
        "label": "2026-11-10..2026-11-11",
        "kind": "window",
        "start": "2026-11-10",
        "end": "2026-11-11",
    }
    one_day = runner.invoke(
        summary_command,
        ["--from", "2026-11-11", "--to", "2026-11-11", "--level", "service_point"],
        terminal_width=200,
    )
    assert one_day.exit_code == 0, one_day.output
    assert "W2-A" in one_day.output and "W1-A" not in one_day.output
    both = runner.invoke(export_command, ["--period", "2026-11", *window])
    assert both.exit_code == 2 and "not both" in both.output
    half = runner.invoke(summary_command, ["--from", "2026-11-10"])
    assert half.exit_code == 2 and "needs both" in half.output
