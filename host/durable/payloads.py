"""Payload sizes as Azure counts them, so the local host refuses what Azure refuses (issue 21 §2).

On Azure, the Python worker hands the Durable extension JSON text in which every non-ASCII
character is escaped (`df_dumps`, `json.dumps`'s defaults); the extension parses it and stores its
own serialization, Newtonsoft.Json's `Formatting.None` with the default `StringEscapeHandling`: a
non-ASCII character is written as itself, and only `"`, `\\`, control characters, U+0085, U+2028
and U+2029 are escaped. The Durable Task Scheduler gets that text as a protobuf string, UTF-8, and
caps a message at 1 MiB (docs: durable-task-scheduler-large-payloads; its offloading SDKs measure a
payload as `Encoding.UTF8.GetByteCount` of that string, durabletask-dotnet PayloadInterceptor.cs,
and `val.encode("utf-8")`, durabletask-python payload/helpers.py). What each payload is there:

- an activity result: the value, re-serialized (azure-functions-host
  GrpcMessageConversionExtensions.ToObject parses `TypedData.Json`; the extension's
  DurableActivityContext.SetOutput writes it with `JToken.ToString(Formatting.None)`);
- an activity input: the orchestrator's action carries `df_dumps(input)` as a string, and DTFx
  (TaskOrchestrationContext.ScheduleTaskInternal) serializes the parameters array, `["<that text>"]`:
  the worker's escapes are escaped once more;
- a sub-orchestration or continue-as-new input, a start input sent by the SDK client, event data:
  that string, serialized (quoted once more);
- an orchestration output: the value, serialized;
- a custom status: the value, serialized, counted in UTF-16 (MessagePayloadDataConverter.Serialize
  with its 16 KB cap; episode.py).

So a Japanese page of 637 KB in UTF-8 is about 640 KB as an activity result, while the same text in
an activity input (an agent's conversation) costs 7 bytes a character.
"""
from __future__ import annotations

import json
from typing import Any

# Escaped by Newtonsoft.Json although they need no escaping in JSON (JavaScriptUtils.WriteEscapedJavaScriptString).
_NEWTONSOFT_ESCAPES = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def extension_json(value: Any) -> str:
    """The JSON text the Durable extension stores for `value` (plain JSON data)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_NEWTONSOFT_ESCAPES)  # these characters occur only inside strings


def stored_bytes(value: Any) -> int:
    """Bytes of `value` as the extension stores it and the scheduler receives it (UTF-8; a lone
    surrogate, which .NET encodes as U+FFFD, counts 3 like it)."""
    return len(extension_json(value).encode("utf-8", "surrogatepass"))


def activity_input_bytes(worker_text: str | None) -> int:
    """An activity input: the worker's JSON text, in DTFx's parameters array."""
    return 0 if worker_text is None else stored_bytes([worker_text])


def activity_result_bytes(worker_text: str | None) -> int:
    """An activity result: the worker's JSON text, parsed and written again by the extension."""
    return 0 if worker_text is None else stored_bytes(json.loads(worker_text))
