"""The Zalo Official Account channel: OA webhook events in as `Inbound` events, replies out through the OA API.

No SDK: the OA message API and the OAuth refresh are two POSTs with httpx. The
access token lives encrypted in the database (`storage.credentials`) and is
rotated there, once, whichever process notices first that it is due or expired.
Questions go out with buttons (`oa.query.hide`: a tap comes back as a text
message carrying the button's payload) while they fit, else as numbered text;
typed numbers work either way.

The OA API cannot edit or withdraw a message once sent: every step is a new message, and
the buttons of the steps before stay on screen. A tap on one of them comes back like any
tap, and the engine answers it for what it is: "that question has passed" with the
current step, or, after the thanks, that the survey is done.

What it costs: Zalo answers each message a user sends with 8 free replies within
48 hours, when the replies name that message (`recipient.message_id`); a message
naming only the user may be billed as proactive. So every reply names the message it
answers, the replies to one message are packed into as few messages as fit (one per
survey step, as a rule: a survey of about 25 steps stays free), and a reminder is sent
only while it is still a free reply to the respondent's last message (`storage.reply_windows`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from channels.zalo_text import (
    TRY_AGAIN,
    ChatQueue,
    classify_text,
    numbered_messages,
    shown_text,
    split_text,
    truncate,
)
from handlers.events import Inbound, InboundKind, Reply, Surface
from storage.credentials import CredentialMissing, CredentialStore, TokenPair
from storage.db import Database
from storage.privacy import keyed_hash
from storage.reply_windows import ReplyWindows, forget_reply_windows

__all__ = [
    "CHANNEL",
    "OAUTH_URL",
    "OA_API_URL",
    "SURFACE",
    "TAP_PREFIX",
    "QuotaExhausted",
    "RefreshRefused",
    "SurveyEngine",
    "UserUnreachable",
    "ZaloOAChannel",
    "ZaloOAClient",
    "ZaloOAConfig",
    "ZaloOAError",
    "inbound_of",
    "message_id_of",
    "oa_messages",
    "packed",
    "user_of",
]

log = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
# Buttons while a step's choices fit a template, numbered text beyond: the words speak of both.
SURFACE = Surface(buttons=True, numbers=True)
OA_API_URL = "https://openapi.zalo.me"
OAUTH_URL = "https://oauth.zaloapp.com"
SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"
# Marks a tapped button's payload, so a tap is told apart from typed text.
TAP_PREFIX = "sipas:"
TEXT_EVENT = "user_send_text"
FOLLOW_EVENT = "follow"
EMPTY_TEXT = "…"  # buttons need a question beside them
WINDOW_UPKEEP = timedelta(hours=1)


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
    messaging_window: timedelta = timedelta(hours=48)  # free replies after the user's message
    free_replies: int = 8  # per message of the user, within the window
    token_margin: timedelta = timedelta(minutes=5)  # refresh this long before the access expires
    timeout: float = 15.0
    token_errors: frozenset[int] = frozenset({-216, -220})  # invalid / expired access token
    # The user cannot be written to until they write again: -230 no interaction in the last
    # 7 days, -232 the window expired, and -213, -227, -244 kinds of the same.
    unreachable_errors: frozenset[int] = frozenset({-230, -232, -213, -227, -244})
    quota_errors: frozenset[int] = frozenset({-211, -218})  # the OA's message quota is used up


class ZaloOAError(Exception):
    """A non-zero `error` from the OA API; `code` is Zalo's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo OA error {code}: {message}")
        self.code = code


class UserUnreachable(ZaloOAError):
    """The user is outside the messaging window: nothing can be sent until they write again."""


class QuotaExhausted(ZaloOAError):
    """The OA's message quota is used up: sending again now fails the same way."""


class RefreshRefused(ZaloOAError):
    """The OAuth server refused the refresh token (spent, revoked or wrong app)."""


