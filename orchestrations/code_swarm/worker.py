"""`code_worker`: one worker of the code swarm, on its own branch, as a sub-orchestration that never fails
its parent (issue 12, steps 2 and 3).

It forks its branch `worker-<task id>` from the job's `base` branch, then runs its agent
(`code-worker-<task id>`) with the file tools bound to that branch, and checks what the agent did, not
what it says: a worker that reports success with no file changed on its branch, or whose Python files
do not parse, is nudged once with the reason; after `MAX_ATTEMPTS` it is a gap. The fork and every
tool call are activities, so a crash repeats none that finished.
"""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrations.agents.step import run_step, step_input
from orchestrations.swarm.plan import WorkerReport
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS, reported_failure, worker_prompt
from orchestrations.wording import shorten

bp = df.Blueprint()

CODE_WORKER = "code_worker"
MAX_ATTEMPTS = 2
BASE_BRANCH = "base"

INSTRUCTIONS = (
    "You are a Python developer on a team; each member works on their own branch of a shared workspace and "
    "cannot talk to the others. Implement exactly your task, following the shared contract to the letter "
    "(module paths, names, signatures), in the files you own. Write real, working code and pytest tests for "
    "it, with the file tools: list_files, read_file, write_file, delete_file, search_files, run_checks. "
    "Then reply with status 'done' and a one-paragraph summary in result, or status 'failed' and what "
    "stopped you in problem."
)


def branch_of(task_id: str) -> str:
    return f"worker-{task_id}"


def attempt_problem(step: dict[str, Any], changes: dict[str, Any]) -> str | None:
    """Why an attempt is not accepted (judged by the branch, not by the report), or None."""
    failure = reported_failure(step)
    if failure:
        return failure
    if not (changes["added"] or changes["modified"] or changes["deleted"]):
        return ("it reported success but changed no file on its branch; write your files with write_file "
                "(a reply is not a change)")
    if changes["parse_errors"]:
        return f"its Python files do not parse: {'; '.join(changes['parse_errors'])}"
    return None


def contribution(task: dict[str, Any], report: str | None, changes: dict[str, Any] | None, attempts: int,
                 problems: list[str]) -> dict[str, Any]:
    part = {"task_id": task["id"], "title": task["title"], "branch": branch_of(task["id"]),
            "status": "done" if report is not None else "gap", "summary": report, "attempts": attempts,
            "changes": {key: (changes or {}).get(key, []) for key in ("added", "modified", "deleted")},
            "problems": problems}
    return part if report is not None else {**part, "reason": problems[-1]}


@bp.orchestration_trigger(context_name="context", orchestration=CODE_WORKER)
def code_worker(context: df.DurableOrchestrationContext):
    assignment = context.get_input()
    task, job_id = assignment["task"], assignment["job_id"]
    branch = branch_of(task["id"])
    yield context.call_activity("workspace_fork", {"job_id": job_id, "target": branch, "source": BASE_BRANCH})
    problems: list[str] = []
    changes = None
    requirement = f"Files you own: {', '.join(task['files'])}" if task["files"] else None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        request = step_input(f"code-worker-{task['id']}", INSTRUCTIONS,
                             worker_prompt(assignment, problems[-1] if problems else None, requirement),
                             output_type=WorkerReport, workspace={"job_id": job_id, "branch": branch})
        try:
            step = yield from run_step(context, request)
        except Exception as error:  # a failed agent step: retried, then reported as a gap
            problems.append(f"the agent failed ({shorten(str(error), MAX_PROBLEM_CHARS)})")
            continue
        changes = yield context.call_activity("workspace_changes", {"job_id": job_id, "branch": branch,
                                                                    "base": BASE_BRANCH})
        problem = attempt_problem(step, changes)
        if problem is None:
            return contribution(task, str(step["output"].get("result") or ""), changes, attempt, problems)
        problems.append(problem)
    return contribution(task, None, changes, MAX_ATTEMPTS, problems)
