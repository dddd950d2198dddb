"""The questionnaire model: items, answer options, elements, consent, and navigation by skip logic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from questionnaires.conditions import (
    Answers,
    Condition,
    Equals,
    condition_to_json,
    evaluate,
    referenced_items,
    renamed_items,
)

LocalizedText = Mapping[str, str]
"""Language code → text, with one entry per language the questionnaire declares."""

DEFAULT_TEXT_MAX_LENGTH = 1000
SATISFACTION_VALUES = ("1", "2", "3", "4", "5")
"""The values of the satisfaction scale (QĐ 1001's five levels, from "Rất không hài lòng" to
"Rất hài lòng"): every scale item is on it, so the counts per profile band keep one column
per value (storage/counts.py)."""
VISIBILITY_MEMORY = 1024  # answer patterns whose visible items a questionnaire keeps
_ABSENT = object()  # in a visibility key: the item has no answer, not even a skip
# Written in an item's text, filled in for each respondent of a round: the unit being rated
# (in the rated-unit block), and the respondent's group.
UNIT_PLACEHOLDER = "{unit}"
GROUP_PLACEHOLDER = "{group}"
# An answer to the rated-unit block is stored under the item's code, this mark, and the
# unit's place in the respondent's list: "D1#2" is item D1 about the second unit rated.
REPEAT_MARK = "#"
UNIT_SECTION = "unit"


def repeat_code(code: str, number: int) -> str:
    """The code of item `code` asked about the `number`-th rated unit (from 1)."""
    return f"{code}{REPEAT_MARK}{number}"


def split_repeat(code: str) -> tuple[str, int | None]:
    """The item's own code and the rated unit's place (None outside the rated-unit block)."""
    own, mark, number = code.rpartition(REPEAT_MARK)
    if not mark or not number.isdigit():
        return code, None
    return own, int(number)


class ItemType(StrEnum):
    """How an item is answered."""

    SCALE = (
        "scale"  # the 5-point satisfaction scale, values "1".."5"; what the index is computed from
    )
    CHOICE = "choice"  # one option out of a list
    YES_NO = "yes_no"  # values "yes" / "no", labels may be worded per item
    TEXT = "text"  # free text, up to max_length characters


@dataclass(frozen=True)
class Option:
    """One answer option: the stored value and its label per language."""

    value: str
    label: LocalizedText


@dataclass(frozen=True)
class Scale:
    """A named list of options shared by several items; `stem` is the line that asks for one
    of them ("Mức độ hài lòng của Ông/Bà:"), shown with every item on the scale."""

    code: str
    options: tuple[Option, ...]
    stem: LocalizedText | None = None


@dataclass(frozen=True)
class Element:
    """A SIPAS element (yếu tố) grouping satisfaction items."""

    code: str
    label: LocalizedText
    short_label: (
        LocalizedText  # for a progress header on a narrow screen; equals label when not given
    )


@dataclass(frozen=True)
class Section:
    """A part of the questionnaire the respondent is told they are in ("Phần 2/8 · Thủ tục
    hành chính"): an element, or a part declared as such (the priorities, the profile)."""

    code: str
    label: LocalizedText
    profile: bool = False  # the respondent profile: asked only where the deployment says so


@dataclass(frozen=True)
class Progress:
    """Where an item stands: its section among the sections, and its place in that section.

    `total` counts the section's items that may still be asked (one behind a screener not yet
    answered counts), so it never grows as the respondent goes on; the number of sections
    never changes at all.
    """

    section: Section
    section_number: int  # from 1
    sections: int
    position: int  # within the section, from 1
    total: int


@dataclass(frozen=True)
class Consent:
    """The request for consent, shown after the privacy notice and before the first item, and
    the two explicit choices."""

    text: LocalizedText
    accept: LocalizedText
    decline: LocalizedText

    def render(self, language: str, controller: str) -> str:
        """The notice in `language` with the data controller's name filled in."""
        # str.replace, not str.format: the notice may legitimately contain other braces.
        return self.text[language].replace("{controller}", controller)


@dataclass(frozen=True)
class ResultMoment:
    """The screener that tells whether the dossier's result was returned, and its two answers.

    The result block is the items shown only when `screener` is `received`: asked at once of
    someone who holds the result, later (a follow-up, or an invitation at the result) of
    someone who answered `pending`.
    """

    screener: str
    received: str
    pending: str

    @property
    def shows_result(self) -> Equals:
        """The condition of every item of the result block."""
        return Equals(self.screener, self.received)


@dataclass(frozen=True)
class Item:
    """One question.

    `required`: a response is incomplete without a real answer (the handler offers no skip).
    `skippable`: the handler offers "Không trả lời / Skip", which records None.
    An item with neither carries its own "prefer not to say" option.
    `sensitive`: it asks for sensitive personal data (Law 91/2025/QH15), such as ethnicity;
    it is asked only where a deployment switches it on (`Questionnaire.asking`).
    """

    code: str
    type: ItemType
    text: LocalizedText
    element: str | None = None
    options: tuple[Option, ...] = ()
    scale: str | None = None
    required: bool = False
    skippable: bool = False
    show_if: Condition | None = None
    max_length: int = DEFAULT_TEXT_MAX_LENGTH
    intro: LocalizedText | None = None  # shown above the text, e.g. the stem of a block of items
    sensitive: bool = False
    section: str = ""  # the code of its `Section` (the loader always sets it)
    per_unit: bool = False  # in the rated-unit block: asked once per unit the respondent rates

    def option_values(self) -> list[str]:
        """The values an answer may take (empty for text items)."""
        return [option.value for option in self.options]


@dataclass(frozen=True)
class RatedUnit:
    """A unit a respondent of a round rates in turn (a Sở, a xã/phường): its code and its
    name per language (the first given stands in for a language without one)."""

    code: str
    name: LocalizedText

    def named(self, language: str) -> str:
        return self.name.get(language) or next(iter(self.name.values()))


def _filled(texts: LocalizedText, values: Mapping[str, LocalizedText]) -> LocalizedText:
    """`texts` with each placeholder in `values` replaced by its text in the same language."""
    filled = dict(texts)
    for language, text in texts.items():
        for placeholder, value in values.items():
            text = text.replace(placeholder, value.get(language) or next(iter(value.values())))
        filled[language] = text
    return filled


def _item_filled(item: Item, values: Mapping[str, LocalizedText]) -> Item:
    intro = _filled(item.intro, values) if item.intro is not None else None
    return replace(item, text=_filled(item.text, values), intro=intro)


class InvalidAnswer(ValueError):
    """An answer that the item does not accept; `message` says why, per language."""

    def __init__(self, item: Item, value: str, reason: str, message: LocalizedText) -> None:
        super().__init__(f"item {item.code}: {message.get('en') or next(iter(message.values()))}")
        self.item_code = item.code
        self.value = value
        self.reason = reason  # "not_an_option", "empty" or "too_long"
        self.message = message


@dataclass(frozen=True)
class Questionnaire:
    """A validated questionnaire; build it with `load_questionnaire`, not by hand."""

    id: str
    version: str
    title: LocalizedText
    languages: tuple[str, ...]
    consent: Consent
    elements: tuple[Element, ...]
    items: tuple[Item, ...]
    scales: Mapping[str, Scale]
    sections: tuple[Section, ...] = ()  # in order; every item belongs to one
    method_note: str | None = None
    skip_label: LocalizedText = field(default_factory=lambda: {"vi": "Không trả lời", "en": "Skip"})
    result_moment: ResultMoment | None = None
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)
    # The items each conditional item's show_if reads, by item code (progress asks every tap).
    _references: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    # Section code -> (its index among the sections some item is in, the section).
    _sections: dict[str, tuple[int, Section]] = field(init=False, repr=False, compare=False)
    # The items some show_if reads: the visible items depend on their answers only.
    _conditioning: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # What the answers to `_conditioning` show -> the visible items (an event asks several
    # times, and every respondent walks the same few paths).
    _visible: dict[tuple[object, ...], tuple[Item, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {item.code: i for i, item in enumerate(self.items)})
        references = {
            item.code: frozenset(referenced_items(item.show_if))
            for item in self.items
            if item.show_if is not None
        }
        object.__setattr__(self, "_references", references)
        conditioning = dict.fromkeys(code for read in references.values() for code in sorted(read))
        object.__setattr__(self, "_conditioning", tuple(conditioning))
        object.__setattr__(self, "_visible", {})
        # Only the sections some item is in: a deployment that leaves out the sensitive items
        # may leave a section empty, and the respondent must still reach "Phần 8/8".
        used = {item.section for item in self.items}
        shown = tuple(section for section in self.sections if section.code in used)
        object.__setattr__(self, "_sections", {s.code: (i, s) for i, s in enumerate(shown)})

    @property
    def default_language(self) -> str:
        """The first declared language."""
        return self.languages[0]

    def item(self, code: str) -> Item:
        """The item with this code; KeyError if there is none."""
        return self.items[self._positions[code]]

    def element(self, code: str) -> Element:
        """The element with this code; KeyError if there is none."""
        for element in self.elements:
            if element.code == code:
                return element
        raise KeyError(code)

    def sensitive_items(self) -> list[Item]:
        """The items asking for sensitive personal data, in order."""
        return [item for item in self.items if item.sensitive]

    def asking(self, sensitive: Iterable[str] = (), *, profile: bool = True) -> Questionnaire:
        """This questionnaire with only the sensitive items named in `sensitive` left in, and
        without its profile sections (`Section.profile`) unless `profile`.

        The others are absent, not skipped: never asked, never shown in progress, and an
        answer to one is not accepted from an import. ValueError names a code that is not a
        sensitive item here.
        """
        wanted = set(sensitive)
        known = {item.code for item in self.sensitive_items()}
        unknown = sorted(wanted - known)
        if unknown:
            offered = ", ".join(sorted(known)) or "none"
            raise ValueError(
                f"not a sensitive item of {self.id}: {', '.join(unknown)} (sensitive items: {offered})"
            )
        left_out = {section.code for section in self.sections if section.profile and not profile}
        profiled = sorted(i.code for i in self.items if i.code in wanted and i.section in left_out)
        if profiled:
            raise ValueError(
                f"{', '.join(profiled)} is part of the respondent profile, which is not asked "
                "(SIPAS_ASK_PROFILE=false)"
            )
        if wanted == known and not left_out:
            return self
        return replace(
            self,
            items=tuple(
                i
                for i in self.items
                if (not i.sensitive or i.code in wanted) and i.section not in left_out
            ),
        )

    def result_items(self) -> list[Item]:
        """The items of the result block (empty without a result moment), in order."""
        moment = self.result_moment
        return [i for i in self.items if moment is not None and i.show_if == moment.shows_result]

    def at_result(self) -> Questionnaire:
        """This questionnaire as asked of someone who holds the result: the screener answered
        (`received`), so it is not asked, and the result block is asked unconditionally.
        Without a result moment, the questionnaire itself."""
        moment = self.result_moment
        if moment is None:
            return self
        return replace(
            self,
            items=tuple(
                replace(item, show_if=None) if item.show_if == moment.shows_result else item
                for item in self.items
                if item.code != moment.screener
            ),
        )

    def result_block(self) -> Questionnaire:
        """Only the result block, asked unconditionally: what a follow-up asks once the result
        was returned. Without a result moment, no items at all."""
        return replace(
            self, items=tuple(replace(item, show_if=None) for item in self.result_items())
        )

    def rated_unit_block(self) -> list[Item]:
        """The items asked once per rated unit, in order (empty: the questionnaire has none)."""
        return [item for item in self.items if item.per_unit]

    def for_respondent(self, group: LocalizedText, units: Sequence[RatedUnit]) -> Questionnaire:
        """This questionnaire as asked of one respondent of a round: `{group}` filled in with
        their group, and the rated-unit block repeated for each of `units` in turn, with the
        unit's name in each question (`{unit}`), as a section named after the unit. A repeat's
        items read their own repeat's answers (`D1#2` reads `D0#2`)."""
        block = self.rated_unit_block()
        items: list[Item] = []
        for item in self.items:
            if not item.per_unit:
                items.append(_item_filled(item, {GROUP_PLACEHOLDER: group}))
            elif item is block[0]:
                for number, unit in enumerate(units, start=1):
                    names = {member.code: repeat_code(member.code, number) for member in block}
                    values = {GROUP_PLACEHOLDER: group, UNIT_PLACEHOLDER: unit.name}
                    items += [
                        replace(
                            _item_filled(member, values),
                            code=names[member.code],
                            section=repeat_code(UNIT_SECTION, number),
                            show_if=(
                                renamed_items(member.show_if, names)
                                if member.show_if is not None
                                else None
                            ),
                        )
                        for member in block
                    ]
        sections = {section.code: section for section in self.sections}
        for number, unit in enumerate(units, start=1):
            code = repeat_code(UNIT_SECTION, number)
            sections[code] = Section(code, unit.name)
        ordered = [sections[code] for code in dict.fromkeys(item.section for item in items)]
        return replace(self, items=tuple(items), sections=tuple(ordered))

    def options(self, item: Item) -> list[Option]:
        """The answer options of an item (from its scale or inline; yes/no for yes_no; none for text)."""
        return list(item.options)

    def scale_items(self) -> list[Item]:
        """The satisfaction items (type scale), in order: what the index is computed from."""
        return [item for item in self.items if item.type is ItemType.SCALE]

    def scale_values(self) -> dict[str, frozenset[str]]:
        """Satisfaction item of an element -> the values that are a real answer to it (the
        quality facts of a response are taken over these: storage/response_facts.py)."""
        return {
            item.code: frozenset(item.option_values())
            for item in self.scale_items()
            if item.element is not None
        }

    def items_of_element(self, code: str) -> list[Item]:
        """The items of one element, in order; KeyError if the element is unknown."""
        self.element(code)
        return [item for item in self.items if item.element == code]

    def visible_items(self, answers: Answers) -> list[Item]:
        """The items whose show_if holds given the answers so far, in order.

        Answers to items that are hidden (e.g. after going back and changing a
        screener) are ignored, so a stale answer cannot keep a later item visible.
        """
        # No answer and a skip (None) are kept apart, whatever the conditions make of them.
        key = tuple(answers.get(code, _ABSENT) for code in self._conditioning)
        visible = self._visible.get(key)
        if visible is None:
            if len(self._visible) >= VISIBILITY_MEMORY:
                self._visible.clear()
            visible = self._visible[key] = tuple(self._visible_items(answers))
        return list(visible)

    def _visible_items(self, answers: Answers) -> list[Item]:
        visible: list[Item] = []
        effective: dict[str, str | None] = {}
        for item in self.items:
            if item.show_if is None or evaluate(item.show_if, effective):
                visible.append(item)
                if item.code in answers:
                    effective[item.code] = answers[item.code]
        return visible

    def relevant_answers(self, answers: Answers) -> dict[str, str | None]:
        """The answers to visible items only: what a finished response should keep."""
        return {
            item.code: answers[item.code]
            for item in self.visible_items(answers)
            if item.code in answers
        }

    def next_item(self, answers: Answers) -> Item | None:
        """The first visible item not yet answered (or skipped); None when the survey is done."""
        for item in self.visible_items(answers):
            if item.code not in answers:
                return item
        return None

    def previous_item(self, answers: Answers, current_code: str | None) -> Item | None:
        """The item "back" goes to: the last visible, answered (or skipped) item before `current_code`.

        `current_code` None means "after the last item" (the survey is complete).
        None is returned at the first item. KeyError on an unknown code.
        """
        limit = len(self.items) if current_code is None else self._positions[current_code]
        previous: Item | None = None
        for item in self.visible_items(answers):
            if self._positions[item.code] >= limit:
                break
            if item.code in answers:
                previous = item
        return previous

    def stem(self, item: Item) -> LocalizedText | None:
        """The line asking for an answer on the item's scale ("Mức độ hài lòng của Ông/Bà:")."""
        scale = self.scales.get(item.scale) if item.scale is not None else None
        return scale.stem if scale is not None else None

    def progress(self, answers: Answers, current_code: str) -> Progress:
        """Where `current_code` stands, for a header like "Phần 2/8 · Thủ tục hành chính · Câu 1/4".

        Within its section, the position counts the visible items before it, and the total
        every item of the section that may still be asked: one behind a screener not yet
        answered counts. A screener closes the rest of its section, which the respondent then
        leaves: the total they see never moves away.
        """
        current = self.item(current_code)
        number, section = self._sections[current.section]
        limit = self._positions[current_code]
        visible = {item.code for item in self.visible_items(answers)}
        answered = answers.keys()
        members = [item for item in self.items if item.section == current.section]
        position = sum(1 for i in members if i.code in visible and self._positions[i.code] < limit)
        total = sum(
            1
            for item in members
            if item.code in visible
            or (item.code in self._references and not self._references[item.code] <= answered)
        )
        return Progress(section, number + 1, len(self._sections), position + 1, total)

    def validate_answer(self, item: Item, value: str) -> str:
        """The normalised answer, or InvalidAnswer.

        For option items the value itself is accepted, and so is an option's label in
        any language (case and spacing ignored), so typed text works on text-only channels.
        """
        if item.type is ItemType.TEXT:
            text = value.strip()
            if not text:
                raise InvalidAnswer(
                    item,
                    value,
                    "empty",
                    {
                        "vi": "Câu trả lời đang trống, xin nhập nội dung.",
                        "en": "The answer is empty; please type something.",
                    },
                )
            if len(text) > item.max_length:
                raise InvalidAnswer(
                    item,
                    value,
                    "too_long",
                    {
                        "vi": f"Câu trả lời dài quá {item.max_length} ký tự, xin rút gọn.",
                        "en": f"The answer is longer than {item.max_length} characters; please shorten it.",
                    },
                )
            return text
        wanted = " ".join(value.split())
        for option in item.options:
            if wanted == option.value:
                return option.value
        folded = wanted.casefold()
        for option in item.options:
            if any(" ".join(label.split()).casefold() == folded for label in option.label.values()):
                return option.value
        raise InvalidAnswer(
            item,
            value,
            "not_an_option",
            {
                "vi": "Câu trả lời không hợp lệ, xin chọn một trong các phương án.",
                "en": "That is not one of the options; please choose one.",
            },
        )

    def to_json(self) -> dict[str, Any]:
        """The plain JSON form read by other tools; keep its shape stable."""
        return {
            "id": self.id,
            "version": self.version,
            "title": dict(self.title),
            "languages": list(self.languages),
            "default_language": self.default_language,
            "method_note": self.method_note,
            "elements": [
                {
                    "code": element.code,
                    "label": dict(element.label),
                    "short_label": dict(element.short_label),
                }
                for element in self.elements
            ],
            "sections": [
                {"code": section.code, "label": dict(section.label)}
                for _, section in self._sections.values()
            ],
            "items": [_item_to_json(item) for item in self.items],
        }


def _item_to_json(item: Item) -> dict[str, Any]:
    return {
        "code": item.code,
        "type": item.type.value,
        "element": item.element,
        "text": dict(item.text),
        "required": item.required,
        "skippable": item.skippable,
        "scale": item.scale,
        "options": [
            {"value": option.value, "label": dict(option.label)} for option in item.options
        ],
        "show_if": None if item.show_if is None else condition_to_json(item.show_if),
        "max_length": item.max_length if item.type is ItemType.TEXT else None,
        "sensitive": item.sensitive,
        "section": item.section,
        "per_unit": item.per_unit,
    }
