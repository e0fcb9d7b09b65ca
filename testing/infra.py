"""Read infra/ (the azd template) with the tree-sitter Bicep grammar: parse errors, app settings, parameters.

No Bicep CLI can be installed here, so this checks what a parser can: syntax, and the values our tests compare
with the app (the settings the function app gets, the Python version it runs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_bicep

from .host_process import PROJECT_ROOT

INFRA = PROJECT_ROOT / "infra"
FUNCTION_APP_BICEP = INFRA / "app" / "function-app.bicep"
MAIN_BICEP = INFRA / "main.bicep"


@lru_cache(maxsize=1)
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))


# `extension <name>` (Bicep 0.30+: a Bicep extension such as Microsoft Graph's, configured in bicepconfig.json)
# came after the grammar's last release (tree-sitter-bicep 1.1.0 knows only the retired `import 'x@1.0'` form):
# such a line is blanked, keeping every position, and checked here instead.
_EXTENSION = re.compile(rb"^extension [A-Za-z_][A-Za-z0-9_]*[ \t]*$", re.MULTILINE)


@lru_cache(maxsize=None)
def parse(path: Path) -> tree_sitter.Tree:
    return parser().parse(_EXTENSION.sub(lambda m: b" " * len(m.group(0)), path.read_bytes()))


def extensions(path: Path) -> list[str]:
    """The names of the file's `extension <name>` statements."""
    return [line.split()[1].decode() for line in _EXTENSION.findall(path.read_bytes())]


def syntax_errors(path: Path) -> list[str]:
    """Where the grammar found an error or had to invent a missing token: `file:line:column text`."""
    errors: list[str] = []

    def visit(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            errors.append(f"{path.name}:{row + 1}:{column + 1} {node.text[:60]!r}")
        for child in node.children:
            visit(child)

    visit(parse(path).root_node)
    return errors


def _text(node: tree_sitter.Node) -> str:
    return node.text.decode()


def string_value(node: tree_sitter.Node) -> str | None:
    """A string literal's value; None for an interpolated string or any other expression."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.children):
        return None
    return "".join(_text(c) for c in node.children if c.type == "string_content")


def _declaration(path: Path, kind: str, name: str) -> tree_sitter.Node:
    for node in parse(path).root_node.children:
        if node.type == kind and any(c.type == "identifier" and _text(c) == name for c in node.children):
            return node
    raise LookupError(f"{path.relative_to(PROJECT_ROOT)} declares no {kind} {name}")


def object_keys(path: Path, variable: str) -> list[str]:
    """The property names of `var <variable> = { ... }` (identifiers or quoted names)."""
    value = _declaration(path, "variable_declaration", variable).children[-1]
    if value.type != "object":
        raise LookupError(f"var {variable} in {path.name} is not an object literal")
    keys = []
    for prop in (c for c in value.children if c.type == "object_property"):
        key = prop.children[0]
        keys.append(string_value(key) if key.type == "string" else _text(key))
    return keys


@dataclass(frozen=True)
class Parameter:
    name: str
    default: str | None  # the default when it is a plain string literal
    allowed: tuple[str, ...]  # the @allowed([...]) string values, if any


def parameter(path: Path, name: str) -> Parameter:
    """A `param` with its literal default and the string values of its @allowed decorator."""
    node = _declaration(path, "parameter_declaration", name)
    default = string_value(node.children[-1]) if any(c.type == "=" for c in node.children) else None
    allowed: list[str] = []
    decorators = node.prev_sibling
    if decorators is not None and decorators.type == "decorators":
        for call in (d.children[1] for d in decorators.children if d.type == "decorator"):
            if call.type == "call_expression" and _text(call.children[0]) == "allowed":
                array = next(c for c in call.children[1].children if c.type == "array")
                allowed = [v for v in (string_value(c) for c in array.children if c.type == "string") if v]
    return Parameter(name, default, tuple(allowed))


def app_settings() -> list[str]:
    """The names of the settings the function app gets (function-app.bicep, `var appSettings`)."""
    return object_keys(FUNCTION_APP_BICEP, "appSettings")


@dataclass(frozen=True)
class ModuleUse:
    """`module <symbol> '<path>' = ...` in `file`, with the names of the params it passes."""

    file: Path
    symbol: str
    target: Path
    params: tuple[str, ...]


def _body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The object of a declaration (also behind `= if (...)`)."""
    for child in node.children:
        if child.type == "object":
            return child
        if child.type == "if_statement":
            return _body(child)
    return None


def _property(obj: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    for prop in (c for c in obj.children if c.type == "object_property"):
        key = prop.children[0]
        if (string_value(key) if key.type == "string" else _text(key)) == name:
            return prop.children[-1]
    return None


def modules(path: Path) -> list[ModuleUse]:
    uses = []
    for node in (n for n in parse(path).root_node.children if n.type == "module_declaration"):
        symbol = next(_text(c) for c in node.children if c.type == "identifier")
        target = path.parent / string_value(next(c for c in node.children if c.type == "string"))
        params = _property(_body(node), "params")
        names = tuple(_text(p.children[0]) for p in params.children if p.type == "object_property") if params else ()
        uses.append(ModuleUse(path, symbol, target, names))
    return uses


def declared_parameters(path: Path) -> dict[str, bool]:
    """Each `param` of the file -> whether it has a default."""
    found = {}
    for node in (n for n in parse(path).root_node.children if n.type == "parameter_declaration"):
        name = next(_text(c) for c in node.children if c.type == "identifier")
        found[name] = any(c.type == "=" for c in node.children)
    return found


def declared_outputs(path: Path) -> set[str]:
    return {next(_text(c) for c in node.children if c.type == "identifier")
            for node in parse(path).root_node.children if node.type == "output_declaration"}


def output_references(path: Path) -> list[tuple[str, str]]:
    """(symbol, output) of every `<symbol>.outputs.<output>` (or `<symbol>!.outputs...`) in the file."""
    found = []

    def visit(node: tree_sitter.Node) -> None:
        if node.type == "member_expression" and node.children[0].type == "member_expression":
            inner = node.children[0]
            if inner.children[0].type == "identifier" and _text(inner.children[-1]) == "outputs":
                found.append((_text(inner.children[0]), _text(node.children[-1])))
        for child in node.children:
            visit(child)

    visit(parse(path).root_node)
    return found


def declaration(path: Path, kind: str, symbol: str) -> tree_sitter.Node:
    """A declaration of `kind` (resource_declaration, module_declaration, variable_declaration, ...) named
    `symbol`, anywhere in the file (nested resources too)."""
    found: list[tree_sitter.Node] = []

    def visit(node: tree_sitter.Node) -> None:
        if node.type == kind and any(c.type == "identifier" and _text(c) == symbol for c in node.children):
            found.append(node)
        for child in node.children:
            visit(child)

    visit(parse(path).root_node)
    if not found:
        raise LookupError(f"{path.relative_to(PROJECT_ROOT)} declares no {kind} {symbol}")
    return found[0]


def value_text(node: tree_sitter.Node, dotted: str) -> str | None:
    """The source text of the value at `a.b.c` in a declaration's object (None when a step is missing)."""
    current = _body(node) if node.type.endswith("_declaration") else node
    for name in dotted.split("."):
        if current is None or current.type != "object":
            return None
        current = _property(current, name)
    return None if current is None else _text(current)
