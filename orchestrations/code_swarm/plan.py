"""What the code swarm's planner, integrator and judge return, and the deterministic code that makes it
safe to act on (issue 12, step 1; issue 22 §1).

The planner writes the contract first: a summary, and the modules with the symbols each must define
(`TodoStore`, `TodoStore.add`, `parse_args`), then independent tasks, each owning files. The output types
are what is asked for (every field required, `agents/structured.py`). Models return near-misses (ids as
int or str, `todo-storage.py`, tasks as a dict, one file as a string, symbols written as signatures, a
task with only a title, more tasks than workers, a goal's file put in another folder);
`normalise_code_plan` turns them into one shape with the names in their one spelling (`code_names`), keeps
what the goal fixes (`goal_names`), gives each file one owner (a file two tasks claim stays with the first,
and the plan says so; a contract module nobody owns goes to a task), folds tasks over the limit into kept
ones, or raises `PlanError` with every reason, so the workflow can ask again.
"""
from __future__ import annotations

import builtins
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from orchestrations.agents.step import structured_output
from orchestrations.code_swarm.goal_names import goal_names, keep_goal_names, owner_for
from orchestrations.code_swarm.names import BadName, normal_name, normal_path
from orchestrations.swarm.plan import PlanError, fold_over_limit, task_text
from orchestrations.swarm.plan import (
    _task_items as task_items,  # the same list-or-dict reading as run_swarm
)

MAX_TITLE_CHARS = 200
MAX_MODULES = 20
MAX_TASKS = 8
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
# Python's own classes (ValueError, dict, ...): a module raises or uses them, it does not define them. Builtin
# functions (open, sum) stay: a module may well define its own.
BUILTIN_CLASSES = frozenset(name for name in dir(builtins) if isinstance(getattr(builtins, name), type))
Path = Annotated[str, StringConstraints(max_length=200)]


@structured_output
class ContractModule(BaseModel):
    """One module of the contract: its file and the symbols it must define."""

    path: Path = Field(description="the file path, e.g. 'todo/storage.py'")
    symbols: list[str] = Field(description="classes, functions and methods as Class.method, e.g. 'TodoStore.add'")
    purpose: str


@structured_output
class CodeTask(BaseModel):
    """One independent task for one worker, with the files it owns."""

    id: str = Field(description="a short id, e.g. '1' or 'storage'")
    title: str
    instructions: str = Field(description="complete instructions: the worker sees only these and the contract")
    files: list[Path] = Field(description="the files this task writes (its code and its tests)")


@structured_output
class CodePlan(BaseModel):
    """The planner's output: the contract (summary and modules) and the tasks."""

    contract: str = Field(description="a short summary of what is built and the data shapes shared")
    modules: list[ContractModule] = Field(min_length=1, max_length=MAX_MODULES)
    tasks: list[CodeTask] = Field(min_length=1, max_length=MAX_TASKS)


@structured_output
class ResolvedFile(BaseModel):
    """The integrator's output: the whole resolved file."""

    content: str


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []


def _symbols(raw: Any, path: str, dropped: list[str]) -> list[str]:
    """`"TodoStore.add(item) -> int"` -> `TodoStore.add`; one symbol per entry, order kept, duplicates dropped.
    Python's builtins are not a module's to define: a real planner listed `ValueError` and `ZeroDivisionError`
    (the errors the goal says to raise) as symbols of calc/evaluator.py, and the workers were told to define
    them (issue 22); they are dropped with a note."""
    found = [match.group(0) for entry in _as_list(raw) if (match := SYMBOL.match(str(entry).strip()))]
    builtin = [name for name in dict.fromkeys(found) if name.split(".")[0] in BUILTIN_CLASSES]
    if builtin:
        dropped.append(f"{path}: {', '.join(builtin)} removed from the contract: Python's own, not the module's")
    return [name for name in dict.fromkeys(found) if name not in builtin]


def _modules(raw: Any, dropped: list[str]) -> list[dict[str, Any]]:
    modules: dict[str, dict[str, Any]] = {}
    for module in _as_list(raw):
        module = module if isinstance(module, dict) else {}
        try:
            path = normal_path(module.get("path"))
        except BadName as error:
            dropped.append(f"contract module {module.get('path')!r}: {error}")
            continue
        entry = modules.setdefault(path, {"path": path, "symbols": [], "purpose": ""})
        entry["symbols"] = list(dict.fromkeys(entry["symbols"] + _symbols(module.get("symbols"), path, dropped)))
        entry["purpose"] = entry["purpose"] or str(module.get("purpose") or "").strip()
    return list(modules.values())


