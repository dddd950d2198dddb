"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from analytics.aggregate import aggregate
from questionnaires.model import SATISFACTION_VALUES
from storage.counts import BAND_VALUE_COLUMNS
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Answer, Base, DirtyDay, Response, ResponseQuality, SurveySession
from tests.analytics.survey_rows import (
    PROFILE_LAYOUT,
    SIPAS_LAYOUT,
    TYPICAL,
    Survey,
    answers,
    profile,
)


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []


async def test_0003_downgrades_and_upgrades_with_data_and_the_next_run_restores_the_flags(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    kept = await survey.response(TYPICAL)
    await aggregate(database, SIPAS_LAYOUT)
    await database.dispose()  # Alembic works on its own connection

    await asyncio.to_thread(
        command.downgrade, alembic_config(database.url, schema=database.schema), "0002"
    )
    await upgrade(database.url, schema=database.schema)

    async with database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(Response)) == 1
        assert await tx.scalar(select(DirtyDay.day)) == date(2026, 11, 10)
    await aggregate(database, SIPAS_LAYOUT)
    async with database.reading() as tx:
        response = await tx.get(Response, kept)
        assert await tx.get(ResponseQuality, kept) is not None
    # The downgrade dropped the facts; the recount recorded them again from the answers.
    assert response is not None and response.scale_answers == 19


async def test_0019_keeps_every_answer_both_ways_and_a_rounds_session_needs_no_counter(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    kept = await survey.response(TYPICAL)
    async with database.reading() as tx:
        answers = await tx.scalar(select(func.count()).select_from(Answer))
    assert answers
    await database.dispose()

    config = alembic_config(database.url, schema=database.schema)
    await asyncio.to_thread(command.downgrade, config, "0015_live_keyboards")
    await upgrade(database.url, schema=database.schema)

    async with database.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(Answer)) == answers
        assert await tx.get(Response, kept) is not None
        original = await tx.scalar(select(SurveySession).limit(1))
        assert original is not None
        tx.add(
            SurveySession(
                respondent_key="k" * 64,
                channel="telegram",
                questionnaire_id="par-officials-2025",
                questionnaire_version="1.0.0",
                service_point_code=None,
                language="vi",
                status="consent",
                started_at=original.started_at,
                last_activity_at=original.started_at,
                round_code="r",
                group_code="G",
                rated_units=["SO-A"],
            )
        )


async def test_0025_folds_the_band_counts_into_a_row_per_item_and_back_without_a_recount(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.response(TYPICAL | profile("nu", "18-25"))
    await survey.response(answers(TIEP_CAN="2", TTHC="5") | profile("nu", "26-34"))
    await survey.response(TYPICAL | profile("nam", "18-25"), point="W2-A")
    await survey.response(
        answers(TIEP_CAN="4") | profile("nu", "18-25"), respondent_type="organisation"
    )
    await aggregate(database, PROFILE_LAYOUT)
    keys = "day, service_point_code, respondent_type, flags, profile_item, band, item_code"
    per_item = f"SELECT {keys}, {', '.join(BAND_VALUE_COLUMNS)} FROM daily_band_counts"
    folded = await sorted_rows(database, per_item)
    assert {row[1:3] for row in folded} == {
        ("W1-A", "citizen"),
        ("W1-A", "organisation"),
        ("W2-A", "citizen"),
    }

    config = alembic_config(database.url, schema=database.schema)
    await asyncio.to_thread(command.downgrade, config, "0024_daily_counts_without_keys")
    per_value = await sorted_rows(database, f"SELECT {keys}, value, answers FROM daily_band_counts")
    assert per_value == sorted(
        (
            (*row[:7], value, answers)
            for row in folded
            for value, answers in zip(SATISFACTION_VALUES, row[7:], strict=True)
            if answers
        ),
        key=repr,
    )

    # Rows of what is no satisfaction value (a skipped answer counted before bands left
    # them out, or a value off the scale) are out of every band's figures: not folded in.
    async with database.transaction() as tx:
        for value in (None, "9"):
            await tx.execute(
                text(
                    f"INSERT INTO daily_band_counts ({keys}, value, answers) "
                    f"SELECT {keys}, :value, 7 FROM daily_band_counts WHERE value = '4'"
                ),
                {"value": value},
            )
    await database.dispose()
    await upgrade(database.url, schema=database.schema)
    assert await sorted_rows(database, per_item) == folded
    async with database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0


async def sorted_rows(database: Database, query: str) -> list[tuple[Any, ...]]:
    """Every row a query reads, sorted; the engine let go after, for Alembic's own."""
    async with database.reading() as tx:
        rows = sorted((tuple(row) for row in await tx.execute(text(query))), key=repr)
    await database.dispose()
    return rows
