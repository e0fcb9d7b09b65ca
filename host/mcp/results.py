"""Turn what an MCP function returned into the MCP result Azure would send.

Two hops, both reproduced: the Python worker first encodes the return value with the trigger's
converter (azure.functions' own code, so `None` → "" and other objects → `str(obj)`), then the
extension's return-value binder shapes the result: plain text for tools without
`useResultSchema`, the `{"type","content","structuredContent"}` envelope with it
(Simple/ToolReturnValueBinder.cs), text or blob contents for resources
(ResourceReturnValueBinder.cs), one user message for prompts (SimplePromptReturnValueBinder.cs).
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

import azure.functions as func
import mcp_types as types
from pydantic import BaseModel, ValidationError

from host.mcp.catalog import (
    PROMPT_TRIGGER,
    RESOURCE_TRIGGER,
    TOOL_TRIGGER,
    ResourceDef,
    ToolDef,
    field,
)

log = logging.getLogger("host.mcp")

CALL_TOOL_RESULT = "call_tool_result"
MULTI_CONTENT_RESULT = "multi_content_result"
_CALL_TOOL_RESULT_KEYS = ("content", "structuredContent", "isError", "_meta")


class ResultConversionError(Exception):
    """The function returned something the extension could not turn into an MCP result."""


def worker_encoded(trigger_type: str, value: Any) -> str | bytes:
    """What the worker sends the host for a return value: the trigger converter's encoding."""
    datum = func.meta.get_binding_registry().get(trigger_type).encode(value, expected_type=None)
    return datum.value


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _loads(text: str | None, what: str) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except (TypeError, json.JSONDecodeError) as exc:
        raise ResultConversionError(f"Failed to deserialize {what}: {exc}") from exc


def _validated(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data, by_name=False)
    except ValidationError as exc:
        raise ResultConversionError(f"Failed to deserialize {what}: {exc.errors()[0]['msg']}") from exc


def _call_tool_result(content: str | None) -> types.CallToolResult:
    """A full CallToolResult JSON; keys are matched as the extension's camelCase reader does."""
    data = _loads(content, "CallToolResult")
    if not isinstance(data, dict):
        raise ResultConversionError("Failed to deserialize CallToolResult: not a JSON object")
    ignored = sorted(k for k in data if k.lower() not in {c.lower() for c in _CALL_TOOL_RESULT_KEYS})
    if ignored:
        log.warning("tool result keys %s are ignored (Azure ignores them too; use camelCase, "
                    "e.g. model_dump(by_alias=True))", ignored)
    known = {key: field(data, key) for key in _CALL_TOOL_RESULT_KEYS if field(data, key) is not None}
    return _validated(types.CallToolResult, known, "CallToolResult")


def _enveloped_tool_result(encoded: str) -> types.CallToolResult:
    """The `useResultSchema` envelope `{"type","content","structuredContent"}` (McpToolResult)."""
    envelope = _loads(encoded, "McpToolResult")
    if not isinstance(envelope, dict) or not isinstance(field(envelope, "type"), str):
        raise ResultConversionError("The function return value could not be deserialized to a valid McpToolResult.")
    kind, content = field(envelope, "type"), field(envelope, "content")
    if kind.lower() == CALL_TOOL_RESULT:
        return _call_tool_result(content)
    if kind.lower() == MULTI_CONTENT_RESULT:
        blocks = _loads(content, "multi-content result")
        if not isinstance(blocks, list):
            raise ResultConversionError("Failed to deserialize multi-content result.")
    else:
        blocks = [_loads(content, f"content block type '{kind}'")]
    if not blocks:
        raise ResultConversionError("No content items were produced from the McpToolResult.")
    structured = field(envelope, "structuredContent")
    return _validated(types.CallToolResult, {
        "content": blocks,
        "structuredContent": _loads(structured, "structured content") if structured else None,
    }, f"content for type '{kind}'")


def tool_result(tool: ToolDef, value: Any) -> types.CallToolResult:
    encoded = _text(worker_encoded(TOOL_TRIGGER, value))
    if tool.use_result_schema:
        return _enveloped_tool_result(encoded)
    return types.CallToolResult(content=[types.TextContent(text=encoded)])


def tool_error_result(tool_name: str, exc: BaseException) -> types.CallToolResult:
    """What Azure answers when a tool function raises: an `isError` result whose text drops the
    exception's message (the MCP C# SDK's McpServerImpl.ConfigureTools, which the extension runs:
    "An error occurred invoking '<tool>'."). Apps that want their message shown return a
    CallToolResult with `isError` instead (`useResultSchema`); the host log keeps the message."""
    del exc  # logged by the caller, never shown: Azure does not show it either
    return types.CallToolResult(content=[types.TextContent(text=f"An error occurred invoking '{tool_name}'.")],
                                is_error=True)


def _worker_resource_contents(text: str, resource: ResourceDef, uri: str) -> Any | None:
    """An `McpResourceResult` (`{"content": "<contents JSON>"}`) when the string is one, else None."""
    try:
        envelope = json.loads(text)
        contents = json.loads(field(envelope, "content")) if isinstance(envelope, dict) else None
    except (TypeError, json.JSONDecodeError):
        return None
    if not isinstance(contents, dict):
        return None
    if not contents.get("uri"):
        contents["uri"] = uri
    if not contents.get("mimeType") and resource.mime_type:
        contents["mimeType"] = resource.mime_type
    return contents


def resource_result(resource: ResourceDef, uri: str, value: Any) -> types.ReadResourceResult:
    encoded = worker_encoded(RESOURCE_TRIGGER, value)
    if isinstance(encoded, bytes):
        contents: Any = {"uri": uri, "mimeType": resource.mime_type, "blob": base64.b64encode(encoded).decode()}
    else:
        contents = _worker_resource_contents(encoded, resource, uri) or {
            "uri": uri, "mimeType": resource.mime_type, "text": encoded}
    return _validated(types.ReadResourceResult, {"contents": [contents]}, "resource content")


def prompt_result(value: Any) -> types.GetPromptResult:
    text = _text(worker_encoded(PROMPT_TRIGGER, value))
    return types.GetPromptResult(messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))])
