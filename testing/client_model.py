"""A scripted client model (issue 21 §4): it stands where Copilot, Claude or a Foundry agent stand with our tools,
but reads only the text of each tool result and does what that text says; no sequence of calls is written in it.

A small real model asked to "use run_agent to compute X, wait for the job and tell me the number" launched the job,
read "pending" and answered "The job is still pending.". Every result now says what to do next; this model
follows exactly that, and nothing else:

- its first call is the person's request mapped to a tool (as a model maps a sentence to a launcher);
- after each result, it looks in the result's text for a sentence with `Next:` and makes the first call of a
  listed tool written after it, `tool(name=value, ...)`, with the values written there: JSON strings and numbers as
  they are, and for a decision (`data={"approved": true or false, "comment"?: text}`) what the person said
  (`decisions`), optional fields (`"comment"?`) left out;
- it stops when the text names no next call (`Done: ...`, `Canceled: ...`) and answers from that last result;
- more than `max_calls` calls fail the run.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mcp import Client

_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\(")
_FIELD = re.compile(r'^\s*"(?P<name>[^"]+)"(?P<optional>\?)?\s*:\s*(?P<kind>.+?)\s*$', re.S)
_PLACEHOLDERS = {"true or false": True, "text": "", "a whole number": 0, "a number": 0}


@dataclass
class Run:
    """What the client model did: its calls (tool, arguments), in order, and the text it stopped at."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    last_text: str = ""

    @property
    def last(self) -> dict[str, Any]:
        return json.loads(self.last_text)


def _split(text: str) -> list[str]:
    """`text` cut at the commas that are not inside quotes, braces, brackets or parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "{[(":
            depth += 1
        elif not quoted and char in "}])":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one before `start`."""
    depth, quoted = 1, False
    for index in range(start, len(text)):
        char = text[index]
        if char == '"' and text[index - 1] != "\\":
            quoted = not quoted
        elif not quoted and char in "({[":
            depth += 1
        elif not quoted and char in ")}]":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced call in {text!r}")


def _value(text: str, decisions: dict[str, Any]) -> Any:
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):  # an object to fill in: the person's decisions
        data = {}
        for part in _split(text[1:-1]):
            match = _FIELD.match(part)
            if match is None:
                raise ValueError(f"cannot read the field {part!r}")
            if match["optional"] and match["name"] not in decisions:
                continue
            data[match["name"]] = decisions.get(match["name"], _PLACEHOLDERS.get(match["kind"].strip()))
        return data
    return json.loads(text)


def next_call(text: str, decisions: dict[str, Any], tools: set[str]) -> tuple[str, dict[str, Any]] | None:
    """The call a result's text says to make next (the first of the server's `tools` written after `Next:`),
    or None when it names none."""
    try:
        said = [value for value in _strings(json.loads(text)) if "Next:" in value]
    except ValueError:
        said = [text]
    for sentence in said:
        for found in _CALL.finditer(sentence, sentence.index("Next:")):
            if found.group(1) not in tools:
                continue
            inside = sentence[found.end():_closing(sentence, found.end())]
            arguments = {}
            for part in _split(inside):
                name, _, value = part.partition("=")
                arguments[name.strip()] = _value(value, decisions)
            return found.group(1), arguments
    return None


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value (what a model reads in a result)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


async def follow(client: Client, tool: str, arguments: dict[str, Any], decisions: dict[str, Any] | None = None,
                 max_calls: int = 15) -> Run:
    """Make the first call, then each call the results name, until one names none (see the module docstring)."""
    listed = {listed_tool.name for listed_tool in (await client.list_tools()).tools}
    run = Run()
    call: tuple[str, dict[str, Any]] | None = (tool, arguments)
    while call is not None:
        assert len(run.calls) < max_calls, f"still going after {max_calls} calls: {run.calls}"
        run.calls.append(call)
        result = await client.call_tool(*call)
        run.last_text = result.content[0].text
        call = next_call(run.last_text, decisions or {}, listed)
    return run
