"""Structured answers from models that make mistakes: what is asked for, and how the answer is read (issue 22 §1).

Two rules, for every structured answer a workflow asks for (a plan, a worker's report, a verdict, a resolved
file):

- **Ask for what the workflow needs.** The schema sent to the model lists every field as `required`, with the
  bounds the workflow relies on (a score from 0 to 100, at most a few complaints of bounded length). A server
  that enforces `response_format` with a grammar (llama.cpp, vLLM, ...) then cannot let the model leave a field
  out or loop in an endless list; a server that does not enforce it still shows the model what is wanted.
  The output models in the workflows (`@structured_output`) declare exactly that shape.
- **Read the answer leniently.** Whatever came back is turned into JSON data here, never refused:
  `json_in_text` finds the JSON in a Markdown fence or after a sentence, and repairs an object cut at the
  token cap by closing its open strings and brackets; what is not JSON at all stays text. The workflow's own
  normaliser (`normalise_plan`, `normalise_verdict`, ...) then decides, in deterministic code, what is usable
  and says why when it is not, so the workflow can ask again with the reason.

An agent that has tools is never sent a JSON schema (`response_format`) with them: llama.cpp enforces the
JSON answer and then never returns a tool call, while other servers ignore the schema or refuse the pair. It
is told the answer's fields in its instructions instead (`answer_instructions`), and its final text is read
with the same lenient reader (`read_answer`).
"""
from __future__ import annotations

import json
import re
from typing import Any

from agents import AgentOutputSchema
from pydantic import BaseModel

FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings, as models write them
_CLOSERS = {"{": "}", "[": "]"}
MAX_CUTS = 60  # cut points tried, from the end, when completing a cut-off answer


def _required_everywhere(schema: Any) -> Any:
    """The schema with every object's properties listed as required, in every nested definition."""
    if isinstance(schema, dict):
        schema = {key: _required_everywhere(value) for key, value in schema.items()}
        if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
            schema["required"] = list(schema["properties"])
        return schema
    if isinstance(schema, list):
        return [_required_everywhere(item) for item in schema]
    return schema


def _close(fragment: str) -> str | None:
    """A JSON text cut short (at the token cap), completed: the longest prefix that ends after a complete
    value, or inside a string, with its open strings and brackets closed. None when it does not parse so."""
    stack: list[str] = []
    in_string = escaped = False
    cuts: list[tuple[int, str]] = []  # (where the text may be cut, what then closes it)
    for index, char in enumerate(fragment):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                cuts.append((index + 1, "".join(reversed(stack))))
            continue
        if char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
            cuts.append((index + 1, "".join(reversed(stack))))
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return fragment[:index + 1]
            cuts.append((index + 1, "".join(reversed(stack))))
        elif char.isalnum() or char == ".":
            cuts.append((index + 1, "".join(reversed(stack))))
    candidates = [fragment + '"' + "".join(reversed(stack))] if in_string else []
    candidates += [fragment[:end].rstrip().rstrip(",") + closers for end, closers in reversed(cuts[-MAX_CUTS:])]
    for candidate in candidates:
        try:
            json.loads(candidate, strict=False)
            return candidate
        except ValueError:
            continue
    return None


def json_in_text(text: Any) -> Any:
    """The JSON value in a model's answer, or None: the whole text, else a fenced block, else the first
    object or array in the text; an object cut off at the end is completed (`_close`)."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    candidates = [stripped] + [block.strip() for block in FENCE.findall(stripped)]
    for candidate in candidates:
        try:
            return json.loads(candidate, strict=False)
        except ValueError:
            pass
    for candidate in candidates:
        for start in [match.start() for match in re.finditer(r"[{\[]", candidate)][:20]:
            try:
                return _DECODER.raw_decode(candidate, start)[0]
            except ValueError:
                closed = _close(candidate[start:])
                if closed is not None:
                    try:
                        return json.loads(closed, strict=False)
                    except ValueError:
                        continue
    return None


class LenientOutputSchema(AgentOutputSchema):
    """`AgentOutputSchema` that sends a model's schema with every field required (and the model's own bounds),
    non-strict, and reads the answer with `json_in_text` instead of validating it: the result is JSON data
    (usually a dict) or, when the answer holds no JSON, its text. The workflow normalises it."""

    def __init__(self, output_type: type[BaseModel]):
        super().__init__(output_type, strict_json_schema=False)
        self._output_schema = _required_everywhere(self._output_schema)

    def validate_json(self, json_str: str) -> Any:
        found = json_in_text(json_str)
        return json_str if found is None else found


def answer_instructions(output_type: type[BaseModel]) -> str:
    """What an agent with tools is told about its final answer, in place of a `response_format` schema."""
    fields = ", ".join(f'"{name}"' for name in output_type.model_fields)
    said = (output_type.__doc__ or "").strip().splitlines()  # a model without a docstring says nothing more
    return (f" When you have finished, reply (without calling a tool) with one JSON object with the keys {fields}"
            + (f": {said[0]}" if said else "."))


def read_answer(text: Any, output_type: type[BaseModel]) -> Any:
    """An agent's final text read as data: the JSON object it holds when that object has at least one of the
    answer's fields, else the text itself (a dict literal in a code sample is not the answer)."""
    found = json_in_text(text)
    return found if isinstance(found, dict) and set(found) & set(output_type.model_fields) else text
