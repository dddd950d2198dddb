"""The facts a response's quality flags are judged on, as recorded when it is completed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.response_facts import ResponseFacts, response_facts

SCALE = {code: ("1", "2", "3", "4", "5") for code in ("15", "16", "17", "18")}
START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def at(*seconds: float) -> list[datetime]:
    return [START + timedelta(seconds=offset) for offset in seconds]


def test_only_real_answers_to_satisfaction_items_count() -> None:
    # A skip (None) is no answer; a screener or a value off the scale is not a scale answer.
    answers = {"respondent_type": "citizen", "15": "4", "16": None, "17": "4", "18": "9"}
    assert response_facts(SCALE, answers, None) == ResponseFacts(2, "4", None)


def test_answers_that_differ_have_no_uniform_value() -> None:
    assert response_facts(SCALE, {"15": "4", "16": "5"}, None).uniform_value is None
    assert response_facts(SCALE, {"15": None}, None) == ResponseFacts(0, None, None)


def test_the_median_gap_is_taken_in_time_order() -> None:
    # Written out of order (a respondent went back): in time order the gaps are 2, 2, 10.
    answers = {"15": "4", "16": "4", "17": "5", "18": "5"}
    assert response_facts(SCALE, answers, at(14, 0, 2, 4)).median_gap_seconds == 2.0


def test_an_even_number_of_gaps_takes_the_mean_of_the_middle_two() -> None:
    answers = {"15": "4", "16": "4", "17": "5", "18": "5", "x": "y"}
    assert response_facts(SCALE, answers, at(0, 1, 2, 5, 10)).median_gap_seconds == 2.0


def test_untimed_or_single_answer_responses_have_no_gap() -> None:
    assert response_facts(SCALE, {"15": "4"}, at(0)).median_gap_seconds is None
    assert response_facts(SCALE, {"15": "4", "16": "4"}, None).median_gap_seconds is None
