"""`sipas serve --workers N`: refusals, jobs run once under a lease, two real workers on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.commands.serve import serve_command
from bot.settings import load_settings
from bot.workers import WorkersRefused, check_workers, run_leased
from channels.telegram_delivery import MESSAGES_PER_SECOND
from storage.api_keys import create_api_key
from storage.db import Database
from storage.invitations import counter_payload
from storage.leases import acquire_lease
from storage.migrate import upgrade
from storage.models import Answer, Lease, Response
from tests.channels.test_telegram_e2e import choose, current_item, free_port
from tests.conftest import POSTGRES_URL, TEST_SECRET
from tests.fakes.telegram_server import FakeTelegram
from tests.survey_driver import POINT, add_counters
from web.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH

WEBHOOK_SECRET = "workers-secret_0123456789"
PUBLIC_URL = "https://survey.example.test"


# --- refusals -----------------------------------------------------------------------------------


def test_sqlite_with_several_workers_is_refused_with_what_to_do(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")

    with pytest.raises(WorkersRefused, match="needs PostgreSQL") as refusal:
        check_workers(settings, 2)
    assert "SIPAS_DATABASE_URL" in refusal.value.message
    check_workers(settings, 1)  # one worker is the default, and fine


def test_polling_with_several_workers_is_refused() -> None:
    settings = load_settings(
        database_url=POSTGRES_URL, secret_key=TEST_SECRET, telegram_token="1:abc"
    )

    with pytest.raises(WorkersRefused, match="one long-polling process per bot token"):
        check_workers(settings, 3)


def test_the_cli_refuses_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")

    result = CliRunner().invoke(serve_command, ["--workers", "2"])

    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.output


# --- leases -------------------------------------------------------------------------------------


async def test_a_leased_job_runs_in_one_process_while_it_lives(database: Database) -> None:
    runs: list[str] = []
    enough = asyncio.Event()
    wanted = 5

    def job(holder: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            runs.append(holder)
            if len(runs) >= wanted:
                enough.set()

        return run

    # A clock that stands still: a live holder's lease never expires, whatever the pace.
    frozen = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    loops = {
        holder: asyncio.create_task(
            run_leased(
                database,
                "maintenance",
                job(holder),
                interval=0.01,
                holder=holder,
                clock=lambda: frozen,
            )
        )
        for holder in ("host:1", "host:2")
    }
    await asyncio.wait_for(enough.wait(), timeout=30)
    first = runs[0]
    loops[first].cancel()  # the holder stops and gives the lease back
    await asyncio.gather(loops[first], return_exceptions=True)
    count = len(runs)
    enough.clear()
    wanted = count + 3
    await asyncio.wait_for(enough.wait(), timeout=30)
    for loop in loops.values():
        loop.cancel()
    await asyncio.gather(*loops.values(), return_exceptions=True)

    assert set(runs[:count]) == {first}
    assert set(runs[count:]) == {"host:1", "host:2"} - {first}


async def test_a_dead_holders_lease_is_taken_over_once_expired(database: Database) -> None:
    assert await acquire_lease(database, "maintenance", "dead:1", timedelta(seconds=-1))
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    loop = asyncio.create_task(
        run_leased(database, "maintenance", job, interval=60, holder="alive:2")
    )
    await asyncio.wait_for(ran.wait(), timeout=10)
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)

    async with database.reading() as session:
        assert (await session.execute(select(func.count()).select_from(Lease))).scalar_one() == 0


# --- two real workers -----------------------------------------------------------------------------


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of its own on the test server (a worker cannot be pointed at a schema)."""
    name = f"sipas_workers_{secrets.token_hex(4)}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_two_workers_share_the_port_register_the_webhook_once_and_stop_on_sigterm(
    postgres_database: str, tmp_path: Path
) -> None:
    async def prepare() -> None:
        await upgrade(postgres_database)
        database = Database(postgres_database)
        await add_counters(database)
        await database.dispose()

    asyncio.run(prepare())
    with (
        FakeTelegram() as telegram,
        two_workers(postgres_database, tmp_path, telegram) as (
            process,
            port,
        ),
    ):
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        people = [telegram.user() for _ in range(3)]
        with httpx.Client(timeout=10) as client:
            for person in people:
                take_survey(client, url, telegram, person)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=40)

    assert process.returncode == 0, stderr
    assert len(telegram.api_calls("setWebhook")) == 1
    assert stderr.count("bot.commands.serve: stopped") == 2
    pids = {
        line.split("[")[1].split("]")[0]
        for line in stderr.splitlines()
        if "Started server process" in line
    }
    assert len(pids) == 2

    async def check() -> tuple[int, int]:
        database = Database(postgres_database)
        try:
            async with database.reading() as session:
                responses = (
                    await session.execute(select(func.count()).select_from(Response))
                ).scalar_one()
                answers = (
                    await session.execute(select(func.count()).select_from(Answer))
                ).scalar_one()
        finally:
            await database.dispose()
        return responses, answers

    responses, answers = asyncio.run(check())
    assert responses == 3
    assert answers % 3 == 0 and answers > 0


