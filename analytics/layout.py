"""What analytics needs of a questionnaire: its version, its elements and which scale item is in which."""

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


class QuestionnaireLike(Protocol):
    """The part of `questionnaires.Questionnaire` analytics reads."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def elements(self) -> Sequence[_ElementLike]: ...
    def scale_items(self) -> Sequence[_ItemLike]: ...


@dataclass(frozen=True)
class ItemLayout:
    """The scale items of one questionnaire version, grouped in elements, in questionnaire order."""

    questionnaire_id: str
    questionnaire_version: str
    elements: tuple[tuple[str, str], ...]  # (element code, label) in order
    items: tuple[tuple[str, str], ...]  # (item code, element code) in order
    wording: tuple[tuple[str, str], ...] = ()  # (item code, the question's words) in order

    def label(self, code: str) -> str:
        """An element's name or a question's words, by code ("" when unknown)."""
        return dict(self.elements).get(code) or dict(self.wording).get(code, "")

    @property
    def item_codes(self) -> list[str]:
        """Every scale item code, in order."""
        return [code for code, _ in self.items]

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
    return ItemLayout(questionnaire.id, questionnaire.version, elements, items, wording)


def bundled_layout(questionnaire_id: str) -> ItemLayout:
    """The layout of a questionnaire bundled with the `questionnaires` package."""
    from questionnaires import load_bundled

    return layout_of(load_bundled(questionnaire_id))
