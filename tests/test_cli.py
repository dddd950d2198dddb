"""The `sipas` command line as a whole: refused input is reported one way by every subcommand."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from tests.conftest import TEST_SECRET


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
