"""Reaching members where they already are: the Google Calendar mirror (calendar_mirror)."""
