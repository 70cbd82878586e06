"""Staff-written Markdown as safe HTML, and the link policy for staff text.

Digest items, the digest's introduction and session and series descriptions all go through
`markdown_html()`: markdown-it-py renders (raw HTML off), nh3 cleans. A link to a domain that
is not trusted (the site's own host and `content.trusted_domains`) gets
`rel="nofollow ugc noopener"`, and `untrusted_domains()` names those domains so the digest can
ask staff to confirm them before it is sent (an injected "loan" advert in a news text is the
case this guards against). See docs/digest.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from html import unescape as html_unescape
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

from vcs.config import Settings

# Staff-written Markdown may give only these tags (headings h3 and below: pages have their own).
ALLOWED_TAGS = {
    "a", "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre",
    "h3", "h4", "hr",
}  # fmt: skip
ALLOWED_SCHEMES = {"http", "https", "mailto"}
TRUSTED_REL = "noopener noreferrer"
# Search engines ignore the link (nofollow), it is marked as written by users (ugc), and the
# other site gets no handle on our window (noopener).
UNTRUSTED_REL = "nofollow ugc noopener"
# A bare address in the text is no link here, but mail clients make it one.
BARE_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]\"']+", re.IGNORECASE)


@functools.cache
def _markdown() -> MarkdownIt:
    # Raw HTML off: staff write Markdown, and nh3 cleans what Markdown makes on top of that.
    return MarkdownIt("commonmark", {"html": False})


def trusted_domains(settings: Settings) -> frozenset[str]:
    """The site's own host and the configured trusted domains, lowercase."""
    own = urlsplit(settings.base_url).hostname or ""
    configured = settings.content.trusted_domains.replace(",", " ").split()
    return frozenset(d.strip(".").lower() for d in (own, *configured) if d.strip("."))


def domain(url: str) -> str:
    """The host a link leads to, lowercase; "" for a link within the site or a mailto:."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "?"
    if parts.scheme.lower() not in ("", "http", "https"):
        return ""
    return (parts.hostname or "").strip(".").lower()


def is_trusted(url: str, trusted: Iterable[str]) -> bool:
    """A link within the site, to a trusted domain or to one of its subdomains."""
    host = domain(url)
    return not host or any(host == d or host.endswith("." + d) for d in trusted)


def link_rel(url: str, trusted: Iterable[str]) -> str:
    """The rel of a link staff wrote: nofollow ugc noopener unless its domain is trusted."""
    return TRUSTED_REL if is_trusted(url, trusted) else UNTRUSTED_REL


def _links(tokens: list[Token]) -> Iterable[Token]:
    for token in tokens:
        if token.type == "link_open":
            yield token
        if token.children:
            yield from _links(token.children)


def markdown_html(text: str, trusted: Iterable[str] = ()) -> str:
    """Staff-written Markdown as safe HTML: rendered by markdown-it-py, cleaned by nh3; links
    outside `trusted` get rel="nofollow ugc noopener"."""
    if not text.strip():
        return ""
    trusted = frozenset(trusted)
    md = _markdown()
    tokens = md.parse(text)
    for link in _links(tokens):
        link.attrSet("rel", link_rel(str(link.attrGet("href") or ""), trusted))
    html = md.renderer.render(tokens, md.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title", "rel"}},
        url_schemes=ALLOWED_SCHEMES,
        # Each link has its rel from above; nh3 keeps it instead of setting one for all.
        link_rel=None,
    ).strip()


def markdown_text(text: str) -> str:
    """Staff-written Markdown as one line of plain text, for a meta description or a summary."""
    if not text.strip():
        return ""
    html = _markdown().render(text)
    # nh3 with no tags keeps only the text (entities stay escaped, as an attribute needs them).
    return " ".join(html_unescape(nh3.clean(html, tags=set())).split())


def untrusted_domains(text: str, trusted: Iterable[str]) -> list[str]:
    """The domains outside `trusted` that `text` links to (Markdown links, autolinks and bare
    addresses), sorted."""
    if not text.strip():
        return []
    trusted = frozenset(trusted)
    urls = [str(link.attrGet("href") or "") for link in _links(_markdown().parse(text))]
    # A full stop or comma after an address in a sentence is not part of it.
    bare = (found.rstrip(".,;:!?") for found in BARE_URL.findall(text))
    urls += [url if "//" in url else "http://" + url for url in bare]
    return sorted({domain(url) for url in urls if not is_trusted(url, trusted)})
