"""PAR Index criteria trees as data: per scheme and year, the content areas, criteria and
sub-criteria of the Sở tree and of the UBND xã/phường tree, each with its maximum points and
how it is scored; read from YAML and checked in full, every problem reported at once.

A scheme file (`par/schemes/<scheme>-<year>.yaml`, or any .yaml path):

    scheme: hn-qd5666          # the scheme's name; with `year`, its id: hn-qd5666-2026
    year: 2026
    title: …
    example: true              # point values not confirmed against the decision
    max_points: 100            # what every tree's content areas add up to
    evidence: required         # default of every self-scored criterion (or optional)
    classification:            # bands of the index (points ÷ maximum × 100), first reached wins
      - {min_index: 90, label: Xuất sắc}
    trees:
      department:              # Sở: agencies of kind department
        title: …
        contents:              # content areas (the top-level nodes)
          - code: "1"
            title: …
            max_points: 10
            criteria:          # its criteria; a criterion may have sub-criteria the same way
              - {code: "1.1", title: …, max_points: 4, scoring: self}
      commune:                 # UBND xã/phường: commune-level units
        …

A node with `criteria` is a group: its maximum is the sum of its children's (penalties
aside). A node without is scored by its `scoring`:
- `self`: the unit scores itself with evidence, then the appraisal council adjusts;
- `bonus`: the same, and the points are added on top (within the content's maximum);
- `penalty`: the same, and the points are taken away (outside every maximum);
- `survey`: filled from one of the product's figures (`source`) through a `mapping`
  written as in the scoring schemes (`analytics.schemes.parse_mapping`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from analytics.levels import LEVELS
from analytics.schemes import PointsMapping, SchemeError, parse_mapping
from problems import Problem, ProblemsFound, tally

__all__ = [
    "FIGURES",
    "SCHEMES_DIR",
    "SCORINGS",
    "SELF_SCORED",
    "TREES",
    "TREE_LEVELS",
    "ClassBand",
    "CriteriaError",
    "CriteriaScheme",
    "CriteriaTree",
    "Criterion",
    "SurveySource",
    "bundled_criteria",
    "load_criteria",
    "parse_criteria",
]

SCHEMES_DIR = Path(__file__).parent / "schemes"

TREES = ("department", "commune")
"""The assessed kinds of unit, each with a tree of its own: Sở and UBND xã/phường."""

SCORINGS = ("self", "bonus", "penalty", "survey")
SELF_SCORED = ("self", "bonus", "penalty")
"""Scorings the unit scores itself (with evidence) and the appraisal council adjusts."""

FIGURES = {
    "satisfaction": "the SIPAS-method satisfaction index of one-stop users (overall, or an element)",
}
"""The product's figures a survey criterion can be filled from, by the name a scheme uses."""

TREE_LEVELS = {"department": ("agency", "authority"), "commune": ("commune", "authority")}
"""The aggregation levels that name an assessed unit of each tree, where analytics has them
(`authority`, the competent authority of a procedure, is accepted once it is a level)."""

EVIDENCE = ("required", "optional")
_CODE = re.compile(r"[A-Za-z0-9._-]{1,32}")
_TOLERANCE = 0.005  # points are written with at most 2 decimals


