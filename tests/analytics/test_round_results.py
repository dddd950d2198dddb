"""A round's results per rated unit, content area and group: means of respondents' means, the
share of 4-5, small cells suppressed so that no group can be worked out, comments per unit."""

from __future__ import annotations

import pytest

from analytics.rounds import ALL, RoundCell, round_comments, round_results
from questionnaires import load_bundled
from questionnaires.rounds import parse_round
from storage.rounds import RoundSession

PLAN = parse_round(
    """
code: r
title: {vi: R}
questionnaire: par-officials-2025
opens: 2026-01-01
closes: 2026-02-01
units: [{code: SO-A, name: {vi: "Sở A"}}, {code: SO-B, name: {vi: "Sở B"}}]
groups:
  - {code: BIG, label: {vi: Lớn}, target: 50, rates: all}
  - {code: MID, label: {vi: Vừa}, target: 20, rates: all}
  - {code: SMALL, label: {vi: Nhỏ}, target: 9, rates: [SO-A]}
"""
).plan
FORM = load_bundled("par-officials-2025")


def form(group: str, tthc: tuple[str | None, str | None], *, units: tuple[str, ...] = ("SO-A",),
         comment: str | None = None) -> RoundSession:  # fmt: skip
    """A completed form rating SO-A: TT1 and TT2 as given, 4 on every other item."""
    answers: dict[str, str | None] = {"nhom": "yes"}
    for code in ("CD1", "TC1", "BM1", "CV1", "TCC1", "SH1", "TD1"):
        answers[f"{code}#1"] = "4"
    answers["TT1#1"], answers["TT2#1"] = tthc
    answers["YK#1"] = comment
    return RoundSession(group, units, answers)


def cells(sessions: list[RoundSession], minimum: int) -> dict[tuple[str, str, str], RoundCell]:
    return {(c.unit_code, c.area, c.group): c for c in round_results(PLAN, FORM, sessions, minimum)}


def test_each_respondent_counts_once_with_the_mean_and_share_of_their_answers() -> None:
    sessions = [form("BIG", ("5", "3")), form("BIG", ("2", None)), form("MID", ("4", "4"))]
    shown = cells(sessions, 1)
    tthc = shown[("SO-A", "TTHC", "BIG")]
    assert tthc.n == 2
    assert tthc.mean == pytest.approx((4 + 2) / 2)
    assert tthc.share_4_5 == pytest.approx((0.5 + 0) / 2)
    both = shown[("SO-A", "TTHC", ALL)]
    assert both.n == 3 and both.mean == pytest.approx((4 + 2 + 4) / 3)
    assert both.mean is not None and both.mean_low is not None and both.mean_high is not None
    assert both.mean_low < both.mean < both.mean_high
    assert shown[("SO-B", ALL, ALL)].n == 0
    assert ("SO-B", ALL, "SMALL") not in shown  # the small group does not rate SO-B


def test_a_small_group_alone_under_the_minimum_takes_the_next_smallest_with_it() -> None:
    sessions = [form("BIG", ("4", "4"))] * 6 + [form("MID", ("3", "3"))] * 5
    sessions += [form("SMALL", ("1", "1"))] * 2
    shown = cells(sessions, 5)
    assert shown[("SO-A", "TTHC", "SMALL")].suppressed
    # ALL (13) minus BIG and MID would give SMALL: MID, the smaller shown, goes too.
    assert shown[("SO-A", "TTHC", "MID")].suppressed
    assert shown[("SO-A", "TTHC", "MID")].mean is None
    assert not shown[("SO-A", "TTHC", "BIG")].suppressed
    assert not shown[("SO-A", "TTHC", ALL)].suppressed


def test_comments_are_given_per_unit_only_where_enough_rated_it() -> None:
    sessions = [form("SMALL", ("4", "4"), comment="Cần nhanh hơn")] + [form("BIG", ("4", "4"))] * 2
    assert round_comments(PLAN, FORM, sessions, 3) == [("SO-A", "Sở A", "Cần nhanh hơn")]
    assert round_comments(PLAN, FORM, sessions, 4) == []
