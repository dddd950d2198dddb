"""What analytics needs of a questionnaire: its version, its elements, which scale item is in which,
its priorities (question 10) and its profile items (the breakdowns)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class _ElementLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def label(self) -> Mapping[str, str]: ...


class _ItemLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def element(self) -> str | None: ...
    @property
    def text(self) -> Mapping[str, str]: ...


class _OptionLike(Protocol):
    @property
    def value(self) -> str: ...
    @property
    def label(self) -> Mapping[str, str]: ...


class _SectionLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def profile(self) -> bool: ...


class _ChoiceLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def scale(self) -> str | None: ...
    @property
    def text(self) -> Mapping[str, str]: ...
    @property
    def section(self) -> str: ...
    @property
    def options(self) -> Sequence[_OptionLike]: ...


class QuestionnaireLike(Protocol):
    """The part of `questionnaires.Questionnaire` analytics reads."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def elements(self) -> Sequence[_ElementLike]: ...
    @property
    def items(self) -> Sequence[_ChoiceLike]: ...
    @property
    def sections(self) -> Sequence[_SectionLike]: ...
    def scale_items(self) -> Sequence[_ItemLike]: ...


EXPECTATION_SCALE = "priority"
"""The scale of question 10's priorities (Rất nhiều / Nhiều / Ít): its items are the
expectations index (*nhu cầu, mong đợi*, QĐ 5997's second content group)."""


UNSTATED_BAND = "khong_cho_biet"
"""The band of the respondents who gave no band to a profile item (declined the profile,
were not asked it, or chose "Không muốn trả lời"): with it, a profile item's bands add up to
the cell, which secondary suppression relies on."""


PREFER_NOT_TO_SAY = "khong_tra_loi"
"""A profile item's "Không muốn trả lời" option, counted in the unstated band."""


@dataclass(frozen=True)
class ProfileItem:
    """A profile item the indices are broken down by (gender, age band …): its code, wording
    and bands (value, label) in questionnaire order, the unstated band last."""

    code: str
    label: str
    bands: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ItemLayout:
    """The scale items of one questionnaire version, grouped in elements, in questionnaire order."""

    questionnaire_id: str
    questionnaire_version: str
    elements: tuple[tuple[str, str], ...]  # (element code, label) in order
    items: tuple[tuple[str, str], ...]  # (item code, element code) in order
    wording: tuple[tuple[str, str], ...] = ()  # (item code, the question's words) in order
    expectations: tuple[tuple[str, str], ...] = ()  # (priority item code, wording) in order
    profile: tuple[ProfileItem, ...] = ()  # the breakdowns, in order

    @property
    def profile_codes(self) -> list[str]:
        """Every profile item code, in order."""
        return [item.code for item in self.profile]

    def label(self, code: str) -> str:
        """An element's name or a question's words, by code ("" when unknown)."""
        return (
            dict(self.elements).get(code)
            or dict(self.wording).get(code)
            or dict(self.expectations).get(code, "")
        )

    @property
    def item_codes(self) -> list[str]:
        """Every scale item code, in order."""
        return [code for code, _ in self.items]

    @property
    def expectation_codes(self) -> list[str]:
        """Every priority item code (question 10), in order."""
        return [code for code, _ in self.expectations]

    @property
    def counted_codes(self) -> list[str]:
        """The items whose answers the daily counts keep: scale items, then priorities."""
        return self.item_codes + self.expectation_codes

    def items_of(self, element_code: str) -> list[str]:
        """The scale item codes of one element, in order."""
        return [code for code, element in self.items if element == element_code]


def layout_of(questionnaire: QuestionnaireLike, language: str = "vi") -> ItemLayout:
    """The layout of a loaded questionnaire (scale items that belong to an element only)."""
    elements = tuple(
        (element.code, element.label.get(language) or next(iter(element.label.values()), ""))
        for element in questionnaire.elements
    )
    known = {code for code, _ in elements}
    scale = [
        item
        for item in questionnaire.scale_items()
        if item.element is not None and item.element in known
    ]
    items = tuple((item.code, str(item.element)) for item in scale)
    wording = tuple(
        (item.code, item.text.get(language) or next(iter(item.text.values()), "")) for item in scale
    )
    expectations = tuple(
        (item.code, item.text.get(language) or next(iter(item.text.values()), ""))
        for item in questionnaire.items
        if item.scale == EXPECTATION_SCALE
    )
    return ItemLayout(
        questionnaire.id,
        questionnaire.version,
        elements,
        items,
        wording,
        expectations,
        _profile_of(questionnaire, language),
    )


def _profile_of(questionnaire: QuestionnaireLike, language: str) -> tuple[ProfileItem, ...]:
    """The choice items of the questionnaire's profile sections; their "prefer not to say"
    joins the unstated band."""
    sections = {section.code for section in questionnaire.sections if section.profile}
    unstated = "Không cho biết" if language == "vi" else "Not stated"
    return tuple(
        ProfileItem(
            item.code,
            _in(item.text, language),
            (
                *(
                    (option.value, _in(option.label, language))
                    for option in item.options
                    if option.value != PREFER_NOT_TO_SAY
                ),
                (UNSTATED_BAND, unstated),
            ),
        )
        for item in questionnaire.items
        if item.section in sections and item.type == "choice"
    )


def _in(text: Mapping[str, str], language: str) -> str:
    return text.get(language) or next(iter(text.values()), "")


def bundled_layout(questionnaire_id: str) -> ItemLayout:
    """The layout of a questionnaire bundled with the `questionnaires` package."""
    from questionnaires import load_bundled

    return layout_of(load_bundled(questionnaire_id))
