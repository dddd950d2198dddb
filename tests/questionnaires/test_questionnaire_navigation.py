"""Skip logic, next/previous item, progress and answer validation on the bundled questionnaire."""

import pytest

from questionnaires import Answers, InvalidAnswer, Item, load_bundled

CORE = ["15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27"]
PROFILE = ["gioi_tinh", "do_tuoi", "dan_toc", "trinh_do_hoc_van", "nghe_nghiep", "noi_sinh_song"]


def answered_until(code: str) -> dict[str, str | None]:
    """Answers for every visible item before `code`, choosing the first option (or 'yes')."""
    questionnaire = load_bundled()
    answers: dict[str, str | None] = {}
    while (item := questionnaire.next_item(answers)) is not None and item.code != code:
        options = questionnaire.options(item)
        answers[item.code] = options[0].value if options else "ok"
    return answers


def code_of(item: Item | None) -> str | None:
    return None if item is None else item.code


def visible_codes(answers: Answers) -> list[str]:
    return [item.code for item in load_bundled().visible_items(answers)]


def test_first_item_is_respondent_type():
    assert code_of(load_bundled().next_item({})) == "respondent_type"


def test_item_hidden_when_screener_says_not_yet():
    codes = visible_codes({"ket_qua_nhan": "no"})
    assert "ket_qua_nhan" in codes
    assert not {"28", "29", "30"} & set(codes)


def test_result_items_shown_when_result_received():
    codes = visible_codes({"ket_qua_nhan": "yes"})
    assert codes[codes.index("ket_qua_nhan") + 1 : codes.index("ket_qua_nhan") + 4] == [
        "28",
        "29",
        "30",
    ]


def test_result_items_hidden_until_the_screener_is_answered():
    assert not {"28", "29", "30"} & set(visible_codes({}))


def test_complaint_items_hidden_when_never_complained():
    assert not {"31", "32", "33"} & set(visible_codes({"pakn_da_tung": "no"}))


def test_complaint_items_shown_when_complained():
    assert {"31", "32", "33"} <= set(visible_codes({"pakn_da_tung": "yes"}))


def test_priorities_hidden_unless_the_respondent_wants_to_give_them():
    priorities = {f"10.{n}" for n in range(1, 9)}
    assert not priorities & set(visible_codes({"uu_tien": "no"}))
    assert priorities <= set(visible_codes({"uu_tien": "yes"}))


def test_skipped_screener_hides_its_block():
    assert not {"28", "29", "30"} & set(visible_codes({"ket_qua_nhan": None}))


def test_next_item_after_not_yet_received_is_the_complaint_screener():
    answers = answered_until("ket_qua_nhan")
    answers["ket_qua_nhan"] = "no"
    assert code_of(load_bundled().next_item(answers)) == "pakn_da_tung"


def test_next_item_after_received_is_item_28():
    answers = answered_until("ket_qua_nhan")
    answers["ket_qua_nhan"] = "yes"
    assert code_of(load_bundled().next_item(answers)) == "28"


def test_skipped_item_counts_as_done_for_next_item():
    assert code_of(load_bundled().next_item({"respondent_type": "citizen", "15": None})) == "16"


def test_next_item_is_none_when_everything_visible_is_answered():
    questionnaire = load_bundled()
    answers = answered_until("never")
    assert questionnaire.next_item(answers) is None
    assert list(answers)[-1] == "y_kien_khac"


def test_shortest_path_has_20_items():
    answers = {"ket_qua_nhan": "no", "pakn_da_tung": "no", "uu_tien": "no", "thong_tin": "no"}
    assert visible_codes(answers) == [
        "respondent_type",
        *CORE,
        "ket_qua_nhan",
        "pakn_da_tung",
        "uu_tien",
        "thong_tin",
        "y_kien_khac",
    ]


def test_the_profile_is_behind_one_gate_that_hides_it_only_when_declined():
    assert not set(PROFILE) & set(visible_codes({"thong_tin": "no"}))
    assert set(PROFILE) <= set(visible_codes({"thong_tin": "yes"}))
    # A paper form or kiosk file without the gate still carries the profile.
    assert set(PROFILE) <= set(visible_codes({}))


def where(questionnaire_answers: Answers, code: str) -> tuple[str, int, int, int, int]:
    progress = load_bundled().progress(questionnaire_answers, code)
    return (
        progress.section.label["vi"],
        progress.section_number,
        progress.sections,
        progress.position,
        progress.total,
    )


def test_progress_names_the_section_and_counts_items_within_it():
    assert where({}, "respondent_type") == ("Tiếp cận dịch vụ", 1, 8, 1, 5)
    assert where(answered_until("15"), "15") == ("Tiếp cận dịch vụ", 1, 8, 2, 5)
    assert where(answered_until("19"), "19") == ("Thủ tục hành chính", 2, 8, 1, 4)
    assert where(answered_until("22"), "22") == ("Thủ tục hành chính", 2, 8, 4, 4)


