"""A job's usage in the status object: tokens, model calls and cost, in total and per agent (issue 19).

Each agent step writes its own model calls' usage to its custom status (`usage` with `agent`:
orchestrations/usage/ledger.py), from the records `run_model` kept in the Durable history, so it is right
after a replay, a restart or a retry, and on Azure, where each instance's custom status is what the Durable
backend stores. A job's usage is the sum over its agent steps: the job itself (an agent job) and every
sub-orchestration under its id (`<job_id>:...`, one `instanceIdPrefix` query: tools/job_steps.py). The
sum is live: a running step counts the calls it has made so far.

A job's own custom status also holds what the job knows of (`usage` with `agents`: the steps that have
finished and reported); `list_jobs` items show those totals without reading every step.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from pydantic import BaseModel, Field

from orchestrations.job_status import event_data
from orchestrations.usage.ledger import OTHER_AGENTS, agent_steps_usage, cost_note, counts, total_of
from orchestrations.usage.model_slots import LIMIT_SETTING, SLOTS
from orchestrations.wording import plural



class UsageCounts(BaseModel):
    """Tokens as the model API returned them (cached tokens are part of the input tokens, reasoning tokens
    part of the output tokens), the number of model calls, and their cost when a price is known."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    model_calls: int = 0
    cost: Optional[float] = Field(default=None, description="in `currency`, at the prices in force at each call")
    currency: Optional[str] = None
    cost_note: Optional[str] = Field(default=None, description="why the cost is missing or covers only some calls")


class AgentUsage(UsageCounts):
    """One agent's share (every step that ran an agent of this name)."""

    agent: str


class Usage(UsageCounts):
    """A job's usage: totals and the per-agent breakdown, the agents with the most tokens first."""

    agents: list[AgentUsage] = Field(default_factory=list)


def usage_counts(usage: dict[str, Any]) -> UsageCounts:
    """The public form of a usage sum (orchestrations/usage/ledger.py)."""
    plain = counts(usage)
    fields = {name: plain[name] for name in UsageCounts.model_fields if name in plain}
    fields["cost_note"] = cost_note(plain)
    if plain.get("unpriced_calls", 0) >= plain.get("model_calls", 0):
        fields.pop("cost", None)
        fields.pop("currency", None)
    return UsageCounts(**fields)


def recorded_usage(status: dict[str, Any]) -> Any:
    """The `usage` an instance's custom status holds (a management-API status payload), or None."""
    custom = event_data(status.get("customStatus"))
    return custom.get("usage") if isinstance(custom, dict) else None


def summed(statuses: Iterable[dict[str, Any]]) -> Usage | None:
    """The usage of the agent steps among these status payloads, summed and per agent; None without any."""
    agents = agent_steps_usage(statuses)
    if not agents:
        return None
    total = total_of(agents.values())
    return _usage(total, agents)


def _usage(total: dict[str, Any], agents: dict[str, dict[str, Any]]) -> Usage:
    ranked = sorted(agents, key=lambda name: (-(agents[name]["input_tokens"] + agents[name]["output_tokens"]), name))
    return Usage(**usage_counts(total).model_dump(),
                 agents=[AgentUsage(agent=name, **usage_counts(agents[name]).model_dump()) for name in ranked])


def summary_usage(status: dict[str, Any]) -> UsageCounts | None:
    """The totals a job's own custom status holds (what list_jobs shows)."""
    usage = recorded_usage(status)
    return usage_counts(usage) if isinstance(usage, dict) and usage.get("model_calls") else None


def final_usage(status: dict[str, Any]) -> Usage | None:
    """The usage an ended job wrote when it ended (`final`: exact, orchestrations/usage/ending.py), or None."""
    usage = recorded_usage(status)
    if not (isinstance(usage, dict) and usage.get("final")):
        return None
    agents = usage.get("agents") if isinstance(usage.get("agents"), dict) else (
        {usage["agent"]: usage} if isinstance(usage.get("agent"), str) else {})
    return _usage(usage, agents)


def needs_steps(status: dict[str, Any]) -> bool:
    """Whether the job's usage must be summed over its steps: not when it completed and wrote its exact usage
    with every agent (custom status names at most `MAX_AGENTS`)."""
    final = final_usage(status) if status.get("runtimeStatus") == "Completed" else None
    return final is None or any(agent.agent == OTHER_AGENTS for agent in final.agents)


def job_usage(status: dict[str, Any], steps: list[dict[str, Any]]) -> Usage | None:
    """The usage of the job whose status payload is `status`: what it wrote when it ended, else the live sum
    over its own agent calls and its steps' (`steps`: their status payloads, tools/job_steps.py)."""
    return (final_usage(status) if not needs_steps(status) else None) or summed([status, *steps])


def waiting_note(job_id: str) -> str | None:
    """" (2 model calls waiting for a free slot of the model deployment)" while calls of the job wait for one
    in this process (orchestrations/usage/model_slots.py), else None."""
    waiting = SLOTS.waiting(job_id)
    return (f" ({plural(waiting, 'model call')} waiting for a free slot of the model deployment: "
            f"{LIMIT_SETTING}={SLOTS.limit})") if waiting else None
