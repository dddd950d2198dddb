"""A small PAR scheme and a year of it on the analytics test units, worked out by hand.

The scheme `test-2026` (20 points per tree):

    department (Sở)                         commune (xã/phường)
    A  Nội dung A          10               A  Nội dung A          10
       A1 self (evidence)   4                  A1 self (evidence)   4
       A2 survey overall    6 linear 50→100    A2 survey overall    6 linear 50→100
    B  Thưởng, trừ         10               B  Công chức           10
       B1 self (optional)   8                  B1 self (optional)   6
       B2 bonus             2                  B2 survey CONG_CHUC  4 banded 90→4, 75→2, 0→0
       B3 penalty           3 (outside the maximum)

Units: the Sở HN-STP (counter STP-1), wards 00004 (W1-A), 00070 (W2-A) and 00082 (no
counter). Responses in 2026: 00004 twelve satisfied (index 100), 00070 nine satisfied and
three not (index 75 overall and for every element), HN-STP five (suppressed below 10).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from analytics.aggregate import aggregate
from storage.db import Database
from storage.models import AdminUnit
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey, answers

SCHEME = """\
scheme: test
year: 2026
title: Bộ tiêu chí thử
max_points: 20
classification:
  - {min_index: 80, label: Tốt}
  - {min_index: 50, label: Đạt}
trees:
  department:
    title: Sở
    contents:
      - code: A
        title: Nội dung A
        max_points: 10
        criteria:
          - {code: A1, title: Kế hoạch, max_points: 4, scoring: self}
          - code: A2
            title: Hài lòng
            max_points: 6
            scoring: survey
            source: {figure: satisfaction, level: agency}
            mapping: {kind: linear, from_index: 50, to_index: 100}
      - code: B
        title: Thưởng, trừ
        max_points: 10
        criteria:
          - {code: B1, title: Thực hiện, max_points: 8, scoring: self, evidence: optional}
          - {code: B2, title: Điểm thưởng, max_points: 2, scoring: bonus}
          - {code: B3, title: Điểm trừ, max_points: 3, scoring: penalty}
  commune:
    title: Xã, phường
    contents:
      - code: A
        title: Nội dung A
        max_points: 10
        criteria:
          - {code: A1, title: Kế hoạch, max_points: 4, scoring: self}
          - code: A2
            title: Hài lòng
            max_points: 6
            scoring: survey
            source: {figure: satisfaction, level: commune}
            mapping: {kind: linear, from_index: 50, to_index: 100}
      - code: B
        title: Công chức
        max_points: 10
        criteria:
          - {code: B1, title: Công vụ, max_points: 6, scoring: self, evidence: optional}
          - code: B2
            title: Hài lòng về công chức
            max_points: 4
            scoring: survey
            source: {figure: satisfaction, level: commune, element: CONG_CHUC}
            mapping:
              kind: banded
              bands:
                - {min_index: 90, points: 4}
                - {min_index: 75, points: 2}
                - {min_index: 0, points: 0}
"""

DISSATISFIED = answers(TIEP_CAN="2", TTHC="2", CONG_CHUC="2", KET_QUA="2", PAKN="2") | {
    "15": "1"
}  # not all one value: not straight-lining
DAY = date(2026, 11, 10)


def scheme_file(directory: Path) -> Path:
    path = directory / "test-2026.yaml"
    path.write_text(SCHEME, encoding="utf-8")
    return path


async def units_and_responses(database: Database) -> None:
    """The units and the year's responses, aggregated."""
    survey = Survey(database)
    await survey.units()
    async with database.transaction() as session:
        session.add(
            AdminUnit(
                code="00082",
                level="commune",
                name="Cửa Nam",
                full_name="Phường Cửa Nam",
                unit_type="Phường",
                parent_code="01",
            )
        )
    await survey.many(12, TYPICAL, point="W1-A", day=DAY)
    await survey.many(9, TYPICAL, point="W2-A", day=DAY)
    await survey.many(3, DISSATISFIED, point="W2-A", day=DAY)
    await survey.many(5, TYPICAL, point="STP-1", day=DAY)
    await aggregate(database, SIPAS_LAYOUT)
