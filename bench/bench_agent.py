"""Benchmark: durable overhead per agent turn at 5 and 50 turns, in each replay mode of the host, and the
`get_job` round trip over MCP.

The project's app runs on the real local host (subprocess); the model is the scripted fake server with
zero latency, so what is left is our cost. An agent of N turns (N - 1 `calculate` tool calls, then an
answer) runs durably (`run_agent_workflow`, started through the management API so that it may take 50
turns), and the same agent runs plainly (`Runner.run`, no durability) in this process against the same
server, in the same run. Overhead per turn = (durable - plain) / N, from the job's history timestamps;
the ratio durable / plain is printed beside it, and the disk's SQLite commit rate beside each figure.
This is done on a host of each `--replay` mode: `kept` (the agent stays alive between episodes) and `azure`
(every episode replays the agent from the start, as Azure's Python worker does: turn n re-runs the n - 1
before it). Then `get_job` is called sequentially over Streamable HTTP with the official MCP client. Last, what
recording usage adds to a model call (issue 19), in CPU time and in this process: the activity's side (the usage
record added to the answer) and the orchestrator's (the record read back, the ledger, the custom status with
it), on a real answer of the scripted server, so the figure does not move with the machine's load as the
end-to-end ones do. And what tracing adds to a model call (issue 19 §3), in CPU time in this process: an agent
step's spans made from its history as it ends (`orchestration_ended`: the step's span and one per call) and
sent by the OTLP/HTTP exporter's batch processor to a receiver in another process (`testing/otlp_receiver.py`).

    python -m bench.bench_agent [--runs 3] [--calls 300] [--replay kept azure]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx
import httpx2
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from openai import AsyncOpenAI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from host.durable.events import EventType, parse_timestamp, to_sdk_event
from orchestrations.tracing import export
from orchestrations.tracing.spans import orchestration_ended
from orchestrations.usage.ledger import Ledger, record_of, with_usage_record
from testing.fake_model_server import FakeModelServer
from testing.host_process import PROJECT_ROOT, HostProcess

from .figures import percentile, spread, sqlite_commit_rate, with_disk

TURNS = (5, 50)
MODEL = "bench-model"


def script(turns: int) -> dict:
    calls = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{i}+1"}}]}
             for i in range(turns - 1)]
    return {MODEL: calls + [{"text": "done"}]}


def history_seconds(host: HostProcess, job_id: str) -> float:
    """Start to end of the job as the history records it (independent of how often we poll)."""
    response = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{job_id}",
                         params={"showHistory": "true", "code": host.durable_key})
    stamps = [parse_timestamp(e["Timestamp"]) for e in response.json()["historyEvents"]]
    return (max(stamps) - min(stamps)).total_seconds()


async def durable_run(http: httpx.AsyncClient, model: FakeModelServer, host: HostProcess, turns: int) -> float:
    model.reset()
    model.script(script(turns))
    base = f"{host.base_url}/runtime/webhooks/durabletask"
    spec = {"task": "count", "tools": ["calculate"], "max_turns": turns + 5}
    started = await http.post(f"{base}/orchestrators/run_agent_workflow", json=spec)
    job_id = started.json()["id"]
    while True:
        status = (await http.get(f"{base}/instances/{job_id}")).json()
        if status["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
            break
        await asyncio.sleep(0.05)
    output = json.loads(status["output"]) if isinstance(status["output"], str) else status["output"]
    assert status["runtimeStatus"] == "Completed" and output["model_calls"] == turns, status
    return history_seconds(host, job_id)


async def plain_run(model: FakeModelServer, turns: int) -> float:
    model.reset()
    model.script(script(turns))

    @function_tool
    def calculate(expression: str) -> str:
        """Evaluate an arithmetic expression."""
        left, right = expression.split("+")
        return str(int(left) + int(right))

    client = AsyncOpenAI(base_url=model.base_url, api_key="bench", max_retries=0)
    agent = Agent(name="plain", instructions="count", tools=[calculate],
                  model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client))
    start = time.perf_counter()
    result = await Runner.run(agent, "count", max_turns=turns + 2)
    elapsed = time.perf_counter() - start
    assert result.final_output == "done"
    return elapsed


async def get_job_latencies(client: Client, job_id: str, calls: int) -> list[float]:
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        result = await client.call_tool("get_job", {"job_id": job_id})
        latencies.append((time.perf_counter() - start) * 1000)
        assert not result.is_error
    return sorted(latencies)


async def agent_runs(model: FakeModelServer, state: Path, replay: str, runs: int) -> dict[int, list[tuple]]:
    """(durable seconds, plain seconds, commits/s) of each run, by turns, on a host of this replay mode."""
    figures: dict[int, list[tuple]] = {turns: [] for turns in TURNS}
    host = HostProcess(PROJECT_ROOT, state, replay=replay, env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "bench", "OPENAI_DEFAULT_MODEL": MODEL,
        "OPENAI_API_MODE": "chat_completions"}).start()
    try:
        async with httpx.AsyncClient(headers={"x-functions-key": host.durable_key}, timeout=120) as http:
            await durable_run(http, model, host, TURNS[0])  # warm-up: imports, first sessions, clients
            await plain_run(model, TURNS[0])
            for _ in range(runs):
                for turns in TURNS:
                    rate = sqlite_commit_rate(state)
                    figures[turns].append((await durable_run(http, model, host, turns),
                                           await plain_run(model, turns), rate))
    finally:
        host.stop()
    return figures


async def get_job_figures(model: FakeModelServer, state: Path, calls: int) -> list[float]:
    """Latencies (ms, sorted) of `calls` sequential get_job calls over MCP, for a finished agent job."""
    host = HostProcess(PROJECT_ROOT, state, env={
        "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "bench", "OPENAI_DEFAULT_MODEL": MODEL,
        "OPENAI_API_MODE": "chat_completions"}).start()
    try:
        async with httpx.AsyncClient(headers={"x-functions-key": host.durable_key}, timeout=60) as http:
            await durable_run(http, model, host, TURNS[0])
            job_id = (await http.get(f"{host.base_url}/runtime/webhooks/durabletask/instances",
                                     params={"top": 1})).json()[0]["instanceId"]
        url = f"{host.base_url}/runtime/webhooks/mcp"
        async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                await get_job_latencies(client, job_id, 50)
                return await get_job_latencies(client, job_id, calls)
    finally:
        host.stop()


def print_agent_figures(replay: str, figures: dict[int, list[tuple]]) -> None:
    per_turn: dict[int, list[float]] = {}
    for turns in TURNS:
        durable, plain, rates = (list(column) for column in zip(*figures[turns]))
        per_turn[turns] = [(d - p) / turns * 1000 for d, p in zip(durable, plain)]
        ratio = [d / p for d, p in zip(durable, plain)]
        print(with_disk(
            f"--replay {replay}, {turns}-turn agent: durable {spread([d * 1000 for d in durable], 'ms', 1)}, plain "
            f"Runner.run {spread([p * 1000 for p in plain], 'ms', 1)}, durable / plain {spread(ratio, '', 2)}; "
            f"overhead per turn {spread(per_turn[turns], 'ms', 1)} [target <= 10 ms]", rates))
    flatness = [long / short for long, short in zip(per_turn[TURNS[1]], per_turn[TURNS[0]])]
    print(f"--replay {replay}, per-turn overhead at {TURNS[1]} turns / at {TURNS[0]} turns: {spread(flatness, '', 2)} "
          f"[target <= 1.5]")


class StepContext:
    """What `orchestration_ended` reads of an orchestration context: its id, history and clock."""

    def __init__(self, instance_id: str, history: list, now: datetime):
        self.instance_id, self.histories, self.current_utc_datetime = instance_id, history, now


def agent_step_history(calls: int) -> tuple[list, datetime]:
    """The history of an agent step that made `calls` model calls (each with its usage record), and its end."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def event(kind: EventType, event_id: int, second: int, **fields: object) -> object:
        return to_sdk_event({"EventType": int(kind), "EventId": event_id, "IsPlayed": False,
                             "Timestamp": (start + timedelta(seconds=second)).isoformat(), **fields})

    result = json.dumps(json.dumps({"output": [], "usage_record": {"model": MODEL, "input_tokens": 1200,
                                                                   "cached_tokens": 300, "output_tokens": 80}}))
    history = [event(EventType.ExecutionStarted, -1, 0, Name="agent_step")]
    for number in range(calls):
        history += [event(EventType.TaskScheduled, number, 2 * number, Name="run_model", Input="{}"),
                    event(EventType.TaskCompleted, -1, 2 * number + 1, TaskScheduledId=number, Result=result)]
    return history, start + timedelta(seconds=2 * calls)


