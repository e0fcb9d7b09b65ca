"""What a job's code gets as its first argument: `Job` (a workflow of steps) or `AgentJob` (one agent).

Both are thin handles on the Durable orchestration context (`job.context`, for anything Durable
offers that they do not wrap: activities, timers, fan-out with `task_all`/`task_any`). Everything they
do is deterministic and recorded, so a job replays the same after a crash or on another instance.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generator, Iterable, Optional

from agents import Agent, RunResult
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel

from orchestrations.agents import activity_tools
from orchestrations.agents.durable import DEFAULT_MAX_TURNS, ProgressHooks, run_durably
from orchestrations.agents.step import run_step, step_input
from orchestrations.conversations import CONTINUE_FROM, CONVERSATION, describe
from orchestrations.job_status import event_data, keep_data, request_input, set_progress
from orchestrations.step_ids import step_instance_id
from orchestrations.wording import shorten

Steps = Generator[Any, Any, Any]
MAX_ANSWER_CHARS = 200


@dataclass(frozen=True)
class AgentResult:
    """What `job.agent(...)` returns: the agent's `output` (its final text, or its structured output as
    JSON data: validate it with `YourModel.model_validate(result.output)` for the model), and how many
    model and tool calls it made."""

    output: Any
    model_calls: int
    tool_calls: int


class _Handle:
    """What both kinds of job share: the context, the job's id and input, progress."""

    def __init__(self, context: Any):
        self.context = context

    @property
    def id(self) -> str:
        """The job id (the orchestration's instance id)."""
        return self.context.instance_id

    @property
    def input(self) -> dict[str, Any]:
        """The job's input as the launcher stored it: `{argument name: value}`."""
        value = self.context.get_input()
        return value if isinstance(value, dict) else {}

    def progress(self, stage: str, message: str, completed: Optional[int] = None,
                 total: Optional[int] = None) -> None:
        """Say where the job is: `stage` (a short name, e.g. "reviewing"), `message` (a sentence for
        people), and counts when the stage has them. Shown in the status object's `progress`; a stage
        named "completed" or "canceled" is the job's final word. Bounded in size (custom status stays far
        below Azure's 16 KB)."""
        set_progress(self.context, stage, message, completed, total)


class Job(_Handle):
    """A job whose code is a generator: every step is awaited with `yield` (a Durable task) or
    `yield from` (the steps below). Agents run as steps of their own (sub-orchestrations, see
    orchestrations/agents/step.py), so a job may run any number of them, in sequence or in parallel."""

    def agent(self, name: str, instructions: str, prompt: str, *, tools: Iterable[Any] = (),
              output_type: Optional[type[BaseModel]] = None) -> Steps:
        """Run one agent as a step and return its `AgentResult`:
        `review = yield from job.agent("reviewer", "You review ...", text, tools=[count_words])`.

        `name` names the agent (in the step's id `<job id>:<name>-<8 hex>`, and as `[agent:<name>]` in its
        instructions, which the scripted test model reads); `tools` are activity tools (functions
        declared with `@bp.activity_tool`, or built-in tool names: `fetch_url`, `calculate`);
        `output_type` is a Pydantic model the agent's answer must match (sent as a non-strict schema).
        A failed agent (a model error that retries did not fix) raises here, so the job may catch it;
        uncaught, the job fails at this step and `retry_job` runs it again. `ValueError` for a tool that
        is not an activity tool, `TypeError` for an output type that is not a model."""
        result = yield from run_step(self.context, step_input(name, instructions, prompt, tools=list(tools),
                                                              output_type=output_type))
        return AgentResult(result["output"], result["model_calls"], result["tool_calls"])

    def keep(self, name: str, value: Any) -> Steps:
        """Keep a large value (a proposal to approve, a report) as the output of a step and return its
        reference, `<job id>:<name>`: `ref = yield from job.keep("proposal", proposal)`. Pass it to
        `ask(details_ref=ref)`, so a status object shows it without holding it in custom status."""
        return (yield from keep_data(self.context, name, value))

    def ask(self, event: str, prompt: str, *, schema: Optional[dict[str, Any]] = None,
            details_ref: Optional[str] = None, deadline: Optional[datetime] = None,
            check: Optional[Callable[[Any], Any]] = None, reask: Optional[Callable[[Any], str]] = None) -> Steps:
        """Ask for input and wait for it: the job's status becomes `waiting_for_input` with an input
        request (`event`, `prompt` for the person, `schema` of the data, the details `details_ref`
        names), answered with `send_job_input(job_id, event, data)`. Returns the answer, or None when
        `deadline` (a UTC datetime from `job.context.current_utc_datetime`) passes first.

        The answer is accepted when `check(data)` returns a value (that value is returned; None means
        not acceptable), or, without `check`, when it matches `schema`. Another answer is asked for under
        a new event name (`<event>-2`, `<event>-3`, ...) with `reask(data)` as the prompt (by default the
        problem, then `prompt`): the Durable Python SDK delivers every wait on a name after an early event
        of that name as that same event (azure-functions-durable-python#507), so asking again under the
        same name would get the refused answer back at once."""
        timer = self.context.create_timer(deadline) if deadline is not None else None
        asked, current = 1, prompt
        while True:
            name = event if asked == 1 else f"{event}-{asked}"
            request_input(self.context, name, current, schema=schema, details_ref=details_ref)
            answer = self.context.wait_for_external_event(name)
            if timer is None:
                yield answer
            elif (yield self.context.task_any([answer, timer])) is timer:
                return None
            data = event_data(answer.result)
            accepted, problem = _accepted(data, schema, check)
            if problem is None:
                if timer is not None:
                    timer.cancel()
                return accepted
            asked += 1
            shown = shorten(json.dumps(data, default=str), MAX_ANSWER_CHARS)
            current = reask(data) if reask else f"The last answer ({shown}) was not accepted: {problem}. {prompt}"

    def step_id(self, label: str) -> str:
        """An instance id for a sub-orchestration of this job, `<job id>:<label>-<8 hex>`, so the job view
        and cancel_job find it (orchestrations/step_ids.py): `job.context.call_sub_orchestrator(name,
        input, job.step_id("worker-1"))`."""
        return step_instance_id(self.context, label)


