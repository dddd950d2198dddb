"""Scorecard results, pure arithmetic: each criterion's points (the appraised score, else the
unit's own; a survey criterion's mapped figure), per content area, total, index, ranking and
classification.

- A criterion counts the council's latest adjustment when there is one, else the self
  score; a penalty's points are taken away. A survey criterion counts the scheme's mapping
  of its figure; a suppressed or missing figure gives no points and is shown as such.
- A content area's points are its criteria's; the total is the content areas' (never below
  0); the index is total ÷ maximum × 100, 2 decimals.
- The ranking is per tree (Sở among Sở, xã/phường among xã/phường) by total points; units
  with the same points share a place and the next place is skipped (1, 2, 2, 4).
- The classification is the first band of the scheme the index reaches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from par.assessment import Assessment
from par.criteria import TREES, Criterion
from par.survey import MISSING, FigureKey, SurveyFigure, figure_key
from storage.par import AppraisalRecord, ScorecardRecord, SelfScoreRecord

__all__ = [
    "LINE_STATES",
    "TREE_LEVEL",
    "ContentScore",
    "CriterionLine",
    "ScorecardResult",
    "in_scope",
    "score_assessment",
]

TREE_LEVEL = {"department": "agency", "commune": "commune"}
"""The level a scorecard's unit has in a staff member's scope (`storage.staff.Scope`)."""

LINE_STATES = ("group", "appraised", "self", "unscored", "shown", "suppressed", "missing")
"""group: the sum of the criteria below; appraised / self: points from the council's latest
adjustment / the unit's own score; unscored: neither yet; shown / suppressed / missing: a
survey criterion's figure."""


@dataclass(frozen=True)
class CriterionLine:
    """One row of a scorecard: a group of criteria, or a criterion with every score it has.

    `points` is what the row adds to the total (negative for a penalty), None when it has
    none yet.
    """

    code: str
    title: str
    depth: int
    scoring: str | None
    max_points: float
    state: str
    points: float | None = None
    self_points: float | None = None
    evidence: str | None = None
    note: str | None = None
    appraised_points: float | None = None
    appraisal_reason: str | None = None
    appraised_by: str | None = None
    figure: SurveyFigure | None = None


@dataclass(frozen=True)
class ContentScore:
    """A content area's points out of its maximum."""

    code: str
    title: str
    max_points: float
    points: float

    @property
    def index(self) -> float | None:
        """Points ÷ maximum × 100 (None for an area of penalties only, whose maximum is 0)."""
        return round(self.points / self.max_points * 100, 2) if self.max_points else None


@dataclass(frozen=True)
class ScorecardResult:
    """One unit's result in its year."""

    year: int
    tree: str
    unit_code: str
    unit_name: str
    points: float
    max_points: float
    index: float
    rank: int
    ranked: int  # units in the tree's ranking
    classification: str | None
    contents: tuple[ContentScore, ...]
    lines: tuple[CriterionLine, ...]

    @property
    def unscored(self) -> int:
        """Criteria that add nothing yet: not scored, or a survey figure suppressed or missing."""
        return sum(line.state in ("unscored", "suppressed", "missing") for line in self.lines)


def in_scope(allows: Callable[[str, str], bool]) -> Callable[[ScorecardResult], bool]:
    """Whether a scope (as `Scope.allows`) lets its holder see a scorecard."""
    return lambda result: allows(TREE_LEVEL[result.tree], result.unit_code)


