"""Durable conversations: a new agent job that continues a finished one (issue 18 §2).

A job whose declaration `continues` (`@bp.agent_job(continues=True)`; `run_agent`) takes `continue_from`:
the id of a finished job of such a workflow (completed, failed or canceled). The launcher reads that job's
conversation and starts the new job with it in its input (`conversation`: the Agents SDK's input list),
so the job's agent gets the whole exchange before the new task, and the history of the new job keeps it
(durable: across restarts, on both hosts, and a follow-up of a follow-up gets all of it).

Where the conversation comes from: the previous job's own history, read through the management API
(`showHistory`, the same shape on both hosts: host/http/history_format.py copies the extension's
rewrite). Every model call of a durable agent is a `run_model` activity whose input holds the
conversation so far (the SDK's `DurableModelActivityInput.input`), so the last one has it all:
- it completed: its input, then its answer (the run's final answer when the job completed);
- it failed (the job failed at a model call): its input, which already holds every tool result;
- it never finished (the job was canceled while the model answered): its input, as scheduled.
Tool calls an answer asked for but whose results no model call received are left out (a model refuses a
tool call without its result). A job that made no model call has only what it was itself continued from.

Rules: another person's job answers exactly as an unknown job (issue 20: `Caller.owns`, checked on the
id before the backend is asked); a job still running is refused with what to do; the conversation is cut
to `CONVERSATION_BUDGET_BYTES` as a start input weighs it (its costliest texts, with a note:
orchestrations/payloads.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from orchestrations.agents.durable import RUN_MODEL_ACTIVITY
from orchestrations.conversations import CONTINUE_FROM, CONVERSATION
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, fit, input_bytes

from . import job_registry
from .arguments import Arg, ToolError, argument_error
from .caller import Caller
from .instances import instance_history
from .job_status import JOB_ID_PATTERN
from .job_timeline import unwrap
from .jobs import unknown_job

CONVERSATION_BUDGET_BYTES = PAYLOAD_BUDGET_BYTES // 2  # the rest of a start input: the new task and arguments
FINISHED = {"Completed", "Failed", "Terminated", "Canceled"}

CONTINUE_FROM_ARG = Arg(
    CONTINUE_FROM, "string",
    "The job_id of a finished job (completed, failed or canceled) whose conversation this job continues: "
    "the agent gets everything said and done there before this task.",
    pattern=JOB_ID_PATTERN,
    allowed="the job_id of a finished job of yours that keeps its conversation (letters, digits and : _ . -, "
            "at most 128 characters)")


@dataclass(frozen=True)
class Conversation:
    """A previous job's conversation: the Agents SDK's input `items`, and the job it came from."""

    job_id: str
    items: list[dict[str, Any]]


def _items(value: Any) -> list[dict[str, Any]]:
    """A model input (`str` or a list of items) as a list of input items."""
    value = unwrap(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _answered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` without tool calls that have no result among them."""
    results = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    return [item for item in items if item.get("type") != "function_call" or item.get("call_id") in results]


def conversation_of(history: list[dict[str, Any]], job_input: Any) -> list[dict[str, Any]]:
    """The conversation a job's management-API history holds (see the module docstring)."""
    last = None
    for event in history:
        name = event.get("FunctionName") or event.get("Name")
        if name == RUN_MODEL_ACTIVITY and event.get("EventType") in ("TaskCompleted", "TaskFailed", "TaskScheduled"):
            last = event
    if last is None:
        earlier = unwrap(job_input).get(CONVERSATION) if isinstance(unwrap(job_input), dict) else None
        return _items(earlier) if isinstance(earlier, list) else []
    data = unwrap(last.get("Input"))
    items = _items(data.get("input") if isinstance(data, dict) else None)
    if last.get("EventType") == "TaskCompleted":
        answer = unwrap(last.get("Result"))
        items += _items(answer.get("output") if isinstance(answer, dict) else None)
    return _answered(items)


async def previous_conversation(client: Any, job_id: str, caller: Caller) -> Conversation:
    """The conversation of `caller`'s finished job `job_id`; `ToolError` for a job that is not the
    caller's or does not exist (the same text), one still running, or one whose workflow keeps none."""
    if not caller.owns(job_id):
        raise unknown_job(job_id)
    status = await instance_history(client, job_id, f"No job was started: the conversation of job '{job_id}' "
                                                     f"could not be read")
    if status is None:
        raise unknown_job(job_id)
    workflow = job_registry.workflow_of(status.get("name"))
    continuing = [job.name for job in job_registry.jobs() if job.continues]
    if workflow not in continuing:
        raise argument_error(CONTINUE_FROM, f"names a job of {workflow}, which keeps no conversation",
                             f"a job of {', '.join(continuing)}")
    if status.get("runtimeStatus") not in FINISHED:
        raise ToolError(f"Job '{job_id}' is still running, so there is no conversation to continue yet: wait for it "
                        f"(wait_for_job) or cancel it (cancel_job), then start the follow-up.")
    items = conversation_of(status.get("historyEvents") or [], status.get("input"))
    return Conversation(job_id, fit(items, CONVERSATION_BUDGET_BYTES, input_bytes))


def continued_input(values: dict[str, Any], conversation: Optional[Conversation]) -> dict[str, Any]:
    """A job's start input: its argument `values`, and the conversation it continues."""
    if conversation is None:
        return values
    return {**values, CONTINUE_FROM: conversation.job_id, CONVERSATION: conversation.items}
