# Durable OpenAI agents written the way the Durable Functions docs and samples teach them: a plain
# `df.Blueprint()`, `@bp.durable_openai_agent_orchestrator` with its defaults, `Runner.run_sync`, activities
# as the agents' tools, and a fan-out of agent orchestrations. The `[agent:NAME]` markers let the scripted
# model server tell the agents apart.
import azure.durable_functions as df
from agents import Agent, Runner

bp = df.Blueprint()


@bp.activity_trigger(input_name="topic")
def look_up(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


@bp.orchestration_trigger(context_name="context")
@bp.durable_openai_agent_orchestrator
def write_and_edit(context):
    topic = context.get_input()
    writer = Agent(name="Writer", instructions="[agent:writer] Look the topic up, then write a line.",
                   tools=[context.create_activity_tool(look_up)])
    draft = Runner.run_sync(writer, topic)
    editor = Agent(name="Editor", instructions="[agent:editor] Edit the line.")
    edited = Runner.run_sync(editor, draft.final_output)
    return edited.final_output


@bp.orchestration_trigger(context_name="context")
def write_many(context):
    topics = context.get_input()
    return (yield context.task_all([context.call_sub_orchestrator("write_and_edit", topic) for topic in topics]))


@bp.activity_trigger(input_name="question")
async def ask_expert(question: str) -> str:
    """Ask an expert (an agent of its own, run in this activity)."""
    expert = Agent(name="Expert", instructions="[agent:expert] Answer in one line.")
    return (await Runner.run(expert, question)).final_output


@bp.orchestration_trigger(context_name="context")
@bp.durable_openai_agent_orchestrator
def interview(context):
    interviewer = Agent(name="Interviewer", instructions="[agent:interviewer] Ask the expert, then sum up.",
                        tools=[context.create_activity_tool(ask_expert)])
    return Runner.run_sync(interviewer, context.get_input()).final_output
