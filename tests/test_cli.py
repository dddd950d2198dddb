"""The `sipas` command line as a whole: quick to list its commands, and one way to refuse input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import SUBCOMMANDS, cli, load_subcommand
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent
# What the commands themselves need, and `sipas --help` must not pay for: each takes from a
# tenth of a second (SQLAlchemy, pydantic) to a second and more (pandas with matplotlib), and
# importing the staff accounts once cost an argon2 hash.
HEAVY = (
    "argon2",
    "fastapi",
    "httpx",
    "matplotlib",
    "numpy",
    "openpyxl",
    "pandas",
    "pydantic",
    "sqlalchemy",
    "telegram",
)


@pytest.fixture(autouse=True)
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")


def sipas(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_every_problem_is_a_line_of_its_own_then_the_summary_is_the_error(tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text(
        "kind,code,name,unit_code\nservice_point,hn-1,Quầy 1,00004\nservice_point,HN-2,Quầy 2,00004\n",
        encoding="utf-8",
    )
    refused = sipas("units", "load", str(path))
    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"{path}:2: code: 'hn-1' is not a code (capital letters A-Z, digits and '-', at most 32)",
        f"{path}:3: unit_code: unknown unit '00004' (a unit in this file or already loaded)",
        f"Error: 2 problems in {path}; nothing was written. Fix them and run the command again.",
    ]


def test_a_single_problem_with_no_place_is_the_error_itself() -> None:
    refused = sipas("staff", "codes", "nobody")
    assert refused.exit_code == 1
    assert refused.stderr == "Error: no staff account 'nobody': see `sipas staff list`\n"


def test_bad_settings_are_listed_like_any_other_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPAS_DEFAULT_LANGUAGE", "fr")
    refused = sipas("units", "list")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        "SIPAS_DEFAULT_LANGUAGE: Input should be 'vi' or 'en' (got 'fr')",
        "Error: invalid settings: 1 problem (SIPAS_* environment variables or .env)",
    ]


def test_the_list_of_commands_shows_each_by_the_first_sentence_of_its_own_help() -> None:
    for name, subcommand in SUBCOMMANDS.items():
        assert load_subcommand(name).get_short_help_str(limit=1000) == subcommand.summary, name
    listing = sipas("--help").stdout
    assert all(f"  {name} " in listing for name in SUBCOMMANDS)


def modules_loaded_by(*args: str) -> set[str]:
    """The modules a fresh interpreter holds after `sipas ARGS` (or only `import bot.cli`)."""
    run = f"bot.cli.cli.main({list(args)!r}, prog_name='sipas', standalone_mode=False)"
    code = (
        "import contextlib, io, json, sys\n"
        "import bot.cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    {run if args else 'pass'}\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("args", [(), ("--help",), ("units", "--help")])
def test_listing_the_commands_imports_nothing_heavy(args: tuple[str, ...]) -> None:
    loaded = modules_loaded_by(*args)
    assert "bot.cli" in loaded
    assert sorted(name for name in HEAVY if name in loaded) == []


def test_importing_the_staff_accounts_hashes_no_password() -> None:
    code = (
        "import argon2\n"
        "def refuse(*args, **kwargs):\n    raise AssertionError('an argon2 hash at import')\n"
        "argon2.PasswordHasher.hash = refuse\n"
        "import storage.staff\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
