"""Where a session happens: the kinds of place and what each kind needs, as series files, the
series form and session edits check them."""

from __future__ import annotations

from vcs.i18n import N_

KINDS = ("online", "venue", "hybrid")
KEYS = {"kind", "venue", "address", "municipality"}
# A meeting in a room needs to say which room and where it is.
NEEDED = ("venue", "address")

KIND_UNKNOWN = N_("must be online, venue or hybrid, not %(kind)r")
# One message for each kind and key, so each reads naturally in Latvian.
NEEDS = {
    ("venue", "venue"): N_("a venue meeting needs its venue"),
    ("venue", "address"): N_("a venue meeting needs its address"),
    ("hybrid", "venue"): N_("a hybrid meeting needs its venue"),
    ("hybrid", "address"): N_("a hybrid meeting needs its address"),
}
