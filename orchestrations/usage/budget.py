"""A job's budget: tokens, cost and wall-clock minutes, checked before every model call (issue 19 §2).

At launch (tools/launchers.py) the job's input gets `budget: {"limit": {"tokens"?, "cost"?, "minutes"?},
"max"?: {...}}` from the launcher's `budget` argument, the server's default (`BUDGET_DEFAULT`) and its
maximum (`BUDGET_MAX`), both JSON like `{"tokens": 200000, "cost": 2, "minutes": 60}`: a dimension the
launcher leaves out takes the default, else the maximum; a launcher asking for more than the maximum is
refused. Tokens are input plus output tokens (cached input tokens count as input; reasoning tokens as
output); cost is in the currency of the price table (`prices.py`) and counts priced calls only; minutes run
from the job's creation, on the wall clock.

The check (`verdict`, read by `budget_check.py`) runs in the `run_model` activity before the model is
called, so its outcome is recorded with the call's result and a replay takes the same path. It sums the usage
the custom status of the job's instances (the job and every step `<job_id>:...`) holds. When a limit is reached the
activity answers `{"budget_reached": verdict}` without calling the model; the agent stops before that call
(`BudgetReached`), and its step ends with the conversation so far (`BudgetPause`). The orchestration that
ran the step asks (`decide`: input request, event `budget`, schema `{action: "raise" | "stop",
new_budget?}`); raised, a new step goes on from that conversation, so the next model call is the one that
was held back and no recorded call is made again; stopped, `BudgetStopped` is raised, and every later check
of the job finds it stopped (`stopped` in the custom status of the instance that asked) and stops too.

Exactness: parallel steps share the job-wide budget through what their custom status shows. A model call's
usage is there once its result is recorded; a call that passed the check while others were in flight may
take the job over the limit, so a job ends at most one model call per agent step running at that moment over
its limit (each agent step has at most one call in flight). A raise is kept in the custom status of the
instance that asked; the highest limit any instance of the job holds applies.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import Any, Generator

from agents.exceptions import AgentsException

from orchestrations.wording import plural

from .ledger import agent_steps_usage, custom_status, total_of

log = logging.getLogger(__name__)

DEFAULT_SETTING = "BUDGET_DEFAULT"
MAX_SETTING = "BUDGET_MAX"
DIMENSIONS = ("tokens", "cost", "minutes")
EVENT = "budget"
REACHED = "budget_reached"  # the key of a run_model result that held the call back
INSTANCE_KEY = "calling_instance"  # the key of a run_model input naming the orchestration that calls it
MAX_AGENTS_SHOWN = 10
STATE_ATTRIBUTE = "_budget_state"


class BudgetReached(AgentsException):
    """Raised by the durable model when `run_model` held a call back; the Agents SDK attaches the run so far."""

    def __init__(self, verdict: dict[str, Any]):
        super().__init__(describe(verdict))
        self.verdict = verdict


class BudgetPause(Exception):
    """An agent run stopped before a model call by the budget: the verdict, and the conversation to go on from."""

    def __init__(self, verdict: dict[str, Any], conversation: list[Any]):
        super().__init__(describe(verdict))
        self.verdict = verdict
        self.conversation = conversation


class BudgetStopped(Exception):
    """The job's budget was reached and the job was stopped: it completes with what it has."""


# ---------------------------------------------------------------------------------------------
# Limits: the launcher's, the server's


def parse_limits(value: Any, what: str) -> dict[str, Any]:
    """`{"tokens"?: int >= 1, "cost"?: number > 0, "minutes"?: number > 0}`; `ValueError` naming `what`."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object with tokens, cost or minutes, not {json.dumps(value)[:80]}")
    unknown = set(value) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"{what} has unknown fields {sorted(unknown)}; allowed: tokens, cost, minutes")
    limits: dict[str, Any] = {}
    for name, number in value.items():
        if number is None:
            continue
        whole = name == "tokens"
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0 \
                or (whole and number != int(number)):
            kind = "a whole number of at least 1" if whole else "a number above 0"
            raise ValueError(f"{what}: {name} must be {kind}, not {json.dumps(number)}")
        limits[name] = int(number) if whole else float(number)
    return limits


def _setting(name: str) -> tuple[dict[str, Any], str | None]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}, None
    try:
        return parse_limits(json.loads(raw), name), None
    except ValueError as error:
        problem = f"{name} is not used: {error}"
        log.error("%s", problem)
        return {}, problem


SERVER_DEFAULT, DEFAULT_PROBLEM = _setting(DEFAULT_SETTING)
SERVER_MAX, MAX_PROBLEM = _setting(MAX_SETTING)


def job_budget(given: dict[str, Any] | None, default: dict[str, Any] | None = None,
               maximum: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The budget a job is started with (the `budget` of its input), or None for no budget: each dimension
    as given, else the default, else the maximum. `ValueError` when a given limit is over the maximum."""
    default = SERVER_DEFAULT if default is None else default
    maximum = SERVER_MAX if maximum is None else maximum
    limit: dict[str, Any] = {}
    for name in DIMENSIONS:
        value = (given or {}).get(name, default.get(name, maximum.get(name)))
        if value is None:
            continue
        if name in maximum and value > maximum[name]:
            raise ValueError(f"the budget asks for {_amount(name, value)}; this server allows at most "
                             f"{_amount(name, maximum[name])} ({MAX_SETTING})")
        limit[name] = value
    if not limit:
        return None
    return {"limit": limit, **({"max": dict(maximum)} if maximum else {})}


