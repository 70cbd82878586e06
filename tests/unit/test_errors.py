"""Errors carry a code and an English template; each edge translates them once."""

from __future__ import annotations

import pytest

from vcs.errors import Phrase, Problem, VcsError


def test_an_error_reads_in_english_with_its_place_and_keeps_its_code() -> None:
    error = VcsError.one(
        "text.control",
        "contains a control character at position %(at)d",
        where=("f.toml", "title"),
        at=3,
    )
    assert error.code == "text.control"
    assert str(error) == "f.toml: title: contains a control character at position 3"


def test_a_problem_placed_inside_a_file_keeps_its_own_place_after_the_file() -> None:
    problem = Problem("x", "is wrong", where=("title_lv",)).at("series.toml", "series a")
    assert problem.line() == "series.toml: series a: title_lv: is wrong"


def test_problems_for_form_fields_are_grouped_by_field() -> None:
    error = VcsError(
        [
            Problem("a", "is empty", field="name"),
            Problem("b", "is too long", field="name"),
            Problem("c", "elsewhere"),
        ]
    )
    assert error.by_field() == {"name": ["is empty", "is too long"]}
    assert error.lines() == ["is empty", "is too long", "elsewhere"]


def test_a_phrase_parameter_is_translated_with_the_message() -> None:
    problem = Problem("p", "%(what)s is missing", {"what": Phrase("title")})
    assert problem.text("en") == "title is missing"


def test_an_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one"):
        VcsError([])
