"""Model errors a server answers that a different request can avoid: a nudge or a smaller request instead of a
failed step (issue 22 §1).

- **Too long for the context window** (`is_context_error`: OpenAI's `context_length_exceeded`, llama.cpp's
  "exceeds the available context size", vLLM's "maximum context length"): `shrink_request` replaces older
  tool results and tool-call arguments by a short note, keeping the task and the latest turns.
- **A tool call the server could not parse**: llama.cpp answers HTTP 500 "The model produced output that
  does not match the expected ... format" when the model wraps a tool call in a Markdown fence or writes
  broken JSON; the same request again mostly gets the same answer. `nudged_request` adds one user message
  saying how to call a tool, so the next answer differs.

`run_model` asks `recovered_request` before it retries or gives up; the changed request is what the
activity sends, and its result is recorded like any other, so replays see the same thing.
"""
from __future__ import annotations

import json
import re
from typing import Any

KEPT_TURNS = 4  # the latest input items a smaller request keeps whole
SHORT_CHARS = 300
CONTEXT_ERROR = re.compile(r"context[_ ]length|context size|context window|maximum context|too many tokens|"
                           r"prompt is too long|exceeds? the (?:available )?context", re.IGNORECASE)
MALFORMED_CALL = re.compile(r"does not match the expected|failed to parse (?:the )?tool|invalid tool call|"
                            r"tool call.*(?:parse|invalid|malformed)", re.IGNORECASE)
NUDGE = ("Your last answer could not be read: it looked like a tool call but was not valid. To call a tool, send "
         "the call itself with its arguments as one JSON object (no Markdown fence, no text around it); "
         "otherwise answer in plain text.")


def is_context_error(message: str) -> bool:
    return bool(CONTEXT_ERROR.search(message or ""))


def _shorten_item(item: Any) -> bool:
    """Replace the large text fields of one input item by a note; whether anything changed."""
    if not isinstance(item, dict):
        return False
    changed = False
    for key in ("output", "arguments", "content"):
        value = item.get(key)
        if isinstance(value, str) and len(value) > SHORT_CHARS:
            item[key] = (value[:SHORT_CHARS // 2] + f"\n[... {len(value)} characters removed to fit the model's "
                         f"context window]") if key != "arguments" else json.dumps(
                {"note": f"{len(value)} characters of arguments removed to fit the context window"})
            changed = True
    return changed


def shrink_request(activity_input: str) -> str | None:
    """The `run_model` activity input with older tool results and arguments cut (the first item, the task,
    and the last `KEPT_TURNS` items kept whole), or None when there is nothing left to cut."""
    request = json.loads(activity_input)
    items = request.get("input")
    if not isinstance(items, list) or len(items) <= KEPT_TURNS + 1:
        return None
    changed = [_shorten_item(item) for item in items[1:-KEPT_TURNS]]
    return json.dumps(request) if any(changed) else None


def nudged_request(activity_input: str) -> str | None:
    """The `run_model` activity input with `NUDGE` added as the last user message, or None when it is
    already there (one nudge per request)."""
    request = json.loads(activity_input)
    items = request.get("input")
    items = [{"role": "user", "content": items}] if isinstance(items, str) else items
    if not isinstance(items, list) or (items and isinstance(items[-1], dict) and items[-1].get("content") == NUDGE):
        return None
    request["input"] = [*items, {"role": "user", "content": NUDGE}]
    return json.dumps(request)


def recovered_request(activity_input: str, status: Any, message: str) -> tuple[str | None, str]:
    """(the request to send instead, what was done) for a model error a different request can avoid, else
    (None, "")."""
    if status == 400 and is_context_error(message):
        return shrink_request(activity_input), "older tool results cut to fit the context window"
    if isinstance(status, int) and status >= 500 and MALFORMED_CALL.search(message or ""):
        return nudged_request(activity_input), "the model was told how to call a tool"
    return None, ""