class _Scorer:
    """Scores one unit's criteria from what is stored for it."""

    def __init__(
        self,
        scorecard: ScorecardRecord,
        scores: Mapping[str, SelfScoreRecord],
        latest: Mapping[str, AppraisalRecord],
        figures: Mapping[FigureKey, SurveyFigure],
    ) -> None:
        self.scorecard = scorecard
        self.scores = scores
        self.latest = latest
        self.figures = figures
        self.lines: list[CriterionLine] = []

    def node(self, criterion: Criterion, depth: int) -> float | None:
        """Add the node's line (and its children's, after it); its points."""
        if criterion.scoring is None:
            at = len(self.lines)
            # The group's line goes before its criteria's, and its points are known after them.
            self.lines.append(
                CriterionLine(criterion.code, criterion.title, depth, None, 0, "group")
            )
            known = [
                points
                for child in criterion.children
                if (points := self.node(child, depth + 1)) is not None
            ]
            total = round(sum(known), 2) if known else None
            self.lines[at] = CriterionLine(
                criterion.code, criterion.title, depth, None, criterion.max_points, "group", total
            )
            return total
        line = self.leaf(criterion, depth)
        self.lines.append(line)
        return line.points

    def leaf(self, criterion: Criterion, depth: int) -> CriterionLine:
        head = (criterion.code, criterion.title, depth, criterion.scoring, criterion.max_points)
        if criterion.source is not None and criterion.mapping is not None:
            figure = self.figures.get(
                figure_key(criterion.source, self.scorecard.unit_code), MISSING
            )
            points = (
                criterion.mapping.points(figure.index_pct)
                if figure.state == "shown" and figure.index_pct is not None
                else None
            )
            return CriterionLine(*head, figure.state, points, figure=figure)
        score = self.scores.get(criterion.code)
        adjustment = self.latest.get(criterion.code)
        if adjustment is not None:
            state, given = "appraised", adjustment.points
        elif score is not None:
            state, given = "self", score.points
        else:
            state, given = "unscored", None
        sign = -1 if criterion.scoring == "penalty" else 1
        return CriterionLine(
            *head,
            state,
            None if given is None else round(sign * given, 2),
            self_points=score.points if score else None,
            evidence=score.evidence if score else None,
            note=score.note if score else None,
            appraised_points=adjustment.points if adjustment else None,
            appraisal_reason=adjustment.reason if adjustment else None,
            appraised_by=adjustment.staff_name if adjustment else None,
        )


def score_assessment(
    assessment: Assessment,
    scores: Sequence[SelfScoreRecord],
    history: Sequence[AppraisalRecord],
    figures: Mapping[FigureKey, SurveyFigure],
) -> list[ScorecardResult]:
    """Every scorecard's result, by tree, then place, then unit code."""
    by_unit: dict[str, dict[str, SelfScoreRecord]] = {}
    for score in scores:
        by_unit.setdefault(score.unit_code, {})[score.criterion_code] = score
    latest: dict[str, dict[str, AppraisalRecord]] = {}
    for entry in history:  # oldest first: the last one of a criterion stays
        latest.setdefault(entry.unit_code, {})[entry.criterion_code] = entry
    unranked: list[ScorecardResult] = []
    for scorecard in assessment.scorecards:
        tree = assessment.tree(scorecard)
        scorer = _Scorer(
            scorecard,
            by_unit.get(scorecard.unit_code, {}),
            latest.get(scorecard.unit_code, {}),
            figures,
        )
        contents = tuple(
            ContentScore(
                content.code, content.title, content.max_points, scorer.node(content, 0) or 0.0
            )
            for content in tree.contents
        )
        total = round(max(0.0, sum(content.points for content in contents)), 2)
        index = round(total / tree.max_points * 100, 2)
        unranked.append(
            ScorecardResult(
                assessment.year,
                scorecard.tree,
                scorecard.unit_code,
                scorecard.unit_name,
                total,
                tree.max_points,
                index,
                0,
                0,
                assessment.scheme.classify(index),
                contents,
                tuple(scorer.lines),
            )
        )
    return _ranked(unranked)


def _ranked(results: list[ScorecardResult]) -> list[ScorecardResult]:
    ranked: list[ScorecardResult] = []
    for tree in TREES:
        members = [result for result in results if result.tree == tree]
        for result in members:
            above = sum(other.points > result.points for other in members)
            ranked.append(replace(result, rank=above + 1, ranked=len(members)))
    return sorted(
        ranked, key=lambda result: (TREES.index(result.tree), result.rank, result.unit_code)
    )
