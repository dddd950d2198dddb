"""Export files, manifest and scoring schemes."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from analytics.days import parse_period
from analytics.export import manifest_path, raw_path, table_bytes, workbook_bytes, write_export
from analytics.indices import EXPORT_COLUMNS, compute_index_table
from analytics.layout import bundled_layout
from analytics.method import MethodError, load_method, parse_method
from analytics.query import ReportQuery
from analytics.schemes import SchemeError, load_scheme, parse_scheme
from tests.analytics.survey_rows import SIPAS_LAYOUT
from tests.clock import built_at_two_instants
from tests.formulas import FORMULA, cell_texts, live_cells

METHOD = load_method()


def sample_table(*names: str) -> pd.DataFrame:
    counts = pd.DataFrame(
        [
            ("A", "citizen", "15", "4", 81),
            ("A", "citizen", "15", "2", 19),
            ("B", "citizen", "15", "5", 3),
        ],
        columns=["service_point_code", "respondent_type", "item_code", "value", "answers"],
    )
    people = pd.DataFrame(
        [("A", "citizen", 100), ("B", "citizen", 3)],
        columns=["service_point_code", "respondent_type", "respondents"],
    )
    name_a, name_b = names or ("Phường A", "Phường B")
    units = pd.DataFrame(
        [("A", "A", name_a, ()), ("B", "B", name_b, ())],
        columns=["service_point_code", "unit_code", "unit_name", "groups"],
    )
    return compute_index_table(
        counts,
        people,
        units,
        SIPAS_LAYOUT,
        METHOD,
        period="2026-Q4",
        level="commune",
        min_cell_size=10,
    )


def test_csv_has_the_documented_columns_and_suppressed_rows_carry_no_index() -> None:
    text = table_bytes(sample_table(), "csv").decode()
    lines = text.splitlines()
    assert lines[0] == ",".join(EXPORT_COLUMNS)
    assert lines[1] == (
        "2026-Q4,commune,A,Phường A,all,overall,,100,100,81,81.00,72.22,87.49,false,false,1,"
        "sipas-2023-default,2023.1"
    )
    suppressed = [
        line for line in lines if line.startswith("2026-Q4,commune,B,Phường B,all,overall")
    ]
    assert suppressed == [
        "2026-Q4,commune,B,Phường B,all,overall,,3,3,,,,,true,false,1,sipas-2023-default,2023.1"
    ]


def test_json_rows_use_null_for_missing_values() -> None:
    rows = json.loads(table_bytes(sample_table(), "json"))
    assert rows[0]["index_pct"] == 81.0 and rows[0]["suppressed"] is False
    b_overall = next(r for r in rows if r["unit_code"] == "B" and r["scope"] == "overall")
    assert b_overall["index_pct"] is None and b_overall["n_satisfied"] is None


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "parquet"])
def test_the_same_table_gives_the_same_bytes_whenever_it_is_written(fmt: str) -> None:
    first, later = built_at_two_instants(lambda: table_bytes(sample_table(), fmt))
    assert first == later


def test_xlsx_and_parquet_read_back() -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(table_bytes(sample_table(), "xlsx"))).active
    assert [cell.value for cell in sheet[1]] == EXPORT_COLUMNS
    back = pd.read_parquet(io.BytesIO(table_bytes(sample_table(), "parquet")))
    assert list(back.columns) == EXPORT_COLUMNS and len(back) == len(sample_table())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_unit_names_that_look_like_formulas_are_written_inert(fmt: str) -> None:
    data = table_bytes(sample_table(FORMULA, "-Phường B"), fmt)
    assert live_cells(data, fmt) == []
    assert {"'" + FORMULA, "'-Phường B"} <= set(cell_texts(data, fmt))


def test_numbers_stay_numbers_in_a_workbook_and_only_text_is_made_inert() -> None:
    from openpyxl import Workbook, load_workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([-2, -2.5, "-2", "=SUM(A1:B1)", "@A1", "ok"])
    cells = next(load_workbook(io.BytesIO(workbook_bytes(workbook))).active.iter_rows())
    assert [(cell.value, cell.data_type) for cell in cells] == [
        (-2, "n"),
        (-2.5, "n"),
        ("'-2", "s"),
        ("'=SUM(A1:B1)", "s"),
        ("'@A1", "s"),
        ("ok", "s"),
    ]


def test_manifest_lists_method_questionnaire_rows_and_hashes(tmp_path: Path) -> None:
    out = tmp_path / "q4.csv"
    as_of = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
    written, manifest = write_export(
        {"cleaned": sample_table(), "raw": sample_table()},
        out,
        "csv",
        query=ReportQuery(parse_period("2026-Q4"), "commune", SIPAS_LAYOUT, METHOD, 10),
        data_as_of=as_of,
    )
    assert manifest == manifest_path(out) == tmp_path / "q4.csv.manifest.json"
    assert [item.path for item in written] == [out, raw_path(out)] == [out, tmp_path / "q4.raw.csv"]
    content = json.loads(manifest.read_text())
    assert content["method"]["id"] == "sipas-2023-default" and content["method"]["version"] == "2"
    assert content["method"]["exclude_when"] == [["repeated"], ["straight_lining", "speeding"]]
    assert content["questionnaire"] == {"id": "sipas-2023", "version": "2023.1"}
    assert content["rows"] == len(sample_table())
    assert content["data_as_of"] == "2026-12-01T18:30:00+00:00"
    for entry in content["files"]:
        assert (
            entry["sha256"] == hashlib.sha256((tmp_path / entry["name"]).read_bytes()).hexdigest()
        )


def test_linear_example_scheme_adds_points_where_it_applies() -> None:
    scheme = load_scheme("example-linear")
    assert scheme.example and scheme.max_points == 2.0
    assert [scheme.points(value) for value in (40, 50, 75, 81, 100)] == [0.0, 0.0, 1.0, 1.24, 2.0]
    scored = scheme.add_points(sample_table())
    overall = scored[(scored["scope"] == "overall") & (scored["respondent_type"] == "all")]
    assert list(overall["points"].fillna(-1)) == [1.24, -1]  # B is suppressed: no points
    assert scored[scored["scope"] == "item"]["points"].isna().all()


def test_banded_scheme_from_a_file() -> None:
    scheme = parse_scheme(
        "id: hn-2026\nmax_points: 2\napplies_to: {scope: overall, levels: [commune]}\n"
        "mapping:\n  kind: banded\n  bands:\n    - {min_index: 80, points: 1.5}\n"
        "    - {min_index: 90, points: 2}\n    - {min_index: 0, points: 0}\n"
    )
    assert [scheme.points(value) for value in (95, 85, 10)] == [2.0, 1.5, 0.0]
    with pytest.raises(SchemeError, match="kind must be linear or banded"):
        parse_scheme(
            "id: x\nmax_points: 2\napplies_to: {levels: [commune]}\nmapping: {kind: odd}\n"
        )


def test_a_province_method_file_needs_no_code(tmp_path: Path) -> None:
    path = tmp_path / "my-province.yaml"
    path.write_text(
        "id: my-province-2026\nversion: '2'\nquestionnaire: sipas-2023\n"
        "valid_values: ['1','2','3','4','5']\nsatisfied: {'5': 1}\n"
    )
    method = load_method(str(path))
    assert (method.id, method.version, method.satisfied) == ("my-province-2026", "2", {"5": 1.0})
    with pytest.raises(MethodError, match="not one of valid_values"):
        parse_method(
            b"id: x\nversion: 1\nquestionnaire: q\nvalid_values: ['1']\nsatisfied: {'6': 1}\n"
        )
    with pytest.raises(MethodError, match="no method 'nope'"):
        load_method("nope")


def test_the_cleaning_rule_is_part_of_the_method_file() -> None:
    base = b"id: x\nversion: 1\nquestionnaire: q\nvalid_values: ['4']\nsatisfied: {'4': 1}\n"
    # Flags as bits: straight-lining 1, speeding 2, repeat 4.
    assert METHOD.exclude_when == (("repeated",), ("straight_lining", "speeding"))
    assert METHOD.excluded_flags() == {3, 4, 5, 6, 7}
    assert parse_method(base).exclude_when == METHOD.exclude_when  # the default when left out
    strict = parse_method(base + b"exclude_when: [[straight_lining], [speeding], [repeated]]\n")
    assert strict.excluded_flags() == {1, 2, 3, 4, 5, 6, 7}
    assert strict.cleaning_rule() == "straight_lining; speeding; repeated"
    assert parse_method(base + b"exclude_when: []\n").excluded_flags() == set()
    with pytest.raises(MethodError, match="exclude_when: unknown flag 'slow'"):
        parse_method(base + b"exclude_when: [[slow]]\n")
    with pytest.raises(MethodError, match="exclude_when: a list of flag lists"):
        parse_method(base + b"exclude_when: repeated\n")


def test_the_test_layout_matches_the_bundled_questionnaire() -> None:
    bundled = bundled_layout("sipas-2023")
    assert bundled.items == SIPAS_LAYOUT.items
    assert [code for code, _ in bundled.elements] == [code for code, _ in SIPAS_LAYOUT.elements]
