"""Which settings (environment variables) the app's code reads, found in its source, not from a list.

A read is `os.environ.get(K)`, `os.environ[K]`, `os.getenv(K)`, `K in os.environ`, the same on a name bound
to `os.environ` (`env = os.environ if env is None else env`), or a call of a helper that does one of these
with its parameter (`_env("NAME")`). K is a string literal or a module-level string constant of the app
(`DATA_DIR_ENV = "APP_DATA_DIR"`). A read whose key is none of these is reported as unresolved, so a new
kind of read is noticed instead of missed.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

READ_METHODS = {"get", "setdefault", "pop"}


@dataclass
class SettingReads:
    reads: dict[str, list[str]] = field(default_factory=dict)  # setting -> ["file:line", ...]
    unresolved: list[str] = field(default_factory=list)  # "file:line: source" of reads with unknown keys


def _is_os_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os") \
        or (isinstance(node, ast.Name) and node.id == "environ")


def _mentions_environ(node: ast.AST) -> bool:
    return any(_is_os_environ(n) for n in ast.walk(node))


def _constants(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Module-level `NAME = "text"` of every module (a name may have different values in different modules)."""
    found: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, set()).add(node.value.value)
    return found


def _environ_aliases(scope: ast.AST) -> set[str]:
    """Names bound to an expression that involves os.environ: in a function anywhere, in a module at top level."""
    nodes = scope.body if isinstance(scope, ast.Module) else ast.walk(scope)
    return {target.id for node in nodes if isinstance(node, ast.Assign) and _mentions_environ(node.value)
            for target in node.targets if isinstance(target, ast.Name)}


def _key_reads(scope: ast.AST, aliases: set[str]) -> list[tuple[ast.AST, ast.expr]]:
    """(node, key expression) of each environment read in `scope`."""
    def environ(node: ast.AST) -> bool:
        return _is_os_environ(node) or (isinstance(node, ast.Name) and node.id in aliases)

    found: list[tuple[ast.AST, ast.expr]] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Call) and node.args:
            callee = node.func
            if isinstance(callee, ast.Attribute) and callee.attr in READ_METHODS and environ(callee.value):
                found.append((node, node.args[0]))
            elif isinstance(callee, ast.Attribute) and callee.attr == "getenv" \
                    and isinstance(callee.value, ast.Name) and callee.value.id == "os":
                found.append((node, node.args[0]))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and environ(node.value):
            found.append((node, node.slice))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
                and environ(node.comparators[0]):
            found.append((node, node.left))
    return found


def _callee_name(node: ast.Call) -> str | None:
    callee = node.func
    return callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else None


def settings_read(files: list[Path], root: Path) -> SettingReads:
    """The settings read by the Python `files` (paths shown relative to `root`)."""
    trees = {path.relative_to(root).as_posix(): ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
             for path in files}
    constants = _constants(trees)
    reads: dict[int, tuple[str, ast.AST, ast.expr]] = {}
    helpers: set[str] = set()  # functions that read the environment with a parameter as the key
    helper_reads: set[int] = set()
    for where, tree in trees.items():
        module_aliases = _environ_aliases(tree)
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for scope in (tree, *functions):
            params = set() if scope is tree else {a.arg for a in (*scope.args.posonlyargs, *scope.args.args)}
            aliases = module_aliases | (set() if scope is tree else _environ_aliases(scope))
            for node, key in _key_reads(scope, aliases):
                if isinstance(key, ast.Name) and key.id in params:
                    helpers.add(scope.name)
                    helper_reads.add(id(node))
                reads.setdefault(id(node), (where, node, key))
    for where, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and _callee_name(node) in helpers:
                reads.setdefault(id(node), (where, node, node.args[0]))

    result = SettingReads()
    for node_id, (where, node, key) in reads.items():
        if node_id in helper_reads:
            continue
        location = f"{where}:{node.lineno}"
        names = _resolve(key, constants)
        if names is None:
            result.unresolved.append(f"{location}: {ast.unparse(node)}")
        for name in sorted(names or ()):
            result.reads.setdefault(name, []).append(location)
    return result


def _resolve(key: ast.expr, constants: dict[str, set[str]]) -> set[str] | None:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return {key.value}
    if isinstance(key, ast.Name) and key.id in constants:
        return constants[key.id]
    if isinstance(key, ast.Attribute) and key.attr in constants:  # module.CONSTANT
        return constants[key.attr]
    return None
