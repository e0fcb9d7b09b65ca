"""A job's step timeline, derived from Durable history: agent steps, model calls, tool calls, other
activities, sub-orchestrations, timers and events, each with start, duration, retries and short
previews of its input and output.

Read through the management API, as the Durable extension shows history to people
(`showHistory=true`: one event per finished activity or sub-orchestration, with `FunctionName`,
`ScheduledTime` and `Input`; see host/http/history_format.py for the local host's copy of that
rewrite). A job's sub-orchestrations are found by instance id: the workflows name every child
`<parent id>:<label>-<suffix>` (orchestrations/step_ids.py), so one `instanceIdPrefix` query finds
them all on either host, and a step's parent is the id before its last `:`.

Step shape (JSON): {kind, name, label, status, started_at, ended_at?, duration_ms?, retries,
input_preview?, output_preview?, error?, instance_id?, fire_at?, usage?, steps?}; `kind` is one of
agent, orchestration, model_call, tool_call, activity, timer, event; `status` one of running,
completed, failed, canceled, waiting, skipped. Times are ISO 8601 UTC. `usage` (tools/job_usage.py
`UsageCounts`): a model call's own, from the record its result holds; an agent step's model calls so far;
a sub-orchestration's, the sum of the agent steps under it.
"""
from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timezone
from typing import Any

import httpx

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.usage.ending import BOOKKEEPING
from orchestrations.usage.ledger import add_call, agent_steps_usage, empty, record_of, total_of

from .http_client import shared_client
from .instances import rpc_base
from .job_steps import list_steps
from .job_usage import usage_counts

PREVIEW_CHARS = 160
MODEL_ACTIVITY = "run_model"
MAX_CONCURRENT_HISTORY_READS = 8
RUNNING = {"Pending", "Running", "ContinuedAsNew", "Suspended"}
INSTANCE_STATUS = {"Completed": "completed", "Failed": "failed", "Terminated": "canceled", "Canceled": "canceled"}
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 as Azure writes it (up to 7 fractional digits, `Z`) or as the local host does."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if value else None


def unwrap(value: Any) -> Any:
    """Data as its sender meant it: JSON text (even JSON text inside JSON text) becomes its value."""
    for _ in range(3):
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text or text[0] not in "[{\"":
            return value
        try:
            value = json.loads(text)
        except ValueError:
            return value
    return value


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str | None:
    """One short line of text for a value: strings as they are, data as compact JSON."""
    value = unwrap(value)
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _message_text(item: dict[str, Any]) -> str | None:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("text") for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
        return " ".join(parts) if parts else None
    return None


def model_input_preview(activity_input: Any) -> str | None:
    """What a model call was given last: the newest input item (a user message or a tool's output)."""
    data = unwrap(activity_input)
    if not isinstance(data, dict):
        return preview(data)
    items = unwrap(data.get("input"))
    if isinstance(items, list) and items:
        last = items[-1] if isinstance(items[-1], dict) else {}
        if last.get("type") == "function_call_output":
            return preview(f"tool output: {preview(last.get('output'))}")
        return preview(_message_text(last) or last)
    return preview(items)


def model_output_preview(activity_output: Any) -> str | None:
    """What a model call answered: its text, or the tools it asked to call."""
    data = unwrap(activity_output)
    items = data.get("output") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return preview(data)
    said = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            said.append(f"calls {item.get('name')}({preview(item.get('arguments'), 60) or ''})")
        else:
            text = _message_text(item)
            if text:
                said.append(text)
    return preview(" · ".join(said)) if said else None


def model_name(activity_input: Any) -> str | None:
    data = unwrap(activity_input)
    return data.get("model_name") if isinstance(data, dict) else None


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return round((end - start).total_seconds() * 1000) if start and end else None


