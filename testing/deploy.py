"""What Azure receives and how its Python worker sees it: the deployable file set, a venv with only
requirements.txt, and the worker's own indexing of the app (testing/worker_index.py).

The venv is built once per Python version and requirements (`.venv-deploy-<version>/`, rebuilt when
requirements.txt changes), so `make test` pays for it once; CI starts clean and builds it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pathspec

from .host_process import PROJECT_ROOT

# The worker library Azure runs for Python 3.13 and later, `azure-functions-runtime`, is pinned in requirements.txt
# (with its dependency azurefunctions-extensions-base), so the venv holds the very worker Azure runs the app with
# (MS Learn "Python 3.13+ changes", runtime versioning). The worker for <= 3.12 ships inside the Functions host and
# is not published (`azure-functions-worker` on PyPI stops at 1.1.9, from 2020, without the v2 programming model).
WORKER_PACKAGE = "azure-functions-runtime"
WORKER_MIN_PYTHON = (3, 13)
FIND_PYTHON = PROJECT_ROOT / "scripts" / "find_python.sh"
WORKER_INDEX = Path(__file__).resolve().parent / "worker_index.py"


class DeployCheckError(RuntimeError):
    """The check could not be set up (no interpreter for the version, pip failed); the message says why."""


def funcignore(root: Path = PROJECT_ROOT) -> pathspec.GitIgnoreSpec:
    """.funcignore as Core Tools and azd read it: gitignore syntax, plus .git and .funcignore itself."""
    lines = (root / ".funcignore").read_text(encoding="utf-8").splitlines()
    return pathspec.GitIgnoreSpec.from_lines([*lines, ".git", ".funcignore"])


def deployable_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The files a deploy packages from `root`, relative to it (ignored folders are not entered)."""
    spec = funcignore(root)
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        relative = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{(relative / d).as_posix()}/"))
        files += [relative / n for n in sorted(names) if not spec.match_file((relative / n).as_posix())]
    return files


def stage(destination: Path, root: Path = PROJECT_ROOT) -> Path:
    """Copy the deployable files into `destination` (the app folder as Azure unpacks it)."""
    for relative in deployable_files(root):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return destination


def interpreter(version: str) -> str:
    """The path of a Python `version` ("3.13"), or DeployCheckError saying what to install."""
    found = subprocess.run(["sh", str(FIND_PYTHON), version], capture_output=True, text=True)
    if found.returncode != 0:
        raise DeployCheckError(f"Python {version} is needed for this check: {found.stderr.strip()}")
    return found.stdout.strip()


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployCheckError(f"pip install {' '.join(args)} failed on {python}:\n{done.stderr[-4000:]}")


def deploy_venv(version: str, root: Path = PROJECT_ROOT) -> Path:
    """`.venv-deploy-<version>/` with requirements.txt only (which pins the worker library); its Python's path."""
    if tuple(int(part) for part in version.split(".")) < WORKER_MIN_PYTHON:
        raise DeployCheckError(f"no published Azure Functions Python worker indexes apps on Python {version}")
    requirements = root / "requirements.txt"
    fingerprint = hashlib.sha256(requirements.read_bytes()).hexdigest()
    venv = root / f".venv-deploy-{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == fingerprint and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter(version), "-m", "venv", str(venv)], check=True)
    _pip(python, "-r", str(requirements))
    stamp.write_text(fingerprint)
    return python


def remote_build(version: str, root: Path = PROJECT_ROOT) -> Path:
    """What Flex Consumption's remote build leaves for the worker: requirements.txt installed by Python `version`
    into a package folder (`pip install --target`, as Oryx's `packagedir=.python_packages/lib/site-packages`).
    Built once per version and requirements, in `.venv-deploy-<version>-packages/`; its path."""
    requirements = root / "requirements.txt"
    fingerprint = hashlib.sha256(requirements.read_bytes()).hexdigest()
    folder = root / f".venv-deploy-{version}-packages"
    packages = folder / "site-packages"
    stamp = folder / ".installed"
    if stamp.exists() and stamp.read_text() == fingerprint and packages.is_dir():
        return packages
    shutil.rmtree(folder, ignore_errors=True)
    packages.mkdir(parents=True)
    done = subprocess.run([interpreter(version), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--target", str(packages), "-r", str(requirements)], capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployCheckError(f"pip install --target with Python {version} failed:\n{done.stderr[-4000:]}")
    stamp.write_text(fingerprint)
    return packages


def with_packages(app_dir: Path, packages: Path) -> Path:
    """Put `packages` where Azure's worker finds the app's packages: `<app>/.python_packages/lib/site-packages`."""
    target = app_dir / ".python_packages" / "lib" / "site-packages"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(packages, target_is_directory=True)
    return app_dir


def worker_index(python: Path, app_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run testing/worker_index.py on `app_dir` with `python` (isolated mode) in environment `env`."""
    done = subprocess.run([str(python), "-I", str(WORKER_INDEX), str(app_dir)], capture_output=True, text=True,
                          env=env, cwd=app_dir, timeout=300)
    if done.returncode != 0:
        raise DeployCheckError(f"the worker could not run:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def local_index(app_dir: Path, env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The local host's indexing of `app_dir` (host.functions.loader): function name -> raw bindings."""
    code = ("import json, sys; from host.functions.loader import load_app; "
            "app = load_app(sys.argv[1]); print(json.dumps({n: f.bindings for n, f in app.functions.items()}))")
    done = subprocess.run([sys.executable, "-c", code, str(app_dir)], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=300)
    if done.returncode != 0:
        raise DeployCheckError(f"the local host could not load {app_dir}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
