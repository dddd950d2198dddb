"""Upkeep in `sipas serve`: one reminder per idle survey, abandoned surveys expire, old event ids go."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.maintenance import maintain_once
from handlers.events import Command, InboundKind, Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload, issue_invitation
from storage.models import ProcessedEvent, ResultFollowUp
from storage.result_follow_ups import mark_due
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, Clock, Respondent, add_counters, engine_config


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


async def test_the_round_sends_result_questions_owed_once_the_respondent_is_free_and_erases_old_addresses(
    database: Database,
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))
    clock = Clock()
    async with database.transaction() as tx:
        first, second, third = [
            await issue_invitation(
                tx, TEST_SECRET, service_point_code=POINT, now=clock.now, ttl=timedelta(days=9)
            )
            for _ in range(3)
        ]
    busy = Respondent(engine, "5550003", clock)
    blocked = Respondent(engine, "5550004", clock)
    late = Respondent(engine, "5550005", clock)
    for person, issued in ((busy, first), (blocked, second), (late, third)):
        await person.complete(issued.payload, result_follow_up="yes")
    await busy.begin(counter_payload(TEST_SECRET, OTHER_POINT))  # another survey, under way
    async with database.transaction() as tx:
        await mark_due(tx, [first.invitation.id, second.invitation.id], clock.now)
    sent: list[str] = []

    async def telegram(address: str, replies: list[Reply]) -> None:
        if address == blocked.chat:
            raise RuntimeError("Forbidden: bot was blocked by the user")
        sent.append(address)

    await maintain_once(engine, {"telegram": telegram}, clock.now)
    assert sent == []
    await busy.command(Command.CANCEL)
    await maintain_once(engine, {"telegram": telegram}, clock.now)
    await maintain_once(engine, {"telegram": telegram}, clock.now + timedelta(days=61))

    assert sent == [busy.chat]
    async with database.reading() as tx:
        statuses = dict(
            (await tx.execute(select(ResultFollowUp.response_id, ResultFollowUp.status)))
            .tuples()
            .all()
        )
        kept = (await tx.scalars(select(ResultFollowUp.address_ciphertext))).all()
    assert sorted(statuses.values()) == ["expired", "sent", "unreachable"]
    assert kept == [None, None, None]
