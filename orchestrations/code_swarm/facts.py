"""Facts about a tree, decided in code, that a worker's nudge, the judge's score and the fixer rely on
(issue 22 §1: "the judge scores what runs").

A small model's judge scored an empty tree 75 and one module of three 95. So what can be checked is
checked here, and caps the score whatever the judge says: the contract's modules and symbols present
(`guardrails.defined_names`), implementations that are placeholders (`guardrails.placeholders`: `pass`,
`...`, `raise NotImplementedError`), test files, and the check results (parse, ruff, pytest's counts).
`score_caps` turns them into (highest score, the fact as a sentence); the sentences lead the complaints the
fixer gets. Plain functions over file contents (tested directly).
"""
from __future__ import annotations

import re
from typing import Any

from orchestrations.code_swarm.guardrails import defined_names, parse, placeholders

TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")
MAX_LISTED = 8


def is_test_file(path: str) -> bool:
    return bool(TEST_FILE.search(path))


def tree_facts(files: dict[str, bytes], modules: list[dict[str, Any]]) -> dict[str, Any]:
    """`{files, tests: [paths], missing: {path: [symbols]}, missing_files: [paths], placeholders: {path:
    [names]}, symbols: [present, total]}` for a tree (path -> bytes) against the contract's `modules`."""
    texts = {path: data.decode("utf-8", errors="replace") for path, data in files.items()}
    missing, missing_files, present, total = {}, [], 0, 0
    for module in modules:
        path, wanted = module["path"], module["symbols"]
        total += 1 + len(wanted)
        if path not in texts:
            missing_files.append(path)
            continue
        tree = parse(texts[path]) if path.endswith(".py") else None
        names = defined_names(tree) if tree else set()
        lacking = [symbol for symbol in wanted if symbol not in names] if path.endswith(".py") else []
        present += 1 + len(wanted) - len(lacking)
        if lacking:
            missing[path] = lacking
    hollow = {path: sorted(names) for path, text in texts.items() if path.endswith(".py")
              and not is_test_file(path) and (names := placeholders(text))}
    return {"files": len(files), "tests": sorted(path for path in texts if is_test_file(path)),
            "missing": missing, "missing_files": missing_files, "placeholders": hollow, "symbols": [present, total]}


def test_counts(output: str) -> tuple[int, int]:
    """(passed, run) from pytest's summary line, e.g. "3 passed, 1 failed, 1 error" -> (3, 5)."""
    counts = {"passed": 0, "failed": 0, "error": 0}
    for number, kind in COUNT.findall(output.splitlines()[-1] if output.strip() else ""):
        counts["error" if kind.startswith("error") else kind] += int(number)
    return counts["passed"], sum(counts.values())


def _listed(items: dict[str, list[str]] | list[str]) -> str:
    entries = [f"{path}: {', '.join(names)}" for path, names in items.items()] if isinstance(items, dict) \
        else list(items)
    more = f" (and {len(entries) - MAX_LISTED} more)" if len(entries) > MAX_LISTED else ""
    return "; ".join(entries[:MAX_LISTED]) + more


def score_caps(facts: dict[str, Any], checks: dict[str, Any]) -> list[tuple[int, str]]:
    """(highest score, why) for each fact that limits the score; empty when none does."""
    if facts["files"] == 0:
        return [(0, "the tree is empty: no file was written")]
    caps = []
    if not checks["parse"]["ok"]:
        caps.append((20, f"files do not parse: {_listed(checks['parse']['errors'])}"))
    present, total = facts["symbols"]
    if facts["missing_files"]:
        caps.append((round(80 * present / max(total, 1)),
                     f"files the contract names are missing: {_listed(facts['missing_files'])}"))
    if facts["missing"]:
        caps.append((round(90 * present / max(total, 1)),
                     f"symbols the contract names are missing: {_listed(facts['missing'])}"))
    if facts["placeholders"]:
        caps.append((50, f"functions are placeholders (pass, ..., NotImplementedError), not implementations: "
                         f"{_listed(facts['placeholders'])}"))
    tests = checks["tests"]
    if not facts["tests"]:
        caps.append((60, "the tree has no tests"))
    elif tests["ran"] and not tests["ok"]:
        passed, run = test_counts(tests.get("output") or "")
        caps.append((round(30 + 40 * passed / run) if run else 30,
                     f"tests fail: {passed} of {run} passed" if run else
                     f"tests fail ({tests.get('reason') or 'see the output'})"))
    if not checks["ruff"]["ok"]:
        caps.append((70, "ruff finds errors (see the check results)"))
    return caps


def capped(verdict: dict[str, Any], caps: list[tuple[int, str]], max_complaints: int) -> dict[str, Any]:
    """The verdict with its score at most the lowest cap, and the facts first among its complaints."""
    if not caps:
        return verdict
    facts = [f"{why} (score capped at {cap})" for cap, why in caps]
    complaints = list(dict.fromkeys(facts + verdict["complaints"]))[:max(max_complaints, len(facts))]
    score = verdict["score"]  # None: the judge failed, and no score is made up
    return {**verdict, "score": None if score is None else min([score] + [cap for cap, _ in caps]),
            "complaints": complaints}
