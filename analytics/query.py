"""What an index table is asked for, as one value: the period and level, the method and its
questionnaire's layout, the minimum cell size, and which responses count.

Every output that shows indices (exports, the nightly files, the XLSX report, the
dashboard, the staff chat, `sipas summary`) asks with a `ReportQuery`, so the same
question gives the same rows everywhere. Vary one part with `dataclasses.replace`:

    monthly = replace(query, period=month)
    counters = replace(query, level="service_point")
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.days import Period
from analytics.indices import RESPONDENT_TYPES
from analytics.layout import ItemLayout
from analytics.levels import LEVELS
from analytics.method import Method

RESPONSE_SETS = ("cleaned", "raw")
"""cleaned: responses the method's cleaning rule keeps (every published figure); raw: all."""


@dataclass(frozen=True)
class ReportQuery:
    """One index table: `period` at `level`, by `method` on the items of `layout`, with cells
    of fewer than `min_cell_size` respondents suppressed, on `responses` ("cleaned" or
    "raw"), for `respondent_types`."""

    period: Period
    level: str
    layout: ItemLayout
    method: Method
    min_cell_size: int
    responses: str = "cleaned"
    respondent_types: tuple[str, ...] = RESPONDENT_TYPES

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if self.responses not in RESPONSE_SETS:
            raise ValueError(f"responses must be cleaned or raw, not {self.responses!r}")
        if self.min_cell_size < 1:
            raise ValueError(f"the minimum cell size must be 1 or more, not {self.min_cell_size}")
