"""`sipas serve --workers N`: one listening socket, N worker processes, jobs run once under leases.

The parent binds the socket, then spawns N processes that each run `serve` on it
(the kernel spreads connections among them) and supervises them: a worker that
dies is started again, SIGTERM or SIGINT stops them all. Worker 0 registers the
Telegram webhook; every worker runs the background jobs, and each job takes a
database lease so that it runs in one process at a time. Several workers need
PostgreSQL (SQLite serialises every write in one file) and webhooks (Telegram
allows one long-poller per token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Protocol

import click

from bot.runtime import configure_logging, run_loop
from bot.settings import Settings
from storage.db import Database
from storage.leases import acquire_lease, default_holder, release_lease
from web.metrics import MULTIPROCESS_DIR_VARIABLE

__all__ = [
    "FATAL_EXIT_CODE",
    "Serve",
    "WorkersRefused",
    "bind_socket",
    "check_workers",
    "run_leased",
    "serve_workers",
]

log = logging.getLogger(__name__)

FATAL_EXIT_CODE = 3  # a worker refused to run (bad token, bad setting): restarting is pointless
STOP_GRACE_SECONDS = 20.0  # in-flight updates finish, then a worker is killed
RESTART_DELAY_SECONDS = 1.0
PARENT_CHECK_SECONDS = 1.0
SUPERVISE_STEP_SECONDS = 0.2


class WorkersRefused(click.ClickException):
    """This configuration cannot run several workers."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse, with what to do instead, a worker count the configuration cannot support."""
    if workers < 1:
        raise WorkersRefused("--workers must be 1 or more")
    if workers == 1:
        return
    if settings.embedded:
        raise WorkersRefused(
            f"--workers {workers} needs PostgreSQL: SQLite keeps everything in one file that "
            "one process writes at a time. Run one worker (the default), or set "
            "SIPAS_DATABASE_URL=postgresql+asyncpg://... and run `sipas db upgrade`."
        )
    if settings.telegram_token is not None and settings.public_url is None:
        raise WorkersRefused(
            f"--workers {workers} needs Telegram webhooks: Telegram allows one long-polling "
            "process per bot token. Set SIPAS_PUBLIC_URL and SIPAS_TELEGRAM_WEBHOOK_SECRET, "
            "or run one worker."
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({error.strerror}): is the port in use?"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# --- the parent ---------------------------------------------------------------------------------


class Serve(Protocol):
    """What each worker runs: `serve` (of `sipas serve`) on the shared socket, until `stop`."""

    def __call__(
        self,
        settings: Settings,
        *,
        sockets: list[socket.socket],
        register_webhook: bool,
        stop: asyncio.Event,
        workers: int,
    ) -> Coroutine[Any, Any, None]: ...


def serve_workers(settings: Settings, workers: int, serve: Serve) -> None:
    """Run `workers` worker processes, each running `serve` on one socket, until SIGTERM or
    SIGINT; then stop them all. `serve` is a module-level function: each process imports it."""
    check_workers(settings, workers)
    sock = bind_socket(settings.http_host, settings.http_port)
    # Each worker keeps its Prometheus figures in this directory; any one of them sums them.
    metrics_dir = tempfile.mkdtemp(prefix="sipas-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_dir
    context = multiprocessing.get_context("spawn")  # no inherited event loop or connections
    stopping = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping the workers", signal.Signals(number).name)
        stopping.set()

    previous = {
        number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)
    }

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker_main,
            args=(serve, settings, sock, index, workers, os.getpid()),
            name=f"sipas-worker-{index}",
        )
        process.start()
        return process

    processes = {index: start(index) for index in range(workers)}
    log.info(
        "web app on http://%s:%d with %d workers (pids %s)",
        settings.http_host,
        settings.http_port,
        workers,
        ", ".join(str(process.pid) for process in processes.values()),
    )
    fatal = False
    try:
        while not stopping.is_set():
            for index, process in list(processes.items()):
                if process.is_alive():
                    continue
                if process.exitcode == FATAL_EXIT_CODE:
                    log.error("worker %d refused to run; stopping", index)
                    fatal = True
                    stopping.set()
                    break
                log.warning(
                    "worker %d (pid %s) exited with %s; starting it again",
                    index,
                    process.pid,
                    process.exitcode,
                )
                time.sleep(RESTART_DELAY_SECONDS)
                processes[index] = start(index)
            stopping.wait(SUPERVISE_STEP_SECONDS)
    finally:
        _stop_all(list(processes.values()))
        for number, handler in previous.items():
            signal.signal(number, handler)
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
    log.info("stopped")
    if fatal:
        raise click.ClickException("a worker refused to run: see its message above")


def _stop_all(processes: list[BaseProcess]) -> None:
    """SIGTERM every worker (each finishes what is in flight), then kill the slow ones."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("worker %s did not stop in time: killed", process.pid)
            process.kill()
            process.join()


# --- a worker -----------------------------------------------------------------------------------


def _worker_main(
    serve: Serve, settings: Settings, sock: socket.socket, index: int, workers: int, parent: int
) -> None:
    """Entry point of a worker process: `serve` on the shared socket until told to stop."""
    configure_logging(settings.log_level)

    async def run() -> None:
        stop = asyncio.Event()
        watch = asyncio.create_task(_stop_when_orphaned(parent, stop))
        try:
            await serve(
                settings,
                sockets=[sock],
                register_webhook=index == 0,
                stop=stop,
                workers=workers,
            )
        finally:
            watch.cancel()

    try:
        run_loop(run())
    except click.ClickException as refusal:
        refusal.show()
        sys.exit(FATAL_EXIT_CODE)


async def _stop_when_orphaned(parent: int, stop: asyncio.Event) -> None:
    """Stop when the parent is gone (killed with -9, say): nobody would supervise this worker."""
    # No event announces a parent's death (short of Linux's prctl): look every second.
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    log.warning("the supervising process is gone; stopping")
    stop.set()


# --- jobs that run once across workers ----------------------------------------------------------


async def run_leased(
    database: Database,
    name: str,
    job: Callable[[], Awaitable[None]],
    *,
    interval: float,
    holder: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Every `interval` seconds, run `job` if this process holds (or can take) the lease `name`.

    The holder renews its lease each round, for twice the interval, so it keeps the job
    while it lives; when it dies, another process takes over within two intervals. A
    job's failure is logged and retried at the next round. Cancel to stop; the lease is
    then given back so that a restarted process need not wait for it to expire.
    """
    holder = holder or default_holder()
    ttl = timedelta(seconds=2 * interval)
    try:
        while True:
            try:
                if await acquire_lease(database, name, holder, ttl, now=clock()):
                    await job()
            except Exception:
                log.exception("job %r failed; retrying at the next round", name)
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(release_lease(database, name, holder))