def one_module_per_symbol(modules: list[dict[str, Any]], goal: str, dropped: list[str]) -> None:
    """A symbol the contract lists under several modules is defined by one: the module the goal names it
    for, else the first that lists it; the others import it (changed in place, each removal noted). The
    real planner's calc contract listed `to_rpn` under calc/evaluator.py too, and its own constants under all
    three modules, so every worker was told to define them all (issue 22)."""
    named = goal_names(goal)
    home: dict[str, str] = {}
    for module in modules:
        for symbol in module["symbols"]:
            home.setdefault(symbol, next((path for path, names in named.items() if symbol in names),
                                         module["path"]))
    for module in modules:
        elsewhere = [symbol for symbol in module["symbols"] if home[symbol] != module["path"]]
        if elsewhere:
            module["symbols"] = [symbol for symbol in module["symbols"] if symbol not in elsewhere]
            dropped.append(f"{module['path']}: {', '.join(elsewhere)} left to the module that defines them")


def normalise_code_plan(raw: Any, max_workers: int, goal: str = "") -> dict[str, Any]:
    """`{"contract": str, "modules": [{path, symbols, purpose}], "tasks": [{id, title, instructions, files}],
    "owners": {path: task id}, "dropped": [str]}`; raises `PlanError` with every reason it is unusable."""
    if isinstance(raw, list):
        raw = {"tasks": raw}
    if not isinstance(raw, dict):
        raise PlanError(f"the answer is not a JSON object with contract, modules and tasks "
                        f"(it began {str(raw)[:80]!r})")
    contract = raw.get("contract")
    contract = contract if isinstance(contract, str) else json.dumps(contract, indent=2) if contract else ""
    dropped: list[str] = []
    modules = _modules(raw.get("modules"), dropped)
    tasks, taken, owners = [], set(), {}
    for position, (id_hint, task) in enumerate(task_items(raw.get("tasks")), start=1):
        task_id = normal_name(id_hint) or str(position)
        while task_id in taken:
            task_id = f"{task_id}_{position}"
        taken.add(task_id)
        instructions, title, note = task_text(task)
        if not instructions:
            dropped.append(f"task {task_id}: no instructions and no title")
            continue
        if note:
            dropped.append(f"task {task_id}: {note}")
        files = []
        for raw_path in _as_list(task.get("files") if isinstance(task, dict) else None):
            try:
                path = normal_path(raw_path)
            except BadName as error:
                dropped.append(f"task {task_id}: file {raw_path!r} removed ({error})")
                continue
            if path in owners and owners[path] != task_id:
                dropped.append(f"task {task_id}: {path} is owned by task {owners[path]}")
                continue
            owners[path] = task_id
            files.append(path)
        tasks.append({"id": task_id, "title": title, "instructions": instructions,
                      "files": list(dict.fromkeys(files))})
    problems = [] if contract.strip() or modules else [
        "it has no contract (the modules and the symbols each defines, which the workers share)"]
    if not tasks:
        problems.append("it has no usable tasks" + (f" ({'; '.join(dropped)})" if dropped else
                                                    " (tasks must be a list of objects with instructions)"))
    if problems:
        raise PlanError("the plan cannot be used: " + "; ".join(problems))
    keep_goal_names(goal, modules, tasks, dropped)
    one_module_per_symbol(modules, goal, dropped)
    owned = {path for task in tasks for path in task["files"]}
    for module in modules:
        if module["path"] not in owned:
            task = owner_for(tasks, module["path"])
            task["files"].append(module["path"])
            dropped.append(f"{module['path']} given to task {task['id']}: the contract names it and no task owned it")
    tasks = fold_over_limit(tasks, max_workers, dropped)
    return {"contract": contract.strip(), "modules": modules, "tasks": tasks,
            "owners": {path: task["id"] for task in tasks for path in task["files"]}, "dropped": dropped}


def contract_text(plan: dict[str, Any]) -> str:
    """The contract as every agent's prompt shows it: the summary, each module's symbols, and who owns which file."""
    lines = [plan["contract"]] if plan["contract"] else []
    if plan["modules"]:
        lines += ["", "Modules (each must define these symbols):"]
        for module in plan["modules"]:
            purpose = f" - {module['purpose']}" if module["purpose"] else ""
            lines.append(f"- {module['path']}: {', '.join(module['symbols']) or '(no symbols named)'}{purpose}")
    if plan["owners"]:
        lines += ["", "File ownership (edit only your own files unless you must):"]
        lines += [f"- {path}: task {owner}" for path, owner in sorted(plan["owners"].items())]
    return "\n".join(lines)


def contract_symbols(plan: dict[str, Any], path: str) -> list[str]:
    """The symbols the contract names for one file."""
    return next((module["symbols"] for module in plan["modules"] if module["path"] == path), [])
