"""The aggregation job: which days to recount, the run record, the lease, and the nightly schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from time import monotonic
from zoneinfo import ZoneInfo

from analytics.layout import ItemLayout, bundled_layout
from analytics.method import DEFAULT_METHOD_ID, load_method
from storage.aggregation_runs import data_as_of, finish_run, start_run
from storage.counts import DayCount, DayCounter, QualityRules, counted_days, dirty_days
from storage.db import Database
from storage.leases import acquire_lease, default_holder, release_lease
from storage.response_facts import ScaleValues
from storage.retention import retained_from

AGGREGATION_LEASE = "aggregation"
log = logging.getLogger(__name__)

NIGHT_RETRY = timedelta(minutes=15)  # after a night that did not succeed, before trying again
LEASE_TTL = timedelta(
    minutes=30
)  # renewed as days are counted, so only a dead holder lets it lapse
LEASE_RENEWAL = timedelta(minutes=1)  # how long after its last renewal a day renews the lease
PARALLEL_DAYS = 2  # days counted at once: one per core of the machine it was sized on


class AggregationError(Exception):
    """A run that did not finish; the message says what failed and the run record keeps it."""


class LeaseBusy(AggregationError):
    """Another process is aggregating right now."""


@dataclass
class RunResult:
    """What one aggregation run did."""

    run_id: int
    mode: str
    days: list[DayCount] = field(default_factory=list)

    @property
    def responses(self) -> int:
        return sum(day.responses for day in self.days)

    @property
    def flagged(self) -> int:
        return sum(day.flagged for day in self.days)


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the end day {last} is before the start day {first}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


async def aggregate(
    database: Database,
    layout: ItemLayout,
    *,
    days: Sequence[date] | None = None,
    full: bool = False,
    rules: QualityRules | None = None,
    holder: str | None = None,
    progress: Callable[[int, DayCount | None], None] | None = None,
) -> RunResult:
    """Recount days: the dirty ones (default), the given `days`, or every day (`full`).

    Runs under the aggregation lease; raises LeaseBusy when another process holds it
    and AggregationError (after recording the failure) when the work fails.
    `progress(total, day)` is called once with day None when the day list is known,
    then after every day.
    """
    holder = holder or default_holder()
    if not await acquire_lease(database, AGGREGATION_LEASE, holder, LEASE_TTL):
        raise LeaseBusy("another aggregation is running (lease 'aggregation' is held); try later")
    try:
        return await _aggregate_leased(
            database, layout, days, full, rules or QualityRules(), holder, progress
        )
    finally:
        await release_lease(database, AGGREGATION_LEASE, holder)


async def _aggregate_leased(
    database: Database,
    layout: ItemLayout,
    days: Sequence[date] | None,
    full: bool,
    rules: QualityRules,
    holder: str,
    progress: Callable[[int, DayCount | None], None] | None,
) -> RunResult:
    mode = "full" if full else "days" if days is not None else "dirty"
    run_id = await start_run(
        database,
        mode=mode,
        holder=holder,
        questionnaire_id=layout.questionnaire_id,
        now=datetime.now(UTC),
    )
    result = RunResult(run_id, mode)
    try:
        async with database.reading() as session:
            if full:
                todo = await counted_days(session)
                changed = len(todo)
            elif days is not None:
                todo = sorted(set(days))
                changed = len(todo)
            else:
                marked = await dirty_days(session)
                # A repeat is judged over the 24 h before a response, which can reach back
                # into the previous day: a change on day D may change flags on D + 1. Those
                # days are counted for their repeats alone (at night, tomorrow: empty), so
                # the work is in the marked ones.
                todo = sorted(set(marked) | {day + timedelta(days=1) for day in marked})
                changed = len(marked)
            # The responses of days before the retention cutoff are deleted: their counts are
            # all that remains of them, and a recount would empty them.
            kept_from = await retained_from(session)
            if kept_from is not None:
                todo = [day for day in todo if day >= kept_from]
        if progress:
            progress(len(todo), None)
        counter = DayCounter(
            layout.questionnaire_id,
            layout.counted_codes,
            _scale_values(layout.questionnaire_id),
            rules,
            sqlite=database.is_sqlite,
            profile_codes=layout.profile_codes,
            # Breakdowns report the overall and element indices: their bands need the scale
            # items' answers, not the priorities' (a fifth of a band's rows).
            band_item_codes=layout.item_codes,
        )
        waiting = iter(todo)
        renewed = monotonic()
        # A night's run is mostly yesterday and today (with a few responses or none), and the
        # days after them: counted a day per core, one core would idle while the other counts
        # yesterday. So a run that changed no more days than cores splits each day across the
        # cores (`DayCounter.count`).
        parts = PARALLEL_DAYS if changed <= PARALLEL_DAYS else 1

        async def count_days() -> None:
            for day in waiting:
                counted = await counter.count(database, day, parts=parts)
                result.days.append(counted)
                # Not after every day: a renewal is a write, and on SQLite it queued behind
                # the other day's copy, which kept the days in step, each copied in while the
                # other waited (a quarter of a full run at 1M, one day copying alone).
                nonlocal renewed
                if monotonic() - renewed >= LEASE_RENEWAL.total_seconds():
                    renewed = monotonic()
                    await acquire_lease(database, AGGREGATION_LEASE, holder, LEASE_TTL)
                if progress:
                    progress(len(todo), counted)

        # Days are counted independently (a day's repeat check reads responses, not flags),
        # so several at once, each on its own connection: on PostgreSQL each day (or part of
        # one) in its own transaction; on SQLite, which has one writer, each counted under read
        # transactions and only copied in under the write lock, one day at a time
        # (`DayCounter.count`).
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(PARALLEL_DAYS, len(todo))):
                    group.create_task(count_days())
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first day that failed says why
        result.days.sort(key=lambda counted: counted.day)
    except asyncio.CancelledError:
        # Stopped (the service shutting down): the record must not say "running" forever.
        await asyncio.shield(_finish(database, result, "failed", "stopped before its end"))
        raise
    except Exception as error:
        await _finish(database, result, "failed", f"{type(error).__name__}: {error}")
        raise AggregationError(
            f"aggregation run {run_id} failed after {len(result.days)} day(s): {error}"
        ) from error
    await _finish(database, result, "succeeded", None)
    return result


async def _finish(database: Database, result: RunResult, status: str, message: str | None) -> None:
    await finish_run(
        database,
        result.run_id,
        status=status,
        days=result.days,
        message=message,
        now=datetime.now(UTC),
    )


@cache
def _scale_values(questionnaire_id: str) -> ScaleValues:
    """What a bundled questionnaire's quality facts are judged on (as the engine records them)."""
    from questionnaires import load_bundled

    return load_bundled(questionnaire_id).scale_values()


