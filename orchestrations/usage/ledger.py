"""Usage records and their sums: one model call, an agent step, an orchestration, a job.

A call's record is made by the `run_model` activity from the usage its API returned and kept in the
activity's result (`usage_record`), so it is part of the Durable history: a replay reads it back, a restart
does not make the call again, and a retried step counts only its new calls. Shape (JSON):
`{"model", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "cost"?, "currency"?}`;
cached tokens are part of the input tokens and reasoning tokens part of the output tokens, as both OpenAI
APIs count them. `cost` is absent when no price is known for the model (`prices.py`).

A usage sum ("usage") is `{input_tokens, cached_tokens, output_tokens, reasoning_tokens, model_calls,
cost?, currency?, unpriced_calls?, unpriced_models?}`, plus, in what orchestrations write:
- an agent step's own calls: `"agent": <agent name>`;
- a roll-up of steps: `"agents": {<agent name>: usage}` (at most `MAX_AGENTS` names of at most `MAX_NAME_CHARS`; the
  others are summed under `OTHER_AGENTS`, so the totals stay exact and custom status stays small: under 2 KB).
Sums are plain dicts built in history order, so a replay computes the same figures.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from orchestrations.wording import shorten

from .prices import PRICES_PROBLEM, cost, price_for

TOKENS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")
COUNTS = (*TOKENS, "model_calls")
MAX_AGENTS = 8
MAX_NAME_CHARS = 64  # agent and model names as custom status holds them
OTHER_AGENTS = "(other agents)"
MAX_UNPRICED_MODELS = 5
COST_DIGITS = 8
USAGE_RECORD = "usage_record"  # the key of a run_model result that holds the call's record


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _detail(details: Any, name: str) -> int:
    if isinstance(details, list):  # older SDK snapshots kept a list of one
        details = details[0] if details else None
    return _int(details.get(name)) if isinstance(details, dict) else 0


def call_record(model: str | None, usage: Any) -> dict[str, Any]:
    """The record of one call from the Agents SDK's `Usage` as JSON (`ModelResponse.usage`), priced."""
    usage = usage if isinstance(usage, dict) else {}
    record: dict[str, Any] = {
        "model": model or "unknown",
        "input_tokens": _int(usage.get("input_tokens")),
        "cached_tokens": _detail(usage.get("input_tokens_details"), "cached_tokens"),
        "output_tokens": _int(usage.get("output_tokens")),
        "reasoning_tokens": _detail(usage.get("output_tokens_details"), "reasoning_tokens"),
    }
    price = price_for(model)
    if price is not None:
        record["cost"] = round(cost(price, record["input_tokens"], record["cached_tokens"], record["output_tokens"]),
                               COST_DIGITS)
        record["currency"] = price.currency
    return record


def with_usage_record(response_json: str, model: str | None) -> str:
    """A `run_model` result (the SDK's `ModelResponse` as JSON) with the call's record added under
    `USAGE_RECORD`; the SDK ignores the extra key when it reads the result back. `model`: the one the agent
    asked for, else the configured default (on Azure OpenAI: the deployment)."""
    response = json.loads(response_json)
    response[USAGE_RECORD] = call_record(model, response.get("usage"))
    return json.dumps(response)