class ZaloOAClient:
    """The two HTTP calls the channel makes: send a consultation message, refresh the tokens."""

    def __init__(self, config: ZaloOAConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(timeout=config.timeout)

    async def send(
        self,
        access_token: str,
        user_id: str,
        message: dict[str, Any],
        *,
        answering: str | None = None,
    ) -> str:
        """Send `message` to `user_id`, as a reply to their message `answering` if given (a
        free reply); Zalo's message id, or ZaloOAError."""
        recipient = {"user_id": user_id}
        if answering is not None:
            recipient["message_id"] = answering
        response = await self._client.post(
            self.config.api_url.rstrip("/") + SEND_PATH,
            headers={"access_token": access_token},
            json={"recipient": recipient, "message": message},
        )
        body = _json_object(response)
        code = _error_code(body.get("error", response.status_code if response.is_error else 0))
        if code != 0:
            text = str(body.get("message") or "")
            if code in self.config.unreachable_errors:
                raise UserUnreachable(code, text)
            if code in self.config.quota_errors:
                raise QuotaExhausted(code, text)
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

    Text (typed or a tapped button's payload), what the survey cannot read (a photo, a
    sticker, a file…) and a new follower are survey events.
    """
    sender = user_of(event)
    if sender is None:
        return None
    name = str(event.get("event_name") or "")
    message_id = message_id_of(event)
    if name == TEXT_EVENT:
        message = event.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        if message_id is None or not isinstance(text, str):
            return None
        if text.startswith(TAP_PREFIX):
            kind, payload = InboundKind.CHOICE, text.removeprefix(TAP_PREFIX)
        else:
            kind, payload = classify_text(text)
        return Inbound(CHANNEL, sender, message_id, kind, payload, surface=SURFACE)
    if name.startswith("user_send_") and message_id is not None:
        return Inbound(CHANNEL, sender, message_id, InboundKind.UNSUPPORTED, surface=SURFACE)
    if name == FOLLOW_EVENT:
        # No message id: a keyed hash names the event without naming the follower.
        event_id = (
            "follow-" + keyed_hash(secret, "zalo-event", f"{sender}:{event.get('timestamp')}")[:40]
        )
        return Inbound(CHANNEL, sender, event_id, InboundKind.START, "", surface=SURFACE)
    return None


def message_id_of(event: dict[str, Any]) -> str | None:
    """The id of the message a user sent (what a free reply names), or None for other events."""
    message = event.get("message")
    identifier = message.get("msg_id") if isinstance(message, dict) else None
    return str(identifier) if isinstance(identifier, str | int) and str(identifier) else None


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


def packed(messages: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """`messages` in as few messages as fit: a text joins the text of the message after it
    (buttons and all) while both fit in `limit` together; buttons end a message."""
    fewer: list[dict[str, Any]] = []
    for message in messages:
        previous = fewer[-1] if fewer else None
        if previous is not None and "attachment" not in previous:
            joined = f"{previous['text']}\n\n{message['text']}"
            if len(joined) <= limit:
                fewer[-1] = {**message, "text": joined}
                continue
        fewer.append(message)
    return fewer


@dataclass
class DeliveryCount:
    """What happened to the replies of the events processed so far (for logs and tests)."""

    sent: int = 0
    proactive: int = 0  # of those sent, the ones that answered no message of the user
    unreachable: int = 0
    failed: int = 0
    reminders_skipped: int = 0
    errors: list[int] = field(default_factory=list)


@dataclass
class _Batch:
    """What sending one batch of messages came to."""

    delivered: bool = False
    free_replies: int = 0  # messages sent as replies to the user's message
    unreachable: bool = False


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
        self._windows = ReplyWindows(database, secret, CHANNEL)
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._windows_forgotten_at: datetime | None = None
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
        answering = message_id_of(event)
        inbound = inbound_of(event, self._secret)
        if inbound is None:
            return
        try:
            replies = await self._engine.handle(inbound)
        except Exception:
            # Nothing was committed; the respondent retries by typing again.
            log.exception("survey engine failed on a Zalo OA event")
            replies = [Reply(TRY_AGAIN)]
        await self.send_replies(inbound.chat, replies, answering=answering)

    async def drain(self) -> None:
        """Wait for the queued events (at shutdown)."""
        await self._queue.drain()

    async def close(self) -> None:
        await self.drain()
        await self.client.close()

    # --- sending --------------------------------------------------------------------------------

    def messages_of(self, replies: list[Reply]) -> list[dict[str, Any]]:
        """The OA messages showing `replies`, packed into as few as fit."""
        rendered = [message for reply in replies for message in oa_messages(reply, self.config)]
        return packed(rendered, self.config.max_text)

    async def send_replies(
        self, user_id: str, replies: list[Reply], *, answering: str | None = None
    ) -> bool:
        """Send `replies` in order, as free replies to the user's message `answering` when
        given; False when the user turned out unreachable or sending failed.

        `answering` becomes the user's last message: a later reminder answers it too, while
        it still can for free. Out of reach (-230 and kin) the open session is marked
        unreachable and the rest is dropped: the answers are committed, and the respondent
        resumes where they were when they write again.
        """
        if not replies:
            return True  # a redelivered event: its replies went out the first time
        messages = self.messages_of(replies)
        if answering is None:
            return (await self._deliver(user_id, messages, None, 0)).delivered
        received_at = self._clock()
        batch = await self._deliver(user_id, messages, answering, self.config.free_replies)
        if not batch.unreachable:
            await self._windows.open(user_id, answering, received_at, batch.free_replies)
            await self._forget_closed_windows(received_at)
        return batch.delivered

    async def send_reminder(self, address: str, replies: list[Reply]) -> bool:
        """Send a reminder (`handlers.survey.Reminder` of this channel) if it is a free reply.

        It answers the respondent's last message, so it goes only within 48 h of that
        message and while its free replies last; otherwise, or once the respondent was
        found unreachable, it is skipped, not attempted (nor billed).
        """
        last = await self._windows.last_message(address)
        messages = self.messages_of(replies)
        free = self.config.free_replies - (last.replies if last is not None else 0)
        if (
            last is None
            or self._clock() - last.received_at >= self.config.messaging_window
            or len(messages) > free
        ):
            self.delivery.reminders_skipped += 1
            log.info("Zalo OA: reminder skipped (it would not be a free reply)")
            return False
        batch = await self._deliver(address, messages, last.message_id, free)
        if batch.free_replies and not batch.unreachable:
            await self._windows.count_replies(address, batch.free_replies)
        return batch.delivered

    async def _deliver(
        self, user_id: str, messages: list[dict[str, Any]], answering: str | None, free: int
    ) -> _Batch:
        """Send `messages`, the first `free` of them as replies to `answering`."""
        batch = _Batch()
        if answering is not None and len(messages) > free:
            log.warning(
                "Zalo OA: %d messages answer one message, which has %d free replies: "
                "the rest go as proactive messages, which Zalo may bill",
                len(messages),
                free,
            )
        for index, message in enumerate(messages):
            replying = answering if index < free else None
            try:
                await self._send(user_id, message, replying)
            except UserUnreachable as error:
                self.delivery.unreachable += 1
                await self._windows.mark_unreachable(user_id, self._clock())
                log.info("Zalo OA: user out of reach (error %d); session marked", error.code)
                batch.unreachable = True
                return batch
            except QuotaExhausted as error:
                self._failed(error.code)
                log.error(
                    "Zalo OA: the OA's message quota is used up (error %d): this reply is not "
                    "sent, and not retried; the respondent is answered again when they write "
                    "once Zalo restores the quota",
                    error.code,
                )
                return batch
            except CredentialMissing as error:
                self._failed(None)
                log.error("Zalo OA: cannot send: %s", error)
                return batch
            except ZaloOAError as error:
                self._failed(error.code)
                log.error("Zalo OA: sending failed with error %d", error.code)
                return batch
            except httpx.HTTPError as error:
                self._failed(None)
                log.error("Zalo OA: sending failed (%s)", type(error).__name__)
                return batch
            self.delivery.sent += 1
            if replying is None:
                self.delivery.proactive += 1
            else:
                batch.free_replies += 1
        batch.delivered = True
        return batch

    def _failed(self, code: int | None) -> None:
        self.delivery.failed += 1
        if code is not None:
            self.delivery.errors.append(code)

    async def _send(self, user_id: str, message: dict[str, Any], answering: str | None) -> str:
        """One message with a usable access token; an invalid or expired one is rotated, then retried once."""
        tokens = await self.credentials.current(
            self.client.exchange, margin=self.config.token_margin
        )
        assert tokens.access_token is not None
        try:
            return await self.client.send(
                tokens.access_token, user_id, message, answering=answering
            )
        except ZaloOAError as error:
            if error.code not in self.config.token_errors:
                raise
            log.info("Zalo OA: access token refused (%d); rotating", error.code)
        tokens = await self.credentials.refresh(self.client.exchange, seen_version=tokens.version)
        assert tokens.access_token is not None
        return await self.client.send(tokens.access_token, user_id, message, answering=answering)

    async def _forget_closed_windows(self, now: datetime) -> None:
        """Now and then (hourly, per process), delete the windows past the messaging window."""
        last = self._windows_forgotten_at
        if last is not None and now - last < WINDOW_UPKEEP:
            return
        self._windows_forgotten_at = now
        await forget_reply_windows(self._database, now - self.config.messaging_window)
