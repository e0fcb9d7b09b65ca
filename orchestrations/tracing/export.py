"""Where the app's traces go, chosen once when function_app.py is imported (`configure_tracing`):

- OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set;
  the exporter reads the other standard `OTEL_EXPORTER_OTLP_*` settings itself (headers, timeout, ...), and
  the batch processor `OTEL_BSP_*` (spans are sent every `OTEL_BSP_SCHEDULE_DELAY` ms, 5000 by default);
- Azure Monitor when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (the infrastructure sets it, with
  `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` for the managed identity, which the exporter reads), through
  the Azure Monitor OpenTelemetry distro with traces only: no log or metric export, no live metrics, and no
  automatic instrumentation of HTTP clients, whose spans would carry URLs with keys (the management API's
  `?code=`, the SDK client's rpc base with its secret); every span sampled;
- nowhere otherwise (the default locally), or when `OTEL_SDK_DISABLED` is `true` or `OTEL_TRACES_EXPORTER`
  is `none`.

Span and trace ids are chosen by the app (`spans.py` derives them from instance ids, so a job is one trace
across restarts and a replay makes the same ids): the provider's id generator hands out the ids set for the
span being started (`IDS.next`). `OTEL_SERVICE_NAME` names the service (default `durable-agent-jobs`).
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

log = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "durable-agent-jobs"
TRACER_NAME = "durable-agent-jobs"
# the distro's automatic instrumentations (azure/monitor/opentelemetry/_constants.py), all off
DISTRO_INSTRUMENTATIONS = ("azure_sdk", "django", "fastapi", "flask", "httpx", "httpx2", "psycopg2", "requests",
                           "urllib", "urllib3")


class AppIds(IdGenerator):
    """Ids the app chose for the span being started (`next`, per thread); random ones otherwise."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._random = RandomIdGenerator()

    def next(self, trace_id: int, span_id: int) -> None:
        self._local.ids = (trace_id, span_id)

    def generate_span_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[1] if ids else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[0] if ids else self._random.generate_trace_id()


IDS = AppIds()
TRACER: Any = None  # the app's tracer once traces go somewhere (`configure_tracing`)


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def configure_tracing() -> str:
    """Set up the exporters the settings ask for; returns what it did in words (for the start-up log line).
    Never raises: a broken setting is logged and traces stay off."""
    global TRACER
    if _env("OTEL_SDK_DISABLED").lower() == "true" or _env("OTEL_TRACES_EXPORTER").lower() == "none":
        return "traces: off (OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER)"
    otlp = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    azure = _env("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if not (otlp or azure):
        return "traces: off (set OTEL_EXPORTER_OTLP_ENDPOINT, or APPLICATIONINSIGHTS_CONNECTION_STRING on Azure)"
    try:
        provider = _azure_monitor_provider() if azure else _own_provider()
        if otlp:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        provider.id_generator = IDS
        TRACER = provider.get_tracer(TRACER_NAME)
    except Exception as error:  # a broken exporter setting must not stop the app; say so once
        log.error("traces: off, the exporter could not be set up: %s", error)
        return f"traces: off ({error})"
    where = [name for name, on in (("OTLP/HTTP", otlp), ("Azure Monitor", azure)) if on]
    log.info("traces: exported to %s", " and ".join(where))
    return f"traces: {' and '.join(where)}"


def _own_provider() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource

    return TracerProvider(resource=Resource.create({"service.name": _env("OTEL_SERVICE_NAME")
                                                    or DEFAULT_SERVICE_NAME}))


def _azure_monitor_provider() -> TracerProvider:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import trace

    configure_azure_monitor(disable_logging=True, disable_metrics=True, enable_live_metrics=False,
                            enable_performance_counters=False, sampling_ratio=1.0,
                            instrumentation_options={name: {"enabled": False} for name in DISTRO_INSTRUMENTATIONS})
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError("the Azure Monitor distro set no SDK tracer provider")
    return provider
