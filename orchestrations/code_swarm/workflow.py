"""`run_code_swarm`: a coding swarm that produces a real, tested codebase (issue 12).

`run_code_swarm_workflow` is a plain generator orchestrator (see `agents/step.py` for why every agent is a
sub-orchestration). The job's workspace lives in shared storage (`app_data/workspaces.py`) as branches:

1. planning: `code-planner` writes the contract (modules and the symbols each defines) and tasks that own
   files; `code_plan.normalise_code_plan` normalises every name once, before anything is scheduled;
2. workspace: branch `base` is empty, or the final tree of the job named by `base`;
3. workers: one `code_worker` sub-orchestration per task, in parallel, each on branch `worker-<id>`,
   editing through file tools that are activities, judged by its branch (nudged once, then a gap);
4. merging: deterministic first - git's own three-way merge of each worker branch in turn (into
   `merge-<n>`); only files that really conflict go to `code-integrator`, whose resolution is checked in
   code (`code_guardrails`) and rejected with the reasons, at most `MAX_INTEGRATOR_ATTEMPTS` times; then
   `integration` = the last merge;
5. quality gates: parse, `ruff check`, the workers' tests in the sandbox (`code_checks`), then
   `code-judge` scores 0-100 with the check results in its prompt; while the score is below the
   threshold or a check fails, `code-fixer` edits `integration` in place (no new branch, no worker
   re-run), and the checks and the judge run again, at most `MAX_FIX_ROUNDS` times;
6. output: the tree with sizes, the checks, score and rounds, each worker's branch and changes, the
   merges and conflicts, the gaps, and where to download the tree (zip, git bundle). A manifest in
   branch `meta` records the branches in merge order, from which the bundle's history is built.

A failed planner, judge, fixer or integrator step fails the job; `retry_job` continues it from there.
"""
from __future__ import annotations

import json
from typing import Any, Generator

import azure.durable_functions as df

from orchestrations.agents.step import run_step, step_input
from orchestrations.code_swarm.guardrails import resolution_problems
from orchestrations.code_swarm.plan import CodePlan, ResolvedFile, contract_symbols, contract_text, normalise_code_plan
from orchestrations.code_swarm.worker import BASE_BRANCH, CODE_WORKER
from orchestrations.fan_out import finish_all
from orchestrations.job_status import set_progress
from orchestrations.step_ids import step_instance_id
from orchestrations.swarm.plan import PlanError, Verdict, normalise_verdict
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS
from orchestrations.wording import plural, shorten

bp = df.Blueprint()

DEFAULT_MAX_WORKERS = 3
MAX_WORKERS_LIMIT = 8
DEFAULT_QUALITY_THRESHOLD = 80
MAX_FIX_ROUNDS = 2
MAX_INTEGRATOR_ATTEMPTS = 3
MAX_REVIEW_CHARS = 40_000
INTEGRATION = "integration"
META_BRANCH = "meta"
MANIFEST = "manifest.json"

PLANNER_INSTRUCTIONS = (
    "You are the lead of a team of Python developers who work in parallel on separate branches and cannot "
    "talk to each other. First write the shared contract: a short summary, and the modules (file paths) with "
    "the exact symbols each must define (classes, functions, methods as Class.method), precise enough that "
    "independently written parts fit. Then split the work into at most {max_workers} independent tasks; give "
    "each an id, a title, complete instructions, and the files it owns (every file has one owner; tests "
    "belong to the task whose code they test)."
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
    "You repair a team's merged codebase in place with the file tools. Fix exactly what the failing checks "
    "and the reviewer's complaints point at, keep everything else, follow the contract, run run_checks to "
    "confirm, then reply with status 'done' and what you changed in result."
)

Steps = Generator[Any, Any, Any]


def checks_summary(checks: dict[str, Any]) -> str:
    tests = checks["tests"]
    test_line = (f"tests: {'passed' if tests['ok'] else 'FAILED'}" if tests["ran"]
                 else f"tests: not run ({tests.get('reason')})")
    lines = [f"parse: {'ok' if checks['parse']['ok'] else 'FAILED'}", *checks["parse"]["errors"],
             f"ruff: {'ok' if checks['ruff']['ok'] else 'FAILED'}"]
    if not checks["ruff"]["ok"]:
        lines.append(shorten(checks["ruff"]["output"], 3000))
    lines.append(test_line)
    if tests["ran"] and not tests["ok"]:
        lines.append(shorten(tests["output"], 4000))
    return "\n".join(lines)


