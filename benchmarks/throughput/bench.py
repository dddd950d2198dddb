"""Throughput benchmark: answer-updates/s and CPU per survey through the whole Telegram stack, in process.

Not a test. Simulated respondents take the whole survey through python-telegram-bot
(`TelegramChannel.process_webhook_update`, as the webhook route calls it) and the
real survey engine on a real database; a request object answers the Bot API like
Telegram would, so no socket is opened. Beside it, in the same run and the same
process, the floor: python-telegram-bot dispatching the same number of updates to a
trivial handler that does one INSERT and commit each. Then the memory 10,000 open
sessions add to the process.

    python benchmarks/throughput/bench.py                          # SQLite, 200 surveys
    python benchmarks/throughput/bench.py --backend postgres       # SIPAS_TEST_POSTGRES_URL
    python benchmarks/throughput/bench.py --surveys 400 --concurrency 50 --open-sessions 10000
    python benchmarks/throughput/bench.py --count-calls                # + Python calls per update

`--count-calls` runs one more round of each under cProfile and counts the Python function
calls per update: a figure the machine's load does not move, where times on a shared
machine vary twofold (it leaves out what C does: SQLite's own work, JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the test fixtures' counters

from bot.assembly import build_engine
from bot.settings import load_settings
from channels.telegram import CHANNEL, TelegramChannel, build_application
from channels.telegram_delivery import LocalFloodLimit, RetryingRateLimiter
from storage.db import Database
from storage.invitations import counter_payload
from storage.live_keyboards import LiveKeyboards
from storage.migrate import upgrade
from storage.models import Answer, Response
from tests.survey_driver import add_counters

POSTGRES_URL = os.environ.get(
    "SIPAS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET = "benchmark-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
TOKEN = "123456:BENCH-throughput"
POINT = "HN-00004-01"
COMMENT = "Cán bộ tận tình, hướng dẫn rõ ràng."


# --- the Bot API, answered in process ------------------------------------------------------------


class RecordingBotApi(BaseRequest):
    """Answers the Bot API as Telegram would and keeps each chat's newest keyboard; no sockets."""

    def __init__(self) -> None:
        self.calls = 0
        self._message_ids = itertools.count(100)
        self.newest: dict[int, dict[str, Any]] = {}  # chat id -> the bot's newest message there

    def keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The chat's newest message if it shows a keyboard: the question the respondent is on."""
        message = self.newest.get(chat_id)
        return message if message is not None and "reply_markup" in message else None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float:
        return 1.0

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
        self.calls += 1
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        return 200, json.dumps({"ok": True, "result": self._result(endpoint, params)}).encode()

    def _result(self, endpoint: str, params: dict[str, Any]) -> object:
        if endpoint == "getMe":
            return {"id": 1, "is_bot": True, "first_name": "SIPAS", "username": "sipas_bot"}
        if endpoint in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "An"},
                "text": params.get("text", "x"),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if markup:
                message["reply_markup"] = markup
            newest = self.newest.get(chat_id)
            if endpoint == "sendMessage" or (
                newest is not None and newest["message_id"] == message["message_id"]
            ):
                self.newest[chat_id] = message
            return message
        return True


# --- simulated respondents -------------------------------------------------------------------------

_update_ids = itertools.count(1)


def _user(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "An", "language_code": "vi"}


def text_update(chat_id: int, text_: str) -> dict[str, Any]:
    """A private text message; a /command carries its entity."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "An"},
        "from": _user(chat_id),
        "text": text_,
    }
    if text_.startswith("/"):
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text_.split()[0])}
        ]
    return {"update_id": next(_update_ids), "message": message}


def tap_update(chat_id: int, data: str, message: dict[str, Any]) -> dict[str, Any]:
    """A button tap on `message`."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"q{next(_update_ids)}",
            "from": _user(chat_id),
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": message,
        },
    }


