"""`sipas serve`'s night, in a child process: the aggregation and the pipeline files, and the
child's life (its failure reported, its end when the service stops)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.nightly import ChildFailed, in_child_process, run_night
from bot.settings import load_settings
from storage.db import Database
from storage.models import DailyCount, DirtyDay
from tests.analytics.survey_rows import TYPICAL, Survey
from tests.conftest import TEST_SECRET

SAMPLE_DAY = date(2026, 11, 10)  # the day `Survey` puts its responses on
NIGHT = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)  # 01:30 on the 29th in Hà Nội


def csv_files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*.csv")}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_night_aggregates_the_changed_days_and_writes_the_pipeline_files(
    database: Database, tmp_path: Path
) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL)
    exports = tmp_path / "exports"
    settings = load_settings(
        database_url=database.url, secret_key=TEST_SECRET, export_dir=exports, min_cell_size=10
    )

    await run_night(settings, now=NIGHT)

    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(DirtyDay)) == 0
        counted = await session.scalar(
            select(func.count()).where(DailyCount.day == SAMPLE_DAY).select_from(DailyCount)
        )
        assert counted
    first = csv_files(exports)
    names = sorted(str(path.relative_to(exports)) for path in first)
    assert "2026-11/sipas-2026-11-commune.csv" in names
    assert "2026-Q4/sipas-2026-Q4-service_point.csv" in names
    assert "2026/sipas-2026-province.raw.csv" in names
    assert len(names) == 3 * 5 * 2  # month, quarter, year × 5 levels × cleaned and raw
    monthly = first[exports / "2026-11" / "sipas-2026-11-commune.csv"].decode()
    assert "00004" in monthly and "sipas-2023-default" in monthly

    await run_night(settings, now=NIGHT)  # nothing changed since
    assert csv_files(exports) == first  # the same counts give the same bytes


async def test_a_child_process_runs_apart_and_its_failure_is_reported() -> None:
    await in_child_process(time.sleep, 0, name="sleeper")
    with pytest.raises(ChildFailed, match="failing exited with code 3"):
        await in_child_process(sys.exit, 3, name="failing")


async def test_a_child_process_ends_when_its_waiter_is_cancelled(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    waiter = asyncio.create_task(in_child_process(_write_pid_and_sleep, pid_file, name="long"))
    for _ in range(600):  # the child writes it once started: another process, so a file
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped


def _write_pid_and_sleep(pid_file: Path) -> None:
    pid_file.write_text(str(os.getpid()))
    time.sleep(60)
