"""Coverage per moment of the dossier: invitations, starts and completions at reception and at
the result, and the result follow-ups, as `sipas summary` shows them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.days import parse_period
from analytics.moments import moment_counts
from bot.commands.summary import summary_command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import IssuedInvitation, Stage, issue_invitation
from storage.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, ZONE, Clock, Respondent, add_counters, engine_config


async def mint(database: Database, clock: Clock, stage: Stage) -> IssuedInvitation:
    async with database.transaction() as tx:
        return await issue_invitation(
            tx,
            TEST_SECRET,
            service_point_code=POINT,
            now=clock.now,
            ttl=timedelta(days=3),
            stage=stage,
        )


async def november(database: Database) -> None:
    """In November 2026: three invitations at reception (one answered, agreeing to the
    follow-up; one started and left; one never opened) and one at the result, answered."""
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))
    clock = Clock()
    answered, started, _unopened = [await mint(database, clock, Stage.RECEPTION) for _ in "abc"]
    at_result = await mint(database, clock, Stage.RESULT)
    await Respondent(engine, "101", clock).complete(answered.payload, result_follow_up="yes")
    await Respondent(engine, "102", clock).begin(started.payload)
    await Respondent(engine, "103", clock).complete(at_result.payload)


async def test_the_counts_per_moment(database: Database) -> None:
    await november(database)

    counts = await moment_counts(database, parse_period("2026-11"), ZONE)
    december = await moment_counts(database, parse_period("2026-12"), ZONE)

    figures = {s.stage: (s.invitations, s.starts, s.completions) for s in counts.stages}
    assert figures == {"reception": (3, 2, 1), "result": (1, 1, 1)}
    assert counts.follow_ups_agreed == 1 and counts.follow_ups["waiting"] == 1
    assert [s.invitations for s in december.stages] == [0, 0]
    assert december.follow_ups_agreed == 0


def test_summary_shows_the_moments_beside_the_indices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)

    async def fill() -> None:
        await upgrade(url)
        database = Database(url)
        await november(database)
        await database.dispose()

    asyncio.run(fill())

    result = CliRunner().invoke(summary_command, ["--period", "2026-11"], terminal_width=200)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    reception = next(line for line in lines if line.lstrip("│ ").startswith("reception"))
    assert [cell.strip() for cell in reception.split("│")[1:5]] == ["reception", "3", "2", "1"]
    follow_up = next(line for line in lines if line.lstrip("│ ").startswith("result follow-up"))
    assert [cell.strip() for cell in follow_up.split("│")[1:5]] == [
        "result follow-up",
        "1 agreed",
        "0",
        "0",
    ]
    assert "waiting 1" in follow_up
