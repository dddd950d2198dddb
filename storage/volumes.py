"""Dossier volumes: how many dossiers each counter received per day and competent authority, as
the one-stop system reports them, and the completed responses coverage divides by them.

A volume is reported through `POST /api/v1/volumes` or a CSV file (`sipas volumes load`), both
checked here all or nothing (`check_volumes`): the counter must exist (and, for an API key, be
in its scope), the authority be a loaded agency or unit (default: the counter's agency, as for
an invitation, `storage.procedures.counter_authority`), the figure a whole number of at least
0. A report for the same counter, day and authority replaces the earlier figure, so a system
may send a day again (`record_volumes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from problems import Problem, ProblemsFound
from storage.db import AsyncSession, Transaction
from storage.models import DossierVolume, Response, ServicePoint
from storage.procedures import counter_authority, load_attributions
from storage.staff import Scope
from storage.units import Counts, LoadReport, UnitDataError, _check_date, _Problems, _read_csv

__all__ = [
    "MAX_DOSSIERS",
    "VOLUME_COLUMNS",
    "CounterVolume",
    "ReportedVolume",
    "Volume",
    "VolumesOutOfScope",
    "VolumesRefused",
    "check_volumes",
    "counter_volumes",
    "list_volumes",
    "load_volumes_csv",
    "record_volumes",
]

VOLUME_COLUMNS = ("service_point", "day", "authority", "dossiers")
MAX_DOSSIERS = 1_000_000
"""More dossiers than any counter receives in a day: a larger figure is a mistake."""


@dataclass(frozen=True)
class ReportedVolume:
    """One entry as reported: `row` is its place (the file's row, or the body's index)."""

    row: int
    service_point: str
    day: date
    authority: str | None
    dossiers: int


@dataclass(frozen=True)
class Volume:
    """One checked volume: the dossiers a counter received on a day for an authority."""

    service_point_code: str
    day: date
    authority_code: str
    dossiers: int


class VolumesRefused(ProblemsFound):
    """Volumes were refused; each problem's row is the entry's place, its column the field."""


class VolumesOutOfScope(ProblemsFound):
    """Volumes at counters outside the reporting key's scope; one problem per such entry."""


async def check_volumes(
    session: Transaction,
    entries: Sequence[ReportedVolume],
    *,
    scope: Scope,
    source: str,
) -> list[Volume]:
    """The entries of `source` (a file, or the API body's list) checked and completed, or
    VolumesRefused listing every bad entry (unknown
    counter or authority, a figure out of range, the same counter, day and authority twice),
    or else VolumesOutOfScope for the entries at counters outside `scope`."""
    authorities = (await load_attributions(session)).authorities
    problems: list[Problem] = []
    outside: list[Problem] = []
    volumes: list[Volume] = []
    seen: dict[tuple[str, date, str], int] = {}

    def add(entry: ReportedVolume, column: str, message: str, hint: str) -> None:
        problems.append(
            Problem(file=source, row=entry.row, column=column, message=message, hint=hint)
        )

    for entry in entries:
        point = await session.get(ServicePoint, entry.service_point)
        if point is None:
            add(
                entry,
                "service_point",
                f"unknown service point {entry.service_point!r}",
                "a counter code as `sipas units points` lists it",
            )
            continue
        if not scope.allows("service_point", point.code):
            outside.append(
                Problem(
                    file=source,
                    row=entry.row,
                    column="service_point",
                    message=f"service point {point.code} is outside the key's scope",
                )
            )
            continue
        authority = entry.authority or counter_authority(point)
        if authority not in authorities:
            add(
                entry,
                "authority",
                f"unknown authority {authority!r}",
                "the code of a loaded agency or unit (`sipas units agencies`, `sipas units list`)",
            )
        if not 0 <= entry.dossiers <= MAX_DOSSIERS:
            add(
                entry,
                "dossiers",
                f"{entry.dossiers} is out of range",
                f"a whole number from 0 to {MAX_DOSSIERS}",
            )
        key = (point.code, entry.day, authority)
        if key in seen:
            add(
                entry,
                "day",
                f"{point.code}, {entry.day}, {authority} given twice, first at {seen[key]}",
                "one figure per counter, day and authority",
            )
        seen.setdefault(key, entry.row)
        volumes.append(Volume(point.code, entry.day, authority, entry.dossiers))
    if problems:
        raise VolumesRefused(problems)
    if outside:
        raise VolumesOutOfScope(outside)
    return volumes