def run_workers(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any]) -> Steps:
    contract = contract_text(plan)
    workers = yield from finish_all(context, [
        context.call_sub_orchestrator(CODE_WORKER, {"job_id": context.instance_id, "goal": spec["goal"],
                                                    "contract": contract, "task": task},
                                      step_instance_id(context, f"worker-{task['id']}"))
        for task in plan["tasks"]], "workers")
    parts = []
    for task, worker in zip(plan["tasks"], workers):
        if isinstance(worker.result, Exception):  # a worker never fails; if one did (a host problem), a gap
            reason = f"the worker failed ({shorten(str(worker.result), MAX_PROBLEM_CHARS)})"
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


def integrate(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
              conflict: dict[str, Any]) -> Steps:
    """Ask the integrator for one file until its resolution passes the guardrails; returns the record."""
    if conflict.get("clash") or conflict.get("too_large"):  # no one file can resolve it: a gap
        return {"path": conflict["path"], "status": "unresolved", "attempts": 0, "content": None,
                "rejected": [conflict.get("clash") or
                             "the conflicting versions are too large to hand to the integrator in one merge"]}
    rejected: list[str] = []
    for attempt in range(1, MAX_INTEGRATOR_ATTEMPTS + 1):
        step = yield from run_step(context, step_input(
            "code-integrator", INTEGRATOR_INSTRUCTIONS, integrator_prompt(spec, plan, conflict, rejected),
            output_type=ResolvedFile))
        output = step["output"] if isinstance(step["output"], dict) else {}
        content = str(output.get("content") or "")
        problems = resolution_problems(conflict["path"], content, conflict["ours"], conflict["theirs"],
                                       conflict["base"], contract_symbols(plan, conflict["path"]))
        if not problems:
            return {"path": conflict["path"], "status": "resolved", "attempts": attempt, "rejected": rejected,
                    "content": content}
        rejected.append("; ".join(problems))
    fallback = conflict["ours"] if conflict["ours"] is not None else conflict["theirs"] or ""
    return {"path": conflict["path"], "status": "unresolved", "attempts": MAX_INTEGRATOR_ATTEMPTS,
            "rejected": rejected, "content": fallback}


def merge_workers(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
                  parts: list[dict[str, Any]]) -> Steps:
    """Merge every finished worker branch in plan order; returns (merge records, the last merged branch)."""
    job_id = context.instance_id
    merged_into, merges = BASE_BRANCH, []
    branches = [part for part in parts if part["status"] == "done"]
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
        if written:  # a conflict too large for the integrator keeps git's markers, and is a gap
            yield context.call_activity("workspace_write_files", {"job_id": job_id, "branch": into, "files": written})
        merges.append({"branch": part["branch"], "into": into, "clean": not resolutions,
                       "conflicts": [{key: r[key] for key in ("path", "status", "attempts", "rejected")}
                                     for r in resolutions]})
        merged_into = into
    return merges, merged_into


def review_prompt(spec: dict[str, Any], plan: dict[str, Any], checks: dict[str, Any], code: str,
                  complaints: list[str] | None = None) -> str:
    lines = [f"Goal: {spec['goal']}", "", "Contract:", contract_text(plan), "", "Check results:",
             checks_summary(checks), "", "Code:", code]
    if complaints is not None:
        lines += ["", "Reviewer's complaints:", *[f"- {complaint}" for complaint in complaints]]
    return "\n".join(lines)


def quality_round(context: df.DurableOrchestrationContext, spec: dict[str, Any], plan: dict[str, Any],
                  what: str) -> Steps:
    """Checks on `integration`, then the judge: returns (checks, verdict)."""
    set_progress(context, "checking", f"checking {what}: parse, ruff, tests")
    checks = yield context.call_activity("workspace_checks", {"job_id": context.instance_id, "branch": INTEGRATION})
    code = yield context.call_activity("workspace_snapshot_text", {
        "job_id": context.instance_id, "branch": INTEGRATION, "limit": MAX_REVIEW_CHARS})
    set_progress(context, "judging", f"the judge is scoring {what}")
    step = yield from run_step(context, step_input(
        "code-judge", JUDGE_INSTRUCTIONS, review_prompt(spec, plan, checks, code), output_type=Verdict))
    return checks, normalise_verdict(step["output"])


