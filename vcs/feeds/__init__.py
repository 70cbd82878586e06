"""iCalendar feeds: one VEVENT per session, calendars for every audience, cached bytes."""
