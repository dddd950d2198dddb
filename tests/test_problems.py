"""The one shape of a refusal: how a problem reads, and what a refusal carries."""

from __future__ import annotations

import pytest

from problems import Problem, ProblemsFound, tally


def test_a_problem_reads_file_row_column_message_and_hint_leaving_out_what_it_lacks() -> None:
    located = Problem(file="units.csv", row=3, column="level", message="'x' is not allowed")
    assert str(located) == "units.csv:3: level: 'x' is not allowed"
    hinted = Problem(file="u.csv", row=1, column="name", message="missing", hint="add it")
    assert str(hinted) == "u.csv:1: name: missing (add it)"
    assert str(Problem(file="u.csv", column="(file)", message="empty")) == "u.csv: (file): empty"
    assert str(Problem(column="SIPAS_TIMEZONE", message="unknown")) == "SIPAS_TIMEZONE: unknown"
    assert str(Problem(message="no staff account 'lan'")) == "no staff account 'lan'"


def test_a_row_without_its_file_is_refused() -> None:
    with pytest.raises(ValueError, match="row"):
        Problem(row=2, message="bad")


def test_a_refusal_carries_every_problem_and_reads_as_their_lines() -> None:
    found = [Problem(file="a.csv", row=2, message="one"), Problem(file="b.csv", message="two")]
    refusal = ProblemsFound(found, summary="2 problems")
    assert refusal.problems == found
    assert str(refusal) == "a.csv:2: one\nb.csv: two"
    assert refusal.summary == "2 problems"


def test_a_refusal_with_a_message_is_one_problem_without_a_place() -> None:
    refusal = ProblemsFound("no such key")
    assert refusal.problems == [Problem(message="no such key")]
    assert refusal.summary is None
    assert str(refusal) == "no such key"


def test_a_refusal_names_at_least_one_problem() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ProblemsFound([])


def test_the_tally_counts_problems_and_names_their_files_once_each_in_order() -> None:
    assert tally([Problem(message="x")]) == "1 problem"
    in_two_files = [
        Problem(file="b.csv", message="x"),
        Problem(file="a.csv", message="y"),
        Problem(file="b.csv", message="z"),
    ]
    assert tally(in_two_files) == "3 problems in b.csv, a.csv"