async def record_volumes(session: AsyncSession, volumes: Sequence[Volume], now: datetime) -> Counts:
    """Store checked volumes; a figure for a counter, day and authority already reported
    replaces the earlier one."""
    counts = Counts()
    for volume in volumes:
        key = (volume.service_point_code, volume.day, volume.authority_code)
        existing = await session.get(DossierVolume, key)
        if existing is None:
            session.add(
                DossierVolume(
                    service_point_code=volume.service_point_code,
                    day=volume.day,
                    authority_code=volume.authority_code,
                    dossiers=volume.dossiers,
                    reported_at=now,
                )
            )
            counts.count("added")
        elif existing.dossiers != volume.dossiers:
            existing.dossiers = volume.dossiers
            existing.reported_at = now
            counts.count("updated")
        else:
            counts.count("unchanged")
    await session.flush()
    return counts


def _parse_row(problems: _Problems, line: int, values: dict[str, str]) -> ReportedVolume | None:
    found = len(problems.found)
    code = values.get("service_point", "")
    if not code:
        problems.add(line, "service_point", "empty", "required")
    day = _check_date(problems, line, "day", values.get("day", ""))
    if not values.get("day"):
        problems.add(line, "day", "empty", "required, YYYY-MM-DD")
    text = values.get("dossiers", "")
    if not text.isdigit():
        shown = repr(text) if text else "empty"
        problems.add(line, "dossiers", f"{shown} is not a number of dossiers", "a whole number ≥ 0")
    if len(problems.found) > found or day is None:
        return None
    return ReportedVolume(line, code, day, values.get("authority", "") or None, int(text))


async def load_volumes_csv(
    session: AsyncSession, source: str, data: bytes, *, now: datetime
) -> LoadReport:
    """Store the volumes of a CSV file (service_point, day, authority, dossiers); UnitDataError
    lists every problem with its row and nothing is written (run it in
    `load_all_or_nothing`'s transaction)."""
    records = _read_csv(
        source, data, required=("service_point", "day", "dossiers"), allowed=VOLUME_COLUMNS
    )
    problems = _Problems(source)
    volumes: list[Volume] = []
    entries = [
        entry
        for record in records
        if (entry := _parse_row(problems, record.line, record.values)) is not None
    ]
    try:
        volumes = await check_volumes(session, entries, scope=Scope(everything=True), source=source)
    except VolumesRefused as refused:
        problems.found.extend(refused.problems)
    if problems.found:
        raise UnitDataError(problems.found)
    return LoadReport(volumes=await record_volumes(session, volumes, now))


async def list_volumes(session: AsyncSession, first: date, last: date) -> list[DossierVolume]:
    """The volumes of days `first` to `last`, by day, counter and authority."""
    query = (
        select(DossierVolume)
        .where(DossierVolume.day >= first, DossierVolume.day <= last)
        .order_by(DossierVolume.day, DossierVolume.service_point_code, DossierVolume.authority_code)
    )
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class CounterVolume:
    """A counter's dossiers and completed responses for one authority over some days."""

    service_point_code: str
    authority_code: str
    dossiers: int
    responses: int


async def counter_volumes(
    session: AsyncSession, first: date, last: date, *, include_simulated: bool = False
) -> list[CounterVolume]:
    """Per counter and authority with a reported volume or a completed response on days
    `first` to `last` (reporting days): the dossiers reported and the responses completed."""
    dossiers = (
        select(
            DossierVolume.service_point_code,
            DossierVolume.authority_code,
            func.sum(DossierVolume.dossiers),
        )
        .where(DossierVolume.day >= first, DossierVolume.day <= last)
        .group_by(DossierVolume.service_point_code, DossierVolume.authority_code)
    )
    responses = select(
        Response.service_point_code, Response.authority_code, func.count(Response.id)
    ).where(Response.reporting_day >= first, Response.reporting_day <= last)
    if not include_simulated:
        responses = responses.where(Response.simulated.is_(False))
    responses = responses.group_by(Response.service_point_code, Response.authority_code)
    cells: dict[tuple[str, str], list[int]] = {}
    for code, authority, total in (await session.execute(dossiers)).tuples():
        cells.setdefault((code, authority), [0, 0])[0] = int(total or 0)
    for code, rated, count in (await session.execute(responses)).tuples():
        cells.setdefault((code, rated or ""), [0, 0])[1] = int(count)
    return [
        CounterVolume(code, authority, dossiers_, responses_)
        for (code, authority), (dossiers_, responses_) in sorted(cells.items())
    ]
