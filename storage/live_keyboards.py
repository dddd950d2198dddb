"""Live keyboards: the bot's messages in a chat whose buttons still answer, so the next one takes their place.

A chat should show one live keyboard, the current step's: a tap on a superseded one only
gets "that question has passed". The message carrying a keyboard is known once it is sent,
and the update that supersedes it may be processed by another worker, or after a restart:
so the ids are kept here, per respondent key (the chat address itself is never stored),
and forgotten once no keyboard is live or long after the last change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, text
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import LiveKeyboard
from storage.privacy import respondent_key

__all__ = ["LiveKeyboards", "forget_live_keyboards"]

_TABLE = cast(Table, LiveKeyboard.__table__)
_COLUMNS = ("respondent_key", "message_ids", "updated_at")
# SQL text, read alike by SQLite and PostgreSQL (as storage.reply_windows writes its upserts).
_KEEP = text(
    f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) "  # noqa: S608 (mapped names only)
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) ON CONFLICT (respondent_key) "
    "DO UPDATE SET message_ids = excluded.message_ids, updated_at = excluded.updated_at"
).bindparams(*(bindparam(name, type_=_TABLE.c[name].type) for name in _COLUMNS))
# A plain statement: read on most updates, where the ORM's get costs twice as much.
_READ = text(
    f"SELECT message_ids FROM {_TABLE.name} WHERE respondent_key = :respondent_key"  # noqa: S608
).bindparams(bindparam("respondent_key", type_=_TABLE.c.respondent_key.type))
# On the table, not the mapped class: a Core statement, which a short transaction runs without
# its ORM session.
_FORGET = delete(_TABLE).where(_TABLE.c.respondent_key == bindparam("respondent_key"))
# At most this many ids are kept: a chat has a handful of keyboards live at the very most.
MAX_KEPT = 8


class LiveKeyboards:
    """The live keyboards of one channel's chats, named by their chat address (never stored)."""

    def __init__(self, database: Database, secret: str, channel: str) -> None:
        self._database = database
        self._secret = secret
        self._channel = channel

    def _key(self, address: str) -> str:
        return respondent_key(self._secret, self._channel, address)

    async def of(self, address: str) -> list[int]:
        """The ids of the chat's messages whose keyboards are live, oldest first."""
        async with self._database.single_statement() as statement:
            ids = (await statement.execute(_READ, {"respondent_key": self._key(address)})).scalar()
        return [int(part) for part in (ids or "").split(",") if part.isdigit()]

    async def keep(self, address: str, message_ids: Sequence[int], now: datetime) -> None:
        """The chat's live keyboards are now on `message_ids` (none: the row goes)."""
        key = self._key(address)
        async with self._database.single_statement() as statement:
            if not message_ids:
                await statement.execute(_FORGET, {"respondent_key": key})
                return
            ids = ",".join(str(message_id) for message_id in message_ids[-MAX_KEPT:])
            await statement.execute(
                _KEEP, {"respondent_key": key, "message_ids": ids, "updated_at": now}
            )


async def forget_live_keyboards(database: Database, before: datetime) -> int:
    """Forget the keyboards of chats unchanged since before `before`; how many chats went."""
    async with database.transaction() as tx:
        result = cast(
            CursorResult[Any],
            await tx.execute(delete(LiveKeyboard).where(LiveKeyboard.updated_at < before)),
        )
    return result.rowcount
