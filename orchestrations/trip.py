"""`plan_trip`: three agents in sequence, a human decision, then an idempotent booking.

`plan_trip_workflow` is a plain generator orchestrator and each agent an `agent_step`
sub-orchestration (see `agents/step.py`): destination recommender (`trip-destinations`), itinerary
planner (`trip-itinerary`), local recommendations (`trip-local`), each given what the previous ones
wrote. The proposal is kept as a step's output (`keep_data`), not in custom status: Azure fails an
orchestration whose custom status passes 16 KB, and agents write what they like (issue 8.9); the
input request refers to it and `get_job` shows it as `input_request.details`.

Then the job asks for input (`approval`, `{approved: bool, comment?}`) and waits for the event or a
durable timer, whichever comes first; the deadline is fixed when the wait starts. Answers that do
not match the schema (only raw HTTP callers can send them: `send_job_input` checks the schema) are
asked for again under a new event name (`approval-2`, `approval-3`, ...), because the Durable Python
SDK delivers every wait on a name after an event of that name that arrived before the first wait as
that same event (azure-functions-durable-python#507, the same on Azure): waiting on `approval` again
would get the rejected answer back at once, forever. So several answers sent before the job asks
count as the last one; a malformed one is asked again; answers after the deadline are not taken.

- approved: `book_trip` records the booking in the app's store, keyed by the job id, so a retried
  activity, a replayed orchestration or a rewound job never books twice;
- rejected: the job completes with the decision;
- no decision in time: the job ends as canceled with the reason. An orchestration cannot terminate
  itself, so it completes with progress stage `canceled` and the reason as message, which
  `tools/job_status.py` reports as status `canceled` (error `canceled: <reason>`); the output keeps
  the proposal.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Generator

import azure.durable_functions as df

from orchestrations.agents.step import run_step, step_input
from orchestrations.app_data.bookings import record_booking
from orchestrations.job_status import event_data, keep_data, request_input, set_progress
from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, PAYLOAD_BUDGET_BYTES, fit, model_input_bytes, result_bytes
from orchestrations.wording import plural, shorten

bp = df.Blueprint()

DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600
MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600
APPROVAL_EVENT = "approval"
MAX_ANSWER_CHARS = 200
BOOKING_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3)  # safe: idempotent
APPROVAL_SCHEMA = {"type": "object", "properties": {"approved": {"type": "boolean"}, "comment": {"type": "string"}},
                   "required": ["approved"], "additionalProperties": False}  # nothing the trip would drop unsaid

# (output key, agent name, progress message, instructions), in order; each agent sees the earlier outputs
AGENTS = [
    ("destination", "trip-destinations", "recommending a destination",
     "You are a travel advisor. Recommend the destination that best fits the traveller's request, with one "
     "or two alternatives, and say briefly why."),
    ("itinerary", "trip-itinerary", "planning the itinerary",
     "You plan trips. Write a day-by-day itinerary for the recommended destination that fits the request: "
     "transport, where to stay, and what to do each day."),
    ("local_recommendations", "trip-local", "finding local recommendations",
     "You are a local guide. For the itinerary, recommend places to eat, things to see off the usual path, "
     "and practical tips (tickets, customs, getting around)."),
]


def label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def agent_prompt(request: str, proposal: dict[str, str]) -> str:
    lines = [f"Traveller's request: {request}"]
    for key, value in proposal.items():
        lines += ["", f"{label(key)}:", value]
    return "\n".join(lines)


def describe_seconds(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def valid_decision(data: Any) -> dict[str, Any] | None:
    """`{approved: bool, comment?: str}` from the event data, or None when it does not match the schema."""
    decision = event_data(data)
    if not isinstance(decision, dict) or not isinstance(decision.get("approved"), bool):
        return None
    comment = decision.get("comment")
    return {"approved": decision["approved"], "comment": comment if isinstance(comment, str) else ""}


def approval_event(ask: int) -> str:
    """The event name of the ask-th request: `approval`, `approval-2`, ... (see the module docstring)."""
    return APPROVAL_EVENT if ask == 1 else f"{APPROVAL_EVENT}-{ask}"


def approval_prompt(deadline: datetime) -> str:
    """What the person reads (an elicitation form shows it as is); the proposal itself is in the input
    request's details, and how a model answers (the send_job_input call) is added by the job tools."""
    return (f"Approve the proposed trip (in details) to book it, or reject it, before "
            f"{deadline:%Y-%m-%d %H:%M:%S} UTC. You may add a comment for the booking.")


