"""`run_swarm`: a contract-first planner, specialist workers in parallel, a judge, and a bounded fixer.

Structure: `run_swarm` is a job (agent_jobs; its orchestrator `run_swarm_workflow`); every agent is a
sub-orchestration (`agents/step.py` says why: the OpenAI wrapper orchestrator counts only activity completions and is
replayed whole, so it is no place for fan-out or for many agents in a row). Steps, in order:

1. planning: the planner agent returns a shared contract (names, interfaces, data shapes) and
   independent tasks as structured output; `swarm_plan.normalise_plan` validates and normalises it
   (deterministic code before any further model call). A plan that cannot be used is asked for again
   with the reasons (`MAX_PLAN_ATTEMPTS` in all); the job fails here, before anything is scheduled, only
   when no answer was usable;
2. workers: one `swarm_worker` sub-orchestration per task, all at once; progress counts them as they
   finish (`task_any` over the ones still running). A worker never fails the swarm: after its retries
   it comes back as a gap, which the output lists and the judge sees;
3. judging: the judge agent scores the combined result 0-100 and lists concrete complaints; a gap caps
   the score at the share of tasks done (facts decided in code, not by the judge). When every worker
   came back as a gap there is nothing to judge: the job completes with `passed: false`, `score: null`
   and a summary that says so (issue 9.3), without judge or fixer;
4. fixing: while the score is below the threshold, at most `MAX_FIX_ROUNDS` times, the fixer agent
   repairs the current result from the complaints (never a restart from scratch), and the judge
   scores again. The best-scored result is kept.

A failed planner fails the job; `retry_job` continues it from there. A judge or fixer that fails (a model
error after its retries, an answer that cannot be read, the turn limit) does not: the job keeps the last
good result and says so in `notes` and the summary (issue 22 §1, fault 3). Agent names carry the step
(`swarm-planner`, `swarm-worker-<task id>`, `swarm-judge`, `swarm-fixer`), so logs and a scripted model tell
them apart.
"""
from __future__ import annotations

from typing import Annotated, Any, Generator

import azure.durable_functions as df
from pydantic import Field

from agent_jobs import Job, JobBlueprint
from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.step import ask_until_usable, run_step, step_input, with_reason
from orchestrations.failures import step_failure
from orchestrations.fan_out import finish_all
from orchestrations.job_status import set_progress
from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, PLAN_BUDGET_BYTES, cut, fit, model_input_bytes
from orchestrations.step_ids import step_instance_id
from orchestrations.swarm.plan import SwarmPlan, Verdict, normalise_plan, normalise_verdict
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS, SWARM_WORKER, contribution
from orchestrations.wording import plural

bp = JobBlueprint()

DEFAULT_MAX_WORKERS = 5
MAX_WORKERS_LIMIT = 10
DEFAULT_QUALITY_THRESHOLD = 80
MAX_FIX_ROUNDS = 2
MAX_GOAL_CHARS = 20_000
MAX_PLAN_ATTEMPTS = 3
MAX_VERDICT_ATTEMPTS = 2

