"""OpenTelemetry traces of jobs (issue 19 §3), received by a real OTLP/HTTP receiver the test starts
(testing/otlp_receiver.py): one trace per job, a span per orchestration, agent step, model call and tool
call, GenAI semantic-convention attributes, no key in anything exported."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from host.durable.events import EventType, to_sdk_event
from orchestrations.tracing import export
from orchestrations.tracing.spans import orchestration_ended, span_id_of, step_failed, trace_id_of
from testing.host_process import TEST_KEYS, project_host
from testing.mcp_client import call, connect, wait_until
from testing.otlp_receiver import OtlpReceiver
from testing.swarm_turns import PASSING, compute_and_write, done, plan_turn

AGENT = "fake-model"


@pytest.fixture(scope="module")
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_host(tmp_path_factory, model, site, receiver):
    process = project_host(tmp_path_factory.mktemp("traced"), model, site, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
                           OTEL_BSP_SCHEDULE_DELAY="100", OTEL_SERVICE_NAME="agent-jobs-under-test").start()
    yield process
    process.stop()


START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def event(kind: EventType, event_id: int, second: int, **fields) -> object:
    return to_sdk_event({"EventType": int(kind), "EventId": event_id, "IsPlayed": False,
                         "Timestamp": (START + timedelta(seconds=second)).isoformat(), **fields})


def model_result(tokens: int) -> str:
    return json.dumps(json.dumps({"output": [], "usage_record": {"model": "m", "input_tokens": tokens,
                                                                 "output_tokens": 1}}))


class Context:
    def __init__(self, instance_id: str, history: list, now: int):
        self.instance_id, self.histories = instance_id, history
        self.current_utc_datetime = START + timedelta(seconds=now)


@pytest.fixture
def exported(monkeypatch):
    """The app's tracer, exporting to memory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(id_generator=export.IDS)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(export, "TRACER", provider.get_tracer("test"))
    return memory


def test_a_step_that_failed_and_was_retried_is_a_failure_span_and_its_own_span_each_once(exported):
    """An agent step fails at its 2nd model call: its code does not see it (the SDK's wrapper ends it), its
    parent does and exports the failure (once: not again when the parent replays). retry_job rewinds the step
    (the local host removes the failure and marks the history "rewind"), the 2nd call is made again and the
    step completes: its span has both calls."""
    step = "job1:agent-1234abcd"
    parent = Context("job1", [], 3)
    parent.is_replaying = False
    step_failed(parent, step, "writer", START + timedelta(seconds=1), RuntimeError("model request failed: HTTP 400"))
    parent.is_replaying = True
    step_failed(parent, step, "writer", START + timedelta(seconds=1), RuntimeError("model request failed: HTTP 400"))
    history = [event(EventType.OrchestratorStarted, -1, 1), event(EventType.ExecutionStarted, -1, 1, Name="agent_step"),
               event(EventType.TaskCompleted, -1, 2, TaskScheduledId=0, Result=model_result(10)),
               event(EventType.GenericEvent, -1, 10, Data="rewind: retried by the user"),
               event(EventType.TaskCompleted, -1, 12, TaskScheduledId=1, Result=model_result(20))]
    orchestration_ended(Context(step, history, 12), "agent_step", agent="writer", calls=["run_model", "run_model"])
    spans = exported.get_finished_spans()
    assert [(span.name, span.status.status_code.name) for span in spans] == [
        ("invoke_agent writer", "ERROR"), ("invoke_agent writer", "UNSET"), ("chat m", "UNSET"), ("chat m", "UNSET")]
    failure, final, *calls = spans
    assert len({span.context.span_id for span in spans}) == 4  # nothing exported twice
    assert failure.parent.span_id == final.parent.span_id == span_id_of("job1", "0")
    assert [call.parent.span_id for call in calls] == [final.context.span_id] * 2
    assert [call.attributes["gen_ai.usage.input_tokens"] for call in calls] == [10, 20]
    assert calls[1].start_time == int((START + timedelta(seconds=2)).timestamp() * 1e9)  # no TaskScheduled: the call before's end
    assert {span.context.trace_id for span in spans} == {trace_id_of("job1")}


def tree(spans: list[dict]) -> dict:
    """{span name: [child span names, sorted]} over one trace, and every parent present."""
    by_id = {span["span_id"]: span for span in spans}
    children: dict[str, list[str]] = {span["name"]: [] for span in spans}
    for span in spans:
        if span["parent_span_id"]:
            assert span["parent_span_id"] in by_id, f"{span['name']} has a parent that was not received"
            children[by_id[span["parent_span_id"]]["name"]].append(span["name"])
    return {name: sorted(names) for name, names in children.items()}


def no_keys(spans: list[dict]) -> None:
    text = repr(spans)
    for key in TEST_KEYS.values():
        assert key not in text
    assert "test-key" not in text and "?code=" not in text and "/durabletask/" not in text


