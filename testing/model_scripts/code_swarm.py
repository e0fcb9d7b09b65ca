"""The scripted model for `run_code_swarm` building a small todo CLI: a storage module, a command-line
parser, a CLI entry point, and tests, in three workers.

Not a language model: every file is written here. It is scripted to show the workflow's rules at work:
- the planner returns ids as 1, "parser-cli" and "3" and a file as `tests/test-parser.py`; they are
  normalised once (`parser_cli`, `tests/test_parser.py`) and used that way everywhere;
- the storage and parser workers both write `todo/__init__.py`, so git's merge has one real conflict,
  which the integrator resolves (keeping both sides, checked by the guardrails);
- the CLI worker first claims success without writing a file; it is nudged, then writes;
- the storage module has an off-by-one bug its own test catches; the judge sees the failing test in the
  check results, and the fixer repairs the file in place.
Used by `make demo` (merged into testing/model_scripts/demo.py) and by tests/test_code_swarm.py.
"""
from __future__ import annotations

import re
from typing import Any, Callable

CALLS = 1000
GOAL = "Build a small todo CLI in Python: a JSON storage module, a command-line parser, and tests"

STORE = '''"""Todo items kept in a JSON file."""
import json
from pathlib import Path


class TodoStore:
    """Todo items in a JSON file: each is {"id": int, "text": str, "done": bool}."""

    def __init__(self, path):
        self.path = Path(path)

    def list(self):
        if not self.path.exists():
            return []
        return json.loads(self.path.read_text())

    def add(self, text):
        items = self.list()
        item = {"id": len(items) + 1, "text": text, "done": False}
        self._save(items + [item])
        return item["id"]

    def done(self, item_id):
        items = self.list()
        for item in items:
            if item["id"] == item_id + 1:
                item["done"] = True
                self._save(items)
                return True
        return False

    def _save(self, items):
        self.path.write_text(json.dumps(items, indent=2))
'''
STORE_BUG, STORE_FIX = 'item["id"] == item_id + 1', 'item["id"] == item_id'

STORE_TESTS = '''from todo.storage import TodoStore


def test_add_and_list(tmp_path):
    store = TodoStore(tmp_path / "todo.json")
    assert store.add("buy milk") == 1
    assert store.list() == [{"id": 1, "text": "buy milk", "done": False}]


def test_done_marks_the_item(tmp_path):
    store = TodoStore(tmp_path / "todo.json")
    first = store.add("buy milk")
    store.add("call mum")
    assert store.done(first)
    assert [item["done"] for item in store.list()] == [True, False]
'''

PARSER = '''"""The command line of the todo CLI."""
import argparse


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="todo")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("text")
    commands.add_parser("list")
    done = commands.add_parser("done")
    done.add_argument("id", type=int)
    return parser.parse_args(argv)
'''

PARSER_TESTS = '''from todo.parser import parse_args


def test_add():
    args = parse_args(["add", "buy milk"])
    assert (args.command, args.text) == ("add", "buy milk")


def test_done_takes_a_number():
    assert parse_args(["done", "2"]).id == 2
'''

CLI = '''"""`python -m todo.cli add "buy milk"`: the todo CLI."""
import sys

from .parser import parse_args
from .storage import TodoStore


def main(argv=None, path="todo.json", out=None):
    out = out or sys.stdout
    args = parse_args(sys.argv[1:] if argv is None else argv)
    store = TodoStore(path)
    if args.command == "add":
        print(f"added {store.add(args.text)}", file=out)
    elif args.command == "done":
        print("done" if store.done(args.id) else f"no item {args.id}", file=out)
    else:
        for item in store.list():
            print(f"[{'x' if item['done'] else ' '}] {item['id']} {item['text']}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

CLI_TESTS = '''import io

from todo.cli import main


def test_add_then_list(tmp_path):
    path = tmp_path / "todo.json"
    out = io.StringIO()
    main(["add", "buy milk"], path, out)
    main(["list"], path, out)
    assert out.getvalue().splitlines() == ["added 1", "[ ] 1 buy milk"]
'''

INIT_STORAGE = '''"""A small todo CLI."""
from .storage import TodoStore


def open_store(path):
    """The store kept in the JSON file at `path`."""
    return TodoStore(path)
'''

INIT_PARSER = '''"""A small todo CLI."""
from .parser import parse_args


def parse(argv):
    """The command and its arguments from a command line."""
    return parse_args(argv)
'''

INIT_RESOLVED = '''"""A small todo CLI."""
from .parser import parse_args
from .storage import TodoStore


def open_store(path):
    """The store kept in the JSON file at `path`."""
    return TodoStore(path)


def parse(argv):
    """The command and its arguments from a command line."""
    return parse_args(argv)