def tracing_microseconds(receiver_url: str, calls: int = 20, repeats: int = 100) -> float:
    """CPU time per model call of tracing an agent step, in microseconds (see the module docstring)."""
    provider = TracerProvider(id_generator=export.IDS)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver_url}/v1/traces")))
    history, ended = agent_step_history(calls)
    saved, export.TRACER = export.TRACER, provider.get_tracer("bench")
    try:
        start = time.process_time()
        for number in range(repeats):
            orchestration_ended(StepContext(f"bench{number}:agent-0000", history, ended), "agent_step",
                                agent="assistant", calls=["run_model"] * calls)
        provider.force_flush()
        return (time.process_time() - start) / (repeats * calls) * 1e6
    finally:
        export.TRACER = saved
        provider.shutdown()


@contextlib.contextmanager
def otlp_receiver_process() -> Iterator[str]:
    """The OTLP receiver in a process of its own (its decoding is not this process's CPU time); its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "testing.otlp_receiver", "--port", str(port)], cwd=PROJECT_ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{url}/v1/traces", content=b"", headers={"content-type": "application/x-protobuf"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def usage_recording_microseconds(model: FakeModelServer, repeats: int = 2000) -> float:
    """CPU time per model call of recording its usage, in microseconds (see the module docstring)."""
    model.reset()
    model.script(script(2))
    answer = httpx.post(f"{model.base_url}/chat/completions", json={
        "model": MODEL, "messages": [{"role": "user", "content": "count " * 200}]}).json()
    response = json.dumps({"output": [{"type": "message", "content": answer["choices"][0]["message"]["content"]}],
                           "usage": {"requests": 1, "input_tokens": answer["usage"]["prompt_tokens"],
                                     "output_tokens": answer["usage"]["completion_tokens"],
                                     "input_tokens_details": {"cached_tokens": 12},
                                     "output_tokens_details": {"reasoning_tokens": 0}}, "response_id": None})
    ledger = Ledger()
    start = time.process_time()
    for _ in range(repeats):
        recorded = with_usage_record(response, MODEL)  # run_model
        ledger.add_call("assistant", record_of(json.loads(json.dumps(recorded))))  # the orchestrator reads it back
        json.dumps({"progress": {"stage": "running", "message": "model call 3"}, "usage": ledger.usage()})
    return (time.process_time() - start) / repeats * 1e6


async def main(runs: int, calls: int, modes: list[str]) -> None:
    set_tracing_disabled(True)
    with FakeModelServer() as model, tempfile.TemporaryDirectory() as scratch:
        for replay in modes:
            print_agent_figures(replay, await agent_runs(model, Path(scratch) / replay, replay, runs))
        latencies = await get_job_figures(model, Path(scratch) / "get_job", calls)
        recording = [usage_recording_microseconds(model) for _ in range(max(runs, 3))]
    with otlp_receiver_process() as receiver:
        tracing = [tracing_microseconds(receiver) for _ in range(max(runs, 3))]
    print(f"get_job over MCP (Streamable HTTP, {calls} sequential calls): p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms  [target p50 <= 3 ms]")
    print(f"recording usage per model call (CPU, in process): {spread(recording, 'µs', 1)}")
    print(f"tracing per model call (CPU, in process, spans made and exported by OTLP/HTTP): {spread(tracing, 'µs', 1)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--replay", nargs="+", choices=("kept", "azure"), default=["kept", "azure"],
                        help="the host's replay modes to measure the agent in (default: both)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.calls, args.replay))