class CriteriaError(ProblemsFound, ValueError):
    """A criteria file that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            problems,
            summary=f"{tally(problems)}: not a usable criteria file "
            "(`sipas par check FILE` after fixing it)",
        )


@dataclass(frozen=True)
class SurveySource:
    """Which figure fills a survey criterion: `figure` (see FIGURES) at `level` for the
    assessed unit, overall or of one `element`, for the assessment year."""

    figure: str
    level: str
    element: str | None = None

    def describe(self) -> str:
        part = f"element {self.element}" if self.element else "overall"
        return f"{self.figure} ({part}, level {self.level})"


@dataclass(frozen=True)
class Criterion:
    """A node of a criteria tree: a group of criteria, or a criterion scored one way."""

    code: str
    title: str
    max_points: float
    scoring: str | None = None  # None for a group; one of SCORINGS for a scored criterion
    evidence_required: bool = False
    source: SurveySource | None = None
    mapping: PointsMapping | None = None
    children: tuple[Criterion, ...] = ()

    def leaves(self) -> Iterator[Criterion]:
        """The scored criteria at or below this node, in order."""
        if self.scoring is not None:
            yield self
        for child in self.children:
            yield from child.leaves()

    def nodes(self, depth: int = 0) -> Iterator[tuple[int, Criterion]]:
        """This node and every node below it with its depth, in order."""
        yield depth, self
        for child in self.children:
            yield from child.nodes(depth + 1)


@dataclass(frozen=True)
class CriteriaTree:
    """The criteria of one kind of assessed unit: its content areas, in order."""

    kind: str  # one of TREES
    title: str
    contents: tuple[Criterion, ...]

    @property
    def max_points(self) -> float:
        return round(sum(content.max_points for content in self.contents), 2)

    def leaves(self) -> Iterator[Criterion]:
        for content in self.contents:
            yield from content.leaves()

    def nodes(self) -> Iterator[tuple[int, Criterion]]:
        for content in self.contents:
            yield from content.nodes()

    def criterion(self, code: str) -> Criterion | None:
        """The node with this code, or None."""
        return next((node for _, node in self.nodes() if node.code == code), None)

    def content_of(self, code: str) -> Criterion:
        """The content area a node belongs to."""
        for content in self.contents:
            if any(node.code == code for _, node in content.nodes()):
                return content
        raise KeyError(code)


@dataclass(frozen=True)
class ClassBand:
    """Indices at or above `min_index` are classified `label` (the first band reached wins)."""

    min_index: float
    label: str


@dataclass(frozen=True)
class CriteriaScheme:
    """A scheme's criteria for one year: a tree per assessed kind, classification bands, and
    the file's text and SHA-256 (an assessment year keeps both, so it never changes under it)."""

    name: str
    year: int
    title: str
    example: bool
    max_points: float
    classification: tuple[ClassBand, ...]
    trees: dict[str, CriteriaTree]
    text: str
    sha256: str

    @property
    def id(self) -> str:
        return f"{self.name}-{self.year}"

    def classify(self, index: float) -> str | None:
        """The label of the first band an index reaches, or None below every band."""
        return next((band.label for band in self.classification if index >= band.min_index), None)


def bundled_criteria() -> list[str]:
    """The ids of the criteria files shipped with the package (scheme-year)."""
    return sorted(path.stem for path in SCHEMES_DIR.glob("*.yaml"))


def load_criteria(
    name_or_path: str | Path, *, year: int | None = None, elements: Collection[str] | None = None
) -> CriteriaScheme:
    """A bundled scheme by name (with `year`) or id, or a criteria file by path (.yaml/.yml).

    CriteriaError when the file is missing, unusable, or for another year than `year`.
    """
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")):
        name, path = text, Path(text)
    else:
        name = text if year is None or text.endswith(f"-{year}") else f"{text}-{year}"
        path = SCHEMES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(bundled_criteria()) or "none"
        raise CriteriaError(
            [
                Problem(
                    file=name,
                    message="no such criteria file",
                    hint=f"bundled: {known}; or give a .yaml path",
                )
            ]
        )
    scheme = parse_criteria(path.read_text(encoding="utf-8"), source=str(path), elements=elements)
    if year is not None and scheme.year != year:
        raise CriteriaError(
            [
                Problem(
                    file=str(path),
                    column="year",
                    message=f"the file is for {scheme.year}, not {year}",
                )
            ]
        )
    return scheme


def parse_criteria(
    text: str, *, source: str = "<criteria>", elements: Collection[str] | None = None
) -> CriteriaScheme:
    """A scheme from its YAML text; CriteriaError listing every problem.

    `elements`, when given, are the element codes a satisfaction source may name (those of
    the method's questionnaire).
    """
    checker = _Checker(source, elements)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CriteriaError([Problem(file=source, message=f"not YAML: {error}")]) from None
    scheme = checker.scheme(raw, text)
    if checker.problems or scheme is None:
        raise CriteriaError(checker.problems)
    return scheme