# --- The nightly job ---------------------------------------------------------------------


async def run_nightly(
    database: Database,
    *,
    method: str = DEFAULT_METHOD_ID,
    rules: QualityRules | None = None,
    holder: str | None = None,
    layout: ItemLayout | None = None,
) -> RunResult | None:
    """One nightly run: recount the dirty days. None (and a log line) when another process runs it."""
    definition = load_method(method)
    layout = layout or bundled_layout(definition.questionnaire)
    try:
        result = await aggregate(database, layout, rules=rules, holder=holder)
    except LeaseBusy:
        log.info("nightly aggregation skipped: another process holds the lease")
        return None
    log.info(
        "nightly aggregation run %s: %d day(s), %d responses (%d flagged)",
        result.run_id,
        len(result.days),
        result.responses,
        result.flagged,
    )
    return result


def next_run_at(after: datetime, aggregate_at: time, zone: ZoneInfo) -> datetime:
    """The first instant strictly after `after` whose local time in `zone` is `aggregate_at`."""
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), aggregate_at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), aggregate_at, tzinfo=zone)
    return candidate.astimezone(UTC)


def previous_run_at(before: datetime, aggregate_at: time, zone: ZoneInfo) -> datetime:
    """The latest scheduled instant at or before `before`."""
    local = before.astimezone(zone)
    candidate = datetime.combine(local.date(), aggregate_at, tzinfo=zone)
    if candidate > local:
        candidate = datetime.combine(local.date() - timedelta(days=1), aggregate_at, tzinfo=zone)
    return candidate.astimezone(UTC)


async def nightly_loop(
    database: Database,
    *,
    aggregate_at: time,
    zone: ZoneInfo,
    night: Callable[[], Awaitable[object]],
    retry_after: timedelta = NIGHT_RETRY,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Do the night's work (`night`: `run_nightly`, then whatever follows it) every day at
    `aggregate_at` local time, for `sipas serve` to run as a task; cancel the task to stop.

    The night runs whenever the counts have not been brought up to date since the last
    scheduled time (on start after a missed night, say), and again every `retry_after` until
    that is done: after a night that failed here (even past its aggregation: the files), and
    after one that found another process running it (it may fail, or be a stopped process's
    lease waiting to expire). Dirty days accumulate until a run consumes them, so one late
    run covers every missed night. `clock` and `sleep` are the time it reads and waits by.
    """
    failed_for: datetime | None = None  # the scheduled time whose night failed here last
    while True:
        due = previous_run_at(clock(), aggregate_at, zone)
        if failed_for == due or not await _counted_since(database, due):
            failed_for = None if await _logged(night) else due
        done = failed_for is None and await _counted_since(database, due)
        wait = (next_run_at(clock(), aggregate_at, zone) - clock()).total_seconds()
        if not done:
            wait = min(wait, retry_after.total_seconds())
        await sleep(max(0.0, wait))


async def _counted_since(database: Database, moment: datetime) -> bool:
    """Whether a run that covered every changed day started at or after `moment`; False,
    logged, when the database cannot say (it is down: the retry will ask again)."""
    try:
        counted = await data_as_of(database)
    except Exception:
        log.warning(
            "cannot read the aggregation runs; the nightly job will try again", exc_info=True
        )
        return False
    return counted is not None and counted >= moment


async def _logged(night: Callable[[], Awaitable[object]]) -> bool:
    """Run the night; whether it went through (a failure is logged, not raised)."""
    try:
        await night()
    except Exception:
        # The scheduler must survive a bad night; the run record and this log say why.
        log.exception("nightly aggregation failed; it will be tried again")
        return False
    return True
