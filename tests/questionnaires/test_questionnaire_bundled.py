"""The bundled SIPAS 2023 questionnaire carries the official wording, elements and scales."""

import pytest

from questionnaires import (
    DEFAULT_QUESTIONNAIRE_ID,
    ItemType,
    bundled_questionnaire_paths,
    load_bundled,
    load_questionnaire,
)

OFFICIAL_ITEMS = [str(number) for number in range(15, 34)]


def test_bundled_questionnaire_loads_as_the_default():
    questionnaire = load_bundled()
    assert questionnaire.id == DEFAULT_QUESTIONNAIRE_ID == "sipas-2023"
    assert questionnaire.version == "1.1.0"
    assert questionnaire.languages == ("vi", "en")
    assert questionnaire.default_language == "vi"


def test_every_bundled_file_loads_and_is_named_after_its_id():
    paths = bundled_questionnaire_paths()
    assert [path.name for path in paths] == ["par-officials-2025.yaml", "sipas-2023.yaml"]
    for path in paths:
        assert load_questionnaire(path).id == path.stem


def test_load_bundled_is_cached():
    assert load_bundled() is load_bundled("sipas-2023")


def test_items_15_to_33_are_the_satisfaction_items_in_order():
    questionnaire = load_bundled()
    assert [item.code for item in questionnaire.scale_items()] == OFFICIAL_ITEMS
    for item in questionnaire.scale_items():
        assert item.scale == "satisfaction"
        assert item.skippable


def test_items_carry_the_official_vietnamese_wording():
    questionnaire = load_bundled()
    assert questionnaire.item("15").text["vi"] == (
        "Cơ quan cung cấp thông tin về việc giải quyết thủ tục hành chính theo nhiều hình thức, "
        "dễ tiếp cận, dễ hiểu đối với mọi người dân."
    )
    assert questionnaire.item("21").text["vi"] == (
        "Mức phí/lệ phí người dân phải nộp là đúng quy định."
    )
    assert questionnaire.item("25").text["vi"] == (
        "Công chức hướng dẫn hồ sơ dễ hiểu, đảm bảo người dân có thể hoàn thiện hồ sơ "
        "sau một lần hướng dẫn."
    )
    assert questionnaire.item("30").text["vi"] == (
        "Kết quả giải quyết thủ tục hành chính cho người dân đảm bảo tính công bằng."
    )
    assert questionnaire.item("33").text["vi"] == (
        "Cơ quan thông báo kết quả xử lý phản ánh kiến nghị cho người dân kịp thời."
    )


def test_items_belong_to_the_five_official_elements():
    questionnaire = load_bundled()
    elements = {
        "TIEP_CAN": ["15", "16", "17", "18"],
        "TTHC": ["19", "20", "21", "22"],
        "CONG_CHUC": ["23", "24", "25", "26", "27"],
        "KET_QUA": ["28", "29", "30"],
        "PAKN": ["31", "32", "33"],
    }
    assert [element.code for element in questionnaire.elements] == list(elements)
    for code, items in elements.items():
        assert [item.code for item in questionnaire.items_of_element(code)] == items


def test_element_labels_exist_in_both_languages_with_short_forms():
    questionnaire = load_bundled()
    assert questionnaire.element("TIEP_CAN").label == {
        "vi": "Tiếp cận dịch vụ",
        "en": "Access to the service",
    }
    for element in questionnaire.elements:
        assert set(element.label) == set(element.short_label) == {"vi", "en"}


def test_satisfaction_scale_has_the_exact_labels_in_order():
    questionnaire = load_bundled()
    options = questionnaire.options(questionnaire.item("15"))
    assert [(option.value, option.label["vi"], option.label["en"]) for option in options] == [
        ("1", "Rất không hài lòng", "Very dissatisfied"),
        ("2", "Không hài lòng", "Dissatisfied"),
        ("3", "Bình thường", "Neutral"),
        ("4", "Hài lòng", "Satisfied"),
        ("5", "Rất hài lòng", "Very satisfied"),
    ]


def test_every_text_and_label_exists_in_every_language():
    questionnaire = load_bundled()
    for item in questionnaire.items:
        assert set(item.text) == {"vi", "en"}, item.code
        for option in questionnaire.options(item):
            assert set(option.label) == {"vi", "en"}, item.code


def test_consent_names_the_controller_as_a_placeholder_and_offers_two_explicit_choices():
    consent = load_bundled().consent
    for language in ("vi", "en"):
        assert "{controller}" in consent.text[language]
        # The notice comes before it (handlers/privacy_notice.py); this asks the question.
        assert consent.text[language].rstrip().endswith("?")
    assert consent.accept == {"vi": "Tôi đồng ý tham gia", "en": "I agree to take part"}
    assert consent.decline["vi"] != consent.accept["vi"]
    rendered = consent.render("vi", "Sở Nội vụ thành phố Hà Nội")
    assert "{controller}" not in rendered
    assert rendered.startswith("Sở Nội vụ thành phố Hà Nội mời Ông/Bà")


