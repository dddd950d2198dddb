"""Read a questionnaire YAML file, check it, and report every problem at once."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import yaml

from problems import Problem, ProblemsFound, tally
from questionnaires.choices import BACK, MAX_CHOICE_DATA_BYTES, SKIP, answer_data, choice_data
from questionnaires.conditions import (
    AllOf,
    Answered,
    AnyOf,
    Condition,
    Equals,
    IsIn,
    Not,
    referenced_items,
)
from questionnaires.model import (
    DEFAULT_TEXT_MAX_LENGTH,
    SATISFACTION_VALUES,
    UNIT_PLACEHOLDER,
    Consent,
    Element,
    Item,
    ItemType,
    LocalizedText,
    Option,
    Questionnaire,
    ResultMoment,
    Scale,
    Section,
)

DEFAULT_QUESTIONNAIRE_ID = "sipas-2023"
BUNDLED_DIR = Path(__file__).parent / "bundled"

# Codes and values travel in chat callback data (Telegram allows 64 bytes) and in
# export column names, so they stay short and plain.
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_YES_NO_VALUES = ["yes", "no"]
_BUILTIN_YES_NO = Scale(
    "yes_no",
    (Option("yes", {"vi": "Có", "en": "Yes"}), Option("no", {"vi": "Không", "en": "No"})),
)


class QuestionnaireError(ProblemsFound, ValueError):
    """A questionnaire file that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems, summary=tally(problems))


@dataclass(frozen=True)
class _Reference:
    """A leaf of a show_if condition, kept to check it once every item is known."""

    path: str
    item: str
    values: tuple[str, ...]


