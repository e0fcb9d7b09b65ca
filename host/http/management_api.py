"""The Durable Functions HTTP management API, with Azure's routes, status codes and bodies.

Served twice, as the extension does: under /runtime/webhooks/durabletask/ (the public webhook,
which needs the `durabletask_extension` or master key) and under /durabletask/<rpc secret>/ (the
rpcBaseUrl the SDK's DurableOrchestrationClient talks to: no key, but a secret path segment only the
state folder holds (host/keys.py), callers on the host's own address only, JSON bodies only). Any
other /durabletask/ path answers 401 and points at the public webhook.
"""
from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from host.bounded import bounded
from host.config import HostSettings
from host.durable.engine import Engine
from host.durable.events import fromisoformat
from host.durable.errors import (
    EngineError,
    InstanceEnded,
    InstanceExists,
    InstanceNotFound,
    PayloadTooLarge,
    StoreUnavailable,
    UnknownFunction,
)
from host.durable.model import LIVE_STATUSES, InstanceRow, RuntimeStatus
from host.http.bodies import MalformedJson, parse_json, read_limited_body
from host.http.guard import content_type_refusal
from host.http.history_format import management_history
from host.http.triggers import ALL_METHODS
from host.keys import RPC_SECRET, key_matches, presented_key

PUBLIC_PREFIX = "/runtime/webhooks/durabletask"
RPC_ROOT = "/durabletask"
RPC_PREFIX = RPC_ROOT + "/{rpc_secret}"
RPC_REFUSAL = ("Unauthorized: /durabletask/ is the rpc base of the host's own functions. Use "
               f"{PUBLIC_PREFIX}/... with the durabletask_extension key in x-functions-key or ?code= "
               "(the banner shows it).")
RUNTIME_STATUSES = tuple(status.value for status in RuntimeStatus)
DEFAULT_PAGE_SIZE = 100
MAX_INT32 = 2**31 - 1
DEFAULT_POLLING_SECONDS = 1.0
MIN_POLLING_SECONDS = 0.1  # pollingInterval=0 was a busy loop (issue 9 item 5)
# How the Durable extension answers each refused operation (HttpApiHandler.cs).
ERROR_STATUS = {UnknownFunction: 400, InstanceNotFound: 404, InstanceEnded: 410, InstanceExists: 409,
                PayloadTooLarge: 413, StoreUnavailable: 503}


def format_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None, name: str = "time") -> float | None:
    """Seconds since the epoch of an ISO 8601 query value (UTC when it names no zone); ValueError naming
    the parameter otherwise."""
    if not text:
        return None
    try:
        value = fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, "
                         f"got '{bounded(text, 40)}'") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def status_payload(row: InstanceRow, show_input: bool = True, history: list[dict[str, Any]] | None = None) -> dict:
    payload: dict[str, Any] = {
        "name": row.name,
        "instanceId": row.instance_id,
        "runtimeStatus": row.status,
        "input": _json_or_none(row.input) if show_input else None,
        "customStatus": _json_or_none(row.custom_status),
        "output": _json_or_none(row.output),
        "createdTime": format_time(row.created_at),
        "lastUpdatedTime": format_time(row.updated_at),
    }
    if history is not None:
        payload["historyEvents"] = history
    return payload


def _is_local(request: Request, bind_host: str) -> bool:
    """A caller on loopback, or on the host's own bind address (where its functions connect from)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback or host == bind_host
    except ValueError:
        return host in ("localhost", "testclient")


def error_response(status: int, message: str) -> JSONResponse:
    """The extension's error body (HttpApiHandler.cs); the message may hold client values, so it is bounded."""
    message = bounded(message, 1000)
    return JSONResponse({"Message": message, "ExceptionMessage": message}, status_code=status)


