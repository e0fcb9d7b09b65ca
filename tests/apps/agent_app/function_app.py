# A third-party durable agent app, written the way the SDK's samples write one: `Runner.run_sync` inside a
# `durable_openai_agent_orchestrator` (the SDK registers its own `run_model` activity). Each time an
# orchestrator body starts it appends a line to AGENT_LEDGER, so tests can count how often it was replayed.
import os

import azure.durable_functions as df
import azure.functions as func
from agents import Agent, Runner, function_tool

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def ledger(entry: str) -> None:
    path = os.environ.get("AGENT_LEDGER")
    if path:
        with open(path, "a") as fh:
            fh.write(entry + "\n")


@function_tool
def shout(text: str) -> str:
    """Upper-case a text (a plain function tool: it runs inside the orchestrator)."""
    return text.upper()


@app.orchestration_trigger(context_name="context")
@app.durable_openai_agent_orchestrator
def relay(context):
    """Three agents one after another, each given the previous one's answer."""
    ledger(f"{context.instance_id}:relay")
    text = context.get_input() or "hello"
    for name in ("first", "second", "third"):
        agent = Agent(name=name, instructions=f"[agent:{name}] Answer briefly.")
        text = Runner.run_sync(agent, text).final_output
    context.set_custom_status({"last": text})
    return text


@app.orchestration_trigger(context_name="context")
@app.durable_openai_agent_orchestrator
def shouter(context):
    """One agent that calls a plain function tool, then answers."""
    ledger(f"{context.instance_id}:shouter")
    agent = Agent(name="shouter", instructions="[agent:shouter] Use the shout tool.", tools=[shout])
    return Runner.run_sync(agent, context.get_input()).final_output


@app.activity_trigger(input_name="text")
def echo(text: str) -> str:
    return f"echo: {text}"


@app.orchestration_trigger(context_name="context")
@app.durable_openai_agent_orchestrator
def plan_then_act(context):
    """A generator orchestrator: an agent, an activity it yields itself, then another agent."""
    ledger(f"{context.instance_id}:plan_then_act")
    plan = Runner.run_sync(Agent(name="planner", instructions="[agent:planner] Plan."), context.get_input())
    echoed = yield context.call_activity("echo", plan.final_output)
    done = Runner.run_sync(Agent(name="doer", instructions="[agent:doer] Do it."), echoed)
    return done.final_output