def record_of(result: Any) -> dict[str, Any] | None:
    """The usage record in a `run_model` result (JSON text or data), or None."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    record = result.get(USAGE_RECORD) if isinstance(result, dict) else None
    return record if isinstance(record, dict) else None


def empty() -> dict[str, Any]:
    return {name: 0 for name in COUNTS}


def _add_cost(total: dict[str, Any], amount: Any, currency: Any, calls: int, models: Iterable[str]) -> None:
    if isinstance(amount, (int, float)) and not isinstance(amount, bool) and currency \
            and total.get("currency", currency) == currency:
        total["cost"] = round(total.get("cost", 0.0) + amount, COST_DIGITS)
        total["currency"] = currency
        return
    if calls:
        total["unpriced_calls"] = total.get("unpriced_calls", 0) + calls
        known = total.setdefault("unpriced_models", [])
        for model in models:
            model = shorten(model, MAX_NAME_CHARS)
            if model not in known and len(known) < MAX_UNPRICED_MODELS:
                known.append(model)


def add_call(total: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """Add one call's record to a sum (in place); returns the sum."""
    for name in TOKENS:
        total[name] = total.get(name, 0) + _int(record.get(name))
    total["model_calls"] = total.get("model_calls", 0) + 1
    if not _int(record.get("input_tokens")) and not _int(record.get("output_tokens")):
        total["unreported_calls"] = total.get("unreported_calls", 0) + 1  # the server sent no usage
    currency = record.get("currency")
    model = str(record.get("model") or "unknown")
    if record.get("cost") is not None and total.get("currency", currency) != currency:
        model = f"{model} (priced in {currency})"
    _add_cost(total, record.get("cost"), currency, 1, [model])
    return total


