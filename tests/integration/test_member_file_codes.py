"""Each row of the member file tables in test_error_messages.py is the problem its code names:
the code, its line and column (as the upload page's table shows them) and its Latvian reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_error_messages import (
    CELL_CASES,
    CSV_FILES,
    ROW_CASES,
    cell_file,
    installation,
)
from vcs.membership.members_csv import MemberFileError, import_members


def problems_of(tmp_path: Path, data: str | bytes) -> MemberFileError:
    context = installation(tmp_path)
    body = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with pytest.raises(MemberFileError) as raised:
            import_members(context, body, "members.csv", "test", dry_run=True)
    finally:
        context.close()
    return raised.value


def test_each_member_file_row_is_the_problem_its_code_names(tmp_path: Path) -> None:
    error = problems_of(tmp_path / "cells", cell_file())
    found = [(p.code, p.params["line"], p.params["column"]) for p in error.problems]
    assert found == [(code, line, column) for line, (code, column, *_) in enumerate(CELL_CASES, 2)]
    for number, (code, line, column, _english, latvian) in enumerate(ROW_CASES):
        error = problems_of(tmp_path / str(number), CSV_FILES[code])
        shown = {"line": str(line or ""), "column": column, "reason": latvian}
        if column == "column 3":
            shown["column"] = "3. kolonna"
        assert code in [p.code for p in error.problems], code
        assert shown in error.rows("lv"), (code, error.rows("lv"))
