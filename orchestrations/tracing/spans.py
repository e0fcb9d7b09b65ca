"""The spans of an orchestration, made from its Durable history when it ends (issue 19 §3).

Each orchestration - a job, a worker or other sub-orchestration, an agent step - calls `orchestration_ended`
as it returns or fails. Its span covers its run (from `ExecutionStarted` to now), and every activity it
ran gets a span from the history's `TaskScheduled` to `TaskCompleted`/`TaskFailed` timestamps: model calls
(`run_model`: "chat <model>", with the usage its result recorded), tool calls of an agent step ("execute_tool
<tool>"), other activities. Attributes follow the OpenTelemetry GenAI semantic conventions
(`gen_ai.operation.name` chat / invoke_agent / execute_tool / invoke_workflow, `gen_ai.request.model`,
`gen_ai.provider.name`, `gen_ai.agent.name`, `gen_ai.tool.name`, `gen_ai.usage.input_tokens`,
`gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.reasoning.output_tokens`)
plus `job.id` (and, for a signed-in person's job, `enduser.pseudo.id`: the owner tag) on every span and
`job.workflow` on the job's. No prompt, answer, argument or URL is exported.

Why at the end, from history: an orchestrator is replayed (on Azure every episode), so code that emitted a
span as it went would emit it again on each replay; the end of an orchestration runs once (an ended
orchestration is not run again), and the history gives every step's real times. So nothing is exported
twice by replays, and every span's content is what the history recorded. A crash inside the final episode
(after the spans were handed to the exporter, before the episode was saved) runs it again: the same spans,
with the same ids, are sent twice; spans still in the exporter's queue when the process is killed are lost.

Ids are derived from instance ids, so a job is one trace across restarts and hosts: the trace id from the
job id (the first part of every step's id, `<job_id>:...`), a span id from the instance id. A step's span is
a child of its parent's first span (`<parent>` is the id before the last `:`, orchestrations/step_ids.py).
A job or worker (a generator orchestration) sees its own failures and ends once per run, a run being what
follows a rewind (`retry_job`; the local host marks it with a `GenericEvent` "rewind: ..." in the history):
a run after the first is a span "... (retry N)" under the first run's. An agent step does not see its calls
fail (the SDK's wrapper ends it), so it ends once, when it completes, with all its calls; the orchestration
that ran it exports a span for each failure it saw (`step_failed`, once: not on replay).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace import set_span_in_context

from orchestrations.agents.model_config import ModelNotConfiguredError, model_status, require_model
from orchestrations.usage.ledger import record_of
from tools.caller import tag_of

from . import export

MODEL_ACTIVITY = "run_model"
REWIND_MARK = "rewind"


def _hash(text: str, hex_digits: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:hex_digits], 16) or 1


def trace_id_of(job_id: str) -> int:
    """The job's trace id (128 bits)."""
    return _hash(f"trace {job_id}", 32)


def span_id_of(*parts: str) -> int:
    """A span id (64 bits) from what names the span."""
    return _hash("span " + " ".join(parts), 16)


def _ns(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000_000)


def _emit(name: str, trace_id: int, span_id: int, parent_id: int | None, start: datetime, end: datetime,
          attributes: dict[str, Any], error: str | None = None, kind: SpanKind = SpanKind.INTERNAL) -> None:
    parent = Context() if parent_id is None else set_span_in_context(NonRecordingSpan(SpanContext(
        trace_id, parent_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))))
    export.IDS.next(trace_id, span_id)
    try:
        span = export.TRACER.start_span(name, context=parent, kind=kind, start_time=_ns(start),
                                        attributes={key: value for key, value in attributes.items()
                                                    if value is not None})
    finally:
        export.IDS.next(0, 0)
    if error:
        span.set_status(Status(StatusCode.ERROR, error[:500]))
        span.set_attribute("error.type", "_OTHER")
    span.end(end_time=_ns(max(end, start)))


