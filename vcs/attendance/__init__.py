"""Who took part in a session (issue 17): staff mark registrants after the session, or import the
meeting tool's participant report; the printable attendance sheet (issue 16) is signed in the
room. See docs/attendance.md.

    records.py   the attendance rows: marking by hand, listing, the minimum presence
    reports.py   reading a Zoom, Teams or Jitsi/BigBlueButton participant report (CSV)
    review.py    a report matched to members and registrants, checked whole, then saved
    sheet.py     the attendance sheet PDF

The certificates (vcs/certificates/) read the `attendances` table these write.
"""
