"""Local fakes of Zalo's servers over real HTTP: the OA API with its OAuth server, and the Bot Platform.

    with FakeZaloOA() as zalo:                        # serves on 127.0.0.1:<free port>
        refresh = zalo.issue_refresh_token()          # what an operator pastes into set-token
        lan = zalo.user()
        body, headers = lan.event("AB3DEF7H")         # a signed user_send_text webhook event
        ... POST it to /webhooks/zalo-oa ...
        lan.last_message().buttons                    # [(title, payload), ...] beside the text
        body, headers = lan.tap("Hài lòng")           # the hidden-query text a tap sends
        body, headers = lan.follow()                  # a signed follow (follower.id, no sender)
        lan.last_message().free                       # a free reply, or a proactive message

    with FakeZaloBot() as bot:
        minh = bot.user()
        minh.send("AB3DEF7H")                         # queued for getUpdates; returns the update
        minh.last_message().text

The OA fake speaks `POST /v3.0/oa/message/cs` (header `access_token`; recipient
`user_id` and/or `message_id`, the id of a user's message the reply answers;
answers `{"error": 0, "data": {"message_id"}}` or a non-zero `error`: -216
unknown token, -220 expired token, -201 bad parameters (Messenger's button
template among them), or whatever `refuse(user, error)` set, -230 by default) and
`POST /v4/oa/access_token` (header `secret_key` = the app's secret key, form
`refresh_token, app_id, grant_type=refresh_token`; each refresh token works
once, a reuse fails). Events are signed with the OA secret key. Each message
sent records whether it was a free reply (naming a user message, within 48 h
and its 8 replies) or a proactive one. The bot fake speaks `/bot<TOKEN>/<method>` for getMe,
getUpdates (long poll, one update per answer, 408 when none came), sendMessage
(1-2000 characters), setWebhook (https URL, secret 8-256), deleteWebhook and
getWebhookInfo, answering `{"ok": true, "result": ...}` or
`{"ok": false, "error_code", "description"}`.

Each server runs in a background thread with its own event loop; all state is
guarded by one lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.served import ServedApp

__all__ = [
    "FakeBotUser",
    "FakeOAUser",
    "FakeZaloBot",
    "FakeZaloOA",
    "OAMessage",
    "wait_until",
]

INVALID_TOKEN = -216
EXPIRED_TOKEN = -220
OUTSIDE_WINDOW = -230
BAD_PARAMETERS = -201
INVALID_REFRESH_TOKEN = -14014
FREE_REPLIES = 8
FREE_REPLY_SECONDS = 48 * 3600
MAX_OA_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_BUTTON_PAYLOAD = 1000
MAX_BOT_TEXT = 2000


async def wait_until(
    condition: Callable[[], object], *, within: float = 10.0, what: str = ""
) -> None:
    """Wait (in an async test) until `condition()` is true."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


class _Served:
    """A Starlette app of the fake's routes, served in a background thread."""

    def __init__(self) -> None:
        self._served: ServedApp | None = None

    def _routes(self) -> list[Route]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        return self._served.port if self._served is not None else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._served = ServedApp(Starlette(routes=self._routes()), name="the fake Zalo server")
        self._served.start()

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
        self._served = None


# --- Zalo Official Account ----------------------------------------------------------------------


@dataclass
class OAMessage:
    """A message the OA sent to a user: text, with buttons beside it or not."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload)
    message_id: str = ""
    # A reply naming one of the user's messages, within its 48 hours and 8 replies: free.
    # Anything else Zalo counts as a proactive message, which may be billed.
    free: bool = False

    @property
    def titles(self) -> list[str]:
        return [title for title, _ in self.buttons]


@dataclass
class UserMessage:
    """A message a user sent the OA, as far as replies to it go."""

    user_id: str
    sent_at: float  # time.time()
    replies: int = 0

    def answerable(self, now: float) -> bool:
        """Whether a reply to it is still free."""
        return now - self.sent_at < FREE_REPLY_SECONDS and self.replies < FREE_REPLIES


@dataclass
class OACall:
    """One request to the fake: which endpoint, and the `error` it answered (0 = success)."""

    endpoint: str
    error: int


class FakeOAUser:
    """A Zalo user chatting with the OA; builds the signed webhook events Zalo would POST."""

    def __init__(self, server: FakeZaloOA, user_id: str) -> None:
        self.server = server
        self.id = user_id

    def event(
        self, text: str, *, timestamp_ms: int | None = None, msg_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A signed `user_send_text` event (raw body and headers)."""
        message = {"msg_id": msg_id or secrets.token_hex(16), "text": text}
        return self.server.signed_event(self, "user_send_text", message, timestamp_ms)

    def follow(self) -> tuple[bytes, dict[str, str]]:
        """The signed `follow` event of this user following the OA."""
        return self.server.signed_event(self, "follow", None)

    def tap(self, title: str) -> tuple[bytes, dict[str, str]]:
        """Tap the button titled `title` of the newest message with it: Zalo sends its payload as text."""
        for message in reversed(self.messages()):
            for button_title, payload in message.buttons:
                if button_title == title:
                    return self.event(payload)
        raise AssertionError(f"no button {title!r} in this chat")

    def messages(self) -> list[OAMessage]:
        return self.server.messages(self.id)

    def last_message(self) -> OAMessage | None:
        messages = self.messages()
        return messages[-1] if messages else None


