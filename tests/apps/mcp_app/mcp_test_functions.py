"""The MCP test app: one of each kind of MCP trigger the Azure extension serves.

Shared by `function_app.py` here (webhookAuthorizationLevel System) and
`anonymous/function_app.py` (Anonymous), so both auth levels run the same code. No `from __future__ import annotations` here: `mcp_tool`
reads parameter annotations as real types (string annotations would all become "string").
"""
import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import azure.functions as func

PROJECT_ROOT = Path(__file__).resolve().parents[3]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tools.progress import report_progress  # noqa: E402  (needs the project root on sys.path)

app = func.FunctionApp()
logging.getLogger(__name__).info("test app configured")  # as the project app logs its model at import


@app.mcp_tool()
@app.mcp_tool_property(arg_name="city", description="City to greet")
async def greet(city: str, times: int = 1, tags: Optional[list[str]] = None) -> str:
    """Greets a city."""
    suffix = f" [{', '.join(tags)}]" if tags else ""
    return " ".join([f"Hi {city}"] * times) + suffix


@app.mcp_tool_trigger(
    arg_name="context",
    tool_name="echo_context",
    description="Returns the context JSON the host passed to the function.",
    tool_properties=json.dumps([
        {"propertyName": "text", "propertyType": "string", "description": "Anything", "isRequired": True},
        {"propertyName": "numbers", "propertyType": "number", "description": "", "isArray": True},
    ]),
    metadata=json.dumps({"ui": {"resourceUri": "ui://echo/index.html"}, "cache": {"ttlSeconds": 5}}),
)
def echo_context(context: str) -> str:
    """Synchronous on purpose: runs in a worker thread, as the Python worker would run it."""
    return context


@app.mcp_tool()
def echo(text: str) -> str:
    """Echoes its input (the benchmark tool)."""
    return text


@func.mcp_content
@dataclass
class Forecast:
    city: str
    celsius: float


@app.mcp_tool(use_result_schema=True)
def forecast(city: str) -> Forecast:
    """Structured result: a text block plus structuredContent."""
    return Forecast(city=city, celsius=21.5)


@app.mcp_tool_trigger(
    arg_name="context",
    tool_name="two_blocks",
    description="Returns two content blocks through the multi_content_result shape.",
    use_result_schema=True,
)
def two_blocks(context: str) -> str:
    blocks = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    return json.dumps({"type": "multi_content_result", "content": json.dumps(blocks)})


@app.mcp_tool()
def explode(reason: str) -> str:
    """Always raises."""
    raise ValueError(f"boom: {reason}")


@app.mcp_tool()
async def count_up(steps: int, context: func.MCPToolContext) -> str:
    """Reports one progress notification per step."""
    for step in range(1, steps + 1):
        await report_progress(context, step, steps, f"step {step} of {steps}")
        await asyncio.sleep(0)
    return f"counted to {steps}"


WAITS: dict[str, str] = {}


@app.mcp_tool()
async def wait_until_cancelled(key: str) -> str:
    """Waits until its call is cancelled; wait_state(key) says whether that reached it."""
    WAITS[key] = "waiting"
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        WAITS[key] = "cancelled"
        raise
    return "never"


@app.mcp_tool()
def wait_state(key: str) -> str:
    """unknown, waiting or cancelled: what became of wait_until_cancelled(key)."""
    return WAITS.get(key, "unknown")


@app.mcp_resource_trigger(
    arg_name="context",
    uri="info://server",
    resource_name="server_info",
    description="Static resource",
    mime_type="application/json",
    metadata=json.dumps({"cache": {"ttlSeconds": 60}}),
)
def server_info(context: str) -> str:
    return json.dumps({"server": "mcp-test", "uri": json.loads(context)["uri"]})


@app.mcp_resource_trigger(
    arg_name="context",
    uri="snippet://{name}",
    resource_name="snippet",
    description="Templated resource",
    mime_type="text/plain",
)
def snippet(context: str) -> str:
    return f"snippet {template_value(context)}"


def template_value(context: str) -> str:
    """The `{name}` of a one-value template's URI, from a resource trigger's context."""
    return json.loads(context)["uri"].split("://", 1)[1]


READS: dict[str, int] = {}


@app.mcp_resource_trigger(arg_name="context", uri="counted://{name}", resource_name="counted", mime_type="text/plain",
                          description="Counts its reads (read_count says how many)")
def counted(context: str) -> str:
    name = template_value(context)
    READS[name] = READS.get(name, 0) + 1
    return f"read {READS[name]} times"


@app.mcp_tool()
def read_count(name: str) -> str:
    """How many times counted://<name> was read (by anyone: a client, or the host watching it)."""
    return str(READS.get(name, 0))


@app.mcp_resource_trigger(arg_name="context", uri="blob://logo", resource_name="logo", mime_type="image/png")
def logo(context: str) -> bytes:
    return b"\x89PNG-not-really"


@app.mcp_resource_trigger(arg_name="context", uri="broken://thing", resource_name="broken")
def broken(context: str) -> str:
    raise RuntimeError("storage unavailable")


@app.mcp_prompt_trigger(
    arg_name="context",
    prompt_name="review",
    description="Review some code",
    prompt_arguments=[
        func.PromptArgument("code", "The code to review", required=True),
        func.PromptArgument("language", "Its language"),
    ],
)
def review(context: func.PromptInvocationContext) -> str:
    language = context.arguments.get("language", "python")
    return f"Please review this {language} code:\n{context.arguments['code']}"
