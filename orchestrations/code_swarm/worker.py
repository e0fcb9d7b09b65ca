"""`code_worker`: one worker of the code swarm, on its own branch, as a sub-orchestration that never fails
its parent (issue 12, steps 2 and 3; issue 22 §1).

It forks its branch `worker-<task id>` from the job's `base` branch, then runs its agent
(`code-worker-<task id>`) with the file tools bound to that branch, and checks what the agent did, not
what it says. Whole files handed in as fenced code blocks in the answer (`fenced_files`) are written to the
branch first, for the files the task owns and new files no other task owns, where the branch has not
changed them with the tools. Then the branch is judged (`workspace_changes`, and `workspace_facts` against
the contract):

- no file changed, or Python files that do not parse: the attempt is not accepted; the nudge shows what
  the task's files must contain (paths and the contract's symbols), not only "use write_file";
- functions left as placeholders (`pass`, `...`, `NotImplementedError`), a contract module the task owns
  left unwritten or without any of its symbols: the attempt is nudged with the names; on the last attempt
  the branch is kept as `incomplete` (merged, so the fixer can finish it, and listed among the gaps);
- a step stopped by a guard (a repeated call, the turn limit) is judged by its branch like any other; when it
  changed nothing, or the server could not read the model's tool calls, the next attempt runs without tools
  and asks for the files as fenced code blocks (`WITHOUT_TOOLS`): on the real model a solo worker called
  `run_checks` with its own schema as arguments until it was stopped, twice, and the tree stayed empty.
  A worker whose `MAX_ATTEMPTS` attempts wrote nothing gets that attempt as one more, its last resort (seen on
  the real model: the first attempt reported success with no file written, the second was stopped on a
  repeated `run_checks`, and the attempt without tools never came).

After its attempts a worker with nothing usable is a gap. The fork, every tool call and every write
are activities, so a crash repeats none that finished.
"""
from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrations.agents.step import run_step, step_input
from orchestrations.app_data.workspaces import read_branch, workspace_store
from orchestrations.code_swarm.facts import tree_facts
from orchestrations.code_swarm.fenced_files import fenced_files
from orchestrations.failures import step_failure
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, batches, fit, result_bytes
from orchestrations.swarm.plan import WorkerReport, normalise_report
from orchestrations.swarm.worker import MAX_PROBLEM_CHARS, tool_trouble, worker_prompt
from orchestrations.usage.ending import finish_step

bp = df.Blueprint()

CODE_WORKER = "code_worker"
MAX_ATTEMPTS = 2
WORKER_MAX_TURNS = 20
BASE_BRANCH = "base"

INSTRUCTIONS = (
    "You are a Python developer on a team; each member works on their own branch of a shared workspace and "
    "cannot talk to the others. Implement exactly your task, following the shared contract to the letter "
    "(module paths, names, signatures), in the files you own. Write real, working code (no placeholders such "
    "as pass or ...) and pytest tests for it. Write each file with write_file(path, content), content being "
    "the whole file as one string, or put each whole file in your answer as a fenced code block whose first "
    "line is '# <its path>'; the other file tools are list_files, read_file, delete_file, search_files and "
    "run_checks."
)
WITHOUT_TOOLS = ("No tools are available this time: reply with each whole file of your task in a fenced code "
                 "block whose first line is '# <its path>' (real code, no placeholders).")
UNKNOWN_TOOL_HINT = (
    "The functions of the contract are not tools: write their code into your files with write_file(path, "
    "content), or reply with each whole file in a fenced code block whose first line is '# <its path>'."
)


def branch_of(task_id: str) -> str:
    return f"worker-{task_id}"


def files_wanted(task: dict[str, Any], modules: list[dict[str, Any]]) -> str:
    """What the task's files must contain, one line each: the path and the contract's symbols for it."""
    symbols = {module["path"]: module["symbols"] for module in modules}
    lines = [f"- {path}: " + (f"defines {', '.join(symbols[path])}" if symbols.get(path) else
                             "pytest tests of your code" if "test" in path.rsplit("/", 1)[-1] else "your code")
             for path in task["files"]]
    return "\n".join(lines) or "- the files your task names"


def attempt_problem(task: dict[str, Any], modules: list[dict[str, Any]], step: dict[str, Any],
                    changes: dict[str, Any], facts: dict[str, Any]) -> tuple[str | None, str | None]:
    """(why the attempt cannot be used at all, or None; what is missing from a usable one, or None).
    Judged by the branch, not by the report."""
    report = normalise_report(step.get("output"))
    if not (changes["added"] or changes["modified"] or changes["deleted"]):
        said = (f"it reported failure ({report['problem'] or 'no reason given'})" if report["status"] != "done"
                else f"it stopped ({step['stopped']})" if step.get("stopped") else "it reported success")
        return (f"{said} but changed no file on its branch. Your files must contain:\n{files_wanted(task, modules)}\n"
                f"Write each with write_file(path, content), or reply with each whole file in a fenced code "
                f"block whose first line is '# <its path>'"), None
    if changes["parse_errors"]:
        return f"its Python files do not parse: {'; '.join(changes['parse_errors'])}", None
    own = set(task["files"]) | set(changes["added"]) | set(changes["modified"])
    hollow = {path: names for path, names in facts["placeholders"].items() if path in own}
    symbols = {module["path"]: module["symbols"] for module in modules}
    # a module the task owns with none of its symbols (a file two tasks share may lack the other's part)
    lacking = {path: names for path, names in facts["missing"].items()
               if path in task["files"] and len(names) == len(symbols.get(path, []))}
    lacking_files = [path for path in facts["missing_files"] if path in task["files"]]
    parts = [f"{path} has placeholders instead of code in {', '.join(names)}" for path, names in hollow.items()]
    parts += [f"{path} lacks {', '.join(names)}, which the contract names" for path, names in lacking.items()]
    parts += [f"{path} was not written" for path in lacking_files]
    return None, ("; ".join(parts) + ". Write the real implementations") if parts else None


