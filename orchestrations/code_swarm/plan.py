"""What the code swarm's planner, integrator and judge return, and the deterministic code that makes it
safe to act on (issue 12, step 1).

The planner writes the contract first: a summary, and the modules with the symbols each must define
(`TodoStore`, `TodoStore.add`, `parse_args`), then independent tasks, each owning files. Models
return near-misses (ids as int or str, `todo-storage.py`, tasks as a dict, one file as a string,
symbols written as signatures); `normalise_code_plan` turns them into one shape with the names in
their one spelling (`code_names`), gives each file one owner (a file two tasks claim stays with the
first, and the plan says so), or raises `PlanError` before anything is scheduled.
"""
from __future__ import annotations

import json
import re
from typing import Any, Union

from pydantic import BaseModel

from orchestrations.agents.step import structured_output
from orchestrations.code_swarm.names import BadName, normal_name, normal_path
from orchestrations.swarm.plan import PlanError
from orchestrations.swarm.plan import (
    _task_items as task_items,  # the same list-or-dict reading as run_swarm
)

MAX_TITLE_CHARS = 200
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")


@structured_output
class ContractModule(BaseModel):
    """One module of the contract: its file and the symbols it must define."""

    path: str = ""
    symbols: Union[list[str], str] = []
    purpose: str = ""


@structured_output
class CodeTask(BaseModel):
    """One independent task for one worker, with the files it owns."""

    id: Union[int, str, None] = None
    title: str = ""
    instructions: str = ""
    files: Union[list[str], str] = []


@structured_output
class CodePlan(BaseModel):
    """The planner's output: the contract (summary and modules) and the tasks."""

    contract: Union[str, dict[str, Any], list[Any]] = ""
    modules: list[ContractModule] = []
    tasks: Union[list[CodeTask], dict[str, CodeTask]] = []


@structured_output
class ResolvedFile(BaseModel):
    """The integrator's output: the whole resolved file."""

    content: str = ""


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []


def _symbols(raw: Any) -> list[str]:
    """`"TodoStore.add(item) -> int"` -> `TodoStore.add`; one symbol per entry, order kept, duplicates dropped."""
    found = [match.group(0) for entry in _as_list(raw) if (match := SYMBOL.match(str(entry).strip()))]
    return list(dict.fromkeys(found))


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
        entry["symbols"] = list(dict.fromkeys(entry["symbols"] + _symbols(module.get("symbols"))))
        entry["purpose"] = entry["purpose"] or str(module.get("purpose") or "").strip()
    return list(modules.values())


def normalise_code_plan(raw: Any, max_workers: int) -> dict[str, Any]:
    """`{"contract": str, "modules": [{path, symbols, purpose}], "tasks": [{id, title, instructions, files}],
    "owners": {path: task id}, "dropped": [str]}`; raises `PlanError` saying what is unusable."""
    if not isinstance(raw, dict):
        raise PlanError(f"the plan must be an object with contract, modules and tasks, got {type(raw).__name__}")
    contract = raw.get("contract")
    contract = contract if isinstance(contract, str) else json.dumps(contract, indent=2) if contract else ""
    dropped: list[str] = []
    modules = _modules(raw.get("modules"), dropped)
    if not contract.strip() and not modules:
        raise PlanError("the plan has no contract: the workers would not share module names and signatures")
    tasks, taken, owners = [], set(), {}
    for position, (id_hint, task) in enumerate(task_items(raw.get("tasks")), start=1):
        task = task if isinstance(task, dict) else {}
        task_id = normal_name(id_hint) or str(position)
        while task_id in taken:
            task_id = f"{task_id}_{position}"
        taken.add(task_id)
        instructions = str(task.get("instructions") or "").strip()
        if not instructions:
            dropped.append(f"task {task_id}: no instructions")
            continue
        files = []
        for raw_path in _as_list(task.get("files")):
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
        title = str(task.get("title") or instructions.splitlines()[0])[:MAX_TITLE_CHARS]
        tasks.append({"id": task_id, "title": title, "instructions": instructions,
                      "files": list(dict.fromkeys(files))})
    if not tasks:
        raise PlanError("the plan has no usable tasks")
    dropped += [f"task {task['id']}: over the limit of {max_workers} workers" for task in tasks[max_workers:]]
    tasks = tasks[:max_workers]
    kept = {task["id"] for task in tasks}
    return {"contract": contract.strip(), "modules": modules, "tasks": tasks,
            "owners": {path: owner for path, owner in owners.items() if owner in kept}, "dropped": dropped}


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
