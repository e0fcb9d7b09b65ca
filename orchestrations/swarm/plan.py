"""What the swarm's planner and judge return, and the deterministic code that makes it safe to act on.

Models return near-misses: task ids as numbers or strings, tasks as a list or as a dict keyed by id,
a contract as prose or as an object, a score as "85" or 85.0, one complaint as a bare string. The
output types below accept those shapes (they are sent to the model as a non-strict schema), and
`normalise_plan` / `normalise_verdict` turn them into one shape, or raise `PlanError` saying what is
unusable, before anything is scheduled on them. Plain functions with no Durable or model
dependency, so they are tested directly.
"""
from __future__ import annotations

import json
import re
from typing import Any, Union

from pydantic import BaseModel

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.step import structured_output

MAX_TITLE_CHARS = 200


@structured_output
class PlannedTask(BaseModel):
    """One independent task for one specialist worker."""

    id: Union[int, str, None] = None
    title: str = ""
    instructions: str = ""
    tools: Union[list[str], str] = []


@structured_output
class SwarmPlan(BaseModel):
    """The planner's output: the contract every worker follows, and the tasks."""

    contract: Union[str, dict[str, Any], list[Any]] = ""
    tasks: Union[list[PlannedTask], dict[str, PlannedTask]] = []


@structured_output
class Verdict(BaseModel):
    """The judge's output: a score from 0 to 100 and concrete complaints."""

    score: Union[int, float, str]
    complaints: Union[list[str], str] = []


@structured_output
class WorkerReport(BaseModel):
    """A worker's output: whether it finished its task, and its contribution."""

    status: str = "done"
    result: str = ""
    problem: str = ""


class PlanError(ValueError):
    """A plan (or verdict) the workflow cannot act on; the message says why."""


def _task_id(raw: Any, position: int, taken: set[str]) -> str:
    """A unique, marker-safe id: 3, "3" and "task 3" all work; clashes get a suffix."""
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "-", str(raw).strip()).strip("-") if raw not in (None, "") else ""
    candidate = text or str(position)
    unique, n = candidate, 2
    while unique in taken:
        unique, n = f"{candidate}-{n}", n + 1
    taken.add(unique)
    return unique


def _task_items(tasks: Any) -> list[tuple[Any, Any]]:
    """(id hint, task) pairs from a list of tasks or a dict of tasks keyed by id."""
    if isinstance(tasks, dict):
        return [(task.get("id", key) if isinstance(task, dict) else key, task) for key, task in tasks.items()]
    if isinstance(tasks, list):
        return [(task.get("id") if isinstance(task, dict) else None, task) for task in tasks]
    raise PlanError(f"the plan's tasks must be a list or an object, got {type(tasks).__name__}")


def normalise_plan(raw: Any, max_workers: int) -> dict[str, Any]:
    """`{"contract": str, "tasks": [{"id": str, "title", "instructions", "tools"}], "dropped": [...]}`.

    Tasks without instructions are dropped, unknown tool names are removed, and tasks beyond
    `max_workers` are dropped; each drop is listed in `dropped` so the output shows it.
    """
    if not isinstance(raw, dict):
        raise PlanError(f"the plan must be an object with contract and tasks, got {type(raw).__name__}")
    contract = raw.get("contract")
    contract = contract if isinstance(contract, str) else json.dumps(contract, indent=2) if contract else ""
    if not contract.strip():
        raise PlanError("the plan has no contract: the workers would not share names and data shapes")
    tasks, dropped, taken = [], [], set()
    for position, (id_hint, task) in enumerate(_task_items(raw.get("tasks")), start=1):
        task = task if isinstance(task, dict) else {}
        instructions = str(task.get("instructions") or "").strip()
        task_id = _task_id(id_hint, position, taken)
        if not instructions:
            dropped.append(f"task {task_id}: no instructions")
            continue
        tools = task.get("tools") or []
        tools = [tools] if isinstance(tools, str) else [str(name) for name in tools]
        unknown = [name for name in tools if name not in BUILTIN_TOOLS]
        if unknown:
            dropped.append(f"task {task_id}: unknown tools {', '.join(unknown)} removed")
        title = str(task.get("title") or instructions.splitlines()[0])[:MAX_TITLE_CHARS]
        tasks.append({"id": task_id, "title": title, "instructions": instructions,
                      "tools": list(dict.fromkeys(name for name in tools if name in BUILTIN_TOOLS))})
    if not tasks:
        raise PlanError("the plan has no usable tasks")
    dropped += [f"task {task['id']}: over the limit of {max_workers} workers" for task in tasks[max_workers:]]
    return {"contract": contract.strip(), "tasks": tasks[:max_workers], "dropped": dropped}


def normalise_verdict(raw: Any) -> dict[str, Any]:
    """`{"score": int 0-100, "complaints": [str]}` from whatever shape the judge returned."""
    if not isinstance(raw, dict):
        raise PlanError(f"the verdict must be an object with score and complaints, got {type(raw).__name__}")
    try:
        score = round(float(str(raw.get("score")).strip().rstrip("%")))
    except ValueError:
        raise PlanError(f"the verdict's score {raw.get('score')!r} is not a number") from None
    complaints = raw.get("complaints") or []
    complaints = [complaints] if isinstance(complaints, str) else complaints
    return {"score": min(100, max(0, score)),
            "complaints": [str(c).strip() for c in complaints if str(c).strip()]}
