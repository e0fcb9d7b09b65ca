"""Assemble the local host: one process, one event loop, the app's functions behind Azure's URLs."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from host.config import HostOptions, HostSettings, settings_for
from host.durable.config import Replay
from host.durable.engine import Engine
from host.durable.store import HistoryStore
from host.functions.invoker import FunctionInvoker
from host.functions.loader import load_app
from host.http.connections import CleanEndings, StoppingServer, uvicorn_config
from host.http.guard import GuardMiddleware, Refusal, RequestGuard, content_type_refusal
from host.http.management_api import RPC_ROOT, ManagementApi, error_response
from host.identity.resource_server import ResourceServer
from host.http.triggers import HttpTriggers
from host.keys import load_keys
from host.mcp.progress import PROGRESS_PATH
from host.mcp.server import MCP_PATH, McpEndpoint
from host.mcp.transport import jsonrpc_error
from host.state_folder import create_private_file, open_state_folder
from host.timer_triggers import TimerTriggers

log = logging.getLogger("host")
PROBE_TIMEOUT_SECONDS = 2.0
PING_PATH = "/admin/host/ping"


class LocalHost:
    """Everything one running host owns; `asgi()` is what uvicorn serves."""

    def __init__(self, options: HostOptions):
        app_dir = Path(options.app_dir).resolve()
        state_dir = open_state_folder(Path(options.state_dir) if options.state_dir else app_dir / ".durable")
        self.app = load_app(app_dir)
        self.settings: HostSettings = settings_for(self.app, state_dir, options, load_keys(state_dir))
        self.store = HistoryStore(create_private_file(state_dir / "durable.sqlite"))
        if self.settings.replay is Replay.AZURE:  # the Python worker's one pool for every sync function
            self.function_pool = ThreadPoolExecutor(self.settings.worker_threads, thread_name_prefix="worker")
            self.orchestrator_pool = self.function_pool
        else:
            self.function_pool = ThreadPoolExecutor(32, thread_name_prefix="functions")
            self.orchestrator_pool = ThreadPoolExecutor(4, thread_name_prefix="orchestrators")
        client_binding = json.dumps(self.settings.durable_client_binding())
        self.invoker = FunctionInvoker(self.function_pool, str(app_dir), lambda: client_binding,
                                       self.settings.function_timeout)
        self.engine = Engine(self.app, self.store, self.invoker, self.orchestrator_pool, self.settings.engine_config())
        self.management = ManagementApi(self.engine, self.settings)
        self.http_triggers = HttpTriggers(self.app, self.invoker, self.settings)
        self.mcp = McpEndpoint(self.app, self.invoker, self.settings)
        self.timers = TimerTriggers(self.app, self.invoker, self.settings)
        self.engine.change_hooks.append(self.mcp.tasks.before_job_changes)  # a task's outcome outlives its job's

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette):
        await self.engine.start()
        try:
            async with self.mcp.running(), self.timers.running():
                yield
        finally:
            await self.engine.stop()
            self.store.close()
            self.function_pool.shutdown(wait=False, cancel_futures=True)
            self.orchestrator_pool.shutdown(wait=False, cancel_futures=True)

    def asgi(self) -> tuple[GuardMiddleware, CleanEndings]:
        """The whole host, and its `CleanEndings` (whose `stop()` ends the requests in progress when the
        host stops). Every request passes the Host/Origin guard first (issue 8 item 1), then the resource
        server (issue 20: principal headers from clients dropped; a bearer token when an issuer is configured)."""
        routes = [Route(PING_PATH, keyless(self.ping), methods=["GET", "POST"])]
        routes += self.management.routes() + self.mcp.routes() + self.http_triggers.routes() + self.timers.routes()
        guard = RequestGuard(self.settings.host, self.settings.allowed_hosts)
        endings = CleanEndings(Starlette(routes=routes, lifespan=self.lifespan), refusal_response)
        signed_in = ResourceServer(endings, self.settings.oauth, (MCP_PATH,), without_token, refusal_response,
                                   self.mcp.server.name)
        return GuardMiddleware(signed_in, guard, refusal_response), endings

    async def ping(self, _request) -> JSONResponse:
        """Health: 200 while the host serves; 503 with the reason while its state database cannot be written
        (a full disk), after one write probe so that freed space shows at once (issue 8, item 6)."""
        if self.engine.fault is not None:
            try:
                await asyncio.wait_for(self.store.probe(), PROBE_TIMEOUT_SECONDS)
            except Exception:  # still failing (or slow): report the fault
                pass
        if self.engine.fault is not None:
            return JSONResponse({"state": "Error", "errors": [f"The state database cannot be written: "
                                                              f"{self.engine.fault}"]}, status_code=503)
        return JSONResponse({"state": "Running"})

    def serve(self, sock: socket.socket) -> None:
        """Serve on `sock` (see `listening_socket`) until stopped, with the settings' connection limits."""
        settings = self.settings
        app, endings = self.asgi()
        StoppingServer(uvicorn_config(app, settings.host, settings.port, settings.limits), endings.stop,
                       endings.stopping).run([sock])


def refusal_response(path: str, refusal: Refusal) -> Response:
    """MCP clients get a JSON-RPC error body; everything else the management API's error shape."""
    if path == MCP_PATH or path.startswith(MCP_PATH + "/"):
        return jsonrpc_error(refusal.status, refusal.message)
    return error_response(refusal.status, refusal.message)


def without_token(path: str) -> bool:
    """Paths served without a bearer token when an issuer is configured: what the host's own functions call
    back (the rpc base, on Azure a port only the worker reaches; progress reports, local only), each behind
    an unguessable path segment, and the health ping, which holds no data."""
    return path == PING_PATH or path.startswith((RPC_ROOT + "/", PROGRESS_PATH + "/"))


def keyless(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that needs no key refuses state-changing requests without a JSON content type."""
    async def guarded(request: Request) -> Response:
        refusal = content_type_refusal(request.method, request.headers)
        if refusal is not None:
            return error_response(refusal.status, refusal.message)
        return await endpoint(request)

    return guarded
