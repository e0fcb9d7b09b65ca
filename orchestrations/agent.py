"""`run_agent`: one durable agent with built-in activity tools chosen by name."""
from __future__ import annotations


from agents import Agent

from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.durable import (DEFAULT_MAX_TURNS, ProgressHooks, agent_blueprint, agent_orchestrator,
                                          agent_output, run_durably)
from orchestrations.job_status import set_progress

bp = agent_blueprint()


DEFAULT_INSTRUCTIONS = (
    "You are a careful assistant. Use the tools you are given when they help, and answer the task "
    "concisely once you have what you need."
)


@bp.orchestration_trigger(context_name="context")
@agent_orchestrator(bp)
def run_agent_workflow(context):
    spec = context.get_input()
    tools = [context.create_activity_tool(BUILTIN_TOOLS[name]) for name in spec.get("tools") or []]
    agent = Agent(name="assistant", instructions=spec.get("instructions") or DEFAULT_INSTRUCTIONS,
                  tools=tools, model=spec.get("model"))
    hooks = ProgressHooks(context)
    set_progress(context, "running", "starting the agent")
    result = run_durably(context, agent, spec["task"], hooks=hooks,
                         max_turns=spec.get("max_turns") or DEFAULT_MAX_TURNS)
    set_progress(context, "completed", "the agent answered", hooks.model_calls)
    return agent_output({"final_output": result.final_output, "model_calls": hooks.model_calls,
                         "tool_calls": hooks.tool_calls})
