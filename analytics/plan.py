"""How many answers are enough: responses needed per authority, counter and month from dossier volumes.

Two sample sizes for a target margin e (the half-width of the 95 % interval, as a share) and
N dossiers in the month, both for the worst case p = 0.5:

- finite-population (Yamane): n = N / (1 + N·e²);
- Wilson-based: the smallest n whose Wilson interval at p = 0.5 is no wider than ±e,
  n₀ = z²·(1/(4e²) − 1) (from the half-width z / (2·√(n + z²))), with the finite-population
  correction n = n₀ / (1 + (n₀ − 1)/N).

Both are rounded up and never exceed N (every dossier's person asked). A volumes file
(CSV: authority, counter, month, dossiers) gives one row per counter (or per authority
when the counter is blank); the authority's month adds its counters' dossiers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

from analytics.days import Period, parse_period, period_of
from problems import Problem, ProblemsFound
from storage.models import DossierVolume

Z95 = 1.959963984540054
DEFAULT_MARGIN_POINTS = 5.0
VOLUME_COLUMNS = ("authority", "counter", "month", "dossiers")


class VolumesError(ProblemsFound, ValueError):
    """A volumes file that cannot be used: every problem, by row and column."""


@dataclass(frozen=True)
class Volume:
    """The dossiers of one authority (or one of its counters) in one month."""

    authority: str
    counter: str  # "" for the authority as a whole
    month: Period
    dossiers: int


@dataclass(frozen=True)
class Need:
    """The responses needed for one authority or counter in one month, by both formulas."""

    authority: str
    counter: str  # "" for the authority's month (its counters added up)
    month: Period
    dossiers: int
    yamane: int
    wilson: int
    margin_points: float  # the target half-width, in percentage points


def yamane_size(dossiers: int, margin: float) -> int:
    """n = N / (1 + N·e²), rounded up (margin e as a share: 0.05 for ±5 points)."""
    if dossiers <= 0:
        return 0
    return min(dossiers, math.ceil(dossiers / (1 + dossiers * margin * margin) - 1e-9))


def wilson_size(dossiers: int, margin: float, z: float = Z95) -> int:
    """The smallest n whose Wilson interval at p = 0.5 is within ±margin, with the
    finite-population correction for N dossiers; rounded up."""
    if dossiers <= 0:
        return 0
    infinite = z * z * (1 / (4 * margin * margin) - 1)
    corrected = infinite / (1 + (infinite - 1) / dossiers)
    return min(dossiers, math.ceil(corrected - 1e-9))


def read_volumes(data: bytes, *, source: str) -> list[Volume]:
    """The volumes of a CSV file (authority, counter, month, dossiers; month as 2026-11 or
    11/2026); every problem found, by row, or nothing."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in VOLUME_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise VolumesError(
            [
                Problem(
                    message=f"missing column(s) {', '.join(missing)}",
                    file=source,
                    row=1,
                    hint="columns: " + ", ".join(VOLUME_COLUMNS),
                )
            ]
        )
    volumes: list[Volume] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for row_number, record in enumerate(reader, start=2):
        found = _volume(record, source, row_number, problems)
        if found is None:
            continue
        key = (found.authority, found.counter, found.month.label)
        if key in seen:
            problems.append(
                Problem(message="given twice", file=source, row=row_number, column="month")
            )
        seen.add(key)
        volumes.append(found)
    if problems:
        raise VolumesError(problems)
    if not volumes:
        raise VolumesError([Problem(message="no volumes", file=source)])
    return volumes


def _volume(
    record: dict[str, str], source: str, row: int, problems: list[Problem]
) -> Volume | None:
    def problem(column: str, message: str, hint: str | None = None) -> None:
        problems.append(Problem(message=message, file=source, row=row, column=column, hint=hint))

    authority = (record.get("authority") or "").strip()
    counter = (record.get("counter") or "").strip()
    month_text = (record.get("month") or "").strip()
    dossiers_text = (record.get("dossiers") or "").strip()
    before = len(problems)
    if not authority:
        problem("authority", "required", "a unit or agency code")
    month: Period | None = None
    try:
        month = parse_period(month_text)
    except ValueError:
        problem("month", f"not a month: “{month_text}”", "2026-11 or 11/2026")
    if month is not None and month.kind != "month":
        problem("month", f"not a month: “{month_text}”", "2026-11 or 11/2026")
    dossiers = -1
    if dossiers_text.isdigit():
        dossiers = int(dossiers_text)
    else:
        problem("dossiers", f"not a whole number of dossiers: “{dossiers_text}”")
    if len(problems) > before or month is None:
        return None
    return Volume(authority, counter, month, dossiers)


def stored_volumes(rows: Iterable[DossierVolume]) -> list[Volume]:
    """The volumes the one-stop system reported per counter and day (`storage.volumes`) as
    a plan's: per authority, counter and month, the days added up."""
    months: dict[str, Period] = {}
    totals: dict[tuple[str, str, str], int] = {}
    for row in rows:
        month = period_of(row.day, "month")
        months[month.label] = month
        key = (row.authority_code, row.service_point_code, month.label)
        totals[key] = totals.get(key, 0) + row.dossiers
    return [
        Volume(authority, counter, months[label], dossiers)
        for (authority, counter, label), dossiers in totals.items()
    ]


def plan(volumes: list[Volume], margin_points: float = DEFAULT_MARGIN_POINTS) -> list[Need]:
    """The responses needed per counter row and per authority's month (its rows added up),
    authorities and months in the order first given, the authority's row after its counters."""
    if not 0 < margin_points < 50:
        raise ValueError(f"the margin must be between 0 and 50 points, not {margin_points:g}")
    margin = margin_points / 100
    groups: dict[tuple[str, str], list[Volume]] = {}
    for volume in volumes:
        groups.setdefault((volume.authority, volume.month.label), []).append(volume)
    needs: list[Need] = []

    def need(authority: str, counter: str, month: Period, dossiers: int) -> Need:
        return Need(
            authority,
            counter,
            month,
            dossiers,
            yamane_size(dossiers, margin),
            wilson_size(dossiers, margin),
            margin_points,
        )

    for (authority, _label), rows in groups.items():
        counters = [row for row in rows if row.counter]
        needs += [need(authority, row.counter, row.month, row.dossiers) for row in counters]
        total = sum(row.dossiers for row in rows if not row.counter) or sum(
            row.dossiers for row in counters
        )
        needs.append(need(authority, "", rows[0].month, total))
    return needs
