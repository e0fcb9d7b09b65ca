"""The one place an orchestration writes its custom status, which the job tools read back.

Custom status shape (JSON): {"progress": {"stage", "message", "completed"?, "total"?},
"input_request"?: {"event", "prompt", "schema"?, "details_ref"?}, "usage"?: {...}}. `tools/job_status.py` turns it
into the public status object; keep the two in step. `usage` is what the orchestration's ledger knows
(orchestrations/usage/ledger.py: an agent step's own model calls, or the roll-up of finished steps), written
with every progress update.

Azure fails an orchestration whose custom status is over 16 KB in UTF-16 (issue 8.9), whatever
the agents returned, so everything written here is bounded (`MAX_MESSAGE_CHARS`,
`MAX_PROMPT_CHARS`, and `STATUS_BUDGET_BYTES` as Azure counts it, for any script: issue 21 §2)
and large data goes elsewhere: `keep_data` stores a value as
the output of a step (a tiny `job_data` sub-orchestration whose instance id is the reference), and
an input request names that step in `details_ref`; `get_job` reads it into `input_request.details`.
"""
from __future__ import annotations

import json
from typing import Any, Generator

import azure.durable_functions as df

from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, fit, input_bytes, status_bytes
from orchestrations.usage.budget import status_field
from orchestrations.usage.ledger import ledger_of
from orchestrations.wording import shorten

bp = df.Blueprint()

JOB_DATA = "job_data"
MAX_MESSAGE_CHARS = 500
MAX_PROMPT_CHARS = 2000
STATUS_BUDGET_BYTES = 12_000  # UTF-16; Azure's limit is 16 KB


def set_progress(context: Any, stage: str, message: str, completed: int | None = None,
                 total: int | None = None) -> None:
    """Report where the job is; clears any pending input request."""
    progress: dict[str, Any] = {"stage": shorten(stage, 100), "message": shorten(message, MAX_MESSAGE_CHARS)}
    if completed is not None:
        progress["completed"] = completed
    if total is not None:
        progress["total"] = total
    _write(context, {"progress": progress})


def _write(context: Any, status: dict[str, Any]) -> None:
    """Set the custom status to `status` with the orchestration's usage and budget decisions, within the
    budget (`fit`), and remember it (`rewrite_status`)."""
    context._last_custom_status = status
    usage = ledger_of(context).usage()
    context.set_custom_status(fit({**status, **({"usage": usage} if usage else {}), **status_field(context)},
                                  STATUS_BUDGET_BYTES, status_bytes))


def rewrite_status(context: Any) -> None:
    """Write the last progress or input request again, with the usage the ledger holds now."""
    _write(context, getattr(context, "_last_custom_status", None) or {"progress": {"stage": "running",
                                                                                 "message": "running"}})


def request_input(context: Any, event: str, prompt: str, schema: dict[str, Any] | None = None,
                  stage: str = "waiting_for_input", details_ref: str | None = None,
                  details: dict[str, str] | None = None) -> None:
    """Mark the job as waiting for `send_job_input(job_id, event, data)`; `details_ref` is the step
    (from `keep_data`) whose output holds what the decision is about; small `details` (a few lines of
    text, each cut to `MAX_MESSAGE_CHARS`) may be given in place."""
    prompt = shorten(prompt, MAX_PROMPT_CHARS)
    request: dict[str, Any] = {"event": event, "prompt": prompt}
    if schema is not None:
        request["schema"] = schema
    if details_ref is not None:
        request["details_ref"] = details_ref
    elif details:
        request["details"] = {shorten(str(name), 100): shorten(str(text), MAX_MESSAGE_CHARS)
                              for name, text in list(details.items())[:5]}
    _write(context, {"progress": {"stage": stage, "message": shorten(prompt, MAX_MESSAGE_CHARS)},
                     "input_request": request})


def keep_data(context: df.DurableOrchestrationContext, name: str, value: Any) -> Generator[Any, Any, str]:
    """Store `value` as a step's output and return the step's instance id, `<job id>:<name>`.
    Call it with `ref = yield from keep_data(context, "proposal", proposal)`."""
    instance_id = f"{context.instance_id}:{name}"
    yield context.call_sub_orchestrator(JOB_DATA, fit(value, PAYLOAD_BUDGET_BYTES, input_bytes), instance_id)
    return instance_id


@bp.orchestration_trigger(context_name="context", orchestration=JOB_DATA)
def job_data(context: df.DurableOrchestrationContext):
    """Holds a job's large data as its output (see `keep_data`)."""
    return context.get_input()


def event_data(value: Any) -> Any:
    """Event data as the sender meant it: Azure hands Python orchestrators JSON text when the
    sender was the SDK client (azure-functions-durable-python#295), plain HTTP callers the value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
