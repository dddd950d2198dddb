"""Reply windows: the last message of each respondent, replaced, counted, forgotten, never in clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.reply_windows import LastMessage, ReplyWindows, forget_reply_windows
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET

LAN, MINH = "2512000000000000001", "2512000000000000002"
MORNING = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


async def test_a_new_message_replaces_the_window_and_replies_add_up(database: Database) -> None:
    windows = ReplyWindows(database, TEST_SECRET, "zalo_oa")
    await windows.open(LAN, "msg-5f2a9c01", MORNING, 1)
    await windows.open(LAN, "msg-77d0e4b2", MORNING + timedelta(minutes=3), 2)
    await windows.count_replies(LAN, 3)
    await windows.count_replies(MINH, 1)  # no window: nothing to count

    assert await windows.last_message(LAN) == LastMessage(
        "msg-77d0e4b2", MORNING + timedelta(minutes=3), 5
    )
    assert await windows.last_message(MINH) is None
    assert await ReplyWindows(database, TEST_SECRET, "zalo_bot").last_message(LAN) is None
    stored = await database_text(database)
    assert LAN not in stored and "msg-77d0e4b2" not in stored


async def test_windows_past_the_limit_are_forgotten(database: Database) -> None:
    windows = ReplyWindows(database, TEST_SECRET, "zalo_oa")
    await windows.open(LAN, "msg-5f2a9c01", MORNING, 0)
    await windows.open(MINH, "msg-77d0e4b2", MORNING + timedelta(hours=47), 0)

    now = MORNING + timedelta(hours=49)
    forgotten = await forget_reply_windows(database, now - timedelta(hours=48))

    assert forgotten == 1
    assert await windows.last_message(LAN) is None
    assert await windows.last_message(MINH) is not None
