"""`run_code_swarm`: a coding swarm that produces a real, tested codebase (issue 12; issue 22 §1 for real models).

`run_code_swarm` is a job (agent_jobs; its orchestrator `run_code_swarm_workflow`; see `agents/step.py` for why
every agent is a sub-orchestration). The job's workspace lives in shared storage (`app_data/workspaces.py`) as branches:

1. planning: `code-planner` writes the contract (modules and the symbols each defines) and tasks that own
   files; `code_plan.normalise_code_plan` normalises every name once, keeps what the goal fixes (its paths
   and symbols, `goal_names`) and folds tasks over the limit into kept ones. A plan that cannot be used is
   asked for again with the reasons (`MAX_PLAN_ATTEMPTS` in all);
2. workspace: branch `base` is empty, or the final tree of the job named by `base`;
3. workers: one `code_worker` sub-orchestration per task, in parallel, each on branch `worker-<id>`,
   editing through file tools that are activities, judged by its branch (nudged once, then a gap, or
   `incomplete`: merged, and listed among the gaps);
4. merging: deterministic first - git's own three-way merge of each worker branch in turn (into
   `merge-<n>`); only files that really conflict go to `code-integrator`, whose resolution is checked in
   code (`code_guardrails`) and rejected with the reasons, at most `MAX_INTEGRATOR_ATTEMPTS` times (a failed
   integrator step keeps the merged side); then `integration` = the last merge;
5. quality gates: parse, `ruff check`, the workers' tests in the sandbox (`code_checks`), and the facts
   decided in code (`facts.tree_facts`: the contract's modules and symbols present, placeholders, tests);
   then `code-judge` scores 0-100 with the check results and facts in its prompt, and the facts cap its
   score (`facts.score_caps`: no tests, failing checks, missing contract symbols). While the score is
   below the threshold or a check fails, `code-fixer` edits `integration` in place (no new branch, no
   worker re-run), shown the failing checks with their output, the facts, the complaints and the files
   concerned, at most `MAX_FIX_ROUNDS` times; a round that makes the tree worse is undone (the branch
   before it is kept as `fix-<n>-before`);
6. output: the tree with sizes, the checks, score and rounds, each worker's branch and changes, the
   merges and conflicts, the gaps, `notes` (what degraded), and where to download the tree (zip, git
   bundle). A manifest in branch `meta` records the branches in merge order, from which the bundle's
   history is built; it is written as soon as the workspace exists and after each step, so the tree of a
   job that failed later is still downloadable.

A failed planner (or a merge that raises) fails the job; `retry_job` continues it from there. A judge or
fixer that fails does not (issue 22 §1, fault 3): the job keeps the last good tree and score and says so
in `notes`.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Generator, Optional

import azure.durable_functions as df
from pydantic import Field

from agent_jobs import Caller, Job, JobBlueprint, argument_error

from orchestrations.agents.context_budget import prompt_chars
from orchestrations.agents.step import ask_until_usable, run_step, step_input, with_reason
from orchestrations.agents.structured import FENCE
from orchestrations.app_data.workspaces import workspace_store
from orchestrations.code_swarm.facts import capped, score_caps, test_counts
from orchestrations.code_swarm.guardrails import resolution_problems
from orchestrations.code_swarm.plan import CodePlan, ResolvedFile, contract_symbols, contract_text, normalise_code_plan
from orchestrations.code_swarm.worker import BASE_BRANCH, CODE_WORKER, UNKNOWN_TOOL_HINT
from orchestrations.failures import step_failure
from orchestrations.fan_out import finish_all
from orchestrations.job_status import set_progress
from orchestrations.payloads import (MODEL_INPUT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES, PLAN_BUDGET_BYTES, batches, fit,
                                     model_input_bytes, result_bytes)
from orchestrations.step_ids import step_instance_id
from orchestrations.swarm.plan import MAX_COMPLAINTS, PlanError, Verdict, normalise_verdict
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS
from orchestrations.wording import plural, shorten

bp = JobBlueprint()

DEFAULT_MAX_WORKERS = 3
MAX_WORKERS_LIMIT = 8
DEFAULT_QUALITY_THRESHOLD = 80
MAX_FIX_ROUNDS = 2
MAX_INTEGRATOR_ATTEMPTS = 3
MAX_PLAN_ATTEMPTS = 3
MAX_VERDICT_ATTEMPTS = 2
MAX_REVIEW_CHARS = 40_000
FIXER_MAX_TURNS = 24
INTEGRATOR_PROMPT_BYTES = MODEL_INPUT_BUDGET_BYTES - 40_000  # room for the instructions and a rejected reason
INTEGRATION = "integration"
META_BRANCH = "meta"
MANIFEST = "manifest.json"
MAX_GOAL_CHARS = 20_000
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,127}$"
BASE_ALLOWED = "the job_id of a completed run_code_swarm job"

PLANNER_INSTRUCTIONS = (
    "You are the lead of a team of Python developers who work in parallel on separate branches and cannot "
    "talk to each other. First write the shared contract: a short summary, and the modules (file paths) with "
    "the exact symbols each must define (classes, functions, methods as Class.method), precise enough that "
    "independently written parts fit. Then split the work into at most {max_workers} independent tasks; give "
    "each an id, a title, complete instructions, and the files it owns (every file has one owner; tests "
    "belong to the task whose code they test). Use exactly the file paths and names the goal gives."
)
INTEGRATOR_INSTRUCTIONS = (
    "You resolve one git merge conflict. Both sides are work the team needs: keep every change of both sides, "
    "combine them so the file follows the contract, and return the whole resolved file in content, with no "
    "conflict markers and no placeholders."
)
JUDGE_INSTRUCTIONS = (
    "You are a strict code reviewer. Given the goal, the contract, the check results and the code, score "
    "from 0 (useless) to 100 (ready to ship) and list concrete, actionable complaints (empty when none)."
)
FIXER_INSTRUCTIONS = (
    "You repair a team's merged codebase in place with the file tools. Fix exactly what the failing checks, "
    "the facts and the reviewer's complaints point at, keep everything else, and follow the contract: write "
    "each changed file whole with write_file(path, content), call run_checks, and go on until the checks "
    "pass. Then reply with what you changed."
)

Steps = Generator[Any, Any, Any]


def checks_summary(checks: dict[str, Any], output_chars: int = 4000) -> str:
    tests = checks["tests"]
    test_line = (f"tests: {'passed' if tests['ok'] else 'FAILED'}" if tests["ran"]
                 else f"tests: not run ({tests.get('reason')})")
    if tests["ran"] and tests.get("output"):
        passed, run = test_counts(tests["output"])
        test_line += f" ({passed} of {run} passed)" if run else ""
    lines = [f"parse: {'ok' if checks['parse']['ok'] else 'FAILED'}", *checks["parse"]["errors"],
             f"ruff: {'ok' if checks['ruff']['ok'] else 'FAILED'}"]
    if not checks["ruff"]["ok"]:
        lines.append(shorten(checks["ruff"]["output"], output_chars * 3 // 4))
    lines.append(test_line)
    if tests["ran"] and not tests["ok"]:
        lines.append(tail(tests["output"], output_chars))
    return "\n".join(lines)


def tail(text: str, limit: int) -> str:
    """The end of a long output (pytest's failures and summary are last)."""
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def run_workers(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any]) -> Steps:
    contract = contract_text(plan)
    workers = yield from finish_all(context, [
        context.call_sub_orchestrator(CODE_WORKER, {"job_id": context.instance_id, "goal": spec["goal"],
                                                    "contract": contract, "task": task, "modules": plan["modules"],
                                                    "owners": plan["owners"]},
                                      step_instance_id(context, f"worker-{task['id']}"))
        for task in plan["tasks"]], "workers")
    parts = []
    for task, worker in zip(plan["tasks"], workers):
        if isinstance(worker.result, Exception):  # a worker never fails; if one did (a host problem), a gap
            reason = f"the worker failed ({step_failure(worker.result, MAX_PROBLEM_CHARS)})"
            parts.append({"task_id": task["id"], "title": task["title"], "branch": None, "status": "gap",
                          "summary": None, "attempts": 0, "changes": {}, "problems": [reason], "reason": reason})
        else:
            parts.append(worker.result)
    return parts


