"""`agent_step`: one durable agent run as a sub-orchestration, the building block of multi-agent workflows.

Why every agent step is its own sub-orchestration, called from a plain generator workflow
(`swarm/workflow.py`, `trip.py`), instead of one `durable_openai_agent_orchestrator` that runs every agent:

- The wrapper runs `Runner.run_sync` synchronously and finds each model or tool call's result by
  counting `TaskCompleted` events in scheduling order, so one wrapper orchestrator runs its agents
  strictly one after another (no fan-out), and anything else it yields (a timer, an event, a
  sub-orchestration) sits outside that bookkeeping. It is also replayed from the start every
  episode: a chain of agents in one would re-run every earlier agent's code on every step.
- A plain generator parent yields ordinary Durable tasks, so fan-out (`task_all`/`task_any`), timers,
  external events and try/except around a failed step all have their usual Durable meaning, and the
  local host keeps it in memory between episodes.
- Each step replays only its own short history, and a failed step is a failed sub-orchestration the
  parent can catch, retry with a different prompt, or report.

The step input names the agent (`[agent:NAME]` is put in its instructions, so logs and a scripted
model server can tell steps apart), its instructions, the prompt, the names of its activity tools
(`agents/activity_tools.py`: the built-in ones and every `@bp.activity_tool`), and optionally a
structured output type: a Pydantic model, named by its class name when registered with
`@structured_output`, else by `module:QualifiedName` (imported by the step, which may run on another
instance); `conversation` (an Agents SDK input list) takes the prompt's place when a step goes on from
where a budget stopped another. The result is
`{"output", "text", "model_calls", "tool_calls", "stopped", "usage"}`: `output` is text, or the structured answer
read as JSON data (`structured.py`: every field required in the schema sent, the answer read leniently, and an
agent with tools told the fields in its instructions instead of getting a schema with its tools);
`text` is the final answer's own text when `output` was read out of it (else None);
`stopped` says why the step was ended early (`guards.py`: a repeated tool call, the turn limit), else None;
`usage` the step's own model calls (orchestrations/usage/ledger.py), which `run_step` adds to the calling
orchestration's ledger. A call to a tool the agent does not have is answered with its tools and
`unknown_tool_hint`. Call it with `yield from run_step(context, step_input(...))`, or from a job with
`job.agent(...)` (agent_jobs).
"""
from __future__ import annotations

import importlib
import json
from typing import Any, Callable, Generator, Iterable, TypeVar

from agents import Agent
from pydantic import BaseModel

from orchestrations.agents import activity_tools
from orchestrations.agents.durable import (DEFAULT_MAX_TURNS, ProgressHooks, agent_blueprint, agent_orchestrator,
                                          agent_output, run_durably)
from orchestrations.agents.usage_runner import call_log
from orchestrations.agents.guards import RepetitionGuard, max_turns_handler, run_config
from orchestrations.agents.structured import LenientOutputSchema, answer_instructions, read_answer
from orchestrations.code_swarm.file_tools import agent_tools
from orchestrations.job_status import set_progress
from orchestrations.payloads import cut, model_input_bytes
from orchestrations.step_ids import step_instance_id
from orchestrations.tracing.spans import orchestration_ended, step_failed
from orchestrations.usage import budget
from orchestrations.usage.ledger import ledger_of

bp = agent_blueprint()

AGENT_STEP = "agent_step"
REASON_BYTES = 4_000  # why an answer was not used, in the next prompt (issue 21 §2)
OUTPUT_TYPES: dict[str, type[BaseModel]] = {}
Model = TypeVar("Model", bound=type[BaseModel])
Read = TypeVar("Read")


def structured_output(model: Model) -> Model:
    """Register a Pydantic model as an output type steps can ask for by its class name.

    The model declares what the workflow needs, with its bounds: every field is sent as required
    (`structured.LenientOutputSchema`), and the answer is read leniently, never validated against it; the
    workflow normalises what comes back in its own deterministic code."""
    OUTPUT_TYPES[model.__name__] = model
    return model


