"""The public job status object, built from a Durable status and the custom status that
`orchestrations/job_status.py` writes.

An orchestration cannot terminate itself, so one that ends as canceled on its own (plan_trip's
approval timeout) completes with progress stage "canceled" and the reason as message; such a job
is reported as canceled, with the reason in `error` and its output kept."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from azure.durable_functions import DurableOrchestrationClient

# custom status and output arrive as JSON text or as values, like event data
from orchestrations.job_status import event_data

# Durable runtime status -> our status; "running" becomes "waiting_for_input" when the
# orchestration asked for input.
STATUS_MAP = {
    "Pending": "pending",
    "Running": "running",
    "ContinuedAsNew": "running",
    "Suspended": "suspended",
    "Completed": "completed",
    "Failed": "failed",
    "Terminated": "canceled",
    "Canceled": "canceled",
}
TERMINAL = {"completed", "failed", "canceled"}
RUNTIME_FILTERS = {
    "pending": ["Pending"],
    "running": ["Running", "ContinuedAsNew"],
    "waiting_for_input": ["Running"],
    "suspended": ["Suspended"],
    "completed": ["Completed"],
    "failed": ["Failed"],
    "canceled": ["Terminated", "Canceled", "Completed"],  # Completed: ended itself as canceled
}
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{0,127}$")


class JobError(ValueError):
    """A tool error the caller can act on; the message says what was wrong."""


def check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise JobError(f"Malformed job_id {job_id!r}: expected the id returned when the job was started")
    return job_id


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def status_object(raw: dict[str, Any], links: dict[str, str] | None) -> dict[str, Any]:
    """Build the status object from a management-API status payload (camelCase keys)."""
    runtime = raw.get("runtimeStatus") or "Pending"
    status = STATUS_MAP.get(runtime, runtime.lower())
    custom = event_data(raw.get("customStatus"))
    custom = custom if isinstance(custom, dict) else {}
    input_request = custom.get("input_request") if status == "running" else None
    if input_request:
        status = "waiting_for_input"
    progress = custom.get("progress") or {"stage": status, "message": f"job is {status}"}
    ended_as_canceled = status == "completed" and progress.get("stage") == "canceled"
    if ended_as_canceled:
        status = "canceled"
    if status in TERMINAL and progress.get("stage") not in TERMINAL:
        progress = {**progress, "stage": status, "message": f"job is {status}"}
    job: dict[str, Any] = {
        "job_id": raw.get("instanceId"),
        "workflow": workflow_of(raw.get("name")),
        "status": status,
        "progress": progress,
        "created_at": raw.get("createdTime"),
        "updated_at": raw.get("lastUpdatedTime"),
        "links": links or {},
    }
    if input_request:
        job["input_request"] = input_request
    output = event_data(raw.get("output"))
    if status == "completed":
        job["output"] = output
    elif status == "failed":
        job["error"] = output
    elif ended_as_canceled:
        job["output"] = output
        job["error"] = f"canceled: {progress.get('message')}"
    elif status == "canceled":
        job["error"] = f"canceled: {output}" if output else "canceled"
    return job


def client_status(status: Any) -> dict[str, Any]:
    """The SDK's DurableOrchestrationStatus as a management-API payload."""
    runtime = status.runtime_status
    return {
        "instanceId": status.instance_id,
        "name": status.name,
        "runtimeStatus": getattr(runtime, "value", runtime),
        "customStatus": status.custom_status,
        "output": status.output,
        "createdTime": _iso(status.created_time),
        "lastUpdatedTime": _iso(status.last_updated_time),
    }


def links_for(client: DurableOrchestrationClient, job_id: str) -> dict[str, str]:
    payload = client.create_http_management_payload(job_id)
    return {"status_url": payload["statusQueryGetUri"], "send_event_url": payload["sendEventPostUri"],
            "terminate_url": payload["terminatePostUri"], "rewind_url": payload["rewindPostUri"]}


WORKFLOWS = {"run_agent_workflow": "run_agent", "run_swarm_workflow": "run_swarm", "plan_trip_workflow": "plan_trip"}


def workflow_of(orchestrator: str | None) -> str | None:
    return WORKFLOWS.get(orchestrator or "", orchestrator)


def orchestrator_of(workflow: str) -> str:
    for orchestrator, name in WORKFLOWS.items():
        if name == workflow:
            return orchestrator
    raise JobError(f"Unknown workflow {workflow!r}: expected one of {', '.join(WORKFLOWS.values())}")