def activity_step(name: str, input_value: Any, output: Any, error: str | None, status: str,
                  started: datetime | None, ended: datetime | None, retries: int) -> dict[str, Any]:
    if name == MODEL_ACTIVITY:
        model = model_name(input_value)
        kind, label = "model_call", f"model call ({model})" if model else "model call"
        input_text, output_text = model_input_preview(input_value), model_output_preview(output)
    else:
        kind = "tool_call" if name in BUILTIN_TOOLS else "activity"
        label, input_text, output_text = name, preview(input_value), preview(output)
    step: dict[str, Any] = {"kind": kind, "name": name, "label": label, "status": status,
                            "started_at": iso(started), "ended_at": iso(ended), "duration_ms": _ms(started, ended),
                            "retries": retries, "input_preview": input_text, "output_preview": output_text}
    if error:
        step["error"] = preview(error, 400)
    record = record_of(unwrap(output)) if kind == "model_call" else None
    if record is not None:
        step["usage"] = _public(add_call(empty(), record))
    return step


def _public(usage: dict[str, Any]) -> dict[str, Any]:
    return usage_counts(usage).model_dump(exclude_none=True)


def _failure_text(event: dict[str, Any]) -> str:
    details = event.get("FailureDetails") if isinstance(event.get("FailureDetails"), dict) else {}
    return str(event.get("Reason") or details.get("ErrorMessage") or event.get("Details") or "failed")


INBOX_EVENTS = {"TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed",
                "EventRaised", "TimerFired"}


