"""The index method as data: a named, versioned definition read from a YAML file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from problems import ProblemsFound
from storage.counts import QUALITY_FLAGS

METHODS_DIR = Path(__file__).parent / "methods"
DEFAULT_METHOD_ID = "sipas-2023-default"
DEFAULT_EXCLUDE_WHEN: tuple[tuple[str, ...], ...] = (("repeated",), ("straight_lining", "speeding"))
"""Straight-lining alone only flags (someone satisfied with everything answers 4 or 5 to every
item); with speeding it excludes; a repeat excludes."""
DEFAULT_EXPECTATION_VALUES = ("rat_nhieu", "nhieu", "it")
DEFAULT_EXPECTATION_HIGH = ("rat_nhieu", "nhieu")
"""The expectations index of a priority: the share of its answers (Rất nhiều, Nhiều, Ít; skips
left out) that are "Rất nhiều" or "Nhiều"."""


class MethodError(ProblemsFound, ValueError):
    """A method definition that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Method:
    """How answers become indices: which values are valid, which count as satisfied, and how much.

    `satisfied` maps an answer value to the share of one satisfied answer it counts for
    (1 for 4 and 5 by default; a province may count 3 as 0.5). `element_weights` empty
    means every element weighs the same in the overall index. `exclude_when` is the
    cleaning rule: a response carrying every flag of one of its combinations is left out
    of the cleaned indices; a flag in no combination only flags. The expectations index of
    a priority (question 10) is the share of its `expectation_values` answers that are one
    of `expectation_high`.
    """

    id: str
    version: str
    questionnaire: str
    description: str
    valid_values: tuple[str, ...]
    satisfied: dict[str, float]
    element_weights: dict[str, float]
    sha256: str
    exclude_when: tuple[tuple[str, ...], ...] = DEFAULT_EXCLUDE_WHEN
    expectation_values: tuple[str, ...] = DEFAULT_EXPECTATION_VALUES
    expectation_high: tuple[str, ...] = DEFAULT_EXPECTATION_HIGH

    def element_weight(self, element_code: str) -> float:
        """The weight of one element in the overall index."""
        return self.element_weights.get(element_code, 1.0) if self.element_weights else 1.0

    def excluded_flags(self) -> frozenset[int]:
        """Every set of flags (as `storage.counts.QUALITY_FLAGS` bits) that leaves a response
        out of the cleaned indices under `exclude_when`."""
        rules = [
            sum(1 << QUALITY_FLAGS.index(flag) for flag in combination)
            for combination in self.exclude_when
        ]
        return frozenset(
            flags
            for flags in range(1 << len(QUALITY_FLAGS))
            if any(flags & rule == rule for rule in rules)
        )

    def cleaning_rule(self) -> str:
        """The cleaning rule in words, as exports and reports name it: "repeated; straight_lining
        + speeding" (combinations that exclude, separated by semicolons)."""
        return "; ".join(" + ".join(combination) for combination in self.exclude_when) or "none"


def bundled_methods() -> list[str]:
    """The ids of the method files shipped with the package."""
    return sorted(path.stem for path in METHODS_DIR.glob("*.yaml"))


def load_method(name_or_path: str | Path = DEFAULT_METHOD_ID) -> Method:
    """A bundled method by id, or a method file by path (anything ending in .yaml/.yml)."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
    else:
        path = METHODS_DIR / f"{text}.yaml"
        if not path.exists():
            known = ", ".join(bundled_methods())
            raise MethodError(f"no method {text!r}; bundled methods: {known}; or give a .yaml path")
    if not path.exists():
        raise MethodError(f"{path}: no such method file")
    return parse_method(path.read_bytes(), source=str(path))


def parse_method(data: bytes, *, source: str = "<method>") -> Method:
    """A method from the bytes of its YAML definition, checked field by field."""
    raw = yaml.safe_load(data)
    if not isinstance(raw, dict):
        raise MethodError(f"{source}: a YAML mapping with id, version, questionnaire, … expected")

    def text(field: str) -> str:
        value = raw.get(field)
        if value is None or not str(value).strip():
            raise MethodError(f"{source}: {field}: required")
        return str(value).strip()

    valid_values = tuple(str(value) for value in raw.get("valid_values") or ())
    if not valid_values:
        raise MethodError(f"{source}: valid_values: a non-empty list of answer values expected")
    satisfied = _weights(source, "satisfied", raw.get("satisfied"))
    if not satisfied:
        raise MethodError(f"{source}: satisfied: at least one value → weight expected")
    for value, weight in satisfied.items():
        if value not in valid_values:
            raise MethodError(f"{source}: satisfied: {value!r} is not one of valid_values")
        if not 0 <= weight <= 1:
            raise MethodError(f"{source}: satisfied: {value!r}: a weight from 0 to 1 expected")
    element_weights = _weights(source, "element_weights", raw.get("element_weights"))
    if any(weight < 0 for weight in element_weights.values()):
        raise MethodError(f"{source}: element_weights: weights must not be negative")
    return Method(
        exclude_when=_exclude_when(source, raw.get("exclude_when", DEFAULT_EXCLUDE_WHEN)),
        **_expectations(source, raw.get("expectations")),
        id=text("id"),
        version=text("version"),
        questionnaire=text("questionnaire"),
        description=str(raw.get("description") or "").strip(),
        valid_values=valid_values,
        satisfied=satisfied,
        element_weights=element_weights,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _weights(source: str, field: str, raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MethodError(f"{source}: {field}: a mapping of code → number expected")
    weights: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MethodError(f"{source}: {field}: {key!r}: a number expected, not {value!r}")
        weights[str(key)] = float(value)
    return weights


def _exclude_when(source: str, raw: Any) -> tuple[tuple[str, ...], ...]:
    """The cleaning rule of a method file: a list of flag combinations (each a list of flags)."""
    expected = f"a list of flag lists, flags among {', '.join(QUALITY_FLAGS)}"
    if not isinstance(raw, list | tuple):
        raise MethodError(f"{source}: exclude_when: {expected}")
    rule: list[tuple[str, ...]] = []
    for combination in raw:
        if not isinstance(combination, list | tuple) or not combination:
            raise MethodError(f"{source}: exclude_when: {expected}, not {combination!r}")
        unknown = [flag for flag in combination if flag not in QUALITY_FLAGS]
        if unknown:
            raise MethodError(f"{source}: exclude_when: unknown flag {unknown[0]!r}; {expected}")
        rule.append(tuple(sorted(set(combination), key=QUALITY_FLAGS.index)))
    return tuple(rule)


def _expectations(source: str, raw: Any) -> dict[str, tuple[str, ...]]:
    """The expectations index of a method file: `{valid_values: [...], high: [...]}`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MethodError(f"{source}: expectations: a mapping with valid_values and high expected")
    values = tuple(str(value) for value in raw.get("valid_values") or ())
    high = tuple(str(value) for value in raw.get("high") or ())
    if not values or not high:
        raise MethodError(f"{source}: expectations: valid_values and high: non-empty lists")
    if not set(high) <= set(values):
        raise MethodError(f"{source}: expectations: high: every value must be in valid_values")
    return {"expectation_values": values, "expectation_high": high}
