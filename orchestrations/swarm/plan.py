"""What the swarm's planner, workers and judge return, and the deterministic code that makes it safe to act on.

The output types below are what is asked for: every field required, with the bounds the workflow relies on
(`agents/structured.py` sends them so and reads the answer leniently). Models still return near-misses:
task ids as numbers or strings, tasks as a list or as a dict keyed by id, a contract as prose or as an
object, a score as "85" or "85/100", one complaint as a bare string, a task with a title and no
instructions, more tasks than workers. `normalise_plan` / `normalise_verdict` / `normalise_report` turn
them into one shape, keeping all that can be kept (a title stands in for missing instructions, tasks over
the limit are folded into kept ones, never dropped with their work), or raise `PlanError` with every reason
collected, so the workflow can ask again with them. Plain functions with no Durable or model dependency,
so they are tested directly.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.step import structured_output
from orchestrations.wording import shorten

MAX_TITLE_CHARS = 200
MAX_COMPLAINTS = 8
MAX_COMPLAINT_CHARS = 400
MAX_PLANNED_TASKS = 10
SUCCESS_WORDS = {"done", "success", "succeeded", "complete", "completed", "ok"}
FAILURE_MARK = re.compile(r"^\s*(FAILED|ERROR)\b[:\s]", re.IGNORECASE)
URL = re.compile(r"https?://", re.IGNORECASE)
# Arithmetic written out ("6*7", "12 - 4"; not a range such as "70-80 C") or a word that asks for a figure.
FIGURES = re.compile(r"\d\s*[+*/×÷^%]\s*\(?\d|\d\s+-\s+\d|\b(calculat\w*|comput\w*|arithmetic|sum|totals?|average"
                     r"|percent\w*|ratio|convert\w*|multipl\w*|divid\w*|how (many|much)|budget\w*|costs?|prices?)\b",
                     re.IGNORECASE)
# A tool the planner names is kept for a task only where the task can use it, decided from the goal and the
# task's text, not from the planner's say: fetch_url needs an address to fetch, calculate something to work out.
# Seen on a real model (issue 22): the planner handed both to the tasks of a guide to brewing tea, and its
# workers spent their turns calling calculate on made-up expressions.
TOOL_NEEDS = {"fetch_url": (URL, "no URL to fetch in the goal or the task"),
              "calculate": (FIGURES, "nothing to calculate in the goal or the task")}

Complaint = Annotated[str, StringConstraints(max_length=MAX_COMPLAINT_CHARS)]


@structured_output
class PlannedTask(BaseModel):
    """One independent task for one specialist worker."""

    id: str = Field(description="a short id, e.g. '1' or 'water'")
    title: str = Field(description="a short title")
    instructions: str = Field(description="complete instructions for the worker, who sees only these and the "
                                          "contract")
    tools: list[str] = Field(description="names of the tools the task needs, or an empty list")


@structured_output
class SwarmPlan(BaseModel):
    """The planner's output: the contract every worker follows, and the tasks."""

    contract: str = Field(description="every name, interface and data shape the parts must agree on")
    tasks: list[PlannedTask] = Field(min_length=1, max_length=MAX_PLANNED_TASKS)


@structured_output
class Verdict(BaseModel):
    """The judge's output: a score from 0 to 100 and concrete complaints."""

    score: int = Field(ge=0, le=100)
    complaints: list[Complaint] = Field(max_length=MAX_COMPLAINTS,
                                        description="concrete, actionable complaints; empty when there are none")


@structured_output
class WorkerReport(BaseModel):
    """A worker's output: whether it finished its task ("done" or "failed"), its contribution in result, and
    what stopped it in problem."""

    status: Literal["done", "failed"]
    result: str
    problem: str


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
    """(id hint, task) pairs from a list of tasks, a dict of tasks keyed by id, one task, or one instruction."""
    if isinstance(tasks, dict) and ("instructions" in tasks or "title" in tasks):
        tasks = [tasks]  # one task, not a dict of tasks
    if isinstance(tasks, str) and tasks.strip():
        tasks = [{"instructions": tasks}]
    if isinstance(tasks, dict):
        return [(task.get("id", key) if isinstance(task, dict) else key, task) for key, task in tasks.items()]
    if isinstance(tasks, list):
        return [(task.get("id") if isinstance(task, dict) else None, task) for task in tasks]
    raise PlanError(f"the plan's tasks must be a list of objects, got {type(tasks).__name__}")


def task_text(task: Any) -> tuple[str, str, str | None]:
    """(instructions, title, note) of one planned task: a task with a title and no instructions is
    instructed by its title (the note says so); a task with neither has empty instructions."""
    if isinstance(task, str):
        task = {"instructions": task}
    task = task if isinstance(task, dict) else {}
    instructions = str(task.get("instructions") or task.get("description") or "").strip()
    title = str(task.get("title") or task.get("name") or "").strip()
    note = None
    if not instructions and title:
        instructions, note = title, "no instructions: its title is its instructions"
    title = (title or (instructions.splitlines()[0] if instructions else ""))[:MAX_TITLE_CHARS]
    return instructions, title, note


def as_names(value: Any) -> list[str]:
    """A list of names from a list, one string or a comma-separated string; order kept, no duplicates."""
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    names = [str(name).strip() for name in value] if isinstance(value, (list, tuple)) else []
    return list(dict.fromkeys(name for name in names if name))


