"""The app's MCP tools, resources and prompts, read from trigger bindings as the Azure MCP extension reads them.

Azure builds its listings from the binding JSON the worker reports (`toolProperties`,
`promptArguments`, `metadata`, ...), not from Python signatures, and looks names and URIs up
case-insensitively. Reproducing that here keeps a tool that works locally working on Azure.
Extension sources mirrored: ToolInputSchema/*.cs, MetadataParser.cs, ResourceUriHelper.cs,
Default{Tool,Resource,Prompt}Registry.cs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import mcp_types as types

from host.functions.loader import AppFunction, AppLoadError, LoadedApp

TOOL_TRIGGER = "mcpToolTrigger"
RESOURCE_TRIGGER = "mcpResourceTrigger"
PROMPT_TRIGGER = "mcpPromptTrigger"

_TEMPLATE_EXPRESSION = re.compile(r"\{[^{}]+\}")


class McpDefinitionError(AppLoadError):
    """An MCP trigger binding the Azure extension would refuse at startup."""


def field(obj: dict[str, Any], name: str, default: Any = None) -> Any:
    """Read a JSON property the way the extension's serializer does: case-insensitively."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return default


def parse_json_setting(function: AppFunction, key: str, expected: type) -> Any:
    """A binding property holding JSON text (metadata, toolProperties, ...); None when absent."""
    raw = function.trigger.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise McpDefinitionError(f"function {function.name}: {key} is not valid JSON: {exc}") from exc
    if not isinstance(value, expected):
        raise McpDefinitionError(f"function {function.name}: {key} must be a JSON {expected.__name__}")
    return value


def parse_metadata(function: AppFunction) -> dict[str, Any] | None:
    """`metadata` JSON object → `_meta`; empty means no `_meta` at all (MetadataParser.SerializeMetadata)."""
    return parse_json_setting(function, "metadata", dict) or None


def property_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """One input property as PropertyBasedToolInputSchema writes it (arrays wrap the type in `items`)."""
    typed: dict[str, Any] = {"type": field(prop, "propertyType") or "string"}
    enum = field(prop, "enumValues")
    if enum:
        typed["enum"] = list(enum)
    schema = {"type": "array", "items": typed} if field(prop, "isArray", False) else typed
    schema["description"] = field(prop, "description") or ""
    return schema


def properties_input_schema(properties: list[dict[str, Any]]) -> dict[str, Any]:
    """The extension's generated input schema; `required` is always present, even when empty."""
    named = [p for p in properties if str(field(p, "propertyName") or "").strip()]
    required: list[str] = []
    for p in named:
        if field(p, "isRequired", False) and field(p, "propertyName") not in required:
            required.append(field(p, "propertyName"))
    return {
        "type": "object",
        "properties": {field(p, "propertyName"): property_schema(p) for p in named},
        "required": required,
    }


def worker_schema(function: AppFunction, key: str) -> dict[str, Any] | None:
    """inputSchema/outputSchema supplied by the worker; the extension only accepts `type: object` roots."""
    schema = parse_json_setting(function, key, dict)
    if schema is None:
        return None
    if schema.get("type") != "object" or not isinstance(schema.get("properties", {}), dict) \
            or not isinstance(schema.get("required", []), list):
        raise McpDefinitionError(f"function {function.name}: {key} is not a valid MCP tool JSON schema")
    return schema


def missing_values(declared_required: list[str], supplied: dict[str, Any] | None) -> list[str]:
    """Required names whose value is absent or null (the extension's `IsNullOrUndefined`)."""
    supplied = supplied or {}
    return [name for name in declared_required if supplied.get(name) is None]


@dataclass(frozen=True)
class ToolDef:
    function: AppFunction
    listing: types.Tool
    required: list[str]
    use_result_schema: bool

    @classmethod
    def from_function(cls, function: AppFunction) -> "ToolDef":
        trigger = function.trigger
        if trigger.get("useWorkerInputSchema"):
            input_schema = worker_schema(function, "inputSchema")
            if input_schema is None:
                raise McpDefinitionError(f"function {function.name}: useWorkerInputSchema needs an inputSchema")
            required = [r for r in input_schema.get("required", []) if isinstance(r, str)]
        else:
            properties = parse_json_setting(function, "toolProperties", list) or []
            input_schema = properties_input_schema(properties)
            required = [field(p, "propertyName") for p in properties if field(p, "isRequired", False)]
        annotations = parse_json_setting(function, "annotations", dict)
        listing = types.Tool(
            name=trigger.get("toolName") or function.name,
            # title and annotations: binding properties the Azure extension does not list (its Tool
            # has name, description, schemas and _meta); the local host adds them (README host table)
            title=trigger.get("title"),
            description=trigger.get("description"),
            input_schema=input_schema,
            output_schema=worker_schema(function, "outputSchema"),
            annotations=None if annotations is None else types.ToolAnnotations.model_validate(annotations),
            meta=parse_metadata(function),
        )
        return cls(function, listing, required, bool(trigger.get("useResultSchema")))


