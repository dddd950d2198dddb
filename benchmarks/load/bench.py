"""Load harness: N simulated respondents take the whole survey at once through the webhook path.

Not a test. Starts the fake Bot API (tests/fakes/telegram_server.py) in this process,
then `python -m bot serve --workers W` in webhook mode on a fresh database, and has
N respondents (default 500) take the survey concurrently: every update is POSTed to
the webhook as Telegram would (a non-200 answer or a dropped connection is delivered
again, like Telegram's retries), every respondent taps as soon as the bot has
answered. Reports completed surveys, updates/s, p50/p95/p99 webhook latency, peak RSS
of the server processes, and lost or duplicated answers counted from the database
against what each respondent answered (both must be 0).

    python benchmarks/load/bench.py                                   # SQLite, 1 worker, 500
    python benchmarks/load/bench.py --respondents 200
    python benchmarks/load/bench.py --backend postgres --workers 2    # SIPAS_TEST_POSTGRES_URL's server

Telegram's flood limits (30 messages/s for the bot) are raised out of reach in the
server (benchmarks/load/unthrottled/), since the fake has no limit and the point is the
service's capacity: every message still takes its turn (with several workers, from the
bucket in the database), and none waits. `--telegram-flood-cap` keeps the real limits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import h11

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the fake Bot API lives with the tests

from sqlalchemy import select  # noqa: E402

from channels.telegram_http import KeptConnection, take_usable  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.invitations import counter_payload  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Answer, Response  # noqa: E402
from storage.privacy import respondent_key  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram, FakeUser, SentMessage  # noqa: E402
from tests.survey_driver import add_counters  # noqa: E402

POSTGRES_URL = os.environ.get(
    "SIPAS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET = "load-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
WEBHOOK_SECRET = "load-webhook-secret_0123456789"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_CONNECTIONS = 40  # Telegram's default for a webhook's simultaneous connections
POINT = "HN-00004-01"
COMMENT = "Cán bộ tận tình, hướng dẫn rõ ràng."
REDELIVERY_PAUSE_SECONDS = 0.5
TRY_AGAIN = "Please try again"  # the bot's apology when its database fails mid-update
MAX_DELIVERIES = 120
# SIPAS_BENCH_PROFILE=FILE: the server runs under cProfile (one worker), its stats go to FILE.
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["SIPAS_BENCH_PROFILE"]]
    if os.environ.get("SIPAS_BENCH_PROFILE")
    else []
)  # Telegram keeps trying for hours; a minute of pauses is plenty here


# --- the database ------------------------------------------------------------------------------


async def fresh_database(
    backend: str, directory: Path
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A migrated database with one counter, and how to drop it afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / 'load.db'}"

        async def nothing() -> None:
            return None

        drop = nothing
    else:
        name = f"sipas_load_{secrets.token_hex(4)}"
        admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        connection = await asyncpg.connect(admin)
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

        async def drop_database() -> None:
            connection = await asyncpg.connect(admin)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()

        drop = drop_database
    await upgrade(url)
    database = Database(url)
    await add_counters(database)  # the counters the tests use: Phường Ba Đình, HN-00004-01/02
    await database.dispose()
    return url, drop


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def pids(self) -> list[int]:
        """The server process and its workers."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return pids

    def worker_pids(self) -> list[int]:
        """The worker processes (not the parent, not multiprocessing's resource tracker)."""
        return [pid for pid in self.pids()[1:] if b"spawn_main" in _cmdline(pid)]

    def peak_rss_mb(self) -> float:
        """Sum of the peak resident sets (VmHWM) of the server's processes."""
        total = 0
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status")
            if not status.exists():
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        return total / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def start_server(
    telegram: FakeTelegram,
    url: str,
    workers: int,
    directory: Path,
    *,
    flood_cap: bool,
    port: int | None = None,
) -> Server:
    """`sipas serve --workers N` in webhook mode; returns once every worker has connected."""
    port = port or free_port()
    environment = {
        **os.environ,
        "SIPAS_DATABASE_URL": url,
        "SIPAS_SECRET_KEY": SECRET,
        "SIPAS_TELEGRAM_TOKEN": telegram.token,
        "SIPAS_TELEGRAM_API_URL": telegram.base_url,
        "SIPAS_TELEGRAM_BOT_USERNAME": telegram.bot_username,
        "SIPAS_PUBLIC_URL": "https://survey.example.test",
        "SIPAS_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIPAS_HTTP_PORT": str(port),
        "SIPAS_LOG_LEVEL": "INFO",  # `until_logged` reads the start-up lines
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent / "unthrottled"), str(ROOT)]),
        "SIPAS_BENCH_UNTHROTTLED": "0" if flood_cap else "1",
    }
    log = directory / f"server-{port}-{time.monotonic_ns()}.log"
    connected = len(telegram.api_calls("getMe"))
    process = subprocess.Popen(
        [sys.executable, *PROFILE, "-m", "bot", "serve", "--workers", str(workers)],
        env=environment,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    server = Server(process, port, log)
    telegram.wait_for_sync(
        lambda: (
            len(telegram.api_calls("getMe")) >= connected + workers or process.poll() is not None
        ),
        within=120,
        what="the workers to connect",
    )
    if process.poll() is not None:
        raise SystemExit(f"the server did not start:\n{log.read_text()[-2000:]}")
    return server


# What the server logs when the nightly job's start-up catch-up run is over, either way.
START_UP_DONE = ("nightly exports:", "nightly aggregation failed")


async def until_logged(server: Server, lines: tuple[str, ...], *, within: float) -> None:
    """Wait until the server's log has a line containing one of `lines`."""
    deadline = time.monotonic() + within
    while not any(line in server.log.read_text(errors="replace") for line in lines):
        if server.process.poll() is not None:
            raise SystemExit(f"the server stopped:\n{server.log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the server never logged any of {lines}")
        await asyncio.sleep(0.1)


# --- respondents -------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the respondents saw."""

    latencies: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)  # perf_counter, one per latency
    updates: int = 0
    redeliveries: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    first_failure: float | None = None
    last_failure: float | None = None

    def failed(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1
        now = time.monotonic()
        self.first_failure = self.first_failure or now
        self.last_failure = now


class Webhook:
    """Telegram's side of the webhook: POSTs of updates over at most `connections` kept-alive
    HTTP/1.1 connections at once (setWebhook's max_connections), the others waiting their turn.

    Lean on purpose (h11 over asyncio streams, the service's own `KeptConnection`): through
    httpx, delivering cost the harness about half of its CPU, and on two cores whatever the
    harness spends the server under test does not get.
    """

    def __init__(self, url: str, connections: int = WEBHOOK_CONNECTIONS) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._target, self._netloc = parts.path or "/", parts.netloc
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[KeptConnection] = []

    async def post(self, update: dict[str, Any]) -> tuple[int, bytes]:
        """POST one update; the answer's status and body. OSError, h11.ProtocolError or
        TimeoutError when the connection failed."""
        body = json.dumps(update).encode()
        request = h11.Request(
            method="POST",
            target=self._target,
            headers=[
                ("Host", self._netloc),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                (SECRET_HEADER, WEBHOOK_SECRET),
            ],
        )
        async with self._slots:
            connection = take_usable(self._idle)
            if connection is None:
                connection = KeptConnection(*await asyncio.open_connection(self._host, self._port))
            try:
                answer = await connection.exchange(request, body, 60, 60)
            except BaseException:
                connection.close()
                raise
            if connection.kept():
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


async def deliver(webhook: Webhook, person: FakeUser, update: dict[str, Any], tally: Tally) -> None:
    """POST one of `person`'s updates like Telegram: again, after a pause, until it is answered
    200; then carry out the answer's method, if any (a tap's answer)."""
    for attempt in range(MAX_DELIVERIES):
        if attempt:
            tally.redeliveries += 1
            await asyncio.sleep(REDELIVERY_PAUSE_SECONDS)
        started = time.perf_counter()
        try:
            status, content = await webhook.post(update)
        except (OSError, h11.ProtocolError, TimeoutError) as error:
            tally.failed(type(error).__name__)
            continue
        if status == 200:
            answered = time.perf_counter()
            tally.latencies.append(answered - started)
            tally.answered_at.append(answered)
            tally.updates += 1
            person.server.carry_out(status, content)
            return
        tally.failed(f"HTTP {status}")
    raise RuntimeError("an update was never accepted")


def choose(message: SentMessage) -> tuple[str | None, str]:
    """(item, callback data) our respondent taps: consent, 4 on every scale, 'no' at gates and
    to being written to when the result is returned."""
    datas = [data for row in message.buttons for _, data in row]
    if "consent:yes" in datas:
        return None, "consent:yes"
    if "resume:go" in datas:
        return None, "resume:go"
    if "result:no" in datas:
        return None, "result:no"
    item = next((data.split(":")[1] for data in datas if data.startswith(("a:", "s:"))), None)
    if item is not None and item.isdigit():
        return item, f"a:{item}:4"
    if f"a:{item}:no" in datas:
        return item, f"a:{item}:no"
    data = next(data for data in datas if data.startswith("a:"))
    return item, data


async def take_survey(
    webhook: Webhook, person: FakeUser, tally: Tally, think: float
) -> dict[str, str]:
    """From /start to the thanks; the answers the respondent gave (item -> value).

    With `think`, people arrive spread over the first `think` seconds and take 0.5 to
    1.5 times `think` over each question, as people do; without it, all at once, flat out.
    """
    answers: dict[str, str] = {}
    pace = random.Random(person.id)
    if think:
        await asyncio.sleep(pace.uniform(0, think))
    await deliver(webhook, person, person.send(f"/start {counter_payload(SECRET, POINT)}"), tally)
    for _ in range(200):
        message = person.last_message()
        if message is not None and TRY_AGAIN in message.text:
            # The bot could not reach its database and said so: like a person, wait a
            # little and scan the counter's code again, which offers to continue.
            tally.failed("try again")
            await asyncio.sleep(REDELIVERY_PAUSE_SECONDS)
            await deliver(
                webhook, person, person.send(f"/start {counter_payload(SECRET, POINT)}"), tally
            )
            continue
        if message is None or not message.buttons:
            return answers
        if think:
            await asyncio.sleep(think * pace.uniform(0.5, 1.5))
        if "s:y_kien_khac" in (data for row in message.buttons for _, data in row):
            answers["y_kien_khac"] = COMMENT  # the open comment is typed
            await deliver(webhook, person, person.send(COMMENT), tally)
            continue
        item, data = choose(message)
        if item is not None:
            answers[item] = data.split(":", 2)[2]
        await deliver(webhook, person, person.tap(data), tally)
    raise RuntimeError("a survey did not end")


def p99_by_tenth(tally: Tally) -> list[float]:
    """The p99 of the updates answered in each tenth of the run, in ms: where the tail is (the
    arrivals come in the first `think` seconds)."""
    first, last = min(tally.answered_at), max(tally.answered_at)
    span = (last - first) or 1.0
    tenths: list[list[float]] = [[] for _ in range(10)]
    for answered, latency in zip(tally.answered_at, tally.latencies, strict=True):
        tenths[min(9, int((answered - first) / span * 10))].append(latency)
    return [
        round(statistics.quantiles(part, n=100)[98] * 1000, 1) if len(part) > 1 else 0.0
        for part in tenths
    ]


async def count_answers(url: str, expected: dict[int, dict[str, str]]) -> tuple[int, int, int]:
    """(completed, lost, duplicated): answers missing or different, and extra ones or responses."""
    database = Database(url)
    try:
        async with database.reading() as tx:
            responses = (
                await tx.execute(select(Response.session_id, Response.respondent_key))
            ).all()
            stored: dict[int, dict[str, str | None]] = {}
            for session_id, code, value in await tx.execute(
                select(Answer.session_id, Answer.item_code, Answer.value)
            ):
                stored.setdefault(session_id, {})[code] = value
    finally:
        await database.dispose()
    by_key: dict[str, list[int]] = {}
    for session_id, key in responses:
        by_key.setdefault(key, []).append(session_id)
    lost = duplicated = 0
    for chat_id, answers in expected.items():
        sessions = by_key.get(respondent_key(SECRET, "telegram", str(chat_id)), [])
        if not sessions:
            lost += len(answers)
            continue
        duplicated += sum(len(stored.get(extra, {})) for extra in sessions[1:])
        got = stored.get(sessions[0], {})
        lost += sum(1 for item, value in answers.items() if got.get(item) != value)
        duplicated += sum(1 for item in got if item not in answers)
    return len(responses), lost, duplicated


# --- a run -------------------------------------------------------------------------------------


@dataclass
class Setting:
    """What a disturbance may need to act on the run."""

    server: Server
    tally: Tally
    telegram: FakeTelegram
    url: str
    workers: int
    directory: Path
    flood_cap: bool
    logs: list[Path] = field(default_factory=list)

    def restart(self) -> None:
        """A new server process on the same port (after the old one died)."""
        self.logs.append(self.server.log)
        self.server = start_server(
            self.telegram,
            self.url,
            self.workers,
            self.directory,
            flood_cap=self.flood_cap,
            port=self.server.port,
        )


Disturbance = Callable[[Setting], Awaitable[dict[str, Any]]]


async def run_load(
    *,
    respondents: int,
    backend: str,
    workers: int,
    think: float = 0.0,
    flood_cap: bool = False,
    disturbance: Disturbance | None = None,
    settle: bool = True,
) -> dict[str, Any]:
    """One load run; `disturbance` runs beside the respondents (the fault benchmarks).

    With `settle`, respondents come once the server has finished its start-up work: on a
    fresh database that is the nightly job's catch-up run (aggregation and the pipeline
    files), a second or more of CPU that would otherwise fall on the first respondents.
    """
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name, FakeTelegram() as telegram:
        directory = Path(name)
        url, drop = await fresh_database(backend, directory)
        server = start_server(telegram, url, workers, directory, flood_cap=flood_cap)
        tally = Tally()
        try:
            if settle:
                await until_logged(server, START_UP_DONE, within=120)
            people = [telegram.user() for _ in range(respondents)]
            # As Telegram delivers: at most setWebhook's max_connections (40 unless set) at
            # once, the other updates waiting their turn (their wait counts in the latency).
            # One connection per respondent made httpx's pool, which looks at every connection
            # at each request, cost the harness more CPU per update than the server.
            webhook = Webhook(server.webhook)
            try:
                started = time.perf_counter()
                cpu_before = server.cpu_seconds()
                harness_before = time.process_time()
                surveys = [take_survey(webhook, person, tally, think) for person in people]
                setting = Setting(server, tally, telegram, url, workers, directory, flood_cap)
                side = asyncio.create_task(disturbance(setting)) if disturbance else None
                given = await asyncio.gather(*surveys)
                elapsed = time.perf_counter() - started
                server = setting.server
                server_cpu = server.cpu_seconds() - cpu_before
                harness_cpu = time.process_time() - harness_before
                observed: dict[str, Any] = {}
                if side is not None:
                    if side.done():
                        observed = side.result()
                    else:
                        side.cancel()
                        await asyncio.gather(side, return_exceptions=True)
            finally:
                webhook.close()
            peak = server.peak_rss_mb()
        finally:
            server.stop()
        problems = [
            line
            for log in [*setting.logs, server.log]
            for line in log.read_text(errors="replace").splitlines()
            if " WARNING " in line or " ERROR " in line
        ]
        expected = {person.id: answers for person, answers in zip(people, given, strict=True)}
        completed, lost, duplicated = await count_answers(url, expected)
        await drop()
    quantiles = statistics.quantiles(tally.latencies, n=100)
    return {
        "backend": backend,
        "workers": workers,
        "respondents": respondents,
        "load_average_1m": round(load, 2),
        "completed_surveys": completed,
        "updates": tally.updates,
        "seconds": round(elapsed, 1),
        "updates_per_second": round(tally.updates / elapsed),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p95_ms": round(quantiles[94] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "max_ms": round(max(tally.latencies) * 1000, 1),
        "p99_ms_by_tenth_of_the_run": p99_by_tenth(tally),
        "peak_rss_mb": round(peak, 1),
        "server_cpu_ms_per_update": round(server_cpu / tally.updates * 1000, 2),
        "harness_cpu_ms_per_update": round(harness_cpu / tally.updates * 1000, 2),
        "lost_answers": lost,
        "duplicated_answers": duplicated,
        "redeliveries": tally.redeliveries,
        "failures": tally.failures,
        "server_warnings": len(problems),
        "first_server_warnings": sorted({line.split(" ", 3)[-1][:160] for line in problems})[:5],
        **observed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between taps")
    parser.add_argument("--telegram-flood-cap", action="store_true")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="start the respondents at once, during the server's start-up catch-up run",
    )
    arguments = parser.parse_args()
    result = asyncio.run(
        run_load(
            respondents=arguments.respondents,
            backend=arguments.backend,
            workers=arguments.workers,
            think=arguments.think,
            flood_cap=arguments.telegram_flood_cap,
            settle=not arguments.no_settle,
        )
    )
    print(json.dumps(result, indent=2))
    if result["lost_answers"] or result["duplicated_answers"]:
        sys.exit("answers were lost or duplicated")
    if result["completed_surveys"] != arguments.respondents:
        sys.exit("not every survey completed")


if __name__ == "__main__":
    main()
