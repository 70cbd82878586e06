"""Which clients get the gzipped copy of a feed or page."""

from __future__ import annotations

import pytest

from vcs.web.cache import accepts_gzip


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("x-gzip", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, deflate", False),
        ("*;q=0.5, gzip;q=0", False),
        ("deflate, br", False),
    ],
)
def test_gzip_is_sent_only_when_the_client_accepts_it(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip
