"""A job's input request as an MCP elicitation (form mode), and the person's answer back as job input.

Used by `wait` tools (host/mcp/native.py) and by tasks (host/mcp/tasks.py). The job's
`input_request: {event, prompt, schema?, details?}` becomes `elicitation/create` params `{mode:
"form", message: prompt and details, requestedSchema}`. The form schema must be flat (MCP 2025-11-25 elicitation:
an object of string/number/integer/boolean/enum properties); a job schema that is not gets a form
with one text field, `input`, whose JSON text is the answer. An accepted answer is checked
against the job's own schema (jsonschema) before it is sent to the job; decline and cancel leave
the job as it is.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import TypeAdapter, ValidationError

from mcp_types._v2025_11_25 import PrimitiveSchemaDefinition

from host.http.bodies import parse_json

TEXT_FIELD = "input"
MAX_DETAILS_CHARS = 8000
_PRIMITIVE = TypeAdapter(PrimitiveSchemaDefinition)


def _flat_form(schema: Any) -> dict[str, Any] | None:
    """The job's schema itself when it is a flat form the elicitation spec allows, else None."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return None
    try:
        for prop in schema["properties"].values():
            _PRIMITIVE.validate_python(prop)
    except ValidationError:
        return None
    form: dict[str, Any] = {"type": "object", "properties": dict(schema["properties"])}
    if schema.get("required"):
        form["required"] = list(schema["required"])
    return form if form["properties"] else None


def form_schema(schema: Any) -> dict[str, Any]:
    """The elicitation form for a job's input schema (see the module docstring)."""
    return _flat_form(schema) or {"type": "object", "required": [TEXT_FIELD], "properties": {
        TEXT_FIELD: {"type": "string", "description": "the input, as JSON"}}}


def describe(details: Any) -> str:
    """What the decision is about (`input_request.details`), as text a person reads: `name: value` lines."""
    if details is None or details == "":
        return ""
    if isinstance(details, dict):
        text = "\n\n".join(f"{name}: {value if isinstance(value, str) else json.dumps(value)}"
                           for name, value in details.items())
    else:
        text = details if isinstance(details, str) else json.dumps(details, indent=2)
    return text if len(text) <= MAX_DETAILS_CHARS else text[:MAX_DETAILS_CHARS - 1] + "…"


def elicitation_params(request: dict[str, Any]) -> dict[str, Any]:
    """`elicitation/create` params (form mode) for an input request: its prompt and details, its form."""
    message = "\n\n".join(part for part in (str(request.get("prompt") or "The job needs input."),
                                             describe(request.get("details"))) if part)
    return {"mode": "form", "message": message, "requestedSchema": form_schema(request.get("schema"))}


def request_key(request: dict[str, Any], job: dict[str, Any]) -> str:
    """A key for one input request, new each time the job asks again (its prompt or time changes)."""
    seed = json.dumps([request.get("event"), request.get("prompt"), job.get("updated_at")], default=str)
    return f"{request.get('event')}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"


def answer_data(request: dict[str, Any], content: Any) -> tuple[Any, str | None]:
    """The job input from an accepted form's content, and why it cannot be sent (or None)."""
    data = content if isinstance(content, dict) else {}
    if _flat_form(request.get("schema")) is None:  # the one-field text form: its text is JSON
        try:
            data = parse_json(str(data.get(TEXT_FIELD)))
        except ValueError:
            return None, "the answer is not JSON"
    schema = request.get("schema")
    if isinstance(schema, dict):
        error = best_match(Draft202012Validator(schema).iter_errors(data))
        if error is not None:
            return None, f"the answer does not match the job's input schema: {error.message}"
    return data, None
