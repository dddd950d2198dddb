"""The Zalo Bot Platform channel: a Telegram-like bot API over httpx, choices as numbered text.

Updates come by long polling (`getUpdates`) or by webhook (`setWebhook` with a
secret the platform sends back in `X-Bot-Api-Secret-Token`). The platform has no
keyboards and no start payload: prompts list numbered choices, the respondent
types a number (or the code a confirmation shows), and a survey starts from a short
code typed as the first message. Nothing sent can be edited: every step is a new message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from channels.zalo_text import TRY_AGAIN, ChatQueue, classify_text, numbered_messages
from handlers.events import TEXT_CHAT, Inbound, InboundKind, Reply

__all__ = [
    "BOT_API_URL",
    "CHANNEL",
    "MAX_TEXT_LENGTH",
    "SURFACE",
    "SurveyEngine",
    "ZaloBotApi",
    "ZaloBotChannel",
    "ZaloBotError",
    "inbound_of",
    "unwrap",
]

log = logging.getLogger(__name__)

CHANNEL = "zalo_bot"
SURFACE = TEXT_CHAT  # no keyboards: numbered choices, typed
BOT_API_URL = "https://bot-api.zaloplatforms.com"
MAX_TEXT_LENGTH = 2000
POLL_TIMEOUT_SECONDS = 30
NO_UPDATES = 408  # getUpdates answers this when its long poll times out empty
TEXT_EVENT = "message.text.received"
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class SurveyEngine(Protocol):
    """What the adapter needs of the survey engine (handlers.survey.SurveyEngine)."""

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Replies to one event; [] for a duplicate delivery."""
        ...


class ZaloBotError(Exception):
    """An error answer of the Bot API: `{"ok": false, "error_code", "description"}`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"Zalo Bot API error {code}: {description}")
        self.code = code
        self.description = description


class ZaloBotApi:
    """Calls `<base_url>/bot<token>/<method>` with a JSON body; returns `result`."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = BOT_API_URL,
        client: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        self._timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, wait: float | None = None
    ) -> Any:
        """POST one method; its `result`, or ZaloBotError."""
        response = await self._client.post(
            self._prefix + method, json=params or {}, timeout=wait or self._timeout
        )
        try:
            body = response.json()
        except ValueError:
            raise ZaloBotError(response.status_code, "not JSON") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            body = body if isinstance(body, dict) else {}
            code = body.get("error_code", response.status_code)
            raise ZaloBotError(
                int(code)
                if isinstance(code, int | str) and str(code).lstrip("-").isdigit()
                else -1,
                str(body.get("description") or "refused"),
            )
        return body.get("result")

    async def close(self) -> None:
        await self._client.aclose()