class _Checker:
    """Collects problems, each located by its path in the file, while the file is read."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ()

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(file=self.source, column=path, message=message))

    def mapping(
        self, raw: object, path: str, required: set[str], optional: set[str]
    ) -> dict[str, object] | None:
        if not isinstance(raw, dict):
            self.problem(path or "(document)", f"expected a mapping, got {_kind(raw)}")
            return None
        result: dict[str, object] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or key not in required | optional:
                self.problem(_join(path, str(key)), "unknown field")
            else:
                result[key] = value
        for key in [k for k in _ordered(required) if k not in result]:
            self.problem(_join(path, key), "required field is missing")
        return result

    def string(self, raw: object, path: str) -> str | None:
        if isinstance(raw, str) and raw.strip():
            return raw
        self.problem(path, f"expected a non-empty string, got {_kind(raw)}")
        return None

    def token(self, raw: object, path: str) -> str | None:
        """A code or option value; YAML ints become strings, YAML booleans yes/no."""
        # PyYAML reads unquoted yes/no as booleans (YAML 1.1); mapping them back
        # saves authors a classic trap with yes_no values.
        if isinstance(raw, bool):
            token = "yes" if raw else "no"
        elif isinstance(raw, int):
            token = str(raw)
        elif isinstance(raw, str):
            token = raw
        else:
            self.problem(path, f"expected a string, got {_kind(raw)} (quote it)")
            return None
        if not _TOKEN.match(token):
            self.problem(path, f"{token!r} must be 1-32 letters, digits, '_', '.' or '-'")
            return None
        return token

    def boolean(self, raw: object, path: str) -> bool | None:
        if isinstance(raw, bool):
            return raw
        self.problem(path, f"expected true or false, got {_kind(raw)}")
        return None

    def localized(self, raw: object, path: str) -> LocalizedText | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a mapping of language to text, got {_kind(raw)}")
            return None
        texts: dict[str, str] = {}
        for language, text in raw.items():
            # Without a valid language list every label would be reported: say it once.
            if self.languages and language not in self.languages:
                self.problem(path, f"language {language} is not declared in languages")
                continue
            checked = self.string(text, _join(path, str(language)))
            if checked is not None:
                texts[str(language)] = checked
        for language in self.languages:
            if language not in raw:
                self.problem(path, f"missing language {language}")
        return texts

    def options(self, raw: object, path: str) -> tuple[Option, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(path, f"expected a non-empty list of options, got {_kind(raw)}")
            return None
        options: list[Option] = []
        seen: set[str] = set()
        for index, raw_option in enumerate(raw):
            option_path = f"{path}[{index}]"
            fields = self.mapping(raw_option, option_path, {"value", "label"}, set())
            if fields is None:
                continue
            value = (
                self.token(fields.get("value"), _join(option_path, "value"))
                if "value" in fields
                else None
            )
            label = (
                self.localized(fields.get("label"), _join(option_path, "label"))
                if "label" in fields
                else None
            )
            if value is not None and value in seen:
                self.problem(_join(option_path, "value"), f"duplicate option value {value}")
            elif value is not None and label is not None:
                seen.add(value)
                options.append(Option(value, label))
        return tuple(options)


def _kind(raw: object) -> str:
    if raw is None:
        return "nothing"
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, str):
        return "an empty string" if not raw.strip() else f"the string {raw!r}"
    if isinstance(raw, int | float):
        return f"the number {raw!r}"
    return type(raw).__name__


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def _ordered(keys: set[str]) -> list[str]:
    order = [
        "id",
        "version",
        "title",
        "languages",
        "consent",
        "elements",
        "items",
        "code",
        "type",
        "text",
    ]
    return sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))


def parse_questionnaire(text: str, source: str = "<string>") -> Questionnaire:
    """Build a questionnaire from YAML text; QuestionnaireError lists every problem."""
    checker = _Checker(source)
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = (
            f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(document)"
        )
        checker.problem(where, f"YAML syntax error: {error.problem or error.context}")
        raise QuestionnaireError(checker.problems) from None
    except yaml.YAMLError as error:
        checker.problem("(document)", f"YAML error: {error}")
        raise QuestionnaireError(checker.problems) from None
    questionnaire = _read_questionnaire(checker, raw)
    if checker.problems or questionnaire is None:
        raise QuestionnaireError(checker.problems)
    return questionnaire


def load_questionnaire(path: str | Path) -> Questionnaire:
    """Load and check one questionnaire file; QuestionnaireError lists every problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionnaireError(
            [Problem(file=file.name, column="(file)", message=f"cannot be read: {error}")]
        ) from None
    return parse_questionnaire(text, source=file.name)


def bundled_questionnaire_paths() -> list[Path]:
    """The questionnaire files shipped with the package, one per questionnaire version."""
    return sorted(BUNDLED_DIR.glob("*.yaml"))


def load_bundled(id: str | None = None) -> Questionnaire:
    """A bundled questionnaire by id (file name without .yaml); the default is sipas-2023.

    Loaded once per process. KeyError if no bundled file has that id.
    """
    return _load_bundled_by_id(id or DEFAULT_QUESTIONNAIRE_ID)


@cache
def _load_bundled_by_id(wanted: str) -> Questionnaire:
    for path in bundled_questionnaire_paths():
        if path.stem == wanted:
            questionnaire = load_questionnaire(path)
            if questionnaire.id != wanted:
                raise QuestionnaireError(
                    [
                        Problem(
                            file=path.name,
                            column="id",
                            message=f"{questionnaire.id} does not match the file name {wanted}",
                        )
                    ]
                )
            return questionnaire
    known = ", ".join(path.stem for path in bundled_questionnaire_paths())
    raise KeyError(f"no bundled questionnaire {wanted!r} (bundled: {known})")


