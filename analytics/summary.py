"""A readable terminal table of indices, in 80 columns: one row per unit, or one unit's elements and items."""

from __future__ import annotations

import pandas as pd
from rich import box
from rich.table import Table

from analytics.layout import ItemLayout
from analytics.wording import interval, low_reliability_note, number, row_name

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "unit": "Mã",
        "name": "Tên đơn vị",
        "n": "Số người",
        "overall": "Chỉ số chung (KTC 95%)",
        "elements_title": "Chỉ số theo yếu tố (%)",
        "respondents": "Đối tượng",
        "scope": "Phạm vi",
        "code": "Mã",
        "label": "Nội dung",
        "valid": "n",
        "index": "Chỉ số (KTC 95%)",
        "suppressed": "ẩn",
        "legend": "Yếu tố",
        "hidden_note": "ẩn: dưới {min} người trả lời, hoặc ẩn để số tổng không làm lộ ô nhỏ",
        "missing_note": "–: không có câu trả lời hợp lệ (yếu tố đó không tính vào chỉ số chung)",
        "n_note": "n: số người trả lời (chỉ số chung), số câu trả lời hợp lệ (yếu tố, câu hỏi)",
        "elements_used": "Yếu tố",
        "elements_note": "Yếu tố: số yếu tố chỉ số chung dựa vào; chỉ so sánh chỉ số chung giữa "
        "các đơn vị có đủ các yếu tố",
    },
    "en": {
        "unit": "Code",
        "name": "Unit",
        "n": "n",
        "overall": "Overall (95% CI)",
        "elements_title": "Index by element (%)",
        "respondents": "Respondents",
        "scope": "Scope",
        "code": "Code",
        "label": "Label",
        "valid": "n",
        "index": "Index (95% CI)",
        "suppressed": "suppressed",
        "legend": "Elements",
        "hidden_note": "suppressed: fewer than {min} respondents, or hidden so a total cannot "
        "reveal one",
        "missing_note": "–: no valid answers (that element is left out of the overall index)",
        "n_note": "n: respondents (overall), valid answers (elements, items)",
        "elements_used": "Elements",
        "elements_note": "Elements: how many the overall index rests on; compare overall indices "
        "only between units with all of them",
    },
}


def _figure(row: pd.Series, language: str, *, with_interval: bool) -> str:
    if bool(row["suppressed"]):
        return TEXT[language]["suppressed"]
    index = row["index_pct"]
    if index is None or pd.isna(index):
        return "–"
    text = number(float(index), language)
    if with_interval:
        text += f" ({interval(float(row['ci_low']), float(row['ci_high']), language)})"
    if bool(row["low_reliability"]):
        text += " *"
    return text


def _table(title: str | None = None) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def units_table(table: pd.DataFrame, layout: ItemLayout, *, language: str = "vi") -> list[Table]:
    """Two tables that fit 80 columns, for respondent type 'all': each unit's respondents and
    overall index with its interval; then its element indices, the elements numbered as the
    legend under them names them."""
    words = TEXT[language]
    overall_view = _table()
    overall_view.add_column(words["unit"], no_wrap=True)
    overall_view.add_column(words["name"], max_width=30)
    overall_view.add_column(words["n"], justify="right", no_wrap=True)
    overall_view.add_column(words["overall"], justify="right", no_wrap=True)
    overall_view.add_column(words["elements_used"], justify="right", no_wrap=True)
    element_view = _table(words["elements_title"])
    element_view.add_column(words["unit"], no_wrap=True)
    for number_, _ in enumerate(layout.elements, start=1):
        element_view.add_column(str(number_), justify="right", no_wrap=True)
    rows = table[table["respondent_type"] == "all"]
    for unit_code, unit_rows in rows.groupby("unit_code", sort=False):
        overall = unit_rows[unit_rows["scope"] == "overall"].iloc[0]
        by_element = unit_rows[unit_rows["scope"] == "element"].set_index("code")
        overall_view.add_row(
            str(unit_code),
            str(overall["unit_name"]),
            str(overall["n_respondents"]),
            _figure(overall, language, with_interval=True),
            f"{int(overall['elements_used'])}/{len(layout.elements)}",
        )
        element_view.add_row(
            str(unit_code),
            *(
                _figure(by_element.loc[code], language, with_interval=False)  # type: ignore[arg-type]
                if code in by_element.index
                else "–"
                for code, _ in layout.elements
            ),
        )
    return [overall_view, element_view]


def element_legend(layout: ItemLayout, language: str = "vi") -> str:
    """The elements the numbered columns stand for: "Yếu tố: 1 Tiếp cận dịch vụ…; 2 …"."""
    named = "; ".join(
        f"{number_} {label}" for number_, (_, label) in enumerate(layout.elements, start=1)
    )
    return f"{TEXT[language]['legend']}: {named}"


def unit_detail(table: pd.DataFrame, layout: ItemLayout, *, language: str = "vi") -> Table:
    """One unit: overall, elements and items, per respondent type, named in words."""
    words = TEXT[language]
    view = _table()
    view.add_column(words["respondents"], no_wrap=True)
    view.add_column(words["scope"], no_wrap=True)
    view.add_column(words["label"], ratio=1)
    view.add_column(words["valid"], justify="right", no_wrap=True)
    view.add_column(words["index"], justify="right", no_wrap=True)
    for _, row in table.iterrows():
        code = str(row["code"])
        label = layout.label(code) if code else ""
        view.add_row(
            row_name(str(row["respondent_type"]), language),
            row_name(str(row["scope"]), language),
            f"{code} {label}".strip() if row["scope"] == "item" else label,
            str(row["n_respondents"] if row["scope"] == "overall" else row["n_valid"]),
            _figure(row, language, with_interval=True),
        )
    return view


def footnote(
    table: pd.DataFrame, min_cell_size: int, language: str = "vi", *, detail: bool = False
) -> str:
    """What the marks in the table mean (and the n column of a unit's detail)."""
    words = TEXT[language]
    missing = table[(table["scope"] == "element") & (table["n_valid"] == 0)]
    notes = [words["hidden_note"].format(min=min_cell_size), low_reliability_note(language)]
    if detail:
        notes.append(words["n_note"])
    if not missing.empty:
        notes.append(words["missing_note"])
        notes.append(words["elements_note"])
    return "\n".join(notes)
