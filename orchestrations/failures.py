"""The reason a Durable step failed, as one sentence: for job errors (`tools/job_status.py`) and for the
workflows that report a failed step without failing the job (a gap, a fixer that failed, issue 22 §1)."""
from __future__ import annotations

import re
from typing import Any

_FUNCTION_FAILED = re.compile(r"^(Orchestrator|Activity) function '([^']*)' failed:\s*")
# "Exception:", module.Class: and SomethingFailed: prefixes (the Python worker adds the first)
_NOISE = re.compile(r"^(?:Exception:\s*|(?:[a-z_]\w*\.)+[A-Z]\w*:\s*|[A-Z]\w*Failed:\s*)")
MAX_REASON_CHARS = 600


def failure_reason(output: Any) -> tuple[str, int]:
    """The innermost reason of a Durable failure text, and how many functions deep it happened.

    The Python SDK joins a failed task's reason and details with " \\n " and each host prefixes
    "Orchestrator function 'x' failed: " / "Activity function 'y' failed: " per level, so the
    first line holds the whole chain once; the rest repeats it with class paths and stacks."""
    text = output if isinstance(output, str) else "" if output is None else str(output)
    text = re.sub(r"^\s*Result:\s*Failure\s*", "", text)  # the Python worker's failure report starts so
    first = re.split(r"\s*\n", text.strip(), maxsplit=1)[0].strip()
    depth = 0
    while True:
        match = _FUNCTION_FAILED.match(first) or _NOISE.match(first)
        if not match or match.end() == 0:
            break
        depth += match.re is _FUNCTION_FAILED
        first = first[match.end():]
    reason = first.strip().rstrip(".") or "no reason was given"
    return (reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS - 1] + "…"), depth


def step_failure(error: BaseException, limit: int = 500) -> str:
    """Why a step (a sub-orchestration or an activity) failed, from the exception its parent caught: the
    innermost reason only, at most `limit` characters."""
    reason = failure_reason(str(error))[0]
    return reason if len(reason) <= limit else reason[:limit - 1] + "…"
