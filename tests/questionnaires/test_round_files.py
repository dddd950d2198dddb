"""Round files and the rated-unit block: checked whole, every problem reported with where it is."""

from __future__ import annotations

import pytest

from questionnaires import load_bundled
from questionnaires.loader import QuestionnaireError, parse_questionnaire
from questionnaires.model import RatedUnit
from questionnaires.rounds import BUNDLED_ROUNDS, RoundFileError, parse_round, read_round_file

BAD_ROUND = """
code: Bad Code
title: {en: "No Vietnamese"}
questionnaire: no-such-form
opens: 2026-02-01
closes: 2026-01-01
minimum_cell: 0
colour: blue
units:
  - {code: SO-A, name: {vi: "Sở A"}}
  - {code: SO-A, name: {vi: "Sở A again"}}
groups:
  - {code: G1, label: {vi: "Nhóm 1"}, target: 0, rates: [SO-A, SO-Z]}
  - {code: G2, label: {vi: "Nhóm 2"}, target: 3, rates: [SO-A], sample: 2}
"""


def test_every_problem_of_a_round_file_is_reported_at_once() -> None:
    with pytest.raises(RoundFileError) as refused:
        parse_round(BAD_ROUND, "bad.yaml")
    said = [f"{p.column}: {p.message}" for p in refused.value.problems]
    assert said == [
        "colour: unknown field",
        "code: expected 1-40 lower-case letters, digits or '-', e.g. hn-2025",
        "title: missing language vi (Vietnamese first)",
        "minimum_cell: expected a whole number of at least 1, got 0",
        "closes: 2026-01-01 is before the opening day 2026-02-01",
        "questionnaire: no bundled questionnaire no-such-form (bundled: par-officials-2025, "
        "sipas-2023) nor file",
        "units[1].code: unit SO-A is listed twice",
        "groups[0].target: expected a whole number of at least 1, got 0",
        "groups[0].rates: not among the round's units: SO-Z",
        "groups[1].sample: 2 is more than the 1 units rated",
    ]
    assert all(problem.file == "bad.yaml" for problem in refused.value.problems)
    assert refused.value.summary == "10 problems in bad.yaml; nothing was created"


def test_a_round_needs_a_questionnaire_with_a_rated_unit_block() -> None:
    text = BAD_ROUND.replace("no-such-form", "sipas-2023")
    with pytest.raises(RoundFileError) as refused:
        parse_round(text)
    assert "questionnaire: sipas-2023 has no rated-unit block (items with per_unit: true)" in [
        f"{p.column}: {p.message}" for p in refused.value.problems
    ]


def test_the_bundled_example_rounds_reproduce_the_seed_and_hanoi_2025() -> None:
    seed = read_round_file(BUNDLED_ROUNDS / "seed-2021-officials.yaml").plan
    assert [group.target for group in seed.groups] == [50, 57, 95, 9]
    hanoi = read_round_file(BUNDLED_ROUNDS / "hanoi-2025-officials.yaml").plan
    assert [group.code for group in hanoi.groups] == [
        "DB_HDND",
        "LD_DON_VI_SO",
        "LD_UBND_XA",
        "LD_PHONG_XA",
    ]
    assert hanoi.group("LD_UBND_XA").rates == ("SO-TC", "SO-NV", "SO-TP")


BLOCK_FORM = """
id: t
version: "1"
title: {vi: T, en: T}
languages: [vi, en]
consent: {text: {vi: c, en: c}, accept: {vi: a, en: a}, decline: {vi: d, en: d}}
scales:
  s5:
    options:
      - {value: "1", label: {vi: "1", en: "1"}}
      - {value: "2", label: {vi: "2", en: "2"}}
      - {value: "3", label: {vi: "3", en: "3"}}
      - {value: "4", label: {vi: "4", en: "4"}}
      - {value: "5", label: {vi: "5", en: "5"}}
elements: [{code: E, label: {vi: E, en: E}}]
items:
  - {code: A, type: scale, scale: s5, element: E, per_unit: true, text: {vi: "{unit} tốt", en: "good"}}
  - {code: B, type: yes_no, text: {vi: b, en: b}, show_if: {item: A, equals: "5"}}
  - {code: C, type: scale, scale: s5, element: E, per_unit: true, text: {vi: "{unit}", en: "{unit}"}}
"""


def test_the_rated_unit_block_is_one_run_naming_its_unit_and_read_by_none_outside() -> None:
    with pytest.raises(QuestionnaireError) as refused:
        parse_questionnaire(BLOCK_FORM, "block.yaml")
    said = [f"{p.column}: {p.message}" for p in refused.value.problems]
    assert said == [
        "items[1]: item B breaks the rated-unit block: its items (per_unit: true) follow one another",
        "items[0].text.en: an item of the rated-unit block names the unit: write {unit}",
        "items[1].show_if: refers to A of the rated-unit block, asked once per unit",
    ]


def test_a_respondents_form_repeats_the_block_per_unit_with_its_name() -> None:
    form = load_bundled("par-officials-2025").for_respondent(
        {"vi": "Lãnh đạo xã", "en": "Commune leaders"},
        [
            RatedUnit("SO-A", {"vi": "Sở A", "en": "Department A"}),
            RatedUnit("SO-B", {"vi": "Sở B"}),
        ],
    )
    codes = [item.code for item in form.items]
    assert codes[:2] == ["nhom", "CD1#1"] and codes[-1] == "YK#2" and len(codes) == 21
    assert form.item("nhom").text["en"] == "Are you currently one of: Commune leaders?"
    assert form.item("TC1#2").text["en"].startswith("The quality of the legal documents Sở B")
    progress = form.progress({"nhom": "yes"}, "CD1#2")
    assert (progress.section.label["vi"], progress.section_number, progress.sections) == (
        "Sở B",
        3,
        3,
    )
    # A repeat's items read the screener, which stays one item.
    assert [item.code for item in form.visible_items({"nhom": "no"})] == ["nhom"]
