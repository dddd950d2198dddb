"""Aggregation levels: which unit each service point counts under at each level, and its name.

- `service_point`: the counter itself.
- `commune`: the commune-level unit (ward, commune) of the counter; counters of provincial
  agencies, which sit at the province, are not under any commune.
- `district`: the former (pre-2025) district of the counter's commune, through the
  crosswalk: the former district that contributed the most old communes to it, ties
  broken by the lowest district code (`storage.units.former_district_map`).
- `agency`: the counter's agency (department or service-centre branch), if it has one.
- `province`: the province above the counter's unit.
- `authority`: the competent authority of the procedure (an agency such as a Sở, or a unit
  such as a UBND xã/phường), over every counter that received its dossiers
  (`storage.procedures`); not the counter's place.
- `field`: the field (lĩnh vực) of the procedure, from the catalogue; responses without a
  procedure of the catalogue are under none.

Counts are summed per counter for the first five levels, and per authority or procedure for
the last two (`cell_of`): the map's `service_point_code` column holds that cell's key.
"""

from __future__ import annotations

import pandas as pd

from storage.db import AsyncSession
from storage.models import AdminUnit, Agency
from storage.procedures import list_procedures
from storage.units import Geography, former_district_map, load_geography

LEVELS = ("service_point", "commune", "district", "agency", "province", "authority", "field")
UNIT_MAP_COLUMNS = ["service_point_code", "unit_code", "unit_name", "groups"]
_CELLS = {"authority": "authority_code", "field": "procedure_code"}


def cell_of(level: str) -> str:
    """What the counts of `level` are summed by (`storage.counts.CELLS`)."""
    return _CELLS.get(level, "service_point_code")


def _province_of(code: str | None, units: dict[str, AdminUnit]) -> str | None:
    seen: set[str] = set()
    while code is not None and code in units and code not in seen:
        seen.add(code)
        if units[code].level == "province":
            return code
        code = units[code].parent_code
    return None


def _authority_map(units: dict[str, AdminUnit], agencies: dict[str, Agency]) -> pd.DataFrame:
    """Every agency and unit as an authority of its own, grouped under its province."""
    rows = [
        (code, code, agency.name, (f"province:{_province_of(agency.unit_code, units) or ''}",))
        for code, agency in agencies.items()
    ]
    rows += [
        (code, code, unit.full_name, (f"province:{_province_of(code, units) or ''}",))
        for code, unit in units.items()
        if code not in agencies
    ]
    return pd.DataFrame(rows, columns=UNIT_MAP_COLUMNS)


async def unit_map(session: AsyncSession, level: str) -> pd.DataFrame:
    """One row per service point counted at `level`: its unit there, the unit's name, and
    `groups`, the totals the unit is part of (for secondary suppression)."""
    if level == "authority":
        geography = await load_geography(session)
        return _authority_map(geography.units, geography.agencies)
    if level == "field":
        procedures = await list_procedures(session)
        fields = [(row.code, row.field, row.field, ()) for row in procedures]
        return pd.DataFrame(fields, columns=UNIT_MAP_COLUMNS)
    return (await unit_maps(session, (level,)))[level]


async def unit_maps(session: AsyncSession, levels: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """`unit_map` of each of `levels` that sum counters, reading the geography once."""
    for level in levels:
        if level not in LEVELS or cell_of(level) != "service_point_code":
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    geography = await load_geography(session)
    districts = await former_district_map(session) if "district" in levels else {}
    return {level: _unit_map(geography, districts, level) for level in levels}


def _unit_map(geography: Geography, districts: dict[str, str], level: str) -> pd.DataFrame:
    units, agencies = geography.units, geography.agencies
    rows: list[tuple[str, str, str, tuple[str, ...]]] = []
    for point in geography.service_points:
        unit = units.get(point.unit_code)
        province = _province_of(point.unit_code, units) or ""
        if level == "service_point":
            groups = [f"unit:{point.unit_code}"]
            if point.agency_code:
                groups.append(f"agency:{point.agency_code}")
            rows.append((point.code, point.code, point.name, tuple(groups)))
        elif level == "commune":
            if unit is not None and unit.level == "commune":
                rows.append((point.code, unit.code, unit.full_name, (f"province:{province}",)))
        elif level == "district":
            district = districts.get(point.unit_code)
            if district is not None:
                name = units[district].full_name if district in units else district
                rows.append((point.code, district, name, (f"province:{province}",)))
        elif level == "agency":
            agency = agencies.get(point.agency_code or "")
            if agency is not None:
                rows.append((point.code, agency.code, agency.name, (f"province:{province}",)))
        elif province:
            rows.append((point.code, province, units[province].full_name, ()))
    return pd.DataFrame(rows, columns=UNIT_MAP_COLUMNS)
