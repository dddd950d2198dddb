"""Hà Nội as the tests' databases hold it: the city, some wards, two former districts, one way.

Codes and names are the real ones (as in the bundled sample); each test adds the units it
needs, parents first, and its own counters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AdminUnit, ServicePoint

CITY = "01"
WARDS = {"00004": "Ba Đình", "00008": "Ngọc Hà", "00025": "Giảng Võ", "00070": "Hoàn Kiếm"}
FORMER_DISTRICTS = {"001": "Ba Đình", "002": "Hoàn Kiếm"}
DISTRICTS_ENDED = date(2025, 6, 30)  # the day before the 2025 reform (two levels of government)


def city() -> AdminUnit:
    """Thành phố Hà Nội, the province-level unit above every other."""
    return AdminUnit(
        code=CITY,
        level="province",
        name="Hà Nội",
        full_name="Thành phố Hà Nội",
        unit_type="Thành phố",
    )


def ward(code: str) -> AdminUnit:
    """A ward of Hà Nội (one of WARDS) since the 2025 reform."""
    name = WARDS[code]
    return AdminUnit(
        code=code,
        level="commune",
        name=name,
        full_name=f"Phường {name}",
        unit_type="Phường",
        parent_code=CITY,
    )


def former_district(code: str) -> AdminUnit:
    """A district of Hà Nội (one of FORMER_DISTRICTS) until the 2025 reform."""
    name = FORMER_DISTRICTS[code]
    return AdminUnit(
        code=code,
        level="district",
        name=name,
        full_name=f"Quận {name}",
        unit_type="Quận",
        parent_code=CITY,
        valid_to=DISTRICTS_ENDED,
    )


async def add_ward(session: AsyncSession, code: str, counters: Iterable[str] = ()) -> None:
    """A ward of Hà Nội (the city must be there) and its counters, each named "Quầy <code>"."""
    session.add(ward(code))
    await session.flush()
    for counter in counters:
        session.add(ServicePoint(code=counter, name=f"Quầy {counter}", unit_code=code))
