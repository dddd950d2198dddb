"""The loader reports every problem of a questionnaire file as "<file>: <path>: <message>"."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from questionnaires import (
    Equals,
    QuestionnaireError,
    load_bundled,
    load_questionnaire,
    parse_questionnaire,
)
from questionnaires.choices import MAX_CHOICE_DATA_BYTES, answer_data


def minimal() -> dict[str, Any]:
    """A small valid questionnaire; each test breaks one thing in it."""
    return {
        "id": "tiny",
        "version": "1",
        "title": {"vi": "Khảo sát", "en": "Survey"},
        "languages": ["vi", "en"],
        "scales": {
            "satisfaction": {
                "options": [
                    {"value": str(n), "label": {"vi": f"Mức {n}", "en": f"Level {n}"}}
                    for n in range(1, 6)
                ]
            }
        },
        "consent": {
            "text": {"vi": "Thông báo {controller}", "en": "Notice {controller}"},
            "accept": {"vi": "Đồng ý", "en": "Agree"},
            "decline": {"vi": "Không đồng ý", "en": "Decline"},
        },
        "elements": [{"code": "KET_QUA", "label": {"vi": "Kết quả", "en": "Result"}}],
        "items": [
            {
                "code": "ket_qua_nhan",
                "type": "yes_no",
                "text": {"vi": "Đã nhận?", "en": "Received?"},
            },
            {
                "code": 28,
                "type": "scale",
                "scale": "satisfaction",
                "element": "KET_QUA",
                "skippable": True,
                "show_if": {"item": "ket_qua_nhan", "equals": "yes"},
                "text": {"vi": "Đúng hẹn", "en": "On time"},
            },
        ],
    }


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(QuestionnaireError) as error:
        load_questionnaire(path)
    return [str(problem) for problem in error.value.problems]


def test_minimal_questionnaire_loads_and_codes_become_strings(tmp_path: Path):
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    questionnaire = load_questionnaire(path)
    assert [item.code for item in questionnaire.items] == ["ket_qua_nhan", "28"]
    assert questionnaire.item("28").show_if == Equals("ket_qua_nhan", "yes")


def test_yes_no_item_without_a_declared_scale_gets_the_built_in_yes_no(tmp_path: Path):
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    questionnaire = load_questionnaire(path)
    options = questionnaire.options(questionnaire.item("ket_qua_nhan"))
    assert [(o.value, o.label["vi"], o.label["en"]) for o in options] == [
        ("yes", "Có", "Yes"),
        ("no", "Không", "No"),
    ]


def test_unquoted_yaml_yes_is_read_as_the_value_yes():
    text = yaml.safe_dump(minimal(), allow_unicode=True).replace("equals: 'yes'", "equals: yes")
    assert "equals: yes" in text
    questionnaire = parse_questionnaire(text, "q.yaml")
    assert questionnaire.item("28").show_if == Equals("ket_qua_nhan", "yes")


def test_unknown_scale_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["scale"] = "satisfation"
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].scale: unknown scale satisfation (known: satisfaction)"
    ]


def test_duplicate_item_code_is_reported(tmp_path: Path):
    data = minimal()
    data["items"].append(dict(data["items"][1]))
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[2].code: duplicate item code 28 (first at items[1])"
    ]


def with_a_choice(code: str, value: str) -> dict[str, Any]:
    """minimal() with one more item: a choice of "ok" or `value`."""
    data = minimal()
    data["items"].append(
        {
            "code": code,
            "type": "choice",
            "text": {"vi": "Chọn", "en": "Choose"},
            "options": [
                {"value": "ok", "label": {"vi": "Được", "en": "Fine"}},
                {"value": value, "label": {"vi": "Khác", "en": "Other"}},
            ],
        }
    )
    return data


def test_an_item_whose_buttons_would_carry_more_than_a_chat_button_takes_is_reported(
    tmp_path: Path,
):
    # Each may be 32 characters, but its answer button's data, a:<code>:<value>, is then 67
    # bytes: Telegram would refuse the question and the respondent would be stuck at it.
    code, value = "c" * 32, "v" * 32
    assert problems_of(tmp_path, with_a_choice(code, value)) == [
        f"q.yaml: items[2]: item {code}: its button data 'a:{code}:{value}' is 67 bytes, over "
        "the 64 a chat button carries (shorten the item code or its option values: code and "
        "value together at most 61 characters)"
    ]


def test_an_item_whose_buttons_carry_just_what_a_chat_button_takes_loads(tmp_path: Path):
    code, value = "c" * 32, "v" * 29
    assert len(answer_data(code, value).encode()) == MAX_CHOICE_DATA_BYTES == 64
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(with_a_choice(code, value)), encoding="utf-8")
    assert load_questionnaire(path).item(code).option_values() == ["ok", value]


def test_unknown_element_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["element"] = "KETQUA"
    assert problems_of(tmp_path, data) == ["q.yaml: items[1].element: unknown element KETQUA"]


def test_label_missing_for_a_declared_language_is_reported(tmp_path: Path):
    data = minimal()
    del data["items"][1]["text"]["en"]
    assert problems_of(tmp_path, data) == ["q.yaml: items[1].text: missing language en"]


def test_option_label_missing_for_a_declared_language_is_reported(tmp_path: Path):
    data = minimal()
    del data["scales"]["satisfaction"]["options"][2]["label"]["vi"]
    assert problems_of(tmp_path, data) == [
        "q.yaml: scales.satisfaction.options[2].label: missing language vi"
    ]


def test_show_if_referring_to_a_later_item_is_reported(tmp_path: Path):
    data = minimal()
    data["items"].reverse()
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[0].show_if: refers to item ket_qua_nhan which comes later (items[1]); "
        "a condition may only refer to earlier items"
    ]


def test_show_if_referring_to_an_unknown_item_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["show_if"] = {"item": "ket_qua", "equals": "yes"}
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].show_if: refers to unknown item ket_qua"
    ]


def test_show_if_value_not_among_the_options_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["show_if"] = {"item": "ket_qua_nhan", "equals": "roi"}
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].show_if: value roi is not an option of item ket_qua_nhan "
        "(options: yes, no)"
    ]


def test_nested_condition_problems_carry_their_path(tmp_path: Path):
    data = minimal()
    data["items"][1]["show_if"] = {
        "all": [
            {"item": "ket_qua_nhan", "answered": True},
            {"not": {"item": "ket_qua_nhan", "in": ["yes", "perhaps"]}},
        ]
    }
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].show_if.all[1].not: value perhaps is not an option of item "
        "ket_qua_nhan (options: yes, no)"
    ]


def test_malformed_condition_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["show_if"] = {"item": "ket_qua_nhan", "is": "yes"}
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].show_if: expected one of {item, equals}, {item, in}, "
        "{item, answered}, {all}, {any} or {not}, got the fields is, item"
    ]


def test_missing_consent_is_reported(tmp_path: Path):
    data = minimal()
    del data["consent"]
    assert problems_of(tmp_path, data) == ["q.yaml: consent: required field is missing"]


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nversion: '1'\nitems: [a, b\ntitle: {}\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError) as error:
        load_questionnaire(path)
    assert [str(problem) for problem in error.value.problems] == [
        "broken.yaml: line 4, column 6: YAML syntax error: expected ',' or ']', but got ':'"
    ]


def test_wrong_types_are_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["skippable"] = "yes"
    data["items"][0]["type"] = "slider"
    data["version"] = ["1"]
    assert problems_of(tmp_path, data) == [
        "q.yaml: version: expected a non-empty string, got a list",
        "q.yaml: items[0].type: unknown type 'slider' (expected one of: scale, choice, "
        "yes_no, text)",
        "q.yaml: items[1].skippable: expected true or false, got the string 'yes'",
    ]


def test_unknown_field_is_reported_to_catch_typos(tmp_path: Path):
    data = minimal()
    data["items"][1]["shwo_if"] = data["items"][1].pop("show_if")
    assert problems_of(tmp_path, data) == ["q.yaml: items[1].shwo_if: unknown field"]


def test_required_and_skippable_together_is_reported(tmp_path: Path):
    data = minimal()
    data["items"][1]["required"] = True
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1]: an item cannot be both required and skippable"
    ]


def test_scale_item_needs_a_five_point_scale(tmp_path: Path):
    data = minimal()
    data["scales"]["satisfaction"]["options"].pop()
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].scale: a scale item needs a scale with the values 1, 2, 3, 4, 5; "
        "satisfaction has 1, 2, 3, 4"
    ]


def test_yes_no_item_options_must_be_yes_and_no(tmp_path: Path):
    data = minimal()
    data["items"][0]["options"] = [
        {"value": "da_nhan", "label": {"vi": "Đã nhận", "en": "Received"}},
        {"value": "chua", "label": {"vi": "Chưa nhận", "en": "Not yet"}},
    ]
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[0].options: a yes_no item has exactly the values yes, no (in that order)"
    ]


def test_a_file_with_several_problems_reports_all_of_them(tmp_path: Path):
    data = minimal()
    del data["consent"]
    data["title"] = {"vi": "Khảo sát"}
    data["items"][1]["scale"] = "nope"
    data["items"][1]["element"] = "NOPE"
    data["items"][1]["show_if"] = {"item": "missing", "equals": "yes"}
    data["items"].append({"code": "ket_qua_nhan", "type": "text", "text": {"vi": "a", "en": "b"}})
    assert problems_of(tmp_path, data) == [
        "q.yaml: consent: required field is missing",
        "q.yaml: title: missing language en",
        "q.yaml: items[1].element: unknown element NOPE",
        "q.yaml: items[1].scale: unknown scale nope (known: satisfaction)",
        "q.yaml: items[1].show_if: refers to unknown item missing",
        "q.yaml: items[2].code: duplicate item code ket_qua_nhan (first at items[0])",
    ]


def test_problems_are_also_the_error_message(tmp_path: Path):
    data = minimal()
    del data["consent"]
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"q\.yaml: consent: required field is missing"):
        load_questionnaire(path)


def test_unknown_bundled_id_raises_key_error():
    with pytest.raises(KeyError, match="sipas-1999"):
        load_bundled("sipas-1999")


def test_a_document_that_is_not_a_mapping_is_reported():
    with pytest.raises(QuestionnaireError) as error:
        parse_questionnaire("- just\n- a list\n", "q.yaml")
    assert [str(problem) for problem in error.value.problems] == [
        "q.yaml: (document): expected a mapping, got a list"
    ]


def test_missing_languages_is_reported_once(tmp_path: Path):
    data = minimal()
    del data["languages"]
    assert problems_of(tmp_path, data) == ["q.yaml: languages: required field is missing"]


def test_a_sensitive_item_must_be_optional(tmp_path: Path):
    data = minimal()
    data["items"][0] |= {"sensitive": True, "required": True}
    problems = problems_of(tmp_path, data)
    assert problems == ["q.yaml: items[0]: a sensitive item cannot be required"]


def test_no_condition_may_depend_on_a_sensitive_item(tmp_path: Path):
    data = minimal()
    data["items"][0]["sensitive"] = True
    assert problems_of(tmp_path, data) == [
        "q.yaml: items[1].show_if: refers to sensitive item ket_qua_nhan, "
        "which a deployment may leave out"
    ]


# --- the result moment -------------------------------------------------------------------------


def test_the_result_moment_names_the_screener_and_its_block(tmp_path: Path) -> None:
    data = minimal()
    data["result_moment"] = {"screener": "ket_qua_nhan", "received": "yes", "pending": "no"}
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    questionnaire = load_questionnaire(path)

    assert [item.code for item in questionnaire.result_items()] == ["28"]
    assert [item.code for item in questionnaire.at_result().items] == ["28"]
    assert questionnaire.at_result().item("28").show_if is None
    assert [item.code for item in questionnaire.result_block().items] == ["28"]
    assert load_bundled().result_moment is not None


@pytest.mark.parametrize(
    ("moment", "extra_item", "expected"),
    [
        (
            {"screener": "nope", "received": "yes", "pending": "no"},
            None,
            "result_moment.screener: refers to unknown item nope",
        ),
        (
            {"screener": "ket_qua_nhan", "received": "yes", "pending": "later"},
            None,
            "result_moment.pending: later is not an option of item ket_qua_nhan",
        ),
        (
            {"screener": "ket_qua_nhan", "received": "yes", "pending": "yes"},
            None,
            "result_moment.pending: must differ from received (yes)",
        ),
        (
            {"screener": "ket_qua_nhan", "received": "yes"},
            None,
            "result_moment.pending: required field is missing",
        ),
        (
            {"screener": "ket_qua_nhan", "received": "yes", "pending": "no"},
            {
                "code": "why_not",
                "type": "text",
                "show_if": {"item": "ket_qua_nhan", "equals": "no"},
                "text": {"vi": "Vì sao?", "en": "Why?"},
            },
            "items[2].show_if: item why_not reads the result screener ket_qua_nhan",
        ),
    ],
)
def test_a_wrong_result_moment_is_reported(
    tmp_path: Path, moment: dict[str, str], extra_item: dict[str, Any] | None, expected: str
) -> None:
    data = minimal()
    data["result_moment"] = moment
    if extra_item is not None:
        data["items"].append(extra_item)

    problems = problems_of(tmp_path, data)

    assert any(expected in problem for problem in problems), problems


def test_items_without_element_or_section_join_the_section_before_them(tmp_path: Path):
    data = minimal()
    data["sections"] = [{"code": "THEM", "label": {"vi": "Thêm", "en": "More"}}]
    data["items"] += [
        {"code": "gate", "type": "yes_no", "section": "THEM", "text": {"vi": "Có?", "en": "Yes?"}},
        {"code": "after", "type": "yes_no", "text": {"vi": "Nữa?", "en": "More?"}},
    ]
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    questionnaire = load_questionnaire(path)
    # The leading screener opens the first section; the last item follows its gate.
    assert [item.section for item in questionnaire.items] == ["KET_QUA", "KET_QUA", "THEM", "THEM"]
    assert [section.code for section in questionnaire.sections] == ["KET_QUA", "THEM"]


def test_a_questionnaire_without_elements_or_sections_is_one_part(tmp_path: Path):
    data = minimal()
    data["elements"] = []
    data["items"] = [data["items"][0]]
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    progress = load_questionnaire(path).progress({}, "ket_qua_nhan")
    assert (progress.section_number, progress.sections, progress.position, progress.total) == (
        1,
        1,
        1,
        1,
    )


def test_section_problems_are_reported(tmp_path: Path):
    data = minimal()
    data["sections"] = [
        {"code": "KET_QUA", "label": {"vi": "Trùng", "en": "Clash"}},
        {"code": "UNUSED", "label": {"vi": "Thừa", "en": "Unused"}},
        {"code": "THEM", "label": {"vi": "Thêm", "en": "More"}},
    ]
    data["items"] += [
        {"code": "gate", "type": "yes_no", "section": "THEM", "text": {"vi": "Có?", "en": "Yes?"}},
        {
            "code": "back",
            "type": "yes_no",
            "section": "KET_QUA",
            "text": {"vi": "Lại?", "en": "Again?"},
        },
        {
            "code": "typo",
            "type": "yes_no",
            "section": "NOPE",
            "text": {"vi": "Sai?", "en": "Wrong?"},
        },
    ]
    assert problems_of(tmp_path, data) == [
        "q.yaml: sections: section KET_QUA is already an element",
        "q.yaml: items[4].section: unknown section NOPE",
        "q.yaml: items[3]: section KET_QUA resumes after section THEM: "
        "the items of a section follow one another",
        "q.yaml: sections: section UNUSED has no items",
    ]


def test_a_scale_stem_needs_every_language(tmp_path: Path):
    data = minimal()
    data["scales"]["satisfaction"]["stem"] = {"vi": "Mức độ hài lòng:"}
    assert problems_of(tmp_path, data) == ["q.yaml: scales.satisfaction.stem: missing language en"]