PLANNER_INSTRUCTIONS = (
    "You are the planner of a team of specialist agents working in parallel, who cannot talk to each "
    "other. First write the shared contract: every name, interface and data shape the parts must agree "
    "on, precise enough that independently written parts fit together. Then split the goal into at most "
    "{max_workers} independent tasks, one per specialist; give each an id, a short title, complete "
    "instructions, and the tools it needs ({tools}), or none."
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
    result = cut(result, MODEL_TEXT_BUDGET_BYTES, model_input_bytes, "the result")  # a model call's input is bounded
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
    return [contribution(task, None, 0, 0, [f"the worker failed ({step_failure(worker.result, MAX_PROBLEM_CHARS)})"])
            if isinstance(worker.result, Exception) else worker.result
            for task, worker in zip(plan["tasks"], workers)]


def judge(context: df.DurableOrchestrationContext, goal: str, contract: str, result: str, round_: int,
          cap: tuple[int, str] | None) -> Steps:
    """The judge's verdict `{score, complaints}` (asked again once when it cannot be read), with the score
    capped by `cap` = (highest score, why); or `{score: None, complaints: [], failed: reason}` when the judge
    step failed: a judge's failure never fails the job."""
    what = "the combined result" if round_ == 0 else f"the result of fixing round {round_}"
    set_progress(context, "judging", f"the judge is scoring {what}")
    try:
        verdict = yield from ask_until_usable(context, lambda reason: step_input(
            "swarm-judge", JUDGE_INSTRUCTIONS, with_reason(review_prompt(goal, contract, result), reason),
            output_type=Verdict), normalise_verdict, MAX_VERDICT_ATTEMPTS)
    except Exception as error:  # a failed or unreadable judge: the result stays, unscored
        return {"score": None, "complaints": [], "failed": f"the judge failed ({step_failure(error, MAX_PROBLEM_CHARS)})"}
    if cap and verdict["score"] > cap[0]:
        verdict = {"score": cap[0], "complaints": [cap[1], *verdict["complaints"]]}
    return verdict


def fix(context: df.DurableOrchestrationContext, goal: str, contract: str, result: str, complaints: list[str],
        round_: int) -> Steps:
    """The fixer's whole corrected result, or (None, why) when the fixer step failed or returned nothing."""
    try:
        fixed = yield from run_step(context, step_input(
            "swarm-fixer", FIXER_INSTRUCTIONS, review_prompt(goal, contract, result, complaints)))
    except Exception as error:  # a failed fixer never fails the job
        return None, f"fixing round {round_} failed ({step_failure(error, MAX_PROBLEM_CHARS)})"
    text = fixed["output"] if isinstance(fixed["output"], str) else ""
    if fixed.get("stopped") or not text.strip():
        return None, f"fixing round {round_} returned no result ({fixed.get('stopped') or 'an empty answer'})"
    return text, None


@bp.job(title="Run a swarm")
def run_swarm(job: Job, goal: Annotated[str, Field(max_length=MAX_GOAL_CHARS)],
              max_workers: Annotated[int, Field(ge=1, le=MAX_WORKERS_LIMIT)] = DEFAULT_MAX_WORKERS,
              quality_threshold: Annotated[int, Field(
                  ge=0, le=100, description=f"The judge's score (0-100) the result must reach; below it a fixer "
                                            f"repairs it, at most {MAX_FIX_ROUNDS} rounds.")]
              = DEFAULT_QUALITY_THRESHOLD):
    """Start a swarm job: a planner writes a shared contract and tasks, specialist agents work in parallel,
    a judge scores the result and a fixer repairs it while the score is below the threshold. Returns at
    once with the job's status object; follow it with wait_for_job or get_job.

    Args:
        goal: What the team of agents should produce.
        max_workers: At most this many specialist agents.
    """
    context, threshold = job.context, quality_threshold
    job.progress("planning", "the planner is writing the contract and the tasks")
    planner = PLANNER_INSTRUCTIONS.format(max_workers=max_workers, tools=", ".join(BUILTIN_TOOLS))
    plan = yield from ask_until_usable(context, lambda reason: step_input(
        "swarm-planner", planner, with_reason(f"Goal: {goal}", reason), output_type=SwarmPlan),
        lambda raw: fit(normalise_plan(raw, max_workers, goal), PLAN_BUDGET_BYTES, model_input_bytes),
        MAX_PLAN_ATTEMPTS)

    contributions = yield from run_workers(context, goal, plan)
    result = combined_result(goal, plan, contributions)
    gaps = [{"task_id": part["task_id"], "title": part["title"], "reason": part["reason"]}
            for part in contributions if part["status"] == "gap"]
    outcome = {"goal": goal, "plan": plan, "contributions": contributions, "result": result,
               "quality_threshold": threshold, "gaps": gaps}
    if len(gaps) == len(contributions):  # nothing to judge or fix: a result without contributions never passes
        summary = (f"no worker produced a contribution ({plural(len(gaps), 'gap')}): nothing was judged, "
                   f"and the result did not pass")
        job.progress("completed", summary)
        return {**outcome, "score": None, "complaints": [], "passed": False, "rounds": 0, "notes": [],
                "summary": summary}

    done = len(contributions) - len(gaps)
    cap = (round(100 * done / len(contributions)), f"{plural(len(gaps), 'task')} of {len(contributions)} "
           f"produced nothing: {', '.join(gap['title'] for gap in gaps)}") if gaps else None
    verdict = yield from judge(context, goal, plan["contract"], result, 0, cap)
    notes = [verdict["failed"]] if verdict.get("failed") else []
    rounds = 0
    while verdict["score"] is not None and verdict["score"] < threshold and rounds < MAX_FIX_ROUNDS:
        rounds += 1
        job.progress("fixing", f"fixing round {rounds}: score {verdict['score']} is below {threshold}, "
                               f"{plural(len(verdict['complaints']), 'complaint')}", rounds, MAX_FIX_ROUNDS)
        fixed, problem = yield from fix(context, goal, plan["contract"], result, verdict["complaints"], rounds)
        if fixed is None:
            notes.append(f"{problem}: the result of the round before is kept")
            break
        rejudged = yield from judge(context, goal, plan["contract"], fixed, rounds, cap)
        if rejudged["score"] is None:
            notes.append(f"{rejudged['failed']} on fixing round {rounds}: the scored result of the round before "
                         f"is kept")
            break
        if rejudged["score"] < verdict["score"]:
            notes.append(f"fixing round {rounds} scored {rejudged['score']}, below {verdict['score']}: the result "
                         f"of the round before is kept")
            break
        result, verdict = fixed, rejudged

    score = verdict["score"]
    passed = score is not None and score >= threshold
    scored = (f"score {score} ({'meets' if passed else 'below'} the threshold {threshold})" if score is not None
              else "not scored (the judge failed)")
    summary = f"{scored} after {plural(rounds, 'fixing round')}, {plural(len(gaps), 'gap')}"
    job.progress("completed", summary)
    return {**outcome, "result": result, "score": score, "complaints": verdict["complaints"],
            "passed": passed, "rounds": rounds, "notes": notes, "summary": summary}
