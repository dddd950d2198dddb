"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from analytics.aggregate import aggregate
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Answer, Base, DirtyDay, Response, ResponseQuality, SurveySession
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey


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
