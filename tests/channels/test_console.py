"""The console channel: numbered choices in a terminal, the whole survey to the end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from channels.console import render
from handlers.events import Button, Reply
from storage.db import Database
from storage.models import Response
from tests.conftest import TEST_SECRET


def test_a_reply_renders_as_text_with_numbered_choices() -> None:
    reply = Reply(
        "Câu 2/24\n\nCâu hỏi?",
        ((Button("Hài lòng", "a:15:4", "4"),), (Button("Không trả lời", "s:15", "0"),)),
    )
    assert render(reply).splitlines() == [
        "Câu 2/24",
        "",
        "Câu hỏi?",
        "  [4] Hài lòng",
        "  [0] Không trả lời",
    ]


def _answers_to_the_end() -> str:
    # consent, respondent type, items 15-27, the two screeners and the priorities gate
    # answered "2" (= no), the six profile items with their first option, comment skipped.
    lines = ["1", "1"] + ["4"] * 13 + ["2", "2", "2"] + ["1"] * 6 + ["0"]
    return "\n".join(lines) + "\n"


def test_sipas_chat_runs_the_survey_to_the_end_and_stores_the_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["units", "load", "--sample"]).exit_code == 0
    result = runner.invoke(
        cli, ["chat", "--service-point", "HN-00004-01"], input=_answers_to_the_end()
    )
    assert result.exit_code == 0, result.output
    assert "[1] Rất không hài lòng" in result.output
    assert "Cảm ơn Ông/Bà đã dành thời gian" in result.output

    async def responses() -> int:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
        async with database.reading() as tx:
            count = (await tx.execute(select(func.count()).select_from(Response))).scalar_one()
        await database.dispose()
        return count

    assert asyncio.run(responses()) == 1


def test_sipas_chat_needs_a_counter_or_an_invitation() -> None:
    result = CliRunner().invoke(cli, ["chat"])
    assert result.exit_code == 2
    assert "--service-point" in result.output


def test_sipas_chat_at_an_unknown_counter_is_an_operator_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    result = CliRunner().invoke(cli, ["chat", "--service-point", "HN-NOPE"])
    assert result.exit_code == 1
    assert "no service point 'HN-NOPE'" in result.output
