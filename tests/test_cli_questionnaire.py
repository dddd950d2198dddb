"""`sipas questionnaire check|show`, as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from questionnaires import bundled_questionnaire_paths, load_bundled

ITEM_15_VI = (
    "Cơ quan cung cấp thông tin về việc giải quyết thủ tục hành chính theo nhiều hình thức, "
    "dễ tiếp cận, dễ hiểu đối với mọi người dân."
)

BROKEN = """\
id: broken
version: "1"
title: {vi: "Hỏng", en: "Broken"}
languages: [vi, en]
consent:
  text: {vi: "x", en: "x"}
  accept: {vi: "Có", en: "Yes"}
  decline: {vi: "Không", en: "No"}
elements:
  - {code: A, label: {vi: "A", en: "A"}}
items:
  - code: q1
    type: scale
    element: NOPE
    text: {vi: "Câu 1"}
  - code: q2
    type: choice
    show_if: {item: missing, equals: "yes"}
    text: {vi: "Câu 2", en: "Question 2"}
    options:
      - {value: a, label: {vi: "A", en: "A"}}
"""


# Codes and values of 32 characters each, which pass every other check.
LONG_CODE, LONG_VALUE = "c" * 32, "v" * 32
LONG_CODES = f"""\
id: long
version: "1"
title: {{vi: "Dài", en: "Long"}}
languages: [vi, en]
consent:
  text: {{vi: "x", en: "x"}}
  accept: {{vi: "Có", en: "Yes"}}
  decline: {{vi: "Không", en: "No"}}
elements:
  - {{code: A, label: {{vi: "A", en: "A"}}}}
items:
  - code: {LONG_CODE}
    type: choice
    text: {{vi: "Câu 1", en: "Question 1"}}
    options:
      - {{value: {LONG_VALUE}, label: {{vi: "A", en: "A"}}}}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["questionnaire", *args])
    return result.exit_code, result.output


def test_check_accepts_the_bundled_questionnaire_and_says_how_big_it_is() -> None:
    path = next(p for p in bundled_questionnaire_paths() if p.stem == "sipas-2023")
    code, output = run("check", str(path))
    assert code == 0, output
    assert output.strip() == f"OK: sipas-2023 1.1.0, {len(load_bundled().items)} items"


def test_check_lists_every_problem_one_per_line_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    code, output = run("check", str(path))
    assert code == 1
    problems = [line for line in output.splitlines() if line.startswith("broken.yaml:")]
    assert len(problems) >= 3, output  # unknown element, missing English text, unknown item
    assert any("NOPE" in line for line in problems)
    assert any("missing" in line for line in problems)


def test_check_refuses_an_item_whose_buttons_telegram_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(LONG_CODES, encoding="utf-8")
    code, output = run("check", str(path))
    assert code == 1
    assert (
        f"long.yaml: items[0]: item {LONG_CODE}: its button data 'a:{LONG_CODE}:{LONG_VALUE}' "
        "is 67 bytes, over the 64 a chat button carries (shorten the item code or its option "
        "values: code and value together at most 61 characters)"
    ) in output.splitlines()


def test_check_reports_a_yaml_syntax_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    code, output = run("check", str(path))
    assert code == 1
    assert "line" in output


def test_show_lists_items_in_order_with_the_official_wording_of_item_15() -> None:
    code, output = run("show", "sipas-2023")
    assert code == 0, output
    assert ITEM_15_VI in output
    assert "15 · scale · TIEP_CAN" in output
    assert "1 = Rất không hài lòng" in output and "5 = Rất hài lòng" in output
    assert "shown only if: ket_qua_nhan = yes" in output
    codes = [item.code for item in load_bundled().items]
    positions = [output.index(f"\n  {code} · ") for code in codes]
    assert positions == sorted(positions)


def test_show_without_an_id_shows_the_configured_default() -> None:
    code, output = run("show")
    assert code == 0, output
    assert output.startswith("sipas-2023 1.1.0")
    assert not Path("sipas.secret").exists()  # showing creates no secret


def test_show_in_english() -> None:
    code, output = run("show", "--language", "en")
    assert code == 0, output
    assert "1 = Very dissatisfied" in output
    assert "Access to the service" in output


def test_show_json_is_the_questionnaire_json_form() -> None:
    result = CliRunner().invoke(cli, ["questionnaire", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == load_bundled().to_json()
    item_15 = next(item for item in json.loads(result.stdout)["items"] if item["code"] == "15")
    assert item_15["text"]["vi"] == ITEM_15_VI


def test_show_a_yaml_file(tmp_path: Path) -> None:
    path = next(p for p in bundled_questionnaire_paths() if p.stem == "sipas-2023")
    copy = tmp_path / "mine.yaml"
    copy.write_bytes(path.read_bytes())
    code, output = run("show", str(copy))
    assert code == 0, output
    assert ITEM_15_VI in output


@pytest.mark.parametrize("name", ["nope", "missing.yaml"])
def test_show_an_unknown_questionnaire_names_what_exists(name: str) -> None:
    code, output = run("show", name)
    assert code != 0
    assert "sipas-2023" in output or "cannot be read" in output