def _read_questionnaire(checker: _Checker, raw: object) -> Questionnaire | None:
    top = checker.mapping(
        raw,
        "",
        {"id", "version", "title", "languages", "consent", "elements", "items"},
        {"method_note", "scales", "skip_label", "result_moment", "sections"},
    )
    if top is None:
        return None
    id_ = checker.token(top["id"], "id") if "id" in top else None
    version = checker.string(top["version"], "version") if "version" in top else None
    method_note = (
        checker.string(top["method_note"], "method_note") if "method_note" in top else None
    )

    languages = _read_languages(checker, top.get("languages")) if "languages" in top else None
    checker.languages = languages or ()
    title = checker.localized(top["title"], "title") if "title" in top else None
    skip_label: LocalizedText | None = (
        checker.localized(top["skip_label"], "skip_label")
        if "skip_label" in top
        else {"vi": "Không trả lời", "en": "Skip"}
    )
    consent = _read_consent(checker, top["consent"]) if "consent" in top else None
    scales = _read_scales(checker, top.get("scales", {}))
    elements = _read_elements(checker, top["elements"]) if "elements" in top else None
    declared = _read_sections(checker, top["sections"]) if "sections" in top else ()
    items = _read_items(checker, top["items"], scales, elements or ()) if "items" in top else None
    sections: tuple[Section, ...] | None = None
    if items is not None and elements is not None and declared is not None:
        sections, items = _place_in_sections(
            checker, top["items"], items, elements, declared, title or {}
        )
    result_moment = (
        _read_result_moment(checker, top["result_moment"], items or ())
        if "result_moment" in top
        else None
    )

    if (
        id_ is None
        or version is None
        or languages is None
        or title is None
        or consent is None
        or elements is None
        or items is None
        or sections is None
        or skip_label is None
    ):
        return None
    return Questionnaire(
        id=id_,
        version=version,
        title=title,
        languages=languages,
        consent=consent,
        elements=elements,
        items=items,
        scales=scales,
        sections=sections,
        method_note=method_note,
        skip_label=skip_label,
        result_moment=result_moment,
    )


def _read_result_moment(
    checker: _Checker, raw: object, items: tuple[Item, ...]
) -> ResultMoment | None:
    """The result screener and its two answers; every item that reads the screener must be
    shown exactly when it says `received` (the result block), so the block can be asked on
    its own later, or the screener answered in advance."""
    path = "result_moment"
    fields = checker.mapping(raw, path, {"screener", "received", "pending"}, set())
    if fields is None or len(fields) < 3:
        return None
    screener, received, pending = (
        checker.token(fields[key], _join(path, key)) for key in ("screener", "received", "pending")
    )
    if screener is None or received is None or pending is None:
        return None
    by_code = {item.code: item for item in items}
    if screener not in by_code:
        if items:  # without items, their own problems are reported already
            checker.problem(_join(path, "screener"), f"refers to unknown item {screener}")
        return None
    values = by_code[screener].option_values()
    for key, value in (("received", received), ("pending", pending)):
        if value not in values:
            checker.problem(
                _join(path, key),
                f"{value} is not an option of item {screener} (options: {', '.join(values)})",
            )
    moment = ResultMoment(screener, received, pending)
    block = moment.shows_result
    for index, item in enumerate(items):
        reads = referenced_items(item.show_if) if item.show_if is not None else []
        if screener in reads and item.show_if != block:
            checker.problem(
                f"items[{index}].show_if",
                f"item {item.code} reads the result screener {screener}: it must be shown "
                f"exactly when {screener} equals {received} ({{item: {screener}, equals: "
                f"{received}}})",
            )
    if received == pending:
        checker.problem(_join(path, "pending"), f"must differ from received ({received})")
    elif not any(item.show_if == block for item in items):
        checker.problem(path, f"no item is shown when {screener} equals {received}")
    return None if checker.problems else moment


def _read_languages(checker: _Checker, raw: object) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not raw:
        checker.problem(
            "languages", f"expected a non-empty list of language codes, got {_kind(raw)}"
        )
        return None
    languages: list[str] = []
    for index, language in enumerate(raw):
        code = checker.token(language, f"languages[{index}]")
        if code is not None and code in languages:
            checker.problem(f"languages[{index}]", f"duplicate language {code}")
        elif code is not None:
            languages.append(code)
    return tuple(languages) if len(languages) == len(raw) else None


