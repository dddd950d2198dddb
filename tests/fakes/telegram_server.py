"""A local fake of the Telegram Bot API over real HTTP, with scripted users, for end-to-end tests.

    with FakeTelegram() as telegram:                  # serves on 127.0.0.1:<free port>
        app = build_application(telegram.token, base_url=telegram.base_url)
        alice = telegram.user(language_code="vi")
        alice.send("/start c_HN-00004-01")             # an update for getUpdates (or to POST)
        await telegram.wait_for(lambda: alice.last_message() is not None)
        alice.tap("Hài lòng")                          # taps a button of the latest keyboard
        alice.last_message().text, alice.last_message().buttons

It speaks the Bot API wire format (form-encoded or JSON requests, `{"ok": ...}`
answers) for getMe, getUpdates (long poll, offset confirms), sendMessage,
editMessageText, editMessageReplyMarkup, answerCallbackQuery, setWebhook,
deleteWebhook and getWebhookInfo, and refuses what Telegram refuses, with
Telegram's error JSON: text over 4096 characters or empty, callback data over 64
bytes, an unknown chat or message, an unmodified edit, a stale callback answer,
getUpdates while a webhook is set, a wrong token. `fail(method, status)` makes the
next calls answer 429 (with `parameters.retry_after`) or a 5xx. Whoever POSTs updates to
a webhook hands the answer to `carry_out(status, body)`: Telegram carries out the one
method a webhook's 2xx answer may name, as the answer to an update.

The server runs in a background thread with its own event loop, so it serves sync
and async tests alike; all state is guarded by one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
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
    "ApiCall",
    "FakeTelegram",
    "FakeUser",
    "SentMessage",
    "callback_update",
    "message_update",
]

DEFAULT_TOKEN = "123456789:TEST-fake-token_for-sipas"
BOT_ID = 123456789
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CAPTION_LENGTH = 1024
WEBHOOK_PORTS = (443, 80, 88, 8443)
POLL_STEP_SECONDS = 0.005  # how often waiting code looks again: small, tests wait on it
SECRET_TOKEN_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Request fields whose value is JSON when a client sends a form (as python-telegram-bot does).
JSON_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "allowed_updates",
        "reply_markup",
        "show_alert",
        "cache_time",
        "drop_pending_updates",
        "max_connections",
        "link_preview_options",
        "disable_notification",
    }
)


# --- update JSON, as Telegram builds it -----------------------------------------------------


def user_json(user: FakeUser) -> dict[str, Any]:
    """The `User` object of a scripted person."""
    data: dict[str, Any] = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    if user.username:
        data["username"] = user.username
    if user.language_code:
        data["language_code"] = user.language_code
    return data


def chat_json(chat_id: int, chat_type: str, user: FakeUser | None = None) -> dict[str, Any]:
    """The `Chat` object: a private chat carries the person's name, a group its title."""
    if chat_type == "private" and user is not None:
        return {"id": chat_id, "type": "private", "first_name": user.first_name}
    return {"id": chat_id, "type": chat_type, "title": "Nhóm cư dân"}


STICKER = {
    "file_id": "CAACAgIAAxkBAAEBsticker",
    "file_unique_id": "AgADsticker",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
}


def message_update(
    update_id: int,
    user: FakeUser,
    text: str | None,
    *,
    message_id: int = 1,
    chat_id: int | None = None,
    chat_type: str = "private",
    date: int | None = None,
) -> dict[str, Any]:
    """An update carrying a text message (None: a sticker); a leading /command gets its
    `bot_command` entity."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": date or int(time.time()),
        "chat": chat_json(user.id if chat_id is None else chat_id, chat_type, user),
        "from": user_json(user),
    }
    if text is None:
        message["sticker"] = STICKER
        return {"update_id": update_id, "message": message}
    message["text"] = text
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}


def callback_update(
    update_id: int, user: FakeUser, query_id: str, data: str, message: dict[str, Any]
) -> dict[str, Any]:
    """An update carrying a button tap on the bot's `message`."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": user_json(user),
            "chat_instance": f"ci-{message['chat']['id']}",
            "data": data,
            "message": message,
        },
    }


# --- what the fake keeps ----------------------------------------------------------------------


@dataclass
class ApiCall:
    """One Bot API request as received: method name, decoded parameters, HTTP status returned."""

    method: str
    params: dict[str, Any]
    status: int = 200
    in_webhook_answer: bool = False  # named in the webhook's answer to an update, not called


@dataclass
class Attachment:
    """A file the bot sent: a photo or a document, with its name and bytes."""

    kind: str
    filename: str
    content: bytes


