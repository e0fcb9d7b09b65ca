"""Assemble the local host: one process, one event loop, the app's functions behind Azure's URLs."""
from __future__ import annotations

import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from host.config import HostSettings, settings_for
from host.durable.engine import Engine
from host.durable.store import HistoryStore
from host.functions.invoker import FunctionInvoker
from host.functions.loader import load_app
from host.http.management_api import ManagementApi
from host.http.triggers import HttpTriggers
from host.keys import load_keys
from host.mcp.server import McpEndpoint

log = logging.getLogger("host")


class LocalHost:
    """Everything one running host owns; `asgi()` is what uvicorn serves."""

    def __init__(self, app_dir: Path, state_dir: Path | None = None, host: str = "127.0.0.1", port: int = 7071):
        app_dir = Path(app_dir).resolve()
        self.app = load_app(app_dir)
        state_dir = Path(state_dir) if state_dir else app_dir / ".durable"
        state_dir.mkdir(parents=True, exist_ok=True)
        self.settings: HostSettings = settings_for(self.app, state_dir, host, port, load_keys(state_dir))
        self.store = HistoryStore(state_dir / "durable.sqlite")
        self.function_pool = ThreadPoolExecutor(32, thread_name_prefix="functions")
        self.orchestrator_pool = ThreadPoolExecutor(4, thread_name_prefix="orchestrators")
        client_binding = json.dumps(self.settings.durable_client_binding())
        self.invoker = FunctionInvoker(self.function_pool, str(app_dir), lambda: client_binding)
        self.engine = Engine(self.app, self.store, self.invoker, self.orchestrator_pool, self.settings.engine_config())
        self.management = ManagementApi(self.engine, self.settings)
        self.http_triggers = HttpTriggers(self.app, self.invoker, self.settings)
        self.mcp = McpEndpoint(self.app, self.invoker, self.settings)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette):
        await self.engine.start()
        try:
            async with self.mcp.running():
                yield
        finally:
            await self.engine.stop()
            self.store.close()
            self.function_pool.shutdown(wait=False, cancel_futures=True)
            self.orchestrator_pool.shutdown(wait=False, cancel_futures=True)

    def asgi(self) -> Starlette:
        routes = [Route("/admin/host/ping", self.ping, methods=["GET", "POST"])]
        routes += self.management.routes() + self.mcp.routes() + self.http_triggers.routes()
        return Starlette(routes=routes, lifespan=self.lifespan)

    async def ping(self, _request) -> JSONResponse:
        return JSONResponse({"state": "Running"})

    def serve(self) -> None:
        config = uvicorn.Config(self.asgi(), host=self.settings.host, port=self.settings.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=5)
        uvicorn.Server(config).run()
