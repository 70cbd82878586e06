"""Planning: recurrence rules, series files, the sessions they become, and edits to one session."""
