"""Quality gates for a workspace tree: it parses, `ruff check`, and the tests its workers wrote, run with
pytest in a sandbox (issue 12, step 5; issue 22 §2, §3).

Generated code never runs in the host's process or environment. Its tests run in one of two sandboxes,
chosen by configuration (`sandbox_kind`), both running the same program (`sandbox_runner.py`) with the same
limits: CPU time, memory (per process, and all processes together where the sandbox can count them), file
size, processes, a wall-clock timeout, and only the last `MAX_OUTPUT_CHARS` of the output kept (and read):
- `bubblewrap` on the local host (Linux; `bubblewrap.py`);
- `aca` on Azure: an Azure Container Apps dynamic session (Hyper-V isolated, made for LLM-generated code;
  `aca_sessions.py`), reached with the app's managed identity.
`CHECK_SANDBOX` picks one (`bubblewrap`, `aca` or `none`); unset, it is `aca` when
`ACA_SESSION_POOL_ENDPOINT` is set, else `bubblewrap` where bwrap runs. With no sandbox, `run_checks` runs
only what executes no generated code (parse, ruff) and says so in `tests.reason`.
"""
from __future__ import annotations

import ast
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ruff import find_ruff_bin

from orchestrations.code_swarm import bubblewrap
from orchestrations.code_swarm.sandbox_runner import Tail

CHECK_TIMEOUT_SECONDS = int(os.environ.get("CHECK_TIMEOUT_SECONDS", "120"))
CPU_SECONDS = 60
MEMORY_BYTES = 1 << 30
FILE_BYTES = 16 << 20
MAX_PROCESSES = 64
MAX_OUTPUT_CHARS = 8000
SANDBOX_ENV = "CHECK_SANDBOX"
ACA_ENDPOINT_ENV = "ACA_SESSION_POOL_ENDPOINT"  # the pool's management endpoint (aca_sessions.py)
RUFF_RULES = "E4,E7,E9,F"  # ruff's long-standing defaults: pyflakes and pycodestyle's error classes
SANDBOX_MARGIN_SECONDS = 30  # for the sandbox to start and answer, beyond the tests' own timeout


def parse_errors(files: dict[str, bytes]) -> list[str]:
    """`path:line: message` for every Python file that does not parse."""
    errors = []
    for path, data in sorted(files.items()):
        if path.endswith(".py"):
            try:
                ast.parse(data.decode("utf-8"), filename=path)
            except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError) as error:
                line = getattr(error, "lineno", None)
                errors.append(f"{path}:{line or 1}: {getattr(error, 'msg', None) or error}")
    return errors


