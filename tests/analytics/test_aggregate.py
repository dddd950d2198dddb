"""The aggregation job on a real database: counts per day, dirty days, quality flags, idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from analytics.aggregate import PARALLEL_DAYS, _scale_values, aggregate
from analytics.days import parse_period, reporting_day
from analytics.export import table_bytes
from analytics.method import load_method
from analytics.query import ReportQuery
from analytics.report import index_table
from storage.counts import BAND_VALUE_COLUMNS, DayCounter, DayPart, QualityRules, split_day
from storage.db import Database
from storage.models import (
    AggregationRun,
    DailyBandCount,
    DailyCount,
    DailyRespondents,
    DirtyDay,
    Response,
    ResponseQuality,
)
from tests.analytics.survey_rows import (
    ALL_FOUR,
    ELEMENTS,
    PROFILE_LAYOUT,
    SIPAS_LAYOUT,
    TYPICAL,
    Survey,
    answers,
    profile,
)
from tests.clock import FIRST_INSTANT, LATER_INSTANT, clock_stopped_at

METHOD = load_method()
NOV_10 = date(2026, 11, 10)
NOV_11 = date(2026, 11, 11)


async def run(database: Database, **options: object) -> None:
    await aggregate(database, SIPAS_LAYOUT, **options)  # type: ignore[arg-type]


async def indices(
    database: Database, period: str = "2026-11", level: str = "commune", responses: str = "cleaned"
) -> pd.DataFrame:
    query = ReportQuery(parse_period(period), level, SIPAS_LAYOUT, METHOD, 10, responses=responses)
    return await index_table(database, query)


def overall(table: pd.DataFrame, unit: str, kind: str = "all") -> pd.Series:
    found = table[
        (table["unit_code"] == unit)
        & (table["respondent_type"] == kind)
        & (table["scope"] == "overall")
    ]
    assert len(found) == 1
    return found.iloc[0]


async def day_counts(database: Database) -> dict[date, list[tuple[object, ...]]]:
    async with database.reading() as session:
        rows = (
            (
                await session.execute(
                    select(
                        DailyCount.day,
                        DailyCount.service_point_code,
                        DailyCount.respondent_type,
                        DailyCount.channel,
                        DailyCount.flagged,
                        DailyCount.item_code,
                        DailyCount.value,
                        DailyCount.answers,
                    )
                )
            )
            .tuples()
            .all()
        )
    by_day: dict[date, list[tuple[object, ...]]] = {}
    for row in sorted(rows, key=lambda r: tuple(str(v) for v in r)):
        by_day.setdefault(row[0], []).append(tuple(row))
    return by_day


async def test_counts_answers_per_day_cell_item_and_value(
    database: Database, survey: Survey
) -> None:
    await survey.many(12, TYPICAL, day=NOV_10)
    await survey.response(
        answers(TIEP_CAN="5", TTHC=None),
        day=NOV_10,
        point="W2-A",
        channel="zalo_oa",
        respondent_type="organisation",
    )
    await run(database)
    counts = await day_counts(database)
    rows = counts[NOV_10]
    assert (NOV_10, "W1-A", "citizen", "telegram", False, "16", "4", 12) in rows
    assert (NOV_10, "W2-A", "organisation", "zalo_oa", False, "15", "5", 1) in rows
    assert (NOV_10, "W2-A", "organisation", "zalo_oa", False, "19", None, 1) in rows
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(DirtyDay)) == 0
        assert await session.scalar(select(func.sum(DailyRespondents.respondents))) == 13
        run_record = await session.scalar(select(AggregationRun))
    assert (
        run_record is not None and run_record.status == "succeeded" and run_record.responses == 13
    )
    # By ward, 00070 (1 respondent) is suppressed, and so is 00004, the only other ward of
    # the province: the province total minus 00004 would reveal 00070.
    wards = await indices(database)
    assert overall(wards, "00070")["suppressed"] and overall(wards, "00004")["suppressed"]
    # W1-A holds exactly 00004's respondents: shown, it would reveal 00004, and through the
    # province 00070. Suppression holds across levels.
    by_point = await indices(database, level="service_point")
    point = overall(by_point, "W1-A")
    assert (point["n_respondents"], point["suppressed"]) == (12, True)
    assert overall(by_point, "W2-A")["suppressed"]
    province = overall(await indices(database, level="province"), "01")
    assert (province["n_respondents"], province["index_pct"], province["suppressed"]) == (
        13,
        100.0,
        False,
    )


async def test_two_runs_give_identical_export_bytes(
    database: Database, survey: Survey, tmp_path: Path
) -> None:
    await survey.many(11, TYPICAL, day=NOV_10)
    await survey.many(
        10, answers(TIEP_CAN="5", CONG_CHUC="2", KET_QUA=None), day=NOV_11, point="W2-A"
    )
    await run(database)
    first_table = await indices(database)
    await run(database, full=True)
    await run(database, days=[NOV_10, NOV_11])
    later_table = await indices(database)
    formats = ("csv", "json", "xlsx", "parquet")
    # Written at different times too, as the files of two nights are.
    with clock_stopped_at(FIRST_INSTANT):
        first = {fmt: table_bytes(first_table, fmt) for fmt in formats}
    with clock_stopped_at(LATER_INSTANT):
        later = {fmt: table_bytes(later_table, fmt) for fmt in formats}
    assert first == later


async def test_a_late_completion_changes_its_own_day_only(
    database: Database, survey: Survey
) -> None:
    await survey.many(12, TYPICAL, day=NOV_10)
    await survey.many(12, TYPICAL, day=date(2026, 11, 12))
    await run(database)
    before = await day_counts(database)
    # A session started on the 10th and completed late on the 12th counts on the 12th,
    # the day its writer gave it; only the 12th is marked and recounted.
    await survey.response(answers(TIEP_CAN="1"), day=date(2026, 11, 12))
    await run(database)
    after = await day_counts(database)
    assert after[NOV_10] == before[NOV_10]
    assert after[date(2026, 11, 12)] != before[date(2026, 11, 12)]
    async with database.reading() as session:
        last = await session.scalar(select(AggregationRun).order_by(AggregationRun.id.desc()))
    assert last is not None and last.first_day == date(2026, 11, 12)


async def test_a_withdrawn_response_disappears_after_the_next_run(
    database: Database, survey: Survey
) -> None:
    await survey.many(10, TYPICAL, day=NOV_10)
    gone = await survey.response(answers(TIEP_CAN="1", TTHC="1"), day=NOV_10)
    await run(database)
    assert overall(await indices(database), "00004")["n_respondents"] == 11
    await survey.withdraw(gone)
    await run(database)
    ward = overall(await indices(database), "00004")
    assert (ward["n_respondents"], ward["index_pct"]) == (10, 100.0)
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(ResponseQuality)) == 10


async def test_the_only_response_of_a_day_withdrawn_leaves_no_counts(
    database: Database, survey: Survey
) -> None:
    gone = await survey.response(TYPICAL, day=NOV_11)
    await run(database)
    await survey.withdraw(gone)
    await run(database)
    assert NOV_11 not in await day_counts(database)


async def test_periods_use_the_reporting_day_of_the_response(
    database: Database, survey: Survey
) -> None:
    # 23:30 local time on the 30th of November is 16:30 UTC: it counts on the 30th, in
    # November; 00:30 local on 1 December (17:30 UTC on the 30th) counts in December.
    zone = "Asia/Ho_Chi_Minh"
    late = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    for instant in (late, after_midnight):
        await survey.many(10, TYPICAL, completed_at=instant, day=reporting_day(instant, zone))
    await run(database)
    assert overall(await indices(database, "2026-11"), "00004")["n_respondents"] == 10
    assert overall(await indices(database, "2026-12-01"), "00004")["n_respondents"] == 10
    assert overall(await indices(database, "2026-Q4"), "00004")["n_respondents"] == 20


async def test_levels_service_point_district_agency_province(
    database: Database, survey: Survey
) -> None:
    await survey.many(10, TYPICAL, point="W1-A")
    await survey.many(10, answers(TIEP_CAN="1"), point="W1-B")
    await survey.many(10, TYPICAL, point="W2-A")
    await survey.many(10, TYPICAL, point="STP-1")
    await run(database)
    by_point = await indices(database, level="service_point")
    assert overall(by_point, "W1-B")["index_pct"] == 0.0
    district = await indices(database, level="district")
    assert set(district["unit_code"]) == {
        "001",
        "002",
    }  # 00004 counts under 001 (2 of 3 old communes)
    assert overall(district, "001")["n_respondents"] == 20
    assert overall(district, "001")["unit_name"] == "Quận Ba Đình"
    agency = await indices(database, level="agency")
    assert set(agency["unit_code"]) == {"HN-STP"}
    province = await indices(database, level="province")
    assert overall(province, "01")["n_respondents"] == 40


async def test_straight_lining_is_flagged_and_alone_kept_in_cleaned_indices(
    database: Database, survey: Survey
) -> None:
    await survey.many(10, answers(TIEP_CAN="4", TTHC="5", CONG_CHUC="4"), day=NOV_10)
    # Nine scale answers all "1" are too few to call straight-lining; nineteen all "5" are.
    await survey.response(answers(TIEP_CAN="1", CONG_CHUC="1", KET_QUA=None), day=NOV_10)
    await survey.response(
        TYPICAL | answers(TIEP_CAN="5", TTHC="5", CONG_CHUC="5", KET_QUA="5", PAKN="5"), day=NOV_10
    )
    await run(database)
    async with database.reading() as session:
        flags = (
            await session.scalars(select(ResponseQuality).order_by(ResponseQuality.response_id))
        ).all()
        straight = await session.get(Response, flags[-1].response_id)
    assert [flag.straight_lining for flag in flags] == [False] * 11 + [True]
    assert straight is not None and straight.scale_answers == 19 and flags[-1].flagged
    # Someone satisfied with everything is not left out by the default method.
    assert overall(await indices(database), "00004")["n_respondents"] == 12
    assert overall(await indices(database, responses="raw"), "00004")["n_respondents"] == 12


def hand_overall(responses: list[dict[str, str | None]]) -> float:
    """The overall index of the default method, computed from the answers themselves: per
    item the share of 1–5 answers that are 4 or 5, per element the mean of its answered
    items, overall the mean of the elements with answers."""
    element_indices = []
    for items in ELEMENTS.values():
        shares = []
        for item in items:
            valid = [r[item] for r in responses if r.get(item) in {"1", "2", "3", "4", "5"}]
            if valid:
                shares.append(100 * sum(v in {"4", "5"} for v in valid) / len(valid))
        if shares:
            element_indices.append(sum(shares) / len(shares))
    return round(sum(element_indices) / len(element_indices), 2)


async def test_the_method_decides_which_flags_exclude(database: Database, survey: Survey) -> None:
    usual = answers(TIEP_CAN="4", TTHC="2")
    all_fives = answers(TIEP_CAN="5", TTHC="5", CONG_CHUC="5", KET_QUA="5", PAKN="5")
    all_ones = answers(TIEP_CAN="1", TTHC="1", CONG_CHUC="1", KET_QUA="1", PAKN="1")
    hurried = answers(TIEP_CAN="2", TTHC="4")
    again = answers(TIEP_CAN="1", TTHC="1")
    first_at = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    await survey.many(10, usual, day=NOV_10)
    await survey.response(usual, respondent_key="same", completed_at=first_at, day=NOV_10)
    await survey.response(all_fives, day=NOV_10)  # straight-lining only: kept
    await survey.response(hurried, seconds_per_item=1.0, day=NOV_10)  # speeding only: kept
    await survey.response(all_ones, seconds_per_item=1.0, day=NOV_10)  # both: left out
    await survey.response(  # a repeat: left out
        again, respondent_key="same", completed_at=first_at + timedelta(hours=1), day=NOV_10
    )
    await run(database)
    kept = [usual] * 11 + [all_fives, hurried]
    cleaned = overall(await indices(database), "00004", "citizen")
    assert (cleaned["n_respondents"], cleaned["index_pct"]) == (13, hand_overall(kept))
    assert hand_overall(kept) == 81.54
    raw = overall(await indices(database, responses="raw"), "00004", "citizen")
    assert (raw["n_respondents"], raw["index_pct"]) == (
        15,
        hand_overall([*kept, all_ones, again]),
    )
    # A province that wants every flag to exclude says so in its method file.
    strict = replace(METHOD, exclude_when=(("straight_lining",), ("speeding",), ("repeated",)))
    query = ReportQuery(parse_period("2026-11"), "commune", SIPAS_LAYOUT, strict, 10)
    by_strict = overall(await index_table(database, query), "00004", "citizen")
    assert (by_strict["n_respondents"], by_strict["index_pct"]) == (11, hand_overall([usual] * 11))


async def test_priorities_are_counted_into_the_expectations_index(
    database: Database, survey: Survey
) -> None:
    chosen: list[tuple[int, dict[str, str | None]]] = [
        (6, {"10.1": "rat_nhieu", "10.2": "it"}),
        (3, {"10.1": "nhieu", "10.2": None}),
        (3, {"10.1": "it"}),
    ]
    given = [{**TYPICAL, **priorities} for times, priorities in chosen for _ in range(times)]
    for answered in given:
        await survey.response(answered, day=NOV_10)
    await run(database)
    table = await indices(database)
    rows = table[(table["unit_code"] == "00004") & (table["respondent_type"] == "all")]
    expectation = rows[rows["scope"] == "expectation"].set_index("code")
    for code in ("10.1", "10.2"):
        answers_given = [r[code] for r in given if r.get(code) in {"rat_nhieu", "nhieu", "it"}]
        high = sum(value in {"rat_nhieu", "nhieu"} for value in answers_given)
        assert expectation.loc[code, "n_valid"] == len(answers_given)
        assert expectation.loc[code, "index_pct"] == round(100 * high / len(answers_given), 2)
    assert (expectation.loc["10.1", "index_pct"], expectation.loc["10.2", "index_pct"]) == (75, 0)
    assert overall(table, "00004")["index_pct"] == 100.0


async def test_speeding_is_flagged_by_the_median_seconds_per_item(
    database: Database, survey: Survey
) -> None:
    mixed = answers(TIEP_CAN="4", TTHC="5")
    fast = await survey.response(mixed, seconds_per_item=1.0)
    slow = await survey.response(mixed, seconds_per_item=2.5)
    await run(database)
    async with database.reading() as session:
        assert (await session.get(ResponseQuality, fast)).speeding  # type: ignore[union-attr]
        assert not (await session.get(ResponseQuality, slow)).speeding  # type: ignore[union-attr]


async def test_repeats_by_one_respondent_at_one_counter_within_24_hours(
    database: Database, survey: Survey
) -> None:
    start = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    mixed = answers(TIEP_CAN="4", TTHC="5")
    first = await survey.response(mixed, respondent_key="same", completed_at=start, day=NOV_10)
    again = await survey.response(
        mixed, respondent_key="same", completed_at=start + timedelta(hours=23), day=NOV_11
    )
    elsewhere = await survey.response(
        mixed,
        respondent_key="same",
        point="W2-A",
        completed_at=start + timedelta(hours=1),
        day=NOV_10,
    )
    later = await survey.response(
        mixed,
        respondent_key="same",
        completed_at=start + timedelta(hours=48),
        day=date(2026, 11, 12),
    )
    imported = await survey.response(mixed, completed_at=start, day=NOV_10)
    await run(database)
    async with database.reading() as session:
        repeated = {
            rid: (await session.get(ResponseQuality, rid)).repeated  # type: ignore[union-attr]
            for rid in (first, again, elsewhere, later, imported)
        }
    assert repeated == {first: False, again: True, elsewhere: False, later: False, imported: False}


async def test_a_change_on_one_day_refreshes_repeat_flags_of_the_next(
    database: Database, survey: Survey
) -> None:
    start = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    mixed = answers(TIEP_CAN="4", TTHC="5")
    again = await survey.response(
        mixed, respondent_key="same", completed_at=start + timedelta(hours=10), day=NOV_11
    )
    await run(database)
    # The earlier response arrives late (an import) on the 10th: the 11th one becomes a repeat.
    await survey.response(mixed, respondent_key="same", completed_at=start, day=NOV_10)
    await run(database)
    async with database.reading() as session:
        assert (await session.get(ResponseQuality, again)).repeated  # type: ignore[union-attr]


async def test_simulated_responses_are_left_out_unless_asked(
    database: Database, survey: Survey
) -> None:
    await survey.many(3, TYPICAL)
    await survey.many(2, TYPICAL, simulated=True)
    await run(database)
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(ResponseQuality)) == 3
    await run(database, full=True, rules=QualityRules(count_simulated=True))
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(ResponseQuality)) == 5


async def test_imported_responses_are_never_flagged_as_speeding(
    database: Database, survey: Survey
) -> None:
    # Paper carries no timing: every answer of an import shares one timestamp.
    paper = await survey.response(TYPICAL, channel="import", seconds_per_item=0.0)
    await run(database)
    async with database.reading() as session:
        quality = await session.get(ResponseQuality, paper)
    assert quality is not None and not quality.speeding and not quality.flagged


async def test_bands_count_only_what_breakdowns_report_the_scale_items_answers(
    database: Database, survey: Survey
) -> None:
    # Breakdowns report the overall and element indices: a priority's answer, or a skipped
    # one, would be counted once per band for nothing (the night's largest statement). A
    # band row is an item's, with its answers of each satisfaction value side by side.
    given = {**answers(TIEP_CAN="5", TTHC=None), "10.1": "nhieu"} | profile("nu", "18-25")
    await survey.response(given, day=NOV_10)
    await survey.response(answers(TIEP_CAN="2") | profile("nu", "26-34"), day=NOV_10)
    await aggregate(database, PROFILE_LAYOUT, full=True)
    async with database.reading() as session:
        rows = (
            await session.execute(
                select(
                    DailyBandCount.profile_item,
                    DailyBandCount.band,
                    DailyBandCount.item_code,
                    *(getattr(DailyBandCount, column) for column in BAND_VALUE_COLUMNS),
                )
            )
        ).all()
    by_band: dict[tuple[str, str], set[tuple[str, tuple[int, ...]]]] = {}
    for item, band, code, *per_value in rows:
        by_band.setdefault((item, band), set()).add((code, tuple(per_value)))
    # Both at one counter, of one type, unflagged: one row per band and item.
    assert len(rows) == sum(len(items) for items in by_band.values())
    accessibility = ELEMENTS["TIEP_CAN"]  # the only element either answered
    assert by_band == {
        # Both respondents are women: a 2 and a 5 to each item.
        ("gioi_tinh", "nu"): {(code, (0, 1, 0, 0, 1)) for code in accessibility},
        ("do_tuoi", "18-25"): {(code, (0, 0, 0, 0, 1)) for code in accessibility},
        ("do_tuoi", "26-34"): {(code, (0, 1, 0, 0, 0)) for code in accessibility},
    }


async def test_days_counted_at_once_give_the_counts_of_days_counted_one_by_one(
    database: Database, survey: Survey
) -> None:
    # A full run counts the days at once (on SQLite staged on reader connections, copied in
    # one at a time); every row must be what counting one day after the other writes.
    await four_mixed_days(survey)
    await aggregate(database, PROFILE_LAYOUT, full=True)
    at_once = await all_counted_rows(database)
    assert at_once[DailyRespondents] and at_once[DailyBandCount]

    for offset in range(4):
        await day_counter(database).count(database, NOV_10 + timedelta(days=offset))
    assert await all_counted_rows(database) == at_once


async def test_a_day_counted_in_parts_gives_the_counts_of_the_whole_day(
    database: Database, survey: Survey
) -> None:
    # A day is split across connections (and cores) by service point: whatever the number of
    # parts, even more than the day has points, the rows are those of the day counted whole.
    await four_mixed_days(survey)
    counter = day_counter(database)
    for offset in range(4):
        await counter.count(database, NOV_10 + timedelta(days=offset))
    whole = await all_counted_rows(database)
    assert whole[DailyRespondents] and whole[DailyBandCount]

    for parts in (2, 3, 5):
        counted = [
            await counter.count(database, NOV_10 + timedelta(days=offset), parts=parts)
            for offset in range(4)
        ]
        assert await all_counted_rows(database) == whole
        assert sum(day.responses for day in counted) == len(whole[ResponseQuality])
        assert sum(day.flagged for day in counted) == sum(
            1 for row in whole[ResponseQuality] if row[-1]
        )


async def test_a_part_that_fails_leaves_the_day_as_it_was_and_no_scratch_file_attached(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = Survey(sqlite_database)
    await survey.units()
    await four_mixed_days(survey)
    counter = day_counter(sqlite_database)
    await counter.count(sqlite_database, NOV_10, parts=3)
    counted = await all_counted_rows(sqlite_database)

    async def fails(*_: object) -> tuple[int, int]:
        raise OSError("disk full")

    monkeypatch.setattr(counter, "_count_apart", fails)
    with pytest.raises(OSError, match="disk full"):
        await counter.count(sqlite_database, NOV_10, parts=3)
    assert await all_counted_rows(sqlite_database) == counted
    # Every pooled connection is back to the database file alone.
    async with asyncio.TaskGroup() as group:
        listed = [group.create_task(attached_files(sqlite_database)) for _ in range(8)]
    assert {tuple(task.result()) for task in listed} == {("main",)}


async def test_a_part_that_fails_leaves_each_points_rows_whole_and_the_day_marked(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parts of NOV_10: its points before W2-A, then W2-A's. SQLite copies every part in one
    # write, so a failure leaves the day as it was; on PostgreSQL each part is a transaction
    # of its own, so the other part's points may be counted anew. Either way each point's
    # rows are whole, from before or after, and the day is marked for the next run, even
    # where nobody had marked it (a run of named days).
    await four_mixed_days(survey)
    await survey.many(6, TYPICAL | profile("nu", "26-34"), day=NOV_10, point="W2-A")
    async with database.reading() as session:
        assert await split_day(session, NOV_10, 2) == [DayPart(None, "W2-A"), DayPart("W2-A")]
    counter = day_counter(database)
    await counter.count(database, NOV_10)
    before = {point: await point_rows(database, point) for point in ("W1-A", "W2-A")}
    await survey.response(TYPICAL | profile("nam", "26-34"), day=NOV_10, point="W1-A")
    await survey.response(ALL_FOUR, day=NOV_10, point="W2-A")
    async with database.transaction() as session:
        await session.execute(delete(DirtyDay))

    def failing_on_w2a(count_part: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counting(*given: Any) -> Any:
            if any(isinstance(part, DayPart) and part.low == "W2-A" for part in given):
                raise OSError("disk full")
            return await count_part(*given)

        return counting

    # The part counted on a connection of its own (SQLite), or in a transaction (PostgreSQL).
    name = "_count_apart" if database.is_sqlite else "_recount"
    monkeypatch.setattr(counter, name, failing_on_w2a(getattr(counter, name)))
    with pytest.raises(OSError, match="disk full"):
        await counter.count(database, NOV_10, parts=2)
    failed = {point: await point_rows(database, point) for point in ("W1-A", "W2-A")}
    async with database.reading() as session:
        assert await session.get(DirtyDay, NOV_10) is not None

    monkeypatch.undo()
    await counter.count(database, NOV_10, parts=2)
    after = {point: await point_rows(database, point) for point in ("W1-A", "W2-A")}
    assert after != before
    assert failed["W2-A"] == before["W2-A"]
    # The other part's transaction may have committed, or been stopped by the failure.
    assert failed["W1-A"] in (before["W1-A"], after["W1-A"])


@pytest.mark.postgres
async def test_a_postgresql_part_replaces_the_rows_of_its_own_service_points_alone(
    postgres_database: Database,
) -> None:
    # On PostgreSQL each part is a transaction of its own: counted alone, it must touch no
    # other point's rows, and give its own points the rows of the day counted whole.
    database = postgres_database
    survey = Survey(database)
    await survey.units()
    await four_mixed_days(survey)
    counter = day_counter(database)
    await counter.count(database, NOV_10)
    before = {point: await point_rows(database, point) for point in ("W1-A", "W2-A")}
    await survey.response(TYPICAL | profile("nam", "26-34"), day=NOV_10, point="W1-A")
    await survey.many(2, ALL_FOUR | profile("nu", "18-25"), day=NOV_10, point="W2-A")

    async with database.transaction() as session:
        counted = await counter._recount(session, NOV_10, DayPart("W2-A"))
    alone = await point_rows(database, "W2-A")
    assert await point_rows(database, "W1-A") == before["W1-A"]
    assert alone != before["W2-A"]
    assert counted.responses == 4  # two in four_mixed_days, two just now

    await counter.count(database, NOV_10)
    assert await point_rows(database, "W2-A") == alone


async def test_a_night_splits_its_changed_days_across_the_cores_and_a_longer_run_does_not(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A night counts yesterday and today, and the day after each for its repeats: the work is
    # in the days marked, so a run that changed no more days than cores splits them.
    asked: list[tuple[date, int]] = []
    count = DayCounter.count

    async def counting(self: DayCounter, database: Database, day: date, *, parts: int = 1) -> Any:
        asked.append((day, parts))
        return await count(self, database, day, parts=parts)

    monkeypatch.setattr(DayCounter, "count", counting)
    changed = [NOV_10 + timedelta(days=offset) for offset in range(PARALLEL_DAYS)]
    for day in changed:
        await survey.response(TYPICAL, day=day)
    await aggregate(database, PROFILE_LAYOUT)
    following = changed[-1] + timedelta(days=1)
    assert sorted(asked) == [(day, PARALLEL_DAYS) for day in [*changed, following]]

    asked.clear()
    for day in [*changed, following]:
        await survey.response(TYPICAL, day=day)
    await aggregate(database, PROFILE_LAYOUT)
    assert {parts for _, parts in asked} == {1}


async def point_rows(database: Database, point: str) -> list[tuple[object, ...]]:
    """Every count row of one service point, sorted."""
    rows: list[tuple[object, ...]] = []
    async with database.reading() as session:
        for model in (DailyCount, DailyRespondents, DailyBandCount):
            found = await session.execute(
                select(*model.__table__.columns).where(model.service_point_code == point)
            )
            rows += [(model.__tablename__, *row) for row in found.tuples().all()]
    return sorted(rows, key=repr)


async def attached_files(database: Database) -> list[str]:
    async with database.own_connection() as connection, database.reading_on(connection):
        names = [row[1] for row in await connection.exec_driver_sql("PRAGMA database_list")]
        await asyncio.sleep(0.01)  # held, so that the eight callers borrow eight connections
        return names


async def test_a_day_is_split_between_service_points_into_parts_of_about_as_many_responses(
    database: Database, survey: Survey
) -> None:
    await survey.many(3, TYPICAL, day=NOV_10, point="W1-A")
    await survey.many(3, TYPICAL, day=NOV_10, point="W1-B")
    await survey.many(3, TYPICAL, day=NOV_10, point="W2-A")
    await survey.many(4, TYPICAL, day=NOV_11, point="W1-B")

    async def split(day: date, parts: int) -> list[DayPart]:
        async with database.own_connection() as connection, database.reading_on(connection):
            return await split_day(connection, day, parts)

    assert await split(NOV_10, 1) == [DayPart(None, None)]
    # Cut at the response in the middle, whose point starts the second part: 3 and 6.
    assert await split(NOV_10, 2) == [DayPart(None, "W1-B"), DayPart("W1-B", None)]
    assert await split(NOV_10, 3) == [
        DayPart(None, "W1-B"),
        DayPart("W1-B", "W2-A"),
        DayPart("W2-A", None),
    ]
    # Never an empty part: not more parts than points, nor a part of a day's single point.
    assert await split(NOV_10, 8) == await split(NOV_10, 3)
    assert await split(NOV_11, 2) == [DayPart(None, None)]
    assert await split(NOV_11 + timedelta(days=1), 2) == [DayPart(None, None)]


async def four_mixed_days(survey: Survey) -> None:
    """Four days from NOV_10 with repeats across a midnight, straight-lining, profile bands,
    two channels, two respondent types and two counters."""
    start = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    for offset in range(4):
        day = NOV_10 + timedelta(days=offset)
        await survey.many(3, TYPICAL | profile("nam", "18-25"), day=day)
        await survey.many(2, ALL_FOUR | profile("nu", "26-34"), day=day, point="W2-A")
        await survey.response(
            answers(TIEP_CAN="5", TTHC=None) | profile("nu", "18-25"),
            day=day,
            channel="zalo_oa",
            respondent_type="organisation",
            respondent_key="again",
            completed_at=start + timedelta(days=offset, hours=offset * 3),
        )


def day_counter(database: Database) -> DayCounter:
    """What a run counts the days of PROFILE_LAYOUT with, on `database`'s backend."""
    return DayCounter(
        PROFILE_LAYOUT.questionnaire_id,
        PROFILE_LAYOUT.counted_codes,
        _scale_values(PROFILE_LAYOUT.questionnaire_id),
        QualityRules(),
        sqlite=database.is_sqlite,
        profile_codes=PROFILE_LAYOUT.profile_codes,
        band_item_codes=PROFILE_LAYOUT.item_codes,
    )


async def all_counted_rows(database: Database) -> dict[type, list[tuple[object, ...]]]:
    """Every row of the counted tables, sorted."""
    rows: dict[type, list[tuple[object, ...]]] = {}
    async with database.reading() as session:
        for model in (ResponseQuality, DailyCount, DailyRespondents, DailyBandCount):
            columns = [c for c in model.__table__.columns if c.name != "id"]
            found = (await session.execute(select(*columns))).tuples().all()
            rows[model] = sorted((tuple(row) for row in found), key=repr)
    return rows