def test_respondent_type_comes_first_and_is_required():
    questionnaire = load_bundled()
    first = questionnaire.items[0]
    assert first.code == "respondent_type"
    assert first.required
    assert [(o.value, o.label["vi"]) for o in questionnaire.options(first)] == [
        ("citizen", "Người dân"),
        ("organisation", "Đại diện tổ chức, doanh nghiệp"),
    ]


def test_screeners_use_the_official_questions_and_answers():
    questionnaire = load_bundled()
    ket_qua = questionnaire.item("ket_qua_nhan")
    assert ket_qua.type is ItemType.YES_NO
    assert ket_qua.text["vi"] == "Ông/Bà đã nhận kết quả giải quyết hồ sơ chưa?"
    assert [(o.value, o.label["vi"]) for o in questionnaire.options(ket_qua)] == [
        ("yes", "Đã nhận"),
        ("no", "Chưa nhận"),
    ]
    pakn = questionnaire.item("pakn_da_tung")
    assert pakn.text["vi"] == "Ông/Bà đã từng phản ánh, kiến nghị với cơ quan này chưa?"
    assert [(o.value, o.label["vi"]) for o in questionnaire.options(pakn)] == [
        ("yes", "Đã từng"),
        ("no", "Chưa từng"),
    ]
    codes = [item.code for item in questionnaire.items]
    assert codes.index("ket_qua_nhan") == codes.index("28") - 1
    assert codes.index("pakn_da_tung") == codes.index("31") - 1


def test_priorities_are_eight_skippable_items_answered_very_much_much_little():
    questionnaire = load_bundled()
    priorities = [questionnaire.item(f"10.{n}") for n in range(1, 9)]
    assert priorities[0].text["vi"] == (
        "Nâng cao hơn nữa chất lượng cung cấp thông tin cho người dân."
    )
    assert priorities[7].text["vi"] == (
        "Nâng cao hơn nữa chất lượng dịch vụ hành chính công (việc giải quyết thủ tục hành chính)."
    )
    for item in priorities:
        assert item.type is ItemType.CHOICE
        assert item.skippable
        assert item.element is None
        assert [o.label["vi"] for o in questionnaire.options(item)] == ["Rất nhiều", "Nhiều", "Ít"]


def test_profile_items_each_offer_prefer_not_to_say():
    questionnaire = load_bundled()
    for code in (
        "gioi_tinh",
        "do_tuoi",
        "dan_toc",
        "trinh_do_hoc_van",
        "nghe_nghiep",
        "noi_sinh_song",
    ):
        item = questionnaire.item(code)
        assert not item.required
        last = questionnaire.options(item)[-1]
        assert (last.value, last.label["vi"]) == ("khong_tra_loi", "Không muốn trả lời")


def test_age_bands_do_not_overlap():
    questionnaire = load_bundled()
    labels = [o.label["vi"] for o in questionnaire.options(questionnaire.item("do_tuoi"))]
    assert labels == ["18–25", "26–34", "35–49", "50–60", "Trên 60", "Không muốn trả lời"]


def test_open_comment_is_skippable_text():
    questionnaire = load_bundled()
    comment = questionnaire.items[-1]
    assert comment.code == "y_kien_khac"
    assert comment.type is ItemType.TEXT
    assert comment.skippable
    assert comment.max_length == 1000
    assert comment.text["vi"] == "Ý kiến khác (xin ghi cụ thể)"


def test_nothing_identifying_is_ever_asked():
    questionnaire = load_bundled()
    forbidden = ("họ tên", "điện thoại", "email", "cccd", "địa chỉ")
    for item in questionnaire.items:
        question = item.text["vi"].casefold()
        assert not any(word in question for word in forbidden), item.code
    assert [item.code for item in questionnaire.items if item.type is ItemType.TEXT] == [
        "y_kien_khac"
    ]


def test_ethnicity_is_sensitive_and_absent_unless_a_deployment_asks_it():
    questionnaire = load_bundled()
    assert [item.code for item in questionnaire.sensitive_items()] == ["dan_toc"]

    default = questionnaire.asking()
    assert "dan_toc" not in [item.code for item in default.items]
    assert len(default.items) == len(questionnaire.items) - 1
    assert default.scale_values() == questionnaire.scale_values()  # indices are unchanged
    assert questionnaire.asking(["dan_toc"]) is questionnaire
    with pytest.raises(ValueError, match="not a sensitive item of sipas-2023: gioi_tinh"):
        questionnaire.asking(["gioi_tinh"])
