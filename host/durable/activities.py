"""Run one activity as the worker and the Durable extension do, and describe its outcome as the
history event the orchestrator will see (TaskCompleted, or TaskFailed with Azure's wording)."""
from __future__ import annotations

import time
import traceback
from typing import Any

from azure.functions import meta

from host.durable import events as he
from host.durable.http_activity import run_http_activity
from host.durable.replay import HTTP_ACTIVITY
from host.durable.store import PendingActivity
from host.functions.invoker import FunctionInvoker
from host.functions.loader import LoadedApp


async def execute_activity(app: LoadedApp, invoker: FunctionInvoker, item: PendingActivity,
                           max_payload_bytes: int) -> dict[str, Any]:
    if item.name == HTTP_ACTIVITY:
        try:
            return he.task_completed(time.time(), item.task_id, await run_http_activity(item.input))
        except Exception as exc:
            return he.task_failed(time.time(), item.task_id, f"Durable HTTP request failed: {exc}", "")
    function = app.activity(item.name)
    if function is None:
        return he.task_failed(time.time(), item.task_id,
                              f"The function '{item.name}' doesn't exist, is disabled, or is not an activity function.",
                              "")
    try:
        value = await invoker.invoke(function, decode_input(item.input))
        result = encode_result(value)
    except Exception as exc:
        return he.task_failed(time.time(), item.task_id, f"Activity function '{function.durable_name}' failed: {exc}",
                              "".join(traceback.format_exception_only(type(exc), exc)).strip())
    size = 0 if result is None else len(result.encode())
    if size > max_payload_bytes:
        return he.task_failed(time.time(), item.task_id,
                              f"Activity function '{function.durable_name}' failed: its result is {size} bytes, "
                              f"over the local host's limit of {max_payload_bytes} bytes", "")
    return he.task_completed(time.time(), item.task_id, result)


def decode_input(text: str | None) -> Any:
    """The worker's activityTrigger conversion: JSON text to a value, plain text passed through."""
    converter = meta.get_binding_registry().get("activityTrigger")
    return converter.decode(meta.Datum(text, "string"), trigger_metadata=None)


def encode_result(value: Any) -> str | None:
    converter = meta.get_binding_registry().get("activityTrigger")
    return converter.encode(value, expected_type=None).value