def _usage_attributes(usage: dict[str, Any] | None) -> dict[str, Any]:
    if not usage:
        return {}
    return {"gen_ai.usage.input_tokens": usage.get("input_tokens"),
            "gen_ai.usage.output_tokens": usage.get("output_tokens"),
            "gen_ai.usage.cache_read.input_tokens": usage.get("cached_tokens"),
            "gen_ai.usage.reasoning.output_tokens": usage.get("reasoning_tokens"),
            "job.usage.model_calls": usage.get("model_calls"), "job.usage.cost": usage.get("cost"),
            "job.usage.currency": usage.get("currency")}


def _provider() -> str:
    return "azure.ai.openai" if model_status().startswith("configured: azure-openai") else "openai"


def _default_model() -> str | None:
    try:
        return require_model().model
    except ModelNotConfiguredError:
        return None


def _loads(text: Any) -> Any:
    for _ in range(2):  # a run_model result is JSON text inside the history's JSON text
        if not isinstance(text, str):
            return text
        try:
            text = json.loads(text)
        except ValueError:
            return text
    return text


def _task_span(event: Any, name: str, start: datetime, scheduled: Any, trace_id: int, parent: int, instance: str,
               base: dict[str, Any], agent: str) -> None:
    attributes = dict(base)
    if name == MODEL_ACTIVITY:
        result = _loads(getattr(event, "Result", None))
        if isinstance(result, dict) and "budget_reached" in result:
            return  # held back by the budget: no model call was made
        record = record_of(result) if isinstance(result, dict) else None
        request = _loads(getattr(scheduled, "Input", None)) if scheduled is not None else None
        model = (record or {}).get("model") or (request.get("model_name") if isinstance(request, dict) else None) \
            or _default_model()
        attributes.update({"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                           "gen_ai.provider.name": _provider(), "gen_ai.agent.name": agent})
        attributes.update(_usage_attributes({**record, "model_calls": 1} if record else None))
        span_name, kind = f"chat {model or 'model'}", SpanKind.CLIENT
    else:
        attributes.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                           "gen_ai.agent.name": agent})
        span_name, kind = f"execute_tool {name}", SpanKind.INTERNAL
    _emit(span_name, trace_id, span_id_of(instance, "task", str(getattr(event, "TaskScheduledId", None))), parent,
          start, event.timestamp, attributes, kind=kind)


def _call_spans(history: list[Any], calls: list[str], started: datetime, trace_id: int, parent: int, instance: str,
                base: dict[str, Any], agent: str) -> None:
    """A span per model or tool call of an agent orchestration: the n-th TaskCompleted of its history is its
    n-th call (`calls`, as the SDK's tracker counts them; a failed attempt the Durable retry policy ran again
    is not a call). A call starts when it was scheduled (its TaskScheduled event, in a full history) or, where
    an episode was fed only its new events (the local host's kept agents), when the call before it ended."""
    scheduled = {event.event_id: event for event in history if event.event_type == HistoryEventType.TASK_SCHEDULED}
    completions = [event for event in history if event.event_type == HistoryEventType.TASK_COMPLETED]
    previous = started
    for number, event in enumerate(completions):
        task = scheduled.get(getattr(event, "TaskScheduledId", None))
        _task_span(event, calls[number] if number < len(calls) else "activity",
                   task.timestamp if task is not None else previous, task, trace_id, parent, instance, base, agent)
        previous = event.timestamp


def job_attributes_of(job_id: str) -> dict[str, Any]:
    """What every span of a job carries: `job.id`, and `enduser.pseudo.id`, the owner tag of a signed-in
    person's job (tools/caller.py: a digest of issuer and subject, never a name or a token), which the Azure
    Monitor exporter files as the telemetry's user id (`user_Id`), so usage can be summed per person there."""
    return {"job.id": job_id, "enduser.pseudo.id": tag_of(job_id)}


def _parent_of(instance: str) -> int | None:
    """A step's span is a child of its parent's first run (`<parent>` is the id before the last `:`)."""
    return span_id_of(instance.rpartition(":")[0], "0") if ":" in instance else None


