"""Survey round files (đợt khảo sát): questionnaire, dates, groups, targets and rated units, every problem reported."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from problems import Problem, ProblemsFound, tally
from questionnaires.loader import (
    BUNDLED_DIR,
    QuestionnaireError,
    bundled_questionnaire_paths,
    parse_questionnaire,
)
from questionnaires.model import LocalizedText, Questionnaire, RatedUnit

ROUND_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
GROUP_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# The continuous citizen survey: the round every counter's poster and per-dossier invitation
# belongs to. It is not stored; `sipas rounds list` shows it beside the stored ones.
CITIZEN_ROUND = "sipas"
EVERY_UNIT = "all"
BUNDLED_ROUNDS = BUNDLED_DIR / "rounds"  # example round files


class RoundFileError(ProblemsFound, ValueError):
    """A round file that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems, summary=f"{tally(problems)}; nothing was created")


@dataclass(frozen=True)
class RoundGroup:
    """A respondent group of a round: who they are, how many forms are wanted from them, the
    units each of them rates (in this order), and how many of those each rates (`sample`;
    None: all)."""

    code: str
    label: LocalizedText
    target: int
    rates: tuple[str, ...]
    sample: int | None = None


@dataclass(frozen=True)
class RoundPlan:
    """A validated round file."""

    code: str
    title: LocalizedText
    questionnaire: str  # a bundled questionnaire's id, or the path the file gave
    opens: date
    closes: date
    units: tuple[RatedUnit, ...]
    groups: tuple[RoundGroup, ...]
    reminder: LocalizedText | None = None  # a text the sender may send with the codes
    minimum_cell: int | None = None  # results' minimum cell (None: SIPAS_MIN_CELL_SIZE)

    def group(self, code: str) -> RoundGroup:
        """The group with this code; KeyError if there is none."""
        for group in self.groups:
            if group.code == code:
                return group
        raise KeyError(code)

    def units_of(self, group: RoundGroup) -> list[RatedUnit]:
        """The units the group rates, in order."""
        by_code = {unit.code: unit for unit in self.units}
        return [by_code[code] for code in group.rates]

    def to_json(self) -> dict[str, Any]:
        """The plan as stored with the round (and read back by `from_json`)."""
        return {
            "code": self.code,
            "title": dict(self.title),
            "questionnaire": self.questionnaire,
            "opens": self.opens.isoformat(),
            "closes": self.closes.isoformat(),
            "units": [{"code": u.code, "name": dict(u.name)} for u in self.units],
            "groups": [
                {
                    "code": g.code,
                    "label": dict(g.label),
                    "target": g.target,
                    "rates": list(g.rates),
                    "sample": g.sample,
                }
                for g in self.groups
            ],
            "reminder": dict(self.reminder) if self.reminder is not None else None,
            "minimum_cell": self.minimum_cell,
        }

    @staticmethod
    def from_json(raw: dict[str, Any]) -> RoundPlan:
        return RoundPlan(
            code=raw["code"],
            title=raw["title"],
            questionnaire=raw["questionnaire"],
            opens=date.fromisoformat(raw["opens"]),
            closes=date.fromisoformat(raw["closes"]),
            units=tuple(RatedUnit(u["code"], u["name"]) for u in raw["units"]),
            groups=tuple(
                RoundGroup(g["code"], g["label"], g["target"], tuple(g["rates"]), g["sample"])
                for g in raw["groups"]
            ),
            reminder=raw.get("reminder"),
            minimum_cell=raw.get("minimum_cell"),
        )


@dataclass(frozen=True)
class RoundFile:
    """A round file read: its plan, its questionnaire, and that questionnaire's YAML text."""

    plan: RoundPlan
    questionnaire: Questionnaire
    questionnaire_source: str


class _Reader:
    """Reads one round file, collecting every problem with where it is."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(file=self.source, column=column, message=message))

    def fields(
        self, raw: object, path: str, required: set[str], optional: set[str]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.problem(path or "(document)", "expected a mapping")
            return {}
        for key in raw:
            if key not in required | optional:
                self.problem(f"{path}{key}", "unknown field")
        for key in sorted(required - set(raw)):
            self.problem(f"{path}{key}", "required field is missing")
        return {key: value for key, value in raw.items() if key in required | optional}

    def localized(self, raw: object, path: str) -> LocalizedText | None:
        if not isinstance(raw, dict) or not raw:
            self.problem(path, "expected a text per language, e.g. {vi: ..., en: ...}")
            return None
        if not all(isinstance(text, str) and text.strip() for text in raw.values()):
            self.problem(path, "every language's text must be a non-empty string")
            return None
        if "vi" not in raw:
            self.problem(path, "missing language vi (Vietnamese first)")
            return None
        return {str(language): str(text) for language, text in raw.items()}

    def day(self, raw: object, path: str) -> date | None:
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            self.problem(path, f"expected a date YYYY-MM-DD, got {raw!r}")
            return None

    def whole(self, raw: object, path: str, smallest: int) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < smallest:
            self.problem(path, f"expected a whole number of at least {smallest}, got {raw!r}")
            return None
        return raw


def read_round_file(path: str | Path) -> RoundFile:
    """The round in a YAML file; RoundFileError lists every problem. A `questionnaire:` that
    is not a bundled id is a questionnaire file's path, relative to the round file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise RoundFileError([Problem(file=str(file), message=f"cannot read: {error}")]) from None
    return parse_round(text, file.name, base=file.parent)