def integrator_prompt(spec: dict[str, Any], plan: dict[str, Any], conflict: dict[str, Any],
                      rejected: list[str]) -> str:
    def side(label: str, text: str | None) -> list[str]:
        return [f"--- {label} ---", text if text is not None else "(the file does not exist on this side)"]

    lines = [f"Team goal: {spec['goal']}", "", "Contract:", contract_text(plan), "",
             f"Conflicting file: {conflict['path']}",
             f"Symbols the contract names for it: {', '.join(contract_symbols(plan, conflict['path'])) or 'none'}",
             "", *side("base", conflict["base"]), *side("ours (already merged)", conflict["ours"]),
             *side("theirs (the branch being merged)", conflict["theirs"]),
             "--- git's merge with conflict markers ---", conflict["marked"] or ""]
    if rejected:
        lines += ["", "Your previous resolution was rejected: " + rejected[-1] + ". Resolve it again."]
    return "\n".join(lines)


def resolved_content(output: Any) -> str:
    """The integrator's file from its answer, read leniently: `{"content": ...}`, or the file as text (in a
    fence or bare) when the model answered with the file itself."""
    if isinstance(output, dict):
        return str(output.get("content") or "")
    text = output if isinstance(output, str) else ""
    blocks = FENCE.findall(text)
    return blocks[0] + "\n" if len(blocks) == 1 else text


