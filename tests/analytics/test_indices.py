"""Indices from counts, checked against hand-computed figures."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import pytest

from analytics.indices import (
    EXPORT_COLUMNS,
    complete_overall,
    compute_index_table,
    wilson_interval,
)
from analytics.method import load_method
from tests.analytics.survey_rows import ELEMENTS, SIPAS_LAYOUT

DEFAULT = load_method()


def units(*rows: tuple[str, str, tuple[str, ...]]) -> pd.DataFrame:
    """Unit map rows (service point, unit, groups); each unit is named after its code."""
    return pd.DataFrame(
        [(point, unit, f"Unit {unit}", groups) for point, unit, groups in rows],
        columns=["service_point_code", "unit_code", "unit_name", "groups"],
    )


def table(
    counts: Sequence[tuple[str, str, str, str | None, int]],
    people: Sequence[tuple[str, str, int]],
    unit_map: pd.DataFrame,
    *,
    method_name: str = "sipas-2023-default",
    min_cell_size: int = 10,
) -> pd.DataFrame:
    return compute_index_table(
        pd.DataFrame(
            counts,
            columns=["service_point_code", "respondent_type", "item_code", "value", "answers"],
        ),
        pd.DataFrame(people, columns=["service_point_code", "respondent_type", "respondents"]),
        unit_map,
        SIPAS_LAYOUT,
        load_method(method_name),
        period="2026-11",
        level="commune",
        min_cell_size=min_cell_size,
    )


def row(
    frame: pd.DataFrame, scope: str, code: str = "", kind: str = "all", unit: str = "U"
) -> pd.Series:
    found = frame[
        (frame["unit_code"] == unit)
        & (frame["respondent_type"] == kind)
        & (frame["scope"] == scope)
        & (frame["code"] == code)
    ]
    assert len(found) == 1, (scope, code, kind, unit)
    return found.iloc[0]


ONE_UNIT = units(("P", "U", ("province:01",)))
# Item 15: 6×4, 2×5, 2×3, 1×1 and one skip → 11 valid, 8 satisfied = 72.73%.
# Item 16: 12×5 → 100%. Items 17–18 unanswered. TIEP_CAN = (72.73 + 100) / 2 = 86.36.
# Item 19: 4, 4, 2, 1 → 50%. TTHC = 50. Other elements have no valid answers.
# Overall = (86.36 + 50) / 2 = 68.18.
HAND_COUNTS = [
    ("P", "citizen", "15", "4", 6),
    ("P", "citizen", "15", "5", 2),
    ("P", "citizen", "15", "3", 2),
    ("P", "citizen", "15", "1", 1),
    ("P", "citizen", "15", None, 1),
    ("P", "citizen", "16", "5", 12),
    ("P", "citizen", "19", "4", 2),
    ("P", "citizen", "19", "2", 1),
    ("P", "citizen", "19", "1", 1),
    ("P", "citizen", "19", None, 8),
]


def test_item_index_is_the_share_of_valid_answers_that_are_4_or_5_skips_left_out() -> None:
    result = table(HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT)
    item = row(result, "item", "15")
    assert (item["n_valid"], item["n_satisfied"], item["index_pct"]) == (11, 8, 72.73)
    assert row(result, "item", "16")["index_pct"] == 100.0
    assert row(result, "item", "19")["index_pct"] == 50.0


def test_element_is_the_mean_of_its_answered_items_and_overall_the_mean_of_elements() -> None:
    result = table(HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT)
    assert row(result, "element", "TIEP_CAN")["index_pct"] == 86.36
    assert row(result, "element", "TTHC")["index_pct"] == 50.0
    overall = row(result, "overall")
    assert overall["index_pct"] == 68.18
    assert (overall["n_respondents"], overall["n_valid"], overall["n_satisfied"]) == (12, 27, 22)


def test_an_element_without_valid_answers_is_left_out_and_shown_empty() -> None:
    result = table(HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT)
    missing = row(result, "element", "PAKN")
    assert missing["n_valid"] == 0
    assert pd.isna(missing["index_pct"])
    assert not missing["suppressed"]
    assert pd.isna(row(result, "item", "17")["index_pct"])


def test_overall_rows_say_how_many_elements_they_rest_on() -> None:
    # U answers two elements (HAND_COUNTS); V answers one item of every element.
    every_element = [("Q", "citizen", items[0], "4", 12) for items in ELEMENTS.values()]
    two = units(("P", "U", ("province:01",)), ("Q", "V", ("province:01",)))
    result = table(
        [*HAND_COUNTS, *every_element], [("P", "citizen", 12), ("Q", "citizen", 12)], two
    )
    assert row(result, "overall")["elements_used"] == 2
    assert row(result, "overall", unit="V")["elements_used"] == 5
    assert result[result["scope"] != "overall"]["elements_used"].isna().all()
    overall = result[(result["scope"] == "overall") & (result["respondent_type"] == "all")]
    assert list(overall[complete_overall(overall, SIPAS_LAYOUT)]["unit_code"]) == ["V"]


def test_expectations_are_the_share_answering_very_much_or_much_per_priority() -> None:
    # 10.1: 3 "Rất nhiều", 4 "Nhiều", 5 "Ít", 2 skipped → 7 of 12 valid = 58.33%.
    priorities = [
        ("P", "citizen", "10.1", "rat_nhieu", 3),
        ("P", "citizen", "10.1", "nhieu", 4),
        ("P", "citizen", "10.1", "it", 5),
        ("P", "citizen", "10.1", None, 2),
        ("P", "citizen", "10.3", "it", 12),
    ]
    result = table([*HAND_COUNTS, *priorities], [("P", "citizen", 14)], ONE_UNIT)
    first = row(result, "expectation", "10.1")
    low, high = wilson_interval(7, 12)
    assert (first["n_valid"], first["n_satisfied"], first["index_pct"]) == (12, 7, 58.33)
    assert (first["ci_low"], first["ci_high"]) == (
        round(100 * low + 1e-9, 2),
        round(100 * high + 1e-9, 2),
    )
    assert row(result, "expectation", "10.3")["index_pct"] == 0.0
    unanswered = row(result, "expectation", "10.2")
    assert unanswered["n_valid"] == 0 and pd.isna(unanswered["index_pct"])
    # Priorities are not satisfaction: the overall index and its elements are unchanged.
    assert row(result, "overall")["index_pct"] == 68.18
    scopes = list(result[result["respondent_type"] == "all"]["scope"].drop_duplicates())
    assert scopes == ["overall", "element", "item", "expectation"]
    codes = list(result[result["scope"] == "expectation"]["code"].drop_duplicates())
    assert codes == [f"10.{n}" for n in range(1, 9)]


def test_every_cell_has_overall_elements_items_and_expectations_in_a_fixed_order() -> None:
    result = table(HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT)
    assert list(result.columns) == EXPORT_COLUMNS
    all_rows = result[result["respondent_type"] == "all"]
    assert list(all_rows["code"]) == [
        "",
        *(code for code, _ in SIPAS_LAYOUT.elements),
        *SIPAS_LAYOUT.item_codes,
        *SIPAS_LAYOUT.expectation_codes,
    ]
    assert list(result["respondent_type"].unique()) == ["all", "citizen"]
    assert set(result["method_id"]) == {"sipas-2023-default"}
    assert set(result["questionnaire_version"]) == {"2023.1"}


def test_neutral_half_method_counts_3_as_half_satisfied() -> None:
    result = table(
        HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT, method_name="sipas-2023-neutral-half"
    )
    item = row(result, "item", "15")
    assert item["n_satisfied"] == 9.0  # 6 + 2 + 2 × 0.5
    assert item["index_pct"] == round(100 * 9 / 11, 2)
    assert row(result, "overall")["method_id"] == "sipas-2023-neutral-half"


def test_weighted_elements_weigh_in_the_overall_index() -> None:
    # Only TIEP_CAN (100) and CONG_CHUC (0, weight 2) answered: (100 + 2 × 0) / 3.
    counts = [("P", "citizen", "15", "5", 12), ("P", "citizen", "23", "1", 12)]
    result = table(counts, [("P", "citizen", 12)], ONE_UNIT, method_name="sipas-2023-neutral-half")
    assert row(result, "overall")["index_pct"] == 33.33


def test_wilson_interval_matches_published_values() -> None:
    # 81/100: 0.7222 – 0.8749 (Wilson 1927; e.g. Newcombe 1998, Table I method 3 style).
    low, high = wilson_interval(81, 100)
    assert (round(low, 4), round(high, 4)) == (0.7222, 0.8749)
    low, high = wilson_interval(0, 10)
    assert (round(low, 4), round(high, 4)) == (0.0, 0.2775)
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


def test_item_interval_and_low_reliability() -> None:
    counts = [("P", "citizen", "15", "4", 81), ("P", "citizen", "15", "2", 19)]
    result = table(counts, [("P", "citizen", 100)], ONE_UNIT)
    item = row(result, "item", "15")
    assert (item["ci_low"], item["ci_high"]) == (72.22, 87.49)
    assert not item["low_reliability"]
    small = table(
        [("P", "citizen", "15", "4", 8), ("P", "citizen", "15", "2", 4)],
        [("P", "citizen", 12)],
        ONE_UNIT,
    )
    assert row(small, "item", "15")["low_reliability"]  # 8/12: ±24 points


def test_a_cell_under_the_minimum_is_suppressed_and_carries_no_index() -> None:
    counts = [("P", "citizen", "15", "5", 9)]
    result = table(counts, [("P", "citizen", 9)], ONE_UNIT)
    assert result["suppressed"].all()
    assert result["index_pct"].isna().all()
    assert result["ci_low"].isna().all() and result["ci_high"].isna().all()
    assert result["n_satisfied"].isna().all()
    assert row(result, "overall")["n_respondents"] == 9


def test_secondary_suppression_between_respondent_types() -> None:
    # 15 citizens shown alone would let all (20) − citizens (15) reveal the 5 organisations.
    counts = [("P", "citizen", "15", "5", 15), ("P", "organisation", "15", "1", 5)]
    result = table(counts, [("P", "citizen", 15), ("P", "organisation", 5)], ONE_UNIT)
    assert row(result, "overall", kind="organisation")["suppressed"]
    assert row(result, "overall", kind="citizen")["suppressed"]
    assert not row(result, "overall", kind="all")["suppressed"]
    assert row(result, "overall", kind="all")["index_pct"] == 75.0


def test_secondary_suppression_within_a_total() -> None:
    # Three wards of one province: the one with 4 respondents is hidden, so the smallest
    # other one (25) is hidden too; the province total could reveal it otherwise.
    three = units(
        ("A", "UA", ("province:01",)), ("B", "UB", ("province:01",)), ("C", "UC", ("province:01",))
    )
    counts = [(point, "citizen", "15", "5", n) for point, n in (("A", 30), ("B", 25), ("C", 4))]
    people = [(point, "citizen", n) for point, n in (("A", 30), ("B", 25), ("C", 4))]
    result = table(counts, people, three)
    hidden = {unit: row(result, "overall", unit=unit)["suppressed"] for unit in ("UA", "UB", "UC")}
    assert hidden == {"UA": False, "UB": True, "UC": True}


def test_units_outside_the_level_are_not_counted() -> None:
    counts = [("P", "citizen", "15", "5", 12), ("Q", "citizen", "15", "1", 12)]
    result = table(counts, [("P", "citizen", 12), ("Q", "citizen", 12)], ONE_UNIT)
    assert row(result, "item", "15")["index_pct"] == 100.0


@pytest.mark.parametrize("min_cell_size", [1, 12, 13])
def test_minimum_cell_size_is_a_setting(min_cell_size: int) -> None:
    result = table(HAND_COUNTS, [("P", "citizen", 12)], ONE_UNIT, min_cell_size=min_cell_size)
    assert row(result, "overall")["suppressed"] == (min_cell_size > 12)