'''

# The final tree the demo builds (the fixer's repair applied).
FINAL_TREE = {"todo/__init__.py": INIT_RESOLVED, "todo/storage.py": STORE.replace(STORE_BUG, STORE_FIX),
              "tests/test_storage.py": STORE_TESTS, "todo/parser.py": PARSER, "tests/test_parser.py": PARSER_TESTS,
              "todo/cli.py": CLI, "tests/test_cli.py": CLI_TESTS}

Turn = Callable[[Any], dict[str, Any]]


def always(answer: Turn) -> list[Turn]:
    return [answer] * CALLS


def report(result: str) -> dict[str, Any]:
    return {"json": {"status": "done", "result": result}}


def write(path: str, content: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": content}}]}


def planner(request) -> dict[str, Any]:
    return {"json": {
        "contract": "A todo CLI in the package `todo`. Items are dicts {id: int, text: str, done: bool}, ids "
                    "start at 1. Tests use pytest and tmp_path; nothing touches the network.",
        "modules": [
            {"path": "todo/storage.py", "symbols": ["TodoStore", "TodoStore.add(text) -> int", "TodoStore.list",
                                                    "TodoStore.done(item_id) -> bool"]},
            {"path": "todo/parser.py", "symbols": ["parse_args(argv) -> argparse.Namespace"]},
            {"path": "todo/cli.py", "symbols": ["main(argv=None, path='todo.json', out=None) -> int"]},
            {"path": "todo/__init__.py", "symbols": ["open_store", "parse"]},
        ],
        "tasks": [
            {"id": 1, "title": "Storage", "files": ["todo/storage.py", "tests/test_storage.py"],
             "instructions": "Write todo/storage.py (TodoStore over a JSON file) and its tests; export "
                             "open_store from todo/__init__.py."},
            {"id": "parser-cli", "title": "Parser", "files": ["todo/parser.py", "tests/test-parser.py"],
             "instructions": "Write todo/parser.py (parse_args with add, list, done) and its tests; export "
                             "parse from todo/__init__.py."},
            {"id": "3", "title": "CLI", "files": ["todo/cli.py", "tests/test_cli.py"],
             "instructions": "Write todo/cli.py (main) on top of the storage and the parser, and its tests."},
        ],
    }}


def worker(files: list[tuple[str, str]], summary: str, claims_first: bool = False) -> list[Turn]:
    """Writes `files` one tool call per turn, then reports; `claims_first`: first claims success unwritten."""
    def turn(request) -> dict[str, Any]:
        if claims_first and "previous attempt was not accepted" not in request.user_text():
            return report(summary)  # a claim without a single write: the workflow nudges it
        written = len(request.tool_outputs())
        return write(*files[written]) if written < len(files) else report(summary)
    return always(turn)


def section(text: str, label: str) -> str | None:
    """One side of the integrator's prompt (`--- ours (already merged) ---` ...), None where it is absent."""
    match = re.search(rf"^--- {re.escape(label)}[^\n]*---\n(.*?)(?=^--- |\Z)", text, re.MULTILINE | re.DOTALL)
    body = match.group(1).rstrip("\n") + "\n" if match else None
    return None if body is None or body.startswith("(the file does not exist") else body


def integrator(request) -> dict[str, Any]:
    """Resolves the `todo/__init__.py` conflict by keeping both sides' imports and functions."""
    prompt = request.user_text()
    if "Conflicting file: todo/__init__.py" in prompt:
        return {"json": {"content": INIT_RESOLVED}}
    return {"json": {"content": section(prompt, "ours") or ""}}


def judge(request) -> dict[str, Any]:
    if "tests: FAILED" in request.user_text():
        return {"json": {"score": 55, "complaints": [
            "tests/test_storage.py::test_done_marks_the_item fails: TodoStore.done marks the item after the "
            "one asked for (off by one)."]}}
    return {"json": {"score": 92, "complaints": []}}


def fixer(request) -> dict[str, Any]:
    """Reads the storage module, repairs the off-by-one in place, runs the checks, reports."""
    outputs = request.tool_outputs()
    if not outputs:
        return {"tool_calls": [{"name": "read_file", "arguments": {"path": "todo/storage.py"}}]}
    if len(outputs) == 1:
        return write("todo/storage.py", outputs[0].replace(STORE_BUG, STORE_FIX))
    if len(outputs) == 2:
        return {"tool_calls": [{"name": "run_checks", "arguments": {}}]}
    return {"text": "Fixed TodoStore.done (it compared against item_id + 1); the checks pass."}


SCRIPT = {
    "code-planner": always(planner),
    "code-worker-1": worker([("todo/storage.py", STORE), ("tests/test_storage.py", STORE_TESTS),
                             ("todo/__init__.py", INIT_STORAGE)], "TodoStore with tests; open_store exported."),
    "code-worker-parser_cli": worker([("todo/parser.py", PARSER), ("tests/test-parser.py", PARSER_TESTS),
                                      ("todo/__init__.py", INIT_PARSER)], "parse_args with tests; parse exported."),
    "code-worker-3": worker([("todo/cli.py", CLI), ("tests/test_cli.py", CLI_TESTS)], "main() with a test.",
                            claims_first=True),
    "code-integrator": always(integrator),
    "code-judge": always(judge),
    "code-fixer": always(fixer),
}
