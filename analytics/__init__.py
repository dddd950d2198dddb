"""Analytics: satisfaction indices, nightly aggregation, exports and scoring schemes.

Counting happens in the database (`counting`, one INSERT … SELECT per day into
`daily_counts`); indices are pandas arithmetic on those counts (`indices`, `report`).
"""

from analytics.aggregate import (
    AggregationError,
    LeaseBusy,
    RunResult,
    aggregate,
    data_as_of,
    nightly_loop,
    run_nightly,
)
from analytics.counting import QualityRules
from analytics.days import Period, parse_period, period_of, reporting_day
from analytics.export import FORMATS, write_export
from analytics.indices import EXPORT_COLUMNS, RESPONDENT_TYPES, SCOPES, wilson_interval
from analytics.layout import ItemLayout, bundled_layout, layout_of
from analytics.levels import LEVELS
from analytics.method import DEFAULT_METHOD_ID, Method, MethodError, load_method
from analytics.report import index_table
from analytics.schemes import SchemeError, ScoringScheme, load_scheme
from storage.leases import acquire_lease, release_lease

__all__ = [
    "DEFAULT_METHOD_ID",
    "EXPORT_COLUMNS",
    "FORMATS",
    "LEVELS",
    "RESPONDENT_TYPES",
    "SCOPES",
    "AggregationError",
    "ItemLayout",
    "LeaseBusy",
    "Method",
    "MethodError",
    "Period",
    "QualityRules",
    "RunResult",
    "SchemeError",
    "ScoringScheme",
    "acquire_lease",
    "aggregate",
    "bundled_layout",
    "data_as_of",
    "index_table",
    "layout_of",
    "load_method",
    "load_scheme",
    "nightly_loop",
    "parse_period",
    "period_of",
    "release_lease",
    "reporting_day",
    "run_nightly",
    "wilson_interval",
    "write_export",
]
