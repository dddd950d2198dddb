"""Upkeep in `sipas serve`: one reminder per idle survey, abandoned surveys expire."""

from __future__ import annotations

from datetime import timedelta

from bot.maintenance import maintain_once
from handlers.events import Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config


async def test_an_idle_respondent_gets_one_reminder_with_the_current_question_then_the_survey_expires(
    database: Database,
) -> None:
    await add_counters(database)
    engine = SurveyEngine(
        database, load_bundled(), engine_config(reminder_after=timedelta(minutes=30))
    )
    clock = Clock()
    citizen = Respondent(engine, "5550001", clock)
    await citizen.start(counter_payload(TEST_SECRET, POINT))
    await citizen.press("consent:yes")
    await citizen.answer("citizen")
    sent: list[tuple[str, list[Reply]]] = []

    async def telegram(address: str, replies: list[Reply]) -> None:
        sent.append((address, replies))

    await maintain_once(engine, {"telegram": telegram}, clock.now + timedelta(minutes=10))
    assert sent == []
    await maintain_once(engine, {"telegram": telegram}, clock.now + timedelta(minutes=31))
    await maintain_once(engine, {"telegram": telegram}, clock.now + timedelta(minutes=40))
    assert len(sent) == 1
    address, replies = sent[0]
    assert address == "5550001"
    assert "chưa hoàn thành" in replies[0].text
    assert replies[1].choices()[0].data == "a:15:1"

    await maintain_once(engine, {"telegram": telegram}, clock.now + timedelta(hours=49))
    replies = await citizen.start(counter_payload(TEST_SECRET, POINT))
    assert replies[0].choices()[0].data == "consent:yes"  # expired: a fresh start, not a resume
