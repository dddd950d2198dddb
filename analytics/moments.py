"""Coverage per moment of the dossier: invitations, starts and completions at reception and at the
result, and what became of the result follow-ups agreed to.

The result block (KET_QUA) is answered by three routes: at reception by someone who already
holds the result, by a respondent who had not and agreed to a follow-up (counted here from
their agreement to their answers), and through an invitation minted at the result. These
figures say how each route is used; the indices themselves count every answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.table import Table

from analytics.days import Period
from storage.db import Database
from storage.invitations import Stage, StageCount, stage_counts
from storage.result_follow_ups import (
    ANSWERED,
    DUE,
    EXPIRED,
    SENT,
    STATUSES,
    UNREACHABLE,
    WAITING,
    follow_up_statuses,
)

__all__ = ["MomentCounts", "moment_counts", "moments_table"]


@dataclass(frozen=True)
class MomentCounts:
    """The invitations of each stage minted in a period, and the result follow-ups agreed to
    in it by status (`storage.result_follow_ups`)."""

    period: Period
    stages: tuple[StageCount, ...]
    follow_ups: dict[str, int]

    @property
    def follow_ups_agreed(self) -> int:
        return sum(self.follow_ups.values())


async def moment_counts(database: Database, period: Period, zone: ZoneInfo) -> MomentCounts:
    """The counts of `period`'s local days (SIPAS_TIMEZONE)."""
    first = datetime.combine(period.start, time(), zone)
    last = datetime.combine(period.end + timedelta(days=1), time(), zone)
    async with database.reading() as tx:
        by_stage = await stage_counts(tx, first, last)
        statuses = await follow_up_statuses(tx, first, last)
    return MomentCounts(
        period,
        tuple(by_stage.get(stage, StageCount(stage, 0, 0, 0)) for stage in Stage),
        {status: statuses.get(status, 0) for status in STATUSES},
    )


def moments_table(counts: MomentCounts, *, title: str) -> Table:
    """The counts as a terminal table: one row per stage, then the result follow-ups: agreed
    to, the questions delivered, answered, and (note) the rest by status."""
    view = Table(title=title, title_justify="left")
    for heading in ("moment", "invitations", "starts", "completions", "note"):
        view.add_column(heading, justify="left" if heading in ("moment", "note") else "right")
    for stage in counts.stages:
        view.add_row(
            stage.stage, str(stage.invitations), str(stage.starts), str(stage.completions), ""
        )
    statuses = counts.follow_ups
    delivered = statuses[SENT] + statuses[ANSWERED]
    rest = ", ".join(
        f"{status} {statuses[status]}" for status in (WAITING, DUE, UNREACHABLE, EXPIRED)
    )
    view.add_row(
        "result follow-up",
        f"{counts.follow_ups_agreed} agreed",
        str(delivered),
        str(statuses[ANSWERED]),
        rest,
    )
    return view