def fold_over_limit(tasks: list[dict[str, Any]], limit: int, notes: list[str]) -> list[dict[str, Any]]:
    """At most `limit` tasks: each task over the limit is folded into a kept one (in turn), its instructions
    appended and its list fields (tools, files) joined, so no part of the goal is dropped with it."""
    kept = [dict(task) for task in tasks[:limit]]
    for position, extra in enumerate(tasks[limit:]):
        into = kept[position % limit]
        into["instructions"] += f"\n\nAlso (task {extra['id']}, {extra['title']}):\n{extra['instructions']}"
        for key, value in extra.items():
            if isinstance(value, list):
                into[key] = list(dict.fromkeys(into.get(key, []) + value))
        notes.append(f"task {extra['id']}: over the limit of {limit} workers, folded into task {into['id']}")
    return kept


def normalise_plan(raw: Any, max_workers: int, goal: str = "") -> dict[str, Any]:
    """`{"contract": str, "tasks": [{"id": str, "title", "instructions", "tools"}], "dropped": [...]}`.

    Tasks with neither instructions nor a title are dropped; unknown tool names, and tools the task cannot
    use (`TOOL_NEEDS`, looked for in `goal` and the task), are removed; tasks beyond `max_workers` are folded
    into kept ones. Each change is listed in `dropped` so the output shows it. `PlanError` carries every
    reason when nothing usable is left."""
    if isinstance(raw, list):
        raw = {"tasks": raw}
    if not isinstance(raw, dict):
        raise PlanError(f"the answer is not a JSON object with contract and tasks (it began {str(raw)[:80]!r})")
    contract = raw.get("contract")
    contract = contract if isinstance(contract, str) else json.dumps(contract, indent=2) if contract else ""
    tasks, dropped, taken = [], [], set()
    for position, (id_hint, task) in enumerate(_task_items(raw.get("tasks")), start=1):
        instructions, title, note = task_text(task)
        task_id = _task_id(id_hint, position, taken)
        if not instructions:
            dropped.append(f"task {task_id}: no instructions and no title")
            continue
        if note:
            dropped.append(f"task {task_id}: {note}")
        tools = as_names(task.get("tools") if isinstance(task, dict) else None)
        unknown = [name for name in tools if name not in BUILTIN_TOOLS]
        if unknown:
            dropped.append(f"task {task_id}: unknown tools {', '.join(unknown)} removed")
        usable = []
        for name in (name for name in tools if name in BUILTIN_TOOLS):
            need = TOOL_NEEDS.get(name)
            if need and not need[0].search(f"{goal}\n{instructions}"):
                dropped.append(f"task {task_id}: tool {name} removed ({need[1]})")
            else:
                usable.append(name)
        tasks.append({"id": task_id, "title": title, "instructions": instructions, "tools": usable})
    problems = [] if contract.strip() else ["it has no contract (the names and shapes every part must share)"]
    if not tasks:
        problems.append("it has no usable tasks" + (f" ({'; '.join(dropped)})" if dropped else
                                                    " (tasks must be a list of objects with instructions)"))
    if problems:
        raise PlanError("the plan cannot be used: " + "; ".join(problems))
    return {"contract": contract.strip(), "tasks": fold_over_limit(tasks, max_workers, dropped), "dropped": dropped}


def normalise_verdict(raw: Any) -> dict[str, Any]:
    """`{"score": int 0-100, "complaints": [str]}` (at most `MAX_COMPLAINTS`, each at most
    `MAX_COMPLAINT_CHARS`) from whatever shape the judge returned: "85", 85.0, "85/100", "85%"."""
    if not isinstance(raw, dict):
        raise PlanError(f"the verdict is not a JSON object with score and complaints (it began {str(raw)[:80]!r})")
    number = re.match(r"\s*(-?\d+(?:\.\d+)?)", str(raw.get("score")))
    if number is None:
        raise PlanError(f"the verdict's score {str(raw.get('score'))[:40]!r} is not a number")
    complaints = raw.get("complaints") or []
    complaints = [complaints] if isinstance(complaints, str) else complaints if isinstance(complaints, list) else []
    complaints = [shorten(str(c).strip(), MAX_COMPLAINT_CHARS) for c in complaints if str(c).strip()]
    return {"score": min(100, max(0, round(float(number.group(1))))),
            "complaints": list(dict.fromkeys(complaints))[:MAX_COMPLAINTS]}


def normalise_report(raw: Any) -> dict[str, str]:
    """`{"status": "done" | "failed", "result": str, "problem": str}` from a worker's answer: the JSON
    report asked for, or plain text (the contribution itself; text starting with "FAILED:" is a failure)."""
    if isinstance(raw, dict) and ({"status", "result", "problem"} & set(raw)):
        status = str(raw.get("status") or "").strip().lower()
        result, problem = str(raw.get("result") or "").strip(), str(raw.get("problem") or "").strip()
        done = status in SUCCESS_WORDS or (not status and bool(result))
        return {"status": "done" if done else "failed", "result": result, "problem": problem}
    text = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
    if FAILURE_MARK.match(text):
        return {"status": "failed", "result": "", "problem": FAILURE_MARK.sub("", text, count=1).strip()}
    return {"status": "done", "result": text.strip(), "problem": ""}
