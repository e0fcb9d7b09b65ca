"""A small OTLP/HTTP trace receiver on a loopback port that records what it receives: the fake of an
OpenTelemetry collector (an outside service), for tests that check the spans the app exports.

    POST /v1/traces   ExportTraceServiceRequest, protobuf (`application/x-protobuf`, what the Python
                      exporter sends) or JSON (`application/json`); answers an empty ExportTraceServiceResponse
    GET  /spans       every span received so far, as JSON (what `spans()` returns), for other processes

Point the app at it with `OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.url>`. A span is recorded as
`{trace_id, span_id, parent_span_id, name, kind, start, end (unix ns), status, status_message,
attributes, resource}` with ids as hex text and attribute values as plain JSON values.

Run standalone: `python -m testing.otlp_receiver --port 4318`.
"""
from __future__ import annotations

import argparse
import threading
import time
from typing import Any, Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .background_server import BackgroundServer, listening_socket, uvicorn_server

PROTOBUF = "application/x-protobuf"
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def spans_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """The spans of one export request, flattened."""
    found = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append({
                    "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None, "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)), "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano, "status": STATUS.get(span.status.code, str(span.status.code)),
                    "status_message": span.status.message, "attributes": _attributes(span.attributes),
                    "resource": resource})
    return found


class OtlpReceiver(BackgroundServer):
    """The receiver in a background thread: `with OtlpReceiver() as receiver:`; `receiver.url` is the
    OTLP endpoint, `receiver.spans()` what it received, `receiver.requests` the raw request headers."""

    name = "OTLP receiver"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._spans: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        super().__init__(host, port)

    def app(self) -> Starlette:
        return create_app(self)

    def record(self, spans: list[dict[str, Any]], headers: dict[str, str]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self.requests.append(headers)

    def spans(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        """Every span received (of one trace), in arrival order."""
        with self._lock:
            return [span for span in self._spans if trace_id is None or span["trace_id"] == trace_id]

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.requests.clear()

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 60) -> list[dict[str, Any]]:
        """The spans once `check(spans)` holds; AssertionError with what arrived when it does not in time."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if check(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"the spans received did not satisfy the check: {[s['name'] for s in spans]}")
            time.sleep(0.1)


def create_app(receiver: OtlpReceiver) -> Starlette:
    async def traces(request: Request) -> Response:
        body = await request.body()
        message = ExportTraceServiceRequest()
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                json_format.Parse(body, message)
            else:
                message.ParseFromString(body)
        except Exception as error:  # a malformed export: 400, as a collector answers
            return JSONResponse({"error": f"not an ExportTraceServiceRequest: {error}"}, status_code=400)
        receiver.record(spans_of(message), dict(request.headers))
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    async def listed(request: Request) -> JSONResponse:
        return JSONResponse(receiver.spans())

    return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/spans", listed)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m testing.otlp_receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on the first line)")
    args = parser.parse_args()
    receiver = OtlpReceiver.__new__(OtlpReceiver)
    receiver._lock, receiver._spans, receiver.requests = threading.Lock(), [], []
    sock = listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"OTLP receiver listening on http://{host}:{port}", flush=True)
    uvicorn_server(create_app(receiver)).run(sockets=[sock])


if __name__ == "__main__":
    main()