def integrate(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
              conflict: dict[str, Any]) -> Steps:
    """Ask the integrator for one file until its resolution passes the guardrails; returns the record. A
    failed integrator step leaves the conflict unresolved (the merged side kept), never a failed job."""
    if conflict.get("clash") or conflict.get("too_large") or \
            model_input_bytes(integrator_prompt(spec, plan, conflict, [])) > INTEGRATOR_PROMPT_BYTES:  # a gap
        return {"path": conflict["path"], "status": "unresolved", "attempts": 0, "content": None,
                "rejected": [conflict.get("clash") or
                             "the conflicting versions are too large to hand to the integrator in one merge"]}
    fallback = conflict["ours"] if conflict["ours"] is not None else conflict["theirs"] or ""
    rejected: list[str] = []
    for attempt in range(1, MAX_INTEGRATOR_ATTEMPTS + 1):
        try:
            step = yield from run_step(context, step_input(
                "code-integrator", INTEGRATOR_INSTRUCTIONS, integrator_prompt(spec, plan, conflict, rejected),
                output_type=ResolvedFile))
        except Exception as error:  # a failed integrator: the conflict stays unresolved
            rejected.append(f"the integrator failed ({step_failure(error, MAX_PROBLEM_CHARS)})")
            return {"path": conflict["path"], "status": "unresolved", "attempts": attempt, "rejected": rejected,
                    "content": fallback}
        content = resolved_content(step["output"])
        problems = resolution_problems(conflict["path"], content, conflict["ours"], conflict["theirs"],
                                       conflict["base"], contract_symbols(plan, conflict["path"]))
        if not problems:
            return {"path": conflict["path"], "status": "resolved", "attempts": attempt, "rejected": rejected,
                    "content": content}
        rejected.append("; ".join(problems))
    return {"path": conflict["path"], "status": "unresolved", "attempts": MAX_INTEGRATOR_ATTEMPTS,
            "rejected": rejected, "content": fallback}


def merge_workers(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
                  parts: list[dict[str, Any]], progress: dict[str, Any]) -> Steps:
    """Merge every usable worker branch (done or incomplete) in plan order; returns (merge records, the last
    merged branch). `progress["merges"]` and `["latest"]` follow along, for a job that fails midway."""
    job_id = context.instance_id
    merged_into, merges = BASE_BRANCH, progress["merges"]
    branches = [part for part in parts if part["status"] in ("done", "incomplete")]
    for number, part in enumerate(branches, start=1):
        set_progress(context, "merging", f"merging {part['branch']} ({number} of {len(branches)})",
                     number - 1, len(branches))
        into = f"merge-{number}"
        merged = yield context.call_activity("workspace_merge", {
            "job_id": job_id, "base": BASE_BRANCH, "ours": merged_into, "theirs": part["branch"], "into": into})
        resolutions = []
        for conflict in merged["conflicts"]:
            set_progress(context, "merging", f"the integrator is resolving a conflict in {conflict['path']}",
                         number - 1, len(branches))
            resolutions.append((yield from integrate(context, spec, plan, conflict)))
        written = {r["path"]: r["content"] for r in resolutions if r["content"] is not None}
        # a conflict too large for the integrator keeps git's markers, and is a gap
        for files in batches(written, PAYLOAD_BUDGET_BYTES - 1_000):  # inputs under the payload limit
            yield context.call_activity("workspace_write_files", {"job_id": job_id, "branch": into, "files": files})
        merges.append({"branch": part["branch"], "into": into, "clean": not resolutions,
                       "conflicts": [{key: r[key] for key in ("path", "status", "attempts", "rejected")}
                                     for r in resolutions]})
        merged_into = progress["latest"] = into
    return merges, merged_into


