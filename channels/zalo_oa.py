"""The Zalo Official Account channel: OA webhook events in as `Inbound` events, replies out through the OA API.

No SDK: the OA message API and the OAuth refresh are two POSTs with httpx. The
access token lives encrypted in the database (`storage.credentials`) and is
rotated there, once, whichever process notices first that it is due or expired.
Questions go out with buttons (`oa.query.hide`: a tap comes back as a text
message carrying the button's payload) while they fit, else as numbered text;
typed numbers work either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from channels.zalo_text import (
    TEXT_ONLY,
    TRY_AGAIN,
    ChatQueue,
    classify_text,
    numbered_messages,
    shown_text,
    split_text,
    truncate,
)
from handlers.events import Inbound, InboundKind, Reply
from storage.credentials import CredentialMissing, CredentialStore, TokenPair
from storage.db import Database
from storage.privacy import keyed_hash, respondent_key
from storage.sessions import find_open_session

__all__ = [
    "CHANNEL",
    "OAUTH_URL",
    "OA_API_URL",
    "TAP_PREFIX",
    "RefreshRefused",
    "SurveyEngine",
    "UserUnreachable",
    "ZaloOAChannel",
    "ZaloOAClient",
    "ZaloOAConfig",
    "ZaloOAError",
    "inbound_of",
    "oa_messages",
    "user_of",
]

log = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
OA_API_URL = "https://openapi.zalo.me"
OAUTH_URL = "https://oauth.zaloapp.com"
SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"
# Marks a tapped button's payload, so a tap is told apart from typed text.
TAP_PREFIX = "sipas:"
TEXT_EVENT = "user_send_text"
FOLLOW_EVENT = "follow"
EMPTY_TEXT = "…"  # buttons need a question beside them


class SurveyEngine(Protocol):
    """What the adapter needs of the survey engine (handlers.survey.SurveyEngine)."""

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Replies to one event; [] for a duplicate delivery."""
        ...


@dataclass(frozen=True)
class ZaloOAConfig:
    """The OA's settings; the limits and codes marked unconfirmed in channels.md are tunable here."""

    app_id: str
    app_secret_key: str  # the app's secret key (developers.zalo.me → the app): OAuth token calls
    oa_secret_key: str  # the OA secret key (the app's Webhook page): signs webhook events
    api_url: str = OA_API_URL
    oauth_url: str = OAUTH_URL
    max_buttons: int = 5  # per button template (unconfirmed): more choices go as numbered text
    max_button_title: int = 100  # (unconfirmed)
    max_text: int = 2000  # per message, with or without buttons (unconfirmed)
    messaging_window: timedelta = timedelta(hours=48)  # free replies after the user's last message
    token_margin: timedelta = timedelta(minutes=5)  # refresh this long before the access expires
    timeout: float = 15.0
    token_errors: frozenset[int] = frozenset({-216, -220})  # invalid / expired access token
    unreachable_errors: frozenset[int] = frozenset({-230})  # user has not interacted recently


class ZaloOAError(Exception):
    """A non-zero `error` from the OA API; `code` is Zalo's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo OA error {code}: {message}")
        self.code = code


class UserUnreachable(ZaloOAError):
    """The user is outside the messaging window: nothing can be sent until they write again."""


class RefreshRefused(ZaloOAError):
    """The OAuth server refused the refresh token (spent, revoked or wrong app)."""


class ZaloOAClient:
    """The two HTTP calls the channel makes: send a consultation message, refresh the tokens."""

    def __init__(self, config: ZaloOAConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(timeout=config.timeout)

    async def send(self, access_token: str, user_id: str, message: dict[str, Any]) -> str:
        """Send `message` to `user_id`; Zalo's message id, or ZaloOAError."""
        response = await self._client.post(
            self.config.api_url.rstrip("/") + SEND_PATH,
            headers={"access_token": access_token},
            json={"recipient": {"user_id": user_id}, "message": message},
        )
        body = _json_object(response)
        code = _error_code(body.get("error", response.status_code if response.is_error else 0))
        if code != 0:
            text = str(body.get("message") or "")
            if code in self.config.unreachable_errors:
                raise UserUnreachable(code, text)
            raise ZaloOAError(code, text)
        data = body.get("data")
        return str(data.get("message_id", "")) if isinstance(data, dict) else ""

    async def exchange(self, refresh_token: str) -> TokenPair:
        """Spend `refresh_token` for a new pair (the OAuth v4 refresh grant)."""
        response = await self._client.post(
            self.config.oauth_url.rstrip("/") + REFRESH_PATH,
            headers={"secret_key": self.config.app_secret_key},
            data={
                "refresh_token": refresh_token,
                "app_id": self.config.app_id,
                "grant_type": "refresh_token",
            },
        )
        body = _json_object(response)
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            code = _error_code(body.get("error", response.status_code))
            name = str(body.get("error_name") or body.get("error_description") or "refused")
            raise RefreshRefused(code, name)
        try:
            lifetime = timedelta(seconds=int(str(body.get("expires_in") or 3600)))
        except ValueError:
            lifetime = timedelta(hours=1)  # a shape we do not know: refresh early rather than late
        return TokenPair(access, refresh, lifetime)

    async def close(self) -> None:
        await self._client.aclose()


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"error": response.status_code or -1, "message": "not a JSON object"}


