"""`plan_trip`: three agents in sequence, a human decision, then an idempotent booking.

`plan_trip` is a job (agent_jobs; its orchestrator `plan_trip_workflow`) and each agent an `agent_step`
sub-orchestration (`job.agent`, see `agents/step.py`): destination recommender (`trip-destinations`), itinerary
planner (`trip-itinerary`), local recommendations (`trip-local`), each given what the previous ones
wrote. The proposal is kept as a step's output (`keep_data`), not in custom status: Azure fails an
orchestration whose custom status passes 16 KB, and agents write what they like (issue 8.9); the
input request refers to it and `get_job` shows it as `input_request.details`.

Then the job asks for input (`job.ask`: `approval`, `{approved: bool, comment?}`) and waits for the
event or a durable timer, whichever comes first; the deadline is fixed when the wait starts. Answers
that do not match the schema (only raw HTTP callers can send them: `send_job_input` checks the schema)
are asked for again under a new event name (`approval-2`, `approval-3`, ...), because the Durable Python
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
from typing import Annotated, Any

import azure.durable_functions as df
from pydantic import Field

from agent_jobs import Job, JobBlueprint
from orchestrations.app_data.bookings import record_booking
from orchestrations.job_status import event_data
from orchestrations.payloads import MODEL_TEXT_BUDGET_BYTES, fit, model_input_bytes
from orchestrations.wording import plural, shorten

bp = JobBlueprint()

DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600
MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600
APPROVAL_EVENT = "approval"
MAX_ANSWER_CHARS = 200
MAX_REQUEST_CHARS = 20_000
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


def approval_prompt(deadline: datetime) -> str:
    """What the person reads (an elicitation form shows it as is); the proposal itself is in the input
    request's details, and how a model answers (the send_job_input call) is added by the job tools."""
    return (f"Approve the proposed trip (in details) to book it, or reject it, before "
            f"{deadline:%Y-%m-%d %H:%M:%S} UTC. You may add a comment for the booking.")


def reask_prompt(deadline: datetime) -> Any:
    """The prompt of a further request, after an answer that was not a decision."""
    def prompt(data: Any) -> str:
        answer = shorten(json.dumps(data, default=str), MAX_ANSWER_CHARS)
        return (f"The last answer ({answer}) was not a decision (approved: true or false, and an optional "
                f"comment). " + approval_prompt(deadline))
    return prompt


@bp.activity_trigger(input_name="booking")
def book_trip(booking: dict) -> dict:
    """Book the approved trip, once per job: the job id is the idempotency key."""
    return record_booking(booking["job_id"], {"request": booking["request"], "proposal": booking["proposal"],
                                              "comment": booking["comment"]})


@bp.job(title="Plan a trip")
def plan_trip(job: Job, request: Annotated[str, Field(max_length=MAX_REQUEST_CHARS)],
              approval_timeout_seconds: Annotated[int, Field(ge=1, le=MAX_APPROVAL_TIMEOUT_SECONDS)]
              = DEFAULT_APPROVAL_TIMEOUT_SECONDS):
    """Start a trip-planning job: destination, itinerary and local recommendations agents, then the job
    waits for your approval (status waiting_for_input; answer with send_job_input) and books the trip.
    Returns at once with the job's status object.

    Args:
        request: The trip you want: who, when, budget, what you like.
        approval_timeout_seconds: How long the job waits for your approval before it is canceled, in
            seconds (24 hours by default).
    """
    proposal: dict[str, str] = {}
    for number, (key, agent, message, instructions) in enumerate(AGENTS):
        job.progress(key, message, number, len(AGENTS))
        step = yield from job.agent(agent, instructions, agent_prompt(request, proposal))
        # each part goes into the next agents' prompts, then is kept and booked: half a model text each
        proposal[key] = fit(step.output, MODEL_TEXT_BUDGET_BYTES // 2, model_input_bytes)

    job.progress("proposal", "keeping the proposal")
    proposal_ref = yield from job.keep("proposal", proposal)
    deadline = job.context.current_utc_datetime + timedelta(seconds=approval_timeout_seconds)
    decision = yield from job.ask(APPROVAL_EVENT, approval_prompt(deadline), schema=APPROVAL_SCHEMA,
                                  details_ref=proposal_ref, deadline=deadline, check=valid_decision,
                                  reask=reask_prompt(deadline))
    if decision is None:
        job.progress("canceled", f"no approval decision within {describe_seconds(approval_timeout_seconds)}")
        return {"request": request, "proposal": proposal, "decision": None, "booking": None}
    if not decision["approved"]:
        job.progress("completed", "the trip was rejected")
        return {"request": request, "proposal": proposal, "decision": decision, "booking": None}
    job.progress("booking", "booking the approved trip")
    booking = yield job.context.call_activity_with_retry("book_trip", BOOKING_RETRY, {
        "job_id": job.id, "request": request, "proposal": proposal, "comment": decision["comment"]})
    job.progress("completed", f"booked: {booking['reference']}")
    return {"request": request, "proposal": proposal, "decision": decision, "booking": booking}
