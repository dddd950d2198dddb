"""Criteria trees as data: the bundled QĐ 5666 structure, and a broken file with every problem named."""

from __future__ import annotations

import pytest

from par.criteria import CriteriaError, bundled_criteria, load_criteria, parse_criteria
from tests.par.scorecards import SCHEME

ELEMENTS = ["TIEP_CAN", "TTHC", "CONG_CHUC", "KET_QUA", "PAKN"]

BROKEN = """\
scheme: broken
year: 2026
title: Hỏng
max_points: 100
colour: blue
trees:
  department:
    title: Sở
    contents:
      - code: "1"
        title: Một
        max_points: 10
        criteria:
          - {code: "1.1", title: a, max_points: 4, scoring: self}
          - {code: "1.1", title: b, max_points: 4, scoring: self}
      - code: "2"
        title: Hai
        max_points: 20
        criteria:
          - code: "2.1"
            title: Khảo sát
            max_points: 20
            scoring: survey
            source: {figure: officials, level: agency}
            mapping: {kind: linear, from_index: 50, to_index: 100}
          - code: "2.2"
            title: Khảo sát cấp huyện
            max_points: 5
            scoring: survey
            source: {figure: satisfaction, level: district, element: NOPE}
            mapping: {kind: banded, bands: [{min_index: 90, points: 9}]}
          - {code: "2.3", title: c, max_points: 2, scoring: guess}
          - {code: "2.4", title: d, max_points: 2, scoring: self, mapping: {kind: linear}}
  ward:
    title: Phường
    contents: []
classification:
  - {min_index: 90, label: A}
  - {min_index: 90, label: B}
"""


def test_the_bundled_structure_is_qd_5666_with_example_points() -> None:
    assert "hn-qd5666-2026" in bundled_criteria()
    scheme = load_criteria("hn-qd5666", year=2026, elements=ELEMENTS)
    assert scheme.example and scheme.id == "hn-qd5666-2026"
    assert set(scheme.trees) == {"department", "commune"}
    for tree in scheme.trees.values():
        # 8 evaluation contents plus one of bonus and penalty points, on 100 points.
        assert [content.code for content in tree.contents] == [str(n) for n in range(1, 10)]
        assert tree.max_points == scheme.max_points == 100
        last = tree.contents[-1]
        assert {leaf.scoring for leaf in last.leaves()} == {"bonus", "penalty"}
        assert any(leaf.scoring == "survey" for leaf in tree.leaves())
    assert {
        leaf.source.level for leaf in scheme.trees["department"].leaves() if leaf.source is not None
    } == {"agency"}


def test_a_year_that_is_not_the_files_is_refused() -> None:
    with pytest.raises(CriteriaError, match=r"^hn-qd5666-2031: no such criteria file"):
        load_criteria("hn-qd5666", year=2031)


def test_every_problem_of_a_broken_file_is_reported_at_once() -> None:
    with pytest.raises(CriteriaError) as refused:
        parse_criteria(BROKEN, source="broken.yaml", elements=ELEMENTS)
    found = {(problem.column, problem.message) for problem in refused.value.problems}
    assert all(str(problem).startswith("broken.yaml: ") for problem in refused.value.problems)
    assert found == {
        ("colour", "unknown field"),
        ("trees.department", "code '1.1' appears 2 times (one node, one code)"),
        (
            "trees.department.contents[0].max_points",
            "10, but its criteria add up to 8 (penalties aside)",
        ),
        ("trees.department.contents", "the content areas add up to 30, not max_points 100"),
        (
            "trees.department.contents[1].criteria[0].source.figure",
            "unknown source 'officials' (known: satisfaction)",
        ),
        (
            "trees.department.contents[1].criteria[1].source.level",
            "'district' does not name a unit of this tree (expected agency or authority)",
        ),
        (
            "trees.department.contents[1].criteria[1].source.element",
            "unknown element 'NOPE' (expected TIEP_CAN, TTHC, CONG_CHUC, KET_QUA, PAKN)",
        ),
        ("trees.department.contents[1].criteria[1].mapping", "a band gives points outside 0–5"),
        (
            "trees.department.contents[1].criteria[2].scoring",
            "expected self, bonus, penalty, survey (or criteria below it), got 'guess'",
        ),
        (
            "trees.department.contents[1].criteria[3].mapping",
            "only a survey criterion has a mapping",
        ),
        ("trees.ward", "unknown tree (expected department or commune)"),
        ("classification", "min_index 90 appears 2 times"),
    }


def test_sums_are_checked_at_every_level_and_penalties_stay_outside_them() -> None:
    scheme = parse_criteria(SCHEME, elements=ELEMENTS)
    department = scheme.trees["department"]
    assert department.max_points == 20
    assert [leaf.code for leaf in department.leaves()] == ["A1", "A2", "B1", "B2", "B3"]
    evidence = {leaf.code: leaf.evidence_required for leaf in department.leaves()}
    assert evidence == {"A1": True, "A2": False, "B1": False, "B2": True, "B3": True}
    assert scheme.classify(80) == "Tốt" and scheme.classify(79.99) == "Đạt"
    assert scheme.classify(10) is None
    with pytest.raises(CriteriaError) as refused:
        parse_criteria(SCHEME.replace("max_points: 20", "max_points: 25"))
    assert [str(problem) for problem in refused.value.problems] == [
        "<criteria>: trees.department.contents: the content areas add up to 20, not max_points 25",
        "<criteria>: trees.commune.contents: the content areas add up to 20, not max_points 25",
    ]
