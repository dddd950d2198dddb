"""Delivery to and from the Bot API: within flood limits the workers share, retried, one update at a time per chat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiolimiter import AsyncLimiter
from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from storage.db import Database
from storage.privacy import keyed_hash
from storage.shared_limits import SharedBuckets

__all__ = [
    "ApiResult",
    "FloodLimit",
    "LocalFloodLimit",
    "PerChatUpdateProcessor",
    "RetryingRateLimiter",
    "SharedFloodLimit",
    "call",
]

log = logging.getLogger(__name__)

RETRY_AFTER_ATTEMPTS = 3
NETWORK_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.5
MAX_CONCURRENT_UPDATES = 64
MESSAGES_PER_SECOND = 30  # Telegram's flood limit for one bot, all chats together
GROUP_MESSAGES_PER_MINUTE = 20  # ... and for one group chat
FORGET_GROUPS_FROM = 512  # group chats' buckets kept in memory before full ones are forgotten

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


async def call(bot: Bot, method: str, **parameters: object) -> ApiResult:
    """Call a Bot API method; its result as the Bot API sent it. None parameters are left out.

    python-telegram-bot's typed methods (`edit_message_text`, ...) turn every result into
    objects, and a Message has about a hundred attributes: building one cost as much as the
    rest of the call, on every tap. This goes the way those methods go, through the bot's
    `_post`, so the flood limiter, the retries and the errors raised (BadRequest,
    RetryAfter, ...) are the same; only the result is left as the Bot API sent it.
    """
    result: ApiResult = await bot._post(method, parameters)
    return result


class FloodLimit(Protocol):
    """Telegram's flood limits: a bot's messages together, and those to one group chat."""

    async def wait_turn(self, group: int | str | None) -> None:
        """Wait until the bot may send one more message (to the group chat `group`, if any)."""


class LocalFloodLimit:
    """Telegram's flood limits kept in this process, for the one process sending for the bot.

    `messages_per_second`: the bot's overall rate, Telegram's 30 unless this process sends
    only a share of them (see `SharedFloodLimit`).
    """

    def __init__(self, messages_per_second: float = MESSAGES_PER_SECOND) -> None:
        self.messages_per_second = messages_per_second
        # The bucket must hold at least one message: below one a second, it allows one
        # message per longer period instead.
        burst = max(1.0, messages_per_second)
        self._overall = AsyncLimiter(burst, burst / messages_per_second)
        self._groups: dict[int | str, AsyncLimiter] = {}

    async def wait_turn(self, group: int | str | None) -> None:
        if group is not None:
            await self._group(group).acquire()
        await self._overall.acquire()

    def _group(self, group: int | str) -> AsyncLimiter:
        if group not in self._groups and len(self._groups) >= FORGET_GROUPS_FROM:
            # Forget the groups whose bucket is full again: a new one is the same.
            self._groups = {
                key: limiter
                for key, limiter in self._groups.items()
                if not limiter.has_capacity(limiter.max_rate)
            }
        limiter = self._groups.get(group)
        if limiter is None:
            limiter = self._groups[group] = AsyncLimiter(GROUP_MESSAGES_PER_MINUTE, 60)
        return limiter


class SharedFloodLimit:
    """Telegram's flood limits, one for all the workers sending for the bot (`sipas serve
    --workers N` on PostgreSQL): each message takes its turn from a bucket in the database
    (`storage.shared_limits`), the bot's and, for a group chat, the group's (named by a keyed
    hash of its id).

    Should the database not answer, this process keeps to its share of the limit,
    `messages_per_second / senders`, until it answers again: the message the respondent
    waits for still goes out.
    """

    def __init__(
        self,
        database: Database,
        secret: str,
        *,
        senders: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buckets = SharedBuckets(database)
        self._secret = secret
        self._clock = clock
        self.fallback = LocalFloodLimit(MESSAGES_PER_SECOND / senders)

    async def wait_turn(self, group: int | str | None) -> None:
        try:
            if group is not None:
                name = keyed_hash(self._secret, "telegram-group", str(group))
                await self._take(
                    f"telegram-group:{name}",
                    GROUP_MESSAGES_PER_MINUTE / 60,
                    GROUP_MESSAGES_PER_MINUTE,
                )
            await self._take("telegram", MESSAGES_PER_SECOND, MESSAGES_PER_SECOND)
        except Exception as error:
            log.warning(
                "Telegram's shared flood limit is out of reach (%s): this worker keeps to "
                "its share",
                type(error).__name__,
            )
            await self.fallback.wait_turn(group)

    async def _take(self, name: str, per_second: float, burst: float) -> None:
        wait = await self._buckets.take(name, per_second=per_second, burst=burst, now=self._clock())
        if wait > 0:
            await asyncio.sleep(wait)


class RetryingRateLimiter(BaseRateLimiter[int]):
    """Keeps within Telegram's flood limits, waits out a 429's `retry_after`, and retries
    network errors and 5xx answers of the Bot API.

    A message to a chat (a request with a `chat_id`) waits for its turn under `flood`
    (`LocalFloodLimit` by default; `SharedFloodLimit` when several workers send); a 429
    holds every request of this process for its `retry_after`. A timeout or a 5xx would
    otherwise drop the reply on the floor. A 400 (BadRequest) is the caller's mistake and
    is never retried. A timed-out request may have reached Telegram, so a retry can
    duplicate a message: better twice than never for the question the respondent is
    waiting for.
    """

    def __init__(
        self,
        *,
        flood: FloodLimit | None = None,
        network_attempts: int = NETWORK_ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        retry_after_attempts: int = RETRY_AFTER_ATTEMPTS,
    ) -> None:
        self.flood = flood or LocalFloodLimit()
        self._network_attempts = network_attempts
        self._first_backoff = first_backoff
        self._retry_after_attempts = retry_after_attempts
        self._not_held = asyncio.Event()  # cleared while a 429's retry_after runs
        self._not_held.set()

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Send once the flood limits allow; wait out a 429, retry network errors."""
        attempts = (rate_limit_args or self._retry_after_attempts) + 1
        chat_id = data.get("chat_id")
        for attempt in range(1, attempts + 1):
            try:
                if chat_id is not None:
                    await self.flood.wait_turn(_group(chat_id))
                await self._not_held.wait()
                return await self._sent(callback, args, kwargs, endpoint)
            except RetryAfter as error:
                if attempt == attempts:
                    log.warning("Bot API %s: still flood-limited after %d tries", endpoint, attempt)
                    raise
                seconds = error._retry_after.total_seconds() + 0.1
                log.info("Bot API %s flood-limited: every request waits %.1fs", endpoint, seconds)
                self._not_held.clear()
                await asyncio.sleep(seconds)
            finally:
                self._not_held.set()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _sent(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
    ) -> ApiResult:
        """The request's result, retrying network errors with exponential backoff."""
        backoff = self._first_backoff
        for attempt in range(1, self._network_attempts + 1):
            try:
                return await callback(*args, **kwargs)
            except BadRequest:
                raise
            except NetworkError as error:
                if attempt == self._network_attempts:
                    raise
                # The message names the failure only: no chat id, no text.
                log.warning(
                    "Bot API %s failed (%s), retry %d in %.1fs",
                    endpoint,
                    type(error).__name__,
                    attempt,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _group(chat_id: object) -> int | str | None:
    """The group chat a message goes to, None for a private chat: groups and channels have
    negative ids, or are named by their @username."""
    if isinstance(chat_id, str):
        try:
            chat_id = int(chat_id)
        except ValueError:
            return chat_id
    return chat_id if isinstance(chat_id, int) and chat_id < 0 else None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat run in arrival order.

    Two quick taps of one respondent must reach the survey engine one after the
    other, so the second sees the first's answer; other respondents need not wait.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` while holding the lock of the update's chat."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._waiting[chat.id] = self._waiting.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # Forget idle chats so memory does not grow with every respondent ever seen.
            self._waiting[chat.id] -= 1
            if not self._waiting[chat.id]:
                del self._waiting[chat.id]
                del self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""
