"""`sipas rounds` as an operator runs it: a round file refused with every problem, the list with
the citizen survey's round, and invitations refused for an unknown group or a closed round."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot.cli import cli
from questionnaires.rounds import BUNDLED_ROUNDS
from storage.db import Database
from storage.migrate import upgrade
from storage.models import RoundInvitation, SurveyRound
from tests.conftest import TEST_SECRET


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    monkeypatch.setenv("SIPAS_DATABASE_URL", url)
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_LOG_LEVEL", "WARNING")
    asyncio.run(upgrade(url))
    return url


def sipas(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def count(url: str, table: type[SurveyRound] | type[RoundInvitation]) -> int:
    async def run() -> int:
        database = Database(url)
        async with database.reading() as tx:
            counted = int(await tx.scalar(select(func.count()).select_from(table)) or 0)
        await database.dispose()
        return counted

    return asyncio.run(run())


def test_a_bad_round_file_is_refused_one_line_per_problem_and_nothing_stored(
    database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    text = (BUNDLED_ROUNDS / "seed-2021-officials.yaml").read_text(encoding="utf-8")
    text = text.replace("target: 50", "target: -1")
    bad.write_text(text.replace("rates: all\n    sample: 3", "rates: [SO-X]", 1), encoding="utf-8")
    result = sipas("rounds", "create", str(bad))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "bad.yaml: groups[0].target: expected a whole number of at least 1, got -1",
        "bad.yaml: groups[0].rates: not among the round's units: SO-X",
        "Error: 2 problems in bad.yaml; nothing was created",
    ]
    assert count(database_url, SurveyRound) == 0


def test_rounds_are_listed_invited_and_closed(database_url: str, tmp_path: Path) -> None:
    seed = str(BUNDLED_ROUNDS / "seed-2021-officials.yaml")
    assert sipas("rounds", "create", seed).exit_code == 0
    again = sipas("rounds", "create", seed)
    assert again.exit_code == 1 and "round seed-2021-officials exists already" in again.output
    listed = sipas("rounds", "list").output.splitlines()
    assert listed[0].split()[:2] == ["sipas", "continuous"]
    assert listed[1].split()[0] == "seed-2021-officials"
    unknown = sipas("rounds", "invite", "--round", "seed-2021-officials", "--group", "NOPE",
                    "--count", "2", "--out", str(tmp_path))  # fmt: skip
    assert unknown.exit_code == 1 and "has no group 'NOPE'" in unknown.output
    assert sipas("rounds", "close", "seed-2021-officials").exit_code == 0
    closed = sipas("rounds", "invite", "--round", "seed-2021-officials", "--group", "LD_HUYEN",
                   "--count", "2", "--out", str(tmp_path))  # fmt: skip
    assert closed.exit_code == 1 and "round seed-2021-officials is closed" in closed.output
    assert count(database_url, RoundInvitation) == 0
    assert "seed-2021-officials (closed)" in sipas("rounds", "show", "seed-2021-officials").output
