"""`JobBlueprint`: a job's orchestrator, launcher and registry entry in one decorator (issue 18).

    bp = JobBlueprint()

    @bp.activity_tool
    def count_words(text: str) -> int:
        \"\"\"Count the words of a text.\"\"\"          # the description the model reads
        return len(text.split())

    @bp.job(title="Review a text")
    def review_text(job: Job, text: str, focus: str = "clarity"):
        \"\"\"Review a text and edit it.                 # the launcher's description

        Args:
            text: The text to review.                  # the argument's description
        \"\"\"
        review = yield from job.agent("reviewer", "...", text, tools=[count_words])
        ...

What `@bp.job` makes of the function (named `review_text` here):
- an orchestrator `review_text_workflow` (`orchestrator=` to choose another) that calls the function with
  the job handle and the launcher's checked arguments (missing ones get their defaults; `job.input` has
  everything the launcher stored) and returns what it returns, as JSON data under the Durable payload
  limit (its longest texts cut with a note: orchestrations/payloads.py);
- a declaration in tools/job_registry.py, from which the app builds the MCP launcher `review_text` and
  the HTTP starter `POST /api/jobs/review_text` (both with `idempotency_key`), and which every job tool
  reads (status object, list_jobs, the job view);
- the launcher's arguments from the signature after `job` (tools/signature.py: hints, defaults, limits,
  the docstring's Args section), its description from the docstring.

`@bp.agent_job` is the same for a job that is one agent run in its own orchestration (`AgentJob.run`).
Mistakes are refused when the module is imported, in one sentence that names the fix
(`JobDeclarationError`, `SignatureError`): a job that is not a generator, a parameter a tool argument
cannot take, a job or orchestrator name used twice.

The blueprint is a `df.Blueprint`, so everything else Durable offers can be declared on it too; it is
registered with the app like any other (agent_jobs.register_packages finds it). It uses the app's own
`run_model` activity for its agents (orchestrations/agents/run_model.py), not a second copy.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Iterable, Optional

import azure.durable_functions as df
from pydantic_core import to_jsonable_python

from orchestrations.agents import activity_tools
from orchestrations.agents.durable import agent_output
from orchestrations.conversations import CONTINUE_FROM, CONVERSATION
from orchestrations.payloads import PAYLOAD_BUDGET_BYTES, fit, result_bytes
from orchestrations.usage.ending import run_agent_job, run_job
from tools import job_registry
from tools.caller import STARTED_BY
from tools.idempotency import IDEMPOTENCY_ARG
from tools.job_registry import JobDeclaration, JobDeclarationError, LaunchCheck
from tools.signature import args_from_signature, description_of

from .job import AgentJob, Job

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# launcher arguments and input entries the launcher adds, which a job's parameter cannot shadow
RESERVED_ARGUMENTS = (IDEMPOTENCY_ARG.name, "budget", CONTINUE_FROM, CONVERSATION, STARTED_BY)


def job_output(value: Any) -> Any:
    """A job's output under the Durable payload limit, its longest texts cut with a note (issue 21 §2)."""
    return fit(value, PAYLOAD_BUDGET_BYTES, result_bytes)


def _source(function: Callable[..., Any]) -> str:
    return f"{function.__module__.replace('.', '/')}.py:{function.__code__.co_firstlineno}"


def _arguments(function: Callable[..., Any], job: Any) -> dict[str, Any]:
    """The function's keyword arguments from the job's input: each parameter after the job's, by name."""
    given = job.input
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return {p.name: given[p.name] for p in parameters if given.get(p.name) is not None}