def _read_consent(checker: _Checker, raw: object) -> Consent | None:
    fields = checker.mapping(raw, "consent", {"text", "accept", "decline"}, set())
    if fields is None:
        return None
    text = checker.localized(fields["text"], "consent.text") if "text" in fields else None
    accept = checker.localized(fields["accept"], "consent.accept") if "accept" in fields else None
    decline = (
        checker.localized(fields["decline"], "consent.decline") if "decline" in fields else None
    )
    if text is None or accept is None or decline is None:
        return None
    return Consent(text=text, accept=accept, decline=decline)


def _read_scales(checker: _Checker, raw: object) -> dict[str, Scale]:
    scales: dict[str, Scale] = {}
    if not isinstance(raw, dict):
        checker.problem("scales", f"expected a mapping of scale name to scale, got {_kind(raw)}")
        return scales
    for name, raw_scale in raw.items():
        path = f"scales.{name}"
        code = checker.token(name, path)
        fields = checker.mapping(raw_scale, path, {"options"}, {"stem"})
        if code is None or fields is None or "options" not in fields:
            continue
        options = checker.options(fields["options"], f"{path}.options")
        stem = checker.localized(fields["stem"], f"{path}.stem") if "stem" in fields else None
        if options and ("stem" not in fields or stem is not None):
            scales[code] = Scale(code, options, stem)
    return scales


def _read_elements(checker: _Checker, raw: object) -> tuple[Element, ...] | None:
    if not isinstance(raw, list):
        checker.problem("elements", f"expected a list of elements, got {_kind(raw)}")
        return None
    elements: list[Element] = []
    seen: set[str] = set()
    for index, raw_element in enumerate(raw):
        path = f"elements[{index}]"
        fields = checker.mapping(raw_element, path, {"code", "label"}, {"short_label"})
        if fields is None:
            continue
        code = checker.token(fields["code"], f"{path}.code") if "code" in fields else None
        label = checker.localized(fields["label"], f"{path}.label") if "label" in fields else None
        short_label = (
            checker.localized(fields["short_label"], f"{path}.short_label")
            if "short_label" in fields
            else label
        )
        if code is not None and code in seen:
            checker.problem(f"{path}.code", f"duplicate element code {code}")
        elif code is not None and label is not None and short_label is not None:
            seen.add(code)
            elements.append(Element(code, label, short_label))
    return tuple(elements)


def _read_sections(checker: _Checker, raw: object) -> tuple[Section, ...] | None:
    """The sections declared beside the elements (every element is a section of its own)."""
    if not isinstance(raw, list):
        checker.problem("sections", f"expected a list of sections, got {_kind(raw)}")
        return None
    sections: list[Section] = []
    for index, raw_section in enumerate(raw):
        path = f"sections[{index}]"
        fields = checker.mapping(raw_section, path, {"code", "label"}, {"profile"})
        if fields is None:
            continue
        code = checker.token(fields["code"], f"{path}.code") if "code" in fields else None
        label = checker.localized(fields["label"], f"{path}.label") if "label" in fields else None
        profile = checker.boolean(fields.get("profile", False), f"{path}.profile")
        if code is not None and any(section.code == code for section in sections):
            checker.problem(f"{path}.code", f"duplicate section code {code}")
        elif code is not None and label is not None:
            sections.append(Section(code, label, profile=bool(profile)))
    return tuple(sections)