class _Checker:
    """Reads a criteria file, noting every problem as (path, message) on the way."""

    def __init__(self, source: str, elements: Collection[str] | None) -> None:
        self.source = source
        self.elements = elements
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(
            Problem(file=self.source, column=path or "(document)", message=message)
        )

    def fields(
        self, raw: object, path: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, object] | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a mapping, got {_kind(raw)}")
            return None
        for key in raw:
            if key not in required + optional:
                self.problem(_join(path, str(key)), "unknown field")
        for key in required:
            if key not in raw:
                self.problem(_join(path, key), "required field is missing")
        return {str(key): value for key, value in raw.items()}

    def text(self, raw: object, path: str) -> str:
        if isinstance(raw, str | int | float) and not isinstance(raw, bool) and str(raw).strip():
            return str(raw).strip()
        self.problem(path, f"expected text, got {_kind(raw)}")
        return ""

    def number(self, raw: object, path: str, *, minimum: float = 0.0) -> float | None:
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            if raw < minimum:
                self.problem(path, f"{raw:g} is below {minimum:g}")
                return None
            return float(raw)
        self.problem(path, f"expected a number, got {_kind(raw)}")
        return None

    def scheme(self, raw: object, text: str) -> CriteriaScheme | None:
        required = ("scheme", "year", "title", "max_points", "trees")
        optional = ("example", "description", "evidence", "classification")
        fields = self.fields(raw, "", required, optional)
        if fields is None:
            return None
        name = self.text(fields.get("scheme"), "scheme")
        title = self.text(fields.get("title"), "title")
        if name and not _CODE.fullmatch(name):
            self.problem("scheme", f"{name!r} must be letters, digits, '.', '_' or '-'")
        raw_year = fields.get("year")
        year = raw_year if isinstance(raw_year, int) and not isinstance(raw_year, bool) else 0
        if not 2000 <= year <= 2100:
            self.problem("year", f"expected a year such as 2026, got {raw_year!r}")
        max_points = self.number(fields.get("max_points"), "max_points", minimum=0.01)
        evidence = fields.get("evidence", "required")
        if evidence not in EVIDENCE:
            self.problem("evidence", f"expected required or optional, got {evidence!r}")
        example = fields.get("example", False)
        if not isinstance(example, bool):
            self.problem("example", f"expected true or false, got {_kind(example)}")
        trees: dict[str, CriteriaTree] = {}
        raw_trees = fields.get("trees")
        if not isinstance(raw_trees, dict) or not raw_trees:
            self.problem("trees", f"expected a mapping with {' and/or '.join(TREES)}")
        else:
            for kind, raw_tree in raw_trees.items():
                path = f"trees.{kind}"
                if kind not in TREES:
                    self.problem(path, f"unknown tree (expected {' or '.join(TREES)})")
                    continue
                tree = self.tree(str(kind), raw_tree, path, evidence == "required")
                if tree is None:
                    continue
                trees[str(kind)] = tree
                if max_points is not None and abs(tree.max_points - max_points) > _TOLERANCE:
                    self.problem(
                        f"{path}.contents",
                        f"the content areas add up to {tree.max_points:g}, "
                        f"not max_points {max_points:g}",
                    )
        classification = self.classification(fields.get("classification", []))
        if self.problems or max_points is None:
            return None
        return CriteriaScheme(
            name=name,
            year=year,
            title=title,
            example=bool(example),
            max_points=max_points,
            classification=classification,
            trees=trees,
            text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )

    def classification(self, raw: object) -> tuple[ClassBand, ...]:
        if not isinstance(raw, list):
            self.problem("classification", f"expected a list of bands, got {_kind(raw)}")
            return ()
        bands: list[ClassBand] = []
        for number, raw_band in enumerate(raw):
            path = f"classification[{number}]"
            fields = self.fields(raw_band, path, ("min_index", "label"), ())
            if fields is None:
                continue
            low = self.number(fields.get("min_index"), f"{path}.min_index")
            label = self.text(fields.get("label"), f"{path}.label")
            if low is not None and low > 100:
                self.problem(f"{path}.min_index", f"{low:g} is above 100")
            if low is not None and label:
                bands.append(ClassBand(low, label))
        for low, seen in Counter(band.min_index for band in bands).items():
            if seen > 1:
                self.problem("classification", f"min_index {low:g} appears {seen} times")
        return tuple(sorted(bands, key=lambda band: -band.min_index))

    def tree(
        self, kind: str, raw: object, path: str, evidence_required: bool
    ) -> CriteriaTree | None:
        fields = self.fields(raw, path, ("title", "contents"), ())
        if fields is None:
            return None
        title = self.text(fields.get("title"), f"{path}.title")
        raw_contents = fields.get("contents")
        if not isinstance(raw_contents, list) or not raw_contents:
            self.problem(f"{path}.contents", "expected a list of content areas")
            return None
        contents = [
            self.node(raw_node, f"{path}.contents[{number}]", kind, evidence_required)
            for number, raw_node in enumerate(raw_contents)
        ]
        tree = CriteriaTree(kind, title, tuple(node for node in contents if node is not None))
        for code, seen in Counter(node.code for _, node in tree.nodes()).items():
            if seen > 1:
                self.problem(path, f"code {code!r} appears {seen} times (one node, one code)")
        return tree

    def node(self, raw: object, path: str, kind: str, evidence_required: bool) -> Criterion | None:
        optional = ("criteria", "scoring", "evidence", "source", "mapping")
        fields = self.fields(raw, path, ("code", "title", "max_points"), optional)
        if fields is None:
            return None
        code = self.text(fields.get("code"), f"{path}.code")
        if code and not _CODE.fullmatch(code):
            self.problem(f"{path}.code", f"{code!r} must be 1–32 letters, digits, '.', '_' or '-'")
        title = self.text(fields.get("title"), f"{path}.title")
        max_points = self.number(fields.get("max_points"), f"{path}.max_points")
        evidence = fields.get("evidence", "required" if evidence_required else "optional")
        if evidence not in EVIDENCE:
            self.problem(f"{path}.evidence", f"expected required or optional, got {evidence!r}")
        raw_children = fields.get("criteria")
        if raw_children is not None:
            return self.group(fields, path, kind, evidence == "required", code, title, max_points)
        scoring = fields.get("scoring")
        if scoring not in SCORINGS:
            self.problem(
                f"{path}.scoring",
                f"expected {', '.join(SCORINGS)} (or criteria below it), got {scoring!r}",
            )
            return None
        if max_points is not None and max_points <= 0:
            self.problem(f"{path}.max_points", "a scored criterion needs more than 0 points")
        source = mapping = None
        if scoring == "survey":
            source = self.survey_source(fields.get("source"), f"{path}.source", kind)
            if "mapping" not in fields:
                self.problem(f"{path}.mapping", "a survey criterion needs a mapping")
            elif max_points is not None:
                try:
                    mapping = parse_mapping(fields["mapping"], max_points)
                except SchemeError as error:
                    self.problem(f"{path}.mapping", str(error))
        else:
            for field in ("source", "mapping"):
                if field in fields:
                    self.problem(f"{path}.{field}", f"only a survey criterion has a {field}")
        return Criterion(
            code,
            title,
            max_points or 0.0,
            str(scoring),
            evidence == "required" and scoring in SELF_SCORED,
            source,
            mapping,
        )

    def group(
        self,
        fields: dict[str, object],
        path: str,
        kind: str,
        evidence_required: bool,
        code: str,
        title: str,
        max_points: float | None,
    ) -> Criterion | None:
        for field in ("scoring", "source", "mapping"):
            if field in fields:
                self.problem(
                    f"{path}.{field}", "a node with criteria below it is not scored itself"
                )
        raw_children = fields["criteria"]
        if not isinstance(raw_children, list) or not raw_children:
            self.problem(f"{path}.criteria", "expected a list of criteria")
            return None
        children = tuple(
            child
            for number, raw_child in enumerate(raw_children)
            if (
                child := self.node(raw_child, f"{path}.criteria[{number}]", kind, evidence_required)
            )
            is not None
        )
        if len(children) == len(raw_children) and max_points is not None:
            total = round(
                sum(child.max_points for child in children if child.scoring != "penalty"), 2
            )
            if abs(total - max_points) > _TOLERANCE:
                self.problem(
                    f"{path}.max_points",
                    f"{max_points:g}, but its criteria add up to {total:g} (penalties aside)",
                )
        return Criterion(code, title, max_points or 0.0, children=children)

    def survey_source(self, raw: object, path: str, kind: str) -> SurveySource | None:
        fields = self.fields(raw, path, ("figure", "level"), ("element",))
        if fields is None:
            return None
        figure = fields.get("figure")
        level = fields.get("level")
        element = fields.get("element")
        known = True
        if figure not in FIGURES:
            self.problem(
                f"{path}.figure", f"unknown source {figure!r} (known: {', '.join(FIGURES)})"
            )
            known = False
        levels = [level_ for level_ in TREE_LEVELS[kind] if level_ in LEVELS]
        if level not in levels:
            self.problem(
                f"{path}.level",
                f"{level!r} does not name a unit of this tree (expected {' or '.join(levels)})",
            )
            known = False
        if element is not None and (
            not isinstance(element, str)
            or (self.elements is not None and element not in self.elements)
        ):
            expected = ", ".join(self.elements) if self.elements is not None else "an element code"
            self.problem(f"{path}.element", f"unknown element {element!r} (expected {expected})")
            known = False
        if not known:
            return None
        return SurveySource(str(figure), str(level), element if isinstance(element, str) else None)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(raw: object) -> str:
    if raw is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(raw), type(raw).__name__
    )
