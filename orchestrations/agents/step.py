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
model server can tell steps apart), its instructions, the prompt, built-in tool names, and optionally
a structured output type registered with `@structured_output`. The result is
`{"output", "model_calls", "tool_calls"}`: `output` is text, or the structured output as JSON data.
Call it with `yield from run_step(context, step_input(...))`.
"""
from __future__ import annotations

import json
from typing import Any, Generator, TypeVar

from agents import Agent, AgentOutputSchema
from pydantic import BaseModel

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.durable import (DEFAULT_MAX_TURNS, ProgressHooks, agent_blueprint, agent_orchestrator,
                                          run_durably)
from orchestrations.code_swarm.file_tools import agent_tools
from orchestrations.step_ids import step_instance_id

bp = agent_blueprint()

AGENT_STEP = "agent_step"
OUTPUT_TYPES: dict[str, type[BaseModel]] = {}
Model = TypeVar("Model", bound=type[BaseModel])


def structured_output(model: Model) -> Model:
    """Register a Pydantic model as an output type steps can ask for by its class name.

    The schema is sent non-strict: models are declared lenient (ids as int or str, lists or dicts)
    and the workflow normalises what comes back in its own deterministic code."""
    OUTPUT_TYPES[model.__name__] = model
    return model


def step_input(agent: str, instructions: str, prompt: str, *, tools: list[str] | None = None,
               output_type: type[BaseModel] | None = None, workspace: dict[str, str] | None = None) -> dict[str, Any]:
    """The input of one `agent_step` sub-orchestration. `workspace` = `{job_id, branch}` gives the agent
    the code swarm's file tools on that branch (`workspace_tools.agent_tools`)."""
    request = {"agent": agent, "instructions": instructions, "prompt": prompt, "tools": list(tools or []),
               "output_type": output_type.__name__ if output_type else None}
    return {**request, "workspace": workspace} if workspace else request


def run_step(context: Any, request: dict[str, Any]) -> Generator[Any, Any, dict[str, Any]]:
    """Run one agent step as a sub-orchestration and return its result as data. The OpenAI wrapper
    serialises an orchestrator's return value to JSON text itself, so the parent gets text back."""
    result = yield context.call_sub_orchestrator(AGENT_STEP, request, step_instance_id(context, request["agent"]))
    return json.loads(result) if isinstance(result, str) else result


@bp.orchestration_trigger(context_name="context", orchestration=AGENT_STEP)
@agent_orchestrator(bp)
def agent_step(context):
    spec = context.get_input()
    output_type = OUTPUT_TYPES[spec["output_type"]] if spec.get("output_type") else None
    agent = Agent(
        name=spec["agent"], instructions=f"[agent:{spec['agent']}] {spec['instructions']}",
        tools=[context.create_activity_tool(BUILTIN_TOOLS[name]) for name in spec.get("tools") or []]
        + (agent_tools(context, **spec["workspace"]) if spec.get("workspace") else []),
        output_type=AgentOutputSchema(output_type, strict_json_schema=False) if output_type else None)
    hooks = ProgressHooks(context)
    result = run_durably(context, agent, spec["prompt"], hooks=hooks, max_turns=DEFAULT_MAX_TURNS)
    output = result.final_output
    return {"output": output.model_dump(mode="json") if isinstance(output, BaseModel) else output,
            "model_calls": hooks.model_calls, "tool_calls": hooks.tool_calls}