def _place_in_sections(
    checker: _Checker,
    raw_items: object,
    items: tuple[Item, ...],
    elements: tuple[Element, ...],
    declared: tuple[Section, ...],
    title: LocalizedText,
) -> tuple[tuple[Section, ...] | None, tuple[Item, ...]]:
    """Every item in its section, and the sections in the order the items take them.

    An item is in the section it names (`section:`), else in its element's, else in the
    section of the item before it (a screener or a gate opens the section it names); items
    before any section go into the first. A section's items follow one another.
    """
    known = {section.code: section for section in declared}
    for element in elements:
        if element.code in known:
            checker.problem("sections", f"section {element.code} is already an element")
        known[element.code] = Section(element.code, element.label)
    named = [_section_named(checker, raw, index) for index, raw in enumerate(_listed(raw_items))]
    chosen: list[str | None] = []
    for index, (item, name) in enumerate(zip(items, named, strict=True)):
        if name is not None and name not in known:
            checker.problem(f"items[{index}].section", f"unknown section {name}")
        chosen.append(name or item.element or (chosen[-1] if chosen else None))
    first = next((code for code in chosen if code is not None), None)
    codes = [code or first for code in chosen]
    order: list[str] = []
    for index, code in enumerate(codes):
        if code is not None and (not order or order[-1] != code):
            if code in order:
                checker.problem(
                    f"items[{index}]",
                    f"section {code} resumes after section {order[-1]}: "
                    "the items of a section follow one another",
                )
            order.append(code)
    for code in (section.code for section in declared if section.code not in order):
        checker.problem("sections", f"section {code} has no items")
    if checker.problems:
        return None, items
    if not order:
        # No element and no section: the whole questionnaire is one part.
        return (Section("", title),), items
    placed = tuple(
        replace(item, section=code or "") for item, code in zip(items, codes, strict=True)
    )
    return tuple(known[code] for code in order), placed


def _listed(raw: object) -> list[object]:
    return raw if isinstance(raw, list) else []


def _section_named(checker: _Checker, raw_item: object, index: int) -> str | None:
    if not isinstance(raw_item, dict) or "section" not in raw_item:
        return None
    return checker.token(raw_item["section"], f"items[{index}].section")


_ITEM_FIELDS = {
    "section",
    "element",
    "scale",
    "options",
    "required",
    "skippable",
    "show_if",
    "max_length",
    "intro",
    "sensitive",
    "per_unit",
}


def _read_items(
    checker: _Checker, raw: object, scales: Mapping[str, Scale], elements: tuple[Element, ...]
) -> tuple[Item, ...] | None:
    if not isinstance(raw, list) or not raw:
        checker.problem("items", f"expected a non-empty list of items, got {_kind(raw)}")
        return None
    element_codes = {element.code for element in elements}
    items: list[Item] = []
    positions: dict[str, int] = {}  # code → index in the file, for ordering checks
    options_by_code: dict[str, tuple[Option, ...]] = {}
    for index, raw_item in enumerate(raw):
        path = f"items[{index}]"
        fields = checker.mapping(raw_item, path, {"code", "type", "text"}, _ITEM_FIELDS)
        if fields is None:
            continue
        code = checker.token(fields["code"], f"{path}.code") if "code" in fields else None
        if code is not None:
            if code in positions:
                checker.problem(
                    f"{path}.code",
                    f"duplicate item code {code} (first at items[{positions[code]}])",
                )
                code = None
            else:
                positions[code] = index
        item = _read_item(checker, fields, path, code, scales, element_codes)
        references: list[_Reference] = []
        if "show_if" in fields:
            condition = _read_condition(checker, fields["show_if"], f"{path}.show_if", references)
        else:
            condition = None
        for reference in references:
            _check_reference(checker, reference, index, positions, options_by_code, raw)
        if item is not None and code is not None:
            _check_choice_data(checker, path, item)
            options_by_code[code] = item.options
            if "show_if" in fields and condition is None:
                continue
            items.append(_with_condition(item, condition))
    sensitive = {item.code for item in items if item.sensitive}
    for item in items:
        read = referenced_items(item.show_if) if item.show_if is not None else []
        for code in (code for code in read if code in sensitive):
            checker.problem(
                f"items[{positions[item.code]}].show_if",
                f"refers to sensitive item {code}, which a deployment may leave out",
            )
    _check_rated_unit_block(checker, items, positions)
    if checker.problems:
        return None
    return tuple(items)