@dataclass
class SentMessage:
    """A message in a chat as the user now sees it (edits applied)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    from_bot: bool = True
    date: int = field(default_factory=lambda: int(time.time()))
    edits: int = 0
    attachment: Attachment | None = None  # a photo or document, its caption in `text`

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """Rows of (label, callback_data) of the inline keyboard; [] without one."""
        if not self.reply_markup:
            return []
        return [
            [(button["text"], button.get("callback_data", "")) for button in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    @property
    def labels(self) -> list[str]:
        """Every button label, in reading order."""
        return [label for row in self.buttons for label, _ in row]

    def to_json(self) -> dict[str, Any]:
        """The `Message` object the Bot API returns for it."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Người dùng"},
            "text": self.text,
        }
        if self.from_bot:
            data["from"] = {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "SIPAS",
                "username": "sipas_test_bot",
            }
        if self.edits:
            data["edit_date"] = self.date + self.edits
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.attachment is not None:
            del data["text"]
            data["caption"] = self.text
            file = {"file_id": f"f{self.message_id}", "file_unique_id": f"u{self.message_id}"}
            if self.attachment.kind == "photo":
                data["photo"] = [file | {"width": 640, "height": 480}]
            else:
                data["document"] = file | {"file_name": self.attachment.filename}
        return data


class BotApiError(Exception):
    """An error answer in Telegram's shape: `{"ok": false, "error_code", "description"}`."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> Response:
        if self.status == 502:
            # What Telegram's front proxy answers: HTML, not JSON.
            return Response(
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
                status_code=502,
                media_type="text/html",
            )
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.status)


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int


class FakeUser:
    """A scripted person in a private chat with the bot (chat id = user id, as on Telegram)."""

    def __init__(
        self,
        server: FakeTelegram,
        user_id: int,
        *,
        first_name: str,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.server = server
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code

    def send(self, text: str) -> dict[str, Any]:
        """Type `text` (a /command gets its entity); returns the update JSON."""
        return self.server.send_text(self, text)

    def send_sticker(self) -> dict[str, Any]:
        """Send a sticker; returns the update JSON."""
        return self.server.send_text(self, None)

    def tap(self, choice: str, *, message_id: int | None = None) -> dict[str, Any]:
        """Tap the button labelled `choice` (or with that callback data) on the latest keyboard."""
        return self.server.tap(self, choice, message_id=message_id)

    def messages(self) -> list[SentMessage]:
        """What the bot has shown in this chat, oldest first."""
        return self.server.messages(self.id)

    def last_message(self) -> SentMessage | None:
        """The bot's newest message in this chat."""
        messages = self.messages()
        return messages[-1] if messages else None

    def live_keyboards(self) -> list[SentMessage]:
        """The bot's messages that still show buttons, oldest first."""
        return [message for message in self.messages() if message.reply_markup]

    def keyboard_message(self) -> SentMessage | None:
        """The newest bot message that shows a keyboard."""
        for message in reversed(self.messages()):
            if message.reply_markup:
                return message
        return None


