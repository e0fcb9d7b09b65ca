"""Choosing the Python version (issue 8 item 13): the Makefile finds a supported interpreter, and a missing one
fails with what to install instead of building a broken venv."""
from __future__ import annotations

import subprocess

from testing.host_process import PROJECT_ROOT

FIND_PYTHON = ["sh", str(PROJECT_ROOT / "scripts" / "find_python.sh")]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def version_of(python: str) -> str:
    return run(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()


def test_default_interpreter_is_a_supported_version():
    found = run(*FIND_PYTHON)
    assert found.returncode == 0, found.stderr
    assert version_of(found.stdout.strip()) in ("3.10", "3.11", "3.12", "3.13")


def test_a_version_is_found_by_number_or_name():
    current = version_of("python3")
    for wanted in (current, f"python{current}"):
        found = run(*FIND_PYTHON, wanted)
        assert found.returncode == 0, found.stderr
        assert version_of(found.stdout.strip()) == current


def test_a_missing_version_fails_clearly():
    found = run(*FIND_PYTHON, "3.99")
    assert found.returncode == 1 and found.stdout == ""
    assert "pyenv install 3.99" in found.stderr
    made = run("make", "smoke", "PYTHON=3.99")
    assert made.returncode != 0
    assert "no working '3.99'" in made.stderr and "no Python interpreter for PYTHON='3.99'" in made.stderr
    assert not (PROJECT_ROOT / ".venv-").exists()
