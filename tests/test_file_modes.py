"""Files the product writes are its operator's alone: 0600 files, 0700 folders, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Lease


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask, under which a file is created readable by everyone."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
async def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    database = Database(url)
    try:
        async with database.transaction() as tx:
            tx.add(Lease(name="probe", holder="test", expires_at=datetime.now(UTC)))
        # Open connections keep the write-ahead log and the shared memory in place.
        files = [path, tmp_path / "fresh.db-wal", tmp_path / "fresh.db-shm"]
        assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
    finally:
        await database.dispose()


@pytest.mark.usefixtures("permissive_umask")
def test_a_command_writes_its_database_secret_and_export_for_its_owner_only(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--period", "2026-11", "--out", "exports/report.csv"]
    )
    assert result.exit_code == 0, result.output

    exports = tmp_path / "exports"
    written = [
        tmp_path / "sipas.db",
        tmp_path / "sipas.secret",
        exports / "report.csv",
        exports / "report.raw.csv",
        exports / "report.csv.manifest.json",
    ]
    assert {file.name: mode(file) for file in written} == {file.name: 0o600 for file in written}
    assert mode(exports) == 0o700
