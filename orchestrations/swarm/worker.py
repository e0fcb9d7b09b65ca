"""`swarm_worker`: one specialist of a swarm, as a sub-orchestration that never fails its parent.

It runs its task as an `agent_step` (the shared contract in the prompt, the built-in tools at hand)
and checks what the agent did, not what it says: a worker that reports failure, returns nothing, or
whose agent fails (a model error, a broken answer) or is stopped (a repeated tool call, the turn limit)
is asked again with the reason. A task the planner gave tools to is nudged once when the worker called
none; a second answer without them is accepted and marked unverified (`notes`), because the planner may
have named a tool the task does not need, and a plan's mistake must not empty the job (issue 22 §1).
What a worker wrote is not thrown away for its tool use: an answer refused only for calling no tool is
kept, and handed in (unverified) when no later attempt does better; an attempt whose tool use went wrong
(a repeated call or the turn limit ended it, or the server could not read its tool call) is followed by
a last attempt without tools, whose answer is marked unverified; when that trouble came on the last of
`MAX_ATTEMPTS`, the attempt without tools is one more (a last resort, as in the code worker). On a real
small model both workers of the green tea swarm were gaps otherwise: one wrote its part without a tool, was
asked to use one, and its next tool calls could not be parsed; the other repeated `calculate` until it was
stopped, twice. After its attempts the task is returned as a gap, so one bad worker never fails the swarm. Each retry
prompt differs from the first, so a deterministic model (or a remembered answer) can change its mind.
"""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.recovery import MALFORMED_CALL
from orchestrations.agents.step import run_step, step_input
from orchestrations.failures import step_failure
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, fit, result_bytes
from orchestrations.swarm.plan import WorkerReport, normalise_report
from orchestrations.usage.ending import finish_step

bp = df.Blueprint()

SWARM_WORKER = "swarm_worker"
MAX_ATTEMPTS = 2
MAX_PROBLEM_CHARS = 500
WORKER_MAX_TURNS = 16
WITHOUT_TOOLS = ("No tools are available this time: write your part itself, in full, as your result (the text the "
                 "task asks for, not a calculation or a tool call).")

INSTRUCTIONS = (
    "You are a specialist on a team. Do exactly your task, following the shared contract to the letter "
    "(names, interfaces and data shapes), so your part fits the others. Where your task names tools, use "
    "them to do the work rather than answering from memory."
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
    """The problem when a worker's answer (read by `normalise_report`) does not say it succeeded, or None."""
    report = normalise_report(step.get("output"))
    if report["status"] != "done":
        return f"it reported failure ({report['problem'] or 'no reason given'})"
    return None


def tool_trouble(problem: str, step: dict[str, Any] | None) -> bool:
    """Whether an attempt went wrong in its tool use: its step was stopped (a repeated call, the turn limit), or
    its agent failed because the server could not read a tool call (`recovery.MALFORMED_CALL`)."""
    return bool(step and step.get("stopped")) or (step is None and bool(MALFORMED_CALL.search(problem)))


def attempt_problem(task: dict[str, Any], step: dict[str, Any], last: bool) -> tuple[str | None, str | None]:
    """(why the attempt is not accepted, or None; a note on an accepted one, or None). `last`: no retry follows."""
    failure = reported_failure(step)
    if failure:
        return failure, None
    if step.get("stopped"):
        return step["stopped"], None
    if not normalise_report(step["output"])["result"]:
        return "it reported success with an empty result", None
    if task["tools"] and step["tool_calls"] == 0:
        if last:
            return None, f"unverified: the task named {', '.join(task['tools'])}, and no tool was called"
        return (f"it reported success without calling any tool, but the task names "
                f"{', '.join(task['tools'])}; call them and base your result on what they return"), None
    return None, None


def contribution(task: dict[str, Any], result: str | None, attempts: int, tool_calls: int,
                 problems: list[str], notes: list[str] | None = None) -> dict[str, Any]:
    """What a worker hands back: its result (status "done"), or a gap whose reason is the last problem."""
    part = {"task_id": task["id"], "title": task["title"], "status": "done" if result is not None else "gap",
            "result": result, "attempts": attempts, "tool_calls": tool_calls, "problems": problems,
            "notes": notes or []}
    return fit(part if result is not None else {**part, "reason": problems[-1]}, PAYLOAD_BUDGET_BYTES, result_bytes)


@bp.orchestration_trigger(context_name="context", orchestration=SWARM_WORKER)
def swarm_worker(context: df.DurableOrchestrationContext):
    assignment = context.get_input()
    task = assignment["task"]
    problems: list[str] = []
    tool_calls = 0
    kept: dict[str, Any] | None = None  # an answer refused only for calling no tool: {"result", "attempt"}
    without_tools = ran_without_tools = False
    attempt = 0
    while attempt < MAX_ATTEMPTS or (without_tools and not ran_without_tools and kept is None):  # last resort
        attempt += 1
        ran_without_tools = ran_without_tools or without_tools
        tools = [] if without_tools else list(BUILTIN_TOOLS)
        requirement = (WITHOUT_TOOLS if without_tools else
                       f"This task needs these tools: {', '.join(task['tools'])}." if task["tools"] else None)
        request = step_input(f"swarm-worker-{task['id']}", INSTRUCTIONS,
                             worker_prompt(assignment, problems[-1] if problems else None, requirement),
                             tools=tools, output_type=WorkerReport, max_turns=WORKER_MAX_TURNS)
        step = None
        try:
            step = yield from run_step(context, request)
        except Exception as error:  # a failed agent step: retried, then reported as a gap
            problem = f"the agent failed ({step_failure(error, MAX_PROBLEM_CHARS)})"
        else:
            tool_calls += step["tool_calls"]
            problem, note = attempt_problem({**task, "tools": []} if without_tools else task, step,
                                            attempt >= MAX_ATTEMPTS)
            if problem is None:
                notes = [note] if note else []
                if without_tools:
                    notes.append(f"unverified: answered without tools after: {problems[-1]}")
                return (yield from finish_step(context, SWARM_WORKER, contribution(
                    task, normalise_report(step["output"])["result"], attempt, tool_calls, problems, notes)))
            if step["tool_calls"] == 0 and not step.get("stopped") and normalise_report(step["output"])["result"] \
                    and not reported_failure(step):
                kept = {"result": normalise_report(step["output"])["result"], "attempt": attempt}
        problems.append(problem)
        without_tools = without_tools or tool_trouble(problem, step)
    if kept is not None:
        note = (f"unverified: the task named {', '.join(task['tools'])}, and no tool was called (the answer of "
                f"attempt {kept['attempt']}; later attempts were not accepted)")
        return (yield from finish_step(context, SWARM_WORKER, contribution(task, kept["result"], attempt,
                                                                           tool_calls, problems, [note])))
    return (yield from finish_step(context, SWARM_WORKER, contribution(task, None, attempt, tool_calls, problems)))
