"""Live keyboards: which messages of a chat still show buttons, kept per respondent key, forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.live_keyboards import LiveKeyboards, forget_live_keyboards
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET

LAN, MINH = "5000000123", "5000000456"
MORNING = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


async def test_the_live_keyboards_of_a_chat_are_replaced_and_go_when_none_is_left(
    database: Database,
) -> None:
    keyboards = LiveKeyboards(database, TEST_SECRET, "telegram")
    await keyboards.keep(LAN, [2, 3], MORNING)
    await keyboards.keep(LAN, [3], MORNING + timedelta(seconds=5))
    await keyboards.keep(MINH, [7], MORNING)

    assert await keyboards.of(LAN) == [3]
    assert await LiveKeyboards(database, TEST_SECRET, "zalo_oa").of(LAN) == []
    assert LAN not in await database_text(database)  # named by the respondent key only

    await keyboards.keep(LAN, [], MORNING + timedelta(seconds=9))
    assert await keyboards.of(LAN) == []
    assert await keyboards.of(MINH) == [7]


async def test_keyboards_of_chats_long_unchanged_are_forgotten(database: Database) -> None:
    keyboards = LiveKeyboards(database, TEST_SECRET, "telegram")
    await keyboards.keep(LAN, [4], MORNING)
    await keyboards.keep(MINH, [9], MORNING + timedelta(days=6))

    assert await forget_live_keyboards(database, MORNING + timedelta(days=1)) == 1
    assert (await keyboards.of(LAN), await keyboards.of(MINH)) == ([], [9])
