"""The Telegram adapter offline: hand-built updates in, Bot API calls recorded by a request object."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update, User
from telegram.request import BaseRequest, RequestData

from channels.telegram import (
    CHANNEL,
    PRIVATE_CHAT_BUTTON,
    PRIVATE_CHAT_ONLY,
    PRIVATE_CHAT_ONLY_NOTICE,
    SURFACE,
    TRY_AGAIN,
    TRY_AGAIN_NOTICE,
    TelegramChannel,
    UpdateFailed,
    build_application,
)
from channels.telegram_delivery import (
    GROUP_MESSAGES_PER_MINUTE,
    MESSAGES_PER_SECOND,
    LocalFloodLimit,
    PerChatUpdateProcessor,
    RetryingRateLimiter,
    SharedFloodLimit,
)
from channels.telegram_render import (
    MAX_MESSAGE_LENGTH,
    keyboard,
    locale_of,
    split_text,
    start_payload,
    telegram_length,
)
from handlers.events import Button, Command, Inbound, InboundKind, Reply
from storage.db import Database
from storage.models import SharedLimit
from storage.privacy import keyed_hash
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeUser, callback_update, message_update

TOKEN = "123456:TEST-adapter"
SCALE = (
    (Button("1 Rất không hài lòng", "a:q1:1", "1"), Button("2 Không hài lòng", "a:q1:2", "2")),
    (Button("3 Bình thường", "a:q1:3", "3"),),
    (Button("4 Hài lòng", "a:q1:4", "4"), Button("5 Rất hài lòng", "a:q1:5", "5")),
    (Button("« Quay lại", "back", "<"), Button("Bỏ qua", "a:q1:skip", "0")),
)
QUESTION = Reply("Câu 1/20: Anh/chị đánh giá thế nào?", buttons=SCALE, question=True)


class RecordingRequest(BaseRequest):
    """Answers the Bot API like Telegram would and records every call; no sockets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, list[tuple[int, dict[str, Any] | str]]] = {}
        self._message_ids = iter(range(100, 10_000))

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 1.0

    def fail(self, method: str, status: int, body: dict[str, Any] | str) -> None:
        self.failures.setdefault(method, []).append((status, body))

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((endpoint, params))
        if self.failures.get(endpoint):
            status, body = self.failures[endpoint].pop(0)
            payload = body if isinstance(body, str) else json.dumps(body)
            return status, payload.encode()
        return 200, json.dumps({"ok": True, "result": self._result(endpoint, params)}).encode()

    def _result(self, endpoint: str, params: dict[str, Any]) -> object:
        if endpoint == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "SIPAS", "username": "sipas_bot"}
        if endpoint in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            message: dict[str, Any] = {
                "message_id": params.get("message_id") or next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params.get("text", "x"),
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        return True


class ScriptedEngine:
    """Stands in for the survey engine: records events, returns the scripted replies."""

    def __init__(self, *replies: list[Reply]) -> None:
        self.inbounds: list[Inbound] = []
        self.script = list(replies)
        self.error: Exception | None = None

    async def handle(self, inbound: Inbound) -> list[Reply]:
        self.inbounds.append(inbound)
        if self.error is not None:
            raise self.error
        return self.script.pop(0) if self.script else []


PERSON = FakeUser(
    server=None,  # type: ignore[arg-type]
    user_id=424242,
    first_name="Trần Thị Bình",
    username="binh_private_handle",
    language_code="vi-VN",
)
_update_ids = iter(range(9_000_001, 10_000_000))


def text_update(text: str, *, user: FakeUser = PERSON, **kwargs: Any) -> dict[str, Any]:
    return message_update(next(_update_ids), user, text, **kwargs)


def tap_update(data: str, *, message_id: int = 77, user: FakeUser = PERSON) -> dict[str, Any]:
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": user.id, "type": "private"},
        "from": {"id": 1, "is_bot": True, "first_name": "SIPAS"},
        "text": QUESTION.text,
        "reply_markup": {"inline_keyboard": [[{"text": "4", "callback_data": data}]]},
    }
    return callback_update(next(_update_ids), user, f"q{message_id}", data, message)


@pytest.fixture
def request_recorder() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
def engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
async def channel(
    request_recorder: RecordingRequest, engine: ScriptedEngine
) -> AsyncIterator[TelegramChannel]:
    application = build_application(
        TOKEN,
        polling=False,
        request=request_recorder,
        rate_limiter=RetryingRateLimiter(first_backoff=0.01),
    )
    channel = TelegramChannel(application, engine)
    await application.initialize()
    yield channel
    await application.shutdown()


# --- updates in -------------------------------------------------------------------------------


async def test_start_with_payload_becomes_a_start_event(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[Reply("Chào anh/chị"), QUESTION]]
    update = text_update("/start c_HN-00004-01_abc")

    await channel.process_webhook_update(update)

    assert engine.inbounds == [
        Inbound(
            channel=CHANNEL,
            chat=str(PERSON.id),
            event_id=str(update["update_id"]),
            kind=InboundKind.START,
            payload="c_HN-00004-01_abc",
            locale="vi",
            received_at=engine.inbounds[0].received_at,
            surface=SURFACE,
        )
    ]
    sent = request_recorder.of("sendMessage")
    assert [params["text"] for params in sent] == ["Chào anh/chị", QUESTION.text]
    assert "reply_markup" not in sent[0]
    rows = sent[1]["reply_markup"]["inline_keyboard"]
    assert [[button["callback_data"] for button in row] for row in rows] == [
        [button.data for button in row] for row in SCALE
    ]
    assert rows[0][0]["text"] == "1 Rất không hài lòng"


async def test_bare_start_has_an_empty_payload(
    channel: TelegramChannel, engine: ScriptedEngine
) -> None:
    await channel.process_webhook_update(text_update("/start"))
    await channel.process_webhook_update(text_update("/start@sipas_bot"))

    assert [(i.kind, i.payload) for i in engine.inbounds] == [(InboundKind.START, "")] * 2


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("/help", Command.HELP),
        ("/language", Command.LANGUAGE),
        ("/cancel", Command.CANCEL),
        ("/delete", Command.DELETE),
        ("/DELETE@sipas_bot", Command.DELETE),
        ("/xoa", Command.DELETE),
        ("/dung", Command.CANCEL),
        ("/huongdan", Command.HELP),
        ("/ngonngu", Command.LANGUAGE),
        ("/baomat", Command.PRIVACY),
        ("/whatever", Command.HELP),
    ],
)
async def test_commands_become_command_events(
    channel: TelegramChannel, engine: ScriptedEngine, typed: str, command: Command
) -> None:
    await channel.process_webhook_update(text_update(typed))

    assert [(i.kind, i.payload) for i in engine.inbounds] == [(InboundKind.COMMAND, command.value)]


async def test_typed_text_becomes_a_text_event(
    channel: TelegramChannel, engine: ScriptedEngine
) -> None:
    await channel.process_webhook_update(text_update("Thủ tục nhanh, cán bộ nhiệt tình."))

    assert [(i.kind, i.payload) for i in engine.inbounds] == [
        (InboundKind.TEXT, "Thủ tục nhanh, cán bộ nhiệt tình.")
    ]


async def test_a_sticker_is_an_unsupported_event_the_engine_answers(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[Reply("Xin lỗi, khảo sát không đọc được nhãn dán."), QUESTION]]
    update = text_update("x")
    del update["message"]["text"]
    update["message"]["sticker"] = {
        "file_id": "s1",
        "file_unique_id": "u1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }

    await channel.process_webhook_update(update)

    assert [(i.kind, i.payload) for i in engine.inbounds] == [(InboundKind.UNSUPPORTED, "")]
    assert [params["text"] for params in request_recorder.of("sendMessage")] == [
        "Xin lỗi, khảo sát không đọc được nhãn dán.",
        QUESTION.text,
    ]


async def test_an_unreadable_update_is_dropped(
    channel: TelegramChannel, engine: ScriptedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await channel.process_webhook_update({"update_id": 5, "message": "not a message"})

    assert engine.inbounds == []
    assert "unreadable Telegram update dropped" in caplog.text


# --- button taps ------------------------------------------------------------------------------


async def test_a_tap_edits_the_question_in_place_and_is_answered_in_the_webhooks_answer(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    following = Reply("Câu 2/20: Thời gian chờ?", buttons=SCALE, question=True, notice="Đã lưu")
    engine.script = [[following]]

    reply = await channel.process_webhook_update(tap_update("a:q1:4", message_id=77))

    assert [(i.kind, i.payload) for i in engine.inbounds] == [(InboundKind.CHOICE, "a:q1:4")]
    # One call: the tap's answer goes back in the HTTP answer, which Telegram carries out.
    assert request_recorder.methods()[1:] == ["editMessageText"]  # after getMe
    assert reply == {"method": "answerCallbackQuery", "callback_query_id": "q77", "text": "Đã lưu"}
    (edit,) = request_recorder.of("editMessageText")
    assert (edit["message_id"], edit["text"]) == (77, following.text)
    assert len(edit["reply_markup"]["inline_keyboard"]) == len(SCALE)
    assert request_recorder.of("sendMessage") == []


async def test_a_tap_whose_replies_start_with_plain_text_spends_the_keyboard(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[Reply("Cảm ơn anh/chị đã trả lời!")]]

    await channel.process_webhook_update(tap_update("a:q20:5"))

    # The new message first: the respondent is never left without the step to answer.
    assert request_recorder.methods()[1:] == ["sendMessage", "editMessageReplyMarkup"]
    assert "reply_markup" not in request_recorder.of("editMessageReplyMarkup")[0]


async def test_an_edit_refused_as_too_old_sends_the_question_anew(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[QUESTION]]
    request_recorder.fail(
        "editMessageText",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"},
    )

    await channel.process_webhook_update(tap_update("a:q1:4"))

    assert request_recorder.methods()[-3:] == [
        "editMessageText",
        "sendMessage",
        "editMessageReplyMarkup",  # its buttons go, if Telegram lets them
    ]
    assert request_recorder.of("sendMessage")[0]["text"] == QUESTION.text


async def test_an_unmodified_edit_counts_as_shown(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[QUESTION]]
    request_recorder.fail(
        "editMessageText",
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message is not modified: specified new message content",
        },
    )

    await channel.process_webhook_update(tap_update("a:q1:4"))

    assert request_recorder.of("sendMessage") == []
    assert len(request_recorder.of("editMessageText")) == 1  # a 400 is never retried


async def test_a_duplicate_tap_is_only_answered(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[]]

    reply = await channel.process_webhook_update(tap_update("a:q1:4"))

    assert reply == {"method": "answerCallbackQuery", "callback_query_id": "q77"}
    assert request_recorder.methods()[1:] == []  # after getMe


async def test_a_tap_whose_step_cannot_be_shown_is_answered_by_a_call_and_fails(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[Reply(QUESTION.text, buttons=SCALE, question=True, notice="Đã lưu")]]
    blocked = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
    request_recorder.fail("editMessageText", 403, blocked)
    request_recorder.fail("sendMessage", 403, blocked)

    # The route answers 500, whose body Telegram ignores: the answer cannot wait for it.
    with pytest.raises(UpdateFailed):
        await channel.process_webhook_update(tap_update("a:q1:4"))

    assert request_recorder.of("answerCallbackQuery") == [
        {"callback_query_id": "q77", "text": "Đã lưu"}
    ]


async def test_an_engine_failure_answers_the_tap_with_try_again_keeps_its_keyboard_and_fails(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.error = RuntimeError("database is locked")

    with pytest.raises(UpdateFailed) as failed:  # the webhook route answers 500 for it
        await channel.process_webhook_update(tap_update("a:q1:4"))
    assert failed.value.__cause__ is engine.error

    assert request_recorder.of("answerCallbackQuery") == [
        {"callback_query_id": "q77", "text": TRY_AGAIN_NOTICE}
    ]
    assert request_recorder.methods()[1:] == ["answerCallbackQuery"]  # after getMe: no edit


async def test_an_engine_failure_on_typed_text_says_try_again_and_fails(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.error = RuntimeError("database is locked")

    with pytest.raises(UpdateFailed):
        await channel.process_webhook_update(text_update("xin chào"))

    assert [params["text"] for params in request_recorder.of("sendMessage")] == [TRY_AGAIN]


async def test_an_unprompted_send_goes_out_as_new_messages(
    channel: TelegramChannel, request_recorder: RecordingRequest
) -> None:
    await channel.send(str(PERSON.id), [Reply("Anh/chị còn 5 câu nữa."), QUESTION])

    sent = request_recorder.of("sendMessage")
    assert [(params["chat_id"], params["text"]) for params in sent] == [
        (PERSON.id, "Anh/chị còn 5 câu nữa."),
        (PERSON.id, QUESTION.text),
    ]


# --- groups -----------------------------------------------------------------------------------


async def test_group_chats_get_one_reply_with_a_button_to_the_private_chat_and_nothing_else(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    group = -100123
    await channel.process_webhook_update(
        text_update("/start c_HN", chat_id=group, chat_type="supergroup")
    )
    await channel.process_webhook_update(
        text_update("mọi người ơi", chat_id=group, chat_type="group")
    )
    tap = tap_update("a:q1:4")
    tap["callback_query"]["message"]["chat"] = {"id": group, "type": "group", "title": "G"}
    answer = await channel.process_webhook_update(tap)

    assert engine.inbounds == []
    (sent,) = request_recorder.of("sendMessage")
    assert (sent["chat_id"], sent["text"]) == (group, PRIVATE_CHAT_ONLY)
    # The deep link opens the private chat with the survey the /start named.
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": PRIVATE_CHAT_BUTTON, "url": "https://t.me/sipas_bot?start=c_HN"}]
        ]
    }
    assert answer == {
        "method": "answerCallbackQuery",
        "callback_query_id": "q77",
        "text": PRIVATE_CHAT_ONLY_NOTICE,
    }


# --- what Telegram would refuse is never sent --------------------------------------------------


async def test_a_long_reply_is_split_under_the_limit_with_the_keyboard_last(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    paragraph = "Điều khoản về dữ liệu cá nhân. " * 60
    engine.script = [[Reply("\n\n".join([paragraph] * 6), buttons=SCALE, question=True)]]

    await channel.process_webhook_update(text_update("/start"))

    sent = request_recorder.of("sendMessage")
    assert len(sent) > 1
    assert all(0 < telegram_length(params["text"]) <= MAX_MESSAGE_LENGTH for params in sent)
    assert ["reply_markup" in params for params in sent] == [False] * (len(sent) - 1) + [True]


def test_split_text_counts_utf16_and_never_returns_empty_pieces() -> None:
    emoji = "😀" * 3000  # 6000 UTF-16 units
    pieces = split_text(emoji)
    assert [telegram_length(piece) for piece in pieces] == [4096, 1904]
    assert "".join(pieces) == emoji
    assert split_text("   \n ") == []
    assert split_text("ngắn") == ["ngắn"]
    words = ("từ " * 3000).strip()
    assert all(not piece.startswith(" ") and not piece.endswith(" ") for piece in split_text(words))
    assert " ".join(split_text(words)) == words


def test_callback_data_over_64_bytes_or_not_ascii_is_refused() -> None:
    with pytest.raises(ValueError, match="64"):
        keyboard(Reply("q", buttons=((Button("x", "a" * 65, "1"),),)))
    with pytest.raises(ValueError, match="ASCII"):
        keyboard(Reply("q", buttons=((Button("x", "hài", "1"),),)))
    assert keyboard(Reply("q", buttons=((Button("x", "a" * 64, "1"),),))) is not None


def test_locale_and_start_payload() -> None:
    def person(language: str | None) -> User:
        return User(1, "A", False, language_code=language)

    assert [locale_of(person(code)) for code in ("vi", "vi-VN", "en-US", "fr", None)] == [
        "vi",
        "vi",
        "en",
        None,
        None,
    ]
    assert locale_of(None) is None
    assert start_payload(None) == start_payload([]) == ""
    assert start_payload(["i_" + "x" * 100]) == ("i_" + "x" * 100)[:64]


# --- delivery ---------------------------------------------------------------------------------


async def test_5xx_and_network_errors_are_retried_until_the_message_goes_out(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[QUESTION]]
    request_recorder.fail(
        "sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal"}
    )
    request_recorder.fail("sendMessage", 502, "<html>Bad Gateway</html>")

    await channel.process_webhook_update(text_update("/start"))

    assert request_recorder.methods().count("sendMessage") == 3


async def test_retry_after_is_honoured(
    channel: TelegramChannel, engine: ScriptedEngine, request_recorder: RecordingRequest
) -> None:
    engine.script = [[QUESTION]]
    request_recorder.fail(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    started = time.monotonic()

    await channel.process_webhook_update(text_update("/start"))

    assert time.monotonic() - started >= 1.0
    assert request_recorder.methods().count("sendMessage") == 2


async def test_updates_of_one_chat_run_in_order_and_other_chats_do_not_wait() -> None:
    processor = PerChatUpdateProcessor()
    order: list[str] = []
    slow_started = asyncio.Event()

    async def work(name: str, delay: float) -> None:
        if name == "a1":
            slow_started.set()
        await asyncio.sleep(delay)
        order.append(name)

    def update_of(chat_id: int) -> Update:
        user = FakeUser(None, chat_id, first_name="X", username=None, language_code=None)  # type: ignore[arg-type]
        return Update.de_json(text_update("hi", user=user), None)

    first = asyncio.create_task(processor.process_update(update_of(1), work("a1", 0.2)))
    await slow_started.wait()
    second = asyncio.create_task(processor.process_update(update_of(1), work("a2", 0)))
    other = asyncio.create_task(processor.process_update(update_of(2), work("b1", 0)))
    await asyncio.gather(first, second, other)

    assert order == ["b1", "a1", "a2"]


# --- privacy ----------------------------------------------------------------------------------


async def test_logs_never_name_the_person(
    channel: TelegramChannel,
    engine: ScriptedEngine,
    request_recorder: RecordingRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="channels")
    caplog.set_level(logging.INFO)
    engine.script = [[QUESTION]]
    request_recorder.fail(
        "editMessageText",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"},
    )
    request_recorder.fail("sendMessage", 502, "<html>Bad Gateway</html>")

    await channel.process_webhook_update(tap_update("a:q1:4"))
    engine.error = RuntimeError("boom")
    with pytest.raises(UpdateFailed):
        await channel.process_webhook_update(text_update("/start"))

    assert caplog.records  # something was logged
    for secret in (str(PERSON.id), PERSON.first_name, PERSON.username or "-"):
        assert secret not in caplog.text


async def test_workers_take_their_turns_from_one_bucket_of_the_bot_and_one_per_group(
    database: Database,
) -> None:
    workers = [
        SharedFloodLimit(database, TEST_SECRET, senders=2, clock=lambda: 100.0) for _ in range(2)
    ]

    for worker in workers:
        await worker.wait_turn(None)  # a private chat: the bot's bucket only
        await worker.wait_turn(-100123456)  # a group: the group's, then the bot's

    async with database.reading() as session:
        rows = (await session.execute(select(SharedLimit.name, SharedLimit.tokens))).all()
    buckets = {name: tokens for name, tokens in rows}
    group = "telegram-group:" + keyed_hash(TEST_SECRET, "telegram-group", "-100123456")
    assert set(buckets) == {"telegram", group}  # the group named by a keyed hash, not its id
    assert buckets["telegram"] == MESSAGES_PER_SECOND - 4  # four messages, both workers'
    assert buckets[group] == GROUP_MESSAGES_PER_MINUTE - 2


async def test_a_worker_that_cannot_reach_the_shared_limit_keeps_to_its_share(
    request_recorder: RecordingRequest, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    flood = SharedFloodLimit(unreachable, TEST_SECRET, senders=3)
    application = build_application(
        "123:ABC",
        polling=False,
        request=request_recorder,
        rate_limiter=RetryingRateLimiter(flood=flood),
    )
    await application.initialize()
    await application.bot.send_message(PERSON.id, "Xin chào")
    await application.shutdown()
    await unreachable.dispose()

    assert request_recorder.of("sendMessage")[0]["text"] == "Xin chào"
    assert flood.fallback.messages_per_second == MESSAGES_PER_SECOND / 3
    assert "keeps to its share" in caplog.text


async def test_more_workers_than_messages_a_second_still_send(
    request_recorder: RecordingRequest,
) -> None:
    application = build_application(
        "123:ABC",
        polling=False,
        request=request_recorder,
        rate_limiter=RetryingRateLimiter(flood=LocalFloodLimit(MESSAGES_PER_SECOND / 40)),
    )
    await application.initialize()
    await application.bot.send_message(PERSON.id, "Xin chào")
    await application.shutdown()
    assert request_recorder.of("sendMessage")[0]["text"] == "Xin chào"
