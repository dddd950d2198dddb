"""Coverage against volume: completed responses ÷ the dossiers the one-stop system reported, per
competent authority and per counter, beside a target (provinces set e.g. 60 %).

The dossiers are those reported for the period's days (`storage.volumes`); the responses are
the completed ones of the same reporting days, attributed as the indices attribute them (the
counter, and the authority of the invitation or, without one, the counter's agency). A cell
with responses and no reported dossiers has no coverage; one with more responses than
dossiers (volumes not reported for every day) shows it above 100 % as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.table import Table

from analytics.days import Period
from storage.db import Database
from storage.volumes import CounterVolume, counter_volumes

__all__ = ["COVERAGE_LEVELS", "CoverageRow", "coverage_of", "coverage_rows", "coverage_table"]

COVERAGE_LEVELS = ("authority", "service_point")


@dataclass(frozen=True)
class CoverageRow:
    """One authority's or counter's dossiers, completed responses and coverage."""

    level: str  # authority | service_point
    code: str
    dossiers: int
    responses: int

    @property
    def pct(self) -> float | None:
        """Completed responses per 100 dossiers; None without reported dossiers."""
        return 100 * self.responses / self.dossiers if self.dossiers else None

    def below(self, target_pct: float) -> bool:
        """Whether the coverage is known and under `target_pct`."""
        return self.pct is not None and self.pct < target_pct


def coverage_rows(cells: Iterable[CounterVolume], level: str) -> list[CoverageRow]:
    """The counters' cells summed per authority or per counter, in code order."""
    totals: dict[str, list[int]] = {}
    for cell in cells:
        code = cell.authority_code if level == "authority" else cell.service_point_code
        total = totals.setdefault(code, [0, 0])
        total[0] += cell.dossiers
        total[1] += cell.responses
    return [CoverageRow(level, code, *totals[code]) for code in sorted(totals)]


async def coverage_of(
    database: Database, period: Period, *, include_simulated: bool = False
) -> list[CounterVolume]:
    """The period's dossiers and completed responses per counter and authority."""
    async with database.reading() as session:
        return await counter_volumes(
            session, period.start, period.end, include_simulated=include_simulated
        )


def coverage_table(rows: Iterable[CoverageRow], *, title: str, target_pct: float) -> Table:
    """Rows as a terminal table; a coverage below target is marked `below`."""
    view = Table(title=title, title_justify="left")
    for heading in ("code", "dossiers", "responses", "coverage", f"target {target_pct:g} %"):
        view.add_column(heading, justify="left" if heading == "code" else "right")
    for row in rows:
        pct = row.pct
        view.add_row(
            row.code,
            str(row.dossiers),
            str(row.responses),
            "—" if pct is None else f"{pct:.1f} %",
            "below" if row.below(target_pct) else "",
        )
    return view
