"""Errors carry a code and an English template; each edge translates them once."""

from __future__ import annotations

import pytest

from vcs.errors import OR, Joined, Phrase, Problem, VcsError, translated


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


def test_the_place_reads_as_words_in_latvian_and_identifiers_stay_as_they_are() -> None:
    series = Phrase("series #%(number)s (%(slug)s)", {"number": 2, "slug": "a"})
    problem = Problem("series.missing", "missing", where=("kurzeme.toml", series, "title.lv"))
    assert problem.line("en") == "kurzeme.toml: series #2 (a): title.lv: missing"
    assert problem.line("lv") == "kurzeme.toml: 2. sērija (a): nosaukums latviski: trūkst"


def test_joined_values_are_joined_by_the_word_of_the_language() -> None:
    which = Joined(tuple(Phrase("series #%(number)s", {"number": n}) for n in (1, 3)))
    problem = Problem("x", "used by %(which)s", {"which": which})
    assert problem.text("en") == "used by series #1 and series #3"
    assert translated(which, "lv") == "1. sērija un 3. sērija"
    assert translated(Joined(("'a'", "'b'"), OR), "lv") == "'a' vai 'b'"


def test_an_error_placed_in_a_command_keeps_its_codes() -> None:
    error = VcsError.one("backup.keep", "--keep must be at least 1").at("backup")
    assert (error.code, str(error)) == ("backup.keep", "backup: --keep must be at least 1")
