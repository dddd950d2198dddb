"""Simulated respondents: real engine, marked as simulated, reproducible, and removable."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from handlers.simulation import NoServicePoints, simulate
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.models import (
    Answer,
    DirtyDay,
    Invitation,
    ProcessedEvent,
    Response,
    SurveySession,
)
from storage.simulated import remove_simulated
from tests.conftest import TEST_SECRET
from tests.survey_driver import ZONE, add_counters, engine_config

QUESTIONNAIRE = load_bundled()
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database: Database) -> SurveyEngine:
    await add_counters(database)
    return SurveyEngine(database, QUESTIONNAIRE, engine_config(), simulated=True)


async def count(database: Database, model: type, *where: object) -> int:
    async with database.reading() as tx:
        statement = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return (await tx.execute(statement)).scalar_one()


async def answers_by_session(database: Database) -> dict[int, dict[str, str | None]]:
    async with database.reading() as tx:
        rows = await tx.execute(select(Answer.session_id, Answer.item_code, Answer.value))
        sessions: dict[int, dict[str, str | None]] = defaultdict(dict)
        for session_id, code, value in rows.tuples():
            sessions[session_id][code] = value
        return dict(sessions)


async def test_simulated_respondents_complete_the_survey_obeying_skip_logic_and_can_be_removed(
    engine: SurveyEngine, database: Database
) -> None:
    report = await simulate(engine, respondents=30, days=7, seed=1, now=NOW)

    assert (report.respondents, report.completed) == (30, 30)
    assert await count(database, Response) == 30
    assert await count(database, Response, Response.simulated) == 30
    assert await count(database, SurveySession, SurveySession.simulated.is_(False)) == 0
    async with database.reading() as tx:
        responses = (await tx.scalars(select(Response))).all()
    assert {response.channel for response in responses} == {"simulated"}
    assert {response.respondent_type for response in responses} == {"citizen", "organisation"}
    assert sum(response.invitation_id is not None for response in responses) == report.invitations
    for response in responses:
        local = response.completed_at.astimezone(ZONE)
        assert NOW - timedelta(days=8) < response.completed_at < NOW
        assert time(7, 30) <= local.time() <= time(18, 0)  # office hours, plus the survey
    for answers in (await answers_by_session(database)).values():
        # Nothing the skip logic hides, and every required item that is shown has an answer.
        assert QUESTIONNAIRE.relevant_answers(answers) == answers
        for item in QUESTIONNAIRE.visible_items(answers):
            if item.required:
                assert answers.get(item.code) is not None
    opened = [a for a in (await answers_by_session(database)).values() if "28" in a]
    assert 0 < len(opened) < 30  # the KET_QUA screener says yes for some, not all

    removed = await remove_simulated(database, now=NOW)
    assert (removed.responses, removed.sessions) == (30, 30)
    assert removed.invitations == report.invitations
    assert await count(database, Response) == 0
    assert await count(database, SurveySession) == 0
    assert await count(database, Answer) == 0
    assert await count(database, Invitation) == 0
    assert await count(database, ProcessedEvent, ProcessedEvent.channel == "simulated") == 0
    assert await count(database, DirtyDay) == len(removed.days) > 0


async def answers_of_a_run(engine: SurveyEngine, seed: int) -> list[tuple[object, ...]]:
    await simulate(engine, respondents=4, days=3, seed=seed, now=NOW)
    async with engine.database.reading() as tx:
        sessions = {
            survey.id: (survey.service_point_code, survey.completed_at)
            for survey in (await tx.scalars(select(SurveySession))).all()
        }
    answers = await answers_by_session(engine.database)
    await remove_simulated(engine.database, now=NOW)
    return sorted(
        (*sessions[session_id], *sorted(answers[session_id].items(), key=str))
        for session_id in sessions
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_same_seed_gives_the_same_answers(engine: SurveyEngine) -> None:
    first = await answers_of_a_run(engine, seed=42)
    assert await answers_of_a_run(engine, seed=42) == first
    assert await answers_of_a_run(engine, seed=43) != first


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_without_service_points_there_is_nobody_to_simulate(database: Database) -> None:
    engine = SurveyEngine(database, QUESTIONNAIRE, engine_config(), simulated=True)
    with pytest.raises(NoServicePoints):
        await simulate(engine, respondents=1)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_engine_that_stores_real_sessions_is_refused(database: Database) -> None:
    engine = SurveyEngine(database, QUESTIONNAIRE, engine_config())
    with pytest.raises(ValueError, match="simulated=True"):
        await simulate(engine, respondents=1)


def test_the_command_simulates_and_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()

    empty = runner.invoke(cli, ["simulate", "--respondents", "3"])
    assert empty.exit_code == 1
    assert "sipas units load --sample" in empty.output

    assert runner.invoke(cli, ["units", "load", "--sample"]).exit_code == 0
    result = runner.invoke(cli, ["simulate", "--respondents", "4", "--days", "2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "simulated 4 respondents (seed 5): 4 completed" in result.stdout

    removed = runner.invoke(cli, ["simulate", "--remove"])
    assert removed.exit_code == 0, removed.output
    assert "removed 4 simulated responses" in removed.stdout

    assert runner.invoke(cli, ["simulate"]).exit_code == 2  # neither --respondents nor --remove
