"""`sipas aggregate`: recount the days that changed (or chosen days) into the daily counts."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click

from analytics.aggregate import AggregationError, LeaseBusy, aggregate, days_between
from analytics.days import Period, chosen_period
from analytics.layout import ItemLayout, bundled_layout
from analytics.method import Method, load_method
from bot.assembly import quality_rules
from bot.runtime import open_database, settings_or_exit
from storage.counts import DayCount

DAY = click.DateTime(["%Y-%m-%d"])


WINDOW_HELP = "window: first day (YYYY-MM-DD), with --to, instead of --period"


Command = TypeVar("Command", bound=Callable[..., Any])


def window_options(command: Command) -> Command:
    """`--from` and `--to`, an evaluation window instead of a calendar period."""
    command = click.option("--to", "last_day", type=DAY, help="window: last day, with --from")(
        command
    )
    return click.option("--from", "first_day", type=DAY, help=WINDOW_HELP)(command)


def period_or_window(
    text: str | None, first: datetime | None, last: datetime | None
) -> Period | None:
    """The period of `--period`, or the window of `--from`/`--to`; a usage error saying what is
    wrong otherwise; None when none was given."""
    try:
        return chosen_period(text, first.date() if first else None, last.date() if last else None)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period / --from / --to") from None


def method_and_layout(method_name: str) -> tuple[Method, ItemLayout]:
    """The method and its questionnaire's layout, or a clean exit saying what is wrong."""
    method = load_method(method_name)  # a MethodError says what is wrong (bot.cli reports it)
    try:
        layout = bundled_layout(method.questionnaire)
    except (KeyError, ValueError, ImportError) as error:
        raise click.ClickException(
            f"method {method.id} needs questionnaire {method.questionnaire!r}, which is not "
            f"available: {error}"
        ) from None
    return method, layout


@click.command("aggregate")
@click.option("--date", "day", type=DAY, help="Recount one reporting day (YYYY-MM-DD).")
@click.option("--from", "first", type=DAY, help="First day of a range to recount.")
@click.option("--to", "last", type=DAY, help="Last day of a range to recount (default: --from).")
@click.option("--full", is_flag=True, help="Recount every day (after a change of quality rules).")
@click.option(
    "--method",
    "method_name",
    help="Method id or .yaml path (default: SIPAS_METHOD); it names the questionnaire counted.",
)
@click.option(
    "--speeding-seconds",
    type=click.FloatRange(min=0),
    help="Flag a response as speeding when its median time per item is under this "
    "(default: SIPAS_SPEEDING_SECONDS, 2).",
)
def aggregate_command(
    day: datetime | None,
    first: datetime | None,
    last: datetime | None,
    full: bool,
    method_name: str | None,
    speeding_seconds: float | None,
) -> None:
    """Recount daily answer counts and response-quality flags.

    With no option, recounts the days marked changed since the last run (new, late,
    imported or withdrawn responses). Safe to repeat: a day is always recounted whole.
    Only one aggregation runs at a time, across all processes.

    \b
    Examples:
      sipas aggregate                      # the changed days
      sipas aggregate --date 2026-11-28
      sipas aggregate --from 2026-11-01 --to 2026-11-30
      sipas aggregate --full
    """
    chosen = sum(option is not None for option in (day, first)) + int(full)
    if chosen > 1:
        raise click.UsageError("give one of --date, --from/--to or --full")
    if last is not None and first is None:
        raise click.UsageError("--to needs --from")
    days: list[date] | None = None
    if day is not None:
        days = [day.date()]
    elif first is not None:
        try:
            days = days_between(first.date(), (last or first).date())
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    settings = settings_or_exit()
    _method, layout = method_and_layout(method_name or settings.method)
    rules = quality_rules(settings, speeding_seconds=speeding_seconds)
    bar: dict[str, Any] = {}

    def progress(total: int, counted: DayCount | None) -> None:
        if counted is None:
            bar["bar"] = click.progressbar(length=total, label="counting days", file=sys.stderr)
            bar["bar"].__enter__()
            return
        bar["bar"].update(1)

    async def run() -> None:
        async with open_database(settings) as database:
            try:
                result = await aggregate(
                    database,
                    layout,
                    days=days,
                    full=full,
                    rules=rules,
                    progress=progress,
                )
            except LeaseBusy as error:
                raise click.ClickException(str(error)) from None
            except AggregationError as error:
                raise click.ClickException(
                    f"{error}\nDays counted before the failure are complete; fix the cause "
                    "and run it again."
                ) from None
            finally:
                if "bar" in bar:
                    bar["bar"].__exit__(None, None, None)
        span = f" ({result.days[0].day} … {result.days[-1].day})" if result.days else ""
        click.echo(
            f"run {result.run_id} ({result.mode}): {len(result.days)} day(s){span}, "
            f"{result.responses} response(s), {result.flagged} flagged"
        )

    asyncio.run(run())
