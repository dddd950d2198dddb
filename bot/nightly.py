"""The night's work of `sipas serve`, in a child process: the aggregation, then the pipeline files.

The aggregation and the files are pandas and SQL work of seconds to tens of seconds at
scale (see *Benchmarks*). In the serving process it held the interpreter's lock against
the event loop, so webhooks waited behind it (worker threads did not help), and it left
the process holding the run's peak memory afterwards. A spawned child has an interpreter
of its own, and gives its memory back when it exits.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from analytics.aggregate import run_nightly
from analytics.days import reporting_day
from analytics.layout import bundled_layout
from analytics.publish import publish_nightly
from bot.assembly import method_for, quality_rules
from bot.runtime import configure_logging, open_database
from bot.settings import Settings

__all__ = ["ChildFailed", "in_child_process", "night", "run_night"]

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0  # after SIGTERM, before SIGKILL


class ChildFailed(RuntimeError):
    """The child process exited with an error (its own log says which)."""


async def run_night(settings: Settings, now: datetime | None = None) -> None:
    """Aggregate the changed days, then write the scoring-pipeline files of yesterday's
    (before `now`) month, quarter and year to SIPAS_EXPORT_DIR; nothing if another process
    holds the lease."""
    method = method_for(settings)
    layout = bundled_layout(method.questionnaire)
    async with open_database(settings) as database:
        result = await run_nightly(
            database, method=settings.method, rules=quality_rules(settings), layout=layout
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


def night(settings: Settings) -> None:
    """Entry point of the child process."""
    # Ctrl-C reaches the whole process group; the parent stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level)
    asyncio.run(run_night(settings))


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def in_child_process(target: Callable[..., None], *args: object, name: str) -> None:
    """Run `target(*args)` in a spawned process (nothing inherited: no event loop, no
    connection) and wait for it without blocking the event loop.

    ChildFailed if it exits with an error; cancelled, it terminates the child first.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=args, name=name, daemon=True
    )
    process.start()
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    # The sentinel becomes readable when the process ends: no polling, no thread.
    loop.add_reader(process.sentinel, _settle, ended)
    try:
        await ended
    except asyncio.CancelledError:
        process.terminate()
        await asyncio.to_thread(process.join, STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
        raise
    finally:
        loop.remove_reader(process.sentinel)
    process.join()
    if process.exitcode != 0:
        raise ChildFailed(f"{name} exited with code {process.exitcode}")
