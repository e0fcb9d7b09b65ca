"""What every job and sub-orchestration does when it ends: its exact usage, its trace, and a budget stop.

Usage: the sum over every agent step under it, read by an activity.

While it runs, an orchestration's ledger sums what its finished steps reported in their results; a step
that failed reported nothing (its parent got an exception), though its own custom status kept the calls it
made. So when a job or a worker ends, `finish_usage` reads the custom status of every agent step under it
(`<instance id>:...`, the management API's instance list, as the job tools read it) in one activity, whose
result is recorded: a replay reads the same sum. An orchestration that completed is never run again (a
rewind reopens only failed ones), so the extra step never changes a history a retry relies on.

Every job ends here: `agent_jobs` runs a job's code through `run_job` (a `Job`) or `run_agent_job` (an
`AgentJob`), so the jobs users add get all of it. Trace: its spans are exported as it ends (orchestrations/tracing/spans.py). Budget: a job whose budget was
reached and stopped (`BudgetStopped`, orchestrations/usage/budget.py) completes with what it has instead of
failing.
"""
from __future__ import annotations

from typing import Any, Callable, Generator

import azure.durable_functions as df

from orchestrations.agents.usage_runner import call_log
from orchestrations.job_status import rewrite_status, set_progress
from orchestrations.tracing.spans import orchestration_ended
from tools.job_steps import list_steps

from . import budget
from .budget import BudgetStopped
from .ledger import agent_steps_usage, ledger_of, roll_up, with_usage

bp = df.Blueprint()

STEPS_USAGE = "steps_usage"
BOOKKEEPING = (STEPS_USAGE,)  # activities that are no step of the job's own: left out of its timeline


@bp.activity_trigger(input_name="instance_id", activity=STEPS_USAGE)
@bp.durable_client_input(client_name="client")
async def steps_usage(instance_id: str, client: df.DurableOrchestrationClient) -> dict[str, Any] | None:
    """The roll-up of the agent steps under `instance_id`, or None when there are none."""
    agents = agent_steps_usage(await list_steps(client, instance_id, show_input=False))
    return roll_up(agents) if agents else None


def finish_usage(context: Any) -> Generator[Any, Any, None]:
    """At the end of an orchestration: its exact usage into its ledger, written to its custom status with
    its last progress. `yield from finish_usage(context)`."""
    ledger_of(context).finish((yield context.call_activity(STEPS_USAGE, context.instance_id)))
    rewrite_status(context)


def finish_step(context: Any, name: str, result: Any) -> Generator[Any, Any, Any]:
    """The end of a sub-orchestration named `name` (its orchestrator function): its result with its exact usage
    (`usage`, for its parent's ledger), and its trace spans (orchestrations/tracing/spans.py):
    `return (yield from finish_step(context, SWARM_WORKER, result))`."""
    yield from finish_usage(context)
    orchestration_ended(context, name, usage=ledger_of(context).usage())
    return with_usage(context, result)


def run_job(context: Any, workflow: str, orchestrator: str, steps: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Run a job's code (`steps`, its generator) and end it: its exact usage and its trace spans; a budget
    stop the code did not handle completes the job with `{"stopped": <why>}` instead of failing it; any other
    error is in its trace and fails it, as before. `return (yield from run_job(context, "run_swarm",
    "run_swarm_workflow", steps(context)))`."""
    try:
        output = yield from steps
    except BudgetStopped as stopped:
        set_progress(context, "completed", str(stopped))
        output = {"stopped": str(stopped)}
    except Exception as error:
        orchestration_ended(context, orchestrator, workflow=workflow, usage=ledger_of(context).usage(), error=error)
        raise
    yield from finish_usage(context)
    orchestration_ended(context, orchestrator, workflow=workflow, usage=ledger_of(context).usage())
    return output


STOPPED = "the job's budget was reached and the job was stopped"


def run_agent_job(context: Any, workflow: str, orchestrator: str, job: Any,
                  run: Callable[[], Any]) -> Generator[Any, Any, Any]:
    """Run the code of a job that is one agent (`run()`: the job's function, whose `job.run` raises
    `BudgetPause` when the budget holds a model call back) and end it: when the budget pauses the agent, the
    job asks (orchestrations/usage/budget.py) - raised, `run()` is called again and `job.run` goes on from the
    conversation the agent had (`job.resume_from`), so the next model call is the one held back; stopped, the
    job completes with `{"stopped", "final_output": the agent's last text}`. Then its usage (its own calls:
    final) and its spans. `job`: the `agent_jobs.AgentJob` handle (`agent_name`, `held`, `resume_from`)."""
    while True:
        try:
            output = run()
            break
        except budget.BudgetPause as pause:  # the held-back call started (on_llm_start) but was not made
            job.held += 1
            if (yield from budget.ask(context, pause.verdict))["action"] == "stop":
                output = {"stopped": STOPPED, "final_output": _last_answer(pause.conversation)}
                set_progress(context, "completed", "stopped at the budget: the job ends with what it has")
                break
            job.resume_from = pause.conversation
        except Exception as error:
            orchestration_ended(context, orchestrator, workflow=workflow, agent=job.agent_name,
                                calls=call_log(context).names, usage=ledger_of(context).usage(), error=error)
            raise
    ledger_of(context).finish(None)  # one agent, no steps: its own calls are the job's usage (final)
    rewrite_status(context)
    orchestration_ended(context, orchestrator, workflow=workflow, agent=job.agent_name,
                        calls=call_log(context).names, usage=ledger_of(context).usage())
    return output


def _last_answer(conversation: list[Any]) -> str | None:
    """The agent's last text in a conversation (what a job stopped by its budget has), or None."""
    for item in reversed(conversation):
        if isinstance(item, dict) and item.get("role") == "assistant":
            content = item.get("content")
            texts = [part.get("text", "") for part in content if isinstance(part, dict)] \
                if isinstance(content, list) else [content] if isinstance(content, str) else []
            if any(texts):
                return "".join(texts)
    return None