def output_type_name(model: type[BaseModel]) -> str:
    """How a step input names an output type: its class name when registered, else `module:QualifiedName`."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"output_type must be a Pydantic model class, not {model!r}")
    if OUTPUT_TYPES.get(model.__name__) is model:
        return model.__name__
    return f"{model.__module__}:{model.__qualname__}"


def output_type_of(name: str) -> type[BaseModel]:
    """The output type a step input names (see `output_type_name`)."""
    if name in OUTPUT_TYPES:
        return OUTPUT_TYPES[name]
    module, _, qualname = name.partition(":")
    found: Any = importlib.import_module(module) if qualname else None
    for part in qualname.split(".") if qualname else ():
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"output type {name!r} is not a Pydantic model this app defines")
    return found


def step_input(agent: str, instructions: str, prompt: str, *, tools: Iterable[Any] | None = None,
               output_type: type[BaseModel] | None = None, workspace: dict[str, str] | None = None,
               max_turns: int | None = None, unknown_tool_hint: str | None = None) -> dict[str, Any]:
    """The input of one `agent_step` sub-orchestration. `tools`: activity tools or their names
    (`activity_tools.name_of`); `workspace` = `{job_id, branch}` gives the agent the code swarm's file
    tools on that branch (`file_tools.agent_tools`); `max_turns` defaults to `DEFAULT_MAX_TURNS`;
    `unknown_tool_hint` is what a call to a tool the agent lacks is told to do instead."""
    request = {"agent": agent, "instructions": instructions, "prompt": prompt,
               "tools": [activity_tools.name_of(tool) for tool in tools or []],
               "output_type": output_type_name(output_type) if output_type else None}
    extras = {"workspace": workspace, "max_turns": max_turns, "unknown_tool_hint": unknown_tool_hint}
    return {**request, **{key: value for key, value in extras.items() if value}}


def run_step(context: Any, request: dict[str, Any]) -> Generator[Any, Any, dict[str, Any]]:
    """Run one agent step as a sub-orchestration and return its result as data (its usage added to the
    calling orchestration's ledger). The OpenAI wrapper serialises an orchestrator's return value to JSON
    text itself, so the parent gets text back.

    When the job's budget holds a model call back, the step ends with its conversation so far, and this
    orchestration asks whether to raise the budget or stop (orchestrations/usage/budget.py): raised, a new
    step goes on from that conversation (its model and tool calls are added to the result's); stopped,
    `BudgetStopped` is raised here and by every later step of this orchestration."""
    state = budget.state_of(context)
    model_calls = tool_calls = 0
    while True:
        if state.get("stopped"):
            raise budget.BudgetStopped("stopped: the job's budget was reached and the job was stopped")
        step_id, started = step_instance_id(context, request["agent"]), context.current_utc_datetime
        try:
            result = yield context.call_sub_orchestrator(AGENT_STEP, request, step_id)
        except Exception as error:  # the step failed: its span says so (it cannot itself: tracing/spans.py)
            step_failed(context, step_id, request["agent"], started, error)
            raise
        result = json.loads(result) if isinstance(result, str) else result
        ledger_of(context).add(result.get("usage"))
        model_calls, tool_calls = model_calls + result["model_calls"], tool_calls + result["tool_calls"]
        if not result.get("budget"):
            return {**result, "model_calls": model_calls, "tool_calls": tool_calls}
        if (yield from budget.ask(context, result["budget"]))["action"] == "raise":
            request = {**request, "conversation": result["conversation"]}


def with_reason(prompt: str, reason: str | None) -> str:
    """The prompt of a repeated request: the first prompt and why the previous answer was not used."""
    return prompt if not reason else f"{prompt}\n\nYour previous answer could not be used: {reason}. Answer again, whole."


def ask_until_usable(context: Any, request_for: Callable[[str | None], dict[str, Any]], read: Callable[[Any], Read],
                     attempts: int) -> Generator[Any, Any, Read]:
    """Ask an agent (`request_for(reason of the previous refusal or None)` gives the step input) until `read`
    accepts its output; `read` raises `ValueError` saying why it cannot use it, and that reason goes back to
    the agent. After `attempts` answers the last `ValueError` is raised, saying how many were tried. A
    failed step (a model error after its retries) is not retried here."""
    reason = None
    for attempt in range(1, attempts + 1):
        step = yield from run_step(context, request_for(reason))
        try:
            return read(step["output"])
        except ValueError as error:
            if attempt == attempts:
                raise type(error)(f"{error} (asked {attempts} times)") from None
            reason = cut(str(error), REASON_BYTES, model_input_bytes, "the reason")  # it may quote the answer
    raise AssertionError("unreachable")


@bp.orchestration_trigger(context_name="context", orchestration=AGENT_STEP)
@agent_orchestrator(bp)
def agent_step(context):
    spec = context.get_input()
    output_type = output_type_of(spec["output_type"]) if spec.get("output_type") else None
    guard, stopped = RepetitionGuard(), {}
    tools = guard.watch(activity_tools.agent_tools(context, spec.get("tools") or [])
                        + (agent_tools(context, **spec["workspace"]) if spec.get("workspace") else []))
    instructions = f"[agent:{spec['agent']}] {spec['instructions']}"
    if output_type and tools:  # never a response_format with tools (structured.py says why)
        instructions += answer_instructions(output_type)
    agent = Agent(name=spec["agent"], instructions=instructions, tools=tools,
                  output_type=LenientOutputSchema(output_type) if output_type and not tools else None,
                  tool_use_behavior=guard.tool_use_behavior)
    hooks = ProgressHooks(context)
    try:
        result = run_durably(context, agent, spec.get("conversation") or spec["prompt"], hooks=hooks,
                             max_turns=spec.get("max_turns") or DEFAULT_MAX_TURNS,
                             run_config=run_config([tool.name for tool in tools], spec.get("unknown_tool_hint")),
                             error_handlers={"max_turns": max_turns_handler(stopped)})
    except budget.BudgetPause as pause:  # the held-back call started (on_llm_start) but was not made
        set_progress(context, "paused", budget.describe(pause.verdict), hooks.model_calls - 1)
        orchestration_ended(context, AGENT_STEP, agent=spec["agent"], calls=call_log(context).names,
                            usage=ledger_of(context).usage())
        return agent_output({"output": None, "text": None, "model_calls": hooks.model_calls - 1,
                             "tool_calls": hooks.tool_calls, "stopped": None, "usage": ledger_of(context).usage(),
                             "budget": pause.verdict, "conversation": pause.conversation})
    output = result.final_output
    text = None
    if output_type and tools:
        text, output = output, read_answer(output, output_type)
        text = text if output is not text else None  # only when the answer was read out of it (no copy)
    set_progress(context, "completed", "the agent answered", hooks.model_calls)  # with the last call's usage
    orchestration_ended(context, AGENT_STEP, agent=spec["agent"], calls=call_log(context).names,
                        usage=ledger_of(context).usage())
    return agent_output({"output": output.model_dump(mode="json") if isinstance(output, BaseModel) else output,
                         "text": text, "model_calls": hooks.model_calls, "tool_calls": hooks.tool_calls,
                         "stopped": guard.stopped or stopped.get("reason"), "usage": ledger_of(context).usage()})