@pytest.mark.postgres
def test_two_workers_keep_to_one_flood_limit_of_the_bot_and_one_rate_limit_per_api_key(
    postgres_database: str, tmp_path: Path
) -> None:
    async def prepare() -> str:
        await upgrade(postgres_database)
        database = Database(postgres_database)
        await add_counters(database)
        async with database.transaction() as tx:
            created = await create_api_key(tx, name="mot-cua", unit_codes=[], now=datetime.now(UTC))
        await database.dispose()
        return created.key

    async def owe_turns(tokens: float) -> float:
        """Empty the bot's bucket as if `tokens` more messages had just been sent; when."""
        connection = await asyncpg.connect(postgres_database.replace("+asyncpg", ""))
        try:
            now = time.monotonic()  # the workers' clock: one for the processes of a machine
            await connection.execute(
                "INSERT INTO shared_limits (name, tokens, at) VALUES ('telegram', $1, $2) "
                "ON CONFLICT (name) DO UPDATE SET tokens = $1, at = $2",
                -tokens,
                now,
            )
        finally:
            await connection.close()
        return now

    key = asyncio.run(prepare())
    with (
        FakeTelegram() as telegram,
        two_workers(postgres_database, tmp_path, telegram, SIPAS_API_REQUESTS_PER_MINUTE="1") as (
            process,
            port,
        ),
    ):
        base = f"http://127.0.0.1:{port}"
        # Each request on a connection of its own, so that both workers answer some.
        statuses = [
            httpx.get(
                f"{base}/api/v1/invitations/0000000000000000",
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).status_code
            for _ in range(8)
        ]
        # Two seconds of the bot's messages owed: whichever worker answers waits its turn.
        owed_at = asyncio.run(owe_turns(2 * MESSAGES_PER_SECOND))
        for person in (telegram.user(), telegram.user()):
            update = person.send(f"/start {counter_payload(TEST_SECRET, POINT)}")
            with httpx.Client(timeout=30) as client:
                post(client, f"{base}{WEBHOOK_PATH}", update)
            assert time.monotonic() - owed_at >= 2.0
        assert len(telegram.api_calls("sendMessage")) >= 2
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=40)

    # One request a minute for the key, whichever of the two workers took it.
    assert statuses == [404] + [429] * 7


@contextmanager
def two_workers(
    database_url: str, folder: Path, telegram: FakeTelegram, **settings: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`sipas serve --workers 2` on Telegram's webhook, once both workers have connected; the
    process and its port. Killed on the way out if still running."""
    port = free_port()
    environment = {
        **os.environ,
        "SIPAS_DATABASE_URL": database_url,
        "SIPAS_SECRET_KEY": TEST_SECRET,
        "SIPAS_TELEGRAM_TOKEN": telegram.token,
        "SIPAS_TELEGRAM_API_URL": telegram.base_url,
        "SIPAS_TELEGRAM_BOT_USERNAME": "sipas_test_bot",
        "SIPAS_PUBLIC_URL": PUBLIC_URL,
        "SIPAS_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIPAS_HTTP_PORT": str(port),
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--workers", "2"],
        env=environment,
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        telegram.wait_for_sync(
            lambda: len(telegram.api_calls("getMe")) >= 2 or process.poll() is not None,
            within=60,
            what="both workers to connect",
        )
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def take_survey(client: httpx.Client, url: str, telegram: FakeTelegram, person: Any) -> None:
    """One respondent, from /start to the thanks, every update POSTed to the webhook."""
    post(client, url, person.send(f"/start {counter_payload(TEST_SECRET, POINT)}"))
    for _ in range(60):
        message = person.last_message()
        assert message is not None
        if not message.buttons:
            return
        if current_item(message) == "y_kien_khac":
            post(client, url, person.send("Tốt"))
        else:
            post(client, url, person.tap(choose(message)))
    raise AssertionError("the survey did not end")


def post(client: httpx.Client, url: str, update: dict[str, Any]) -> None:
    response = client.post(url, json=update, headers={SECRET_HEADER: WEBHOOK_SECRET})
    assert response.status_code == 200, response.text
