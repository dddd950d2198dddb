"""The JSON form of a questionnaire: plain, stable, and complete enough for other tools."""

import json

from questionnaires import load_bundled


def test_json_form_survives_a_round_trip_through_json_text():
    form = load_bundled().to_json()
    assert json.loads(json.dumps(form, ensure_ascii=False)) == form


def test_json_form_has_the_stable_top_level_shape():
    form = load_bundled().to_json()
    assert list(form) == [
        "id",
        "version",
        "title",
        "languages",
        "default_language",
        "method_note",
        "elements",
        "sections",
        "items",
    ]
    assert form["id"] == "sipas-2023"
    assert form["languages"] == ["vi", "en"]
    assert [element["code"] for element in form["elements"]] == [
        "TIEP_CAN",
        "TTHC",
        "CONG_CHUC",
        "KET_QUA",
        "PAKN",
    ]


def test_json_item_carries_type_options_and_skip_condition():
    form = load_bundled().to_json()
    items = {item["code"]: item for item in form["items"]}
    assert [item["code"] for item in form["items"]] == [i.code for i in load_bundled().items]
    item_28 = items["28"]
    assert set(item_28) == {
        "code",
        "type",
        "element",
        "text",
        "required",
        "skippable",
        "scale",
        "options",
        "show_if",
        "max_length",
        "sensitive",
        "section",
        "per_unit",
    }
    assert item_28["type"] == "scale"
    assert item_28["element"] == "KET_QUA"
    assert item_28["skippable"] is True
    assert item_28["required"] is False
    assert item_28["show_if"] == {"item": "ket_qua_nhan", "equals": "yes"}
    assert item_28["options"][4] == {
        "value": "5",
        "label": {"vi": "Rất hài lòng", "en": "Very satisfied"},
    }
    assert item_28["section"] == "KET_QUA"
    assert items["15"]["show_if"] is None
    assert items["y_kien_khac"]["max_length"] == 1000
    assert items["y_kien_khac"]["options"] == []


def test_json_sections_are_the_elements_and_the_declared_parts_in_order():
    form = load_bundled().to_json()
    assert [section["code"] for section in form["sections"]] == [
        "TIEP_CAN",
        "TTHC",
        "CONG_CHUC",
        "KET_QUA",
        "PAKN",
        "UU_TIEN",
        "THONG_TIN",
        "Y_KIEN",
    ]
    assert form["sections"][1]["label"] == {
        "vi": "Thủ tục hành chính",
        "en": "Administrative procedures",
    }
