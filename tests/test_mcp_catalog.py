"""Binding JSON → MCP listings and results, for the shapes the test app does not exercise.

In-process: the catalog and result conversion are pure functions of the bindings the worker
reports, so real `AppFunction`/`LoadedApp` values built from binding dicts are enough.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.functions.loader import AppFunction, LoadedApp
from host.mcp.catalog import McpCatalog, McpDefinitionError
from host.mcp.results import ResultConversionError, resource_result, tool_result


def app_with(*triggers: dict) -> LoadedApp:
    functions = {}
    for index, trigger in enumerate(triggers):
        name = f"f{index}"
        functions[name] = AppFunction(name, {"name": "context", **trigger}, [trigger], lambda context: context)
    return LoadedApp(Path("."), {}, functions)


def tool(**fields) -> dict:
    return {"type": "mcpToolTrigger", "toolName": "t", **fields}


def test_enum_values_and_case_insensitive_property_keys():
    properties = [{"PropertyName": "mode", "propertyType": "string", "EnumValues": ["a", "b"], "isrequired": True},
                  {"propertyName": "ids", "propertyType": "integer", "isArray": True, "enumValues": ["1"]},
                  {"propertyName": " ", "propertyType": "string"}]
    catalog = McpCatalog(app_with(tool(toolProperties=json.dumps(properties))))
    assert catalog.tool("T").listing.input_schema == {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "enum": ["a", "b"], "description": ""},
            "ids": {"type": "array", "items": {"type": "integer", "enum": ["1"]}, "description": ""},
        },
        "required": ["mode"],
    }


def test_worker_input_and_output_schemas_are_used_verbatim():
    schema = {"type": "object", "properties": {"q": {"type": "string", "minLength": 2}}, "required": ["q"]}
    output = {"type": "object", "properties": {"n": {"type": "number"}}}
    catalog = McpCatalog(app_with(tool(useWorkerInputSchema=True, inputSchema=json.dumps(schema),
                                       outputSchema=json.dumps(output))))
    definition = catalog.tool("t")
    assert definition.listing.input_schema == schema
    assert definition.listing.output_schema == output
    assert definition.required == ["q"]


@pytest.mark.parametrize("bad, message", [
    (tool(metadata="[1]"), "metadata must be a JSON dict"),
    (tool(metadata="{oops"), "metadata is not valid JSON"),
    (tool(useWorkerInputSchema=True, inputSchema='{"type": "string"}'), "not a valid MCP tool JSON schema"),
    ({"type": "mcpResourceTrigger", "uri": "no-scheme", "resourceName": "r"}, "invalid resource URI"),
])
def test_definitions_azure_refuses_stop_the_host(bad, message):
    with pytest.raises(McpDefinitionError, match=message):
        McpCatalog(app_with(bad))


def test_duplicate_names_and_equivalent_templates_are_refused():
    with pytest.raises(McpDefinitionError, match="Tool with name 'T' is already registered"):
        McpCatalog(app_with(tool(), tool(toolName="T")))
    templates = [{"type": "mcpResourceTrigger", "uri": u, "resourceName": "r"} for u in ("a://{x}/i", "A://{y}/i")]
    with pytest.raises(McpDefinitionError, match="equivalent URI pattern"):
        McpCatalog(app_with(*templates))


def test_template_matching_follows_the_extension_regex():
    catalog = McpCatalog(app_with(
        {"type": "mcpResourceTrigger", "uri": "docs://{area}/page", "resourceName": "page"},
        {"type": "mcpResourceTrigger", "uri": "search://find?q={q}&n={n}", "resourceName": "search"},
        {"type": "mcpResourceTrigger", "uri": "list://items?{filter}", "resourceName": "list"},
        {"type": "mcpResourceTrigger", "uri": "docs://fixed/page", "resourceName": "fixed"},
    ))
    assert catalog.resource("docs://fixed/page").listing.name == "fixed"
    assert catalog.resource("DOCS://other/page").listing.name == "page"
    assert catalog.resource("docs://a/b/page") is None
    assert catalog.resource("search://find?q=a&n=2").listing.name == "search"
    assert catalog.resource("search://find?q=a/b&n=2") is None  # only a value right after ? or & may hold "/"
    assert catalog.resource("list://items?a/b").listing.name == "list"
    assert catalog.resource("list://items?a&b") is None


def test_call_tool_result_envelope_keeps_camel_case_keys_only():
    definition = McpCatalog(app_with(tool(useResultSchema=True))).tool("t")
    inner = {"content": [{"type": "text", "text": "x"}], "isError": True, "structured_content": {"a": 1}}
    result = tool_result(definition, json.dumps({"type": "call_tool_result", "content": json.dumps(inner)}))
    assert result.is_error and result.structured_content is None
    with pytest.raises(ResultConversionError, match="McpToolResult"):
        tool_result(definition, "plain text is not an envelope")


def test_worker_resource_result_envelope_fills_uri_and_mime_type():
    catalog = McpCatalog(app_with({"type": "mcpResourceTrigger", "uri": "r://{id}", "resourceName": "r",
                                   "mimeType": "text/markdown"}))
    contents = resource_result(catalog.resource("r://7"), "r://7", json.dumps({"content": json.dumps({"text": "# hi"})}))
    assert contents.contents[0].model_dump(by_alias=True, exclude_none=True) == {
        "uri": "r://7", "mimeType": "text/markdown", "text": "# hi"}
    plain = resource_result(catalog.resource("r://7"), "r://7", '{"not": "an envelope"}')
    assert plain.contents[0].text == '{"not": "an envelope"}'
