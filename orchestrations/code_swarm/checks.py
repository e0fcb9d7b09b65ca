"""Quality gates for a workspace tree: it parses, `ruff check`, and the tests its workers wrote, run with
pytest in a sandbox (issue 12, step 5 and "Running generated code safely").

Generated code never runs in the host's process or environment. Tests run only under bubblewrap
(`bwrap`, Linux): new user, network, PID, IPC and UTS namespaces (no network at all), a read-only
view of the system folders and of the Python installation, only the workspace copy writable, an
empty environment (no secrets), CPU-time, memory, file-size and process limits, and a wall-clock
timeout; the output kept is capped. Limits are set with `prlimit` (util-linux). Where no sandbox exists (Azure Functions, macOS, a Linux
without bwrap), `run_checks` runs only what executes no generated code (parse, ruff) and says so in
`tests.reason`. Azure Container Apps dynamic sessions are the documented next step for tests on
Azure (README).

`CHECK_SANDBOX=none` turns the sandbox off on purpose (tests then do not run).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruff import find_ruff_bin

CHECK_TIMEOUT_SECONDS = int(os.environ.get("CHECK_TIMEOUT_SECONDS", "120"))
CPU_SECONDS = 60
MEMORY_BYTES = 1 << 30
FILE_BYTES = 16 << 20
MAX_PROCESSES = 64
MAX_OUTPUT_CHARS = 8000
SANDBOX_ENV = "CHECK_SANDBOX"
RUFF_RULES = "E4,E7,E9,F"  # ruff's long-standing defaults: pyflakes and pycodestyle's error classes


def parse_errors(files: dict[str, bytes]) -> list[str]:
    """`path:line: message` for every Python file that does not parse."""
    errors = []
    for path, data in sorted(files.items()):
        if path.endswith(".py"):
            try:
                ast.parse(data.decode("utf-8"), filename=path)
            except (SyntaxError, UnicodeDecodeError, ValueError) as error:
                line = getattr(error, "lineno", None)
                errors.append(f"{path}:{line or 1}: {getattr(error, 'msg', None) or error}")
    return errors


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else "[...]\n" + text[-MAX_OUTPUT_CHARS:]


def run_ruff(folder: Path) -> dict[str, Any]:
    """`ruff check` with `RUFF_RULES`, ignoring any configuration the workspace carries.

    The ruff binary is found the way the `ruff` package's own `python -m ruff` finds it
    (`ruff.find_ruff_bin`, next to the package this process imported). A child `python -m ruff` would
    not do on Azure: there the worker finds the app's packages through PYTHONPATH
    (`/home/site/wwwroot/.python_packages/lib/site-packages`, set by the worker's `worker.py`), and the
    child gets no environment but PATH and HOME (no secrets)."""
    try:
        ruff = find_ruff_bin()
    except FileNotFoundError as error:
        return {"ok": False, "output": f"ruff could not be run: {error}"}
    done = subprocess.run([ruff, "check", "--isolated", "--no-cache", "--select", RUFF_RULES,
                           "--output-format", "concise", "."], cwd=folder, capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT_SECONDS, env={"PATH": os.environ.get("PATH", ""), "HOME": str(folder)})
    return {"ok": done.returncode == 0, "output": _clip((done.stdout + done.stderr).strip())}


def sandbox_kind() -> str | None:
    """"bubblewrap" where tests can run confined, else None."""
    if os.environ.get(SANDBOX_ENV, "").lower() == "none" or not sys.platform.startswith("linux"):
        return None
    return "bubblewrap" if shutil.which("bwrap") and shutil.which("prlimit") else None


_INSTALLATION_QUERY = ("import json, os, sys, sysconfig; paths = sysconfig.get_paths(); "
                       "print(json.dumps([sys.prefix, sys.base_prefix, paths['stdlib'], paths['platstdlib'], "
                       "paths['purelib'], paths['platlib'], os.path.dirname(os.path.realpath(sys.executable))]))")


@lru_cache(maxsize=8)
def python_folders(executable: str) -> tuple[str, ...]:
    """The folders the interpreter `executable` runs from, as it reports them run isolated (`-I`, as in
    the sandbox: no PYTHONPATH, no user site): its prefix (a venv), base prefix, standard library,
    site-packages and the folder of the real binary. Not the project folder: generated code must not
    read the app's files (local.settings.json holds keys)."""
    done = subprocess.run([executable, "-I", "-c", _INSTALLATION_QUERY], capture_output=True, text=True,
                          timeout=60, check=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return tuple(dict.fromkeys(folder for folder in json.loads(done.stdout) if folder))


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def sandbox_mounts(workspace: Path, pythons: tuple[str, ...]) -> list[str]:
    """bwrap's mount arguments: the system folders and `pythons` read-only, a private /tmp, /proc,
    /dev, and `workspace` writable at its own path.

    bwrap applies mounts in order, and a mount hides whatever an earlier one put below its path
    (a venv under /tmp behind the private /tmp, a project under the workspace's mount point), so
    every mount comes after the mounts of its ancestors (sorted by depth), and the workspace - a
    fresh temporary folder, ancestor of nothing else - is mounted where it is (under TMPDIR, which
    may be anywhere, even inside a Python folder). Paths are passed as single arguments: spaces and
    other characters need no quoting."""
    mounts: list[tuple[str, list[str]]] = [("/tmp", ["--tmpfs", "/tmp"]), ("/proc", ["--proc", "/proc"]),
                                           ("/dev", ["--dev", "/dev"])]
    bound: list[str] = []
    for folder in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        path = Path(folder)
        if path.is_symlink():
            mounts.append((folder, ["--symlink", os.readlink(path), folder]))
            bound.append(folder)
        elif path.is_dir():
            mounts.append((folder, ["--ro-bind", folder, folder]))
            bound.append(folder)
    for folder in sorted(pythons, key=lambda name: len(Path(name).parts)):
        if Path(folder).is_dir() and not any(_under(folder, done) for done in bound):
            mounts.append((folder, ["--ro-bind", folder, folder]))
            bound.append(folder)
    mounts.append((str(workspace), ["--bind", str(workspace), str(workspace)]))
    mounts.sort(key=lambda mount: len(Path(mount[0]).parts))  # stable: parents first, order kept otherwise
    return [argument for _, arguments in mounts for argument in arguments]


def sandbox_command(workspace: Path, command: list[str], pythons: tuple[str, ...]) -> list[str]:
    """bwrap under `prlimit` (util-linux): the limits are set before bwrap starts, and everything in the
    sandbox inherits them (no `preexec_fn`: it is unsafe in the host's multi-threaded process).
    `pythons`: the folders of the interpreter that `command` runs (`python_folders`)."""
    return ["prlimit", f"--cpu={CPU_SECONDS}", f"--as={MEMORY_BYTES}", f"--fsize={FILE_BYTES}", "--core=0", "--",
            "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            *sandbox_mounts(workspace, pythons), "--chdir", str(workspace),
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1", "--", *command]


def run_tests(folder: Path, python: str | None = None) -> dict[str, Any]:
    """pytest on the tree in the sandbox: `{ran, ok, output, reason?, sandbox}`. `python`: the
    interpreter that runs pytest (default: this one, whose environment has pytest)."""
    kind = sandbox_kind()
    if kind is None:
        return {"ran": False, "ok": None, "sandbox": None, "output": "",
                "reason": "no sandbox on this host (bubblewrap is Linux-only and not installed here, or "
                          "CHECK_SANDBOX=none): generated tests were not run; parse and ruff ran"}
    if not any(path.name.startswith("test_") or path.name.endswith("_test.py") for path in folder.rglob("*.py")):
        return {"ran": False, "ok": False, "sandbox": kind, "output": "", "reason": "the tree has no tests"}
    python = python or sys.executable
    command = sandbox_command(folder, [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "."],
                              python_folders(python))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    try:
        output, _ = process.communicate(timeout=CHECK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return {"ran": True, "ok": False, "sandbox": kind, "output": _clip(output.decode(errors="replace")),
                "reason": f"the tests ran longer than {CHECK_TIMEOUT_SECONDS} s and were stopped"}
    text = output.decode(errors="replace")
    result = {"ran": True, "ok": process.returncode == 0, "sandbox": kind, "output": _clip(text.strip())}
    if process.returncode == 5:
        result["reason"] = "pytest collected no tests"
    elif process.returncode < 0 or process.returncode >= 128:
        result["reason"] = "the tests were killed by a limit (CPU time or memory)"
    return result


def run_checks(files: dict[str, bytes]) -> dict[str, Any]:
    """Every gate on one tree: `{ok, parse: {ok, errors}, ruff: {ok, output}, tests: {...}}`.

    `ok` is true when the tree parses, ruff finds nothing and the tests passed, or could not run
    for want of a sandbox (then `tests.reason` says so)."""
    errors = parse_errors(files)
    with tempfile.TemporaryDirectory(prefix="code-swarm-checks-") as temporary:
        folder = Path(temporary)
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        ruff = run_ruff(folder)
        tests = run_tests(folder) if not errors else {"ran": False, "ok": False, "sandbox": sandbox_kind(),
                                                        "output": "", "reason": "the tree does not parse"}
    tests_ok = tests["ok"] if tests["ran"] or tests["sandbox"] else True
    return {"ok": not errors and ruff["ok"] and bool(tests_ok), "parse": {"ok": not errors, "errors": errors},
            "ruff": ruff, "tests": tests}
