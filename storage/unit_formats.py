"""What the unit files hold: unit levels, row kinds, and the columns of each file format.

Apart from `storage.units`, which reads the files into the database, so that the
command line can name the columns and choices (`sipas units --help`) without loading
the database layer.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "AGENCY_KINDS",
    "CROSSWALK_COLUMNS",
    "OFFICIAL_COLUMNS",
    "OFFICIAL_VALID_FROM",
    "ROW_KINDS",
    "UNITS_COLUMNS",
    "UNIT_LEVELS",
]

UNIT_LEVELS = ("province", "district", "commune")
ROW_KINDS = ("unit", "agency", "service_point")
AGENCY_KINDS = ("department", "service_centre_branch", "other")

# column -> what it means; the order is the documented order of the units file.
UNITS_COLUMNS: dict[str, str] = {
    "kind": "unit | agency | service_point (required)",
    "code": "the row's code, text, [A-Z0-9-]; official unit codes keep their leading zeros",
    "name": "short name, e.g. Ba Đình, Sở Tư pháp, Quầy 1 (required)",
    "full_name": "unit: name with its type, e.g. Phường Ba Đình (default: unit_type + name)",
    "name_en": "English name (optional)",
    "level": "unit: province | district | commune (required for units)",
    "unit_type": "unit: Thành phố, Tỉnh, Quận, Huyện, Thị xã, Phường, Xã, Đặc khu … (required)",
    "parent_code": "unit: code of the unit above (empty for a province)",
    "unit_code": "agency, service_point: code of the unit it belongs to (required)",
    "agency_code": "service_point: code of its agency (optional)",
    "agency_kind": "agency: department | service_centre_branch | other (required)",
    "valid_from": "unit: first day in force, YYYY-MM-DD (optional)",
    "valid_to": "unit: last day in force, YYYY-MM-DD (optional; e.g. 2025-06-30 for districts)",
    "active": "service_point: true | false (default true)",
}
OFFICIAL_COLUMNS = (
    "level",
    "code",
    "name",
    "full_name",
    "full_name_en",
    "unit_type",
    "parent_code",
)
CROSSWALK_COLUMNS = ("new_code", "old_commune_code", "old_commune_name", "old_district_code")

OFFICIAL_VALID_FROM = date(2025, 7, 1)  # NQ 1656/NQ-UBTVQH15 and its sister resolutions