def review_prompt(spec: dict[str, Any], plan: dict[str, Any], checks: dict[str, Any], code: str,
                  complaints: list[str] | None = None, facts: list[str] | None = None) -> str:
    lines = [f"Goal: {spec['goal']}", "", "Contract:", contract_text(plan), "", "Check results:",
             checks_summary(checks)]
    if facts:
        lines += ["", "Facts checked in code (they limit the score):", *[f"- {fact}" for fact in facts]]
    lines += ["", "Code:", code]
    if complaints is not None:
        lines += ["", "Reviewer's complaints:", *[f"- {complaint}" for complaint in complaints]]
    return "\n".join(lines)


def judge(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
          checks: dict[str, Any], caps: list[tuple[int, str]], what: str) -> Steps:
    """The judge's verdict, capped by the facts; `{score: None, ..., failed}` when the judge step failed."""
    set_progress(context, "judging", f"the judge is scoring {what}")
    facts = [why for _, why in caps]
    budget = max(2000, prompt_chars() - len(review_prompt(spec, plan, checks, "", None, facts)))
    code = yield context.call_activity("workspace_snapshot_text", {
        "job_id": context.instance_id, "branch": INTEGRATION, "limit": min(MAX_REVIEW_CHARS, budget)})
    try:
        verdict = yield from ask_until_usable(context, lambda reason: step_input(
            "code-judge", JUDGE_INSTRUCTIONS, with_reason(review_prompt(spec, plan, checks, code, None, facts), reason),
            output_type=Verdict), normalise_verdict, MAX_VERDICT_ATTEMPTS)
    except Exception as error:  # a failed or unreadable judge never fails the job
        verdict = {"score": None, "complaints": [],
                   "failed": f"the judge failed ({step_failure(error, MAX_PROBLEM_CHARS)})"}
    return capped(verdict, caps, MAX_COMPLAINTS)


def quality_round(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
                  what: str) -> Steps:
    """Checks and facts on `integration`, then the judge: returns (checks, verdict)."""
    set_progress(context, "checking", f"checking {what}: parse, ruff, tests")
    where = {"job_id": context.instance_id, "branch": INTEGRATION}
    checks = yield context.call_activity("workspace_checks", where)
    facts = yield context.call_activity("workspace_facts", {**where, "modules": plan["modules"]})
    verdict = yield from judge(context, spec, plan, checks, score_caps(facts, checks), what)
    return checks, verdict


def quality(checks: dict[str, Any], verdict: dict[str, Any]) -> tuple:
    """What "better" means between fixing rounds: checks pass, the tree parses, more tests pass, ruff is
    clean, a higher score."""
    passed = test_counts(checks["tests"].get("output") or "")[0] if checks["tests"]["ran"] else 0
    return (checks["ok"], checks["parse"]["ok"], passed, checks["ruff"]["ok"], verdict["score"] or 0)


def fix_round(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
              checks: dict[str, Any], verdict: dict[str, Any], round_: int) -> Steps:
    """One fixer step on `integration`, shown the failing checks, the complaints (the facts first) and the
    files; returns why it failed, or None."""
    job_id = context.instance_id
    prompt = review_prompt(spec, plan, checks, "", verdict["complaints"])
    budget = max(2000, prompt_chars(0.6) - len(prompt))
    code = yield context.call_activity("workspace_snapshot_text", {
        "job_id": job_id, "branch": INTEGRATION, "limit": min(MAX_REVIEW_CHARS, budget)})
    prompt = review_prompt(spec, plan, checks, code + "\n\n(Edit these files in place with the file tools.)",
                           verdict["complaints"])
    try:
        step = yield from run_step(context, step_input(
            "code-fixer", FIXER_INSTRUCTIONS, prompt, workspace={"job_id": job_id, "branch": INTEGRATION},
            max_turns=FIXER_MAX_TURNS, unknown_tool_hint=UNKNOWN_TOOL_HINT))
    except Exception as error:  # a failed fixer never fails the job
        return f"fixing round {round_} failed ({step_failure(error, MAX_PROBLEM_CHARS)})"
    return f"fixing round {round_} was stopped ({step['stopped']})" if step.get("stopped") else None