def _amount(name: str, value: Any) -> str:
    if name == "tokens":
        return f"{int(value):,} tokens"
    if name == "minutes":
        return plural(round(value, 1) if value != int(value) else int(value), "minute")
    return f"a cost of {value:g}"


# ---------------------------------------------------------------------------------------------
# The check (in run_model)


def verdict(budget: dict[str, Any], statuses: list[dict[str, Any]], created: datetime,
            now: datetime) -> dict[str, Any]:
    """Where the job stands against its budget, from its instances' status payloads:
    `{reached: "tokens" | "cost" | "minutes" | None, stopped, limit, max?, spent: {tokens, cost?, currency?,
    minutes, model_calls}, agents: [{agent, tokens, cost?}], created}`."""
    limit = dict(budget.get("limit") or {})
    stopped = False
    for status in statuses:
        state = (custom_status(status) or {}).get(EVENT)
        if isinstance(state, dict):
            stopped = stopped or bool(state.get("stopped"))
            for name, value in (state.get("limit") or {}).items():
                if name in DIMENSIONS and isinstance(value, (int, float)) and value > limit.get(name, 0):
                    limit[name] = value
    agents = agent_steps_usage(statuses)
    total = total_of(agents.values())
    spent: dict[str, Any] = {"tokens": total["input_tokens"] + total["output_tokens"],
                             "minutes": round(max(0.0, (now - created).total_seconds()) / 60, 2),
                             "model_calls": total["model_calls"]}
    if "cost" in total:
        spent.update(cost=total["cost"], currency=total["currency"])
    reached = next((name for name in DIMENSIONS if name in limit and spent.get(name, 0) >= limit[name]), None)
    ranked = sorted(agents.items(), key=lambda item: -(item[1]["input_tokens"] + item[1]["output_tokens"]))
    shown = [{"agent": name, "tokens": part["input_tokens"] + part["output_tokens"],
              **({"cost": part["cost"]} if "cost" in part else {})} for name, part in ranked[:MAX_AGENTS_SHOWN]]
    return {"reached": reached, "stopped": stopped, "limit": limit,
            **({"max": budget["max"]} if budget.get("max") else {}),
            "spent": spent, "agents": shown, "created": created.astimezone(timezone.utc).isoformat()}


# ---------------------------------------------------------------------------------------------
# Words


def _spent_words(verdict: dict[str, Any]) -> str:
    spent, limit = verdict["spent"], verdict["limit"]
    parts = [f"{spent['tokens']:,}" + (f" of {limit['tokens']:,}" if "tokens" in limit else "") + " tokens"]
    if "cost" in spent or "cost" in limit:
        cost = spent.get("cost", 0.0)
        parts.append(f"cost {cost:.4g}" + (f" of {limit['cost']:g}" if "cost" in limit else "")
                     + (f" {spent['currency']}" if spent.get("currency") else ""))
    parts.append(f"{spent['minutes']:g}" + (f" of {limit['minutes']:g}" if "minutes" in limit else "") + " minutes")
    return f"{', '.join(parts)}, in {plural(spent['model_calls'], 'model call')}"


def describe(verdict: dict[str, Any]) -> str:
    """One sentence: what stopped the job, and what was spent."""
    if verdict.get("stopped"):
        return f"stopped: the job's budget was reached and the job was stopped ({_spent_words(verdict)})"
    return f"the job's {verdict['reached']} budget is reached ({_spent_words(verdict)})"


def _agents_words(verdict: dict[str, Any]) -> str:
    return "; ".join(f"{agent['agent']}: {agent['tokens']:,} tokens" + (f", cost {agent['cost']:.4g}"
                                                                        if "cost" in agent else "")
                     for agent in verdict["agents"]) or "no model calls yet"


# ---------------------------------------------------------------------------------------------
# The question, and the answer


def _new_limit_default(verdict: dict[str, Any], spent_now: dict[str, Any]) -> Any:
    """Without `new_budget`, a raise allows as much again: what was spent plus the limit."""
    name = verdict["reached"]
    value = spent_now.get(name, 0) + verdict["limit"][name]
    return int(value) if name == "tokens" else round(value, 4)


