"""The app's MCP server at Azure's URLs, built on the official `mcp` SDK (2.x lowlevel `Server`).

  POST /runtime/webhooks/mcp           Streamable HTTP, stateless (both the 2025-11-25 handshake
                                       era and 2026-07-28 single-exchange requests); a client that
                                       keeps its Mcp-Session-Id may be asked for input on the stream
                                       of its own POST (host/mcp/back_channel.py)
  GET  /runtime/webhooks/mcp/sse       legacy HTTP+SSE stream ...
  POST /runtime/webhooks/mcp/message   ... and its message endpoint
  POST /runtime/webhooks/mcp/progress/<token>   progress reports from running tools (local only)

The lowlevel `Server` fits because tool schemas come from bindings, not Python signatures.
Its identity and instructions come from host.json `extensions.mcp`, as on Azure.
"""
from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from mcp.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from host.config import HostSettings
from host.functions.invoker import FunctionInvoker
from host.functions.loader import LoadedApp
from host.mcp.back_channel import BackChannel
from host.mcp.capabilities import DeclaredCapabilities
from host.mcp.catalog import McpCatalog
from host.mcp.handlers import McpHandlers
from host.mcp.job_tools import JobTools
from host.mcp.native import install as install_jobs
from host.mcp.params_errors import ReadableParamsErrors
from host.mcp.progress import PROGRESS_PATH, ProgressRelay
from host.mcp.subscriptions import Subscriptions
from host.mcp.subscriptions import install as install_subscriptions
from host.mcp.task_store import TaskStore
from host.mcp.tasks import Tasks
from host.mcp.sessions import Sessions, SseSessions
from host.mcp.transport import GatedEndpoint, SseConnection, SseMessages, StreamableHttp

MCP_PATH = "/runtime/webhooks/mcp"
SSE_PATH = f"{MCP_PATH}/sse"
MESSAGE_PATH = f"{MCP_PATH}/message"
DEFAULT_SERVER_NAME = "Azure Functions MCP server"
DEFAULT_SERVER_VERSION = "1.0.0"
# serverInfo fields host.json keeps under extensions.mcp.localHost: Azure's McpOptions has none of them
LOCAL_ONLY_KEYS = {"title", "description", "websiteUrl"}
TASKS_FILE = "tasks.sqlite"


class McpEndpoint:
    """Everything MCP the host serves; `routes()` for the Starlette app, `running()` for its lifespan."""

    def __init__(self, app: LoadedApp, invoker: FunctionInvoker, settings: HostSettings):
        # The SDK logs every stateless request at INFO ("Terminating session: None"), and its managers'
        # start and stop: console noise around the banner.
        for name in ("mcp.server.streamable_http", "mcp.server.streamable_http_manager"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # ... and the legacy SSE transport logs a WARNING for each message to a missing or unknown session:
        # the client's mistake, which the client is told (transport.SseMessages).
        logging.getLogger("mcp.server.sse").setLevel(logging.ERROR)
        self.catalog = McpCatalog(app)
        self.progress = ProgressRelay(settings.local_base)
        handlers = McpHandlers(self.catalog, invoker, self.progress)
        config = settings.mcp_config
        counts = self.catalog.counts()
        resources = {"on_list_resources": handlers.list_resources,
                     "on_list_resource_templates": handlers.list_resource_templates,
                     "on_read_resource": handlers.read_resource} if counts["resource"] else {}
        prompts = {"on_list_prompts": handlers.list_prompts,
                   "on_get_prompt": handlers.get_prompt} if counts["prompt"] else {}
        # title, description and websiteUrl: keys the Azure extension's options do not have (McpOptions: it
        # sends name and version only, and always advertises tools and resources), so host.json keeps them
        # under `localHost`, which Azure's options binding ignores; the local host adds them, and advertises
        # resources and prompts only when the app has some (README host table)
        local = config.get("localHost") or {}
        misplaced = sorted(LOCAL_ONLY_KEYS & set(config))
        if misplaced:
            logging.getLogger("host.mcp").warning(
                "host.json extensions.mcp.%s: Azure's MCP extension has no such option and ignores it, and so does "
                "this host; put it under extensions.mcp.localHost", ", ".join(misplaced))
        self.server: Server = Server(
            str(config.get("serverName") or DEFAULT_SERVER_NAME),
            version=str(config.get("serverVersion") or DEFAULT_SERVER_VERSION),
            title=local.get("title"),
            description=local.get("description"),
            website_url=local.get("websiteUrl"),
            instructions=config.get("instructions"),
            get_tool_input_schema=self.catalog.tool_input_schema,
            on_list_tools=handlers.list_tools,
            on_call_tool=handlers.call_tool,
            **resources,
            **prompts,
        )
        self.server.middleware.append(ReadableParamsErrors())
        job_tools = JobTools(self.catalog, handlers.call_tool)
        self.server.middleware.append(DeclaredCapabilities(job_tools.starts_jobs()))
        self.sessions = Sessions()
        self.subscriptions = Subscriptions(handlers.read_resource, self.sessions)
        install_subscriptions(self.server, self.subscriptions)
        self.task_store = TaskStore(settings.state_dir / TASKS_FILE)
        self.tasks = Tasks(self.task_store, job_tools)
        install_jobs(self.server, job_tools, self.tasks)
        self._json_responses = StreamableHTTPSessionManager(self.server, json_response=True, stateless=True)
        self._sse_responses = StreamableHTTPSessionManager(self.server, json_response=False, stateless=True)
        self._back_channel = BackChannel(self.server)
        self._legacy_sse = SseServerTransport(MESSAGE_PATH)
        require_key = settings.mcp_auth_level.lower() != "anonymous"
        self._keys = [settings.keys["mcp_extension"], settings.keys["master"]] if require_key else None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP for the host's lifetime.

        Starting also freezes everything allocated so far (the app, the SDKs it imported: ~185k
        objects) out of the garbage collector's view: otherwise each full collection walks them
        all and stalls the event loop for ~100 ms, which dominated tool-call p99 latency.
        """
        gc.collect()
        gc.freeze()
        try:
            async with self._json_responses.run(), self._sse_responses.run(), self._back_channel.running():
                yield
        finally:
            self.sessions.close()
            self.subscriptions.close()
            self.task_store.close()

    def routes(self) -> list[Route]:
        streamable = StreamableHttp(self._json_responses.handle_request, self._sse_responses.handle_request,
                                    self._back_channel)
        sse_sessions = SseSessions(self.sessions)
        return [
            Route(MCP_PATH, GatedEndpoint(self._keys, "POST", streamable)),
            Route(SSE_PATH, GatedEndpoint(self._keys, "GET", SseConnection(self._serve_sse, sse_sessions))),
            Route(MESSAGE_PATH, GatedEndpoint(self._keys, "POST",
                                              SseMessages(self._legacy_sse.handle_post_message, sse_sessions))),
            Route(f"{PROGRESS_PATH}/{{token}}", GatedEndpoint(None, "POST", self._report_progress, jsonrpc=False)),
        ]

    async def _serve_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One legacy SSE connection: a stateful MCP session for as long as the stream stays open."""
        async with self._legacy_sse.connect_sse(scope, receive, send) as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())

    async def _report_progress(self, request: Request, send: Send, _body: bytes) -> None:
        response = await self.progress.endpoint(request)
        await response(request.scope, request.receive, send)
