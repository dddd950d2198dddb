"""Delivery to and from the Bot API: retries within flood limits, one update at a time per chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Bot, Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter, BaseUpdateProcessor

__all__ = ["ApiResult", "PerChatUpdateProcessor", "RetryingRateLimiter", "call"]

log = logging.getLogger(__name__)

RETRY_AFTER_ATTEMPTS = 3
NETWORK_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.5
MAX_CONCURRENT_UPDATES = 64
MESSAGES_PER_SECOND = 30  # Telegram's flood limit for one bot, all chats together

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


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries network errors and 5xx answers of the Bot API.

    AIORateLimiter keeps within Telegram's flood limits and waits out a 429's
    `retry_after`; a timeout or a 5xx would otherwise drop the reply on the floor.
    A 400 (BadRequest) is the caller's mistake and is never retried. A timed-out
    request may have reached Telegram, so a retry can duplicate a message: better
    twice than never for the question the respondent is waiting for.
    """

    def __init__(
        self,
        *,
        senders: int = 1,
        network_attempts: int = NETWORK_ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        retry_after_attempts: int = RETRY_AFTER_ATTEMPTS,
    ) -> None:
        """`senders`: how many processes send for the same bot (the workers of `sipas serve
        --workers N`); each keeps to its share of Telegram's overall limit, which counts
        the bot's messages together, from whichever process they come."""
        self.messages_per_second = MESSAGES_PER_SECOND / senders
        # The limiter's bucket must hold at least one message: below one a second, it
        # allows one message per longer period instead.
        burst = max(1.0, self.messages_per_second)
        super().__init__(
            overall_max_rate=burst,
            overall_time_period=burst / self.messages_per_second,
            max_retries=retry_after_attempts,
        )
        self._network_attempts = network_attempts
        self._first_backoff = first_backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Send through the flood limiter; retry network errors with exponential backoff."""
        backoff = self._first_backoff
        for attempt in range(1, self._network_attempts + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
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
