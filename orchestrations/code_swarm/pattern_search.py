"""`search_files`' regular expression, run in a child process with a deadline (issue 22 §3.1).

A model's pattern is untrusted input: `(a+)+$` over a 28-character line backtracks for tens of seconds
in Python's `re`, which holds the GIL the whole time, so in the host's process it froze every thread,
the host's HTTP endpoints and its engine included (strands-agents/harness-sdk#4191 is the same report;
on Azure it would freeze the app's Python worker, MCP tools included). Compiling can be as bad in other
engines (`regex` takes seconds over `(a{1000}){1000}`). So the pattern is compiled and run by a child
Python (`-I -S`: no site, no environment but what is passed, stdlib `re` only) that limits its own
memory and CPU time, and is killed at `SEARCH_SECONDS`; the host process only waits on a pipe, with the
GIL released. The hits found before the deadline are kept. The child's output is bounded by
construction (`max_hits` lines of at most `LINE_CHARS` characters) and read up to `MAX_OUTPUT_BYTES`.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

SEARCH_SECONDS = 5
MEMORY_BYTES = 512 << 20
LINE_CHARS = 200
MAX_OUTPUT_BYTES = 1 << 20

_CHILD = r"""
import json, re, sys
memory, cpu, width = (int(value) for value in sys.argv[1:4])
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
except (ImportError, ValueError, OSError):
    pass
request = json.load(sys.stdin)
try:
    expression = re.compile(request["pattern"])
except (re.error, RecursionError, OverflowError, MemoryError) as error:
    print(json.dumps({"error": str(error)}), flush=True)
    sys.exit(0)
found = 0
for path, text in request["files"]:
    for number, line in enumerate(text.splitlines(), 1):
        if expression.search(line):
            print(json.dumps([path, number, line[:width]]), flush=True)
            found += 1
            if found >= request["max_hits"]:
                sys.exit(0)
"""


@dataclass
class SearchResult:
    """`hits`: `(path, line number, line text cut at LINE_CHARS)` in file order; `error`: the pattern does
    not compile (re's message); `stopped`: why the search ended early (deadline, memory), or None."""

    hits: list[tuple[str, int, str]] = field(default_factory=list)
    error: str | None = None
    stopped: str | None = None


def search(pattern: str, files: dict[str, bytes], max_hits: int) -> SearchResult:
    """Lines of `files` (decoded as UTF-8, bad bytes replaced) that match `pattern` (Python `re` syntax)."""
    request = json.dumps({"pattern": pattern, "max_hits": max_hits,
                          "files": [[path, data.decode("utf-8", errors="replace")] for path, data in files.items()]})
    limits = [str(MEMORY_BYTES), str(SEARCH_SECONDS + 1), str(LINE_CHARS)]
    process = subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHILD, *limits], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={})
    stopped = None
    try:
        output, _ = process.communicate(request.encode(), timeout=SEARCH_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        stopped = f"the search was stopped after {SEARCH_SECONDS} s"
    if process.returncode not in (0, None) and stopped is None:
        stopped = "the search was stopped by its memory or CPU limit"
    result = SearchResult(stopped=stopped)
    for line in output[:MAX_OUTPUT_BYTES].splitlines():
        try:
            item = json.loads(line)
        except ValueError:  # a line cut by the kill
            continue
        if isinstance(item, dict):
            result.error = str(item.get("error"))
        else:
            result.hits.append((item[0], item[1], item[2]))
    return result