def template_matcher(uri_template: str, one_segment: bool = True) -> re.Pattern[str]:
    """A URI template as a regex: a value stops at `/?#`, or at `&#` right after `?`/`&` (BuildRegexCore).
    With `one_segment=False` a value may hold anything (one group per value): what a URI whose
    values were not percent-encoded would have matched."""
    pattern, position = [], 0
    for expression in _TEMPLATE_EXPRESSION.finditer(uri_template):
        pattern.append(re.escape(uri_template[position:expression.start()]))
        before = uri_template[expression.start() - 1] if expression.start() else ""
        pattern.append("(.+)" if not one_segment else "[^&#]+" if before in ("?", "&") else "[^/?#]+")
        position = expression.end()
    pattern.append(re.escape(uri_template[position:]))
    return re.compile("^" + "".join(pattern) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class ResourceDef:
    function: AppFunction
    uri: str
    mime_type: str | None
    matcher: re.Pattern[str] | None
    listing: types.Resource | types.ResourceTemplate

    @classmethod
    def from_function(cls, function: AppFunction) -> "ResourceDef":
        trigger = function.trigger
        uri = trigger.get("uri") or ""
        if ":" not in uri:
            raise McpDefinitionError(f"function {function.name}: invalid resource URI format: '{uri}'")
        common = dict(
            name=trigger.get("resourceName") or function.name,
            title=trigger.get("title"),
            description=trigger.get("description"),
            mime_type=trigger.get("mimeType"),
            meta=parse_metadata(function),
        )
        if _TEMPLATE_EXPRESSION.search(uri):
            return cls(function, uri, common["mime_type"], template_matcher(uri),
                       types.ResourceTemplate(uri_template=uri, **common))
        return cls(function, uri, common["mime_type"], None,
                   types.Resource(uri=uri, size=trigger.get("size"), **common))


@dataclass(frozen=True)
class PromptDef:
    function: AppFunction
    listing: types.Prompt

    @property
    def required(self) -> list[str]:
        return [a.name for a in self.listing.arguments or [] if a.required]

    @classmethod
    def from_function(cls, function: AppFunction) -> "PromptDef":
        trigger = function.trigger
        arguments = parse_json_setting(function, "promptArguments", list)
        icons = parse_json_setting(function, "icons", list)
        listing = types.Prompt(
            name=trigger.get("promptName") or function.name,
            title=trigger.get("title"),
            description=trigger.get("description"),
            arguments=None if arguments is None else [
                types.PromptArgument(name=field(a, "name"), description=field(a, "description"),
                                     required=field(a, "required")) for a in arguments
            ],
            icons=None if icons is None else [types.Icon.model_validate(i) for i in icons],
            meta=parse_metadata(function),
        )
        return cls(function, listing)


class McpCatalog:
    """Every MCP trigger of the app, indexed for the lookups the extension performs."""

    def __init__(self, app: LoadedApp):
        self._tools: dict[str, ToolDef] = {}
        self._static_resources: dict[str, ResourceDef] = {}
        self._templates: list[ResourceDef] = []
        self._prompts: dict[str, PromptDef] = {}
        for function in app.by_trigger(TOOL_TRIGGER):
            self._register(self._tools, ToolDef.from_function(function), "Tool with name")
        for function in app.by_trigger(RESOURCE_TRIGGER):
            self._add_resource(ResourceDef.from_function(function))
        for function in app.by_trigger(PROMPT_TRIGGER):
            self._register(self._prompts, PromptDef.from_function(function), "Prompt with name")
        self.tools_result = types.ListToolsResult(tools=[t.listing for t in self._tools.values()])
        self.resources_result = types.ListResourcesResult(
            resources=[r.listing for r in self._static_resources.values()])
        self.templates_result = types.ListResourceTemplatesResult(
            resource_templates=[r.listing for r in self._templates])
        self.prompts_result = types.ListPromptsResult(prompts=[p.listing for p in self._prompts.values()])

    @staticmethod
    def _register(registry: dict[str, Any], definition: ToolDef | PromptDef, what: str) -> None:
        key = definition.listing.name.lower()
        if key in registry:
            raise McpDefinitionError(f"{what} '{definition.listing.name}' is already registered.")
        registry[key] = definition

    def _add_resource(self, resource: ResourceDef) -> None:
        if resource.matcher is None:
            if resource.uri.lower() in self._static_resources:
                raise McpDefinitionError(f"Resource with URI '{resource.uri}' is already registered.")
            self._static_resources[resource.uri.lower()] = resource
            return
        shape = _TEMPLATE_EXPRESSION.sub("{_}", resource.uri).lower()
        for existing in self._templates:
            if _TEMPLATE_EXPRESSION.sub("{_}", existing.uri).lower() == shape:
                raise McpDefinitionError(
                    "A resource template with an equivalent URI pattern is already registered. "
                    f"Existing: '{existing.uri}', New: '{resource.uri}'.")
        self._templates.append(resource)

    def counts(self) -> dict[str, int]:
        return {"tool": len(self._tools), "resource": len(self._static_resources) + len(self._templates),
                "prompt": len(self._prompts)}

    def tool(self, name: str) -> ToolDef | None:
        return self._tools.get(name.lower())

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        tool = self.tool(name)
        return tool.listing.input_schema if tool else None

    def resource(self, uri: str) -> ResourceDef | None:
        """Static URIs win; otherwise the first template (in registration order) that matches."""
        found = self._static_resources.get(uri.lower())
        if found:
            return found
        return next((t for t in self._templates if t.matcher and t.matcher.match(uri)), None)

    def percent_encoded(self, uri: str) -> tuple[str, str] | None:
        """For an unknown `uri` that a template would match if its values were percent-encoded (a
        value holding `/`, `?`, `#` or a space): that template and the URI with its values encoded;
        None when no template comes close."""
        for template in self._templates:
            match = template_matcher(template.uri, one_segment=False).match(uri)
            if match:
                parts, position = [], 0
                for group in range(1, len(match.groups()) + 1):
                    parts += [uri[position:match.start(group)], quote(match.group(group), safe="%")]
                    position = match.end(group)
                return template.uri, "".join(parts) + uri[position:]
        return None

    def prompt(self, name: str) -> PromptDef | None:
        return self._prompts.get(name.lower())