def _error_code(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


# --- events in ----------------------------------------------------------------------------------


def inbound_of(event: dict[str, Any], secret: str) -> Inbound | None:
    """The `Inbound` event a webhook event makes, or None for events the survey ignores.

    Text (typed or a tapped button's payload) and a new follower are survey
    events; non-text messages are handled apart (`is_unsupported_message`).
    """
    sender = user_of(event)
    if sender is None:
        return None
    name = event.get("event_name")
    if name == TEXT_EVENT:
        message = event.get("message")
        if not isinstance(message, dict):
            return None
        message_id, text = message.get("msg_id"), message.get("text")
        if not isinstance(message_id, str | int) or not isinstance(text, str):
            return None
        if text.startswith(TAP_PREFIX):
            kind, payload = InboundKind.CHOICE, text.removeprefix(TAP_PREFIX)
        else:
            kind, payload = classify_text(text)
        return Inbound(CHANNEL, sender, str(message_id), kind, payload)
    if name == FOLLOW_EVENT:
        # No message id: a keyed hash names the event without naming the follower.
        event_id = (
            "follow-" + keyed_hash(secret, "zalo-event", f"{sender}:{event.get('timestamp')}")[:40]
        )
        return Inbound(CHANNEL, sender, event_id, InboundKind.START, "")
    return None


def is_unsupported_message(event: dict[str, Any]) -> bool:
    """A photo, sticker, file... sent by the user: the survey takes only text."""
    name = str(event.get("event_name") or "")
    return name.startswith("user_send_") and name != TEXT_EVENT and user_of(event) is not None


def user_of(event: dict[str, Any]) -> str | None:
    """The (OA-scoped) id of the user an event comes from: `sender.id` of what they send,
    `follower.id` of a follow, which has no `sender`."""
    holder = event.get("follower" if event.get("event_name") == FOLLOW_EVENT else "sender")
    identifier = holder.get("id") if isinstance(holder, dict) else None
    return str(identifier) if isinstance(identifier, str | int) and str(identifier) else None


# --- replies out --------------------------------------------------------------------------------


def oa_messages(reply: Reply, config: ZaloOAConfig) -> list[dict[str, Any]]:
    """The OA API `message` objects showing `reply`: the question with buttons beside it when its
    choices fit, else numbered text.

    Buttons go as real clients send them: the question in `message.text`, the buttons in
    `message.attachment.payload.buttons` (not Messenger's button template, with the text
    inside the payload, which Zalo refuses).
    """
    choices = reply.choices()
    if not choices or len(choices) > config.max_buttons:
        return [{"text": piece} for piece in numbered_messages(reply, config.max_text)]
    pieces = split_text(shown_text(reply), config.max_text) or [EMPTY_TEXT]
    messages: list[dict[str, Any]] = [{"text": piece} for piece in pieces[:-1]]
    buttons = [
        {
            "title": truncate(button.label, config.max_button_title),
            "type": "oa.query.hide",
            "payload": TAP_PREFIX + button.data,
        }
        for button in choices
    ]
    messages.append(
        {
            "text": pieces[-1],
            "attachment": {"type": "template", "payload": {"buttons": buttons}},
        }
    )
    return messages


@dataclass
class DeliveryCount:
    """What happened to the replies of the events processed so far (for logs and tests)."""

    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    reminders_skipped: int = 0
    errors: list[int] = field(default_factory=list)


class ZaloOAChannel:
    """The survey over a Zalo Official Account."""

    def __init__(
        self,
        engine: SurveyEngine,
        database: Database,
        client: ZaloOAClient,
        credentials: CredentialStore,
        *,
        secret: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._database = database
        self.client = client
        self.config = client.config
        self.credentials = credentials
        self._secret = secret
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._queue = ChatQueue()
        self.delivery = DeliveryCount()

    # --- events ---------------------------------------------------------------------------------

    async def submit(self, event: dict[str, Any]) -> None:
        """Queue a verified webhook event and return at once (Zalo wants its answer within ~2 s)."""
        sender = user_of(event)
        if sender is None:
            return
        self._queue.submit(sender, lambda: self.process_event(event))

    async def process_event(self, event: dict[str, Any]) -> None:
        """Run one event through the engine and send the replies, in this task."""
        if is_unsupported_message(event):
            sender = user_of(event)
            assert sender is not None
            await self.send_replies(sender, [Reply(TEXT_ONLY)])
            return
        inbound = inbound_of(event, self._secret)
        if inbound is None:
            return
        try:
            replies = await self._engine.handle(inbound)
        except Exception:
            # Nothing was committed; the respondent retries by typing again.
            log.exception("survey engine failed on a Zalo OA event")
            replies = [Reply(TRY_AGAIN)]
        await self.send_replies(inbound.chat, replies)

    async def drain(self) -> None:
        """Wait for the queued events (at shutdown)."""
        await self._queue.drain()

    async def close(self) -> None:
        await self.drain()
        await self.client.close()

    # --- sending --------------------------------------------------------------------------------

    async def send_replies(self, user_id: str, replies: list[Reply]) -> bool:
        """Send `replies` in order; False when the user turned out unreachable or sending failed.

        Out of the messaging window (-230) the open session is marked unreachable
        and the rest is dropped: the answers are committed, and the respondent
        resumes where they were when they write again.
        """
        for reply in replies:
            for message in oa_messages(reply, self.config):
                try:
                    await self._send(user_id, message)
                except UserUnreachable:
                    self.delivery.unreachable += 1
                    await self._mark_unreachable(user_id)
                    log.info("Zalo OA: user outside the messaging window; session marked")
                    return False
                except CredentialMissing as error:
                    self.delivery.failed += 1
                    log.error("Zalo OA: cannot send: %s", error)
                    return False
                except ZaloOAError as error:
                    self.delivery.failed += 1
                    self.delivery.errors.append(error.code)
                    log.error("Zalo OA: sending failed with error %d", error.code)
                    return False
                except httpx.HTTPError as error:
                    self.delivery.failed += 1
                    log.error("Zalo OA: sending failed (%s)", type(error).__name__)
                    return False
                self.delivery.sent += 1
        return True

    async def _send(self, user_id: str, message: dict[str, Any]) -> str:
        """One message with a usable access token; an invalid or expired one is rotated, then retried once."""
        tokens = await self.credentials.current(
            self.client.exchange, margin=self.config.token_margin
        )
        assert tokens.access_token is not None
        try:
            return await self.client.send(tokens.access_token, user_id, message)
        except ZaloOAError as error:
            if error.code not in self.config.token_errors:
                raise
            log.info("Zalo OA: access token refused (%d); rotating", error.code)
        tokens = await self.credentials.refresh(self.client.exchange, seen_version=tokens.version)
        assert tokens.access_token is not None
        return await self.client.send(tokens.access_token, user_id, message)

    # --- reminders ------------------------------------------------------------------------------

    async def send_reminder(self, address: str, replies: list[Reply]) -> bool:
        """Send a reminder (`handlers.survey.Reminder` of this channel) if the window allows it.

        Zalo lets an OA message a user freely for 48 h after their last message; the
        session's last activity is that message. Past the window, or once the user
        was found unreachable, the reminder is skipped, not attempted.
        """
        now = self._clock()
        key = respondent_key(self._secret, CHANNEL, address)
        async with self._database.reading() as tx:
            survey = await find_open_session(tx, key)
        if survey is None:
            return False
        last = survey.last_activity_at
        if now - last >= self.config.messaging_window or (
            survey.unreachable_at is not None and survey.unreachable_at >= last
        ):
            self.delivery.reminders_skipped += 1
            log.info("Zalo OA: reminder skipped (outside the messaging window)")
            return False
        return await self.send_replies(address, replies)

    async def _mark_unreachable(self, user_id: str) -> None:
        key = respondent_key(self._secret, CHANNEL, user_id)
        async with self._database.transaction() as tx:
            survey = await find_open_session(tx, key)
            if survey is not None:
                survey.unreachable_at = self._clock()
