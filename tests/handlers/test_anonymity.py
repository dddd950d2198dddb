"""Anonymity is tested, not promised: no platform id is found in the database or the logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from handlers.events import Command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
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
