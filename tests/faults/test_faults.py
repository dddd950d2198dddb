"""Short fault tests over real HTTP: kill -9 mid-survey, Bot API storms, duplicate and stale
deliveries, a flood of forged webhook requests. The long ones live in benchmarks/faults/."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from bot.commands.serve import serve
from channels.telegram_delivery import NETWORK_ATTEMPTS
from handlers.survey import SurveyEngine
from storage.db import Database
from storage.models import Answer, ProcessedEvent, Response, SurveySession
from tests.channels.test_telegram_e2e import (
    COUNTER,
    PUBLIC_URL,
    WEBHOOK_SECRET,
    Deliver,
    answer,
    choose,
    current_item,
    free_port,
    settings_for,
    sqlite_url,
    tap,
)
from tests.conftest import TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram, FakeUser
from web.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH

__all__ = ["sqlite_url"]  # a fixture, used by name


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def webhook_settings(telegram: FakeTelegram, url: str, **overrides: Any) -> Any:
    return settings_for(
        telegram,
        url,
        public_url=PUBLIC_URL,
        telegram_webhook_secret=WEBHOOK_SECRET,
        **overrides,
    )


async def table_rows(url: str) -> dict[str, Any]:
    """Counts and the stored answers, read afresh."""
    database = Database(url)
    try:
        async with database.reading() as tx:
            counts = {
                model.__tablename__: (
                    await tx.execute(select(func.count()).select_from(model))
                ).scalar_one()
                for model in (ProcessedEvent, SurveySession, Response)
            }
            answers = sorted((await tx.execute(select(Answer.item_code, Answer.value))).tuples())
    finally:
        await database.dispose()
    return {**counts, "answers": answers}


class Patient(Deliver):
    """Webhook delivery that waits as long as the bot's own retries of the Bot API may take."""

    async def __call__(self, update: dict[str, Any]) -> None:
        assert self.webhook_url is not None
        self.posted.append(update)
        await self.post(update, seconds=60.0)


