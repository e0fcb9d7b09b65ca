"""`run_swarm`: a contract-first planner, specialist workers in parallel, a judge, and a bounded fixer.

Structure: `run_swarm_workflow` is a plain generator orchestrator; every agent is a sub-orchestration
(`agents/step.py` says why: the OpenAI wrapper orchestrator counts only activity completions and is
replayed whole, so it is no place for fan-out or for many agents in a row). Steps, in order:

1. planning: the planner agent returns a shared contract (names, interfaces, data shapes) and
   independent tasks as structured output; `swarm_plan.normalise_plan` validates and normalises it
   (deterministic code before any further model call) and the job fails here, before anything is
   scheduled, if the plan is unusable;
2. workers: one `swarm_worker` sub-orchestration per task, all at once; progress counts them as they
   finish (`task_any` over the ones still running). A worker never fails the swarm: after its retries
   it comes back as a gap, which the output lists and the judge sees;
3. judging: the judge agent scores the combined result 0-100 and lists concrete complaints. When
   every worker came back as a gap there is nothing to judge: the job completes with
   `passed: false`, `score: null` and a summary that says so (issue 9.3), without judge or fixer;
4. fixing: while the score is below the threshold, at most `MAX_FIX_ROUNDS` times, the fixer agent
   repairs the current result from the complaints (never a restart from scratch), and the judge
   scores again.

A failed planner, judge or fixer fails the job; `retry_job` continues it from there, and finished
steps (the workers included) are not run again. Agent names carry the step (`swarm-planner`,
`swarm-worker-<task id>`, `swarm-judge`, `swarm-fixer`), so logs and a scripted model tell them apart.
"""
from __future__ import annotations

from typing import Any, Generator

import azure.durable_functions as df

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.step import run_step, step_input
from orchestrations.fan_out import finish_all
from orchestrations.job_status import set_progress
from orchestrations.step_ids import step_instance_id
from orchestrations.swarm.plan import SwarmPlan, Verdict, normalise_plan, normalise_verdict
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS, SWARM_WORKER, contribution
from orchestrations.wording import plural, shorten

bp = df.Blueprint()

DEFAULT_MAX_WORKERS = 5
MAX_WORKERS_LIMIT = 10
DEFAULT_QUALITY_THRESHOLD = 80
MAX_FIX_ROUNDS = 2

PLANNER_INSTRUCTIONS = (
    "You are the planner of a team of specialist agents working in parallel, who cannot talk to each "
    "other. First write the shared contract: every name, interface and data shape the parts must agree "
    "on, precise enough that independently written parts fit together. Then split the goal into at most "
    "{max_workers} independent tasks, one per specialist; give each an id, a short title, complete "
    "instructions, and the tools it must use ({tools}), or none."
)
JUDGE_INSTRUCTIONS = (
    "You are a strict reviewer. Score how well the result meets the goal and follows the contract, from "
    "0 (useless) to 100 (ready to use), and list concrete, actionable complaints (empty when there are none)."
)
FIXER_INSTRUCTIONS = (
    "You repair a team's combined result. Fix exactly what the reviewer's complaints point at, keep "
    "everything else as it is, follow the contract, and return the whole corrected result."
)

Steps = Generator[Any, Any, Any]


def combined_result(goal: str, plan: dict[str, Any], contributions: list[dict[str, Any]]) -> str:
    """The workers' parts in plan order, with gaps named, as the text the judge and fixer see."""
    parts = [f"# {goal}", "", "## Contract", plan["contract"]]
    for part in contributions:
        body = part["result"] if part["status"] == "done" else f"(missing: {part['reason']})"
        parts += ["", f"## {part['title']} (task {part['task_id']})", body]
    return "\n".join(parts)


def review_prompt(goal: str, contract: str, result: str, complaints: list[str] | None = None) -> str:
    lines = [f"Goal: {goal}", "", "Contract:", contract, "", "Result:", result]
    if complaints is not None:
        lines += ["", "Reviewer's complaints:", *[f"- {complaint}" for complaint in complaints]]
    return "\n".join(lines)


