"""`sipas serve`'s night, in a child process: the aggregation and the pipeline files, and the
child's life (its failure reported, its end when the service stops)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from analytics.aggregate import AGGREGATION_LEASE, LEASE_TTL
from bot import nightly
from bot.nightly import ChildFailed, in_child_process, night_in_child, run_night
from bot.settings import Settings, load_settings
from storage.db import Database
from storage.leases import acquire_lease, release_lease
from storage.models import DailyCount, DirtyDay, Lease
from tests.analytics.survey_rows import TYPICAL, Survey
from tests.conftest import TEST_SECRET

SAMPLE_DAY = date(2026, 11, 10)  # the day `Survey` puts its responses on
NIGHT = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)  # 01:30 on the 29th in Hà Nội


def csv_files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*.csv")}


@pytest.fixture
async def sampled(database: Database, tmp_path: Path) -> Settings:
    """Settings over a database with 12 responses on SAMPLE_DAY, its files to tmp/exports."""
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL)
    return load_settings(
        database_url=database.url,
        secret_key=TEST_SECRET,
        export_dir=tmp_path / "exports",
        min_cell_size=10,
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_night_aggregates_the_changed_days_and_writes_the_pipeline_files(
    database: Database, sampled: Settings
) -> None:
    settings, exports = sampled, sampled.export_dir
    await run_night(settings, "night", now=NIGHT)

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
    assert "2026/sipas-2026-authority.csv" in names
    assert len(names) == 3 * 7 * 2  # month, quarter, year × 7 levels × cleaned and raw
    monthly = first[exports / "2026-11" / "sipas-2026-11-commune.csv"].decode()
    assert "00004" in monthly and "sipas-2023-default" in monthly

    await run_night(settings, "night", now=NIGHT)  # nothing changed since
    assert csv_files(exports) == first  # the same counts give the same bytes


async def test_a_child_process_runs_apart_and_its_failure_is_reported() -> None:
    await in_child_process(time.sleep, 0, name="sleeper")
    with pytest.raises(ChildFailed, match="failing exited with code 3"):
        await in_child_process(sys.exit, 3, name="failing")


async def test_a_child_process_is_stopped_and_reaped_when_its_waiter_is_cancelled(
    tmp_path: Path,
) -> None:
    started, ended = tmp_path / "started", tmp_path / "ended"
    waiter = asyncio.create_task(
        in_child_process(_sleep_until_terminated, started, ended, name="long")
    )
    await _until_exists(started)
    pid = int(started.read_text())

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    # SIGTERM cancelled its work, so its `finally` ran (the night's: rollback, lease released).
    assert ended.read_text() == "cancelled, cleaned up"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_no_child_starts_while_another_process_holds_the_aggregation_lease(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    async def child(*args: object, name: str) -> None:
        started.append(name)

    monkeypatch.setattr(nightly, "in_child_process", child)
    settings = load_settings(database_url=database.url, secret_key=TEST_SECRET)
    assert await acquire_lease(database, AGGREGATION_LEASE, "other-worker", LEASE_TTL)

    await night_in_child(database, settings)
    assert started == []

    await release_lease(database, AGGREGATION_LEASE, "other-worker")
    await night_in_child(database, settings)
    assert started == ["sipas-nightly"]
    async with database.reading() as session:  # and it handed the lease back
        assert await session.scalar(select(func.count()).select_from(Lease)) == 0


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_night_stopped_as_its_child_starts_leaves_the_lease_free_for_the_next_start(
    database: Database, sampled: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawn = nightly.in_child_process
    leases_as_the_child_starts: list[int | None] = []
    child_starting = asyncio.Event()

    async def starting(target: Any, *args: object, name: str) -> None:
        async with database.reading() as session:
            leases_as_the_child_starts.append(
                await session.scalar(select(func.count()).select_from(Lease))
            )
        child_starting.set()
        await spawn(target, *args, name=name)

    monkeypatch.setattr(nightly, "in_child_process", starting)
    night = asyncio.create_task(night_in_child(database, sampled))
    await asyncio.wait_for(child_starting.wait(), timeout=30)
    night.cancel()
    with pytest.raises(asyncio.CancelledError):
        await night

    assert leases_as_the_child_starts == [1]  # taken by this process before the child starts
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Lease)) == 0


async def _until_exists(path: Path) -> None:
    for _ in range(600):  # written by the child once started: another process, so a file
        if await asyncio.to_thread(_text_of, path):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _text_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _sleep_until_terminated(started: Path, ended: Path) -> None:
    """A child that works until SIGTERM, the way `bot.nightly.night` does."""

    async def work() -> None:
        try:
            await asyncio.to_thread(started.write_text, str(os.getpid()))
            await asyncio.sleep(60)
        finally:
            await asyncio.to_thread(ended.write_text, "cancelled, cleaned up")

    asyncio.run(nightly._until_terminated(work()))