def _accepted(data: Any, schema: Optional[dict[str, Any]],
              check: Optional[Callable[[Any], Any]]) -> tuple[Any, Optional[str]]:
    """(the accepted value, None) or (None, what is wrong)."""
    if check is not None:
        value = check(data)
        return (value, None) if value is not None else (None, "it is not an answer this job can take")
    if schema is not None:
        error = best_match(Draft202012Validator(schema).iter_errors(data))
        if error is not None:
            return None, error.message
    return data, None


class AgentJob(_Handle):
    """A job that is one durable agent, run in the job's own orchestration (the SDK's
    `durable_openai_agent_orchestrator`): its code is a plain function that builds an Agents SDK `Agent`
    and calls `job.run(agent, input)`; every model call and tool call is still a checkpointed activity."""

    def __init__(self, context: Any):
        super().__init__(context)
        self._hooks = ProgressHooks(context)
        self.agent_name: Optional[str] = None  # the agent `run` ran (its trace span's name)
        self.held = 0  # model calls the job's budget held back (orchestrations/usage/ending.py)
        self.resume_from: Optional[list[Any]] = None  # the conversation to go on from once the budget is raised

    @property
    def model_calls(self) -> int:
        """Model calls made by `run` so far."""
        return self._hooks.model_calls - self.held

    @property
    def tool_calls(self) -> int:
        """Tool calls made by `run` so far."""
        return self._hooks.tool_calls

    def tools(self, *tools: Any) -> list[Any]:
        """Agent tools for activity tools (functions declared with `@bp.activity_tool`, or built-in tool
        names): `Agent(..., tools=job.tools(count_words, "calculate"))`."""
        return activity_tools.agent_tools(self.context, tools)

    @property
    def continued_from(self) -> Optional[str]:
        """The id of the job whose conversation this one continues (`continue_from`), or None."""
        value = self.input.get(CONTINUE_FROM)
        return value if isinstance(value, str) else None

    @property
    def conversation(self) -> list[Any]:
        """The conversation this job continues (the Agents SDK's input list; empty when it continues none)."""
        value = self.input.get(CONVERSATION)
        return value if isinstance(value, list) else []

    def continuing(self) -> str:
        """How long the continued conversation is, for progress messages ("" when none is continued)."""
        return describe(self.continued_from, self.conversation) if self.continued_from else ""

    def run(self, agent: Agent, input: Any, *, max_turns: int = DEFAULT_MAX_TURNS) -> RunResult:
        """`Runner.run_sync(agent, input)` for this job: `input` is text or an Agents SDK input list; the
        runner is bound to this job's context (safe when several run at once) and each model and tool call
        updates the job's progress ("model call 3", "calling tool calculate"). In a job that continues a
        conversation (`@bp.agent_job(continues=True)`), a text `input` comes after `conversation`, as the
        next user message; a list is run as it is (build it from `job.conversation`). When the job's budget
        was reached and raised, it goes on from the conversation the agent had (issue 19 §2)."""
        self.agent_name = agent.name
        if self.resume_from is not None:
            input = self.resume_from
        elif isinstance(input, str) and self.conversation:
            input = [*self.conversation, {"role": "user", "content": input}]
        return run_durably(self.context, agent, input, hooks=self._hooks, max_turns=max_turns)
