"""`vcs members import` and `vcs members export` from the shell, on a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_sessions_cli import ok, vcs

HEADER = "email;name;municipality;language;follows;status"
EXPORT_HEADER = (
    "email;name;phone;municipality;organisation;position;language;follows;status;consent_at;"
    "consent_source;consent_text"
)


def write_csv(tmp_path: Path, *rows: str, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8-sig")
    return path


def test_bad_file_prints_one_vcs_line_then_one_line_per_problem_and_saves_nothing(
    tmp_path: Path,
) -> None:
    ok(tmp_path, "init")
    path = write_csv(
        tmp_path,
        "anna@cesis.lv;Anna Ozola;Cēsu novads;lv;all;active",
        "janis@@cesis.lv;Jānis Kalniņš;cesu-novads;lv;all;active",
        "ilze@rezekne.lv;Ilze Liepiņa;Rezekne;latviski;all;active",
    )

    result = vcs(tmp_path, "members", "import", str(path))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "vcs: nothing was saved:",
        f"{path}: line 3: email: 'janis@@cesis.lv' is not an e-mail address (it needs one @)",
        f"{path}: line 4: language: must be lv or en, not 'latviski'",
    ]
    assert ok(tmp_path, "members", "export").splitlines() == ["\ufeff" + EXPORT_HEADER]


def test_import_export_and_import_again_through_the_shell(tmp_path: Path) -> None:
    ok(tmp_path, "init")
    path = write_csv(
        tmp_path,
        "Anna@Cesis.lv;Anna Ozola;Cēsu novads;lv;vidzeme;active",
        "ilze@rezekne.lv;Ilze Liepiņa;Rēzekne;en;none;pending",
    )

    assert ok(tmp_path, "members", "import", "--dry-run", str(path)).splitlines() == [
        "line 2: anna@cesis.lv: would be created",
        "line 3: ilze@rezekne.lv: would be created",
        "dry run, nothing was saved: 2 created, 0 updated, 0 unchanged",
    ]
    assert (
        ok(tmp_path, "members", "import", str(path))
        == f"{path}: 2 created, 0 updated, 0 unchanged\n"
    )
    exported = tmp_path / "export.csv"
    result = vcs(tmp_path, "members", "export", "--output", str(exported))
    assert (result.returncode, result.stderr) == (0, f"2 members written to {exported}\n")
    assert exported.read_bytes().decode("utf-8").splitlines() == [
        "\ufeff" + EXPORT_HEADER,
        "anna@cesis.lv;Anna Ozola;;cesu-novads;;;lv;region:vidzeme;active;;;",
        "ilze@rezekne.lv;Ilze Liepiņa;;rezekne;;;en;none;pending;;;",
    ]
    assert ok(tmp_path, "members", "import", str(exported)) == (
        f"{exported}: 0 created, 0 updated, 2 unchanged\n"
    )


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    ok(tmp_path, "init")

    result = vcs(tmp_path, "members", "import", str(tmp_path / "nav.csv"))

    assert (result.returncode, result.stderr) == (
        1,
        f"vcs: nothing was saved:\n{tmp_path / 'nav.csv'}: No such file or directory\n",
    )