def _check_rated_unit_block(
    checker: _Checker, items: list[Item], positions: Mapping[str, int]
) -> None:
    """The rated-unit block (`per_unit: true`) is one run of items, each naming the unit it is
    asked about in every language, and read by no item outside it (which unit's answer
    would it read?)."""
    block = [index for index, item in enumerate(items) if item.per_unit]
    if not block:
        return
    if block != list(range(block[0], block[-1] + 1)):
        gap = next(items[i] for i in range(block[0], block[-1]) if not items[i].per_unit)
        checker.problem(
            f"items[{positions[gap.code]}]",
            f"item {gap.code} breaks the rated-unit block: its items (per_unit: true) "
            "follow one another",
        )
    inside = {items[index].code for index in block}
    for item in items:
        path = f"items[{positions[item.code]}]"
        if item.per_unit:
            for language, text in item.text.items():
                if UNIT_PLACEHOLDER not in text:
                    checker.problem(
                        f"{path}.text.{language}",
                        f"an item of the rated-unit block names the unit: write {UNIT_PLACEHOLDER}",
                    )
        elif item.show_if is not None:
            for code in (c for c in referenced_items(item.show_if) if c in inside):
                checker.problem(
                    f"{path}.show_if",
                    f"refers to {code} of the rated-unit block, asked once per unit",
                )


def _check_choice_data(checker: _Checker, path: str, item: Item) -> None:
    """An item whose buttons would carry more data than a chat button takes is refused:
    Telegram would refuse the question, and the respondent would be stuck at it."""
    datas = [answer_data(item.code, option.value) for option in item.options]
    datas += [choice_data(SKIP, item.code), choice_data(BACK, item.code)]
    longest = max(datas, key=lambda data: len(data.encode()))
    size = len(longest.encode())
    if size > MAX_CHOICE_DATA_BYTES:
        room = MAX_CHOICE_DATA_BYTES - len(answer_data("", "").encode())
        checker.problem(
            path,
            f"item {item.code}: its button data {longest!r} is {size} bytes, over the "
            f"{MAX_CHOICE_DATA_BYTES} a chat button carries (shorten the item code or its "
            f"option values: code and value together at most {room} characters)",
        )


def _with_condition(item: Item, condition: Condition | None) -> Item:
    return replace(item, show_if=condition)


def _read_item(
    checker: _Checker,
    fields: dict[str, object],
    path: str,
    code: str | None,
    scales: Mapping[str, Scale],
    element_codes: set[str],
) -> Item | None:
    ok = True
    item_type: ItemType | None = None
    if "type" in fields:
        try:
            item_type = ItemType(str(fields["type"]))
        except ValueError:
            known = ", ".join(t.value for t in ItemType)
            checker.problem(
                f"{path}.type", f"unknown type {fields['type']!r} (expected one of: {known})"
            )
    text = checker.localized(fields["text"], f"{path}.text") if "text" in fields else None
    intro = checker.localized(fields["intro"], f"{path}.intro") if "intro" in fields else None
    required = (
        checker.boolean(fields["required"], f"{path}.required") if "required" in fields else False
    )
    skippable = (
        checker.boolean(fields["skippable"], f"{path}.skippable")
        if "skippable" in fields
        else False
    )
    if required and skippable:
        checker.problem(path, "an item cannot be both required and skippable")
        ok = False
    sensitive = (
        checker.boolean(fields["sensitive"], f"{path}.sensitive")
        if "sensitive" in fields
        else False
    )
    per_unit = (
        checker.boolean(fields["per_unit"], f"{path}.per_unit") if "per_unit" in fields else False
    )
    if sensitive and required:
        # A deployment may leave it out, and nobody may be made to give sensitive data.
        checker.problem(path, "a sensitive item cannot be required")
        ok = False

    element: str | None = None
    if "element" in fields:
        element = checker.token(fields["element"], f"{path}.element")
        if element is not None and element not in element_codes:
            checker.problem(f"{path}.element", f"unknown element {element}")
            ok = False
    if item_type is ItemType.SCALE and "element" not in fields:
        checker.problem(f"{path}.element", "a scale item needs an element")
        ok = False

    max_length = DEFAULT_TEXT_MAX_LENGTH
    if "max_length" in fields:
        raw_max = fields["max_length"]
        if item_type is not ItemType.TEXT:
            checker.problem(f"{path}.max_length", "only text items have a max_length")
            ok = False
        elif isinstance(raw_max, bool) or not isinstance(raw_max, int) or raw_max < 1:
            checker.problem(
                f"{path}.max_length", f"expected a positive whole number, got {_kind(raw_max)}"
            )
            ok = False
        else:
            max_length = raw_max

    scale_name, options = _read_item_options(checker, fields, path, item_type, scales)
    if options is None:
        ok = False
    if (
        not ok
        or code is None
        or item_type is None
        or text is None
        or required is None
        or skippable is None
        or sensitive is None
        or per_unit is None
    ):
        return None
    return Item(
        code=code,
        type=item_type,
        text=text,
        element=element,
        options=options or (),
        scale=scale_name,
        required=required,
        skippable=skippable,
        max_length=max_length,
        intro=intro,
        sensitive=sensitive,
        per_unit=per_unit,
    )


