"""Serve the app's HTTP triggers at /api/<route>, honouring their auth level as Azure does."""
from __future__ import annotations

import re
from typing import Any

import azure.functions as func
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from host.bounded import bounded
from host.config import HostSettings
from host.http.bodies import read_limited_body
from host.functions.invoker import FunctionInvoker
from host.functions.loader import AppFunction, LoadedApp
from host.keys import key_matches, presented_key

MAX_HTTP_BODY_BYTES = 4 * 1024 * 1024
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def starlette_path(route: str) -> str:
    """Azure route templates allow constraints and optional markers ({id:int?}); Starlette wants {id}."""
    return "/api/" + re.sub(r"\{([^}:?]+)(:[^}?]*)?\??\}", r"{\1}", route.strip("/"))


class HttpTriggers:
    def __init__(self, app: LoadedApp, invoker: FunctionInvoker, settings: HostSettings):
        self.app = app
        self.invoker = invoker
        self.settings = settings

    def routes(self) -> list[Route]:
        routes = []
        for function in self.app.by_trigger("httpTrigger"):
            route = function.trigger.get("route") or function.name
            methods = [m.upper() for m in (function.trigger.get("methods") or [])] or ALL_METHODS
            routes.append(Route(starlette_path(route), self._endpoint(function), methods=methods))
        return routes

    def _authorized(self, function: AppFunction, request: Request) -> bool:
        level = str(function.trigger.get("authLevel") or "FUNCTION").upper()
        if level == "ANONYMOUS":
            return True
        keys = self.settings.keys
        accepted = [keys["master"]] if level == "ADMIN" else [keys["default"], keys["master"]]
        return key_matches(presented_key(request.headers, request.query_params), *accepted)

    def _endpoint(self, function: AppFunction):
        async def endpoint(request: Request) -> Response:
            if not self._authorized(function, request):
                return Response("Unauthorized", status_code=401)
            body = await read_limited_body(request, MAX_HTTP_BODY_BYTES)
            if body is None:
                return Response(f"Request body too large: the limit is {MAX_HTTP_BODY_BYTES} bytes", status_code=413)
            http_request = func.HttpRequest(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                params=dict(request.query_params),
                route_params=dict(request.path_params),
                body=body,
            )
            try:
                result = await self.invoker.invoke(function, http_request)
            except Exception as exc:
                return Response(f"Function '{function.name}' failed: {bounded(exc, 1000)}", status_code=500)
            return to_response(result)

        return endpoint


def to_response(result: Any) -> Response:
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        return Response(result.get_body(), status_code=result.status_code, headers=headers,
                        media_type=result.mimetype)
    if result is None:
        return Response(status_code=204)
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
    return Response(str(result), media_type="text/plain")
