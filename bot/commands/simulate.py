"""`sipas simulate`: fill the database with synthetic respondents who take the survey through the real engine."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.assembly import build_engine
from bot.runtime import open_database, settings_or_exit
from handlers.simulation import SimulationReport, simulate
from storage.simulated import RemovalReport, remove_simulated

__all__ = ["simulate_command"]


@click.command("simulate")
@click.option("--respondents", type=click.IntRange(min=1), help="How many synthetic respondents.")
@click.option(
    "--days",
    type=click.IntRange(min=1, max=366),
    default=30,
    show_default=True,
    help="Spread their visits over the last DAYS days, in office hours.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same answers.")
@click.option("--remove", is_flag=True, help="Delete every simulated session, answer and response.")
def simulate_command(respondents: int | None, days: int, seed: int, remove: bool) -> None:
    """Synthetic respondents take the survey at the loaded service points, through the real engine.

    For demos, dashboards and load checks: each has a random chat id and starts
    from a counter's poster or, for some, a per-dossier invitation; answers
    differ by element and counter, some skip, a few rush or straight-line so
    the quality flags show. Everything it stores is marked simulated and is
    taken out again by --remove (its days are then re-aggregated).
    """
    if remove == (respondents is not None):
        raise click.UsageError("give either --respondents N or --remove")
    settings = settings_or_exit()

    if remove:

        async def run_removal() -> RemovalReport:
            async with open_database(settings) as database:
                return await remove_simulated(database)

        removed = asyncio.run(run_removal())
        click.echo(
            f"removed {removed.responses} simulated responses "
            f"({removed.sessions} sessions, {removed.invitations} invitations)"
        )
        if removed.days:
            click.echo(f"{len(removed.days)} reporting days marked for the next aggregation")
        return

    assert respondents is not None
    total = respondents

    async def run_simulation() -> SimulationReport:
        async with open_database(settings) as database:
            engine = build_engine(settings, database, simulated=True)
            with Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            ) as progress:
                task = progress.add_task("simulate", total=total)
                return await simulate(
                    engine,
                    respondents=total,
                    days=days,
                    seed=seed,
                    progress=lambda done, _total: progress.update(task, completed=done),
                )

    report = asyncio.run(run_simulation())
    click.echo(
        f"simulated {report.respondents} respondents (seed {seed}): {report.completed} completed, "
        f"{report.invitations} via per-dossier invitations, "
        f"days {report.first_day} … {report.last_day}"
    )
    click.echo("remove them with `sipas simulate --remove`")
