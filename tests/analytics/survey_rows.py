"""Rows for analytics tests: units, counters and completed responses, inserted directly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

from sqlalchemy import delete

from analytics.layout import UNSTATED_BAND, ItemLayout, ProfileItem
from storage.db import Database
from storage.models import (
    Agency,
    Answer,
    DirtyDay,
    Response,
    ServicePoint,
    SurveySession,
    UnitCrosswalk,
)
from storage.response_facts import IMPORT_CHANNEL, response_facts
from tests import hanoi

ELEMENTS = {
    "TIEP_CAN": ["15", "16", "17", "18"],
    "TTHC": ["19", "20", "21", "22"],
    "CONG_CHUC": ["23", "24", "25", "26", "27"],
    "KET_QUA": ["28", "29", "30"],
    "PAKN": ["31", "32", "33"],
}
SIPAS_LAYOUT = ItemLayout(
    questionnaire_id="sipas-2023",
    questionnaire_version="2023.1",
    elements=tuple((code, code.title()) for code in ELEMENTS),
    items=tuple((item, element) for element, items in ELEMENTS.items() for item in items),
    expectations=tuple((f"10.{n}", f"Priority {n}") for n in range(1, 9)),
)
"""A stand-in for the bundled sipas-2023 questionnaire: same item codes and elements."""
PROFILE_LAYOUT = replace(
    SIPAS_LAYOUT,
    profile=(
        ProfileItem(
            "gioi_tinh", "Giới tính", (("nam", "Nam"), ("nu", "Nữ"), (UNSTATED_BAND, "Không"))
        ),
        ProfileItem(
            "do_tuoi",
            "Độ tuổi",
            (("18-25", "18–25"), ("26-34", "26–34"), (UNSTATED_BAND, "Không")),
        ),
    ),
)
"""SIPAS_LAYOUT with two profile items to break the indices down by (bands as bundled)."""
SCALE_VALUES = {item: ("1", "2", "3", "4", "5") for item in SIPAS_LAYOUT.item_codes}

ALL_FOUR = {item: "4" for items in ELEMENTS.values() for item in items}
TYPICAL = ALL_FOUR | {"15": "5"}
"""Every item satisfied, not all with one value (so not straight-lining): index 100."""
ZONE_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving


def profile(gender: str, age: str) -> dict[str, str | None]:
    """The answers of a respondent who gave their gender and age band."""
    return {"thong_tin": "yes", "gioi_tinh": gender, "do_tuoi": age}


def answers(**by_element: str | None) -> dict[str, str | None]:
    """Every item of the named elements answered with one value (None = skipped)."""
    return {item: value for element, value in by_element.items() for item in ELEMENTS[element]}


class Survey:
    """Inserts units and completed responses the way the survey engine leaves them (with
    the facts it records at completion)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._keys = count(1)

    async def units(self) -> None:
        """Province 01; wards 00004 and 00070 (from former districts 001 and 002); agency
        HN-STP at the province; counters W1-A, W1-B (ward 00004), W2-A (ward 00070), STP-1."""
        async with self.database.transaction() as session:
            session.add(hanoi.city())
            await session.flush()
            session.add_all([hanoi.former_district("001"), hanoi.former_district("002")])
            session.add_all([hanoi.ward("00004"), hanoi.ward("00070")])
            await session.flush()
            # 00004 took two old communes of 001 and one of 002: it counts under 001.
            for new, old, district in (
                ("00004", "a1", "001"),
                ("00004", "a2", "001"),
                ("00004", "b1", "002"),
                ("00070", "b2", "002"),
            ):
                session.add(
                    UnitCrosswalk(
                        new_code=new,
                        old_commune_code=old,
                        old_commune_name=old,
                        old_district_code=district,
                        partial=False,
                    )
                )
            session.add(Agency(code="HN-STP", name="Sở Tư pháp", kind="department", unit_code="01"))
            await session.flush()
            for code, unit, agency in (
                ("W1-A", "00004", None),
                ("W1-B", "00004", None),
                ("W2-A", "00070", None),
                ("STP-1", "01", "HN-STP"),
            ):
                session.add(
                    ServicePoint(code=code, name=f"Quầy {code}", unit_code=unit, agency_code=agency)
                )

    async def response(
        self,
        given: Mapping[str, str | None],
        *,
        day: date = date(2026, 11, 10),
        point: str = "W1-A",
        respondent_type: str = "citizen",
        channel: str = "telegram",
        completed_at: datetime | None = None,
        respondent_key: str | None = None,
        seconds_per_item: float = 20.0,
        answered_after: list[float] | None = None,
        mark_dirty: bool = True,
        simulated: bool = False,
        authority: str | None = None,
    ) -> int:
        """A completed response with `given` answers (rating `authority`, if given); its day
        is marked dirty. Returns its id.

        The answers are written in the order given, `seconds_per_item` apart, or each at its
        offset in `answered_after` (seconds after the start).
        """
        done = completed_at or datetime.combine(day, time(10, 0), tzinfo=UTC) - ZONE_OFFSET
        key = respondent_key or f"key-{next(self._keys)}"
        started = done - timedelta(seconds=seconds_per_item * (len(given) + 1))
        offsets = answered_after or [seconds_per_item * n for n in range(1, len(given) + 1)]
        times = [started + timedelta(seconds=offset) for offset in offsets]
        facts = response_facts(SCALE_VALUES, given, None if channel == IMPORT_CHANNEL else times)
        async with self.database.transaction() as session:
            survey = SurveySession(
                respondent_key=key,
                channel=channel,
                questionnaire_id="sipas-2023",
                questionnaire_version="2023.1",
                service_point_code=point,
                language="vi",
                status="completed",
                started_at=started,
                last_activity_at=done,
                completed_at=done,
                simulated=simulated,
            )
            session.add(survey)
            await session.flush()
            for (item, value), answered_at in zip(given.items(), times, strict=True):
                session.add(
                    Answer(
                        session_id=survey.id, item_code=item, value=value, answered_at=answered_at
                    )
                )
            response = Response(
                session_id=survey.id,
                service_point_code=point,
                respondent_type=respondent_type,
                channel=channel,
                questionnaire_id="sipas-2023",
                questionnaire_version="2023.1",
                respondent_key=key,
                started_at=started,
                completed_at=done,
                reporting_day=day,
                duration_seconds=(done - started).total_seconds(),
                simulated=simulated,
                scale_answers=facts.scale_answers,
                uniform_value=facts.uniform_value,
                median_gap_seconds=facts.median_gap_seconds,
                authority_code=authority,
            )
            session.add(response)
            await session.flush()
            if mark_dirty:
                await self.mark_dirty(session, day)
            return response.id

    async def many(self, number: int, given: Mapping[str, str | None], **options: object) -> None:
        """`number` identical responses from different respondents."""
        for _ in range(number):
            await self.response(given, **options)  # type: ignore[arg-type]

    @staticmethod
    async def mark_dirty(session: object, day: date) -> None:
        from sqlalchemy.ext.asyncio import AsyncSession

        assert isinstance(session, AsyncSession)
        existing = await session.get(DirtyDay, day)
        if existing is None:
            session.add(DirtyDay(day=day, marked_at=datetime.now(UTC)))
        else:
            existing.marked_at = datetime.now(UTC)

    async def withdraw(self, response_id: int) -> None:
        """Delete a response's session (answers and response go with it) and mark its day."""
        async with self.database.transaction() as session:
            response = await session.get(Response, response_id)
            assert response is not None
            day = response.reporting_day
            await session.execute(
                delete(SurveySession).where(SurveySession.id == response.session_id)
            )
            await self.mark_dirty(session, day)