def run_workers(context: df.DurableOrchestrationContext, goal: str, plan: dict[str, Any]) -> Steps:
    """Fan out one worker per task, report each one finishing, and return their contributions in plan order."""
    workers = yield from finish_all(context, [
        context.call_sub_orchestrator(SWARM_WORKER, {"goal": goal, "contract": plan["contract"], "task": task},
                                      step_instance_id(context, f"worker-{task['id']}"))
        for task in plan["tasks"]], "workers")
    # a worker orchestrator does not fail, but if one did (a bug, a host problem) it is a gap, not a failed swarm
    return [contribution(task, None, 0, 0, [f"the worker failed ({shorten(str(worker.result), MAX_PROBLEM_CHARS)})"])
            if isinstance(worker.result, Exception) else worker.result
            for task, worker in zip(plan["tasks"], workers)]


def judge(context: df.DurableOrchestrationContext, goal: str, contract: str, result: str, round_: int) -> Steps:
    what = "the combined result" if round_ == 0 else f"the result of fixing round {round_}"
    set_progress(context, "judging", f"the judge is scoring {what}")
    step = yield from run_step(context, step_input(
        "swarm-judge", JUDGE_INSTRUCTIONS, review_prompt(goal, contract, result), output_type=Verdict))
    return normalise_verdict(step["output"])


@bp.orchestration_trigger(context_name="context")
def run_swarm_workflow(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    goal, threshold = spec["goal"], spec["quality_threshold"]
    set_progress(context, "planning", "the planner is writing the contract and the tasks")
    planner = PLANNER_INSTRUCTIONS.format(max_workers=spec["max_workers"], tools=", ".join(BUILTIN_TOOLS))
    planned = yield from run_step(context, step_input(
        "swarm-planner", planner, f"Goal: {goal}", output_type=SwarmPlan))
    plan = normalise_plan(planned["output"], spec["max_workers"])

    contributions = yield from run_workers(context, goal, plan)
    result = combined_result(goal, plan, contributions)
    gaps = [{"task_id": part["task_id"], "title": part["title"], "reason": part["reason"]}
            for part in contributions if part["status"] == "gap"]
    outcome = {"goal": goal, "plan": plan, "contributions": contributions, "result": result,
               "quality_threshold": threshold, "gaps": gaps}
    if len(gaps) == len(contributions):  # nothing to judge or fix: a result without contributions never passes
        summary = (f"no worker produced a contribution ({plural(len(gaps), 'gap')}): nothing was judged, "
                   f"and the result did not pass")
        set_progress(context, "completed", summary)
        return {**outcome, "score": None, "complaints": [], "passed": False, "rounds": 0, "summary": summary}

    verdict = yield from judge(context, goal, plan["contract"], result, 0)
    rounds = 0
    while verdict["score"] < threshold and rounds < MAX_FIX_ROUNDS:
        rounds += 1
        set_progress(context, "fixing", f"fixing round {rounds}: score {verdict['score']} is below {threshold}, "
                                        f"{plural(len(verdict['complaints']), 'complaint')}", rounds, MAX_FIX_ROUNDS)
        fixed = yield from run_step(context, step_input(
            "swarm-fixer", FIXER_INSTRUCTIONS, review_prompt(goal, plan["contract"], result, verdict["complaints"])))
        result = fixed["output"]
        verdict = yield from judge(context, goal, plan["contract"], result, rounds)

    passed = verdict["score"] >= threshold
    summary = (f"score {verdict['score']} ({'meets' if passed else 'below'} the threshold {threshold}) after "
               f"{plural(rounds, 'fixing round')}, {plural(len(gaps), 'gap')}")
    set_progress(context, "completed", summary)
    return {**outcome, "result": result, "score": verdict["score"], "complaints": verdict["complaints"],
            "passed": passed, "rounds": rounds, "summary": summary}
