"""Anonymity is tested, not promised: no platform id is found in the database or the logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from handlers.events import Command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload, issue_invitation
from storage.result_follow_ups import mark_due
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

PLATFORM_IDS = ["731946285", "884213579", "zalo-4411778899"]


async def test_completed_surveys_leave_no_platform_id_in_any_table_or_log(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_counters(database)
    # Reminders on, so the encrypted address is exercised too.
    engine = SurveyEngine(
        database, load_bundled(), engine_config(reminder_after=timedelta(minutes=30))
    )
    clock = Clock()
    payload = counter_payload(TEST_SECRET, POINT)
    for chat in PLATFORM_IDS[:2]:
        await Respondent(engine, chat, clock).complete(payload)
    unfinished = Respondent(engine, PLATFORM_IDS[2], clock, channel="zalo_oa")
    await unfinished.begin(payload)
    await unfinished.command(Command.HELP)

    stored = await database_text(database)
    logged = caplog.text
    assert POINT in stored and "completed" in stored  # the search does see the survey data
    for platform_id in PLATFORM_IDS:
        assert platform_id not in stored
        assert platform_id not in logged


async def test_the_result_follow_up_leaves_no_platform_id_kept_sent_or_declined(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))
    clock = Clock()
    agreed, kept, declined = PLATFORM_IDS
    async with database.transaction() as tx:
        minted = [
            await issue_invitation(
                tx, TEST_SECRET, service_point_code=POINT, now=clock.now, ttl=timedelta(days=3)
            )
            for _ in PLATFORM_IDS
        ]
    for chat, issued, choice in zip(PLATFORM_IDS, minted, ("yes", "yes", "no"), strict=True):
        await Respondent(engine, chat, clock, channel="zalo_oa").complete(
            issued.payload, result_follow_up=choice
        )
    async with database.transaction() as tx:
        await mark_due(tx, [minted[0].invitation.id], clock.now)
    [message] = await engine.due_result_follow_ups(clock.now)
    follow_up = Respondent(engine, agreed, clock, channel="zalo_oa", screen=message.replies)
    for _ in range(3):
        await follow_up.answer("5")

    stored = await database_text(database)
    assert "answered" in stored and "waiting" in stored  # the search sees both follow-ups
    for platform_id in (agreed, kept, declined):
        assert platform_id not in stored  # erased once sent, encrypted while kept, never if no
        assert platform_id not in caplog.text