def _read_item_options(
    checker: _Checker,
    fields: dict[str, object],
    path: str,
    item_type: ItemType | None,
    scales: Mapping[str, Scale],
) -> tuple[str | None, tuple[Option, ...] | None]:
    """The item's scale name and resolved options; options None when they are wrong."""
    if item_type is None:
        return None, None
    if "scale" in fields and "options" in fields:
        checker.problem(path, "give either scale or options, not both")
        return None, None
    if item_type is ItemType.TEXT:
        if "scale" in fields or "options" in fields:
            checker.problem(path, "a text item has no scale or options")
            return None, None
        return None, ()

    if "options" in fields:
        if item_type is ItemType.SCALE:
            checker.problem(f"{path}.options", "a scale item takes its options from a scale")
            return None, None
        options = checker.options(fields["options"], f"{path}.options")
        if (
            options is not None
            and item_type is ItemType.YES_NO
            and [o.value for o in options] != _YES_NO_VALUES
        ):
            checker.problem(
                f"{path}.options", "a yes_no item has exactly the values yes, no (in that order)"
            )
            return None, None
        return None, options

    default_scale = "yes_no" if item_type is ItemType.YES_NO else None
    scale_name = fields.get("scale", default_scale)
    if scale_name is None:
        checker.problem(path, f"a {item_type.value} item needs a scale or options")
        return None, None
    name = checker.token(scale_name, f"{path}.scale")
    if name is None:
        return None, None
    scale = scales.get(name)
    if scale is None and name == "yes_no":
        scale = _builtin_yes_no(checker, path)
    if scale is None:
        known = ", ".join(sorted(scales)) or "none declared"
        checker.problem(f"{path}.scale", f"unknown scale {name} (known: {known})")
        return None, None
    values = [option.value for option in scale.options]
    if item_type is ItemType.SCALE and tuple(values) != SATISFACTION_VALUES:
        checker.problem(
            f"{path}.scale",
            f"a scale item needs a scale with the values {', '.join(SATISFACTION_VALUES)}; "
            f"{name} has {', '.join(values)}",
        )
        return None, None
    if item_type is ItemType.YES_NO and values != _YES_NO_VALUES:
        checker.problem(
            f"{path}.scale",
            f"a yes_no item needs a scale with the values yes, no; {name} has {', '.join(values)}",
        )
        return None, None
    return name, scale.options


def _builtin_yes_no(checker: _Checker, path: str) -> Scale | None:
    missing = [language for language in checker.languages if language not in ("vi", "en")]
    if missing:
        checker.problem(
            f"{path}.scale",
            f"declare a yes_no scale: the built-in one has no labels in {', '.join(missing)}",
        )
        return None
    return _BUILTIN_YES_NO


