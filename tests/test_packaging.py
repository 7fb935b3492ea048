"""The package installs with plain ``pip install .`` into a clean virtualenv, C extension included."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY


def _working_tree_files() -> list[str]:
    if not (REPOSITORY / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to know which files belong to the source tree")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    ).stdout
    return [name for name in listing.decode().split("\0") if name and (REPOSITORY / name).is_file()]


@pytest.mark.slow
def test_pip_install_in_a_clean_virtualenv_builds_and_installs_everything(tmp_path):
    source = tmp_path / "source"
    for name in _working_tree_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY / name, target)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)],
        check=True,
        timeout=900,
    )
    probe = (
        "import pathlib, sipsimple, sipsimple.core.sip._scanner as scanner, sipsimple.notification\n"
        "root = pathlib.Path(sipsimple.__file__).parent\n"
        "print(scanner.__file__)\n"
        "print((root / 'py.typed').exists(), (root / 'core/sip/_scanner.pyi').exists())\n"
        "print(scanner.scan(b'OPTIONS sip:a@b SIP/2.0\\r\\nContent-Length: 0\\r\\n\\r\\n').method)\n"
    )
    result = subprocess.run([python, "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True)
    extension, markers, method = result.stdout.splitlines()
    assert Path(extension).is_relative_to(environment) and extension.endswith(".so")
    assert markers == "True True"
    assert method == "OPTIONS"


def test_selfcheck_main_job_runs_and_stops_cleanly(tmp_path):
    """The README's main job (python -m sipsimple.selfcheck) exits 0 and leaves its configuration."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "sipsimple.selfcheck", "--storage", str(tmp_path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-check passed" in result.stdout
    assert "threads left: []" in result.stdout
    assert "alice@example.test" in (tmp_path / "config").read_text()
