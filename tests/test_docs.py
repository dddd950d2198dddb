"""The documentation can be trusted: the README's links lead somewhere, and every setting and
command is documented (mkdocs --strict checks the links inside docs/, not these)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from bot.cli import cli
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# An inline Markdown link or image: [text](target) or ![alt](target "title").
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: …


def relative_links(markdown: str) -> list[str]:
    """The link targets of a Markdown text that point into the repository."""
    targets = [match.group(1) for match in LINK.finditer(markdown)]
    return [target for target in targets if not EXTERNAL.match(target) and target[0] != "#"]


def one_line(text: str) -> str:
    return " ".join(text.split())


def command_paths(group: click.Group, prefix: str) -> Iterator[str]:
    """`sipas units load`, `sipas serve`, …: every command a user can run."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from command_paths(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


def test_relative_links_are_found_in_markdown_and_external_ones_are_left_alone() -> None:
    text = '[a](docs/x.md#part) ![b](img/c.png "C") [d](https://e.org) [f](#g)'
    assert relative_links(text) == ["docs/x.md#part", "img/c.png"]


def test_every_relative_link_in_the_readme_points_to_a_file_in_the_repository() -> None:
    links = relative_links(README.read_text(encoding="utf-8"))
    assert links, "the README links into docs/"
    missing = [link for link in links if not (ROOT / link.split("#")[0]).exists()]
    assert missing == []


def test_the_readme_keeps_its_quick_start_with_the_run_and_test_commands() -> None:
    readme = README.read_text(encoding="utf-8")
    quick_start = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_row_in_the_operations_settings_tables(field: str) -> None:
    operations = (DOCS / "operations.md").read_text(encoding="utf-8")
    first_cells = [line.split("|")[1] for line in operations.splitlines() if line.startswith("| `")]
    assert any(f"`SIPAS_{field.upper()}`" in cell for cell in first_cells)


@pytest.mark.parametrize("command", sorted(command_paths(cli, "sipas")))
def test_every_command_is_in_the_command_reference(command: str) -> None:
    reference = one_line((DOCS / "commands.md").read_text(encoding="utf-8"))
    assert re.search(rf"`{re.escape(command)}\b", reference)
