"""What a goal fixes, kept in code: the file paths, modules and symbols it names (issue 22 §1).

A goal such as "calc/tokenizer.py with tokenize(text) -> list[str]; calc/evaluator.py with
evaluate(expression) -> float" fixes names the tests and the users rely on. A small model's plan moved
`calc/tokenizer.py` to the root as `tokenizer.py`; nothing noticed. `goal_names` reads the paths and, for
each, the symbols named after it (a call `name(`, a `Class.method`, a name in backquotes, `class Name`)
up to the next path; `keep_goal_names` then makes the plan agree with them before any worker starts (code
first, the model second): a plan file with a goal file's name in another folder is moved to the goal's
path, a goal file the plan lacks is added to the contract and given to a task, and the goal's symbols are
added to their module's. Plain functions over text (tested directly).
"""
from __future__ import annotations

import keyword
import re
from typing import Any

from orchestrations.code_swarm.names import BadName, normal_path

PATH = re.compile(r"(?<![\w/.-])((?:[A-Za-z_][\w-]*/)*[A-Za-z_][\w-]*\.py)\b")
# A call is a name directly followed by "(": prose such as "number tokens (integers or decimals)" or "the usual
# precedence (* and / first)" names no symbol (seen on the real model's calc goal: `tokens` and `precedence`
# were added to the contract, and the workers were told to define them).
CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\(")
QUOTED = re.compile(r"`(?:class\s+)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)(?:\([^`]*\))?`")
CLASS = re.compile(r"\bclass\s+([A-Z]\w*)")
NOT_SYMBOLS = set(keyword.kwlist) | {
    "list", "dict", "str", "int", "float", "bool", "tuple", "set", "print", "len", "range", "open", "type",
    "isinstance", "super", "object", "e", "g", "i", "ie", "eg", "pytest", "test", "tests", "json", "os", "sys"}


def goal_names(goal: str) -> dict[str, list[str]]:
    """`{path: [symbols]}` in the order the goal names them; paths in their workspace spelling."""
    found: dict[str, list[str]] = {}
    matches = list(PATH.finditer(goal))
    for number, match in enumerate(matches):
        try:
            path = normal_path(match.group(1))
        except BadName:
            continue
        end = matches[number + 1].start() if number + 1 < len(matches) else len(goal)
        text = goal[match.end():end]
        symbols = [m.group(1) for pattern in (CALL, QUOTED, CLASS) for m in pattern.finditer(text)]
        ordered = sorted(symbols, key=lambda name: text.find(name))
        names = found.setdefault(path, [])
        names += [name for name in dict.fromkeys(ordered)
                  if name.split(".")[0] not in NOT_SYMBOLS and name not in names]
    return found


def _mentions(task: dict[str, Any], path: str) -> bool:
    stem = path.rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
    return stem in f"{task['title']}\n{task['instructions']}".lower()


def owner_for(tasks: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """The task a file without an owner goes to: one that mentions it (its test's module for a test), else
    the task owning the fewest files."""
    return next((task for task in tasks if _mentions(task, path)),
                min(tasks, key=lambda task: len(task["files"])))


def keep_goal_names(goal: str, modules: list[dict[str, Any]], tasks: list[dict[str, Any]],
                    notes: list[str]) -> None:
    """Make the plan's `modules` and `tasks` (normalised shapes, changed in place) agree with the goal's
    paths and symbols; every change is added to `notes`."""
    named = goal_names(goal)
    by_path = {module["path"]: module for module in modules}
    for path, symbols in named.items():
        name = path.rsplit("/", 1)[-1]
        misplaced = [other for other in list(by_path) + [f for t in tasks for f in t["files"]]
                     if other != path and other.rsplit("/", 1)[-1] == name and other not in named]
        for wrong in dict.fromkeys(misplaced):
            notes.append(f"{wrong} moved to {path}, where the goal puts it")
            if wrong in by_path:
                module = by_path.pop(wrong)
                if path in by_path:
                    by_path[path]["symbols"] = list(dict.fromkeys(by_path[path]["symbols"] + module["symbols"]))
                    modules.remove(module)
                else:
                    module["path"], by_path[path] = path, module
            for task in tasks:
                task["files"] = list(dict.fromkeys(path if f == wrong else f for f in task["files"]))
        if path not in by_path:
            by_path[path] = {"path": path, "symbols": [], "purpose": ""}
            modules.append(by_path[path])
            notes.append(f"{path} added to the contract: the goal names it")
        module = by_path[path]
        missing = [symbol for symbol in symbols if symbol not in module["symbols"]]
        if missing:
            module["symbols"] += missing
            notes.append(f"{path}: {', '.join(missing)} added to the contract: the goal names them")
        owners = [task for task in tasks if path in task["files"]]
        for extra in owners[1:]:
            extra["files"].remove(path)
        if not owners and tasks:
            task = owner_for(tasks, path)
            task["files"].append(path)
            notes.append(f"{path} given to task {task['id']}: the goal names it and no task owned it")
