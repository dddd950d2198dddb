"""Breakdowns by profile band: the overall and element indices of each band equal an
independent computation on hand-made responses, and a band is suppressed when it is small
(primary) or when the cell minus its other bands would give it away (secondary), at every level."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from analytics.aggregate import aggregate
from analytics.days import parse_period
from analytics.indices import wilson_interval
from analytics.layout import UNSTATED_BAND
from analytics.levels import LEVELS
from analytics.method import load_method
from analytics.publish import export_period
from analytics.query import ReportQuery
from analytics.report import breakdown_table, index_table
from storage.db import Database
from tests.analytics.survey_rows import PROFILE_LAYOUT as LAYOUT
from tests.analytics.survey_rows import TYPICAL, Survey, answers, profile

METHOD = load_method()
PERIOD = parse_period("2026-11")


def query(level: str) -> ReportQuery:
    return ReportQuery(PERIOD, level, LAYOUT, METHOD, 10)


def rounded(value: float) -> float:
    return float(f"{value + 1e-9:.2f}")


async def one_counter(database: Database) -> None:
    """28 citizens at counter W1-A, the only counter with responses: its ward 00004, former
    district 001 and province 01 hold the same respondents.

    gioi_tinh: nam 12, nu 11, unstated 5 (3 without the profile, 2 "Không muốn trả lời");
    do_tuoi: 18-25 6, 26-34 17, unstated 5."""
    survey = Survey(database)
    await survey.units()
    await survey.many(6, TYPICAL | profile("nam", "18-25"))
    await survey.many(6, TYPICAL | answers(TTHC="2") | profile("nam", "26-34"))
    await survey.many(11, TYPICAL | answers(TIEP_CAN="2") | profile("nu", "26-34"))
    await survey.many(3, TYPICAL)
    await survey.many(2, TYPICAL | profile("khong_tra_loi", "khong_tra_loi"))
    await aggregate(database, LAYOUT)


def figure(table: pd.DataFrame, unit: str, breakdown: str, band: str, scope: str, code: str = ""):
    found = table[
        (table["unit_code"] == unit)
        & (table["respondent_type"] == "all")
        & (table["breakdown"] == breakdown)
        & (table["band"] == band)
        & (table["scope"] == scope)
        & (table["code"] == code)
    ]
    assert len(found) == 1, found
    return found.iloc[0]


async def test_the_export_breaks_the_indices_down_by_band_as_computed_by_hand(
    database: Database, tmp_path: Path
) -> None:
    await one_counter(database)
    out = tmp_path / "commune.csv"
    await export_period(database, out, "csv", query("commune"), include_raw=False)
    text = {column: str for column in ("unit_code", "code", "breakdown", "band")}
    table = pd.read_csv(out, dtype=text).fillna({"code": "", "breakdown": "", "band": ""})
    cells = table[table["breakdown"] == ""]
    assert len(cells) == len(await index_table(database, query("commune")))  # as before

    # nam: 12 respondents; half of them dissatisfied with every TTHC item.
    nam = figure(table, "00004", "gioi_tinh", "nam", "element", "TTHC")
    assert (nam["n_respondents"], nam["n_valid"], nam["n_satisfied"]) == (12, 48, 24)
    low, high = wilson_interval(6, 12)  # each item 6 of 12; n = valid answers per item
    assert (nam["index_pct"], nam["ci_low"], nam["ci_high"]) == (
        50.0,
        rounded(100 * low),
        rounded(100 * high),
    )
    overall = figure(table, "00004", "gioi_tinh", "nam", "overall")
    assert overall["index_pct"] == (100 + 50 + 100 + 100 + 100) / 5
    assert overall["elements_used"] == 5 and not overall["suppressed"]

    # 26-34: 6 men (TTHC dissatisfied) and 11 women (TIEP_CAN dissatisfied).
    access = figure(table, "00004", "do_tuoi", "26-34", "element", "TIEP_CAN")
    assert (access["n_respondents"], access["n_valid"], access["n_satisfied"]) == (17, 68, 24)
    assert access["index_pct"] == rounded(100 * 6 / 17)
    overall = figure(table, "00004", "do_tuoi", "26-34", "overall")
    assert overall["index_pct"] == rounded((100 * 6 / 17 + 100 * 11 / 17 + 300) / 5)

    # Primary: unstated (5) and 18-25 (6) are under 10. Secondary: gioi_tinh's nu (11) would
    # be the cell (28) minus nam and the unstated band, so it is hidden too; do_tuoi already
    # has two hidden bands, and 26-34 stays.
    hidden = {
        (breakdown, band)
        for breakdown, band, suppressed in zip(
            table["breakdown"], table["band"], table["suppressed"], strict=True
        )
        if suppressed
    }
    assert hidden == {
        ("gioi_tinh", "nu"),
        ("gioi_tinh", UNSTATED_BAND),
        ("do_tuoi", "18-25"),
        ("do_tuoi", UNSTATED_BAND),
    }
    nu = figure(table, "00004", "gioi_tinh", "nu", "overall")
    assert nu["n_respondents"] == 11
    assert nu[["index_pct", "ci_low", "ci_high", "n_satisfied"]].isna().all()


async def test_every_level_holding_the_same_respondents_shows_the_same_bands(
    database: Database,
) -> None:
    await one_counter(database)
    shown = {}
    for level, unit in (
        ("service_point", "W1-A"),
        ("commune", "00004"),
        ("district", "001"),
        ("province", "01"),
    ):
        table = await breakdown_table(database, query(level))
        assert set(table["unit_code"]) == {unit}
        shown[level] = table.drop(columns=["level", "unit_code", "unit_name"])
    first = shown["service_point"]
    assert all(frame.equals(first) for frame in shown.values())
    assert set(first["breakdown"]) == {"gioi_tinh", "do_tuoi"}
    assert set(first["scope"]) == {"overall", "element"}


# Respondents per counter, type and band of gioi_tinh (ward 00004: W1-A, W1-B; ward 00070:
# W2-A; agency HN-STP at the province: STP-1).
MIXED: Mapping[tuple[str, str, str], int] = {
    ("W1-A", "citizen", "nam"): 12,
    ("W1-A", "citizen", "nu"): 4,
    ("W1-B", "citizen", "nam"): 10,
    ("W1-B", "citizen", "nu"): 10,
    ("W1-B", "organisation", "nam"): 2,
    ("W2-A", "citizen", "nam"): 14,
    ("W2-A", "citizen", "nu"): 11,
    ("STP-1", "citizen", "nam"): 9,
    ("STP-1", "citizen", "nu"): 12,
}


async def test_no_band_can_be_worked_out_from_its_cell_and_the_other_bands(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    for (point, kind, gender), number in MIXED.items():
        given = TYPICAL | profile(gender, "18-25")
        await survey.many(number, given, point=point, respondent_type=kind)
    await aggregate(database, LAYOUT)
    for level in LEVELS:
        cells = await index_table(database, query(level))
        bands = await breakdown_table(database, query(level))
        cells = cells[cells["scope"] == "overall"]
        bands = bands[bands["scope"] == "overall"]
        for unit, kind, n, suppressed in zip(
            cells["unit_code"],
            cells["respondent_type"],
            cells["n_respondents"],
            cells["suppressed"],
            strict=True,
        ):
            for breakdown in ("gioi_tinh", "do_tuoi"):
                of_cell = bands[
                    (bands["unit_code"] == unit)
                    & (bands["respondent_type"] == kind)
                    & (bands["breakdown"] == breakdown)
                ]
                assert of_cell["n_respondents"].sum() == n  # the bands add up to the cell
                # Primary: every band under 10 is hidden.
                assert of_cell[of_cell["n_respondents"] < 10]["suppressed"].all()
                # Secondary: never exactly one unknown in cell = sum of bands.
                unknowns = int(suppressed) + int(of_cell["suppressed"].sum())
                assert unknowns != 1, (level, unit, kind, breakdown, of_cell)
    commune = await breakdown_table(database, query("commune"))
    shown = commune[(commune["scope"] == "overall") & ~commune["suppressed"]]
    shown_cells = zip(shown["unit_code"], shown["respondent_type"], shown["band"], strict=True)
    # Everyone gave 18-25: the band is the cell, shown where the cell is (the wards' 'all').
    assert {("00004", "all", "18-25"), ("00070", "all", "18-25")} <= set(shown_cells)
