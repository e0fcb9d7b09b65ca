"""The program that runs a tree's tests inside a sandbox: the same code in bubblewrap on the local host and
in an Azure Container Apps session on Azure (issue 22 §2, §3). Standard library only, and self-contained:
the sandboxes run this file's text (`python -c`), never the app's packages.

`run(request) -> result`. The request (JSON): `files` `{path: text}`, `python` (the interpreter that runs
pytest), `pythonpath` (folders or a zip of packages to put first on its path, e.g. pytest shipped to a
session that lacks it), `timeout` (s), `limits` `{cpu_seconds, memory_bytes, file_bytes, processes}`,
`max_output_chars`, `uid` (drop to this user first, when the sandbox starts as root), and `watch_memory`
(the sandbox is a PID namespace of its own: kill everything in it when the processes together hold more
than `limits.memory_bytes`). The result: `{exit_code, output, timed_out, killed, output_bytes}` where
`output` is the last `max_output_chars` of what pytest printed, read through a bounded buffer: a test that
prints 400 MiB costs the sandbox nothing but time (issue 22 §3.2).

Limits are set on pytest's process by a small exec wrapper (no `preexec_fn`, which is unsafe where threads
run, as in a Jupyter kernel), so they hold for everything it starts: CPU time, address space, file size, no
core files, and at most `processes` processes (RLIMIT_NPROC counts per user namespace, so it bounds the
sandbox and not the host user's other processes; root is exempt from it, hence `uid`) (issue 22 §3.4).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

CHUNK = 1 << 16

_LIMITED_EXEC = """import os, resource, sys
limits = [int(value) for value in sys.argv[1:6]]
for kind, value in zip((resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE,
                        resource.RLIMIT_NPROC), limits):
    resource.setrlimit(kind, (value, value))
os.execv(sys.argv[6], sys.argv[6:])
"""


def _write_tree(files: dict[str, str], folder: Path) -> None:
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _python_path(entries: list[str]) -> str:
    """Folders as they are; a zip of packages is unpacked into a temporary folder first."""
    folders = []
    for entry in entries:
        if entry.endswith(".zip"):
            target = tempfile.mkdtemp(prefix="pydeps-")
            with zipfile.ZipFile(entry) as archive:
                archive.extractall(target)
            entry = target
        folders.append(entry)
    return os.pathsep.join(folders)


class Tail:
    """Keeps the last `limit` bytes of a stream, reading it to its end on a thread (used by the host too,
    for every child whose output it reads: read at most what is kept)."""

    def __init__(self, stream: Any, limit: int):
        self.buffer = bytearray()
        self.total = 0
        self._stream, self._limit = stream, limit
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := self._stream.read(CHUNK):
            self.total += len(chunk)
            self.buffer += chunk
            if len(self.buffer) > 2 * self._limit:
                del self.buffer[:-self._limit]

    def data(self) -> bytes:
        self._thread.join(timeout=5)
        return bytes(self.buffer[-self._limit:])

    def text(self, chars: int) -> str:
        """The last `chars` characters, after "[...]" when more was read."""
        text = self.data().decode("utf-8", errors="replace")
        return text if len(text) <= chars and self.total <= self._limit else "[...]\n" + text[-chars:]


def _sandbox_memory() -> int:
    """Memory of every process in this PID namespace but its init (1) and this one: their proportional set
    sizes (`Pss` of /proc/<pid>/smaps_rollup), so pages forked children share count once."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, os.getpid()):
            try:
                for line in Path(f"/proc/{entry}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            except (OSError, IndexError, ValueError):
                pass
    return total


def _kill_all(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


def run(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("uid") is not None:  # root is exempt from RLIMIT_NPROC: run as another user
        os.setgroups([])
        os.setgid(request["uid"])
        os.setuid(request["uid"])
    folder = Path(request.get("folder") or tempfile.mkdtemp(prefix="workspace-"))
    _write_tree(request["files"], folder)
    limits = request["limits"]
    python = request.get("python") or sys.executable
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONHASHSEED": "0", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if request.get("pythonpath"):
        env["PYTHONPATH"] = _python_path(request["pythonpath"])
    command = [python, "-I", "-c", _LIMITED_EXEC,
               str(limits["cpu_seconds"]), str(limits["memory_bytes"]), str(limits["file_bytes"]), "0",
               str(limits["processes"]), python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "."]
    process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    max_chars = request["max_output_chars"]
    tail = Tail(process.stdout, max_chars * 4)
    deadline, killed = time.monotonic() + request["timeout"], None
    while process.poll() is None:
        if time.monotonic() > deadline:
            killed = "timeout"
        elif request.get("watch_memory") and _sandbox_memory() > limits["memory_bytes"]:
            killed = "memory"
        if killed:
            _kill_all(process)
            if request.get("watch_memory"):
                os.kill(-1, signal.SIGKILL)  # everything else in this PID namespace (not this process)
            process.wait()
            break
        time.sleep(0.1)
    output = tail.text(max_chars).replace(str(folder) + os.sep, "").replace(str(folder), ".")
    return {"exit_code": process.returncode, "output": output.strip(), "timed_out": killed == "timeout",
            "killed": killed, "output_bytes": tail.total}


def main() -> None:
    """`python -c SOURCE` (request on stdin, result on stdout), or `python -c SOURCE request.json result.json`."""
    if len(sys.argv) > 2:
        result = run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
        Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")
    else:
        result = run(json.loads(sys.stdin.read()))
        sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
