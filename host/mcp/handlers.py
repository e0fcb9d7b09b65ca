"""MCP request handlers: look the target up in the catalog, invoke the function, shape the result.

Error behaviour mirrors the extension (McpWebJobsBuilderExtensions.cs, McpToolListener.cs,
McpPromptListener.cs): unknown names/URIs and missing required values are JSON-RPC InvalidParams
errors; a tool whose function raises answers with an `isError` result that, as on Azure, does not
carry the message ("An error occurred invoking '<tool>'.", results.tool_error_result); a resource or
prompt whose function raises answers with a JSON-RPC internal error that says why in a sentence
(`failure_message`: no class names, no traceback).
"""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import azure.functions as func
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params

from host.bounded import bounded
from host.functions.invoker import FunctionInvoker
from host.functions.loader import AppFunction
from host.mcp.catalog import McpCatalog, missing_values
from host.mcp.context import OnBehalf, invocation_context
from host.mcp.progress import ProgressRelay
from host.mcp.results import (
    ResultConversionError,
    prompt_result,
    resource_result,
    tool_error_result,
    tool_result,
)

log = logging.getLogger("host.mcp")

Ctx = ServerRequestContext[Any, Any]
T = TypeVar("T")


def invalid_params(message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=message)


def require_values(kind: str, declared_required: list[str], supplied: dict[str, Any] | None) -> None:
    """-32602 in the extension's words when a required value is absent or null (`kind`: "tool
    properties" or "prompt arguments")."""
    missing = missing_values(declared_required, supplied)
    if missing:
        raise invalid_params(f"One or more required {kind} are missing values. Please provide: {', '.join(missing)}")


def unknown_resource_message(uri: str, encoded: tuple[str, str] | None) -> str:
    """Azure's "Unknown resource: '<uri>'" (InvalidParams, McpWebJobsBuilderExtensions.cs), plus, when
    the URI would match a template with its values percent-encoded (`encoded`: the template and that
    URI, McpCatalog.percent_encoded), how to encode it."""
    message = f"Unknown resource: '{bounded(uri)}'"
    if encoded is None:
        return message
    template, suggestion = encoded
    return (f"{message}. Each value of the template '{template}' is one URI segment: percent-encode '/' "
            f"as %2F (and '?', '#', spaces) inside a value, as in '{bounded(suggestion)}'.")


def failure_message(doing: str, exc: BaseException) -> str:
    """A resource or prompt function that raised: its message in a sentence, without the exception's
    class or traceback (the host log keeps both). Azure answers these with -32603 "An error occurred."
    and drops the message (MCP C# SDK McpSessionHandler); the local host keeps the message, the one
    place a person can read it."""
    reason = bounded(str(exc).strip(), 1000) or "the function raised an error without a message"
    return f"Could not {doing}: {reason}"


class McpHandlers:
    """The `on_*` callbacks of the SDK's lowlevel `Server`."""

    def __init__(self, catalog: McpCatalog, invoker: FunctionInvoker, progress: ProgressRelay):
        self.catalog = catalog
        self.invoker = invoker
        self.progress = progress

    async def list_tools(self, _ctx: Ctx, _params: Any) -> types.ListToolsResult:
        return self.catalog.tools_result

    async def list_resources(self, _ctx: Ctx, _params: Any) -> types.ListResourcesResult:
        return self.catalog.resources_result

    async def list_resource_templates(self, _ctx: Ctx, _params: Any) -> types.ListResourceTemplatesResult:
        return self.catalog.templates_result

    async def list_prompts(self, _ctx: Ctx, _params: Any) -> types.ListPromptsResult:
        return self.catalog.prompts_result

    async def call_tool(self, ctx: Ctx | OnBehalf, params: types.CallToolRequestParams) -> types.CallToolResult:
        """`tools/call`; `OnBehalf` when the host calls a tool itself (see `invocation_context`)."""
        tool = self.catalog.tool(params.name)
        if tool is None:
            raise invalid_params(f"Unknown tool: '{bounded(params.name)}'")
        require_values("tool properties", tool.required, params.arguments)
        fields = {"name": params.name, "arguments": params.arguments or {}}
        with self._progress_for(ctx) as extra:
            context = json.dumps(invocation_context(ctx, fields, extra))
            try:
                return tool_result(tool, await self.invoker.invoke(tool.function, context))
            except Exception as exc:
                log.warning("tool %s failed: %s: %s", params.name, type(exc).__name__, bounded(exc))
                return tool_error_result(params.name, exc)

    @contextlib.contextmanager
    def _progress_for(self, ctx: Ctx | OnBehalf) -> Iterator[dict[str, Any] | None]:
        """Context additions for a call whose client asked for progress: a live progress URL."""
        if isinstance(ctx, OnBehalf) or progress_token_from_params(ctx.params) is None:
            yield None
            return
        with self.progress.opened(ctx.session.report_progress) as url:
            yield {"progress": {"url": url}}

    async def read_resource(self, ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        resource = self.catalog.resource(params.uri)
        if resource is None:
            raise invalid_params(unknown_resource_message(params.uri, self.catalog.percent_encoded(params.uri)))
        context = json.dumps(invocation_context(ctx, {"uri": params.uri}))
        value = await self._invoke(resource.function, context, f"read resource '{bounded(params.uri)}'")
        return self._converted(lambda: resource_result(resource, params.uri, value))

    async def get_prompt(self, ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        prompt = self.catalog.prompt(params.name)
        if prompt is None:
            raise invalid_params(f"Unknown prompt: '{bounded(params.name)}'")
        require_values("prompt arguments", prompt.required, params.arguments)
        fields = {"name": params.name, "arguments": params.arguments or {}}
        context = func.PromptInvocationContext(invocation_context(ctx, fields))
        value = await self._invoke(prompt.function, context, f"get prompt '{bounded(params.name)}'")
        return self._converted(lambda: prompt_result(value))

    async def _invoke(self, function: AppFunction, trigger_value: Any, doing: str) -> Any:
        try:
            return await self.invoker.invoke(function, trigger_value)
        except Exception as exc:
            log.warning("function %s could not %s: %s: %s", function.name, doing, type(exc).__name__, bounded(exc))
            raise MCPError(code=types.INTERNAL_ERROR, message=failure_message(doing, exc)) from exc

    @staticmethod
    def _converted(convert: Callable[[], T]) -> T:
        """A result the extension cannot shape is a failure of the request, not of the function."""
        try:
            return convert()
        except ResultConversionError as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from exc
