"""The `run_code_swarm` launcher (MCP tool and `POST /api/jobs/run_code_swarm`), in the pattern of
`launchers.py`: checked arguments in, the orchestration's input out (issue 12).

`base` names a finished code swarm whose final tree the new job starts from; it is checked before
the job is created (validate first, then act), so an unknown or unfinished job is a clear argument
error, not a failed job. Another person's job is refused in the same words (issue 20).
"""
from __future__ import annotations

from typing import Optional

import azure.durable_functions as df

from orchestrations.app_data.workspaces import workspace_store
from orchestrations.code_swarm.workflow import (DEFAULT_MAX_WORKERS, DEFAULT_QUALITY_THRESHOLD, MANIFEST,
                                                MAX_FIX_ROUNDS, MAX_WORKERS_LIMIT, META_BRANCH)

from .arguments import Arg, argument_error
from .caller import Caller
from .job_status import JOB_ID_PATTERN
from .launchers import MAX_TASK_CHARS, launcher

bp = df.Blueprint()


@launcher(bp, "run_code_swarm", "Build code with a swarm",
          Arg("goal", "string", "The codebase to build: what it does, its parts, and that it has tests.",
              required=True, max_length=MAX_TASK_CHARS),
          Arg("max_workers", "integer", "At most this many workers, each on its own branch.",
              default=DEFAULT_MAX_WORKERS, minimum=1, maximum=MAX_WORKERS_LIMIT),
          Arg("quality_threshold", "integer", f"The judge's score (0-100) the code must reach, with every check "
              f"passing; below it a fixer repairs it in place, at most {MAX_FIX_ROUNDS} rounds.",
              default=DEFAULT_QUALITY_THRESHOLD, minimum=0, maximum=100),
          Arg("base", "string", "The job_id of a finished run_code_swarm job whose final tree to start from "
              "(default: an empty workspace).", pattern=JOB_ID_PATTERN,
              allowed="the job_id of a completed run_code_swarm job"))
def run_code_swarm(goal: str, max_workers: int, quality_threshold: int, base: Optional[str], caller: Caller) -> dict:
    """Start a coding swarm that produces a real, tested codebase: a planner writes the contract and
    tasks that own files, workers write code and tests on their own branches, git merges them (an
    integrator resolves real conflicts, checked in code), parse + ruff + the tests in a sandbox, a
    judge and a fixer. Returns at once with the job's status object; follow it with wait_for_job. The
    result's files: resources workspace://{job_id}/files, or the zip / git bundle download links."""
    if base and (not caller.may_see(base) or workspace_store().read(base, META_BRANCH, MANIFEST) is None):
        raise argument_error("base", f"names job {base}, which has no finished code swarm workspace",
                             "the job_id of a completed run_code_swarm job")
    return {"goal": goal, "max_workers": max_workers, "quality_threshold": quality_threshold, "base": base}