def history_steps(events: list[dict[str, Any]], finished: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Steps of one instance's own history (activities, timers, events), and the sub-orchestration
    events it records (matched to child instances by the caller).

    A failed attempt followed by another call of the same activity with the same input is a Durable
    retry: the attempts become one step with `retries` counted. The extension schedules each retry
    delay as a timer in the episode that received the failure, so in history the failures of an
    episode (its inbox events) are followed by that many timers; those are left out, as are the
    activities that only keep the job's books (`BOOKKEEPING`: its usage sum as it ends).
    """
    steps: list[dict[str, Any]] = []
    sub_events: list[dict[str, Any]] = []
    failures_in_episode = 0
    previous_was_inbox = False
    retry_fire_times: set[str] = set()
    last_attempt: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        kind = event.get("EventType")
        if kind in INBOX_EVENTS:
            if not previous_was_inbox:
                failures_in_episode = 0
            failures_in_episode += kind == "TaskFailed"
        previous_was_inbox = kind in INBOX_EVENTS
        if kind in ("TaskCompleted", "TaskFailed", "TaskScheduled"):
            name = str(event.get("FunctionName") or event.get("Name") or "activity")
            if name in BOOKKEEPING:
                continue
            key = (name, json.dumps(event.get("Input"), sort_keys=True, default=str))
            started = parse_time(event.get("ScheduledTime") or event.get("Timestamp"))
            ended = None if kind == "TaskScheduled" else parse_time(event.get("Timestamp"))
            status = {"TaskScheduled": "running", "TaskCompleted": "completed", "TaskFailed": "failed"}[kind]
            output = event.get("Result") if kind == "TaskCompleted" else None
            error = _failure_text(event) if kind == "TaskFailed" else None
            earlier = last_attempt.get(key)
            if earlier is not None and earlier["status"] == "failed":
                step = activity_step(name, event.get("Input"), output, error, status,
                                     parse_time(earlier["started_at"]), ended, earlier["retries"] + 1)
                steps[steps.index(earlier)] = step
            else:
                step = activity_step(name, event.get("Input"), output, error, status, started, ended, 0)
                steps.append(step)
            last_attempt[key] = step
        elif kind == "TimerCreated" and failures_in_episode:
            failures_in_episode -= 1  # the extension's retry delay, not a step of its own
            retry_fire_times.add(str(event.get("FireAt")))
        elif kind == "TimerCreated":
            steps.append({"kind": "timer", "name": "timer", "label": "timer",
                          "status": "skipped" if finished else "waiting",
                          "started_at": iso(parse_time(event.get("Timestamp"))), "ended_at": None,
                          "duration_ms": None, "retries": 0, "fire_at": event.get("FireAt")})
        elif kind == "TimerFired" and str(event.get("FireAt")) not in retry_fire_times:
            _fire(steps, str(event.get("FireAt")), parse_time(event.get("Timestamp")))
        elif kind == "EventRaised":
            at = iso(parse_time(event.get("Timestamp")))
            steps.append({"kind": "event", "name": str(event.get("Name")), "label": f"event {event.get('Name')}",
                          "status": "completed", "started_at": at, "ended_at": at, "duration_ms": 0, "retries": 0,
                          "input_preview": preview(event.get("Input"))})
        elif kind in ("SubOrchestrationInstanceCreated", "SubOrchestrationInstanceCompleted",
                      "SubOrchestrationInstanceFailed"):
            sub_events.append(event)
    return steps, sub_events


def _fire(steps: list[dict[str, Any]], fire_at: str, fired: datetime | None) -> None:
    for step in steps:
        if step["kind"] == "timer" and str(step.get("fire_at")) == fire_at and step["ended_at"] is None:
            step.update(status="completed", ended_at=iso(fired),
                        duration_ms=_ms(parse_time(step["started_at"]), fired))
            return


def step_label(name: str, instance_input: Any) -> tuple[str, str]:
    """(kind, label) of a sub-orchestration, from what it was asked to do."""
    data = unwrap(instance_input)
    if isinstance(data, dict) and isinstance(data.get("agent"), str):
        return "agent", f"agent {data['agent']}"
    task = data.get("task") if isinstance(data, dict) else None
    if isinstance(task, dict) and task.get("title"):
        return "orchestration", f"{name}: {task['title']}"
    return "orchestration", name


def orchestration_output_preview(output: Any) -> str | None:
    data = unwrap(output)
    if isinstance(data, dict) and "output" in data:  # an agent step: {"output", "model_calls", "tool_calls"}
        return preview(data["output"])
    return preview(data)


def execution_times(status: dict[str, Any], events: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    """When an instance started and ended: from its history (to the millisecond) where it has the
    events, else from its status (whole seconds, as the management API reports them)."""
    runtime = status.get("runtimeStatus") or "Pending"
    started = next((parse_time(e.get("Timestamp")) for e in events if e.get("EventType") == "ExecutionStarted"),
                   None) or parse_time(status.get("createdTime"))
    if runtime in RUNNING:
        return started, None
    ended = next((parse_time(e.get("Timestamp")) for e in reversed(events)
                  if e.get("EventType") in ("ExecutionCompleted", "ExecutionFailed", "ExecutionTerminated")), None)
    return started, ended or parse_time(status.get("lastUpdatedTime"))


def instance_step(status: dict[str, Any], events: list[dict[str, Any]], steps: list[dict[str, Any]],
                  usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A sub-orchestration as a step, with its own steps nested and its usage (`subtree_usage`)."""
    runtime = status.get("runtimeStatus") or "Pending"
    started, ended = execution_times(status, events)
    kind, label = step_label(str(status.get("name")), status.get("input"))
    step: dict[str, Any] = {
        "kind": kind, "name": status.get("name"), "label": label, "instance_id": status.get("instanceId"),
        "status": INSTANCE_STATUS.get(runtime, "running"), "started_at": iso(started), "ended_at": iso(ended),
        "duration_ms": _ms(started, ended), "retries": 0, "input_preview": preview(_prompt_of(status.get("input"))),
        "output_preview": orchestration_output_preview(status.get("output")) if runtime == "Completed" else None,
        "steps": steps,
    }
    if runtime in ("Failed", "Terminated"):
        step["error"] = preview(status.get("output"), 400)
    if usage is not None:
        step["usage"] = usage
    return step


def subtree_usage(instance_id: str, statuses: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The usage of the agent steps at or under `instance_id` (their ids start with `<instance_id>:`), in
    the step shape; None when there are none."""
    agents = agent_steps_usage(status for child_id, status in statuses.items()
                               if child_id == instance_id or child_id.startswith(instance_id + ":"))
    if not agents:
        return None
    total = total_of(agents.values())
    return _public(total)


def _prompt_of(instance_input: Any) -> Any:
    """The part of a sub-orchestration's input that says what it was asked: a prompt, a task's
    instructions, or the whole input."""
    data = unwrap(instance_input)
    task = data.get("task") if isinstance(data, dict) else None
    if isinstance(data, dict) and "prompt" in data:
        return data["prompt"]
    if isinstance(task, dict) and "instructions" in task:
        return task["instructions"]
    return data


def _unmatched_sub_events(sub_events: list[dict[str, Any]], children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sub-orchestration events with no child instance found by id (a child started without our ids)."""
    child_inputs = [json.dumps(unwrap(c["status"].get("input")), sort_keys=True, default=str) for c in children]
    child_ids = {c["status"].get("instanceId") for c in children}
    steps = []
    for event in sub_events:
        if event.get("EventType") == "SubOrchestrationInstanceCreated" and event.get("InstanceId") in child_ids:
            continue
        wanted = json.dumps(unwrap(event.get("Input")), sort_keys=True, default=str)
        if wanted in child_inputs:
            child_inputs.remove(wanted)
            continue
        name = str(event.get("FunctionName") or event.get("Name") or "sub-orchestration")
        kind, label = step_label(name, event.get("Input"))
        done = event.get("EventType") != "SubOrchestrationInstanceCreated"
        started = parse_time(event.get("ScheduledTime") or event.get("Timestamp"))
        ended = parse_time(event.get("Timestamp")) if done else None
        status = {"SubOrchestrationInstanceCompleted": "completed", "SubOrchestrationInstanceFailed": "failed"}.get(
            str(event.get("EventType")), "running")
        step = {"kind": kind, "name": name, "label": label, "status": status, "started_at": iso(started),
                "ended_at": iso(ended), "duration_ms": _ms(started, ended), "retries": 0,
                "input_preview": preview(_prompt_of(event.get("Input"))),
                "output_preview": orchestration_output_preview(event.get("Result")), "steps": []}
        if status == "failed":
            step["error"] = preview(_failure_text(event), 400)
        steps.append(step)
    return steps


def _by_start(step: dict[str, Any]) -> str:
    return step.get("started_at") or "9999"


def build_tree(instance_id: str, statuses: dict[str, dict[str, Any]],
               histories: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The steps of `instance_id`: its own history's steps and its child instances', oldest first."""
    status = statuses.get(instance_id, {})
    finished = (status.get("runtimeStatus") or "Running") not in RUNNING
    own, sub_events = history_steps(histories.get(instance_id, []), finished)
    children = [{"status": child, "id": child_id} for child_id, child in statuses.items()
                if child_id.rpartition(":")[0] == instance_id]
    steps = own + [instance_step(c["status"], histories.get(c["id"], []), build_tree(c["id"], statuses, histories),
                                 subtree_usage(c["id"], statuses)) for c in children]
    steps += _unmatched_sub_events(sub_events, children)
    return sorted(steps, key=_by_start)


async def _history(http: httpx.AsyncClient, base: str, instance_id: str,
                   limit: asyncio.Semaphore) -> list[dict[str, Any]]:
    async with limit:
        response = await http.get(f"{base}instances/{instance_id}", params={
            "showHistory": "true", "showHistoryOutput": "true", "showInput": "true"})
    if response.status_code not in (200, 202):
        return []
    return response.json().get("historyEvents") or []


async def load_steps(client: Any, job_status: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline of a job whose management-API status payload is `job_status`.

    `client` is the SDK's DurableOrchestrationClient; requests go to its rpc base URL, as the SDK's
    own do (tools/job_steps.py)."""
    job_id = job_status["instanceId"]
    limit = asyncio.Semaphore(MAX_CONCURRENT_HISTORY_READS)
    http = shared_client()
    children = await list_steps(client, job_id)
    ids = [job_id] + [c["instanceId"] for c in children]
    histories = await asyncio.gather(*(_history(http, rpc_base(client), i, limit) for i in ids))
    statuses = {job_id: job_status, **{c["instanceId"]: c for c in children}}
    return build_tree(job_id, statuses, dict(zip(ids, histories)))