class Served:
    """`serve` in this event loop, started and stopped on demand."""

    def __init__(self, settings: Any, **options: Any) -> None:
        self.settings = settings
        self.options = options
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.url = f"http://127.0.0.1:{settings.http_port}"

    async def __aenter__(self) -> Served:
        self.task = asyncio.create_task(
            serve(self.settings, stop=self.stop, handle_signals=False, **self.options)
        )
        async with httpx.AsyncClient() as client:
            while True:
                if self.task.done():
                    self.task.result()
                try:
                    if (await client.get(self.url + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=30)


# --- kill -9 ------------------------------------------------------------------------------------


def start_server(telegram: FakeTelegram, url: str, port: int, cwd: Path) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "SIPAS_DATABASE_URL": url,
        "SIPAS_SECRET_KEY": TEST_SECRET,
        "SIPAS_TELEGRAM_TOKEN": telegram.token,
        "SIPAS_TELEGRAM_API_URL": telegram.base_url,
        "SIPAS_TELEGRAM_BOT_USERNAME": "sipas_test_bot",
        "SIPAS_PUBLIC_URL": PUBLIC_URL,
        "SIPAS_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIPAS_HTTP_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=environment,
        cwd=cwd,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    calls = len(telegram.api_calls("setWebhook"))
    telegram.wait_for_sync(
        lambda: len(telegram.api_calls("setWebhook")) > calls or process.poll() is not None,
        within=60,
        what="the server to register its webhook",
    )
    assert process.poll() is None, "the server did not start"
    return process


def post(
    telegram: FakeTelegram, client: httpx.Client, port: int, update: dict[str, Any]
) -> httpx.Response:
    """Deliver `update` to the server's webhook as Telegram does, carrying out its answer."""
    response = client.post(
        f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        json=update,
        headers={SECRET_HEADER: WEBHOOK_SECRET},
    )
    telegram.carry_out(response.status_code, response.content)
    return response


def step(
    telegram: FakeTelegram, client: httpx.Client, port: int, person: FakeUser
) -> dict[str, Any]:
    """The respondent's next move on the question shown; returns the update sent."""
    message = person.last_message()
    assert message is not None and message.buttons
    comment = current_item(message) == "y_kien_khac"
    update = person.send("Tốt") if comment else person.tap(choose(message))
    assert post(telegram, client, port, update).status_code == 200
    return update


def test_kill_9_mid_survey_loses_no_committed_answer_and_the_respondent_resumes(
    telegram: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    person = telegram.user()
    process = start_server(telegram, sqlite_url, port, tmp_path)
    try:
        with httpx.Client(timeout=10) as client:
            assert post(telegram, client, port, person.send(f"/start {COUNTER}")).status_code == 200
            for _ in range(6):
                step(telegram, client, port, person)
            committed = asyncio.run(table_rows(sqlite_url))["answers"]
            # One more tap in flight when the process dies: Telegram got no answer for it.
            message = person.last_message()
            assert message is not None
            in_flight = person.tap(choose(message))
            sender = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import httpx, json, sys; httpx.post(sys.argv[1], json=json.loads(sys.argv[2]),"
                    " headers={sys.argv[3]: sys.argv[4]}, timeout=5)",
                    f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                    json.dumps(in_flight),
                    SECRET_HEADER,
                    WEBHOOK_SECRET,
                ],
                stderr=subprocess.DEVNULL,
            )
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            sender.wait(timeout=10)

            process = start_server(telegram, sqlite_url, port, tmp_path)
            after_restart = asyncio.run(table_rows(sqlite_url))["answers"]
            assert set(committed) <= set(after_restart)
            # Telegram delivers the unanswered update again; then the respondent goes on
            # from whatever the chat shows.
            assert post(telegram, client, port, in_flight).status_code == 200
            for _ in range(60):
                message = person.last_message()
                assert message is not None
                if not message.buttons:
                    break
                step(telegram, client, port, person)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    final = asyncio.run(table_rows(sqlite_url))
    assert final["responses"] == 1
    assert set(committed) <= set(final["answers"])


# --- the Bot API misbehaves ----------------------------------------------------------------------


async def test_bot_api_429_and_5xx_storms_lose_no_answer(
    telegram: FakeTelegram, sqlite_url: str
) -> None:
    settings = webhook_settings(telegram, sqlite_url)
    person = telegram.user()
    async with Served(settings, tasks=[]) as served:
        deliver = Patient(served.url + WEBHOOK_PATH, telegram)
        telegram.fail("sendMessage", 502, times=2)
        await deliver(person.send(f"/start {COUNTER}"))
        await telegram.wait_for(person.messages, what="the consent")
        await tap(telegram, person, "consent:yes", deliver)
        # (A tap's answer goes back in the webhook's answer: no call of its own to fail.)
        telegram.fail("editMessageText", 429, times=1, retry_after=1)
        await tap(telegram, person, choose(person.last_message()), deliver)  # type: ignore[arg-type]
        # A storm as long as the retries: the answer is committed, its reply is lost.
        telegram.fail("editMessageText", 503, times=NETWORK_ATTEMPTS)
        shown = person.last_message()
        assert shown is not None
        await deliver(person.tap(choose(shown)))
        stored = (await table_rows(sqlite_url))["answers"]
        # The respondent taps the old keyboard again: a stale tap, answered with the question.
        await tap(telegram, person, choose(shown), deliver)
        await answer(telegram, person, deliver)

    final = await table_rows(sqlite_url)
    assert final["responses"] == 1
    assert set(stored) <= set(final["answers"])
    statuses = {call.status for call in telegram.api_calls()}
    assert {429, 502, 503} <= statuses


# --- deliveries -------------------------------------------------------------------------------


async def test_duplicate_and_out_of_order_deliveries_change_nothing(
    telegram: FakeTelegram, sqlite_url: str
) -> None:
    settings = webhook_settings(telegram, sqlite_url)
    person = telegram.user()
    async with Served(settings, tasks=[]) as served:
        deliver = Patient(served.url + WEBHOOK_PATH, telegram)
        await deliver(person.send(f"/start {COUNTER}"))
        await tap(telegram, person, "consent:yes", deliver)
        await tap(telegram, person, choose(person.last_message()), deliver)  # type: ignore[arg-type]
        question = person.last_message()
        assert question is not None and question.buttons
        first, second = person.tap(choose(question)), person.tap(question.buttons[0][0][1])
        # The same update five times at once, then a second tap on the same keyboard.
        await asyncio.gather(*(deliver(first) for _ in range(5)))
        await deliver(second)
        settled = await table_rows(sqlite_url)
        # Earlier updates again, newest first: stale or seen, none changes an answer.
        for update in reversed(deliver.posted[:-1]):
            await deliver(update)
    assert (await table_rows(sqlite_url))["answers"] == settled["answers"]

    # A new process forgets what it saw in memory; the database still knows.
    async with Served(
        webhook_settings(telegram, sqlite_url, http_port=free_port()), tasks=[]
    ) as served:
        again = Patient(served.url + WEBHOOK_PATH, telegram)
        for update in deliver.posted:
            await again(update)
    final = await table_rows(sqlite_url)
    assert final["answers"] == settled["answers"]
    assert final["processed_events"] == settled["processed_events"]


# --- forged requests ----------------------------------------------------------------------------


async def test_a_flood_with_a_bad_secret_never_reaches_the_database(
    telegram: FakeTelegram, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    handled: list[object] = []

    def count(*arguments: Any) -> None:
        statements.append(str(arguments[2])[:40])

    original = SurveyEngine.handle

    async def counting(engine: SurveyEngine, inbound: Any) -> Any:
        handled.append(inbound)
        return await original(engine, inbound)

    monkeypatch.setattr(SurveyEngine, "handle", counting)
    person = telegram.user()
    async with Served(webhook_settings(telegram, sqlite_url), tasks=[]) as served:
        await telegram.wait_for(lambda: telegram.webhook, what="setWebhook")
        event.listen(Engine, "before_cursor_execute", count)
        try:
            async with httpx.AsyncClient(timeout=30) as client:

                async def forged(index: int) -> int:
                    secret = ["", "x", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x"][index % 4]
                    headers = {SECRET_HEADER: secret} if secret else {}
                    response = await client.post(
                        served.url + WEBHOOK_PATH,
                        json=person.send(f"/start {COUNTER}"),
                        headers=headers,
                    )
                    return response.status_code

                codes = await asyncio.gather(*(forged(index) for index in range(300)))
        finally:
            event.remove(Engine, "before_cursor_execute", count)

    assert set(codes) == {403}
    assert statements == []
    assert handled == []
    assert {call.method for call in telegram.api_calls()} <= {"getMe", "setWebhook"}
    rows = await table_rows(sqlite_url)
    assert (rows["processed_events"], rows["survey_sessions"]) == (0, 0)
