"""Reading the reports of the bounce mailbox: what each server's sample says, per recipient."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcs.mail.bounces import Failure, read_report

SAMPLES = Path(__file__).parent.parent / "data" / "bounces"


@pytest.mark.parametrize(
    ("sample", "original", "failure"),
    [
        (
            "postfix-user-unknown.eml",
            "<176448690001.1001.digest@tikls.example.lv>",
            Failure(
                "biedrs0@example.lv",
                "hard",
                "5.1.1",
                "550 5.1.1 <biedrs0@example.lv>: Recipient address rejected: User unknown in "
                "virtual mailbox table",
            ),
        ),
        (
            # No delivery-status part: flufl.bounce's Exim detector reads it.
            "exim-no-such-user.eml",
            "<176448690002.1002.digest@tikls.example.lv>",
            Failure("biedrs1@example.lv", "hard", "5.1.1"),
        ),
        (
            "outlook-recipient-not-found.eml",
            "<176448690004.1004.digest@tikls.example.lv>",
            Failure(
                "biedrs3@example.lv",
                "hard",
                "5.1.10",
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
                "lookup",
            ),
        ),
        (
            "postfix-mailbox-full.eml",
            "<176448690005.1005.digest@tikls.example.lv>",
            Failure(
                "biedrs4@example.lv",
                "soft",
                "4.2.2",
                "452 4.2.2 <biedrs4@example.lv>: Mailbox full",
            ),
        ),
    ],
)
def test_each_sample_names_the_recipient_the_status_and_the_message_it_is_about(
    sample: str, original: str, failure: Failure
) -> None:
    report = read_report((SAMPLES / sample).read_bytes())

    assert report.kind == "bounce"
    assert report.original_message_id == original
    assert report.failures == (failure,)


def test_gmails_report_quotes_the_whole_message_and_its_long_diagnostic() -> None:
    report = read_report((SAMPLES / "gmail-account-does-not-exist.eml").read_bytes())

    assert report.original_message_id == "<176448690003.1003.digest@tikls.example.lv>"
    [failure] = report.failures
    assert (failure.recipient, failure.kind, failure.status) == (
        "biedrs2@example.lv",
        "hard",
        "5.1.1",
    )
    assert failure.diagnostic.startswith("550-5.1.1 The email account that you tried to reach does")


def test_an_arf_report_is_a_complaint_about_the_quoted_message() -> None:
    report = read_report((SAMPLES / "arf-complaint.eml").read_bytes())

    assert (report.kind, report.feedback_type) == ("complaint", "abuse")
    assert report.original_message_id == "<176448690006.1006.digest@tikls.example.lv>"


@pytest.mark.parametrize("sample", ["member-reply.eml", "out-of-office.eml", "postfix-delayed.eml"])
def test_replies_auto_replies_and_delay_warnings_are_no_bounce(sample: str) -> None:
    report = read_report((SAMPLES / sample).read_bytes())

    assert report.kind == "other"
    assert report.failures == ()
