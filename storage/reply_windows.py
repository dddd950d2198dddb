"""Reply windows: whether a respondent's last message can still be answered for free, and who cannot be reached.

Zalo lets an Official Account answer each message a user sends with 8 free replies
within 48 hours, when the replies name that message; anything else may be billed as a
proactive message. A window is the respondent's last message (its id encrypted, as a
chat address is), when it came and how many replies have answered it: kept in the
database so that a reminder sent later, by whichever worker, can still be a free reply,
or is not sent at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, literal, text, update
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import ReplyWindow, SurveySession
from storage.privacy import AddressCipher, respondent_key
from storage.sessions import OPEN_STATUSES

__all__ = ["LastMessage", "ReplyWindows", "forget_reply_windows"]

_WINDOWS = cast(Table, ReplyWindow.__table__)
_COLUMNS = ("respondent_key", "message_ciphertext", "opened_at", "replies")
# SQL text, read alike by SQLite and PostgreSQL (as storage.sessions writes its upserts): a
# new message of the respondent replaces the window of the previous one.
_OPEN = text(
    f"INSERT INTO {_WINDOWS.name} ({', '.join(_COLUMNS)}) "  # noqa: S608 (mapped names only)
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) ON CONFLICT (respondent_key) "
    "DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS if name != "respondent_key")
).bindparams(*(bindparam(name, type_=_WINDOWS.c[name].type) for name in _COLUMNS))


@dataclass(frozen=True)
class LastMessage:
    """The message a reply would answer: its platform id, when it came, how often it was answered."""

    message_id: str
    received_at: datetime
    replies: int


class ReplyWindows:
    """The reply windows of one channel's respondents, named by their chat address (never stored)."""

    def __init__(self, database: Database, secret: str, channel: str) -> None:
        self._database = database
        self._secret = secret
        self._channel = channel
        self._cipher = AddressCipher(secret)

    def _key(self, address: str) -> str:
        return respondent_key(self._secret, self._channel, address)

    async def open(
        self, address: str, message_id: str, received_at: datetime, replies: int
    ) -> None:
        """`message_id`, received at `received_at`, is the respondent's last message, answered
        `replies` times so far."""
        async with self._database.short_transaction() as tx:
            await tx.execute(
                _OPEN,
                {
                    "respondent_key": self._key(address),
                    "message_ciphertext": self._cipher.encrypt(message_id),
                    "opened_at": received_at,
                    "replies": replies,
                },
            )

    async def last_message(self, address: str) -> LastMessage | None:
        """The respondent's last message, or None: none known, or encrypted under another secret."""
        async with self._database.reading() as tx:
            window = await tx.get(ReplyWindow, self._key(address))
        message_id = self._cipher.decrypt(window.message_ciphertext) if window else None
        if window is None or message_id is None:
            return None
        return LastMessage(message_id, window.opened_at, window.replies)

    async def count_replies(self, address: str, replies: int) -> None:
        """`replies` more replies have answered the respondent's last message."""
        async with self._database.short_transaction() as tx:
            await tx.execute(
                update(ReplyWindow)
                .where(ReplyWindow.respondent_key == self._key(address))
                .values(replies=ReplyWindow.replies + replies)
            )

    async def mark_unreachable(self, address: str, at: datetime) -> None:
        """The platform will not deliver to the respondent until they write again: their open
        session is marked (its answers kept) and their window closed, so no reminder is tried."""
        key = self._key(address)
        async with self._database.transaction() as tx:
            await tx.execute(
                update(SurveySession)
                .where(
                    SurveySession.respondent_key == key,
                    SurveySession.status.in_([literal(status) for status in OPEN_STATUSES]),
                )
                .values(unreachable_at=at)
            )
            await tx.execute(delete(ReplyWindow).where(ReplyWindow.respondent_key == key))


async def forget_reply_windows(database: Database, before: datetime) -> int:
    """Delete the windows opened before `before` (past the platform's limit); how many went."""
    async with database.transaction() as tx:
        result = cast(
            CursorResult[Any],
            await tx.execute(delete(ReplyWindow).where(ReplyWindow.opened_at < before)),
        )
    return result.rowcount
