"""vcs built as a wheel and installed into a fresh virtualenv, run in a folder that is no checkout:
`vcs demo`, then `vcs serve` answers with its pages and its static files.

Offline: the wheel is built with the hatchling of the test environment (no build isolation), it
is installed without dependencies, and the fresh virtualenv sees the test environment's
packages through a .pth file (which adds that folder alone: the editable install of the checkout
there is a .pth file of its own, which Python reads only in a site folder, so it stays unseen).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.integration.test_serve import serve_and_fetch
from vcs.paths import PROJECT_DIR

if importlib.util.find_spec("hatchling") is None and not IN_CI:
    pytest.skip("hatchling is not installed (pip install -e '.[test]')", allow_module_level=True)


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command, by default without this environment's variables (a PYTHONPATH or a VCS_*
    setting here would let the fresh virtualenv find the checkout)."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env or {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh virtualenv with vcs installed from a freshly built wheel."""
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        dist,
        PROJECT_DIR,
        env=dict(os.environ),
    )
    (wheel,) = dist.glob("vcs-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-cache-dir",
        wheel,
    )
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(site.strip()) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"])
    return venv / "bin"


def test_the_installed_package_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    where = run(
        installed / "python",
        "-c",
        "import vcs.paths as p;"
        "print(p.PACKAGE_DIR, p.DEFAULT_CONFIG.is_file(), p.STATIC_DIR.is_dir())",
        cwd=tmp_path,
    ).split()
    assert Path(where[0]).is_relative_to(installed.parent)
    assert where[1:] == ["True", "True"]


def test_demo_then_serve_outside_a_checkout(installed: Path, tmp_path: Path) -> None:
    environ = {"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path)}
    output = run(installed / "vcs", "demo", cwd=tmp_path, env=environ)
    assert output.strip()
    # Relative paths in the settings are taken from the working directory.
    assert (tmp_path / "var" / "vcs.sqlite3").is_file()

    health, (home, css), log = serve_and_fetch(
        environ, "/", "/static/vcs.css", vcs=(installed / "vcs",), cwd=tmp_path
    )
    assert health.status_code == 200, log
    assert home.status_code == 200, log
    assert "Jaunatnes lietu speciālistu atbalsta tīkls" in home.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.text == (PROJECT_DIR / "static" / "vcs.css").read_text(encoding="utf-8")
    assert os.listdir(tmp_path / "var")