def choose(message: dict[str, Any]) -> str | None:
    """What the respondent taps: consent, 4 on every scale, 'no' at gates and to being written
    to when the result is returned, else the first answer.

    None on the open comment, which is typed.
    """
    datas = [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    if "consent:yes" in datas:
        return "consent:yes"
    if "result:no" in datas:
        return "result:no"
    item = next((d.split(":")[1] for d in datas if d.startswith(("a:", "s:"))), None)
    if item == "y_kien_khac":
        return None
    if item is not None and item.isdigit():
        return f"a:{item}:4"
    if f"a:{item}:no" in datas:
        return f"a:{item}:no"
    return next(d for d in datas if d.startswith("a:"))


Sink = Callable[[dict[str, Any]], Awaitable[None]]


async def take_survey(chat_id: int, payload: str, api: RecordingBotApi, sink: Sink) -> int:
    """One respondent from /start to the thanks; the number of updates it took."""
    await sink(text_update(chat_id, f"/start {payload}"))
    updates = 1
    while (message := api.keyboard(chat_id)) is not None and updates < 100:
        data = choose(message)
        if data is None:
            await sink(text_update(chat_id, COMMENT))
        else:
            await sink(tap_update(chat_id, data, message))
        updates += 1
    return updates


async def in_waves(count: int, concurrency: int, job: Callable[[int], Awaitable[int]]) -> int:
    """Run `job(i)` for i < count, `concurrency` at a time; the sum of their results."""
    queue = iter(range(count))
    total = 0

    async def worker() -> None:
        nonlocal total
        for index in queue:
            done = await job(index)  # awaited first: `total += await ...` would lose counts
            total += done

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total


# --- databases -------------------------------------------------------------------------------------


@dataclass
class Backend:
    url: str
    schema: str | None = None
    cleanup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def fresh_backend(kind: str, directory: Path) -> Backend:
    """A migrated, empty database with one counter: a SQLite file or a PostgreSQL schema."""
    if kind == "sqlite":
        backend = Backend(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
        await upgrade(backend.url)
    else:
        schema = f"bench_{secrets.token_hex(4)}"
        dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        connection = await asyncpg.connect(dsn)
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.close()

        async def drop() -> None:
            connection = await asyncpg.connect(dsn)
            await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await connection.close()

        backend = Backend(POSTGRES_URL, schema, [drop])
        await upgrade(POSTGRES_URL, schema=schema)
    database = Database(backend.url, schema=backend.schema)
    await add_counters(database)  # the counters the tests use: Phường Ba Đình, HN-00004-01/02
    await database.dispose()
    return backend


# --- the runs --------------------------------------------------------------------------------------


@dataclass
class Run:
    updates: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.updates / self.wall


@asynccontextmanager
async def full_stack(backend: Backend) -> AsyncIterator[tuple[RecordingBotApi, TelegramChannel]]:
    """The service's Telegram stack on `backend`, answered by a recording Bot API; closed after."""
    settings = load_settings(database_url=backend.url, secret_key=SECRET)
    database = Database(backend.url, schema=backend.schema)
    api = RecordingBotApi()
    application = build_application(TOKEN, polling=False, request=api, rate_limiter=unthrottled())
    await application.initialize()
    await application.start()
    try:
        # As `sipas serve` wires it: the superseded keyboards are kept track of in the database.
        keyboards = LiveKeyboards(database, SECRET, CHANNEL)
        yield (
            api,
            TelegramChannel(application, build_engine(settings, database), keyboards=keyboards),
        )
    finally:
        await application.stop()
        await application.shutdown()
        await database.dispose()


Recording = dict[int, list[dict[str, Any]]]  # chat id -> the updates it sent, in order


async def survey_run(
    backend: Backend, surveys: int, concurrency: int, first_chat: int
) -> tuple[Run, Recording]:
    """The full stack, respondents from chat `first_chat` on: the run and what they sent.

    Chat `first_chat` warms caches and connections; the others are timed.
    """
    payload = counter_payload(SECRET, POINT)
    recording: Recording = {}
    async with full_stack(backend) as (api, channel):

        async def sink(data: dict[str, Any]) -> None:
            chat = data.get("message") or data["callback_query"]["message"]
            recording.setdefault(chat["chat"]["id"], []).append(data)
            await channel.process_webhook_update(data)

        await take_survey(first_chat, payload, api, sink)
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        updates = await in_waves(
            surveys,
            concurrency,
            lambda index: take_survey(first_chat + 1 + index, payload, api, sink),
        )
        run = Run(updates, time.perf_counter() - wall, time.process_time() - cpu)
    return run, recording


async def stored(backend: Backend) -> tuple[int, int]:
    """Completed responses and answers in the database."""
    database = Database(backend.url, schema=backend.schema)
    async with database.reading() as tx:
        completed = (await tx.execute(select(func.count()).select_from(Response))).scalar_one()
        answers = (await tx.execute(select(func.count()).select_from(Answer))).scalar_one()
    await database.dispose()
    return int(completed), int(answers)


async def floor_run(backend: Backend, recording: Recording, concurrency: int) -> Run:
    """The same updates, in the same order per chat, dispatched by python-telegram-bot to a
    trivial handler: one INSERT and commit per update."""
    database = Database(backend.url, schema=backend.schema)
    api = RecordingBotApi()
    application = build_application(TOKEN, polling=False, request=api, rate_limiter=unthrottled())
    insert = text(
        "INSERT INTO processed_events (channel, event_id, processed_at) VALUES ('floor', :id, :at)"
    )

    async def trivial(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The kind of transaction the survey engine runs each event in.
        async with database.short_transaction() as tx:
            await tx.execute(insert, {"id": str(update.update_id), "at": datetime.now(UTC)})

    application.add_handler(TypeHandler(Update, trivial))
    await application.initialize()
    await application.start()
    warm_chat, *chats = recording  # the survey run's warm-up chat warms the floor too

    async def one_chat(chat_id: int) -> int:
        for data in recording[chat_id]:
            update = Update.de_json(data, application.bot)
            await application.update_processor.process_update(
                update, application.process_update(update)
            )
        return len(recording[chat_id])

    await one_chat(warm_chat)
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    done = await in_waves(len(chats), concurrency, lambda index: one_chat(chats[index]))
    run = Run(done, time.perf_counter() - wall, time.process_time() - cpu)
    await application.stop()
    await application.shutdown()
    await database.dispose()
    return run


async def calls_per_update(
    backend: Backend, surveys: int, concurrency: int, first_chat: int
) -> dict[str, float]:
    """Python function calls per update of a survey run and of its floor, under cProfile."""
    survey_profile, floor_profile = cProfile.Profile(), cProfile.Profile()
    survey_profile.enable()
    survey, recording = await survey_run(backend, surveys, concurrency, first_chat)
    survey_profile.disable()
    floor_profile.enable()
    floor = await floor_run(backend, recording, concurrency)
    floor_profile.disable()
    survey_calls = pstats.Stats(survey_profile).total_calls / survey.updates  # type: ignore[attr-defined]
    floor_calls = pstats.Stats(floor_profile).total_calls / floor.updates  # type: ignore[attr-defined]
    return {
        "python_calls_per_update": round(survey_calls),
        "floor_python_calls_per_update": round(floor_calls),
        "python_calls_ratio": round(survey_calls / floor_calls, 2),
    }


def unthrottled() -> RetryingRateLimiter:
    """The service's flood limiter with its limit out of reach: Telegram's 30 messages/s
    bound wall time, not CPU; every message still takes its turn."""
    return RetryingRateLimiter(flood=LocalFloodLimit(1_000_000))


def rss_bytes() -> int:
    """The resident set size of this process now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def open_sessions_memory(backend: Backend, sessions: int) -> int:
    """Bytes of RSS that `sessions` respondents add by starting and consenting (left open)."""
    payload = counter_payload(SECRET, POINT)
    async with full_stack(backend) as (api, channel):
        sink = channel.process_webhook_update

        async def open_one(index: int) -> int:
            chat_id = 500_000 + index
            await sink(text_update(chat_id, f"/start {payload}"))
            consent = api.keyboard(chat_id)
            assert consent is not None
            await sink(tap_update(chat_id, "consent:yes", consent))
            del api.newest[chat_id]  # the benchmark's own bookkeeping is not the service's memory
            return 2

        await in_waves(200, 20, open_one)  # warm: pools, caches, compiled statements
        gc.collect()
        before = rss_bytes()
        await in_waves(sessions, 50, lambda index: open_one(1_000 + index))
        gc.collect()
        return rss_bytes() - before


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--surveys", type=int, default=200, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--open-sessions", type=int, default=10_000)
    parser.add_argument("--count-calls", action="store_true", help="one more round, profiled")
    arguments = parser.parse_args()
    load = os.getloadavg()[0]
    rounds: list[tuple[Run, Run]] = []
    with tempfile.TemporaryDirectory() as directory:
        backend = await fresh_backend(arguments.backend, Path(directory))
        try:
            for number in range(arguments.rounds):
                first_chat = 10_000 + number * (arguments.surveys + 1)
                survey, recording = await survey_run(
                    backend, arguments.surveys, arguments.concurrency, first_chat
                )
                floor = await floor_run(backend, recording, arguments.concurrency)
                rounds.append((survey, floor))
                print(
                    f"round {number + 1}/{arguments.rounds}: {survey.per_second:.0f} updates/s, "
                    f"floor {floor.per_second:.0f}/s",
                    file=sys.stderr,
                )
            calls = (
                await calls_per_update(
                    backend,
                    arguments.surveys,
                    arguments.concurrency,
                    10_000 + arguments.rounds * (arguments.surveys + 1),
                )
                if arguments.count_calls
                else {}
            )
            completed, answers = await stored(backend)
            memory = (
                await open_sessions_memory(backend, arguments.open_sessions)
                if arguments.open_sessions
                else 0
            )
        finally:
            for step in backend.cleanup:
                await step()
    # Each figure is the median over the rounds; each round times the survey and its floor
    # back to back, so the ratio holds even when the machine's speed drifts between rounds.
    surveys = [survey for survey, _floor in rounds]
    floors = [floor for _survey, floor in rounds]
    # With each round's warm-up survey.
    expected = (arguments.rounds + arguments.count_calls) * (arguments.surveys + 1)
    result = {
        "backend": arguments.backend,
        "load_average_1m": round(load, 2),
        "rounds": arguments.rounds,
        "surveys_completed": completed,
        "answers_stored": answers,
        "updates_per_round": surveys[0].updates,
        "updates_per_second": round(median(run.per_second for run in surveys)),
        "cpu_ms_per_survey": round(
            median(run.cpu for run in surveys) / arguments.surveys * 1000, 1
        ),
        "cpu_ms_per_update": round(median(run.cpu / run.updates for run in surveys) * 1000, 2),
        "floor_updates_per_second": round(median(run.per_second for run in floors)),
        "floor_cpu_ms_per_update": round(median(run.cpu / run.updates for run in floors) * 1000, 2),
        "ratio_to_floor": round(
            median(floor.per_second / survey.per_second for survey, floor in rounds), 2
        ),
        "open_sessions": arguments.open_sessions,
        "open_sessions_added_mb": round(memory / 2**20, 1),
        **calls,
    }
    print(json.dumps(result, indent=2))
    if completed != expected:
        sys.exit(f"only {completed} of {expected} surveys completed")


if __name__ == "__main__":
    # The event loop `sipas serve` uses: uvloop when installed.
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