def contribution(task: dict[str, Any], report: str | None, changes: dict[str, Any] | None, attempts: int,
                 problems: list[str], incomplete: str | None = None) -> dict[str, Any]:
    """`status`: "done", "incomplete" (usable, merged, with `reason` saying what is missing) or "gap"."""
    status = "gap" if report is None else "incomplete" if incomplete else "done"
    part = {"task_id": task["id"], "title": task["title"], "branch": branch_of(task["id"]), "status": status,
            "summary": report, "attempts": attempts,
            "changes": {key: (changes or {}).get(key, []) for key in ("added", "modified", "deleted")},
            "problems": problems}
    if status == "gap":
        part = {**part, "reason": problems[-1]}
    elif incomplete:
        part = {**part, "reason": incomplete}
    return fit(part, PAYLOAD_BUDGET_BYTES, result_bytes)


def handed_in(text: Any, task: dict[str, Any], owners: dict[str, str], changes: dict[str, Any]) -> dict[str, str]:
    """The fenced files of an answer that may be written to the task's branch (see the module docstring)."""
    touched = set(changes["added"]) | set(changes["modified"]) | set(changes["deleted"])
    return {path: content for path, content in fenced_files(text).items()
            if owners.get(path, task["id"]) == task["id"] and path not in touched}


@bp.activity_trigger(input_name="step")
def workspace_facts(step: dict) -> dict:
    """`{job_id, branch, modules}` -> `facts.tree_facts` of the branch against the contract's modules."""
    return tree_facts(read_branch(workspace_store(), step["job_id"], step["branch"]), step["modules"])


@bp.orchestration_trigger(context_name="context", orchestration=CODE_WORKER)
def code_worker(context: df.DurableOrchestrationContext):
    assignment = context.get_input()
    task, job_id = assignment["task"], assignment["job_id"]
    modules, owners = assignment.get("modules", []), assignment.get("owners", {})
    branch = branch_of(task["id"])
    where = {"job_id": job_id, "branch": branch}
    yield context.call_activity("workspace_fork", {"job_id": job_id, "target": branch, "source": BASE_BRANCH})
    problems: list[str] = []
    changes, usable = None, None
    wanted = f"Your files, and what each must contain:\n{files_wanted(task, modules)}" if task["files"] else None
    without_tools = ran_without_tools = False
    attempt = 0
    while attempt < MAX_ATTEMPTS or (without_tools and not ran_without_tools):  # the last resort: one more
        attempt += 1
        ran_without_tools = ran_without_tools or without_tools
        requirement = "\n".join(filter(None, [wanted, WITHOUT_TOOLS if without_tools else None])) or None
        request = step_input(f"code-worker-{task['id']}", INSTRUCTIONS,
                             worker_prompt(assignment, problems[-1] if problems else None, requirement),
                             output_type=None if without_tools else WorkerReport,
                             workspace=None if without_tools else where, max_turns=WORKER_MAX_TURNS,
                             unknown_tool_hint=UNKNOWN_TOOL_HINT)
        try:
            step = yield from run_step(context, request)
        except Exception as error:  # a failed agent step: retried, then reported as a gap
            problems.append(f"the agent failed ({step_failure(error, MAX_PROBLEM_CHARS)})")
            without_tools = without_tools or tool_trouble(problems[-1], None)
            continue
        changes = yield context.call_activity("workspace_changes", {**where, "base": BASE_BRANCH})
        files = handed_in(step.get("text") or step.get("output"), task, owners, changes)
        if files:
            for part in batches(files, PAYLOAD_BUDGET_BYTES - 1_000):  # inputs under the payload limit
                yield context.call_activity("workspace_write_files", {**where, "files": part})
            changes = yield context.call_activity("workspace_changes", {**where, "base": BASE_BRANCH})
        facts = yield context.call_activity("workspace_facts", {**where, "modules": modules})
        problem, missing = attempt_problem(task, modules, step, changes, facts)
        summary = normalise_report(step.get("output"))["result"] or f"wrote {', '.join(files) or 'files'}"
        if problem is None and missing is None:
            return (yield from finish_step(context, CODE_WORKER, contribution(task, summary, changes, attempt,
                                                                              problems)))
        if problem is None:  # usable but incomplete: kept, in case the next attempt breaks it
            usable = (summary, changes, missing)
            yield context.call_activity("workspace_fork", {"job_id": job_id, "target": f"{branch}-kept",
                                                           "source": branch})
        problems.append(problem or missing)
        wrote_nothing = not (changes["added"] or changes["modified"] or changes["deleted"])
        without_tools = without_tools or (wrote_nothing and usable is None
                                          and (tool_trouble(problems[-1], step) or attempt >= MAX_ATTEMPTS))
    if usable:
        if problems[-1] != usable[2]:  # the last attempt left nothing usable: back to the kept one
            yield context.call_activity("workspace_fork", {"job_id": job_id, "target": branch,
                                                           "source": f"{branch}-kept"})
        return (yield from finish_step(context, CODE_WORKER, contribution(
            task, usable[0], usable[1], attempt, problems, incomplete=usable[2])))
    return (yield from finish_step(context, CODE_WORKER, contribution(task, None, changes, attempt, problems)))