def _truthy(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


class ManagementApi:
    def __init__(self, engine: Engine, settings: HostSettings):
        self.engine = engine
        self.settings = settings

    # ---- plumbing --------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        table = [
            ("/orchestrators/{function_name}", self.start, ["POST"]),
            ("/orchestrators/{function_name}/{instance_id}", self.start, ["POST"]),
            ("/instances", self.list_instances, ["GET"]),
            ("/instances/", self.list_instances, ["GET"]),
            ("/instances", self.purge_by_filter, ["DELETE"]),
            ("/instances/", self.purge_by_filter, ["DELETE"]),
            ("/instances/{instance_id}", self.get_status, ["GET"]),
            ("/instances/{instance_id}", self.purge, ["DELETE"]),
            ("/instances/{instance_id}/raiseEvent/{event_name}", self.raise_event, ["POST"]),
            ("/instances/{instance_id}/terminate", self.terminate, ["POST"]),
            ("/instances/{instance_id}/suspend", self.suspend, ["POST"]),
            ("/instances/{instance_id}/resume", self.resume, ["POST"]),
            ("/instances/{instance_id}/rewind", self.rewind, ["POST"]),
            ("/instances/{instance_id}/restart", self.restart, ["POST"]),
            ("/entities/{name}/{key}", self.entities, ["GET", "POST"]),
        ]
        routes = []
        for prefix, guard in ((PUBLIC_PREFIX, self._require_key), (RPC_PREFIX, self._require_rpc_secret)):
            for path, handler, methods in table:
                routes.append(Route(prefix + path, self._guarded(guard, handler), methods=methods))
        routes.append(Route(RPC_ROOT + "/{rest:path}", self._rpc_elsewhere, methods=ALL_METHODS))
        return routes

    def _guarded(self, guard, handler):
        async def endpoint(request: Request) -> Response:
            refusal = guard(request)
            if refusal is not None:
                return refusal
            try:
                return await handler(request)
            except EngineError as exc:
                return error_response(ERROR_STATUS.get(type(exc), 400), str(exc))
            except ValueError as exc:  # malformed parameters and bodies (json errors included)
                return error_response(400, str(exc))

        return endpoint

    def _require_key(self, request: Request) -> Response | None:
        keys = self.settings.keys
        if key_matches(presented_key(request.headers, request.query_params),
                       keys["durabletask_extension"], keys["master"]):
            return None
        return Response("Unauthorized: send the durabletask_extension key in x-functions-key or ?code=",
                        status_code=401)

    def _rpc_secret_matches(self, presented: str | None) -> bool:
        return key_matches(presented, self.settings.keys[RPC_SECRET])

    def _require_rpc_secret(self, request: Request) -> Response | None:
        """The rpc base needs no key but its secret segment, local callers and JSON bodies (issue 8 item 1)."""
        if not self._rpc_secret_matches(request.path_params.get("rpc_secret")):
            return error_response(401, RPC_REFUSAL)
        if not _is_local(request, self.settings.host):
            return Response("The rpc endpoint only accepts callers on the host's own address", status_code=403)
        refusal = content_type_refusal(request.method, request.headers)
        if refusal is not None:
            return error_response(refusal.status, refusal.message)
        return None

    async def _rpc_elsewhere(self, request: Request) -> Response:
        """Any other /durabletask/ path: 404 under the right secret, else the 401 that says where to go."""
        secret = request.path_params["rest"].split("/", 1)[0]
        if self._rpc_secret_matches(secret):
            return error_response(404, "Not Found: no such route of the Durable management API")
        return error_response(401, RPC_REFUSAL)

    async def _body_json(self, request: Request) -> Any:
        """The JSON body (None when empty): PayloadTooLarge over the engine's limit, ValueError when malformed."""
        limit = self.engine.config.max_payload_bytes
        body = await read_limited_body(request, limit)
        if body is None:
            raise PayloadTooLarge(f"The request body is over the local host's limit of {limit} bytes")
        return parse_json(body) if body.strip() else None

    def management_links(self, request: Request, instance_id: str) -> dict[str, str]:
        urls = self.settings.durable_client_binding()["managementUrls"]
        origin = f"{request.url.scheme}://{request.url.netloc}"
        links = {"id": instance_id}
        for key, template in urls.items():
            if key == "id":
                continue
            url = template.replace("INSTANCEID", quote(instance_id, safe=""))
            links[key] = url.replace(self.settings.public_base, origin, 1)
        return links

    def check_status_response(self, request: Request, instance_id: str) -> JSONResponse:
        links = self.management_links(request, instance_id)
        return JSONResponse(links, status_code=202,
                            headers={"Location": links["statusQueryGetUri"], "Retry-After": "10"})

    # ---- handlers ------------------------------------------------------------------------------
    async def start(self, request: Request) -> Response:
        """Start an orchestration; with `timeout`, wait up to that many seconds for it to finish.

        Every parameter and the body are validated before anything is created (issue 8 item 8):
        a request answered 400 leaves no job behind.
        """
        params = request.query_params
        timeout = seconds_param(params, "timeout")
        interval = max(MIN_POLLING_SECONDS, seconds_param(params, "pollingInterval") or DEFAULT_POLLING_SECONDS)
        input_value = await self._body_json(request)
        name = request.path_params["function_name"]
        instance_id = await self.engine.start_new(name, request.path_params.get("instance_id"), input_value,
                                                  replace_terminal=True)
        if timeout:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                row = await self.engine.get_instance(instance_id)
                if row is not None and row.is_terminal:
                    return self._finished_response(row)
                await self.engine.wait_for_change(instance_id, min(interval, max(0.0, deadline - time.monotonic())))
        return self.check_status_response(request, instance_id)

    def _finished_response(self, row: InstanceRow) -> Response:
        if row.status is RuntimeStatus.COMPLETED:
            return Response(row.output or "null", status_code=200, media_type="application/json")
        return JSONResponse(status_payload(row), status_code=500 if row.status is RuntimeStatus.FAILED else 200)

    async def get_status(self, request: Request) -> Response:
        instance_id = request.path_params["instance_id"]
        row = await self.engine.get_instance(instance_id)
        if row is None:
            return Response(status_code=404)
        params = request.query_params
        history = None
        show_input = _truthy(params.get("showInput"), True)
        if _truthy(params.get("showHistory")) and row.status is not RuntimeStatus.PENDING:
            history = management_history(await self.engine.get_history(instance_id), show_input,
                                         _truthy(params.get("showHistoryOutput")))
        payload = status_payload(row, show_input, history)
        if row.status in LIVE_STATUSES:
            location = str(request.url)
            return JSONResponse(payload, status_code=202, headers={"Location": location, "Retry-After": "5"})
        if row.status is RuntimeStatus.FAILED and _truthy(params.get("returnInternalServerErrorOnFailure")):
            return JSONResponse(payload, status_code=500)
        return JSONResponse(payload, status_code=200)

    async def list_instances(self, request: Request) -> Response:
        params = request.query_params
        statuses = _statuses(params.get("runtimeStatus"))
        top = _top(params.get("top"))
        after = _decode_token(request.headers.get("x-ms-continuation-token"))
        rows = await self.engine.query_instances(
            statuses, parse_time(params.get("createdTimeFrom"), "createdTimeFrom"),
            parse_time(params.get("createdTimeTo"), "createdTimeTo"),
            params.get("instanceIdPrefix"), after, top + 1)
        headers = {}
        if len(rows) > top:
            rows = rows[:top]
            headers["x-ms-continuation-token"] = _encode_token(rows[-1])
        show_input = _truthy(params.get("showInput"), False)
        return JSONResponse([status_payload(r, show_input) for r in rows], headers=headers)

    async def purge(self, request: Request) -> Response:
        deleted = await self.engine.purge(request.path_params["instance_id"])
        if not deleted:
            return Response(status_code=404)
        return JSONResponse({"instancesDeleted": deleted})

    async def purge_by_filter(self, request: Request) -> Response:
        params = request.query_params
        statuses = _statuses(params.get("runtimeStatus"))
        created_from = parse_time(params.get("createdTimeFrom"), "createdTimeFrom")
        if created_from is None:
            raise ValueError("createdTimeFrom is required to purge by filter")
        created_to = parse_time(params.get("createdTimeTo"), "createdTimeTo")
        deleted = await self.engine.purge_by(statuses, created_from, created_to)
        if not deleted:
            return Response(status_code=404)
        return JSONResponse({"instancesDeleted": deleted})

    async def raise_event(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type:
            return error_response(400, "Only application/json request content is supported")
        value = await self._body_json(request)
        await self.engine.raise_event(request.path_params["instance_id"], request.path_params["event_name"], value)
        return Response(status_code=202)

    async def terminate(self, request: Request) -> Response:
        await self.engine.terminate(request.path_params["instance_id"], request.query_params.get("reason"))
        return Response(status_code=202)

    async def suspend(self, request: Request) -> Response:
        await self.engine.suspend(request.path_params["instance_id"], request.query_params.get("reason"))
        return Response(status_code=202)

    async def resume(self, request: Request) -> Response:
        await self.engine.resume(request.path_params["instance_id"], request.query_params.get("reason"))
        return Response(status_code=202)

    async def rewind(self, request: Request) -> Response:
        await self.engine.rewind(request.path_params["instance_id"], request.query_params.get("reason"))
        return Response(status_code=202)

    async def restart(self, request: Request) -> Response:
        new_id = _strict_bool(request.query_params, "restartWithNewInstanceId", True)
        instance_id = await self.engine.restart(request.path_params["instance_id"], new_id)
        return self.check_status_response(request, instance_id)

    async def entities(self, request: Request) -> Response:
        return error_response(501, "Durable entities are not supported by the local host")


def _encode_token(row: InstanceRow) -> str:
    return json.dumps([row.created_at, row.instance_id])


def _statuses(text: str | None) -> list[str]:
    """`runtimeStatus=Running,Completed`: each one of Azure's OrchestrationRuntimeStatus names."""
    statuses = [s.strip() for s in (text or "").split(",") if s.strip()]
    unknown = [s for s in statuses if s not in RUNTIME_STATUSES]
    if unknown:
        raise ValueError(f"Unknown runtimeStatus '{bounded(unknown[0], 40)}': use {', '.join(RUNTIME_STATUSES)}")
    return statuses


def _strict_bool(params: Mapping[str, str], name: str, default: bool) -> bool:
    """A flag that changes what a request does: `true` or `false` (any case), like .NET's bool.Parse."""
    text = params.get(name)
    if text is None or text == "":
        return default
    if text.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be true or false, got '{bounded(text, 40)}'")
    return text.lower() == "true"


def _decode_token(token: str | None) -> tuple[float, str] | None:
    """Our continuation token: JSON `[created_at, instance_id]` of the last row of the previous page."""
    if not token:
        return None
    try:
        value = parse_json(token)
    except MalformedJson:
        value = None
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
            and not isinstance(value[0], bool) and math.isfinite(value[0]) and isinstance(value[1], str)):
        return float(value[0]), value[1]
    raise ValueError("Malformed x-ms-continuation-token: send the one the previous page returned, unchanged")


def _top(text: str | None) -> int:
    """`top`: a page size from 1 to 2^31-1 (Azure parses it as a 32-bit int); default 100."""
    if not text:
        return DEFAULT_PAGE_SIZE
    try:
        top = int(text)
    except ValueError:
        top = 0
    if not 1 <= top <= MAX_INT32:
        raise ValueError(f"top must be a whole number from 1 to {MAX_INT32}, got '{bounded(text, 40)}'")
    return top


def seconds_param(params: Mapping[str, str], name: str) -> float | None:
    """A query parameter in seconds: None when absent, else a finite number >= 0 (ValueError otherwise)."""
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a number of seconds (0 or more), got '{bounded(text, 40)}'")
    return value
