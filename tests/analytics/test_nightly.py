"""The nightly schedule: next run time, catch-up on start, one run at a time."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.aggregate import next_run_at, nightly_loop, previous_run_at, run_nightly
from analytics.method import load_method
from analytics.publish import Published, publish_nightly
from storage.db import Database
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

# The module, not the `aggregate` function the package re-exports under the same name.
job = importlib.import_module("analytics.aggregate")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AT = time(1, 30)


def test_next_and_previous_run_times_are_local() -> None:
    # 18:00 UTC on the 27th is 01:00 on the 28th in Hà Nội: the next run is 01:30 local.
    now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert next_run_at(now, AT, HCM) == datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert previous_run_at(now, AT, HCM) == datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    exactly = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert next_run_at(exactly, AT, HCM) == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)


async def test_run_nightly_counts_dirty_days(database: Database, survey: Survey) -> None:
    await survey.many(2, TYPICAL)
    result = await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
    assert result is not None and result.responses == 2


async def test_the_loop_catches_up_on_start_then_waits(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    await survey.many(2, TYPICAL)
    runs: list[str] = []
    finished = asyncio.Event()
    real = job.run_nightly

    async def counted(database: Database, **options: object) -> object:
        runs.append("run")
        result = await real(database, layout=SIPAS_LAYOUT, holder="night")
        finished.set()
        return result

    monkeypatch.setattr(job, "run_nightly", counted)
    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM))
    await asyncio.wait_for(finished.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == ["run"]  # nothing had run since the last 01:30: caught up at once
    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == ["run"]  # a run already happened since the last scheduled time


def csv_files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*.csv")}


async def test_after_a_run_the_loop_publishes_the_pipeline_files(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await survey.many(12, TYPICAL)  # 2026-11-10 at counter W1-A
    real = job.run_nightly
    published: list[list[Published]] = []
    done = asyncio.Event()

    async def on_sample(database: Database, **options: object) -> object:
        return await real(database, layout=SIPAS_LAYOUT, holder="night")

    async def publish(result: object) -> None:
        published.append(
            await publish_nightly(
                database,
                tmp_path,
                day=date(2026, 11, 10),
                layout=SIPAS_LAYOUT,
                method=load_method(),
                min_cell_size=10,
            )
        )
        done.set()

    monkeypatch.setattr(job, "run_nightly", on_sample)
    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM, after_run=publish))
    await asyncio.wait_for(done.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    first = csv_files(tmp_path)
    names = sorted(str(path.relative_to(tmp_path)) for path in first)
    assert "2026-11/sipas-2026-11-commune.csv" in names
    assert "2026-Q4/sipas-2026-Q4-service_point.csv" in names
    assert "2026/sipas-2026-province.raw.csv" in names
    assert len(names) == 3 * 5 * 2  # month, quarter, year × 5 levels × cleaned and raw
    monthly = first[tmp_path / "2026-11" / "sipas-2026-11-commune.csv"].decode()
    assert "00004" in monthly and "sipas-2023-default" in monthly
    await publish_nightly(
        database,
        tmp_path,
        day=date(2026, 11, 10),
        layout=SIPAS_LAYOUT,
        method=load_method(),
        min_cell_size=10,
    )
    assert csv_files(tmp_path) == first  # the same counts give the same bytes