def run_ruff(folder: Path) -> dict[str, Any]:
    """`ruff check` with `RUFF_RULES`, ignoring any configuration the workspace carries; only the last
    `MAX_OUTPUT_CHARS` of its report are read.

    The ruff binary is found the way the `ruff` package's own `python -m ruff` finds it
    (`ruff.find_ruff_bin`, next to the package this process imported). A child `python -m ruff` would
    not do on Azure: there the worker finds the app's packages through PYTHONPATH
    (`/home/site/wwwroot/.python_packages/lib/site-packages`, set by the worker's `worker.py`), and the
    child gets no environment but PATH and HOME (no secrets)."""
    try:
        ruff = find_ruff_bin()
    except FileNotFoundError as error:
        return {"ok": False, "output": f"ruff could not be run: {error}"}
    process = subprocess.Popen([ruff, "check", "--isolated", "--no-cache", "--select", RUFF_RULES, "--output-format",
                                "concise", "."], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", ""), "HOME": str(folder)})
    report = Tail(process.stdout, MAX_OUTPUT_CHARS * 4)
    try:
        process.wait(timeout=CHECK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return {"ok": False, "output": f"ruff ran longer than {CHECK_TIMEOUT_SECONDS} s and was stopped"}
    return {"ok": process.returncode == 0, "output": report.text(MAX_OUTPUT_CHARS).strip()}


def sandbox_kind() -> str | None:
    """"bubblewrap" or "aca" where tests can run confined (see the module's docstring), else None."""
    choice = os.environ.get(SANDBOX_ENV, "").strip().lower()
    if choice == "none":
        return None
    if choice == "aca" or (not choice and os.environ.get(ACA_ENDPOINT_ENV, "").strip()):
        return "aca"
    return "bubblewrap" if choice in ("", "bubblewrap") and bubblewrap.available() else None


def _no_sandbox_reason() -> str:
    return ("no sandbox on this host (bubblewrap 0.8+ is Linux-only and not installed here, no Azure Container "
            f"Apps session pool is configured, or {SANDBOX_ENV}=none): generated tests were not run; parse and ruff ran")


def sandbox_request() -> dict[str, Any]:
    """What every sandbox gets besides the files: the limits (issue 22 §3)."""
    return {"timeout": CHECK_TIMEOUT_SECONDS, "max_output_chars": MAX_OUTPUT_CHARS,
            "limits": {"cpu_seconds": CPU_SECONDS, "memory_bytes": MEMORY_BYTES, "file_bytes": FILE_BYTES,
                       "processes": MAX_PROCESSES}}


def _why_stopped(result: dict[str, Any]) -> str | None:
    killed, code = result.get("killed"), result.get("exit_code")
    if killed == "timeout" or result.get("timed_out"):
        return f"the tests ran longer than {CHECK_TIMEOUT_SECONDS} s and were stopped"
    if killed == "memory":
        return f"the tests' processes together held more than {MEMORY_BYTES >> 20} MiB and were stopped"
    if killed:
        return str(killed)
    if code == 5:
        return "pytest collected no tests"
    if code is not None and (code < 0 or code >= 128):
        return "the tests were killed by a limit (CPU time, memory, file size or processes)"
    return None


def run_tests(files: dict[str, bytes], python: str | None = None) -> dict[str, Any]:
    """pytest on the tree in the configured sandbox: `{ran, ok, output, reason?, sandbox}`. `python`: the
    interpreter that runs pytest in bubblewrap (default: this one, whose environment has pytest)."""
    kind = sandbox_kind()
    if kind is None:
        return {"ran": False, "ok": None, "sandbox": None, "output": "", "reason": _no_sandbox_reason()}
    names = [Path(path).name for path in files if path.endswith(".py")]
    if not any(name.startswith("test_") or name.endswith("_test.py") for name in names):
        return {"ran": False, "ok": False, "sandbox": kind, "output": "", "reason": "the tree has no tests"}
    timeout = CHECK_TIMEOUT_SECONDS + SANDBOX_MARGIN_SECONDS
    if kind == "aca":
        from orchestrations.code_swarm import aca_sessions  # httpx and azure-identity: only where a pool is used

        result = aca_sessions.run(files, sandbox_request(), timeout)
    else:
        result = bubblewrap.run(files, sandbox_request(), timeout, python)
    tests = {"ran": True, "ok": result.get("exit_code") == 0, "sandbox": kind, "output": result.get("output", "")}
    reason = _why_stopped(result)
    return {**tests, "reason": reason} if reason else tests


def run_checks(files: dict[str, bytes]) -> dict[str, Any]:
    """Every gate on one tree: `{ok, parse: {ok, errors}, ruff: {ok, output}, tests: {...}}`.

    `ok` is true when the tree parses, ruff finds nothing and the tests passed, or could not run
    for want of a sandbox (then `tests.reason` says so)."""
    errors = parse_errors(files)
    with tempfile.TemporaryDirectory(prefix="code-swarm-ruff-") as temporary:
        folder = Path(temporary)
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        ruff = run_ruff(folder)
    tests = run_tests(files) if not errors else {"ran": False, "ok": False, "sandbox": sandbox_kind(),
                                                   "output": "", "reason": "the tree does not parse"}
    tests_ok = tests["ok"] if tests["ran"] or tests["sandbox"] else True
    return {"ok": not errors and ruff["ok"] and bool(tests_ok), "parse": {"ok": not errors, "errors": errors},
            "ruff": ruff, "tests": tests}
