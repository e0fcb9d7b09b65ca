"""The one place an orchestration writes its custom status, which the job tools read back.

Custom status shape (JSON): {"progress": {"stage", "message", "completed"?, "total"?},
"input_request"?: {"event", "prompt", "schema"?}}. `tools/job_status.py` turns it into the
public status object; keep the two in step.
"""
from __future__ import annotations

import json
from typing import Any


def set_progress(context: Any, stage: str, message: str, completed: int | None = None,
                 total: int | None = None) -> None:
    """Report where the job is; clears any pending input request."""
    progress: dict[str, Any] = {"stage": stage, "message": message}
    if completed is not None:
        progress["completed"] = completed
    if total is not None:
        progress["total"] = total
    context.set_custom_status({"progress": progress})


def request_input(context: Any, event: str, prompt: str, schema: dict[str, Any] | None = None,
                  stage: str = "waiting_for_input") -> None:
    """Mark the job as waiting for `send_job_input(job_id, event, data)`."""
    request: dict[str, Any] = {"event": event, "prompt": prompt}
    if schema is not None:
        request["schema"] = schema
    context.set_custom_status({"progress": {"stage": stage, "message": prompt}, "input_request": request})


def event_data(value: Any) -> Any:
    """Event data as the sender meant it: Azure hands Python orchestrators JSON text when the
    sender was the SDK client (azure-functions-durable-python#295), plain HTTP callers the value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