_CONDITION_SHAPES = "{item, equals}, {item, in}, {item, answered}, {all}, {any} or {not}"


def _read_condition(
    checker: _Checker, raw: object, path: str, references: list[_Reference]
) -> Condition | None:
    if not isinstance(raw, dict):
        checker.problem(
            path, f"expected a condition mapping ({_CONDITION_SHAPES}), got {_kind(raw)}"
        )
        return None
    keys = set(raw)
    if keys in ({"all"}, {"any"}):
        key = next(iter(keys))
        parts = raw[key]
        if not isinstance(parts, list) or not parts:
            checker.problem(
                f"{path}.{key}", f"expected a non-empty list of conditions, got {_kind(parts)}"
            )
            return None
        subs = [
            _read_condition(checker, part, f"{path}.{key}[{i}]", references)
            for i, part in enumerate(parts)
        ]
        checked = tuple(sub for sub in subs if sub is not None)
        if len(checked) != len(subs):
            return None
        return AllOf(checked) if key == "all" else AnyOf(checked)
    if keys == {"not"}:
        sub = _read_condition(checker, raw["not"], f"{path}.not", references)
        return None if sub is None else Not(sub)
    if keys in ({"item", "equals"}, {"item", "in"}, {"item", "answered"}):
        item = checker.token(raw["item"], f"{path}.item")
        if "equals" in keys:
            value = checker.token(raw["equals"], f"{path}.equals")
            if item is None or value is None:
                return None
            references.append(_Reference(path, item, (value,)))
            return Equals(item, value)
        if "in" in keys:
            raw_values = raw["in"]
            if not isinstance(raw_values, list) or not raw_values:
                checker.problem(
                    f"{path}.in", f"expected a non-empty list of values, got {_kind(raw_values)}"
                )
                return None
            values = [checker.token(v, f"{path}.in[{i}]") for i, v in enumerate(raw_values)]
            tokens = tuple(v for v in values if v is not None)
            if item is None or len(tokens) != len(values):
                return None
            references.append(_Reference(path, item, tokens))
            return IsIn(item, tokens)
        answered = checker.boolean(raw["answered"], f"{path}.answered")
        if item is None or answered is None:
            return None
        references.append(_Reference(path, item, ()))
        return Answered(item, answered)
    checker.problem(
        path,
        f"expected one of {_CONDITION_SHAPES}, got the fields {', '.join(sorted(map(str, keys)))}",
    )
    return None


def _check_reference(
    checker: _Checker,
    reference: _Reference,
    index: int,
    positions: Mapping[str, int],
    options_by_code: Mapping[str, tuple[Option, ...]],
    raw_items: list[object],
) -> None:
    if reference.item not in positions:
        later = _later_position(reference.item, index, raw_items)
        if later is None:
            checker.problem(reference.path, f"refers to unknown item {reference.item}")
        elif later == index:
            checker.problem(reference.path, f"refers to its own item {reference.item}")
        else:
            checker.problem(
                reference.path,
                f"refers to item {reference.item} which comes later (items[{later}]); "
                "a condition may only refer to earlier items",
            )
        return
    if positions[reference.item] == index:
        checker.problem(reference.path, f"refers to its own item {reference.item}")
        return
    allowed = [option.value for option in options_by_code.get(reference.item, ())]
    if not allowed:
        return  # a text item (any value may match) or an item already reported as broken
    for value in reference.values:
        if value not in allowed:
            checker.problem(
                reference.path,
                f"value {value} is not an option of item {reference.item} (options: {', '.join(allowed)})",
            )


def _later_position(code: str, index: int, raw_items: list[object]) -> int | None:
    for position in range(index, len(raw_items)):
        raw_item = raw_items[position]
        if isinstance(raw_item, dict):
            raw_code = raw_item.get("code")
            if raw_code == code or (
                isinstance(raw_code, int)
                and not isinstance(raw_code, bool)
                and str(raw_code) == code
            ):
                return position
    return None
