"""Tool arguments: one declaration per argument, one validator, one wording for every error.

Every MCP tool of the app (and the HTTP starter, which takes a launcher's arguments as a JSON
body) declares its arguments as `Arg`s and gets them checked by `validate_arguments` before any
of its code runs. Each error names the argument, says what was wrong and what is allowed:

    Argument 'limit' is 0. Allowed: a whole number from 1 to 100 (default 20).
    Argument 'job_id' is missing. Allowed: the job_id a launcher returned (text).
    Argument 'jobid' is not an argument of get_job. Allowed: job_id.

Missing required arguments are reported here, as tool results with `isError`, rather than by the
host: the MCP spec (2025-11-25, tools "Error Handling") makes input errors tool execution errors
so the model can correct itself, while the Azure Functions MCP extension answers a missing value
of an argument declared required with a JSON-RPC -32602 error (ToolInputSchema.Validate). So the
trigger binding declares every argument optional (`Arg.binding`), and `required` lives here.

Each argument is also a JSON Schema fragment (`Arg.schema`), checked with `jsonschema`; the same
fragments make the tool's full input schema (`input_schema`). Two lenient readings, because MCP
clients and models send them: a number written as text ("25"), and an object or a list written as
JSON text (`"{\"approved\": true}"`, `"[\"calculate\"]"`; a list of strings also as comma-separated
text, "fetch_url, calculate"). An empty or blank value of an optional argument means "not given"; of a
required one, it is reported as empty, not as missing. An error echoes the value as it was sent
(bounded), not as it was read.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

MAX_SHOWN_CHARS = 80  # what an error echoes of a bad value (issue 8.4: bound what is echoed)
_NUMBER_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


class ToolError(Exception):
    """An error the caller can act on. Shown as a tool result with `isError` on both hosts (and as
    a 400 by the HTTP starter); the message says what was wrong and what is allowed."""


def shown(value: Any) -> str:
    """A bad value as an error shows it: JSON, at most `MAX_SHOWN_CHARS` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS - 1] + "…"


def argument_error(name: str, problem: str, allowed: str) -> ToolError:
    """The one wording of an argument error: what was wrong, then what is allowed."""
    return ToolError(f"Argument '{name}' {problem}. Allowed: {allowed}.")


@dataclass(frozen=True)
class Arg:
    """One tool argument: its JSON type (`string`, `integer`, `number`, `boolean`, `object`,
    `array` of `items`), what it is for, and what values are allowed."""

    name: str
    type: str
    description: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None  # characters of a string
    pattern: str | None = None  # a string must match it (say what it means in `allowed`)
    choices: tuple[str, ...] | None = None  # the values a string, or each item of an array, may take
    items: str | None = None  # the JSON type of an array's items
    max_bytes: int | None = None  # size of the value as JSON (UTF-8)
    allowed: str | None = None  # what is allowed, in words, when the type and bounds do not say it well

    def schema(self) -> dict[str, Any]:
        """This argument as a JSON Schema fragment (with the description)."""
        if self.type == "array":
            items: dict[str, Any] = {"type": self.items or "string"}
            if self.choices:
                items["enum"] = list(self.choices)
            schema: dict[str, Any] = {"type": "array", "items": items}
        else:
            schema = {"type": self.type}
            if self.choices:
                schema["enum"] = list(self.choices)
        for keyword, value in (("minimum", self.minimum), ("maximum", self.maximum),
                               ("maxLength", self.max_length), ("pattern", self.pattern),
                               ("default", self.default)):
            if value is not None:
                schema[keyword] = value
        return {**schema, "description": self.description}

    def binding(self) -> dict[str, Any]:
        """The `toolProperties` entry of the MCP trigger binding. Always `isRequired: false`: see the
        module docstring; the description says when an argument is required."""
        is_array = self.type == "array"
        prop: dict[str, Any] = {"propertyName": self.name,
                                "propertyType": (self.items or "string") if is_array else self.type,
                                "description": ("Required. " if self.required else "") + self.description,
                                "isRequired": False, "isArray": is_array}
        if self.choices:
            prop["enumValues"] = list(self.choices)
        return prop

    def describe_allowed(self) -> str:
        if self.allowed:
            text = self.allowed
        elif self.type == "array":
            text = f"a list of any of: {', '.join(self.choices)}" if self.choices else \
                f"a list of {_KIND_WORDS.get(self.items or 'string', 'values')}"
        elif self.choices:
            text = f"one of: {', '.join(self.choices)}"
        else:
            text = _KIND_WORDS[self.type] + _range_words(self)
            if self.max_length is not None:
                text += f" of at most {self.max_length:,} characters"
        if self.max_bytes is not None:
            text += f", at most {self.max_bytes:,} bytes as JSON"
        if not self.required and self.default is not None:
            text += f" (default {json.dumps(self.default)})"
        return text


