"""Facts of a completed response that its quality flags are judged on, recorded once per response.

The nightly aggregation flags straight-lining and speeding (docs/indices.md, "Response quality") from
these columns of `responses` alone, so a recount never re-reads and re-sorts every answer
by time. They hold no threshold: the rules (how many items, how many seconds) stay in the
aggregation and can change without touching a response.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from statistics import median

IMPORT_CHANNEL = "import"
"""The channel of responses imported from paper or kiosk files: they carry no timing."""

ScaleValues = Mapping[str, Collection[str]]
"""Satisfaction item code -> the values that are a real answer to it (a point of its scale)."""


@dataclass(frozen=True)
class ResponseFacts:
    """`scale_answers`: real answers to satisfaction items (skipped ones are not).
    `uniform_value`: their one value when every one of them is the same, else None.
    `median_gap_seconds`: the median time between consecutive answers in time order; None
    for a response without timing (an import) or with fewer than two answers.
    """

    scale_answers: int
    uniform_value: str | None
    median_gap_seconds: float | None


def response_facts(
    scale_values: ScaleValues,
    answers: Mapping[str, str | None],
    answered_at: Iterable[datetime] | None,
) -> ResponseFacts:
    """The facts of one response from its kept answers and, when timed, their answer times."""
    real = [
        value
        for code, value in answers.items()
        if value is not None and value in scale_values.get(code, ())
    ]
    distinct = set(real)
    gap: float | None = None
    if answered_at is not None:
        times = sorted(answered_at)
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        gap = median(gaps) if gaps else None
    return ResponseFacts(len(real), distinct.pop() if len(distinct) == 1 else None, gap)
