"""E-mail addresses as the member directory keys them."""

from __future__ import annotations

import pytest

from vcs.membership.members import EVERYTHING, NOTHING, Follows, MemberError, fold, normalise_email


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("  Anna.Ozola@Cesis.LV ", "anna.ozola@cesis.lv"),
        ("mailto:JANIS@example.lv", "janis@example.lv"),
        ("ilze+tikls@example.lv\u00a0", "ilze+tikls@example.lv"),
        ("info@pašvaldība.lv", "info@pašvaldība.lv"),
    ],
)
def test_address_is_trimmed_and_lower_cased(typed: str, normal: str) -> None:
    assert normalise_email(typed) == normal


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "missing"),
        ("anna ozola@cesis.lv", "'anna ozola@cesis.lv' contains a space"),
        ("Anna <anna@cesis.lv>", "'Anna <anna@cesis.lv>': write the address alone, without a name"),
        ("anna.cesis.lv", "'anna.cesis.lv' is not an e-mail address (it needs one @)"),
        ("anna@cesis", "'anna@cesis': 'cesis' is not a domain name"),
        ("anna..ozola@cesis.lv", "'anna..ozola@cesis.lv': the part before the @ is not valid"),
        (
            "jānis@cesis.lv",
            "'jānis@cesis.lv': letters with diacritics before the @ are not deliverable",
        ),
        ("=cmd@cesis.lv", "'=cmd@cesis.lv' starts with '='"),
    ],
)
def test_what_is_not_an_address_is_refused_with_the_reason(typed: str, problem: str) -> None:
    with pytest.raises(MemberError) as raised:
        normalise_email(typed)
    (found,) = raised.value.problems
    assert (found.field, found.text()) == ("email", problem)


def test_follows_are_written_one_way() -> None:
    follows = Follows(False, frozenset({"b-series", "a-series"}), frozenset({"vidzeme"}))

    assert (str(EVERYTHING), str(NOTHING), str(follows)) == (
        "all",
        "none",
        "region:vidzeme|series:a-series|series:b-series",
    )


def test_names_compare_without_case_and_diacritics() -> None:
    assert fold("  Ķekavas   NOVADS ") == fold("kekavas novads") == "kekavas novads"