async def test_an_agent_job_is_one_trace_of_its_agent_model_and_tool_calls(traced_host, model, receiver):
    model.reset()
    model.script({AGENT: [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+3"}}]},
                          lambda request: {"text": f"The answer is {request.tool_outputs()[-1]}."}]})
    async with connect(traced_host) as client:
        job = await call(client, "run_agent", task="Compute 2+3", tools=["calculate"])
        done = await wait_until(client, job["job_id"])
    trace = f"{trace_id_of(job['job_id']):032x}"
    spans = receiver.wait_for(lambda spans: len([s for s in spans if s["trace_id"] == trace]) >= 5)
    spans = receiver.spans(trace)
    assert tree(spans) == {"invoke_workflow run_agent": ["invoke_agent assistant"],
                           "invoke_agent assistant": ["chat fake-model", "chat fake-model", "execute_tool calculate"],
                           "chat fake-model": [], "execute_tool calculate": []}
    root = next(span for span in spans if span["parent_span_id"] is None)
    assert root["attributes"]["job.id"] == job["job_id"] and root["attributes"]["job.workflow"] == "run_agent"
    assert root["resource"]["service.name"] == "agent-jobs-under-test"
    calls = [span for span in spans if span["name"] == "chat fake-model"]
    served = model.stats().usage(AGENT)
    assert all(span["attributes"]["gen_ai.operation.name"] == "chat" and span["kind"] == "client" for span in calls)
    assert sum(span["attributes"]["gen_ai.usage.input_tokens"] for span in calls) == served["input_tokens"]
    assert sum(span["attributes"]["gen_ai.usage.cache_read.input_tokens"] for span in calls) == served["cached_tokens"]
    assert root["attributes"]["gen_ai.usage.output_tokens"] == served["output_tokens"] == done["usage"]["output_tokens"]
    tool = next(span for span in spans if span["name"] == "execute_tool calculate")
    assert tool["attributes"]["gen_ai.tool.name"] == "calculate" and tool["attributes"]["job.id"] == job["job_id"]
    assert all(span["start"] <= span["end"] for span in spans)
    no_keys(spans)


def shape(spans: list[dict], parent: str | None = None) -> list:
    """The span tree as nested [name, children] lists, children sorted, from the root(s) down."""
    return sorted([[span["name"], shape(spans, span["span_id"])] for span in spans
                   if span["parent_span_id"] == parent], key=repr)


async def test_a_swarm_is_one_trace_of_its_workers_agents_and_calls(traced_host, model, receiver):
    model.reset()
    model.script(compute_and_write([
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        lambda request: done(request.tool_outputs()[-1])]))
    async with connect(traced_host) as client:
        job = await call(client, "run_swarm", goal="Compute and write")
        finished = await wait_until(client, job["job_id"])
    assert finished["status"] == "completed", finished
    trace = f"{trace_id_of(job['job_id']):032x}"
    receiver.wait_for(lambda spans: any(s["trace_id"] == trace and s["parent_span_id"] is None for s in spans)
                      and len([s for s in spans if s["trace_id"] == trace]) >= 12)
    spans = receiver.spans(trace)
    chat = ["chat fake-model", []]
    assert shape(spans) == [["invoke_workflow run_swarm", sorted([
        ["invoke_agent swarm-planner", [chat]],
        ["invoke_workflow swarm_worker", [["invoke_agent swarm-worker-1", [chat, chat, ["execute_tool calculate", []]]]]],
        ["invoke_workflow swarm_worker", [["invoke_agent swarm-worker-2", [chat]]]],
        ["invoke_agent swarm-judge", [chat]]], key=repr)]]
    root = next(span for span in spans if span["parent_span_id"] is None)
    assert root["attributes"]["job.workflow"] == "run_swarm"
    assert root["attributes"]["gen_ai.usage.input_tokens"] == model.stats().usage()["input_tokens"]
    assert {span["attributes"]["job.id"] for span in spans} == {job["job_id"]}
    no_keys(spans)


async def test_a_retried_job_has_its_failed_run_and_its_retry_in_one_trace(traced_host, model, receiver):
    model.reset()
    model.script({
        "swarm-planner": [plan_turn([{"id": 1, "title": "Write", "instructions": "Write a line."}])],
        "swarm-worker-1": [done("a line")],
        "swarm-judge": [PASSING],
    })
    model.fail_next("swarm-planner", 400, message="the planner is broken")
    async with connect(traced_host) as client:
        job = await call(client, "run_swarm", goal="Write a line")
        failed = await wait_until(client, job["job_id"])
        assert failed["status"] == "failed" and "the planner is broken" in failed["error"], failed
        await call(client, "retry_job", job_id=job["job_id"])
        finished = await wait_until(client, job["job_id"])
    assert finished["status"] == "completed", finished
    trace = f"{trace_id_of(job['job_id']):032x}"
    receiver.wait_for(lambda spans: any(s["trace_id"] == trace and s["name"] == "invoke_workflow run_swarm (retry 1)"
                                        for s in spans))
    spans = receiver.spans(trace)
    chat = ["chat fake-model", []]
    assert shape(spans) == [["invoke_workflow run_swarm", sorted([
        ["invoke_agent swarm-planner", []],  # its failure, as the job saw it
        ["invoke_agent swarm-planner", [chat]],  # its retry, to its end
        ["invoke_workflow swarm_worker", [["invoke_agent swarm-worker-1", [chat]]]],
        ["invoke_agent swarm-judge", [chat]],
        ["invoke_workflow run_swarm (retry 1)", []]], key=repr)]]
    status = {(span["name"], bool(span["status"] == "error")) for span in spans}
    assert ("invoke_workflow run_swarm", True) in status and ("invoke_agent swarm-planner", True) in status
    assert ("invoke_workflow run_swarm (retry 1)", False) in status and ("invoke_agent swarm-planner", False) in status
    failure = next(span for span in spans if span["name"] == "invoke_agent swarm-planner" and span["status"] == "error")
    assert "the planner is broken" in failure["status_message"]
    assert len({span["span_id"] for span in spans}) == len(spans)  # no span twice
