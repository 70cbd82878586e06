"""Staff Markdown and the link policy (vcs/markdown.py): which links count as trusted, which
domains are named for confirmation, and the rel each link gets."""

from __future__ import annotations

from vcs.markdown import markdown_html, untrusted_domains

TRUSTED = frozenset({"gov.lv", "tikls.example.lv"})


def test_a_trusted_domain_covers_its_subdomains_but_not_lookalikes() -> None:
    text = (
        "[a](https://www.izm.gov.lv/x) [b](https://gov.lv) [c](https://notgov.lv) "
        "[d](https://gov.lv.evil.example/) [e](/digests) [f](https://tikls.example.lv/sessions/1)"
    )
    assert untrusted_domains(text, TRUSTED) == ["gov.lv.evil.example", "notgov.lv"]


def test_autolinks_bare_addresses_and_protocol_relative_links_are_named() -> None:
    text = (
        "<https://auto.example/x> and https://bare.example/y, www.casino.example; "
        "[rel](//evil.example/z) [mail](mailto:someone@spam.example)"
    )
    assert untrusted_domains(text, TRUSTED) == [
        "auto.example",
        "bare.example",
        "evil.example",
        "www.casino.example",
    ]


def test_each_link_gets_the_rel_of_its_domain() -> None:
    html = markdown_html(
        "**Ziņa:** [IZM](https://izm.gov.lv) un [aizdevums](https://loans.example)", TRUSTED
    )
    assert html == (
        '<p><strong>Ziņa:</strong> <a href="https://izm.gov.lv" rel="noopener noreferrer">IZM</a>'
        ' un <a href="https://loans.example" rel="nofollow ugc noopener">aizdevums</a></p>'
    )


def test_script_and_javascript_links_never_become_markup() -> None:
    html = markdown_html("<script>alert(1)</script> [x](javascript:alert(2))", TRUSTED)
    assert "<script" not in html and "<a" not in html