def manifest(plan: dict[str, Any], parts: list[dict[str, Any]], merges: list[dict[str, Any]]) -> str:
    """What the download route needs to rebuild the history: branches in merge order."""
    return json.dumps({"base": BASE_BRANCH, "workers": [p["branch"] for p in parts if p["status"] == "done"],
                       "merges": [{"branch": m["branch"], "into": m["into"]} for m in merges],
                       "head": INTEGRATION, "tasks": {t["id"]: t["title"] for t in plan["tasks"]}}, indent=1)


@bp.orchestration_trigger(context_name="context")
def run_code_swarm_workflow(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    job_id, threshold = context.instance_id, spec["quality_threshold"]
    set_progress(context, "planning", "the planner is writing the contract and the tasks")
    planned = yield from run_step(context, step_input(
        "code-planner", PLANNER_INSTRUCTIONS.format(max_workers=spec["max_workers"]), f"Goal: {spec['goal']}",
        output_type=CodePlan))
    plan = normalise_code_plan(planned["output"], spec["max_workers"])

    forked = yield context.call_activity("workspace_fork", {
        "job_id": job_id, "target": BASE_BRANCH, "source": INTEGRATION if spec.get("base") else None,
        "source_job": spec.get("base")})
    if spec.get("base") and forked["files"] == 0:
        raise PlanError(f"base job {spec['base']} has no workspace files to start from")

    parts = yield from run_workers(context, spec, plan)
    merges, merged = yield from merge_workers(context, spec, plan, parts)
    yield context.call_activity("workspace_fork", {"job_id": job_id, "target": INTEGRATION, "source": merged})

    checks, verdict = yield from quality_round(context, spec, plan, "the merged tree")
    history = [{"round": 0, "score": verdict["score"], "checks": checks}]
    rounds = 0
    while (verdict["score"] < threshold or not checks["ok"]) and rounds < MAX_FIX_ROUNDS:
        rounds += 1
        set_progress(context, "fixing", f"fixing round {rounds}: score {verdict['score']} (threshold {threshold}), "
                                        f"checks {'pass' if checks['ok'] else 'fail'}", rounds, MAX_FIX_ROUNDS)
        yield from run_step(context, step_input(
            "code-fixer", FIXER_INSTRUCTIONS,
            review_prompt(spec, plan, checks, "(read it with the file tools)", verdict["complaints"]),
            output_type=None, workspace={"job_id": job_id, "branch": INTEGRATION}))
        checks, verdict = yield from quality_round(context, spec, plan, f"the result of fixing round {rounds}")
        history.append({"round": rounds, "score": verdict["score"], "checks": checks})

    yield context.call_activity("workspace_write_files", {
        "job_id": job_id, "branch": META_BRANCH, "files": {MANIFEST: manifest(plan, parts, merges)}})
    tree = yield context.call_activity("workspace_tree", {"job_id": job_id, "branch": INTEGRATION})
    gaps = [{"task_id": p["task_id"], "title": p["title"], "reason": p["reason"]} for p in parts if p["status"] == "gap"]
    gaps += [{"file": c["path"], "reason": f"merge conflict left unresolved: {c['rejected'][-1]}"}
             for m in merges for c in m["conflicts"] if c["status"] == "unresolved"]
    passed = verdict["score"] >= threshold and checks["ok"]
    set_progress(context, "completed", f"score {verdict['score']} ({'meets' if passed else 'below'} the threshold "
                                       f"{threshold}), checks {'pass' if checks['ok'] else 'fail'}, "
                                       f"{plural(rounds, 'fixing round')}, {plural(len(gaps), 'gap')}")
    return {"goal": spec["goal"], "plan": plan, "tree": tree, "checks": checks, "score": verdict["score"],
            "complaints": verdict["complaints"], "quality_threshold": threshold, "passed": passed, "rounds": rounds,
            "quality_history": history[:-1], "branches": parts, "merges": merges, "gaps": gaps,
            "downloads": {"zip": f"/api/workspaces/{job_id}/zip", "bundle": f"/api/workspaces/{job_id}/bundle"}}
