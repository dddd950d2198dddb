"""`sipas questionnaire`: check a questionnaire file, and show a questionnaire as people and tools read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import assert_never

import click
from pydantic import ValidationError

from bot.runtime import settings_or_exit
from bot.settings import Settings, SettingsError
from problems import Problem
from questionnaires import (
    AllOf,
    Answered,
    AnyOf,
    Condition,
    Equals,
    IsIn,
    Item,
    Not,
    Questionnaire,
    bundled_questionnaire_paths,
    load_bundled,
    load_questionnaire,
)

__all__ = [
    "asked_questionnaire",
    "chosen_questionnaire",
    "describe_condition",
    "open_questionnaire",
    "questionnaire_group",
    "render_questionnaire",
]


def open_questionnaire(name: str) -> Questionnaire:
    """A questionnaire by bundled id or YAML file path.

    A QuestionnaireError lists what is wrong with a file; a ClickException says which
    questionnaires exist when `name` is none of them.
    """
    path = Path(name)
    try:
        if name.endswith((".yaml", ".yml")) or path.is_file():
            return load_questionnaire(path)
        return load_bundled(name)
    except KeyError:
        known = ", ".join(path.stem for path in bundled_questionnaire_paths())
        raise click.ClickException(
            f"no questionnaire {name!r}: give a bundled id ({known}) or a .yaml file"
        ) from None


def _configured() -> Settings:
    """The settings, read without load_settings: showing must not create a secret file."""
    try:
        return Settings()
    except ValidationError:
        settings_or_exit()  # reports every bad setting and exits
        raise


def chosen_questionnaire(name: str | None) -> Questionnaire:
    """The questionnaire `name` names, else the one the bot uses (SIPAS_QUESTIONNAIRE or the
    default), as defined: with every sensitive item."""
    name = name or _configured().questionnaire
    return open_questionnaire(name) if name else load_bundled()


def asked_questionnaire(name: str | None) -> Questionnaire:
    """`chosen_questionnaire` with only the sensitive items this deployment asks
    (SIPAS_SENSITIVE_ITEMS): the items a response may have answers to."""
    questionnaire = chosen_questionnaire(name)
    try:
        configured = _configured()
        return questionnaire.asking(configured.sensitive_items, profile=configured.ask_profile)
    except ValueError as error:
        raise SettingsError([Problem(column="SIPAS_SENSITIVE_ITEMS", message=str(error))]) from None


def describe_condition(condition: Condition) -> str:
    """A skip condition as one readable line, e.g. `ket_qua_nhan = yes`."""
    match condition:
        case Equals(item=item, value=value):
            return f"{item} = {value}"
        case IsIn(item=item, values=values):
            return f"{item} in ({', '.join(values)})"
        case Answered(item=item, answered=answered):
            return f"{item} answered" if answered else f"{item} not answered"
        case AllOf(conditions=conditions):
            return " and ".join(_grouped(sub) for sub in conditions)
        case AnyOf(conditions=conditions):
            return " or ".join(_grouped(sub) for sub in conditions)
        case Not(condition=sub):
            return f"not {_grouped(sub)}"
        case _:
            assert_never(condition)


def _grouped(condition: Condition) -> str:
    text = describe_condition(condition)
    return f"({text})" if isinstance(condition, AllOf | AnyOf) else text


def _flags(item: Item) -> str:
    flags = [
        flag for flag, on in (("required", item.required), ("skippable", item.skippable)) if on
    ]
    return f"  [{', '.join(flags)}]" if flags else ""


def render_questionnaire(questionnaire: Questionnaire, language: str) -> str:
    """The human view: header, elements, then every item in order with its options and skip rule."""
    lines = [
        f"{questionnaire.id} {questionnaire.version}: {questionnaire.title[language]}",
        f"languages: {', '.join(questionnaire.languages)} (showing {language})",
    ]
    if questionnaire.method_note:
        lines.append(f"method: {questionnaire.method_note}")
    lines += ["", "Elements:"]
    width = max((len(element.code) for element in questionnaire.elements), default=0)
    for element in questionnaire.elements:
        count = len(questionnaire.items_of_element(element.code))
        lines.append(f"  {element.code:<{width}}  {element.label[language]} ({count} items)")
    lines += ["", f"Items ({len(questionnaire.items)}, in the order they are asked):"]
    first_use: dict[str, str] = {}  # scale code -> the item that listed its options
    for item in questionnaire.items:
        element_code = f" · {item.element}" if item.element else ""
        lines += ["", f"  {item.code} · {item.type.value}{element_code}{_flags(item)}"]
        if item.show_if is not None:
            lines.append(f"    shown only if: {describe_condition(item.show_if)}")
        if item.sensitive:
            lines.append(
                "    sensitive personal data: asked only where SIPAS_SENSITIVE_ITEMS names it"
            )
        if item.intro:
            lines.append(f"    ({item.intro[language]})")
        lines.append(f"    {item.text[language]}")
        if item.scale is not None and item.scale in first_use:
            # A shared scale is listed once: 19 copies of the same five labels hide the items.
            lines.append(f"      options: scale {item.scale}, as item {first_use[item.scale]}")
        else:
            for option in item.options:
                lines.append(f"      {option.value} = {option.label[language]}")
            if item.scale is not None:
                first_use[item.scale] = item.code
        if item.type.value == "text":
            lines.append(f"      free text, at most {item.max_length} characters")
    return "\n".join(lines)


@click.group("questionnaire")
def questionnaire_group() -> None:
    """Questionnaires: check a YAML file, show a questionnaire.

    A questionnaire is named by its bundled id (e.g. sipas-2023) or by the path
    of a YAML file; SIPAS_QUESTIONNAIRE chooses the one the bot uses.
    """


@questionnaire_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_command(file: Path) -> None:
    """Check a questionnaire FILE: every problem, one per line, or OK with its size."""
    questionnaire = load_questionnaire(file)  # a QuestionnaireError lists every problem
    click.echo(f"OK: {questionnaire.id} {questionnaire.version}, {len(questionnaire.items)} items")


@questionnaire_group.command("show")
@click.argument("name", metavar="[ID|FILE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="The JSON form other tools read.")
@click.option(
    "--language",
    type=click.Choice(["vi", "en"]),
    help="Language of texts and labels (default: the questionnaire's first).",
)
def show_command(name: str | None, as_json: bool, language: str | None) -> None:
    """Show a questionnaire: elements, then items in order with options and skip rules.

    Without ID, the questionnaire the bot uses (SIPAS_QUESTIONNAIRE, else the default).
    """
    questionnaire = chosen_questionnaire(name)
    if as_json:
        click.echo(json.dumps(questionnaire.to_json(), ensure_ascii=False, indent=2))
        return
    chosen = language or questionnaire.default_language
    if chosen not in questionnaire.languages:
        raise click.BadParameter(
            f"{questionnaire.id} has no {chosen!r} text (it has {', '.join(questionnaire.languages)})",
            param_hint="--language",
        )
    click.echo(render_questionnaire(questionnaire, chosen))