def merge(total: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Add a usage sum to another (in place); returns the sum."""
    for name in COUNTS:
        total[name] = total.get(name, 0) + _int(other.get(name))
    if _int(other.get("unreported_calls")):
        total["unreported_calls"] = total.get("unreported_calls", 0) + _int(other.get("unreported_calls"))
    priced = _int(other.get("model_calls")) - _int(other.get("unpriced_calls"))
    if priced:
        _add_cost(total, other.get("cost"), other.get("currency"), priced, [f"models priced in {other.get('currency')}"])
    if other.get("unpriced_calls"):
        _add_cost(total, None, None, _int(other.get("unpriced_calls")), other.get("unpriced_models") or [])
    return total


def counts(usage: dict[str, Any]) -> dict[str, Any]:
    """The sum without its breakdown (`agent`, `agents`) and marks (`final`)."""
    return {name: value for name, value in usage.items() if name not in ("agent", "agents", "final")}


def cost_note(usage: dict[str, Any]) -> str | None:
    """Why a sum has no cost, or covers only some calls, and calls whose server reported no token counts;
    None when every call was priced and counted."""
    notes = []
    unpriced, calls = _int(usage.get("unpriced_calls")), _int(usage.get("model_calls"))
    if unpriced:
        models = ", ".join(usage.get("unpriced_models") or ["unknown"])
        why = f"no price is known for {models}" + (f" ({PRICES_PROBLEM})" if PRICES_PROBLEM else "")
        notes.append(f"tokens only: {why}; add it to the MODEL_PRICES setting" if unpriced >= calls else
                     f"the cost covers {calls - unpriced} of {calls} model calls: {why}")
    unreported = _int(usage.get("unreported_calls"))
    if unreported:
        notes.append(f"{unreported} of {calls} model calls came back without token counts (the model server "
                     f"reported no usage): they count as 0 tokens")
    return "; ".join(notes) or None


def by_agent(usages: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per agent name, the sum of usages that carry `agent` (an agent step's own calls) or `agents` (a roll-up)."""
    agents: dict[str, dict[str, Any]] = {}
    for usage in usages:
        if isinstance(usage.get("agent"), str):
            merge(agents.setdefault(shorten(usage["agent"], MAX_NAME_CHARS), empty()), counts(usage))
        elif isinstance(usage.get("agents"), dict):
            for name, part in usage["agents"].items():
                if isinstance(part, dict):
                    merge(agents.setdefault(shorten(str(name), MAX_NAME_CHARS), empty()), counts(part))
    return agents


def custom_status(status: dict[str, Any]) -> dict[str, Any] | None:
    """An instance's custom status as an object (the management API gives data or JSON text), else None."""
    custom = status.get("customStatus")
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            return None
    return custom if isinstance(custom, dict) else None


def own_usage(status: dict[str, Any]) -> dict[str, Any] | None:
    """The usage of an agent step's own model calls in an instance's status payload (management-API shape:
    `customStatus` as data or JSON text), or None for any other instance."""
    usage = (custom_status(status) or {}).get("usage")
    return usage if isinstance(usage, dict) and isinstance(usage.get("agent"), str) else None


def agent_steps_usage(statuses: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per agent name, the sum of the agent steps' own calls among these status payloads."""
    return by_agent(usage for usage in map(own_usage, statuses) if usage is not None)


def bounded(agents: dict[str, dict[str, Any]], limit: int = MAX_AGENTS) -> dict[str, dict[str, Any]]:
    """At most `limit` agents (the most tokens first, then by name); the others summed under `OTHER_AGENTS`."""
    if len(agents) <= limit:
        return agents
    ranked = sorted(agents, key=lambda name: (-(agents[name]["input_tokens"] + agents[name]["output_tokens"]), name))
    kept = {name: agents[name] for name in ranked[:limit - 1] if name != OTHER_AGENTS}
    rest = empty()
    for name in agents:
        if name not in kept:
            merge(rest, agents[name])
    return {**kept, OTHER_AGENTS: rest}


def total_of(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of these usages (`merge` into `empty()`)."""
    total = empty()
    for part in parts:
        merge(total, part)
    return total


def roll_up(agents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A job's or an orchestration's usage: the totals over `agents`, and the (bounded) breakdown."""
    total = total_of(agents.values())
    return {**total, "agents": bounded(agents)} if agents else total


class Ledger:
    """The usage an orchestration knows of: its own model calls (an agent step), the usage its finished steps
    reported (`add`), and, once it ends, the exact sum over every agent step under it (`finish`: a step that
    failed reported nothing to its parent, but its custom status kept its calls). Rebuilt the same way on
    every replay, from recorded results."""

    def __init__(self) -> None:
        self.own: dict[str, Any] | None = None
        self.parts: list[dict[str, Any]] = []
        self.finished = False
        self.steps: dict[str, Any] | None = None

    def add_call(self, agent: str, record: dict[str, Any]) -> None:
        """A model call this orchestration made itself, for `agent` (an orchestration runs one agent)."""
        if self.own is None:
            self.own = {**empty(), "agent": shorten(agent, MAX_NAME_CHARS)}
        add_call(self.own, record)

    def add(self, usage: Any) -> None:
        """A finished step's usage (from its result); anything else is ignored."""
        if isinstance(usage, dict) and (isinstance(usage.get("agent"), str) or isinstance(usage.get("agents"), dict)):
            self.parts.append(usage)

    def finish(self, steps: Any) -> None:
        """The orchestration has ended: `steps` is the roll-up of every agent step under it (or None)."""
        self.finished = True
        self.steps = steps if isinstance(steps, dict) else None

    def usage(self) -> dict[str, Any] | None:
        """What this orchestration writes (custom status, result): None before any usage; an agent step's own
        calls with `agent`; else the roll-up with `agents`; `final` once it has ended (exact)."""
        parts = [part for part in (self.own, *([self.steps] if self.finished else self.parts)) if part]
        if self.finished:
            single = self.own is not None and len(parts) == 1
            return {**(dict(self.own) if single else roll_up(by_agent(parts))), "final": True}
        if not parts:
            return None
        return dict(self.own) if self.own is not None and len(parts) == 1 else roll_up(by_agent(parts))


def ledger_of(context: Any) -> Ledger:
    """The orchestration's ledger, kept on its context object (a replay builds a new context, and a new ledger)."""
    ledger = getattr(context, "_usage_ledger", None)
    if ledger is None:
        ledger = Ledger()
        context._usage_ledger = ledger
    return ledger


def with_usage(context: Any, result: Any) -> Any:
    """A sub-orchestration's result with the usage its ledger holds (`usage`), so the parent can add it to its
    own ledger (`fan_out.finish_all` does); a result that is not a dict is returned as it is."""
    usage = ledger_of(context).usage()
    return {**result, "usage": usage} if isinstance(result, dict) and usage else result
