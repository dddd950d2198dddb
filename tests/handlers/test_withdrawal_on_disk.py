"""Deleted means gone from disk: after /delete, a comment is in neither the SQLite file nor its log."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.events import Command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.db import Database
from storage.invitations import counter_payload
from storage.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

COMMENT = "Chờ rất lâu ở quầy số bảy, mã ghi chú ZQXJ-KUVE-WITHDRAWN"
MARKER = "ZQXJ-KUVE-WITHDRAWN"


@pytest.fixture
async def database_file(tmp_path: Path) -> AsyncIterator[tuple[Database, Path]]:
    path = tmp_path / "sipas.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    database = Database(url)
    await add_counters(database)
    yield database, path
    await database.dispose()


def on_disk(path: Path) -> bytes:
    """The raw bytes of the database file and of its write-ahead log, as anyone reading the
    files would see them."""
    log = path.with_name(path.name + "-wal")
    return path.read_bytes() + (log.read_bytes() if log.exists() else b"")


@pytest.mark.parametrize("checkpointed", [False, True], ids=["in the log", "in the file"])
async def test_a_withdrawn_comment_is_gone_from_the_database_file_and_its_log(
    database_file: tuple[Database, Path], checkpointed: bool
) -> None:
    database, path = database_file
    engine = SurveyEngine(database, load_bundled(), engine_config())
    clock = Clock()
    payload = counter_payload(TEST_SECRET, POINT)
    person = Respondent(engine, "5550001", clock)
    await person.complete(payload, comment=COMMENT)
    # Another respondent's answers share the pages: the withdrawn rows leave holes in pages
    # still in use, not whole pages freed.
    await Respondent(engine, "5550002", clock).complete(payload, comment="Cán bộ nhiệt tình.")
    if checkpointed:
        # Days later: the comment has been copied from the log into the file itself.
        with sqlite3.connect(path) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = on_disk(path)
    assert COMMENT.encode() in stored and MARKER.encode() in stored  # the search does see it

    await person.command(Command.DELETE)
    replies = await person.press("del:yes")

    assert "1" in replies[0].text  # one survey deleted
    stored = on_disk(path)
    assert MARKER.encode() not in stored
    assert "Chờ rất lâu".encode() not in stored
