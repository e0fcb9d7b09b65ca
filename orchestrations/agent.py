"""`run_agent`: one durable agent with built-in activity tools chosen by name.

An `agent_job`: the agent runs in the job's own orchestration (`run_agent_workflow`, the SDK's durable
agent orchestrator), as jobs recorded by earlier versions did, so they replay unchanged.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from agents import Agent
from pydantic import Field

from agent_jobs import AgentJob, JobBlueprint
from orchestrations.agents.builtin_tools import BUILTIN_TOOLS
from orchestrations.agents.durable import DEFAULT_MAX_TURNS

bp = JobBlueprint()

MAX_TASK_CHARS = 20_000
DEFAULT_INSTRUCTIONS = (
    "You are a careful assistant. Use the tools you are given when they help, and answer the task "
    "concisely once you have what you need."
)
BuiltinTool = Literal[tuple(BUILTIN_TOOLS)]  # type: ignore[valid-type]


@bp.agent_job(title="Run an agent", continues=True)
def run_agent(job: AgentJob, task: Annotated[str, Field(max_length=MAX_TASK_CHARS)],
              instructions: Optional[Annotated[str, Field(max_length=MAX_TASK_CHARS)]] = None,
              tools: Optional[list[BuiltinTool]] = None,
              model: Optional[Annotated[str, Field(max_length=200)]] = None) -> dict:
    """Start a durable agent job that survives crashes and rate limits; returns at once with the job's
    status object. Follow it with wait_for_job or get_job. To ask a follow-up, pass the finished job's id as
    continue_from: the agent gets that job's conversation before the task.

    Args:
        task: What the agent should do.
        instructions: System instructions for the agent.
        tools: Built-in tools the agent may call.
        model: Model name (default: the configured model).
    """
    agent = Agent(name="assistant", instructions=instructions or DEFAULT_INSTRUCTIONS,
                  tools=job.tools(*(tools or [])), model=model)
    continuing = job.continuing()  # continue_from: how long the conversation it continues is
    job.progress("running", f"starting the agent, continuing {continuing}" if continuing else "starting the agent")
    # max_turns: not a launcher argument; bench/bench_agent.py sets it when it starts the orchestrator itself
    result = job.run(agent, task, max_turns=job.input.get("max_turns") or DEFAULT_MAX_TURNS)
    job.progress("completed", "the agent answered", job.model_calls)
    output = {"final_output": result.final_output, "model_calls": job.model_calls, "tool_calls": job.tool_calls}
    return {**output, "continued": continuing} if continuing else output
