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
end-to-end ones do.

    python -m bench.bench_agent [--runs 3] [--calls 300] [--replay kept azure]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

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

from host.durable.events import parse_timestamp
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
    print(f"get_job over MCP (Streamable HTTP, {calls} sequential calls): p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms  [target p50 <= 3 ms]")
    print(f"recording usage per model call (CPU, in process): {spread(recording, 'µs', 1)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--replay", nargs="+", choices=("kept", "azure"), default=["kept", "azure"],
                        help="the host's replay modes to measure the agent in (default: both)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.calls, args.replay))