class JobBlueprint(df.Blueprint):
    """A Durable Functions blueprint with `job`, `agent_job` and `activity_tool`; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._is_durable_openai_agent_setup = True  # the app's own run_model serves this blueprint's agents

    def activity_tool(self, function: Optional[Callable[..., Any]] = None, *,
                      name: Optional[str] = None) -> Any:
        """Declare an activity that agents may call as a tool (`tools=[count_words]` in `job.agent`).

        It takes exactly one parameter, the tool's argument as the model sends it (a str, a number, or a
        Pydantic model for several fields); its docstring is the tool's description for the model. Each
        call is a checkpointed activity, retried by the Durable retry policy when it raises, so return
        expected failures as text ("Error: ...") the model can act on. Returns the activity function
        (still callable as the plain function). `name` = the activity's name (default: the function's)."""

        def declare(target: Callable[..., Any]) -> Any:
            parameters = list(inspect.signature(target).parameters)
            if len(parameters) != 1:
                raise JobDeclarationError(
                    f"Activity tool {target.__qualname__} ({_source(target)}) takes {len(parameters)} parameters: "
                    f"an activity tool takes exactly one (take a Pydantic model for several fields).")
            activity = self.activity_trigger(input_name=parameters[0], activity=name)(target)
            try:
                return activity_tools.register(activity)
            except ValueError as error:
                raise JobDeclarationError(f"{error} ({_source(target)})") from None

        return declare(function) if function is not None else declare

    def job(self, function: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
            title: Optional[str] = None, orchestrator: Optional[str] = None, check: Optional[LaunchCheck] = None,
            downloads: Iterable[str] = ()) -> Any:
        """Declare a job whose function is a generator taking the `Job` handle first and the launcher's
        arguments after it. `name`: the tool and workflow name (default: the function's); `title`: for
        people (default: from the name); `orchestrator`: the orchestrator function's name (default
        `<name>_workflow`); `check(**arguments)`: run by the launcher before a job is started (with
        `caller=`, who launches, when it takes that), raises `ToolError` to refuse it; `downloads`: kinds
        of `/api/workspaces/<job id>/<kind>` a finished job offers (tools/workspaces.py). Returns the
        function unchanged."""
        return self._declare(function, Job, name=name, title=title, orchestrator=orchestrator, check=check,
                             downloads=tuple(downloads))

    def agent_job(self, function: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
                  title: Optional[str] = None, orchestrator: Optional[str] = None,
                  check: Optional[LaunchCheck] = None, continues: bool = False) -> Any:
        """Declare a job that is one durable agent: its function takes the `AgentJob` handle first, builds
        an Agents SDK `Agent` and returns what `job.run(agent, input)` produced, as JSON data. Its
        orchestrator is the SDK's `durable_openai_agent_orchestrator`, so the agent runs in the job's own
        orchestration (no step); otherwise as `job`. `continues=True`: the launcher also takes
        `continue_from`, a finished job of the caller's whose conversation `job.run` continues
        (tools/conversations.py, issue 18 §2)."""
        return self._declare(function, AgentJob, name=name, title=title, orchestrator=orchestrator, check=check,
                             continues=continues)

    # ---------------------------------------------------------------------------------------------

    def _declare(self, function: Optional[Callable[..., Any]], kind: type, **options: Any) -> Any:
        if function is None:
            return lambda target: self._declare(target, kind, **options)
        name = options.pop("name") or function.__name__
        where = f"{function.__qualname__} ({_source(function)})"
        if not NAME_PATTERN.match(name):
            raise JobDeclarationError(f"Job name {name!r} of {where} is not a tool name: use letters, digits and _, "
                                      f"starting with a letter, at most 64 characters.")
        if not list(inspect.signature(function).parameters):
            raise JobDeclarationError(f"Job {where} takes no parameters: its first parameter is the job, "
                                      f"def {function.__name__}(job, ...).")
        if kind is Job and not inspect.isgeneratorfunction(function):
            raise JobDeclarationError(
                f"Job {where} is not a generator: run its steps with `yield from job.agent(...)` (or yield a "
                f"Durable task), or declare one agent run with @bp.agent_job.")
        orchestrator = options.pop("orchestrator") or f"{name}_workflow"
        title = options.pop("title") or name.replace("_", " ").capitalize()
        args = args_from_signature(function, skip=1, reserved=RESERVED_ARGUMENTS)
        self._orchestrator(function, kind, orchestrator, name)
        job_registry.declare(JobDeclaration(name=name, title=title, description=description_of(function),
                                            orchestrator=orchestrator, args=args, source=_source(function),
                                            **options))
        return function

    def _orchestrator(self, function: Callable[..., Any], kind: type, orchestrator: str, name: str) -> None:
        """Register the orchestrator that calls `function` with the job handle and its arguments, and ends
        the job as every job ends (orchestrations/usage/ending.py: its usage, its trace, a budget stop)."""
        bounded = agent_output if kind is AgentJob else job_output
        if kind is Job:
            def body(context: Any) -> Any:
                job = kind(context)
                steps = function(job, **_arguments(function, job))
                return bounded(to_jsonable_python((yield from run_job(context, name, orchestrator, steps))))
        elif inspect.isgeneratorfunction(function):
            def body(context: Any) -> Any:  # type: ignore[misc]
                job = kind(context)
                return bounded(to_jsonable_python((yield from function(job, **_arguments(function, job)))))
        else:
            def body(context: Any) -> Any:  # type: ignore[misc]
                job = kind(context)
                return bounded(to_jsonable_python((yield from run_agent_job(
                    context, name, orchestrator, job, lambda: function(job, **_arguments(function, job))))))
        body.__name__ = body.__qualname__ = orchestrator
        body.__doc__ = function.__doc__
        if kind is AgentJob:  # the SDK's wrapper: the local host recognises it and keeps the agent alive
            body = self.durable_openai_agent_orchestrator(model_retry_options=None)(body)
        self.orchestration_trigger(context_name="context", orchestration=orchestrator)(body)