def await_decision(context: df.DurableOrchestrationContext, proposal_ref: str,
                   timeout_seconds: int) -> Generator[Any, Any, dict[str, Any] | None]:
    """The human's decision, or None when the deadline passes first."""
    deadline = context.current_utc_datetime + timedelta(seconds=timeout_seconds)
    timer = context.create_timer(deadline)
    ask, prompt = 1, approval_prompt(deadline)
    while True:
        event_name = approval_event(ask)
        request_input(context, event_name, prompt, schema=APPROVAL_SCHEMA, details_ref=proposal_ref)
        event = context.wait_for_external_event(event_name)
        winner = yield context.task_any([event, timer])
        if winner is timer:
            return None
        decision = valid_decision(event.result)
        if decision is not None:
            timer.cancel()
            return decision
        ask += 1
        answer = shorten(json.dumps(event_data(event.result), default=str), MAX_ANSWER_CHARS)
        prompt = (f"The last answer ({answer}) was not a decision (approved: true or false, and an optional "
                  f"comment). " + approval_prompt(deadline))


def outcome(request: str, proposal: dict[str, Any], decision: dict[str, Any] | None,
            booking: dict[str, Any] | None) -> dict[str, Any]:
    """The job's output, under the Durable payload limit (the booking repeats the proposal)."""
    return fit({"request": request, "proposal": proposal, "decision": decision, "booking": booking},
               PAYLOAD_BUDGET_BYTES, result_bytes)


@bp.activity_trigger(input_name="booking")
def book_trip(booking: dict) -> dict:
    """Book the approved trip, once per job: the job id is the idempotency key."""
    return record_booking(booking["job_id"], {"request": booking["request"], "proposal": booking["proposal"],
                                              "comment": booking["comment"]})


@bp.orchestration_trigger(context_name="context")
def plan_trip_workflow(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    proposal: dict[str, str] = {}
    for number, (key, agent, message, instructions) in enumerate(AGENTS):
        set_progress(context, key, message, number, len(AGENTS))
        step = yield from run_step(context, step_input(
            agent, instructions, agent_prompt(spec["request"], proposal)))
        # each part goes into the next agents' prompts, then is kept and booked: half a model text each
        proposal[key] = fit(step["output"], MODEL_TEXT_BUDGET_BYTES // 2, model_input_bytes)

    set_progress(context, "proposal", "keeping the proposal")
    proposal_ref = yield from keep_data(context, "proposal", proposal)
    timeout = spec["approval_timeout_seconds"]
    decision = yield from await_decision(context, proposal_ref, timeout)
    if decision is None:
        reason = f"no approval decision within {describe_seconds(timeout)}"
        set_progress(context, "canceled", reason)
        return outcome(spec["request"], proposal, None, None)
    if not decision["approved"]:
        set_progress(context, "completed", "the trip was rejected")
        return outcome(spec["request"], proposal, decision, None)
    set_progress(context, "booking", "booking the approved trip")
    booking = yield context.call_activity_with_retry("book_trip", BOOKING_RETRY, {
        "job_id": context.instance_id, "request": spec["request"], "proposal": proposal,
        "comment": decision["comment"]})
    set_progress(context, "completed", f"booked: {booking['reference']}")
    return outcome(spec["request"], proposal, decision, booking)
