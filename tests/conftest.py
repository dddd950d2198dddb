"""Shared fixtures: a migrated database on each backend (a real SQLite file, a real PostgreSQL)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from storage.db import Database
from storage.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "SIPAS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _raw_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's `.env` or SIPAS_* variables, or writes in the checkout,
    or leaves the process's umask changed (every `sipas` command tightens it)."""
    for name in list(os.environ):
        if name.startswith("SIPAS_") and name != "SIPAS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    umask = os.umask(0o077)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated SQLite file: for what only SQLite does."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    await upgrade(url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated, empty database: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
        await upgrade(url)
        db = Database(url)
        yield db
        await db.dispose()
        return
    async for db in _postgres_schema():
        yield db


@pytest.fixture
async def postgres_database() -> AsyncIterator[Database]:
    """A freshly migrated PostgreSQL schema: for what only PostgreSQL does (a test using it is
    marked `postgres`, as the `database` fixture's PostgreSQL runs are)."""
    async for db in _postgres_schema():
        yield db


async def _postgres_schema() -> AsyncIterator[Database]:
    schema = f"sipas_test_{secrets.token_hex(6)}"  # each test its own: runs never collide
    connection = await asyncpg.connect(_raw_dsn(POSTGRES_URL))
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    await upgrade(POSTGRES_URL, schema=schema)
    db = Database(POSTGRES_URL, schema=schema)
    yield db
    await db.dispose()
    connection = await asyncpg.connect(_raw_dsn(POSTGRES_URL))
    try:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await connection.close()
