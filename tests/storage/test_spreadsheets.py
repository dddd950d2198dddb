"""Reading the spreadsheet files both importers take: rows as a spreadsheet numbers them, text as a person sees it."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

from problems import Problem
from storage.spreadsheets import csv_rows, inert_cell, spreadsheet_rows


def read_csv(data: bytes) -> tuple[list[tuple[int, list[str]]], list[str]]:
    problems: list[Problem] = []
    rows = list(csv_rows("f.csv", io.BytesIO(data), problems))
    return rows, [str(problem) for problem in problems]


def test_rows_are_numbered_from_the_header_and_cells_are_trimmed_nfc_text() -> None:
    decomposed = "Ho\u0300a"  # "Hòa" with a combining accent, as some tools type it
    rows, problems = read_csv(f"code,name\n 01 ,{decomposed}\n".encode())
    assert rows == [(1, ["code", "name"]), (2, ["01", "Hòa"])]
    assert problems == []


def test_a_byte_order_mark_and_the_semicolons_of_a_vietnamese_spreadsheet_are_understood() -> None:
    rows, problems = read_csv("\ufeffcode;name\r\n01;Hà Nội\r\n".encode())
    assert rows == [(1, ["code", "name"]), (2, ["01", "Hà Nội"])]
    assert problems == []


def test_a_cell_spanning_lines_is_one_row_as_in_a_spreadsheet() -> None:
    rows, _ = read_csv(b'code,comment\n01,"two\nlines"\n02,x\n')
    assert [number for number, _cells in rows] == [1, 2, 3]
    assert rows[1][1] == ["01", "two\nlines"]


def test_text_that_is_not_utf8_ends_the_rows_with_a_problem_naming_its_row() -> None:
    rows, problems = read_csv(b"code,name\n01,ok\n02,Th\xff\n03,never read\n")
    assert rows == [(1, ["code", "name"]), (2, ["01", "ok"])]
    assert problems == ["f.csv:3: (file): not UTF-8 text (save the file as CSV UTF-8)"]


def test_a_file_of_another_kind_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "answers.ods"
    path.write_bytes(b"not really")
    problems: list[Problem] = []
    assert list(spreadsheet_rows(path, problems)) == []
    assert [str(problem) for problem in problems] == [
        f"{path}: (file): not a .csv or .xlsx file (save it as one of those)"
    ]


def test_a_workbook_reads_its_first_sheet_as_the_text_in_its_cells(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["code", "score", "ok", "when", "empty"])
    sheet.append(["01", 4.0, True, datetime(2026, 11, 20, 9, 15), None])
    path = tmp_path / "answers.xlsx"
    workbook.save(path)
    problems: list[Problem] = []
    assert list(spreadsheet_rows(path, problems)) == [
        (1, ["code", "score", "ok", "when", "empty"]),
        (2, ["01", "4", "true", "2026-11-20T09:15:00", ""]),
    ]
    assert problems == []


def test_a_broken_workbook_is_a_problem_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "answers.xlsx"
    path.write_bytes(b"PK not a zip")
    problems: list[Problem] = []
    assert list(spreadsheet_rows(path, problems)) == []
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}: (file): not readable as an .xlsx workbook: ")


def test_text_that_starts_like_a_formula_is_written_behind_an_apostrophe_and_nothing_else() -> None:
    for text in ("=1+1", "+84 912", "-2 điểm", "@SUM(A1)", "\tTab", "\rCR"):
        assert inert_cell(text) == "'" + text
    for kept in ("Phường Ba Đình", "HN-00004-01", "2026-Q4", "", "'quoted", " =spaced"):
        assert inert_cell(kept) == kept
    for number in (-2, -2.5, 0, 3.75, None, True):
        assert inert_cell(number) is number  # numbers stay numbers, negative ones too


def test_reading_a_written_file_back_gives_the_text_as_it_was(tmp_path: Path) -> None:
    texts = ["=1+1", "-2 điểm", "@here", "'quoted"]
    rows, problems = read_csv(
        ("a,b,c,d\n" + ",".join(str(inert_cell(text)) for text in texts) + "\n").encode()
    )
    assert rows[1] == (2, texts) and problems == []
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([inert_cell(text) for text in texts])
    path = tmp_path / "back.xlsx"
    workbook.save(path)
    assert list(spreadsheet_rows(path, [])) == [(1, texts)]
