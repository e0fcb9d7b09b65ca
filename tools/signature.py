"""Tool arguments from a Python function's signature, as `@app.mcp_tool()` users write them (issue 18).

The Functions library's `mcp_tool` decorator (azure/functions/decorators/mcp.py,
`build_property_metadata`) takes the tool's name from the function, its description from the
docstring, and one property per parameter: its type from the hint (str, int, float, bool, dict,
`list[...]`, no hint = str), required when it has no default and is not `Optional`. We read the same
things, plus what that decorator leaves to `@app.mcp_tool_property`:

- limits and words from `typing.Annotated` metadata: pydantic `Field(description=..., ge=..., le=...,
  max_length=..., pattern=...)` or `annotated_types` (`Ge`, `Le`, `Interval`, `MaxLen`); a `Literal`
  lists the allowed values; `Field(json_schema_extra={"allowed": "..."})` words what a pattern allows;
- parameter descriptions from the docstring's `Args:` section (Google, NumPy or Sphinx style, parsed
  with the Agents SDK's `generate_func_documentation`, as its `@function_tool` does); the docstring's
  text before the sections is the tool's description;
- text without a `max_length` (or a pattern, or a Literal) gets `DEFAULT_MAX_TEXT_CHARS`, so no argument
  is unbounded.

The types are read through pydantic's JSON Schema of each hint, so what pydantic says a type means is
what the tool publishes and checks (tools/arguments.py). A hint the tool arguments cannot express (a
model class, a date, a union of types, a nested list) is refused with `SignatureError`, whose one
sentence names the parameter and what to write instead.
"""
from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Optional

from agents.function_schema import generate_func_documentation
from pydantic import TypeAdapter

from .arguments import Arg

DEFAULT_MAX_TEXT_CHARS = 20_000
SUPPORTED = ("str, int, float, bool, dict, a Literal of values, a list of those, or Optional[...] of any of them, "
             "with limits as Annotated[int, Field(ge=1, le=10)]")
_SCALARS = {"string", "integer", "number", "boolean", "object"}
_KNOWN_KEYWORDS = {"type", "description", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxLength",
                   "pattern", "enum", "items", "allowed", "additionalProperties", "default", "title"}


class SignatureError(TypeError):
    """A parameter whose hint a tool argument cannot take; the message names it and the fix."""


def description_of(function: Callable[..., Any]) -> str:
    """The tool description: the docstring's text before its sections (`Args:` ...), indentation removed."""
    return (generate_func_documentation(function).description or "").strip()


def args_from_signature(function: Callable[..., Any], skip: int = 0,
                        reserved: tuple[str, ...] = ()) -> tuple[Arg, ...]:
    """One `Arg` per parameter of `function` after the first `skip` ones; `SignatureError` for a parameter
    that cannot be a tool argument (a hint outside `SUPPORTED`, `*args`/`**kwargs`, a `reserved` name)."""
    where = f"{function.__qualname__}"
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # a hint naming something the module does not define
        raise SignatureError(f"The type hints of {where} cannot be read ({error}): import what they name.") from None
    documented = generate_func_documentation(function).param_descriptions or {}
    args = []
    for parameter in list(inspect.signature(function).parameters.values())[skip:]:
        name = parameter.name
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise SignatureError(f"Parameter *{name} of {where} cannot be a tool argument: name each argument.")
        if name in reserved:
            raise SignatureError(f"Parameter '{name}' of {where} has a name the launchers use themselves "
                                 f"(reserved: {', '.join(reserved)}): rename it.")
        args.append(_arg(where, parameter, hints.get(name, str), documented.get(name)))
    return tuple(args)


def _arg(where: str, parameter: inspect.Parameter, hint: Any, documented: Optional[str]) -> Arg:
    name = parameter.name
    refuse = f"Parameter '{name}' of {where} has a type hint a tool argument cannot take ({hint!r}): use {SUPPORTED}."
    try:
        schema = TypeAdapter(hint).json_schema()
    except Exception:
        raise SignatureError(refuse) from None
    optional = False
    if "anyOf" in schema:  # Optional[X]: X, and not required
        kinds = [s for s in schema["anyOf"] if s != {"type": "null"}]
        if len(kinds) != 1 or len(schema["anyOf"]) != 2:
            raise SignatureError(refuse)
        schema = {**kinds[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        optional = True
    kind = schema.get("type")
    if set(schema) - _KNOWN_KEYWORDS or (kind not in _SCALARS and kind != "array"):
        raise SignatureError(refuse)
    items = schema.get("items") or {}
    if kind == "array" and (set(items) - {"type", "enum"} or items.get("type") not in _SCALARS - {"object"}):
        raise SignatureError(refuse)
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    minimum, maximum = _bounds(refuse, schema)
    choices = schema.get("enum") or items.get("enum")
    max_length = schema.get("maxLength")
    if kind == "string" and max_length is None and not choices and "pattern" not in schema:
        max_length = DEFAULT_MAX_TEXT_CHARS
    description = (schema.get("description") or documented or "").strip()
    return Arg(name, kind, " ".join(description.split()),
               required=parameter.default is inspect.Parameter.empty and not optional, default=default,
               minimum=minimum, maximum=maximum, max_length=max_length, pattern=schema.get("pattern"),
               choices=tuple(choices) if choices else None, items=items.get("type") if kind == "array" else None,
               allowed=schema.get("allowed"))


def _bounds(refuse: str, schema: dict[str, Any]) -> tuple[Optional[float], Optional[float]]:
    """minimum/maximum; exclusive bounds of whole numbers become inclusive ones (gt=0 is ge=1)."""
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    for keyword, step in (("exclusiveMinimum", 1), ("exclusiveMaximum", -1)):
        if keyword in schema:
            if schema.get("type") != "integer":
                raise SignatureError(refuse.replace("use ", "use ge/le for a float's limits, and "))
            bound = schema[keyword] + step
            minimum, maximum = (bound, maximum) if step > 0 else (minimum, bound)
    return minimum, maximum