def orchestration_ended(context: Any, name: str, *, workflow: str | None = None, agent: str | None = None,
                        calls: list[str] | None = None, usage: dict[str, Any] | None = None,
                        error: BaseException | str | None = None) -> None:
    """Export the spans of the orchestration of `context`, which ends now (see the module docstring):
    `name` names its orchestrator function; `workflow` when it is a job (its span is the trace's root);
    `agent` when it runs an agent, with `calls` the activity of each call it made, in order (a job that is one
    agent gets both spans, the agent's under the job's); `usage` its usage (orchestrations/usage/ledger.py);
    `error` when it failed. No-op when traces go nowhere.

    A generator orchestration (a job, a worker) sees its own failures (an exception in its code) and ends once
    per run. An agent orchestration does not: a failed call fails it without running its code again (the
    SDK's wrapper ends it), so it ends once, when it completes or its budget pauses it, with every call of its
    history; its parent says when it failed (`step_failed`); a failure of its own code is a span of its own."""
    if export.TRACER is None:
        return
    history = list(context.histories)
    instance = str(context.instance_id)
    job_id = instance.split(":", 1)[0]
    trace_id = trace_id_of(job_id)
    rewinds = [index for index, event in enumerate(history) if event.event_type == HistoryEventType.GENERIC_EVENT
               and str(getattr(event, "Data", "") or "").startswith(REWIND_MARK)]
    execution_start = next((event.timestamp for event in history
                            if event.event_type == HistoryEventType.EXECUTION_STARTED), context.current_utc_datetime)
    ended, failure = context.current_utc_datetime, None if error is None else str(error)
    base = {**job_attributes_of(job_id), "durable.instance_id": instance}
    attributes = {**base, "durable.orchestration": name, "durable.rewinds": len(rewinds) or None,
                  **_usage_attributes(usage)}
    job_attributes = {**attributes, "gen_ai.operation.name": "invoke_workflow", "job.workflow": workflow}
    if agent is None:  # a generator orchestration: a span per run (a run follows a rewind)
        run = len(rewinds)
        started = history[rewinds[-1]].timestamp if rewinds else execution_start
        parent = span_id_of(instance, "0") if run else _parent_of(instance)
        _emit(f"invoke_workflow {workflow or name}" + (f" (retry {run})" if run else ""), trace_id,
              span_id_of(instance, str(run)), parent, started, ended, job_attributes, failure)
        return
    if failure is not None:  # an agent job's own code failed: this failure is its span
        _emit(f"invoke_workflow {workflow or name}", trace_id, span_id_of(instance, "failed", ended.isoformat()),
              _parent_of(instance), execution_start, ended, job_attributes, failure)
        return
    own = span_id_of(instance, "0")
    parent = _parent_of(instance)
    if workflow is not None:  # an agent job: the job's span, and the agent's under it
        _emit(f"invoke_workflow {workflow}", trace_id, own, parent, execution_start, ended, job_attributes)
        own, parent = span_id_of(instance, "agent"), own
    _emit(f"invoke_agent {agent}", trace_id, own, parent, execution_start, ended,
          {**attributes, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent})
    _call_spans(history, calls or [], execution_start, trace_id, own, instance, base, agent)


def step_failed(context: Any, step_id: str, agent: str, started: datetime, error: BaseException) -> None:
    """Export the span of an agent step that failed, from the orchestration that ran it (`context`), which
    sees the failure (the step does not: see `orchestration_ended`). Once: not while the parent replays."""
    if export.TRACER is None or context.is_replaying:
        return
    job_id = step_id.split(":", 1)[0]
    ended = context.current_utc_datetime
    _emit(f"invoke_agent {agent}", trace_id_of(job_id), span_id_of(step_id, "failed", ended.isoformat()),
          _parent_of(step_id), started, ended,
          {**job_attributes_of(job_id), "durable.instance_id": step_id, "gen_ai.operation.name": "invoke_agent",
           "gen_ai.agent.name": agent}, str(error))
