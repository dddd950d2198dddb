"""Structured skip conditions evaluated against the answers so far."""

from questionnaires import (
    AllOf,
    Answered,
    AnyOf,
    Equals,
    IsIn,
    Not,
    condition_to_json,
    evaluate,
    referenced_items,
)


def test_equals_holds_only_for_that_value():
    assert evaluate(Equals("ket_qua_nhan", "yes"), {"ket_qua_nhan": "yes"})
    assert not evaluate(Equals("ket_qua_nhan", "yes"), {"ket_qua_nhan": "no"})


def test_equals_fails_when_unanswered_or_skipped():
    assert not evaluate(Equals("ket_qua_nhan", "yes"), {})
    assert not evaluate(Equals("ket_qua_nhan", "yes"), {"ket_qua_nhan": None})


def test_in_holds_for_any_listed_value():
    condition = IsIn("respondent_type", ("citizen", "organisation"))
    assert evaluate(condition, {"respondent_type": "organisation"})
    assert not evaluate(condition, {"respondent_type": None})


def test_answered_treats_a_skip_as_not_answered():
    assert evaluate(Answered("15"), {"15": "3"})
    assert not evaluate(Answered("15"), {"15": None})
    assert evaluate(Answered("15", answered=False), {"15": None})
    assert evaluate(Answered("15", answered=False), {})


def test_all_any_not_combine():
    answers = {"a": "1", "b": "2"}
    assert evaluate(AllOf((Equals("a", "1"), Equals("b", "2"))), answers)
    assert not evaluate(AllOf((Equals("a", "1"), Equals("b", "3"))), answers)
    assert evaluate(AnyOf((Equals("a", "9"), Equals("b", "2"))), answers)
    assert not evaluate(AnyOf((Equals("a", "9"), Equals("b", "9"))), answers)
    assert evaluate(Not(Equals("a", "9")), answers)


def test_condition_json_is_the_yaml_shape():
    condition = AllOf((Answered("a"), Not(IsIn("b", ("x", "y")))))
    assert condition_to_json(condition) == {
        "all": [{"item": "a", "answered": True}, {"not": {"item": "b", "in": ["x", "y"]}}]
    }


def test_referenced_items_lists_each_item_once():
    condition = AnyOf((Equals("a", "1"), AllOf((Equals("b", "1"), Not(Answered("a"))))))
    assert referenced_items(condition) == ["a", "b"]
