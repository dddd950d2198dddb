"""The night's work of `sipas serve`, in a child process: the aggregation, then the pipeline files.

The aggregation and the files are pandas and SQL work of seconds to tens of seconds at
scale (see *Benchmarks*, the night). In the serving process its Python and pandas parts
held the interpreter's lock against the event loop, so webhooks waited behind it (worker
threads did not help). A spawned child has an interpreter of its own.

The serving process takes the aggregation lease before it starts the child, and hands it
over (the child renews and releases it under the same holder name): with several workers,
only the one that won the lease pays for a child's start.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

from analytics.aggregate import AGGREGATION_LEASE, LEASE_TTL, run_nightly
from analytics.days import reporting_day
from analytics.layout import bundled_layout
from analytics.publish import publish_nightly
from bot.assembly import method_for, quality_rules
from bot.runtime import configure_logging, open_database
from bot.settings import Settings
from storage.db import Database
from storage.leases import acquire_lease, default_holder, release_lease

__all__ = ["ChildFailed", "in_child_process", "night", "night_in_child", "run_night"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0  # after SIGTERM, before SIGKILL


class ChildFailed(RuntimeError):
    """The child process exited with an error (its own log says which)."""


async def night_in_child(database: Database, settings: Settings) -> None:
    """The night, in a child process, under the aggregation lease taken here first; nothing
    (a log line) when another process holds it."""
    holder = default_holder()
    if not await acquire_lease(database, AGGREGATION_LEASE, holder, LEASE_TTL):
        log.info("nightly aggregation skipped: another process holds the lease")
        return
    try:
        await in_child_process(night, settings, holder, name="sipas-nightly")
    finally:
        # The child releases it when it ends well; this covers a child that could not.
        await release_lease(database, AGGREGATION_LEASE, holder)


async def run_night(settings: Settings, holder: str, now: datetime | None = None) -> None:
    """Aggregate the changed days under the lease `holder` names, then write the
    scoring-pipeline files of yesterday's (before `now`) month, quarter and year to
    SIPAS_EXPORT_DIR; nothing if another holder has the lease."""
    method = method_for(settings)
    layout = bundled_layout(method.questionnaire)
    async with open_database(settings) as database:
        result = await run_nightly(
            database,
            method=settings.method,
            rules=quality_rules(settings),
            layout=layout,
            holder=holder,
        )
        if result is None:
            return
        yesterday = reporting_day(now or datetime.now(UTC), settings.zone) - timedelta(days=1)
        published = await publish_nightly(
            database,
            settings.export_dir,
            day=yesterday,
            layout=layout,
            method=method,
            min_cell_size=settings.min_cell_size,
        )
    log.info("nightly exports: %d files in %s", len(published), settings.export_dir)


def night(settings: Settings, holder: str) -> None:
    """Entry point of the child process; it exits with 1 if stopped before its end."""
    # Ctrl-C reaches the whole process group; the parent stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level)
    if not asyncio.run(_until_terminated(run_night(settings, holder))):
        sys.exit(1)


async def _until_terminated(work: Coroutine[Any, Any, None]) -> bool:
    """Run `work`; whether it ran to its end. SIGTERM (the parent stopping it, or systemd
    stopping the service) cancels it, so that its transactions roll back, its run is recorded
    as stopped and its lease released on the way out."""
    task = asyncio.current_task()
    assert task is not None, "run by asyncio.run"
    loop = asyncio.get_running_loop()

    def stop() -> None:
        # Once: a second SIGTERM (systemd signals every process, then the parent does) must
        # not cancel the clean-up the first one started.
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        await work
    except asyncio.CancelledError:
        log.warning("nightly run stopped before its end; the next start of the service catches up")
        return False
    return True


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def in_child_process(target: Callable[..., None], *args: object, name: str) -> None:
    """Run `target(*args)` in a spawned process (nothing inherited: no event loop, no
    connection) and wait for it without blocking the event loop.

    ChildFailed if it exits with an error; cancelled, it stops the child first (SIGTERM,
    then SIGKILL after STOP_GRACE_SECONDS) and reaps it.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=args, name=name, daemon=True
    )
    process.start()
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    # The sentinel becomes readable when the process ends: no polling, no thread.
    sentinel = process.sentinel
    loop.add_reader(sentinel, _settle, ended)
    try:
        await ended
    except asyncio.CancelledError:
        loop.remove_reader(sentinel)
        process.terminate()
        # Shielded: a second cancellation (an impatient shutdown) must not leave it running.
        await asyncio.shield(asyncio.to_thread(_stop, process))
        raise
    loop.remove_reader(sentinel)
    process.join()
    exitcode = process.exitcode
    process.close()
    if exitcode != 0:
        raise ChildFailed(f"{name} exited with code {exitcode}")


def _stop(process: BaseProcess) -> None:
    """Wait for a terminated child; kill it if it takes too long; reap it either way."""
    process.join(STOP_GRACE_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()
    process.close()