def manifest(plan: dict[str, Any], parts: list[dict[str, Any]], merges: list[dict[str, Any]]) -> str:
    """What the download route needs to rebuild the history: branches in merge order."""
    merged = {merge["branch"] for merge in merges}
    return json.dumps({"base": BASE_BRANCH, "workers": [p["branch"] for p in parts if p["branch"] in merged],
                       "merges": [{"branch": m["branch"], "into": m["into"]} for m in merges],
                       "head": INTEGRATION, "tasks": {t["id"]: t["title"] for t in plan["tasks"]}}, indent=1)


def write_manifest(context: df.DurableOrchestrationContext, plan: dict[str, Any], parts: list[dict[str, Any]],
                   merges: list[dict[str, Any]]) -> Any:
    return context.call_activity("workspace_write_files", {
        "job_id": context.instance_id, "branch": META_BRANCH, "files": {MANIFEST: manifest(plan, parts, merges)}})


def plan_goal(context: df.DurableOrchestrationContext, spec: dict[str, Any]) -> Steps:
    set_progress(context, "planning", "the planner is writing the contract and the tasks")
    instructions = PLANNER_INSTRUCTIONS.format(max_workers=spec["max_workers"])
    return (yield from ask_until_usable(context, lambda reason: step_input(
        "code-planner", instructions, with_reason(f"Goal: {spec['goal']}", reason), output_type=CodePlan),
        lambda raw: fit(normalise_code_plan(raw, spec["max_workers"], spec["goal"]), PLAN_BUDGET_BYTES,
                        model_input_bytes), MAX_PLAN_ATTEMPTS))


def build(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
          progress: dict[str, Any]) -> Steps:
    """Steps 3-6 on a workspace whose `base` exists; `progress` follows along (see the orchestrator)."""
    job_id, threshold = context.instance_id, spec["quality_threshold"]
    parts = progress["parts"] = yield from run_workers(context, spec, plan)
    merges, merged = yield from merge_workers(context, spec, plan, parts, progress)
    yield context.call_activity("workspace_fork", {"job_id": job_id, "target": INTEGRATION, "source": merged})
    progress["latest"] = INTEGRATION
    yield write_manifest(context, plan, parts, merges)

    checks, verdict = yield from quality_round(context, spec, plan, "the merged tree")
    notes = [verdict["failed"]] if verdict.get("failed") else []
    history = [{"round": 0, "score": verdict["score"], "checks": checks}]
    rounds = kept = 0
    while (verdict["score"] is None or verdict["score"] < threshold or not checks["ok"]) and rounds < MAX_FIX_ROUNDS \
            and (verdict["complaints"] or not checks["ok"]):
        rounds += 1
        score = "unscored" if verdict["score"] is None else f"score {verdict['score']}"
        set_progress(context, "fixing", f"fixing round {rounds}: {score} (threshold {threshold}), "
                                        f"checks {'pass' if checks['ok'] else 'fail'}", rounds, MAX_FIX_ROUNDS)
        before = f"fix-{rounds}-before"
        yield context.call_activity("workspace_fork", {"job_id": job_id, "target": before, "source": INTEGRATION})
        problem = yield from fix_round(context, spec, plan, checks, verdict, rounds)
        if problem:
            notes.append(problem)
        new_checks, new_verdict = yield from quality_round(context, spec, plan, f"the result of fixing round {rounds}")
        if new_verdict.get("failed"):
            notes.append(f"{new_verdict['failed']} on fixing round {rounds}")
            new_verdict = {**new_verdict, "score": verdict["score"] if new_checks == checks else None}
        history.append({"round": rounds, "score": new_verdict["score"], "checks": new_checks})
        if quality(new_checks, new_verdict) < quality(checks, verdict):
            yield context.call_activity("workspace_fork", {"job_id": job_id, "target": INTEGRATION, "source": before})
            notes.append(f"fixing round {rounds} made the tree worse: the tree before it is kept")
            break
        checks, verdict, kept = new_checks, new_verdict, rounds

    tree = yield context.call_activity("workspace_tree", {"job_id": job_id, "branch": INTEGRATION})
    gaps = [{"task_id": p["task_id"], "title": p["title"], "reason": p["reason"]} for p in parts
            if p["status"] in ("gap", "incomplete")]
    gaps += [{"file": c["path"], "reason": f"merge conflict left unresolved: {c['rejected'][-1]}"}
             for m in merges for c in m["conflicts"] if c["status"] == "unresolved"]
    score = verdict["score"]
    passed = score is not None and score >= threshold and checks["ok"]
    scored = "not scored (the judge failed)" if score is None else \
        f"score {score} ({'meets' if passed else 'below'} the threshold {threshold})"
    set_progress(context, "completed", f"{scored}, checks {'pass' if checks['ok'] else 'fail'}, "
                                       f"{plural(rounds, 'fixing round')}, {plural(len(gaps), 'gap')}")
    return fit({"goal": spec["goal"], "plan": plan, "tree": tree, "checks": checks, "score": score,
                "complaints": verdict["complaints"], "quality_threshold": threshold, "passed": passed, "rounds": rounds,
                "quality_history": [entry for entry in history if entry["round"] != kept], "branches": parts,
                "merges": merges, "gaps": gaps, "notes": notes,
                "downloads": {"zip": f"/api/workspaces/{job_id}/zip", "bundle": f"/api/workspaces/{job_id}/bundle"}},
               PAYLOAD_BUDGET_BYTES, result_bytes)