class FakeTelegram:
    """The fake Bot API server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "sipas_test_bot") -> None:
        self.token = token
        self.bot_username = bot_username
        self.port = 0
        self._lock = threading.Lock()
        self._update_ids = itertools.count(700_000_001)
        self._user_ids = itertools.count(5_000_001)
        self._query_ids = itertools.count(1)
        self._pending: list[dict[str, Any]] = []  # updates not yet confirmed by an offset
        self._chats: dict[int, list[SentMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._open_queries: set[str] = set()
        self._failures: dict[str, _Failure] = {}
        self.calls: list[ApiCall] = []
        self.webhook: dict[str, Any] | None = None
        self._served: ServedApp | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to give python-telegram-bot's `base_url` (or SIPAS_TELEGRAM_API_URL)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeTelegram:
        """Serve on a free port of 127.0.0.1 in a background thread; return when listening."""
        app = Starlette(
            routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])]
        )
        self._served = ServedApp(app, name="the fake Telegram server").start()
        self.port = self._served.port
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._served is not None:
            self._served.stop()
        self._served = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- scripting users ---------------------------------------------------------------------

    def user(
        self,
        *,
        first_name: str = "Nguyễn Văn An",
        username: str | None = None,
        language_code: str | None = "vi",
        user_id: int | None = None,
    ) -> FakeUser:
        """A new person (unique id) who can write to the bot."""
        with self._lock:
            identifier = user_id if user_id is not None else next(self._user_ids)
            self._chats.setdefault(identifier, [])
        return FakeUser(
            self, identifier, first_name=first_name, username=username, language_code=language_code
        )

    def send_text(
        self,
        user: FakeUser,
        text: str | None,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """`user` types `text` (None: sends a sticker) in their private chat, or in a group."""
        with self._lock:
            chat = user.id if chat_id is None else chat_id
            self._chats.setdefault(chat, [])
            update = message_update(
                next(self._update_ids),
                user,
                text,
                message_id=self._new_message_id(chat),
                chat_id=chat,
                chat_type=chat_type,
            )
            self._pending.append(update)
            return update

    def tap(self, user: FakeUser, choice: str, *, message_id: int | None = None) -> dict[str, Any]:
        """`user` taps a button (by label or callback data) of a bot message in their chat."""
        with self._lock:
            messages = self._chats.get(user.id, [])
            if message_id is None:
                candidates = [message for message in messages if message.reply_markup]
                if not candidates:
                    raise AssertionError("no keyboard to tap in this chat")
                message = candidates[-1]
            else:
                message = next(m for m in messages if m.message_id == message_id)
            data = next(
                (
                    button_data
                    for row in message.buttons
                    for label, button_data in row
                    if choice in (label, button_data)
                ),
                None,
            )
            if data is None:
                raise AssertionError(f"no button {choice!r}; the keyboard has {message.labels}")
            query_id = f"{next(self._query_ids)}{user.id}"
            self._open_queries.add(query_id)
            update = callback_update(
                next(self._update_ids), user, query_id, data, message.to_json()
            )
            self._pending.append(update)
            return update

    def messages(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in a chat as they look now, oldest first."""
        with self._lock:
            return [
                SentMessage(**vars(message))
                for message in self._chats.get(chat_id, [])
                if message.from_bot
            ]

    def api_calls(self, method: str | None = None) -> list[ApiCall]:
        """Requests received, optionally only those of one method."""
        with self._lock:
            return [call for call in self.calls if method is None or call.method == method]

    def unanswered_callbacks(self) -> set[str]:
        """Ids of button taps the bot has not answered yet."""
        with self._lock:
            return set(self._open_queries)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._pending)

    def fail(self, method: str, status: int, *, times: int = 1, retry_after: int = 1) -> None:
        """Make the next `times` calls of `method` fail with `status` (429: with retry_after)."""
        with self._lock:
            self._failures[method] = _Failure(status, times, retry_after)

    async def wait_for(
        self, condition: Callable[[], object], *, within: float = 10.0, what: str = ""
    ) -> None:
        """Wait (in an async test) until `condition()` is true."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            await asyncio.sleep(POLL_STEP_SECONDS)

    def wait_for_sync(
        self, condition: Callable[[], object], *, within: float = 10.0, what: str = ""
    ) -> None:
        """Wait (in a sync test) until `condition()` is true."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(POLL_STEP_SECONDS)

    # --- the Bot API -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _parameters(request)
        try:
            if request.path_params["token"] != self.token:
                with self._lock:
                    self.calls.append(ApiCall(method, params, 401))
                raise BotApiError(401, "Unauthorized")
            if method != "getUpdates":
                result = self._carry_out(method, params, in_webhook_answer=False)
            else:
                try:
                    result = await self._get_updates(request, params)
                except BotApiError as error:
                    with self._lock:
                        self.calls.append(ApiCall(method, params, error.status))
                    raise
                if result:
                    with self._lock:
                        self.calls.append(ApiCall(method, params))
        except BotApiError as error:
            return error.response()
        return JSONResponse({"ok": True, "result": result})

    def carry_out(self, status: int, body: bytes) -> None:
        """What Telegram does with a webhook's answer to an update: on a 2xx whose JSON body
        names a `method`, that method is carried out with the body's other fields, as a call
        would be (recorded `in_webhook_answer`); its result or error is seen by nobody."""
        if not 200 <= status < 300:
            return
        try:
            answer = json.loads(body)
        except ValueError:
            return
        if isinstance(answer, dict) and isinstance(answer.get("method"), str):
            params = {name: value for name, value in answer.items() if name != "method"}
            with contextlib.suppress(BotApiError):
                self._carry_out(answer["method"], params, in_webhook_answer=True)

    def _carry_out(self, method: str, params: dict[str, Any], *, in_webhook_answer: bool) -> Any:
        """One Bot API method but getUpdates, recorded; its result, or BotApiError."""
        with self._lock:
            try:
                self._injected_failure(method)
                handler = self._methods().get(method)
                if handler is None:
                    raise BotApiError(404, "Not Found")
                result = handler(params)
            except BotApiError as error:
                self.calls.append(ApiCall(method, params, error.status, in_webhook_answer))
                raise
            self.calls.append(ApiCall(method, params, 200, in_webhook_answer))
            return result

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": lambda params: self._send_file("photo", params),
            "sendDocument": lambda params: self._send_file("document", params),
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    def _injected_failure(self, method: str) -> None:
        failure = self._failures.get(method)
        if failure is None:
            return
        failure.times -= 1
        if failure.times <= 0:
            del self._failures[method]
        if failure.status == 429:
            raise BotApiError(
                429,
                f"Too Many Requests: retry after {failure.retry_after}",
                retry_after=failure.retry_after,
            )
        raise BotApiError(failure.status, "Internal Server Error")

    async def _get_updates(self, request: Request, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            self._injected_failure("getUpdates")
            if self.webhook is not None:
                raise BotApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                if offset:
                    # An offset confirms every earlier update: Telegram forgets them.
                    self._pending = [u for u in self._pending if u["update_id"] >= offset]
                ready = self._pending[:limit]
            if ready or time.monotonic() >= deadline or await request.is_disconnected():
                return ready
            await asyncio.sleep(POLL_STEP_SECONDS)

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "SIPAS",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        if chat_id not in self._chats:
            raise BotApiError(400, "Bad Request: chat not found")
        text = _text(params)
        markup = _reply_markup(params)
        message = SentMessage(chat_id, self._new_message_id(chat_id), text, markup)
        self._chats[chat_id].append(message)
        return message.to_json()

    def _send_file(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        if chat_id not in self._chats:
            raise BotApiError(400, "Bad Request: chat not found")
        upload = params.get(kind)
        if not isinstance(upload, Attachment) or not upload.content:
            raise BotApiError(400, f"Bad Request: there is no {kind} in the request")
        caption = str(params.get("caption") or "")
        if len(caption) > MAX_CAPTION_LENGTH:
            raise BotApiError(400, "Bad Request: message caption is too long")
        attachment = Attachment(kind, upload.filename, upload.content)
        message = SentMessage(
            chat_id, self._new_message_id(chat_id), caption, attachment=attachment
        )
        self._chats[chat_id].append(message)
        return message.to_json()

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._bot_message(params)
        text = _text(params)
        markup = _reply_markup(params)
        if text == message.text and markup == message.reply_markup:
            raise BotApiError(400, NOT_MODIFIED)
        message.text, message.reply_markup = text, markup
        message.edits += 1
        return message.to_json()

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._bot_message(params)
        markup = _reply_markup(params)
        if markup == message.reply_markup:
            raise BotApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        message.edits += 1
        return message.to_json()

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise BotApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise BotApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise BotApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
            )
        secret = params.get("secret_token")
        if secret is not None and (
            not 1 <= len(str(secret)) <= 256 or not set(str(secret)) <= SECRET_TOKEN_CHARACTERS
        ):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
        }
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    # --- helpers (called with the lock held) ---------------------------------------------------

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _bot_message(self, params: dict[str, Any]) -> SentMessage:
        chat_id = _chat_id(params)
        if chat_id not in self._chats:
            raise BotApiError(400, "Bad Request: chat not found")
        message_id = params.get("message_id")
        for message in self._chats[chat_id]:
            if message.message_id == message_id:
                if not message.from_bot:
                    raise BotApiError(400, "Bad Request: message can't be edited")
                return message
        raise BotApiError(400, "Bad Request: message to edit not found")


