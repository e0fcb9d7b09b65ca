"""`run_agent`: one durable agent with built-in activity tools chosen by name."""
from __future__ import annotations

from typing import Any

from agents import Agent, RunContextWrapper, RunHooks, Tool

from .builtin_tools import BUILTIN_TOOLS
from .durable_agents import agent_blueprint, agent_orchestrator, run_durably
from .job_status import set_progress

bp = agent_blueprint()

# The SDK stops an agent after 10 turns; a long-running job is allowed more, and a spec may set its own.
DEFAULT_MAX_TURNS = 40

DEFAULT_INSTRUCTIONS = (
    "You are a careful assistant. Use the tools you are given when they help, and answer the task "
    "concisely once you have what you need."
)


class ProgressHooks(RunHooks):
    """Turns agent events into job progress. Replays re-run them in the same order, so the custom
    status an episode writes is the same on every replay."""

    def __init__(self, context: Any):
        self.context = context
        self.model_calls = 0
        self.tool_calls = 0

    async def on_llm_start(self, context: RunContextWrapper, agent: Agent, *args: Any, **kwargs: Any) -> None:
        self.model_calls += 1
        set_progress(self.context, "running", f"model call {self.model_calls}", self.model_calls)

    async def on_tool_start(self, context: RunContextWrapper, agent: Agent, tool: Tool) -> None:
        self.tool_calls += 1
        set_progress(self.context, "running", f"calling tool {tool.name}", self.model_calls)


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
    return {"final_output": result.final_output, "model_calls": hooks.model_calls,
            "tool_calls": hooks.tool_calls}
