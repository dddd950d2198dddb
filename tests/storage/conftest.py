"""Fixtures of the storage tests: the trips to a SQLite file's connections' threads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from storage.sqlite_connection import OneTripConnection


class Trips(list[str]):
    """What was sent to a connection's thread, in order: a statement by its first word
    ("BEGIN", "INSERT", "PRAGMA" …), anything else by its function's name ("commit")."""

    def __init__(self) -> None:
        super().__init__()
        self._sent = asyncio.Condition()

    async def record(self, trip: str) -> None:
        async with self._sent:
            self.append(trip)
            self._sent.notify_all()

    async def until_sent(self, trip: str) -> None:
        """Return once `trip` has been sent (it may still be waiting in the thread)."""
        async with self._sent:
            await asyncio.wait_for(self._sent.wait_for(lambda: trip in self), timeout=10)


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    """Every trip to a connection's thread."""
    sent = Trips()
    original: Callable[..., Awaitable[Any]] = OneTripConnection._execute

    async def counted(self: OneTripConnection, function: Any, *args: Any, **kwargs: Any) -> Any:
        is_statement = function == self._counted
        await sent.record(args[0].split()[0] if is_statement else function.__name__)
        return await original(self, function, *args, **kwargs)

    monkeypatch.setattr(OneTripConnection, "_execute", counted)
    return sent