async def _parameters(request: Request) -> dict[str, Any]:
    """The call's parameters from the query string and a JSON or form-encoded body."""
    params: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # Files (sendPhoto, sendDocument) come as multipart uploads.
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    params[name] = value
                else:
                    params[name] = Attachment("upload", value.filename or "", await value.read())
        body = b""
    else:
        body = await request.body()
    if body:
        if request.headers.get("content-type", "").startswith("application/json"):
            params.update(json.loads(body))
        else:
            for name, value in parse_qsl(body.decode(), keep_blank_values=True):
                params[name] = value
    for name in JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            with contextlib.suppress(ValueError):
                params[name] = json.loads(params[name])
    return params


def _chat_id(params: dict[str, Any]) -> int:
    try:
        return int(params["chat_id"])
    except (KeyError, TypeError, ValueError):
        raise BotApiError(400, "Bad Request: chat not found") from None


def _text(params: dict[str, Any]) -> str:
    text = str(params.get("text") or "")
    if not text.strip():
        raise BotApiError(400, "Bad Request: message text is empty")
    # Telegram counts UTF-16 code units.
    if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_LENGTH:
        raise BotApiError(400, "Bad Request: message is too long")
    return text


def _reply_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if not markup:
        return None
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup["inline_keyboard"]:
        for button in row:
            if not str(button.get("text") or "").strip():
                raise BotApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup
