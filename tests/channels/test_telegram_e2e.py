"""End to end over real HTTP: scripted Telegram users, the fake Bot API, the real bot and database."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import storage.db
from bot import nightly
from bot.commands.serve import TelegramRefused, serve
from bot.settings import Settings, load_settings
from channels.telegram import CHANNEL, PRIVATE_CHAT_BUTTON, TelegramChannel, build_application
from channels.telegram_delivery import RetryingRateLimiter
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from storage.live_keyboards import LiveKeyboards
from storage.migrate import upgrade
from storage.models import AggregationRun, Answer, Lease, Response
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram, FakeUser, SentMessage
from tests.survey_driver import OTHER_POINT, POINT, add_counters, engine_config
from web.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH

COUNTER = counter_payload(TEST_SECRET, POINT)
OTHER_COUNTER = counter_payload(TEST_SECRET, OTHER_POINT)
WEBHOOK_SECRET = "webhook-secret_0123456789"
PUBLIC_URL = "https://survey.example.test"
COMMENT = "Cán bộ tận tình, hướng dẫn rõ ràng."


# --- a respondent, scripted at the Telegram level ----------------------------------------------


def screen(user: FakeUser) -> list[tuple[int, str, int, Any]]:
    """What the chat looks like now: enough to notice any change the bot makes."""
    return [(m.message_id, m.text, m.edits, m.reply_markup) for m in user.messages()]


def current_item(message: SentMessage) -> str | None:
    for _, data in (button for row in message.buttons for button in row):
        if data.startswith(("a:", "s:")):
            return data.split(":")[1]
    return None


def choose(message: SentMessage, yes: tuple[str, ...] = ()) -> str:
    """What our respondent taps: consent, 4 on every scale, 'no' at screeners and gates (but
    'yes' at those in `yes`) and to being written to when the result is returned, else the
    first."""
    datas = [data for row in message.buttons for _, data in row]
    if "consent:yes" in datas:
        return "consent:yes"
    if "resume:go" in datas:
        return "resume:go"
    if "result:no" in datas:
        return "result:no"
    item = current_item(message)
    if item is not None and item.isdigit():
        return f"a:{item}:4"
    if f"a:{item}:no" in datas:
        return f"a:{item}:{'yes' if item in yes else 'no'}"
    return next(data for data in datas if data.startswith("a:"))


class Deliver:
    """How updates reach the bot: long polling picks them up; a webhook needs a POST, and
    Telegram carries out what the webhook answers (a tap's answer)."""

    def __init__(
        self, webhook_url: str | None = None, telegram: FakeTelegram | None = None
    ) -> None:
        assert (webhook_url is None) == (telegram is None), "a webhook needs its Telegram"
        self.webhook_url = webhook_url
        self.telegram = telegram
        self.posted: list[dict[str, Any]] = []

    async def __call__(self, update: dict[str, Any]) -> None:
        """Deliver `update`; anything but 200 fails the test."""
        if self.webhook_url is None:
            return
        response = await self.post(update)
        assert response.status_code == 200, response.text

    async def post(self, update: dict[str, Any], seconds: float = 5.0) -> httpx.Response:
        """POST as Telegram does: again while the service answers 503 (still connecting to
        Telegram after it started), for a few seconds; the answer after that."""
        assert self.webhook_url is not None
        self.posted.append(update)
        async with httpx.AsyncClient(timeout=seconds) as client:
            for _attempt in range(100):
                response = await client.post(
                    self.webhook_url, json=update, headers={SECRET_HEADER: WEBHOOK_SECRET}
                )
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.05)
        assert self.telegram is not None
        self.telegram.carry_out(response.status_code, response.content)
        return response


POLLING = Deliver()


def datas(message: SentMessage) -> list[str]:
    return [data for row in message.buttons for _, data in row]


def answered_in_full(user: FakeUser) -> bool:
    """Whether the bot is done with the last update. Its last messages carry the live keyboards
    and no earlier one does, since a step's keyboard supersedes those before it: one is live,
    or two, the privacy notice's and the consent question's below it (the notice, a message
    of its own, is always followed by the consent question)."""
    messages = user.messages()  # one snapshot
    live = [message for message in messages if message.reply_markup]
    if live != messages[len(messages) - len(live) :]:
        return False
    keyboards = [datas(message) for message in live]
    if keyboards == [["privacy:full"]]:
        return False
    return len(live) <= 1 or (keyboards[0] == ["privacy:full"] and "consent:yes" in keyboards[1])


async def act(
    telegram: FakeTelegram, user: FakeUser, update: dict[str, Any], deliver: Deliver, before: Any
) -> None:
    await deliver(update)
    await telegram.wait_for(
        lambda: (
            screen(user) != before
            and answered_in_full(user)
            and not telegram.unanswered_callbacks()
        ),
        what="the bot's answer",
    )


async def say(telegram: FakeTelegram, user: FakeUser, text: str, deliver: Deliver) -> None:
    before = screen(user)
    await act(telegram, user, user.send(text), deliver, before)


async def tap(telegram: FakeTelegram, user: FakeUser, data: str, deliver: Deliver) -> None:
    before = screen(user)
    await act(telegram, user, user.tap(data), deliver, before)


async def answer(
    telegram: FakeTelegram,
    user: FakeUser,
    deliver: Deliver,
    *,
    steps: int = 200,
    yes: tuple[str, ...] = (),
    comment: str | None = COMMENT,
) -> None:
    """Answer up to `steps` questions (the comment typed, or skipped when None; 'yes' at the
    screeners in `yes`); stop at the thanks."""
    for _ in range(steps):
        message = user.last_message()
        assert message is not None
        if not message.buttons:
            return  # the thanks: no keyboard left
        item = current_item(message)
        if item == "y_kien_khac" and comment is not None:
            await say(telegram, user, comment, deliver)
        elif item == "y_kien_khac":
            await tap(telegram, user, "s:y_kien_khac", deliver)
        else:
            await tap(telegram, user, choose(message, yes), deliver)


async def responses(database: Database) -> int:
    async with database.reading() as tx:
        return int((await tx.execute(select(func.count()).select_from(Response))).scalar_one())


def assert_nothing_telegram_refuses(telegram: FakeTelegram) -> None:
    refused = [call for call in telegram.api_calls() if call.status == 400 or call.status == 401]
    assert refused == []
    assert telegram.unanswered_callbacks() == set()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await upgrade(url)
    database = Database(url)
    await add_counters(database)
    await database.dispose()
    return url


@pytest.fixture
def database_file(sqlite_url: str) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the service's SQLite file (to break it under the service)."""
    connection = sqlite3.connect(
        sqlite_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None
    )
    yield connection
    connection.close()


def settings_for(telegram: FakeTelegram | None, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "http_port": free_port(),
        "telegram_bot_username": "sipas_test_bot",
    }
    if telegram is not None:
        values |= {"telegram_token": telegram.token, "telegram_api_url": telegram.base_url}
    values |= overrides
    return load_settings(**values)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """`sipas serve` in this event loop; yields the web app's base URL once it answers."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, handle_signals=False))
    base = f"http://{settings.http_host}:{settings.http_port}"
    async with httpx.AsyncClient() as client:
        for _ in range(500):
            if task.done():
                task.result()
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.02)
    try:
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


@asynccontextmanager
async def channel_on(
    telegram: FakeTelegram, engine: SurveyEngine, **launch: Any
) -> AsyncIterator[TelegramChannel]:
    application = build_application(
        telegram.token,
        base_url=telegram.base_url,
        rate_limiter=RetryingRateLimiter(first_backoff=0.05),
    )
    keyboards = LiveKeyboards(engine.database, TEST_SECRET, CHANNEL)
    channel = TelegramChannel(application, engine, keyboards=keyboards)
    await channel.launch(poll_timeout=1, **launch)
    try:
        yield channel
    finally:
        await channel.close()


# --- polling -----------------------------------------------------------------------------------


async def test_respondents_complete_the_survey_by_polling(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    async with channel_on(telegram, engine):
        people = [telegram.user(language_code="vi"), telegram.user(language_code="en-GB")]
        for person in people:
            await say(telegram, person, f"/start {COUNTER}", POLLING)
        # Both at once: their updates interleave, each chat stays in order.
        await asyncio.gather(*(answer(telegram, person, POLLING) for person in people))

    assert await responses(database) == 2
    for person in people:
        # The question was edited in place all along: the chat stayed short (the notice, the
        # consent, what is rated, the question, the thanks).
        assert len(person.messages()) <= 5
        assert person.last_message() is not None
        assert not person.last_message().buttons  # type: ignore[union-attr]
    assert_nothing_telegram_refuses(telegram)
    assert len(telegram.api_calls("editMessageText")) > 20


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_no_step_of_a_survey_holds_two_postgresql_connections_at_once(
    telegram: FakeTelegram, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process keeps a fixed number of connections and opens none beyond: a step that took a
    # second one while holding the first could wait for itself once every connection is
    # held so. With one connection, such a step would time out here.
    monkeypatch.setattr(storage.db, "POSTGRES_POOL_SIZE", 1)
    monkeypatch.setattr(storage.db, "POSTGRES_POOL_WAIT_SECONDS", 2.0)
    await add_counters(database)
    one_connection = Database(database.url, schema=database.schema)
    try:
        engine = SurveyEngine(one_connection, load_bundled(), engine_config())
        async with channel_on(telegram, engine):
            people = [telegram.user(language_code="vi") for _ in range(3)]
            for person in people:
                await say(telegram, person, f"/start {COUNTER}", POLLING)
            await asyncio.gather(*(answer(telegram, person, POLLING) for person in people))
    finally:
        await one_connection.dispose()
    assert await responses(database) == 3


async def test_429_and_5xx_from_telegram_lose_nothing(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        telegram.fail("sendMessage", 502, times=2)
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        telegram.fail("answerCallbackQuery", 500)
        telegram.fail("editMessageText", 429, retry_after=1)
        telegram.fail("getUpdates", 502)
        await answer(telegram, person, POLLING)

    assert await responses(database) == 1
    statuses = sorted({call.status for call in telegram.api_calls() if call.status != 200})
    assert statuses == [429, 500, 502]
    assert_nothing_telegram_refuses(telegram)


# --- the chat, as a respondent walks it -----------------------------------------------------


def taps_of(telegram: FakeTelegram, user: FakeUser) -> int:
    """How many buttons `user` has tapped: every tap gets one callback answer."""
    return sum(
        1
        for call in telegram.api_calls("answerCallbackQuery")
        if str(call.params["callback_query_id"]).endswith(str(user.id))
    )


def headers_shown(telegram: FakeTelegram, user: FakeUser) -> list[str]:
    """The first line of every question the bot showed `user`, in order."""
    texts = [
        str(call.params["text"])
        for call in telegram.api_calls()
        if call.method in ("sendMessage", "editMessageText")
        and call.params.get("chat_id") == user.id
    ]
    return [text.split("\n")[0] for text in texts if text.startswith(("Phần ", "Part "))]


async def count_answers(database: Database) -> int:
    async with database.reading() as tx:
        return int((await tx.execute(select(func.count()).select_from(Answer))).scalar_one())


async def test_a_typical_survey_takes_at_most_24_taps_and_leaves_no_live_keyboard(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        tapper, typist = telegram.user(), telegram.user()
        for person in (tapper, typist):
            await say(telegram, person, f"/start {COUNTER}", POLLING)
        # A result received, no complaint, no priorities, no profile; the comment skipped by
        # one, typed by the other (whose profile is given).
        await asyncio.gather(
            answer(telegram, tapper, POLLING, yes=("ket_qua_nhan",), comment=None),
            answer(telegram, typist, POLLING, yes=("ket_qua_nhan", "thong_tin")),
        )

    assert await responses(database) == 2
    assert taps_of(telegram, tapper) == 23  # consent, 1 + 13 + 1 + 3 + 1 + 1 + 1, the skip
    assert taps_of(telegram, typist) == 27  # the same, the profile's five, no skip: typed
    for person in (tapper, typist):
        assert person.live_keyboards() == []  # the thanks; every keyboard before it spent
        headers = headers_shown(telegram, person)
        sections = [int(header.split()[1].split("/")[0]) for header in headers]
        assert {header.split()[1].split("/")[1] for header in headers} == {"8"}  # never jumps
        assert sections == sorted(sections) and sections[-1] == 8
    assert_nothing_telegram_refuses(telegram)


async def test_help_a_sticker_and_typed_text_leave_one_live_keyboard_the_current_questions(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        await answer(telegram, person, POLLING, steps=3)
        for typed in ("/huongdan", "/help", "thế nào cũng được"):
            await say(telegram, person, typed, POLLING)
            (live,) = person.live_keyboards()
            assert live == person.last_message() and current_item(live) == "16"
        before = screen(person)
        await act(telegram, person, person.send_sticker(), POLLING, before)
        sorry, question = person.messages()[-2:]
        assert sorry.text.startswith("Xin lỗi, khảo sát không đọc được nhãn dán")
        assert person.live_keyboards() == [question] and current_item(question) == "16"
        helps = [m.text for m in person.messages() if m.text.startswith("Khảo sát gồm")]
        assert len(helps) == 2 and "/xoa" in helps[0]  # in Vietnamese commands
    assert_nothing_telegram_refuses(telegram)


async def test_cancel_asks_with_buttons_before_deleting_the_answers(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        await answer(telegram, person, POLLING, steps=3)
        await say(telegram, person, "/dung", POLLING)
        (ask,) = person.live_keyboards()
        assert ask.labels == ["Dừng và xoá", "Tiếp tục khảo sát"]
        assert "DUNG" not in ask.text and await count_answers(database) == 2

        await tap(telegram, person, "Tiếp tục khảo sát", POLLING)
        (going_on,) = person.live_keyboards()
        assert going_on.message_id == ask.message_id and current_item(going_on) == "16"
        assert await count_answers(database) == 2

        await say(telegram, person, "/cancel", POLLING)
        await tap(telegram, person, "Dừng và xoá", POLLING)
        assert person.live_keyboards() == []
        assert person.last_message().text.startswith("Đã dừng khảo sát")  # type: ignore[union-attr]
        assert await count_answers(database) == 0
    assert_nothing_telegram_refuses(telegram)


async def test_another_counters_qr_mid_survey_asks_with_buttons_before_deleting_the_answers(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        await answer(telegram, person, POLLING, steps=3)
        await say(telegram, person, f"/start {OTHER_COUNTER}", POLLING)
        (ask,) = person.live_keyboards()
        assert ask.labels == ["Bắt đầu khảo sát mới", "Tiếp tục khảo sát cũ"]

        await tap(telegram, person, "Tiếp tục khảo sát cũ", POLLING)
        assert [current_item(m) for m in person.live_keyboards()] == ["16"]
        assert await count_answers(database) == 2

        await say(telegram, person, f"/start {OTHER_COUNTER}", POLLING)
        await tap(telegram, person, "Bắt đầu khảo sát mới", POLLING)
        notice, consent = person.live_keyboards()  # the new survey's notice and consent
        assert datas(notice) == ["privacy:full"] and "consent:yes" in datas(consent)
        assert await count_answers(database) == 0
    assert_nothing_telegram_refuses(telegram)


async def test_the_language_switch_edits_the_notice_and_the_consent_in_place(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        shown = [message.message_id for message in person.messages()]
        await tap(telegram, person, "English", POLLING)
        await telegram.wait_for(
            lambda: all(message.edits for message in person.messages()), what="both edits"
        )

    notice, consent = person.messages()
    assert [notice.message_id, consent.message_id] == shown  # no message more
    assert notice.text.startswith("ABOUT YOUR PERSONAL DATA")
    assert consent.labels[:2] == ["I agree to take part", "I do not agree"]
    (answered,) = telegram.api_calls("answerCallbackQuery")
    assert answered.params["text"] == "Switched to English."
    assert_nothing_telegram_refuses(telegram)


async def test_the_delete_confirmation_has_buttons_and_no_typed_code(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled().asking(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        await answer(telegram, person, POLLING)
        assert "/xoa" in person.last_message().text  # type: ignore[union-attr]
        await say(telegram, person, "/xoa", POLLING)
        (ask,) = person.live_keyboards()
        assert "XOA" not in ask.text and "KHONG" not in ask.text
        await tap(telegram, person, "Không xoá", POLLING)
        assert person.live_keyboards() == []
        assert await responses(database) == 1
        await say(telegram, person, "/delete", POLLING)
        await tap(telegram, person, "Xoá câu trả lời", POLLING)
        assert await responses(database) == 0
    assert_nothing_telegram_refuses(telegram)


async def test_a_group_chat_is_refused_and_nothing_is_stored(
    telegram: FakeTelegram, database: Database
) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    async with channel_on(telegram, engine):
        person = telegram.user()
        group = -1001234567
        telegram.send_text(person, f"/start {COUNTER}", chat_id=group, chat_type="supergroup")
        await telegram.wait_for(lambda: telegram.messages(group), what="the refusal")

    (reply,) = telegram.messages(group)  # one reply, and nothing else
    assert "private chat" in reply.text
    assert reply.reply_markup == {
        "inline_keyboard": [
            [{"text": PRIVATE_CHAT_BUTTON, "url": f"https://t.me/sipas_test_bot?start={COUNTER}"}]
        ]
    }
    async with database.reading() as tx:
        from storage.models import ProcessedEvent, SurveySession

        for table in (ProcessedEvent, SurveySession):
            count = (await tx.execute(select(func.count()).select_from(table))).scalar_one()
            assert count == 0


# --- `sipas serve` ---------------------------------------------------------------------------


async def test_serve_by_polling_resumes_after_a_restart_and_logs_no_one(
    telegram: FakeTelegram, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(telegram, sqlite_url)
    person = telegram.user(first_name="Lê Văn Cường", username="cuong_hn", language_code="vi")

    async with serving(settings):
        await say(telegram, person, f"/start {COUNTER}", POLLING)
        await answer(telegram, person, POLLING, steps=5)
    assert telegram.api_calls("deleteWebhook")  # polling cleared any webhook first
    halfway = person.last_message()
    assert halfway is not None and halfway.buttons

    # A new process on the same database: the tap on the keyboard shown before goes on.
    async with serving(settings):
        await answer(telegram, person, POLLING)
    # The keyboards it knew of are in the database: the comment typed, none is left live.
    assert person.live_keyboards() == []

    database = Database(sqlite_url)
    try:
        assert await responses(database) == 1
    finally:
        await database.dispose()
    assert_nothing_telegram_refuses(telegram)
    assert "Telegram: long polling" in caplog.text
    for secret in (str(person.id), person.first_name, "cuong_hn"):
        assert secret not in caplog.text


async def test_serve_by_webhook_processes_a_redelivered_update_once(
    telegram: FakeTelegram, sqlite_url: str
) -> None:
    settings = settings_for(
        telegram, sqlite_url, public_url=PUBLIC_URL, telegram_webhook_secret=WEBHOOK_SECRET
    )
    person = telegram.user()

    async with serving(settings) as base:
        deliver = Deliver(base + WEBHOOK_PATH, telegram)
        await telegram.wait_for(lambda: telegram.webhook, what="setWebhook")
        assert telegram.webhook == {
            "url": PUBLIC_URL + WEBHOOK_PATH,
            "secret_token": WEBHOOK_SECRET,
            "allowed_updates": ["message", "callback_query"],
        }
        await say(telegram, person, f"/start {COUNTER}", deliver)
        await answer(telegram, person, deliver, steps=3)

        # Telegram got no answer in time and delivers the last tap again. The chat's next tap,
        # processed after it, is where anything it did would show: only that tap's calls follow,
        # its answer carried out from the webhook's answer.
        calls = len(telegram.api_calls())
        await deliver(deliver.posted[-1])
        await answer(telegram, person, deliver, steps=1)
        assert [
            (call.method, call.status, call.in_webhook_answer)
            for call in telegram.api_calls()[calls:]
        ] == [
            ("editMessageText", 200, False),
            ("answerCallbackQuery", 200, True),
        ]

        async with httpx.AsyncClient() as client:
            forged = await client.post(
                base + WEBHOOK_PATH, json=person.send("/delete"), headers={SECRET_HEADER: "x"}
            )
        assert forged.status_code == 403

        await answer(telegram, person, deliver)

    database = Database(sqlite_url)
    try:
        assert await responses(database) == 1
    finally:
        await database.dispose()
    assert telegram.api_calls("getUpdates") == []
    assert_nothing_telegram_refuses(telegram)


async def test_serve_by_webhook_answers_500_for_an_update_it_failed_and_processes_it_again(
    telegram: FakeTelegram, sqlite_url: str, database_file: sqlite3.Connection
) -> None:
    settings = settings_for(
        telegram, sqlite_url, public_url=PUBLIC_URL, telegram_webhook_secret=WEBHOOK_SECRET
    )
    person = telegram.user()

    async with serving(settings) as base:
        deliver = Deliver(base + WEBHOOK_PATH, telegram)
        await telegram.wait_for(lambda: telegram.webhook, what="setWebhook")
        await say(telegram, person, f"/start {COUNTER}", deliver)
        await answer(telegram, person, deliver, steps=2)

        # The disk fills up: the database refuses to store the next answer.
        database_file.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON answers "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        question, before = person.last_message(), screen(person)
        assert question is not None
        tap = person.tap(choose(question))
        failed = await deliver.post(tap)
        assert failed.status_code == 500
        assert screen(person) == before
        assert not telegram.unanswered_callbacks()  # the tap got "please tap again shortly"
        assert processed_event(database_file, tap) is None  # rolled back with the answer

        # Space again; Telegram delivers the update once more, and the survey goes on from it.
        database_file.execute("DROP TRIGGER disk_full")
        await deliver(tap)
        await telegram.wait_for(lambda: screen(person) != before, what="the next question")
        assert processed_event(database_file, tap) is not None
        await answer(telegram, person, deliver)

    database = Database(sqlite_url)
    try:
        assert await responses(database) == 1
    finally:
        await database.dispose()
    # Only the answer to the redelivered tap, which the first delivery had answered already.
    refused = [call.method for call in telegram.api_calls() if call.status == 400]
    assert refused == ["answerCallbackQuery"]


def processed_event(database_file: sqlite3.Connection, update: dict[str, Any]) -> object:
    """The processed-event row of a Telegram update, or None."""
    return database_file.execute(
        "SELECT event_id FROM processed_events WHERE channel = 'telegram' AND event_id = ?",
        (str(update["update_id"]),),
    ).fetchone()


async def test_serve_without_a_token_runs_the_web_app_with_telegram_off(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(settings_for(None, sqlite_url)) as base, httpx.AsyncClient() as client:
        webhook = await client.post(base + WEBHOOK_PATH, json={"update_id": 1})

    assert webhook.status_code == 404
    assert "Telegram is off" in caplog.text


async def test_serve_catches_up_the_missed_night_in_a_child_process(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[str] = []
    spawn = nightly.in_child_process

    async def recorded(target: Any, *args: object, name: str) -> None:
        children.append(name)
        await spawn(target, *args, name=name)

    monkeypatch.setattr(nightly, "in_child_process", recorded)
    exports = tmp_path / "exports"
    async with serving(settings_for(None, sqlite_url, export_dir=exports)):
        for _ in range(600):  # written by another process: nothing to await here but the files
            if len(list(exports.rglob("*.csv"))) == 42:
                break
            await asyncio.sleep(0.05)

    assert children == ["sipas-nightly"]
    assert len(list(exports.rglob("*.csv"))) == 42  # month, quarter, year × 7 levels × 2
    database = Database(sqlite_url)
    try:
        async with database.reading() as session:
            run = (await session.scalars(select(AggregationRun))).one()
            assert await session.scalar(select(func.count()).select_from(Lease)) == 0
    finally:
        await database.dispose()
    assert run.status == "succeeded"


async def test_serve_runs_background_jobs_and_stops_them(
    sqlite_url: str,
) -> None:
    ran, cancelled = asyncio.Event(), asyncio.Event()

    async def nightly(service: Any) -> None:
        assert service.telegram is None
        ran.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(settings_for(None, sqlite_url), tasks=[nightly], stop=stop, handle_signals=False)
    )
    await asyncio.wait_for(ran.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=10)

    assert cancelled.is_set()


async def test_serve_refuses_a_token_telegram_refuses(
    telegram: FakeTelegram, sqlite_url: str
) -> None:
    settings = settings_for(telegram, sqlite_url, telegram_token="999:not-the-token")

    with pytest.raises(TelegramRefused, match="@BotFather"):
        await asyncio.wait_for(serve(settings, handle_signals=False), timeout=15)


def test_sipas_serve_stops_cleanly_on_sigterm(
    telegram: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    environment = {
        **os.environ,
        "SIPAS_DATABASE_URL": sqlite_url,
        "SIPAS_SECRET_KEY": TEST_SECRET,
        "SIPAS_TELEGRAM_TOKEN": telegram.token,
        "SIPAS_TELEGRAM_API_URL": telegram.base_url,
        "SIPAS_TELEGRAM_BOT_USERNAME": "sipas_test_bot",
        "SIPAS_HTTP_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=environment,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        telegram.wait_for_sync(
            lambda: telegram.api_calls("deleteWebhook") or process.poll() is not None,
            within=20,
            what="polling to start",
        )
        person = telegram.user()
        person.send("/start")
        telegram.wait_for_sync(person.messages, within=10, what="the welcome")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, stderr
    assert "stopped" in stderr
    assert str(person.id) not in stderr