def parse_round(text: str, source: str = "<string>", *, base: Path | None = None) -> RoundFile:
    """The round in `text`; RoundFileError lists every problem."""
    reader = _Reader(source)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RoundFileError([Problem(file=source, message=f"not YAML: {error}")]) from None
    top = reader.fields(
        raw,
        "",
        {"code", "title", "questionnaire", "opens", "closes", "units", "groups"},
        {"reminder", "minimum_cell"},
    )
    code = top.get("code")
    if "code" in top and not (isinstance(code, str) and ROUND_CODE.match(code)):
        reader.problem("code", "expected 1-40 lower-case letters, digits or '-', e.g. hn-2025")
        code = None
    elif code == CITIZEN_ROUND:
        reader.problem("code", f"{CITIZEN_ROUND} is the continuous citizen survey's round")
        code = None
    title = reader.localized(top["title"], "title") if "title" in top else None
    reminder = reader.localized(top["reminder"], "reminder") if "reminder" in top else None
    minimum_cell = (
        reader.whole(top["minimum_cell"], "minimum_cell", 1) if "minimum_cell" in top else None
    )
    opens = reader.day(top["opens"], "opens") if "opens" in top else None
    closes = reader.day(top["closes"], "closes") if "closes" in top else None
    if opens is not None and closes is not None and closes < opens:
        reader.problem("closes", f"{closes} is before the opening day {opens}")
    loaded = (
        _questionnaire(reader, top.get("questionnaire"), base) if "questionnaire" in top else None
    )
    units = _units(reader, top.get("units"))
    groups = _groups(reader, top.get("groups"), units)
    if loaded is not None and groups and not loaded[0].rated_unit_block():
        reader.problem(
            "questionnaire", f"{loaded[0].id} has no rated-unit block (items with per_unit: true)"
        )
    if reader.problems:
        raise RoundFileError(reader.problems)
    assert code and title and opens and closes and loaded and isinstance(top["questionnaire"], str)
    plan = RoundPlan(
        code,
        title,
        top["questionnaire"],
        opens,
        closes,
        tuple(units),
        tuple(groups),
        reminder,
        minimum_cell,
    )
    return RoundFile(plan, loaded[0], loaded[1])


def _questionnaire(
    reader: _Reader, raw: object, base: Path | None
) -> tuple[Questionnaire, str] | None:
    if not isinstance(raw, str) or not raw.strip():
        reader.problem("questionnaire", "expected a bundled questionnaire's id or a file's path")
        return None
    bundled = {path.stem: path for path in bundled_questionnaire_paths()}
    path = bundled.get(raw) or (base or Path.cwd()) / raw
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        known = ", ".join(sorted(bundled))
        reader.problem(
            "questionnaire", f"no bundled questionnaire {raw} (bundled: {known}) nor file"
        )
        return None
    try:
        return parse_questionnaire(text, source=path.name), text
    except QuestionnaireError as error:
        for problem in error.problems:
            reader.problem("questionnaire", str(problem))
        return None


def _units(reader: _Reader, raw: object) -> list[RatedUnit]:
    if not isinstance(raw, list) or not raw:
        reader.problem("units", "expected a list of the units rated: {code, name: {vi, en}}")
        return []
    units: list[RatedUnit] = []
    for index, entry in enumerate(raw):
        path = f"units[{index}]."
        fields = reader.fields(entry, path, {"code", "name"}, set())
        code = fields.get("code")
        if "code" in fields and not (isinstance(code, str) and GROUP_CODE.match(code)):
            reader.problem(f"{path}code", "expected 1-40 letters, digits, '_' or '-'")
            continue
        if any(unit.code == code for unit in units):
            reader.problem(f"{path}code", f"unit {code} is listed twice")
            continue
        name = reader.localized(fields["name"], f"{path}name") if "name" in fields else None
        if isinstance(code, str) and name is not None:
            units.append(RatedUnit(code, name))
    return units


def _groups(reader: _Reader, raw: object, units: list[RatedUnit]) -> list[RoundGroup]:
    if not isinstance(raw, list) or not raw:
        reader.problem("groups", "expected a list of respondent groups")
        return []
    known = [unit.code for unit in units]
    groups: list[RoundGroup] = []
    for index, entry in enumerate(raw):
        path = f"groups[{index}]."
        fields = reader.fields(entry, path, {"code", "label", "target", "rates"}, {"sample"})
        code = fields.get("code")
        if "code" in fields and not (isinstance(code, str) and GROUP_CODE.match(code)):
            reader.problem(f"{path}code", "expected 1-40 letters, digits, '_' or '-'")
            code = None
        elif any(group.code == code for group in groups):
            reader.problem(f"{path}code", f"group {code} is listed twice")
            code = None
        label = reader.localized(fields["label"], f"{path}label") if "label" in fields else None
        target = reader.whole(fields["target"], f"{path}target", 1) if "target" in fields else None
        rates = (
            _rates(reader, fields.get("rates"), f"{path}rates", known)
            if "rates" in fields
            else None
        )
        sample = reader.whole(fields["sample"], f"{path}sample", 1) if "sample" in fields else None
        if sample is not None and rates and sample > len(rates):
            reader.problem(f"{path}sample", f"{sample} is more than the {len(rates)} units rated")
            sample = None
        if isinstance(code, str) and label and target and rates:
            groups.append(RoundGroup(code, label, target, rates, sample))
    return groups


def _rates(reader: _Reader, raw: object, path: str, known: list[str]) -> tuple[str, ...] | None:
    if raw == EVERY_UNIT:
        return tuple(known)
    if not isinstance(raw, list) or not raw:
        reader.problem(path, f"expected '{EVERY_UNIT}' or a list of unit codes")
        return None
    unknown = [str(code) for code in raw if code not in known]
    if unknown:
        reader.problem(path, f"not among the round's units: {', '.join(unknown)}")
        return None
    if len(set(raw)) != len(raw):
        reader.problem(path, "a unit is listed twice")
        return None
    return tuple(str(code) for code in raw)
