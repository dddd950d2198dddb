"""PAR scoring schemes as files: how many points an index earns, for which scope and level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from problems import ProblemsFound

SCHEMES_DIR = Path(__file__).parent / "schemes"


class SchemeError(ProblemsFound, ValueError):
    """A scoring scheme that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Band:
    """Indices at or above `min_index` earn `points` (the first band reached wins)."""

    min_index: float
    points: float


@dataclass(frozen=True)
class PointsMapping:
    """How an index (0–100) becomes points out of `max_points`: linear between `from_index`
    (0 points) and `to_index` (all of them), or banded (the first band reached wins).

    Scoring schemes use one for the satisfaction criterion; the PAR criteria trees use one
    per survey-sourced criterion (`par.criteria`), written the same way.
    """

    max_points: float
    kind: str  # linear | banded
    from_index: float = 0.0
    to_index: float = 100.0
    bands: tuple[Band, ...] = ()

    def points(self, index_pct: float) -> float:
        """The points one index earns, rounded to 2 decimals."""
        if self.kind == "linear":
            share = (index_pct - self.from_index) / (self.to_index - self.from_index)
            return round(self.max_points * min(1.0, max(0.0, share)), 2)
        for band in self.bands:
            if index_pct >= band.min_index:
                return round(band.points, 2)
        return 0.0


@dataclass(frozen=True)
class ScoringScheme:
    """Maximum points and the mapping from an index (0–100) to points, per scope and levels."""

    id: str
    description: str
    example: bool
    scope: str
    levels: tuple[str, ...]
    mapping: PointsMapping

    @property
    def max_points(self) -> float:
        return self.mapping.max_points

    def points(self, index_pct: float) -> float:
        """The points one index earns, rounded to 2 decimals."""
        return self.mapping.points(index_pct)

    def add_points(self, table: pd.DataFrame) -> pd.DataFrame:
        """The table with a `points` column: filled where the scheme applies and an index is shown."""
        applies = (
            (table["scope"] == self.scope)
            & table["level"].isin(self.levels)
            & table["index_pct"].notna()
        )
        points = (
            table["index_pct"]
            .where(applies)
            .map(lambda value: math.nan if pd.isna(value) else self.points(float(value)))
        )
        return table.assign(points=points.astype("float64"))


def bundled_schemes() -> list[str]:
    """The ids of the scheme files shipped with the package."""
    return sorted(path.stem for path in SCHEMES_DIR.glob("*.yaml"))


def load_scheme(name_or_path: str | Path) -> ScoringScheme:
    """A bundled scheme by id, or a scheme file by path (anything ending in .yaml/.yml)."""
    text = str(name_or_path)
    path = Path(text) if text.endswith((".yaml", ".yml")) else SCHEMES_DIR / f"{text}.yaml"
    if not path.exists():
        known = ", ".join(bundled_schemes())
        raise SchemeError(f"no scoring scheme {text!r}; bundled: {known}; or give a .yaml path")
    return parse_scheme(path.read_text(encoding="utf-8"), source=str(path))


def parse_mapping(raw: object, max_points: float) -> PointsMapping:
    """A `mapping:` block (kind linear with from_index/to_index, or banded with bands) giving
    at most `max_points`; SchemeError saying what is wrong with it otherwise."""
    if not isinstance(raw, dict):
        raise SchemeError("expected a mapping with kind linear or banded")
    try:
        kind = str(raw["kind"])
        low = float(raw.get("from_index", 0))
        high = float(raw.get("to_index", 100))
        bands = tuple(
            sorted(
                (Band(float(band["min_index"]), float(band["points"])) for band in raw["bands"]),
                key=lambda band: -band.min_index,
            )
            if kind == "banded"
            else ()
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SchemeError(f"missing or malformed field {error}") from None
    if kind == "linear":
        if not low < high:
            raise SchemeError("from_index must be below to_index")
        return PointsMapping(max_points, kind, from_index=low, to_index=high)
    if kind == "banded":
        if not bands:
            raise SchemeError("bands: give at least one band")
        if any(not 0 <= band.points <= max_points for band in bands):
            raise SchemeError(f"a band gives points outside 0–{max_points:g}")
        return PointsMapping(max_points, kind, bands=bands)
    raise SchemeError(f"kind must be linear or banded, not {kind!r}")


def parse_scheme(data: str, *, source: str = "<scheme>") -> ScoringScheme:
    """A scheme from its YAML text, checked field by field."""
    raw = yaml.safe_load(data)
    if not isinstance(raw, dict):
        raise SchemeError(
            f"{source}: a YAML mapping with id, max_points, applies_to, mapping expected"
        )
    try:
        applies = raw["applies_to"]
        mapping = raw["mapping"]
        max_points = float(raw["max_points"])
        scheme_id = str(raw["id"])
        scope = str(applies.get("scope", "overall"))
        levels = tuple(str(level) for level in applies["levels"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SchemeError(f"{source}: missing or malformed field {error}") from None
    return ScoringScheme(
        scheme_id,
        str(raw.get("description", "")).strip(),
        bool(raw.get("example", False)),
        scope,
        levels,
        _mapping(mapping, max_points, source),
    )


def _mapping(raw: object, max_points: float, source: str) -> PointsMapping:
    try:
        return parse_mapping(raw, max_points)
    except SchemeError as error:
        raise SchemeError(f"{source}: mapping: {error}") from None