def schema(verdict: dict[str, Any]) -> dict[str, Any]:
    """The answer's JSON Schema: a flat form (MCP elicitation takes only flat forms)."""
    name = verdict["reached"]
    unit = {"tokens": "tokens", "cost": f"cost ({verdict['spent'].get('currency') or 'price table currency'})",
            "minutes": "minutes since the job started"}[name]
    new_budget: dict[str, Any] = {
        "type": "integer" if name == "tokens" else "number",
        "description": f"raise: the new limit of {unit}, above the {verdict['spent'].get(name, 0):g} spent "
                      f"(leave it out to allow as much again as the limit, {verdict['limit'][name]:g})"}
    if name in (verdict.get("max") or {}):
        new_budget["maximum"] = verdict["max"][name]
    return {"type": "object", "properties": {
        "action": {"type": "string", "enum": ["raise", "stop"],
                   "description": "raise the budget and go on, or stop and finish with what the job has"},
        "new_budget": new_budget}, "required": ["action"], "additionalProperties": False}


def prompt(verdict: dict[str, Any]) -> str:
    return (f"This job reached its {verdict['reached']} budget: {_spent_words(verdict)}. Raise the budget to go "
            f"on from the next model call, or stop to finish the job with what it has.")


def decision(verdict: dict[str, Any], data: Any, spent_now: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """`({"action": "stop"} | {"action": "raise", "limit": new limits}, "")`, or `(None, what is wrong)` for
    an answer that cannot be taken. `spent_now`: what was spent when the answer came (minutes go on)."""
    if not isinstance(data, dict) or data.get("action") not in ("raise", "stop") \
            or set(data) - {"action", "new_budget"}:
        return None, "the answer must be {\"action\": \"raise\" or \"stop\", \"new_budget\"?: a number}"
    if data["action"] == "stop":
        return {"action": "stop"}, ""
    name = verdict["reached"]
    value = data.get("new_budget")
    if value is None:
        value = _new_limit_default(verdict, spent_now)
    try:
        value = parse_limits({name: value}, "new_budget")[name]
    except ValueError as error:
        return None, str(error)
    cap = (verdict.get("max") or {}).get(name)
    if cap is not None and value > cap:
        if spent_now.get(name, 0) >= cap:
            return None, f"the server allows at most {_amount(name, cap)}, which is spent: only stop is possible"
        value = cap if data.get("new_budget") is None else value
        if value > cap:
            return None, f"new_budget is {value:g}; this server allows at most {cap:g}"
    if value <= spent_now.get(name, 0):
        return None, f"new_budget must be above what was spent ({spent_now.get(name, 0):g})"
    return {"action": "raise", "limit": {**verdict["limit"], name: value}}, ""


def state_of(context: Any) -> dict[str, Any]:
    """This orchestration's budget decisions (`{"limit"?, "stopped"?, "asks"}`), written to its custom status."""
    state = getattr(context, STATE_ATTRIBUTE, None)
    if state is None:
        state = {"asks": 0}
        setattr(context, STATE_ATTRIBUTE, state)
    return state


def status_field(context: Any) -> dict[str, Any]:
    """`{"budget": {"limit"?, "stopped"?}}` once this orchestration took a budget decision, else `{}`."""
    state = getattr(context, STATE_ATTRIBUTE, None) or {}
    shown = {name: state[name] for name in ("limit", "stopped") if name in state}
    return {EVENT: shown} if shown else {}


def spent_at(verdict: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What was spent at `now` (the orchestration's time of the answer): minutes go on while the job waits."""
    created = datetime.fromisoformat(verdict["created"]) if isinstance(verdict.get("created"), str) else None
    minutes = round(max(0.0, (now - created).total_seconds()) / 60, 2) if created else verdict["spent"]["minutes"]
    return {**verdict["spent"], "minutes": max(minutes, verdict["spent"]["minutes"])}


def ask(context: Any, verdict: dict[str, Any]) -> Generator[Any, Any, dict[str, Any]]:
    """Ask whether to raise the budget or stop, and wait for the answer (asked again under `budget-2`, ...
    while it cannot be taken: the Durable Python SDK delivers an early event of a name to every later wait on
    it, azure-functions-durable-python#507). Returns the decision; records it in this orchestration's state."""
    from orchestrations.job_status import event_data, request_input, set_progress  # noqa: PLC0415 - job_status imports this module

    state = state_of(context)
    if state.get("stopped") or verdict.get("stopped"):
        state["stopped"] = True
        return {"action": "stop"}
    question, details = prompt(verdict), {"spent": _spent_words(verdict), "on what": _agents_words(verdict)}
    while True:
        state["asks"] += 1
        event = EVENT if state["asks"] == 1 else f"{EVENT}-{state['asks']}"
        request_input(context, event, question, schema=schema(verdict), details=details)
        answer = event_data((yield context.wait_for_external_event(event)))
        chosen, problem = decision(verdict, answer, spent_at(verdict, context.current_utc_datetime))
        if chosen is not None:
            break
        question = f"The last answer could not be taken: {problem}. {prompt(verdict)}"
    if chosen["action"] == "stop":
        state["stopped"] = True
        set_progress(context, "stopping", f"the budget was reached and the job is stopping: {_spent_words(verdict)}")
    else:
        state["limit"] = chosen["limit"]
        set_progress(context, "running", f"the {verdict['reached']} budget was raised to "
                                         f"{chosen['limit'][verdict['reached']]:g}; going on")
    return chosen
