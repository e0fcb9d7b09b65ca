"""`job_tool`: how every MCP tool of the app is declared, checked, run and answered.

    bp = df.Blueprint()

    @job_tool(bp, Arg("job_id", "string", "The job id a launcher returned.", required=True),
              output=JobStatus, title="Get job", hints=READ_ONLY)
    async def get_job(client: df.DurableOrchestrationClient, job_id: str) -> dict:
        \"\"\"The docstring is the tool's description.\"\"\"
        return await fetch_job(client, job_id)

registers an MCP tool trigger named after the function, with a Durable client binding. On each
call it reads the arguments from the trigger's context, checks them with
`arguments.validate_arguments`, awaits the function with the Durable client and the checked
arguments (plus `tool_context=`, the context as a dict, when the function takes it: progress
reporting needs it) and `caller=` (tools/caller.py: who is calling) when it takes that, and answers with a
whole MCP `CallToolResult`: the function's value as JSON
text, or `isError` with the message of a `ToolError`.

Why a `CallToolResult` (the trigger's `useResultSchema`): the Azure Functions MCP extension turns
a raised exception into "An error occurred invoking '<tool>'." and drops its message (the MCP C#
SDK's McpServerImpl.ConfigureTools), and its plain-text result path cannot set `isError`; the
`call_tool_result` envelope (ToolReturnValueBinder.cs) passes `isError` and the text through
unchanged, on Azure and on the local host alike (issue 8.12). An unexpected exception is logged
with its traceback and answered with a short error that says so, bounded and free of keys.

What the tool listing carries (issue 11.1), in the richest form the Functions MCP extension accepts
(McpToolTriggerAttribute: `InputSchema` with `UseWorkerInputSchema`, `OutputSchema`, `Metadata`):
the whole input schema (types, enums, minimum/maximum, patterns, defaults; `required` left empty,
see tools/arguments.py), the output schema of the value (`output`, a pydantic model: the status
object's one definition for most tools) and `_meta`. A successful result carries the value twice:
as JSON text (older clients, models) and as `structuredContent` matching the output schema. A
title and behaviour hints (`annotations`: readOnlyHint, destructiveHint, idempotentHint,
openWorldHint) are binding properties too; the extension does not list them (its tool listing has
name, description, schemas and `_meta` only), the local host does.

No `from __future__ import annotations` here: the trigger function's annotations are read by the
Functions worker's indexing, which should see real types, as in the library's own samples.
"""

import inspect
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import azure.durable_functions as df
from pydantic import BaseModel

from .arguments import Arg, ToolError, input_schema, tool_properties, validate_arguments
from .backend_errors import backend_reason, unavailable
from .caller import KEY_OWNER, Caller, caller_of

log = logging.getLogger(__name__)

CALL_TOOL_RESULT = "call_tool_result"  # McpConstants.ToolResultContentTypes.CallToolResult
MAX_ERROR_CHARS = 500
_KEY_IN_URL = re.compile(r"(?i)([?&](?:code|sig)=)[^&\s\"']+")

ToolFunction = Callable[..., Awaitable[Any]]

# MCP tool annotations (2025-11-25 ToolAnnotations): clients may auto-approve read-only tools
READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


def as_text(value: Any) -> str:
    """JSON text, as a tool result carries it (clients and models read it)."""
    return json.dumps(value, indent=2, default=str)


def call_tool_result(text: str, is_error: bool = False, structured: dict[str, Any] | None = None) -> str:
    """What an MCP trigger with `useResultSchema` returns for a whole CallToolResult (both hosts)."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}]}
    if structured is not None:
        result["structuredContent"] = structured
    if is_error:
        result["isError"] = True
    return json.dumps({"type": CALL_TOOL_RESULT, "content": json.dumps(result, default=str),
                       "structuredContent": None})


def public_message(error: BaseException) -> str:
    """An unexpected error's text as a caller may see it: keys in URLs removed, bounded."""
    text = _KEY_IN_URL.sub(r"\1***", " ".join(str(error).split())) or type(error).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


async def run_tool(name: str, args: list[Arg], function: ToolFunction, context: str | dict[str, Any],
                   client: df.DurableOrchestrationClient) -> str:
    """One tool call: parse, check, run, answer. Never raises."""
    try:
        call = json.loads(context) if isinstance(context, (str, bytes)) else dict(context)
        values = validate_arguments(name, args, call.get("arguments"))
        parameters = inspect.signature(function).parameters
        if "tool_context" in parameters:
            values["tool_context"] = call
        if "caller" in parameters:
            values["caller"] = caller_of(call)
        value = await function(client, **values)
        return call_tool_result(as_text(value), structured=value if isinstance(value, dict) else None)
    except ToolError as error:
        return call_tool_result(str(error), is_error=True)
    except Exception as error:  # a bug or an outage: the log has the traceback, the caller a short reason
        reason = backend_reason(error)
        if reason is not None:  # the backend's own failure, already in words: no traceback needed
            log.warning("tool %s: the Durable backend failed: %s", name, reason)
            return call_tool_result(str(unavailable(f"{name} could not be completed", reason)), is_error=True)
        log.exception("tool %s failed", name)
        return call_tool_result(f"{name} failed unexpectedly: {public_message(error)}", is_error=True)


@dataclass(frozen=True)
class JobTool:
    """A registered tool: its checked arguments and its function, for callers other than MCP (the job view)."""

    args: tuple[Arg, ...]
    function: ToolFunction

    async def run(self, name: str, client: df.DurableOrchestrationClient, arguments: Any,
                  caller: Caller = KEY_OWNER) -> Any:
        """Check `arguments` as the tool does, then run it for `caller`; `ToolError` for what the caller got
        wrong."""
        values = validate_arguments(name, list(self.args), arguments)
        if "caller" in inspect.signature(self.function).parameters:
            values["caller"] = caller
        return await self.function(client, **values)


TOOLS: dict[str, JobTool] = {}


def job_tool(bp: df.Blueprint, *args: Arg, output: type[BaseModel], title: str, hints: dict[str, bool],
             metadata: str | None = None) -> Callable[[ToolFunction], ToolFunction]:
    """Register `function(client, **arguments)` as the MCP tool of its name; see the module docstring.
    `output`: the model of the value the function returns; `title`: a name for people; `hints`: the
    MCP tool annotations (readOnlyHint, destructiveHint, idempotentHint, openWorldHint); `metadata`:
    the tool's `_meta` as JSON text."""

    def register(function: ToolFunction) -> ToolFunction:
        name = function.__name__
        TOOLS[name] = JobTool(args, function)

        async def trigger(context: str, client: df.DurableOrchestrationClient) -> str:
            return await run_tool(name, list(args), function, context, client)

        # the function name is the tool's; no functools.wraps: indexing must see (context, client)
        trigger.__name__, trigger.__qualname__, trigger.__doc__ = name, name, function.__doc__
        description = inspect.cleandoc(function.__doc__ or "")
        bound = bp.durable_client_input(client_name="client")(trigger)
        extra = {"metadata": metadata} if metadata else {}
        # toolProperties too, for extension versions before worker input schemas (McpToolTriggerAttribute)
        bp.mcp_tool_trigger(arg_name="context", tool_name=name, description=description,
                            tool_properties=tool_properties(args), use_result_schema=True,
                            useWorkerInputSchema=True, inputSchema=json.dumps(input_schema(args)),
                            outputSchema=json.dumps(output.model_json_schema(mode="serialization")),
                            title=title, annotations=json.dumps({"title": title, **hints}), **extra)(bound)
        return function

    return register
