"""Builds the same thing at two different instants, so that a determinism test can fail.

Built twice within milliseconds, files that stamp the time they were made (zip entries,
document properties) come out equal even without any normalisation; with the clock moved on
by years, hours and odd seconds between the two builds (zip times have a 2-second grain), only
the normalisation keeps them equal.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

import time_machine

FIRST_INSTANT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER_INSTANT = datetime(2031, 7, 8, 19, 20, 37, tzinfo=UTC)

T = TypeVar("T")


def clock_stopped_at(instant: datetime) -> AbstractContextManager[Any]:
    """Every clock the process reads (time.time, datetime.now, …) says `instant` inside."""
    return time_machine.travel(instant, tick=False)


def built_at_two_instants(build: Callable[[], T]) -> tuple[T, T]:
    """What `build` returns with the clock stopped at FIRST_INSTANT, then at LATER_INSTANT."""
    with clock_stopped_at(FIRST_INSTANT):
        first = build()
    with clock_stopped_at(LATER_INSTANT):
        later = build()
    return first, later
