"""What the app hands the Durable engine stays under its payload limit, for any script (issue 21 §2).

Every activity result and input, orchestration input and output, event and custom status is
measured as Azure stores it, in bytes, not in characters: the Durable extension re-serializes what
the Python worker sends and the Durable Task Scheduler takes it as UTF-8, 1 MiB at most
(host/durable/payloads.py gives the sources; the local host enforces the same). The same text
costs very different amounts depending on where it goes:

| one character of a string | `result_bytes` | `input_bytes` | `model_input_bytes` | `status_bytes` |
| ASCII letter              | 1              | 1             | 1                   | 2              |
| `"` or `\\`               | 2              | 4             | 8                   | 4              |
| newline                   | 2              | 3             | 5                   | 4              |
| other control character   | 6              | 7             | 9                   | 12             |
| CJK (3 bytes in UTF-8)    | 3              | 7             | 7                   | 2              |
| emoji (astral)            | 4              | 14            | 14                  | 4              |

- `result_bytes`: an activity result or an orchestration output (UTF-8 JSON, non-ASCII as itself);
- `input_bytes`: an activity or sub-orchestration input, a start input, event data (the worker's
  ASCII-escaped JSON text, quoted once more);
- `model_input_bytes`: a value inside a model call's input: the Agents SDK serializes the
  conversation to JSON (non-ASCII as itself) and that text is the `run_model` activity's input;
- `status_bytes`: a custom status, counted by Azure in UTF-16 (16 KB at most).

`cut` shortens a text to a budget in one of these measures and says what it left out; `fit` does
that to the longest strings of a JSON value until the whole value fits. Both cut between
characters (never inside an escape, a surrogate pair or a combining sequence).
"""
from __future__ import annotations

import json
import unicodedata
from typing import Any, Callable

PAYLOAD_LIMIT_BYTES = 1024 * 1024  # the scheduler's message; the local host's default maxPayloadBytes
# Any one payload the app produces. The margin below 1 MiB is the one the scheduler's own large-payload
# samples keep (they offload above 900,000 bytes, "before they approach the 1 MiB scheduler ceiling").
PAYLOAD_BUDGET_BYTES = 900_000
# One text a model reads (a tool result, the large part of a prompt), in `model_input_bytes`: a
# conversation holds several of them within the budget of a model call's input.
MODEL_TEXT_BUDGET_BYTES = 300_000
# A plan (contract and tasks), which every worker's, judge's and integrator's prompt carries beside
# the goal (20,000 characters: up to 280,000 bytes) and one large text.
PLAN_BUDGET_BYTES = 150_000
# A model call's input: the conversation and instructions; the rest of `run_model`'s input (tool
# schemas, output schema, settings) is given the remaining room.
MODEL_INPUT_BUDGET_BYTES = PAYLOAD_BUDGET_BYTES - 60_000

Measure = Callable[[Any], int]

# Newtonsoft.Json escapes these although JSON does not require it.
_NEWTONSOFT_ESCAPES = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def result_bytes(value: Any) -> int:
    """Bytes of `value` as an activity result or an orchestration output."""
    return len(_json(value).translate(_NEWTONSOFT_ESCAPES).encode("utf-8", "surrogatepass"))


def input_bytes(value: Any) -> int:
    """Bytes of `value` as an activity or sub-orchestration input, a start input or event data: the
    worker's JSON text (every non-ASCII character escaped), whose `\\` and `"` are escaped again."""
    text = json.dumps(value)
    return len(text) + text.count("\\") + text.count('"') + 4


def model_input_bytes(value: Any) -> int:
    """Bytes `value` adds to a model call's input (the `run_model` activity's input, whose JSON text
    the SDK writes with non-ASCII characters as themselves)."""
    return input_bytes(_json(value))


def status_bytes(value: Any) -> int:
    """Bytes of `value` as a custom status: its JSON in UTF-16, as Azure counts it."""
    return len(_json(value).translate(_NEWTONSOFT_ESCAPES).encode("utf-16-le", "surrogatepass"))


def _boundary(text: str, end: int) -> int:
    """The nearest cut at or before `end` that splits no user-perceived character: not before a
    combining mark, a joiner, a variation selector or a skin-tone modifier, not after a joiner, not
    inside a surrogate pair or a CRLF."""
    while 0 < end < len(text):
        before, after = text[end - 1], text[end]
        if not (unicodedata.combining(after) or after in "\u200d\u200c" or "\ufe00" <= after <= "\ufe0f"
                or "\U0001f3fb" <= after <= "\U0001f3ff" or "\U000e0020" <= after <= "\U000e01ef"
                or before == "\u200d" or ("\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff")
                or (before == "\r" and after == "\n")):
            break
        end -= 1
    return end


def cut_note(kept: int, total: int, what: str) -> str:
    return (f"\n[cut: {what} has {total:,} characters; only the first {kept:,} are here, to keep it "
            f"within the Durable payload limit]")


def cut(text: str, budget: int, measure: Measure = result_bytes, what: str = "this text") -> str:
    """`text` when `measure(text) <= budget`; else its longest prefix that fits with `cut_note`
    appended, cut between characters (`budget` too small even for the note: the note alone)."""
    if measure(text) <= budget:
        return text
    low, high = 0, len(text)  # the longest prefix that fits, by bisection: measures are monotone
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle] + cut_note(middle, len(text), what)) <= budget:
            low = middle
        else:
            high = middle - 1
    kept = _boundary(text, low)
    return text[:kept] + cut_note(kept, len(text), what)


def _longest_string(value: Any, measure: Measure, done: set[tuple]) -> tuple[tuple, str] | None:
    """(path, string) of the string in `value` that costs most, skipping paths in `done`."""
    best: tuple[int, tuple, str] | None = None
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and path not in done:
            size = measure(item)
            if best is None or size > best[0]:
                best = (size, path, item)
        elif isinstance(item, dict):
            stack.extend(((*path, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, index), child) for index, child in enumerate(item))
    return None if best is None else (best[1], best[2])


def _replaced(value: Any, path: tuple, new: str) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(child, rest, new) if index == head else child for index, child in enumerate(value)]


def batches(items: dict[str, Any], budget: int, measure: Measure = input_bytes) -> list[dict[str, Any]]:
    """`items` split, in order, into as few consecutive parts as keep each within `budget` (one item
    over it alone is a part of its own): several payloads where one would be over the limit."""
    parts: list[dict[str, Any]] = [{}]
    for key, item in items.items():
        if parts[-1] and measure({**parts[-1], key: item}) > budget:
            parts.append({})
        parts[-1][key] = item
    return parts if parts[-1] else []


def fit(value: Any, budget: int, measure: Measure = result_bytes) -> Any:
    """`value` (JSON data) with its costliest strings cut, each with a note, until `measure(value)`
    is at most `budget`; a copy, `value` is not changed. `ValueError` when even cutting every
    string to its note leaves it over (a value of many small parts, which callers bound by count)."""
    done: set[tuple] = set()
    size = measure(value)
    while size > budget:
        found = _longest_string(value, measure, done)
        if found is None:
            raise ValueError(f"the value is {size:,} bytes even with its texts cut; the budget is {budget:,}")
        path, text = found
        shorter = cut(text, max(0, measure(text) - (size - budget)), measure)
        if shorter == text or len(shorter) >= len(text):
            done.add(path)
            continue
        value = _replaced(value, path, shorter)
        size = measure(value)
    return value