_KIND_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a JSON object", "array": "a list"}


def _range_words(arg: Arg) -> str:
    def number(value: float) -> str:
        return f"{value:g}" if isinstance(value, float) else f"{value:,}"
    if arg.minimum is not None and arg.maximum is not None:
        return f" from {number(arg.minimum)} to {number(arg.maximum)}"
    if arg.minimum is not None:
        return f" of at least {number(arg.minimum)}"
    if arg.maximum is not None:
        return f" of at most {number(arg.maximum)}"
    return ""


def _is_absent(arg: Arg, value: Any) -> bool:
    """Not given: null, or blank text for a text or number argument (forms send "" for an empty field)."""
    return value is None or (arg.type != "object" and isinstance(value, str) and not value.strip())


def _absence(value: Any) -> str:
    """How a required argument is absent: not sent (or null), or sent empty."""
    return "is missing" if value is None else "is empty" if value == "" else "is blank (only whitespace)"


_JSON_TYPES = {"object": dict, "array": list}


def _lenient(arg: Arg, value: Any) -> Any:
    """The readings MCP clients need: numbers written as text, objects and lists written as JSON text,
    lists of strings as comma-separated text."""
    if arg.type in ("integer", "number") and isinstance(value, str) and _NUMBER_TEXT.match(value):
        number = float(value)
        return int(number) if arg.type == "integer" and number.is_integer() else number
    if arg.type == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if arg.type in _JSON_TYPES and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, _JSON_TYPES[arg.type]):
            return parsed
    if arg.type == "array" and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _problem(arg: Arg, value: Any, sent: Any) -> str | None:
    """What is wrong with a given value (`value` as read, `sent` as the caller sent it), or None."""
    error = best_match(Draft202012Validator(arg.schema()).iter_errors(value))
    if error is not None:
        if error.validator == "maxLength":
            return f"has {len(value):,} characters"
        if error.path:  # an item of a list
            return f"contains {shown(error.instance)}"
        return f"is {shown(sent)}"
    if arg.max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > arg.max_bytes:
            return f"is {size:,} bytes as JSON"
    return None


def validate_arguments(tool: str, args: Iterable[Arg], supplied: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checked arguments by name (defaults filled in, absent optional ones as their default),
    or `ToolError` for the first problem, in declaration order; unknown names are problems too."""
    args = list(args)
    supplied = dict(supplied or {})
    known = {arg.name for arg in args}
    for name in supplied:
        if name not in known:
            raise argument_error(name, f"is not an argument of {tool}",
                                 ", ".join(arg.name for arg in args) or "no arguments")
    values: dict[str, Any] = {}
    for arg in args:
        value = supplied.get(arg.name)
        if _is_absent(arg, value):
            if arg.required:
                raise argument_error(arg.name, _absence(value), arg.describe_allowed())
            values[arg.name] = arg.default
            continue
        read = _lenient(arg, value)
        problem = _problem(arg, read, value)
        if problem:
            raise argument_error(arg.name, problem, arg.describe_allowed())
        values[arg.name] = list(dict.fromkeys(read)) if arg.type == "array" and arg.choices else read
    return values


def input_schema(args: Iterable[Arg]) -> dict[str, Any]:
    """The whole input as one JSON Schema object, as tools publish it (tools/tool.py): types, enums,
    bounds, patterns and defaults, no other properties, and `required` empty, each required
    argument's description starting "Required." instead (see the module docstring)."""
    properties = {}
    for arg in args:
        schema = arg.schema()
        if arg.required:
            schema["description"] = "Required. " + schema["description"]
        properties[arg.name] = schema
    return {"type": "object", "properties": properties, "required": [], "additionalProperties": False}


def tool_properties(args: Iterable[Arg]) -> str:
    """The trigger binding's `toolProperties` JSON."""
    return json.dumps([arg.binding() for arg in args])