def launchable(goal: str, max_workers: int, quality_threshold: int, base: Optional[str], caller: Caller) -> None:
    """Checked before a job is created (validate first, then act): a `base` with no finished workspace is
    refused before any model call is spent, and another person's job in the same words (issue 20)."""
    if base and (not caller.may_see(base) or workspace_store().read(base, META_BRANCH, MANIFEST) is None):
        raise argument_error("base", f"names job {base}, which has no finished code swarm workspace", BASE_ALLOWED)


@bp.job(title="Build code with a swarm", check=launchable, downloads=("zip", "bundle"))
def run_code_swarm(job: Job, goal: Annotated[str, Field(max_length=MAX_GOAL_CHARS)],
                   max_workers: Annotated[int, Field(ge=1, le=MAX_WORKERS_LIMIT)] = DEFAULT_MAX_WORKERS,
                   quality_threshold: Annotated[int, Field(
                       ge=0, le=100, description=f"The judge's score (0-100) the code must reach, with every check "
                                                 f"passing; below it a fixer repairs it in place, at most "
                                                 f"{MAX_FIX_ROUNDS} rounds.")] = DEFAULT_QUALITY_THRESHOLD,
                   base: Optional[Annotated[str, Field(pattern=JOB_ID_PATTERN,
                                                       json_schema_extra={"allowed": BASE_ALLOWED})]] = None):
    """Start a coding swarm that produces a real, tested codebase: a planner writes the contract and
    tasks that own files, workers write code and tests on their own branches, git merges them (an
    integrator resolves real conflicts, checked in code), parse + ruff + the tests in a sandbox, a
    judge and a fixer. Returns at once with the job's status object; follow it with wait_for_job. The
    result's files: resources workspace://{job_id}/files, or the zip / git bundle download links.

    Args:
        goal: The codebase to build: what it does, its parts, and that it has tests.
        max_workers: At most this many workers, each on its own branch.
        base: The job_id of a finished run_code_swarm job whose final tree to start from (default: an
            empty workspace).
    """
    context, spec, job_id = job.context, job.input, job.id
    plan = yield from plan_goal(context, spec)
    forked = yield context.call_activity("workspace_fork", {
        "job_id": job_id, "target": BASE_BRANCH, "source": INTEGRATION if base else None, "source_job": base})
    if base and forked["files"] == 0:
        raise PlanError(f"base job {base} has no workspace files to start from")
    progress: dict[str, Any] = {"parts": [], "merges": [], "latest": BASE_BRANCH}
    try:
        return (yield from build(context, spec, plan, progress))
    except Exception:  # the job fails, and its tree so far stays downloadable (issue 22 §1, fault 3)
        if progress["latest"] != INTEGRATION:
            yield context.call_activity("workspace_fork", {"job_id": job_id, "target": INTEGRATION,
                                                           "source": progress["latest"]})
        yield write_manifest(context, plan, progress["parts"], progress["merges"])
        raise
