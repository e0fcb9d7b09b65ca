"""Guardrails checked in code on what an agent resolved or wrote (issue 12, steps 3 and 4).

An integrator agent resolves a merge conflict; before its file is accepted, `resolution_problems`
checks with `ast` that it parses, that no conflict marker is left, that every symbol the contract
names for the file still exists, that no implementation was replaced by a placeholder (`pass`,
`...`, `raise NotImplementedError`, a `TODO`), and that neither side was dropped wholesale (every
top-level name either side defined survives; for other files, some of each side's own lines).
A non-empty list of problems rejects the resolution, and the reasons go back to the agent.
Plain functions over text (tested directly).
"""
from __future__ import annotations

import ast
import re
from typing import Iterable

CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7}|\|{7})( |$)", re.MULTILINE)
TODO = re.compile(r"\b(TODO|FIXME|XXX)\b")


def parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def defined_names(tree: ast.Module) -> set[str]:
    """Top-level functions, classes, assigned and imported names, and `Class.method` for methods."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{item.name}" for item in node.body
                          if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found |= {f"{node.name}.{item.name}": item for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return found


def is_placeholder(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body of only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return True
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                and statement.value.value is Ellipsis:
            continue
        if isinstance(statement, ast.Raise) and statement.exc is not None and "NotImplementedError" in ast.unparse(
                statement.exc):
            continue
        return False
    return True


def placeholders(source: str) -> set[str]:
    """Names of the functions and methods in `source` whose body is a placeholder."""
    tree = parse(source)
    return {name for name, function in _functions(tree).items() if is_placeholder(function)} if tree else set()


def _own_lines(side: str | None, base: str | None) -> set[str]:
    base_lines = set((base or "").splitlines())
    return {line.strip() for line in (side or "").splitlines() if line.strip() and line not in base_lines}


def resolution_problems(path: str, resolution: str, ours: str | None, theirs: str | None, base: str | None,
                        contract_symbols: Iterable[str] = ()) -> list[str]:
    """Why a conflict resolution must be rejected; empty when it passes every guardrail."""
    problems: list[str] = []
    if CONFLICT_MARKER.search(resolution):
        problems.append("conflict markers (<<<<<<< ======= >>>>>>>) are still in the file")
    sides = [(label, text) for label, text in (("ours", ours), ("theirs", theirs)) if text]
    if path.endswith(".py"):
        tree = parse(resolution)
        if tree is None:
            return problems + ["the resolved file does not parse as Python"]
        names = defined_names(tree)
        missing_contract = sorted(set(contract_symbols) - names)
        if missing_contract:
            problems.append(f"symbols the contract names are missing: {', '.join(missing_contract)}")
        for label, text in sides:
            side_tree = parse(text)
            lost = sorted(defined_names(side_tree) - names) if side_tree else []
            if lost:
                problems.append(f"names defined on the {label} side were dropped: {', '.join(lost)}")
            implemented = {name for name, fn in _functions(side_tree).items() if not is_placeholder(fn)} \
                if side_tree else set()
            hollow = sorted(implemented & placeholders(resolution))
            if hollow:
                problems.append(f"implementations were replaced by placeholders: {', '.join(hollow)}")
    else:
        for label, text in sides:
            own = _own_lines(text, base)
            if own and not own & {line.strip() for line in resolution.splitlines()}:
                problems.append(f"everything the {label} side added was dropped")
    if TODO.search(resolution) and not any(TODO.search(text) for _, text in sides):
        problems.append("the resolution adds a TODO instead of resolving")
    return problems
