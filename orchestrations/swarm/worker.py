"""`swarm_worker`: one specialist of a swarm, as a sub-orchestration that never fails its parent.

It runs its task as an `agent_step` (the shared contract in the prompt, the built-in tools at hand)
and checks what the agent did, not what it says: a worker that reports success without a single
tool call when its task named tools to use is asked again with a nudge; a worker that reports failure
or whose agent fails (a model error, a broken answer) is asked again with the reason. After
`MAX_ATTEMPTS` the task is returned as a gap, so one bad worker never fails the swarm. Each retry
prompt differs from the first, so a deterministic model (or a remembered answer) can change its mind.
"""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.step import run_step, step_input
from orchestrations.swarm.plan import WorkerReport
from orchestrations.wording import shorten

bp = df.Blueprint()

SWARM_WORKER = "swarm_worker"
MAX_ATTEMPTS = 2
MAX_PROBLEM_CHARS = 500
SUCCESS_WORDS = {"done", "success", "succeeded", "complete", "completed", "ok"}

INSTRUCTIONS = (
    "You are a specialist on a team. Do exactly your task, following the shared contract to the letter "
    "(names, interfaces and data shapes), so your part fits the others. Use your tools to do the work "
    "rather than answering from memory. Reply with status 'done' and your contribution in result, or "
    "status 'failed' and what stopped you in problem."
)


def worker_prompt(assignment: dict[str, Any], problem: str | None, requirement: str | None) -> str:
    """The task prompt of a swarm's worker (text or code): goal, contract, task, then what the task
    requires (`requirement`, one line) and why the previous attempt was not accepted (`problem`)."""
    task = assignment["task"]
    lines = [f"Team goal: {assignment['goal']}", "", "Shared contract (every worker follows it):",
             assignment["contract"], "", f"Your task ({task['id']}): {task['title']}", task["instructions"]]
    if requirement:
        lines += ["", requirement]
    if problem:
        lines += ["", f"Your previous attempt was not accepted: {problem}. Try again."]
    return "\n".join(lines)


def reported_failure(step: dict[str, Any]) -> str | None:
    """The problem when a worker's report (a WorkerReport) does not say it succeeded, or None."""
    report = step["output"] if isinstance(step.get("output"), dict) else {}
    if str(report.get("status", "")).strip().lower() not in SUCCESS_WORDS:
        return f"it reported failure ({report.get('problem') or 'no reason given'})"
    return None


def attempt_problem(task: dict[str, Any], step: dict[str, Any]) -> str | None:
    """Why an attempt is not accepted, or None when it is."""
    failure = reported_failure(step)
    if failure:
        return failure
    if not str(step["output"].get("result") or "").strip():
        return "it reported success with an empty result"
    if task["tools"] and step["tool_calls"] == 0:
        return (f"it reported success without calling any tool, but the task requires "
                f"{', '.join(task['tools'])}; call them and base your result on what they return")
    return None


def contribution(task: dict[str, Any], result: str | None, attempts: int, tool_calls: int,
                 problems: list[str]) -> dict[str, Any]:
    """What a worker hands back: its result (status "done"), or a gap whose reason is the last problem."""
    part = {"task_id": task["id"], "title": task["title"], "status": "done" if result is not None else "gap",
            "result": result, "attempts": attempts, "tool_calls": tool_calls, "problems": problems}
    return part if result is not None else {**part, "reason": problems[-1]}


@bp.orchestration_trigger(context_name="context", orchestration=SWARM_WORKER)
def swarm_worker(context: df.DurableOrchestrationContext):
    assignment = context.get_input()
    task = assignment["task"]
    problems: list[str] = []
    tool_calls = 0
    requirement = f"This task must be done with these tools: {', '.join(task['tools'])}." if task["tools"] else None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        request = step_input(f"swarm-worker-{task['id']}", INSTRUCTIONS,
                             worker_prompt(assignment, problems[-1] if problems else None, requirement),
                             tools=list(BUILTIN_TOOLS), output_type=WorkerReport)
        try:
            step = yield from run_step(context, request)
        except Exception as error:  # a failed agent step: retried, then reported as a gap
            problems.append(f"the agent failed ({shorten(str(error), MAX_PROBLEM_CHARS)})")
            continue
        tool_calls += step["tool_calls"]
        problem = attempt_problem(task, step)
        if problem is None:
            return contribution(task, step["output"]["result"], attempt, tool_calls, problems)
        problems.append(problem)
    return contribution(task, None, MAX_ATTEMPTS, tool_calls, problems)
