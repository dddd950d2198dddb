"""Upkeep in `sipas serve`: one reminder per idle survey, abandoned surveys expire, old event ids go."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.maintenance import maintain_once
from handlers.events import InboundKind, Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from storage.models import ProcessedEvent
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
    await citizen.begin(counter_payload(TEST_SECRET, POINT))
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
    assert replies[-1].choices()[0].data == "consent:yes"  # expired: a fresh start, not a resume


async def test_event_ids_are_forgotten_after_a_week_and_redeliveries_within_it_still_stop(
    database: Database,
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    clock = Clock()
    citizen = Respondent(engine, "5550002", clock)
    start = citizen.inbound(InboundKind.START, counter_payload(TEST_SECRET, POINT), "old-start")
    await citizen.send(start)
    clock.advance(days=6)
    recent = citizen.inbound(InboundKind.CHOICE, "consent:yes", "recent-tap")
    await citizen.send(recent)

    await maintain_once(engine, {}, clock.now + timedelta(days=2))

    async with database.reading() as tx:
        kept = (await tx.execute(select(ProcessedEvent.event_id))).scalars().all()
    assert kept == ["recent-tap"]
    assert await citizen.send(recent) == []  # still recognised as a redelivery
