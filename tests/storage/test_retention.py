"""The retention period: completed answers older than it are deleted, their days' counts stay."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from analytics.aggregate import aggregate
from bot.cli import cli
from bot.maintenance import maintain_once
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.models import (
    Answer,
    DailyCount,
    DailyRespondents,
    DirtyDay,
    Invitation,
    Response,
    ResponseQuality,
    RetentionRun,
    SurveySession,
)
from storage.retention import RetentionPolicy, apply_retention, months_before, retained_from
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey
from tests.conftest import TEST_SECRET
from tests.survey_driver import engine_config

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
TWELVE_MONTHS = RetentionPolicy(12, ZONE)
CUTOFF = date(2025, 11, 20)
OLD_DAY, KEPT_DAY, RECENT_DAY = date(2025, 11, 19), CUTOFF, date(2026, 11, 10)


async def rows(database: Database, model: type) -> int:
    async with database.reading() as tx:
        return int(await tx.scalar(select(func.count()).select_from(model)) or 0)


async def counts_of(database: Database, day: date) -> list[tuple[str, str | None, int]]:
    async with database.reading() as tx:
        result = await tx.execute(
            select(DailyCount.item_code, DailyCount.value, DailyCount.answers)
            .where(DailyCount.day == day)
            .order_by(DailyCount.item_code, DailyCount.value)
        )
        return [tuple(row) for row in result.all()]


def invitation(code: str, expires_at: datetime) -> Invitation:
    return Invitation(
        id=code,
        token_hash=f"token-{code}",
        short_code_hash=f"short-{code}",
        service_point_code="W1-A",
        created_at=expires_at,
        expires_at=expires_at,
    )


def closed_session(status: str, last_active: datetime) -> SurveySession:
    return SurveySession(
        respondent_key="",
        channel="telegram",
        questionnaire_id="sipas-2023",
        questionnaire_version="1.0.0",
        service_point_code="W1-A",
        language="vi",
        status=status,
        started_at=last_active,
        last_activity_at=last_active,
    )


@pytest.fixture
async def survey(database: Database) -> Survey:
    survey = Survey(database)
    await survey.units()
    for day in (OLD_DAY, OLD_DAY, KEPT_DAY, RECENT_DAY):
        await survey.response(TYPICAL, day=day)
    async with database.transaction() as tx:
        tx.add(closed_session("declined", datetime(2025, 10, 1, tzinfo=UTC)))
        tx.add(closed_session("expired", datetime(2026, 11, 1, tzinfo=UTC)))
        tx.add(invitation("old-unused", datetime(2025, 10, 1, tzinfo=UTC)))
        tx.add(invitation("still-open", datetime(2026, 11, 21, tzinfo=UTC)))
    await aggregate(database, SIPAS_LAYOUT)
    return survey


def test_the_cutoff_is_the_same_day_so_many_calendar_months_back() -> None:
    assert months_before(date(2026, 11, 20), 12) == date(2025, 11, 20)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 2) == date(2025, 11, 15)
    # The local day: 23:30 UTC on the 19th is already the 20th in Hà Nội.
    assert TWELVE_MONTHS.cutoff(datetime(2026, 11, 19, 23, 30, tzinfo=UTC)) == CUTOFF


async def test_responses_before_the_cutoff_go_with_their_answers_and_flags_and_the_counts_stay(
    database: Database, survey: Survey
) -> None:
    counted = await counts_of(database, OLD_DAY)
    assert counted  # the old day was counted while its responses existed

    outcome = await apply_retention(database, TWELVE_MONTHS, NOW)

    assert (outcome.cutoff_day, outcome.responses) == (CUTOFF, 2)
    assert (outcome.unfinished_sessions, outcome.invitations) == (1, 1)
    async with database.reading() as tx:
        days = (await tx.scalars(select(Response.reporting_day).order_by(Response.id))).all()
        invitations = (await tx.scalars(select(Invitation.id))).all()
        statuses = (await tx.scalars(select(SurveySession.status))).all()
        assert await retained_from(tx) == CUTOFF
    assert list(days) == [KEPT_DAY, RECENT_DAY]
    assert list(invitations) == ["still-open"]
    assert sorted(statuses) == ["completed", "completed", "expired"]
    assert await rows(database, ResponseQuality) == 2
    assert await rows(database, Answer) == 2 * len(TYPICAL)
    assert await counts_of(database, OLD_DAY) == counted


async def test_no_recount_empties_the_counts_of_a_day_whose_responses_are_gone(
    database: Database, survey: Survey
) -> None:
    before = await counts_of(database, OLD_DAY)
    await apply_retention(database, TWELVE_MONTHS, NOW)
    # A paper response for that day imported afterwards marks it again.
    await survey.response(TYPICAL, day=OLD_DAY)

    await aggregate(database, SIPAS_LAYOUT, full=True)
    await aggregate(database, SIPAS_LAYOUT)

    assert await counts_of(database, OLD_DAY) == before
    assert await counts_of(database, RECENT_DAY)  # later days are counted as ever
    async with database.reading() as tx:
        respondents = await tx.scalar(
            select(func.sum(DailyRespondents.respondents)).where(DailyRespondents.day == OLD_DAY)
        )
    assert respondents == 2


async def test_once_a_day_is_enough_unless_asked_again(database: Database, survey: Survey) -> None:
    await apply_retention(database, TWELVE_MONTHS, NOW)
    await survey.response(TYPICAL, day=OLD_DAY, mark_dirty=False)

    later = await apply_retention(database, TWELVE_MONTHS, NOW)
    assert not later.applied and await rows(database, Response) == 3
    again = await apply_retention(database, TWELVE_MONTHS, NOW, again=True)
    assert (again.applied, again.responses) == (True, 1)
    assert await rows(database, RetentionRun) == 2


async def test_the_maintenance_round_applies_the_retention_period(
    database: Database, survey: Survey
) -> None:
    engine = SurveyEngine(database, load_bundled(), engine_config())
    await maintain_once(engine, {}, NOW)
    assert await rows(database, Response) == 4  # no period given, nothing deleted

    await maintain_once(engine, {}, NOW, retention=TWELVE_MONTHS)
    assert await rows(database, Response) == 2
    assert await rows(database, DirtyDay) == 0


def test_the_command_applies_the_configured_period_and_says_what_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_RETENTION_MONTHS", "6")
    runner = CliRunner()

    result = runner.invoke(cli, ["retention", "apply"])

    assert result.exit_code == 0, result.output
    cutoff = months_before(datetime.now(ZONE).date(), 6)
    assert result.output.startswith(f"retention 6 months: kept responses from {cutoff} on")
    assert "deleted 0 responses of earlier days" in result.output
    assert "daily counts of earlier days kept" in result.output
    assert "result follow-up 60 days: erased 0 chat addresses kept longer" in result.output
