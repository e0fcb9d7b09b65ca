"""A small fake of the Azure AI Foundry project API (agents v2 and its OpenAI-compatible conversations and
responses), which records what it receives and plays the agent against the real MCP server.

It stands for an outside service, so it is a fake: `scripts/register_foundry_agent.py` talks to it with the
real `azure-ai-projects` SDK. Routes (under the project endpoint `<url>/api/projects/test`):
  POST /agents/{name}/versions      stores the agent definition, answers an `agent.version`
  POST /openai/v1/conversations     a conversation id
  POST /openai/v1/responses         the agent's turn: as Foundry does, it calls the agent's MCP server with the
                                    URL and headers of its definition, within the allowed tools, and answers
                                    `mcp_list_tools`, `mcp_call` and `message` items. Its "model" is a fixed
                                    plan: launch run_agent with the user's text as the task, then wait_for_job
                                    until the job ends. Each tool call gets Foundry's ~60 s limit.
Every request needs `Authorization: Bearer ...` (401 otherwise), as Foundry does.
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .background_server import BackgroundServer

PROJECT_PATH = "/api/projects/test"
TOOL_CALL_LIMIT_SECONDS = 60  # Foundry gives up on an MCP tool call after about a minute
TERMINAL = ("completed", "failed", "canceled")
MAX_WAITS = 20


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    authorization: bool
    body: Any


@dataclass
class FoundryState:
    received: list[Received] = field(default_factory=list)
    agents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> versions
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # what the agent sent to MCP servers
    ids: itertools.count = field(default_factory=itertools.count)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids)}"


def _mcp_tool(definition: dict[str, Any]) -> dict[str, Any]:
    return next(tool for tool in definition["tools"] if tool["type"] == "mcp")


async def _agent_turn(state: FoundryState, agent: dict[str, Any], user_text: str) -> list[dict[str, Any]]:
    """Run the fixed plan against the agent's MCP server; the output items Foundry would return."""
    tool = _mcp_tool(agent["definition"])
    allowed = tool.get("allowed_tools")
    items: list[dict[str, Any]] = []
    async with httpx2.AsyncClient(headers=tool.get("headers") or {}, timeout=TOOL_CALL_LIMIT_SECONDS) as http:
        async with Client(streamable_http_client(tool["server_url"], http_client=http), mode="legacy") as client:
            listing = await client.list_tools()
            tools = [t for t in listing.tools if allowed is None or t.name in allowed]
            items.append({"id": state.next_id("mcpl"), "type": "mcp_list_tools", "server_label": tool["server_label"],
                          "tools": [{"name": t.name, "input_schema": t.input_schema} for t in tools]})

            async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
                item = {"id": state.next_id("mcp"), "type": "mcp_call", "server_label": tool["server_label"],
                        "name": name, "arguments": json.dumps(arguments), "status": "completed",
                        "output": None, "error": None}
                state.tool_calls.append({"name": name, "arguments": arguments, "url": tool["server_url"],
                                         "headers": dict(tool.get("headers") or {})})
                if name not in {t.name for t in tools}:
                    item.update(status="failed", error=f"tool {name} is not available")
                else:
                    result = await client.call_tool(name, arguments)
                    text = "".join(getattr(part, "text", "") for part in result.content)
                    item.update(output=text) if not result.is_error else item.update(status="failed", error=text)
                items.append(item)
                return item

            launched = await call("run_agent", {"task": user_text})
            job = json.loads(launched["output"] or "{}")
            for _ in range(MAX_WAITS):
                if not job.get("job_id") or job.get("status") in TERMINAL:
                    break
                waited = await call("wait_for_job", {"job_id": job["job_id"], "timeout_seconds": 10})
                job = json.loads(waited["output"] or "{}")
    text = f"Job {job.get('job_id')} is {job.get('status')}: {json.dumps(job.get('output'))}"
    items.append({"id": state.next_id("msg"), "type": "message", "role": "assistant", "status": "completed",
                  "content": [{"type": "output_text", "text": text, "annotations": []}]})
    return items


def create_app(state: FoundryState) -> Starlette:
    async def record(request: Request) -> Received:
        body = await request.body()
        received = Received(request.method, request.url.path, dict(request.query_params),
                            request.headers.get("authorization", "").startswith("Bearer "),
                            json.loads(body) if body else None)
        state.received.append(received)
        return received

    def unauthorized() -> JSONResponse:
        return JSONResponse({"error": {"code": "Unauthorized", "message": "no bearer token"}}, 401)

    async def create_version(request: Request) -> JSONResponse:
        received = await record(request)
        if not received.authorization:
            return unauthorized()
        name = request.path_params["name"]
        versions = state.agents.setdefault(name, [])
        version = {"object": "agent.version", "id": f"{name}:{len(versions) + 1}", "name": name,
                   "version": str(len(versions) + 1), "created_at": int(time.time()), "metadata": {},
                   "description": received.body.get("description"), "definition": received.body["definition"]}
        versions.append(version)
        return JSONResponse(version)

    async def conversations(request: Request) -> JSONResponse:
        if not (await record(request)).authorization:
            return unauthorized()
        return JSONResponse({"id": state.next_id("conv"), "object": "conversation", "created_at": int(time.time()),
                             "metadata": {}})

    async def responses(request: Request) -> JSONResponse:
        received = await record(request)
        if not received.authorization:
            return unauthorized()
        reference = received.body.get("agent_reference") or {}
        versions = state.agents.get(reference.get("name", ""))
        if not versions:
            return JSONResponse({"error": {"code": "NotFound", "message": "no such agent"}}, 404)
        agent = versions[-1]
        user_text = received.body["input"] if isinstance(received.body["input"], str) else json.dumps(received.body)
        output = await _agent_turn(state, agent, user_text)
        return JSONResponse({"id": state.next_id("resp"), "object": "response", "created_at": int(time.time()),
                             "status": "completed", "model": agent["definition"]["model"], "output": output,
                             "conversation": {"id": received.body.get("conversation")}, "parallel_tool_calls": True,
                             "tool_choice": "auto", "tools": [], "metadata": {}})

    return Starlette(routes=[
        Route(f"{PROJECT_PATH}/agents/{{name}}/versions", create_version, methods=["POST"]),
        Route(f"{PROJECT_PATH}/openai/v1/conversations", conversations, methods=["POST"]),
        Route(f"{PROJECT_PATH}/openai/v1/responses", responses, methods=["POST"]),
    ])


class FakeFoundry(BackgroundServer):
    """`with FakeFoundry() as foundry:` then `foundry.project_endpoint`; `foundry.state` holds what it got."""

    name = "fake Foundry"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.state = FoundryState()
        super().__init__(host, port)

    def app(self) -> Starlette:
        return create_app(self.state)

    @property
    def project_endpoint(self) -> str:
        return f"{self.url}{PROJECT_PATH}"