def test_a_screener_opens_its_section_and_totals_never_move_away():
    answers = answered_until("ket_qua_nhan")
    assert where(answers, "ket_qua_nhan")[1:] == (4, 8, 1, 4)
    answers["ket_qua_nhan"] = "yes"
    assert where(answers, "28")[1:] == (4, 8, 2, 4)
    answers.update({"28": "5", "29": "4", "30": None, "pakn_da_tung": "no"})
    assert where(answers, "uu_tien") == ("Nội dung cần ưu tiên cải thiện", 6, 8, 1, 9)
    answers["uu_tien"] = "no"
    assert where(answers, "thong_tin") == ("Thông tin thống kê", 7, 8, 1, 7)  # dan_toc too
    answers["thong_tin"] = "no"
    assert where(answers, "y_kien_khac") == ("Ý kiến khác", 8, 8, 1, 1)


def test_a_section_left_without_items_is_not_counted():
    # Without the sensitive item the profile has five items; no section is lost, none added.
    questionnaire = load_bundled().asking()
    progress = questionnaire.progress({"thong_tin": "yes"}, "gioi_tinh")
    assert (progress.sections, progress.position, progress.total) == (8, 2, 6)


def test_every_satisfaction_item_carries_the_scale_stem():
    questionnaire = load_bundled()
    stems = {item.code: questionnaire.stem(item) for item in questionnaire.items if item.scale}
    assert (
        stems["15"]
        == stems["33"]
        == {
            "vi": "Mức độ hài lòng của Ông/Bà:",
            "en": "How satisfied are you?",
        }
    )
    # Question 10's own stem is the first priority's intro; each screen ends with a short one.
    assert (
        stems["10.1"]
        == stems["10.8"]
        == {
            "vi": "Mức độ Ông/Bà mong muốn ưu tiên:",
            "en": "How much would you like this prioritised?",
        }
    )
    assert questionnaire.item("10.1").intro is not None
    assert [questionnaire.item(f"10.{n}").intro for n in range(2, 9)] == [None] * 7


def test_previous_item_is_the_last_answered_visible_item_before_the_current_one():
    questionnaire = load_bundled()
    answers = answered_until("pakn_da_tung")
    assert answers["ket_qua_nhan"] == "yes"
    assert code_of(questionnaire.previous_item(answers, "pakn_da_tung")) == "30"


def test_previous_item_jumps_over_a_hidden_block():
    questionnaire = load_bundled()
    answers = answered_until("ket_qua_nhan")
    answers["ket_qua_nhan"] = "no"
    assert code_of(questionnaire.previous_item(answers, "pakn_da_tung")) == "ket_qua_nhan"


def test_previous_item_goes_back_to_a_skipped_item():
    answers = {"respondent_type": "citizen", "15": None}
    assert code_of(load_bundled().previous_item(answers, "16")) == "15"


def test_previous_item_is_none_at_the_first_item():
    assert load_bundled().previous_item({}, "respondent_type") is None


def test_previous_item_after_the_end_is_the_last_item():
    answers = answered_until("never")
    assert code_of(load_bundled().previous_item(answers, None)) == "y_kien_khac"


def test_stale_answers_behind_a_closed_screener_are_ignored():
    questionnaire = load_bundled()
    answers = {"ket_qua_nhan": "no", "28": "5", "29": "5"}
    assert "28" not in visible_codes(answers)
    assert questionnaire.relevant_answers(answers) == {"ket_qua_nhan": "no"}


def test_unknown_item_code_raises_key_error():
    with pytest.raises(KeyError):
        load_bundled().item("99")


def test_scale_answer_accepts_the_value_or_a_label():
    questionnaire = load_bundled()
    item = questionnaire.item("15")
    assert questionnaire.validate_answer(item, " 4 ") == "4"
    assert questionnaire.validate_answer(item, "rất hài lòng") == "5"
    assert questionnaire.validate_answer(item, "Very dissatisfied") == "1"


def test_scale_answer_out_of_range_is_invalid():
    questionnaire = load_bundled()
    with pytest.raises(InvalidAnswer) as error:
        questionnaire.validate_answer(questionnaire.item("15"), "6")
    assert error.value.reason == "not_an_option"
    assert error.value.item_code == "15"
    assert error.value.message["vi"].startswith("Câu trả lời không hợp lệ")


def test_yes_no_answer_is_yes_or_no():
    questionnaire = load_bundled()
    item = questionnaire.item("ket_qua_nhan")
    assert questionnaire.validate_answer(item, "yes") == "yes"
    assert questionnaire.validate_answer(item, "Chưa nhận") == "no"
    with pytest.raises(InvalidAnswer):
        questionnaire.validate_answer(item, "maybe")


def test_text_answer_is_trimmed_and_limited():
    questionnaire = load_bundled()
    item = questionnaire.item("y_kien_khac")
    assert questionnaire.validate_answer(item, "  Rất tốt  ") == "Rất tốt"
    with pytest.raises(InvalidAnswer) as empty:
        questionnaire.validate_answer(item, "   ")
    assert empty.value.reason == "empty"
    with pytest.raises(InvalidAnswer) as too_long:
        questionnaire.validate_answer(item, "x" * 1001)
    assert too_long.value.reason == "too_long"
    assert questionnaire.validate_answer(item, "x" * 1000) == "x" * 1000
