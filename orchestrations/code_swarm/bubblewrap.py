"""The local host's sandbox for generated tests: bubblewrap (`bwrap`, Linux; Debian package `bubblewrap`).

New PID, network, IPC and UTS namespaces (no network at all), a read-only view of the system folders and of
the Python installation, an empty environment (no keys or secrets), and nothing of the host's files
writable: the tree is handed to the runner (`sandbox_runner.py`) on stdin and written into a tmpfs of
`WORKSPACE_BYTES` (the working copy's disk quota, which bwrap itself lacks: containers/bubblewrap#375), and
`/tmp` is a tmpfs of `TMP_BYTES` (issue 22 §3.3: an unbounded `/tmp` took 1.5 GiB of host RAM). The runner
sets the per-process limits on pytest, and, the sandbox being a PID namespace of its own, kills it all when
its processes together hold more than the memory limit. A wall-clock deadline bounds the whole run.

User namespaces make RLIMIT_NPROC count the sandbox's processes only, except for root, whom the kernel
exempts from it: a host running as root (CI, containers) starts bwrap in its privileged mode (real
namespaces, no user namespace) with only CAP_SETUID and CAP_SETGID kept, and the runner drops to the
`nobody` user before anything else runs (issue 22 §3.4).
"""
from __future__ import annotations

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

from orchestrations.code_swarm import sandbox_runner
from orchestrations.code_swarm.sandbox_runner import Tail

WORKSPACE_BYTES = 256 << 20
TMP_BYTES = 256 << 20
NOBODY = 65534
MAX_RESULT_BYTES = 1 << 20
RUNNER = Path(sandbox_runner.__file__).read_text(encoding="utf-8")

_INSTALLATION_QUERY = ("import json, os, sys, sysconfig; paths = sysconfig.get_paths(); "
                       "print(json.dumps([sys.prefix, sys.base_prefix, paths['stdlib'], paths['platstdlib'], "
                       "paths['purelib'], paths['platlib'], os.path.dirname(os.path.realpath(sys.executable))]))")


def available() -> bool:
    """bwrap runs here (Linux, installed, and new enough for `--size`, 0.8+)."""
    return sys.platform.startswith("linux") and _supports_size(shutil.which("bwrap"))


@lru_cache(maxsize=4)
def _supports_size(bwrap: str | None) -> bool:
    if bwrap is None:
        return False
    done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    return "--size" in done.stdout + done.stderr


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
    """bwrap's mount arguments: the system folders and `pythons` read-only, a private /tmp of `TMP_BYTES`,
    /proc, /dev, and `workspace` (a path, which may not exist on the host) a tmpfs of `WORKSPACE_BYTES`.
    Both tmpfs are world-writable and sticky, as a /tmp is, so the runner can write after dropping to
    `nobody`.

    bwrap applies mounts in order, and a mount hides whatever an earlier one put below its path (a venv
    under /tmp behind the private /tmp, a project under the workspace's mount point), so every mount comes
    after the mounts of its ancestors (sorted by depth); the folders above a bound one are made 0755, so the
    runner can still reach the Python after dropping to `nobody` (a venv under /root). Paths are passed as single arguments: spaces and
    other characters need no quoting."""
    mounts: list[tuple[str, list[str]]] = [
        ("/tmp", ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]),
        ("/proc", ["--proc", "/proc"]), ("/dev", ["--dev", "/dev"])]
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
    made = {str(parent) for folder in bound for parent in Path(folder).parents if str(parent) != "/"
            and not any(_under(str(parent), done) for done in bound)}
    mounts += [(folder, ["--perms", "0755", "--dir", folder]) for folder in made]  # traversable after the uid drop
    mounts.append((str(workspace), ["--perms", "1777", "--size", str(WORKSPACE_BYTES), "--tmpfs", str(workspace)]))
    mounts.sort(key=lambda mount: len(Path(mount[0]).parts))  # stable: parents first, order kept otherwise
    return [argument for _, arguments in mounts for argument in arguments]


def sandbox_command(workspace: Path, python: str, pythons: tuple[str, ...], as_root: bool) -> list[str]:
    """bwrap running the runner (`python -I -c <runner>`), request on stdin. `as_root`: the host runs as
    root, so bwrap runs privileged (no user namespace) keeping only the capabilities the runner needs to
    drop to `nobody`."""
    namespaces = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                   "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if as_root else ["--unshare-all"])
    return ["bwrap", *namespaces, "--die-with-parent", "--new-session", "--clearenv",
            *sandbox_mounts(workspace, pythons), "--chdir", str(workspace),
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--",
            python, "-I", "-c", RUNNER]


def run(files: dict[str, bytes], request: dict[str, Any], timeout: float, python: str | None = None) -> dict[str, Any]:
    """Run `sandbox_runner.run` on `files` in bubblewrap; its result, or a result whose `killed` says why
    there is none (the sandbox ran past `timeout`, or died)."""
    python = python or sys.executable
    workspace = Path(tempfile.gettempdir()) / "code-swarm-checks" / os.urandom(6).hex()
    as_root = os.geteuid() == 0
    payload = {**request, "python": python, "folder": str(workspace), "uid": NOBODY if as_root else None,
               "watch_memory": True, "files": {path: data.decode("utf-8", errors="replace")
                                               for path, data in files.items()}}
    command = sandbox_command(workspace, python, python_folders(python), as_root)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    output, errors = Tail(process.stdout, MAX_RESULT_BYTES), Tail(process.stderr, 4096)
    try:
        try:
            process.stdin.write(json.dumps(payload).encode())
            process.stdin.close()
        except BrokenPipeError:  # bwrap failed before reading: its reason is on stderr
            pass
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return {"exit_code": None, "output": "", "timed_out": True, "killed": "timeout", "output_bytes": 0}
    try:
        return json.loads(output.data())
    except ValueError:
        reason = errors.data().decode(errors="replace").strip()[-500:] or f"exit status {process.returncode}"
        return {"exit_code": None, "output": "", "timed_out": False, "killed": f"the sandbox failed: {reason}",
                "output_bytes": 0}
