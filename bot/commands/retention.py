"""`sipas retention apply`: delete the completed answers older than the retention period, now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click

from bot.runtime import open_database, settings_or_exit
from storage.result_follow_ups import forget_addresses
from storage.retention import RetentionOutcome, RetentionPolicy, apply_retention

__all__ = ["retention_group"]


@click.group("retention")
def retention_group() -> None:
    """The retention period of completed answers (SIPAS_RETENTION_MONTHS, default 24).

    `sipas serve` applies it once a day by itself; `apply` does it now.
    """


@retention_group.command("apply")
def apply_command() -> None:
    """Delete what is older than the retention period, and say what went.

    \b
    Deleted: completed responses whose reporting day is more than SIPAS_RETENTION_MONTHS
    months before today, with their answers, comments and quality flags; declined,
    cancelled or expired surveys last active before that day; invitations that expired
    before it; the chat addresses kept for a result follow-up longer than
    SIPAS_RESULT_FOLLOWUP_DAYS days. Kept: the daily counts of those days (anonymous
    aggregates), so indices of past periods stay as published; those days are never
    recounted.
    """
    settings = settings_or_exit()
    policy = RetentionPolicy(settings.retention_months, settings.zone)

    async def run() -> tuple[RetentionOutcome, int]:
        now = datetime.now(UTC)
        async with open_database(settings) as database:
            erased = await forget_addresses(database, now, settings.result_followup_days)
            return await apply_retention(database, policy, now, again=True), erased

    outcome, erased = asyncio.run(run())
    click.echo(
        f"retention {policy.months} months: kept responses from {outcome.cutoff_day} on; deleted "
        f"{outcome.responses} responses of earlier days, {outcome.unfinished_sessions} "
        f"unfinished surveys, {outcome.invitations} expired invitations "
        "(daily counts of earlier days kept)"
    )
    click.echo(
        f"result follow-up {settings.result_followup_days} days: erased {erased} chat "
        "addresses kept longer"
    )
