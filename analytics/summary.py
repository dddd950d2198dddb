"""A readable terminal table of indices: one row per unit, or one unit's elements and items."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from analytics.layout import ItemLayout


def _figure(row: pd.Series, *, interval: bool) -> str:
    if bool(row["suppressed"]):
        return "suppressed"
    index = row["index_pct"]
    if index is None or pd.isna(index):
        return "–"
    text = f"{float(index):.1f}"
    if interval:
        text += f" ({float(row['ci_low']):.1f}–{float(row['ci_high']):.1f})"
    if bool(row["low_reliability"]):
        text += " *"
    return text


def units_table(table: pd.DataFrame, layout: ItemLayout, *, title: str) -> Table:
    """Overall and element indices of every unit, for respondent type 'all'."""
    view = Table(title=title, title_justify="left")
    view.add_column("unit")
    view.add_column("name")
    view.add_column("n", justify="right")
    view.add_column("overall (95% CI)", justify="right")
    for code, _label in layout.elements:
        view.add_column(code, justify="right")
    rows = table[table["respondent_type"] == "all"]
    for unit_code, unit_rows in rows.groupby("unit_code", sort=False):
        overall = unit_rows[unit_rows["scope"] == "overall"].iloc[0]
        by_element = unit_rows[unit_rows["scope"] == "element"].set_index("code")
        view.add_row(
            str(unit_code),
            str(overall["unit_name"]),
            str(overall["n_respondents"]),
            _figure(overall, interval=True),
            *(
                _figure(by_element.loc[code], interval=False)  # type: ignore[arg-type]
                if code in by_element.index
                else "–"
                for code, _ in layout.elements
            ),
        )
    return view


def unit_detail(table: pd.DataFrame, layout: ItemLayout, *, title: str) -> Table:
    """One unit: overall, elements and items, per respondent type."""
    labels = dict(layout.elements)
    view = Table(title=title, title_justify="left")
    view.add_column("respondents")
    view.add_column("scope")
    view.add_column("code")
    view.add_column("label")
    view.add_column("n", justify="right")
    view.add_column("valid", justify="right")
    view.add_column("index (95% CI)", justify="right")
    for _, row in table.iterrows():
        view.add_row(
            str(row["respondent_type"]),
            str(row["scope"]),
            str(row["code"]),
            labels.get(str(row["code"]), ""),
            str(row["n_respondents"]),
            str(row["n_valid"]),
            _figure(row, interval=True),
        )
    return view


def footnote(table: pd.DataFrame, min_cell_size: int) -> str:
    """What the marks in the table mean."""
    missing = table[(table["scope"] == "element") & (table["n_valid"] == 0)]
    notes = [
        f"suppressed: fewer than {min_cell_size} respondents, or hidden so a total cannot reveal one",
        "*: low reliability (95% interval wider than ±10 points)",
    ]
    if not missing.empty:
        notes.append("–: no valid answers (that element is left out of the overall index)")
    return "\n".join(notes)