class FakeZaloOA(_Served):
    """The fake OA API and OAuth server. Use as a context manager."""

    def __init__(
        self,
        *,
        app_id: str = "1234567890123456789",
        app_secret_key: str = "fake-app-secret-key-9876543210",
        oa_secret_key: str = "fake-oa-secret-key-0123456789",
        oa_id: str = "579745863508352884",
        access_lifetime_seconds: int = 90_000,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        # Two different keys, as on the real platform: the app's signs nothing and opens
        # OAuth; the OA's signs the webhook events and opens nothing.
        self.app_secret_key = app_secret_key
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.access_lifetime_seconds = access_lifetime_seconds
        self.refresh_delay = 0.0  # seconds a refresh takes (widens races in tests)
        self._lock = threading.Lock()
        self._user_ids = itertools.count(2_512_000_000_000_000_001)
        self._refresh_tokens: dict[str, bool] = {}  # token -> already used
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self._refusals: dict[str, int] = {}  # user id -> the error every send to them gets
        self._user_messages: dict[str, UserMessage] = {}  # msg_id -> what a reply may answer
        self._chats: dict[str, list[OAMessage]] = {}
        self.calls: list[OACall] = []

    def __enter__(self) -> FakeZaloOA:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _routes(self) -> list[Route]:
        return [
            Route("/v3.0/oa/message/cs", self._send, methods=["POST"]),
            Route("/v4/oa/access_token", self._refresh, methods=["POST"]),
        ]

    # --- scripting --------------------------------------------------------------------------------

    def user(self) -> FakeOAUser:
        with self._lock:
            user_id = str(next(self._user_ids))
            self._chats[user_id] = []
        return FakeOAUser(self, user_id)

    def issue_refresh_token(self) -> str:
        """A fresh refresh token, as the OA's admin page would give an operator."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[token] = False
        return token

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (-220)."""
        with self._lock:
            for token in self._access_tokens:
                self._access_tokens[token] = 0.0

    def refuse(self, user: FakeOAUser, error: int = OUTSIDE_WINDOW) -> None:
        """Every send to `user` fails with `error` from now on (-230: out of the window)."""
        with self._lock:
            self._refusals[user.id] = error

    def refresh_calls(self) -> int:
        with self._lock:
            return sum(1 for call in self.calls if call.endpoint == "refresh")

    def messages_from(self, user: FakeOAUser) -> int:
        """How many messages `user` has sent the OA (events built for them)."""
        with self._lock:
            return sum(1 for sent in self._user_messages.values() if sent.user_id == user.id)

    def send_errors(self) -> list[int]:
        with self._lock:
            return [call.error for call in self.calls if call.endpoint == "send" and call.error]

    def messages(self, user_id: str) -> list[OAMessage]:
        with self._lock:
            return list(self._chats.get(user_id, []))

    def is_spent(self, refresh_token: str) -> bool:
        with self._lock:
            return self._refresh_tokens.get(refresh_token, True)

    def signed_event(
        self,
        user: FakeOAUser,
        event_name: str,
        message: dict[str, Any] | None,
        timestamp_ms: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """An event the user caused, as Zalo sends it, and its `X-ZEvent-Signature` header.

        What the user sends carries `sender` and `recipient`; a follow carries `follower`,
        `oa_id` and `source` instead (no `sender`, no message).
        """
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        event: dict[str, Any] = {"app_id": self.app_id, "user_id_by_app": "55" + user.id[-10:]}
        if event_name in ("follow", "unfollow"):
            event |= {"oa_id": self.oa_id, "follower": {"id": user.id}, "source": "oa_profile"}
        else:
            event |= {"sender": {"id": user.id}, "recipient": {"id": self.oa_id}}
        event |= {"event_name": event_name, "timestamp": timestamp}
        if message is not None:
            event["message"] = message
            with self._lock:
                self._user_messages[str(message["msg_id"])] = UserMessage(
                    user.id, int(timestamp) / 1000
                )
        return self.sign(json.dumps(event, ensure_ascii=False).encode(), timestamp)

    def sign(self, body: bytes, timestamp: str) -> tuple[bytes, dict[str, str]]:
        """`body` with the headers Zalo sends it with: the MAC under the OA secret key."""
        mac = hashlib.sha256(
            self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode()
        ).hexdigest()
        return body, {"content-type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}

    # --- the API ----------------------------------------------------------------------------------

    async def _send(self, request: Request) -> Response:
        token = request.headers.get("access_token", "")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        with self._lock:
            error, answer = self._deliver(token, body)
            self.calls.append(OACall("send", error))
        return JSONResponse(answer)

    def _deliver(self, token: str, body: Any) -> tuple[int, dict[str, Any]]:
        expiry = self._access_tokens.get(token)
        if expiry is None:
            return INVALID_TOKEN, {"error": INVALID_TOKEN, "message": "Access token is invalid"}
        if expiry <= time.time():
            return EXPIRED_TOKEN, {"error": EXPIRED_TOKEN, "message": "Access token has expired"}
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(recipient, dict) or not isinstance(message, dict):
            return _refused(BAD_PARAMETERS)
        user_id, answered = recipient.get("user_id"), None
        if "message_id" in recipient:
            answered = self._user_messages.get(str(recipient["message_id"]))
            if answered is None or user_id not in (None, answered.user_id):
                return _refused(BAD_PARAMETERS)
            user_id = answered.user_id
        if user_id not in self._chats:
            return _refused(BAD_PARAMETERS)
        if user_id in self._refusals:
            return _refused(self._refusals[user_id])
        shown = _oa_message(message)
        if shown is None:
            return _refused(BAD_PARAMETERS)
        if answered is not None and answered.answerable(time.time()):
            answered.replies += 1
            shown.free = True
        shown.message_id = secrets.token_hex(16)
        self._chats[user_id].append(shown)
        return 0, {
            "error": 0,
            "message": "Success",
            "data": {"message_id": shown.message_id, "user_id": user_id},
        }

    async def _refresh(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        with self._lock:
            error, answer = self._rotate(request.headers.get("secret_key", ""), form)
            self.calls.append(OACall("refresh", error))
        return JSONResponse(answer)

    def _rotate(self, secret_key: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if secret_key != self.app_secret_key or form.get("app_id") != self.app_id:
            return -14002, {"error": -14002, "error_name": "Invalid app_id or secret_key"}
        if form.get("grant_type") != "refresh_token":
            return -14001, {"error": -14001, "error_name": "Invalid grant_type"}
        token = form.get("refresh_token", "")
        if self._refresh_tokens.get(token, True):
            return INVALID_REFRESH_TOKEN, {
                "error": INVALID_REFRESH_TOKEN,
                "error_name": "Invalid refresh token",
                "error_description": "refresh token is invalid or already used",
            }
        self._refresh_tokens[token] = True
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(24)
        self._access_tokens[access] = time.time() + self.access_lifetime_seconds
        self._refresh_tokens[refresh] = False
        return 0, {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": str(self.access_lifetime_seconds),
        }


ERROR_MESSAGES = {
    BAD_PARAMETERS: "Parameters invalid",
    OUTSIDE_WINDOW: "User has not interacted with the OA in the last 7 days",
}


def _refused(error: int) -> tuple[int, dict[str, Any]]:
    return error, {"error": error, "message": ERROR_MESSAGES.get(error, "Refused")}


def _oa_message(message: dict[str, Any]) -> OAMessage | None:
    """What the user sees of a `message`, or None for one Zalo refuses (-201).

    Buttons come as real clients send them: the text in `message.text` and beside it
    `message.attachment = {"type": "template", "payload": {"buttons": [...]}}`. Messenger's
    button template (`payload.template_type`, the text inside the payload) is refused.
    """
    text = message.get("text")
    if not isinstance(text, str) or not 0 < len(text) <= MAX_OA_TEXT:
        return None
    if "attachment" not in message:
        return OAMessage(text)
    attachment = message["attachment"]
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        return None
    if not isinstance(payload, dict) or set(payload) != {"buttons"}:
        return None
    buttons = payload["buttons"]
    if not isinstance(buttons, list) or not 0 < len(buttons) <= MAX_BUTTONS:
        return None
    shown = OAMessage(text)
    for button in buttons:
        if not isinstance(button, dict):
            return None
        title, kind, data = button.get("title"), button.get("type"), button.get("payload")
        if not isinstance(title, str) or not 0 < len(title) <= MAX_BUTTON_TITLE:
            return None
        if kind not in ("oa.query.hide", "oa.query.show"):
            return None
        if not isinstance(data, str) or not 0 < len(data) <= MAX_BUTTON_PAYLOAD:
            return None
        shown.buttons.append((title, data))
    return shown


# --- Zalo Bot Platform --------------------------------------------------------------------------


@dataclass
class BotMessage:
    """A message the bot sent to a chat."""

    text: str
    message_id: str


@dataclass
class BotCall:
    method: str
    params: dict[str, Any]
    error_code: int = 0


class BotApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class FakeBotUser:
    """A Zalo user in a private chat with the bot."""

    def __init__(self, server: FakeZaloBot, user_id: str) -> None:
        self.server = server
        self.id = user_id

    def send(self, text: str, *, queue: bool = True) -> dict[str, Any]:
        """Type `text`; the update is queued for getUpdates unless `queue` is false."""
        return self.server.send_text(self, text, queue=queue)

    def messages(self) -> list[BotMessage]:
        return self.server.messages(self.id)

    def last_message(self) -> BotMessage | None:
        messages = self.messages()
        return messages[-1] if messages else None


class FakeZaloBot(_Served):
    """The fake Bot Platform API. Use as a context manager."""

    def __init__(self, token: str = "1459232241454765289:fake-bot-token-abcdef") -> None:
        super().__init__()
        self.token = token
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._chats: dict[str, list[BotMessage]] = {}
        self.webhook: dict[str, str] | None = None
        self.calls: list[BotCall] = []

    def __enter__(self) -> FakeZaloBot:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _routes(self) -> list[Route]:
        return [Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])]

    # --- scripting --------------------------------------------------------------------------------

    def user(self) -> FakeBotUser:
        user_id = secrets.token_hex(10)
        with self._lock:
            self._chats[user_id] = []
        return FakeBotUser(self, user_id)

    def send_text(self, user: FakeBotUser, text: str, *, queue: bool = True) -> dict[str, Any]:
        update = {
            "event_name": "message.text.received",
            "message": {
                "message_id": secrets.token_hex(10),
                "date": int(time.time() * 1000),
                "text": text,
                "chat": {"id": user.id, "chat_type": "PRIVATE"},
                "from": {"id": user.id, "display_name": "Trần Thị Bình", "is_bot": False},
            },
        }
        if queue:
            with self._lock:
                self._pending.append(update)
        return update

    def messages(self, chat_id: str) -> list[BotMessage]:
        with self._lock:
            return list(self._chats.get(chat_id, []))

    def api_calls(self, method: str | None = None) -> list[BotCall]:
        with self._lock:
            return [call for call in self.calls if method is None or call.method == method]

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # --- the API ----------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            params = {}
        try:
            if request.path_params["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            if method == "getUpdates":
                result = await self._get_updates(params, request)
            else:
                with self._lock:
                    handler = self._methods().get(method)
                    if handler is None:
                        raise BotApiError(404, "Not Found")
                    result = handler(params)
        except BotApiError as error:
            with self._lock:
                self.calls.append(BotCall(method, params, error.code))
            return JSONResponse(
                {"ok": False, "error_code": error.code, "description": error.description},
                status_code=error.code if error.code >= 400 else 400,
            )
        with self._lock:
            self.calls.append(BotCall(method, params))
        return JSONResponse({"ok": True, "result": result})

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    async def _get_updates(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        with self._lock:
            if self.webhook is not None:
                raise BotApiError(400, "Webhook is active: use deleteWebhook first")
        deadline = time.monotonic() + float(params.get("timeout") or 30)
        while True:
            with self._lock:
                if self._pending:
                    return self._pending.pop(0)
            if time.monotonic() >= deadline or await request.is_disconnected():
                raise BotApiError(408, "Request timeout")
            await asyncio.sleep(0.01)

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.token.split(":")[0],
            "account_name": "bot.SipasTest",
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params.get("chat_id") or "")
        if chat_id not in self._chats:
            raise BotApiError(400, "chat not found")
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_BOT_TEXT:
            raise BotApiError(400, "text must be 1-2000 characters")
        message = BotMessage(text, secrets.token_hex(10))
        self._chats[chat_id].append(message)
        return {"message_id": message.message_id, "date": int(time.time() * 1000)}

    def _set_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "")
        if urlsplit(url).scheme != "https":
            raise BotApiError(400, "url must be HTTPS")
        if not 8 <= len(secret) <= 256:
            raise BotApiError(400, "secret_token must be 8-256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return {"url": url, "updated_at": int(time.time() * 1000)}

    def _delete_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        self.webhook = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook["url"] if self.webhook else "",
            "updated_at": int(time.time() * 1000),
        }
