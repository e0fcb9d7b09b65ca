"""The app's installed packages were built for the Python that runs it, or one clear error naming both versions.

Azure/azure-dev#8538: Flex Consumption's remote build has run pip on Python 3.11 for an app whose runtime is
3.13. With requirements.txt's environment markers that build succeeds (they pick azure-functions 1.x for 3.11,
and pip fetches cp311 wheels of the compiled dependencies), and the 3.13 worker then fails to import the app
deep inside one of them ("ImportError: cannot import name 'ArgsKwargs' from 'pydantic_core._pydantic_core'",
to which the worker adds "Please check the requirements.txt file for the missing module") and indexes zero
functions. `require_packages_for_this_python()` runs first in function_app.py, before any compiled dependency
is imported, and says instead which Python built the packages, which one runs them, and how to check the
build's Python (README "Deploy to Azure").

Standard library only: it must work when nothing else installed can be imported.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable

# A wheel tag "cp311-cp311-manylinux_2_17_x86_64": built for CPython 3.11's ABI only. "cp38-abi3-..." (the
# stable ABI) and "py3-none-any" (pure Python) load on any later version, so they say nothing.
VERSION_BOUND_TAG = re.compile(r"^cp(\d)(\d+)-cp\1\2[a-z]*-")
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


class PackagesBuiltForAnotherPython(RuntimeError):
    """The app's packages were installed by another Python version than the one importing the app."""


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def builds_in(folder: Path) -> dict[str, list[str]]:
    """Python version ("3.11") -> the distributions in `folder` whose wheels were built for that version only,
    from the `Tag:` lines of their `*.dist-info/WHEEL` files."""
    found: dict[str, list[str]] = {}
    for wheel in sorted(folder.glob("*.dist-info/WHEEL")):
        try:
            lines = wheel.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            match = VERSION_BOUND_TAG.match(line.partition(":")[2].strip()) if line.startswith("Tag:") else None
            if match:
                found.setdefault(f"{match.group(1)}.{match.group(2)}", []).append(wheel.parent.name.split("-")[0])
                break
    return found


def package_folders(paths: Iterable[str]) -> list[Path]:
    """The import path's package folders (a venv's site-packages, Azure's .python_packages/lib/site-packages)."""
    return [Path(entry) for entry in paths if Path(entry).name in PACKAGE_FOLDERS and Path(entry).is_dir()]


def mismatch(paths: Iterable[str], running: str) -> str | None:
    """The error message when a package folder on `paths` holds wheels built for another Python, else None."""
    for folder in package_folders(paths):
        others = {version: names for version, names in builds_in(folder).items() if version != running}
        if others:
            built = "; ".join(f"Python {version} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
                              for version, names in sorted(others.items()))
            return (f"The app's packages in {folder} were built for {built}, but Python {running} runs the app, and "
                    f"it cannot load them. On Flex Consumption this happens when the remote build used another Python "
                    f"than the app's runtime (Azure/azure-dev#8538): the deployment log shows the build's Python "
                    f"(`az functionapp log deployment show --name <app> --resource-group <rg>`, the line "
                    f"`oryx build ... --platform-version <version>`). Redeploy with a build on Python {running} "
                    f"(README 'Deploy to Azure'), or set the app's Python to the build's.")
    return None


def require_packages_for_this_python(paths: Iterable[str] | None = None) -> None:
    """Raise `PackagesBuiltForAnotherPython` naming both versions when the packages on `paths` (default
    `sys.path`) were built for another Python than this one; return quietly otherwise."""
    problem = mismatch(sys.path if paths is None else paths, running_python())
    if problem:
        raise PackagesBuiltForAnotherPython(problem)