def unwrap(body: object) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result: bare, or wrapped in `{"ok", "result"}`."""
    if not isinstance(body, dict):
        return None
    if "result" in body and "message" not in body:
        result = body["result"]
        return result if isinstance(result, dict) else None
    return body


def inbound_of(update: dict[str, Any]) -> Inbound | None:
    """The `Inbound` event of a private message (a sticker, a photo…: one the survey cannot
    read), else None."""
    message = update.get("message")
    if not isinstance(message, dict) or not _private(message):
        return None
    chat, message_id, text = _chat_id(message), message.get("message_id"), message.get("text")
    if chat is None or not isinstance(message_id, str | int):
        return None
    name = update.get("event_name")
    if isinstance(text, str) and name in (None, TEXT_EVENT):
        kind, payload = classify_text(text)
    else:
        kind, payload = InboundKind.UNSUPPORTED, ""
    return Inbound(CHANNEL, chat, str(message_id), kind, payload, surface=SURFACE)


def _chat_id(message: dict[str, Any]) -> str | None:
    chat = message.get("chat")
    identifier = chat.get("id") if isinstance(chat, dict) else None
    return str(identifier) if isinstance(identifier, str | int) and str(identifier) else None


def _private(message: dict[str, Any]) -> bool:
    chat = message.get("chat")
    kind = chat.get("chat_type") if isinstance(chat, dict) else None
    return kind is None or str(kind).upper() == "PRIVATE"


@dataclass
class BotDelivery:
    """Counts for logs and tests."""

    sent: int = 0
    failed: int = 0


class ZaloBotChannel:
    """The survey over a Zalo bot."""

    def __init__(
        self,
        engine: SurveyEngine,
        api: ZaloBotApi,
        *,
        max_text: int = MAX_TEXT_LENGTH,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self.api = api
        self._max_text = max_text
        self._sleep = sleep
        self._queue = ChatQueue()
        self._polling: asyncio.Task[None] | None = None
        self.delivery = BotDelivery()

    # --- lifecycle ------------------------------------------------------------------------------

    async def launch(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        poll_timeout: int = POLL_TIMEOUT_SECONDS,
    ) -> None:
        """Check the token (getMe), then register the webhook or start long polling."""
        await self.api.call("getMe")
        if webhook_url is not None:
            if not webhook_secret or not 8 <= len(webhook_secret) <= 256:
                raise ValueError("SIPAS_ZALO_BOT_WEBHOOK_SECRET: 8-256 characters")
            await self.api.call("setWebhook", {"url": webhook_url, "secret_token": webhook_secret})
            log.info("Zalo bot: webhook registered, updates arrive at the web app")
            return
        # getUpdates refuses to work while a webhook is set.
        await self.api.call("deleteWebhook")
        self._polling = asyncio.create_task(self._poll(poll_timeout), name="zalo-bot-polling")
        log.info("Zalo bot: long polling")

    async def close(self) -> None:
        """Stop polling, finish what was accepted, close the connections."""
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None
        await self._queue.drain()
        await self.api.close()

    async def _poll(self, poll_seconds: int) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                result = await self.api.call(
                    "getUpdates", {"timeout": str(poll_seconds)}, wait=poll_seconds + 10
                )
            except ZaloBotError as error:
                if error.code == NO_UPDATES:
                    continue
                log.warning("Zalo bot: getUpdates refused (%d); retrying", error.code)
            except httpx.HTTPError as error:
                log.warning("Zalo bot: getUpdates failed (%s); retrying", type(error).__name__)
            else:
                delay = RETRY_FIRST_SECONDS
                updates = result if isinstance(result, list) else [result]
                for update in updates:
                    await self.submit(update)
                continue
            await self._sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    # --- updates --------------------------------------------------------------------------------

    async def submit(self, body: Any) -> None:
        """Queue an update (bare or wrapped) behind its chat's earlier ones and return at once."""
        update = unwrap(body)
        message = update.get("message") if update is not None else None
        chat = _chat_id(message) if isinstance(message, dict) else None
        if update is None or chat is None:
            return
        self._queue.submit(chat, lambda: self.process_update(update))

    async def process_update(self, update: dict[str, Any]) -> None:
        """Run one update through the engine and send the replies, in this task."""
        inbound = inbound_of(update)
        if inbound is None:
            return
        try:
            replies = await self._engine.handle(inbound)
        except Exception:
            log.exception("survey engine failed on a Zalo bot update")
            replies = [Reply(TRY_AGAIN)]
        await self.send_replies(inbound.chat, replies)

    async def send_replies(self, chat: str, replies: list[Reply]) -> bool:
        """Send `replies` as numbered text within the platform's 2,000 characters."""
        for reply in replies:
            for text in numbered_messages(reply, self._max_text):
                try:
                    await self.api.call("sendMessage", {"chat_id": chat, "text": text})
                except (ZaloBotError, httpx.HTTPError) as error:
                    self.delivery.failed += 1
                    log.error("Zalo bot: sendMessage failed (%s)", _describe(error))
                    return False
                self.delivery.sent += 1
        return True

    async def send_reminder(self, address: str, replies: list[Reply]) -> bool:
        """Send a reminder (`handlers.survey.Reminder` of this channel)."""
        return await self.send_replies(address, replies)

    async def drain(self) -> None:
        await self._queue.drain()


def _describe(error: Exception) -> str:
    if isinstance(error, ZaloBotError):
        return f"{error.code} {error.description}"
    return type(error).__name__
