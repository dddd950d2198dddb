"""Structured skip conditions (show_if) and their evaluation against answers so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeAlias, assert_never

Answers: TypeAlias = Mapping[str, str | None]
"""Item code → answer value; None means the respondent skipped the item."""


@dataclass(frozen=True)
class Equals:
    """Holds when `item` was answered with exactly `value`."""

    item: str
    value: str


@dataclass(frozen=True)
class IsIn:
    """Holds when `item` was answered with one of `values`."""

    item: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Answered:
    """Holds when `item` has a real answer (`answered=True`) or has none (`answered=False`).

    A skipped item (answer None) counts as not answered.
    """

    item: str
    answered: bool = True


@dataclass(frozen=True)
class AllOf:
    """Holds when every sub-condition holds."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """Holds when at least one sub-condition holds."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """Holds when the sub-condition does not."""

    condition: Condition


Condition: TypeAlias = Equals | IsIn | Answered | AllOf | AnyOf | Not


def evaluate(condition: Condition, answers: Answers) -> bool:
    """Tell whether `condition` holds for the answers given so far.

    An item that is missing from `answers` or was skipped (None) equals nothing,
    so an item shown only "if the screener says yes" stays hidden until it does.
    """
    match condition:
        case Equals(item=item, value=value):
            return answers.get(item) == value
        case IsIn(item=item, values=values):
            answer = answers.get(item)
            return answer is not None and answer in values
        case Answered(item=item, answered=answered):
            return (answers.get(item) is not None) == answered
        case AllOf(conditions=conditions):
            return all(evaluate(sub, answers) for sub in conditions)
        case AnyOf(conditions=conditions):
            return any(evaluate(sub, answers) for sub in conditions)
        case Not(condition=sub):
            return not evaluate(sub, answers)
        case _:
            assert_never(condition)


def referenced_items(condition: Condition) -> list[str]:
    """Item codes the condition reads, in order of appearance, without repeats."""
    codes: list[str] = []
    match condition:
        case Equals(item=item) | IsIn(item=item) | Answered(item=item):
            codes.append(item)
        case AllOf(conditions=conditions) | AnyOf(conditions=conditions):
            for sub in conditions:
                codes.extend(referenced_items(sub))
        case Not(condition=sub):
            codes.extend(referenced_items(sub))
        case _:
            assert_never(condition)
    return list(dict.fromkeys(codes))


def renamed_items(condition: Condition, names: Mapping[str, str]) -> Condition:
    """The same condition reading `names[code]` wherever it read an item code named there
    (a repeat of the rated-unit block reads its own answers)."""
    match condition:
        case Equals(item=item) | IsIn(item=item) | Answered(item=item):
            return replace(condition, item=names.get(item, item))
        case AllOf(conditions=conditions) | AnyOf(conditions=conditions):
            return replace(condition, conditions=tuple(renamed_items(s, names) for s in conditions))
        case Not(condition=sub):
            return Not(renamed_items(sub, names))
        case _:
            assert_never(condition)


def condition_to_json(condition: Condition) -> dict[str, Any]:
    """The plain JSON form of a condition: the same shape as in the YAML file."""
    match condition:
        case Equals(item=item, value=value):
            return {"item": item, "equals": value}
        case IsIn(item=item, values=values):
            return {"item": item, "in": list(values)}
        case Answered(item=item, answered=answered):
            return {"item": item, "answered": answered}
        case AllOf(conditions=conditions):
            return {"all": [condition_to_json(sub) for sub in conditions]}
        case AnyOf(conditions=conditions):
            return {"any": [condition_to_json(sub) for sub in conditions]}
        case Not(condition=sub):
            return {"not": condition_to_json(sub)}
        case _:
            assert_never(condition)
