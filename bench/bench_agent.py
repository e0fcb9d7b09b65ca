"""Benchmark: durable overhead per agent turn, and the `get_job` round trip over MCP.

The project's app runs on the real local host (subprocess); the model is the scripted fake server
with zero latency, so what is left is our cost: an agent of 20 turns (19 `calculate` tool calls,
then an answer) runs durably, and the same agent runs plainly (`Runner.run`, no durability) in
this process against the same server. Overhead per turn = (durable - plain) / 20. Then
`get_job` is called sequentially over Streamable HTTP with the official MCP client.

    python -m bench.bench_agent [--runs 3] [--calls 300]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import datetime
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

from testing.fake_model_server import FakeModelServer
from testing.host_process import PROJECT_ROOT, HostProcess

from .figures import percentile, spread

TURNS = 20
MODEL = "bench-model"


def script() -> dict:
    calls = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{i}+1"}}]}
             for i in range(TURNS - 1)]
    return {MODEL: calls + [{"text": "done"}]}


def history_seconds(host: HostProcess, job_id: str) -> float:
    """Start to end of the job as the history records it (independent of how often we poll)."""
    response = httpx.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{job_id}",
                         params={"showHistory": "true", "code": host.durable_key})
    events = response.json()["historyEvents"]
    stamps = [datetime.fromisoformat(e["Timestamp"].replace("Z", "+00:00")) for e in events]  # "Z": 3.11+ only
    return (max(stamps) - min(stamps)).total_seconds()


async def durable_run(client: Client, model: FakeModelServer, host: HostProcess) -> float:
    model.reset()
    model.script(script())
    result = await client.call_tool("run_agent", {"task": "count", "tools": ["calculate"]})
    job_id = json.loads(result.content[0].text)["job_id"]
    while True:
        result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_seconds": 30})
        job = json.loads(result.content[0].text)
        if job["status"] in ("completed", "failed", "canceled"):
            break
    assert job["status"] == "completed" and job["output"]["model_calls"] == TURNS, job
    return history_seconds(host, job_id)


async def plain_run(model: FakeModelServer) -> float:
    model.reset()
    model.script(script())

    @function_tool
    def calculate(expression: str) -> str:
        """Evaluate an arithmetic expression."""
        left, right = expression.split("+")
        return str(int(left) + int(right))

    client = AsyncOpenAI(base_url=model.base_url, api_key="bench", max_retries=0)
    agent = Agent(name="plain", instructions="count", tools=[calculate],
                  model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client))
    start = time.perf_counter()
    result = await Runner.run(agent, "count", max_turns=TURNS + 2)
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


async def main(runs: int, calls: int) -> None:
    set_tracing_disabled(True)
    with FakeModelServer() as model, tempfile.TemporaryDirectory() as state:
        host = HostProcess(PROJECT_ROOT, Path(state), env={
            "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "bench", "OPENAI_DEFAULT_MODEL": MODEL,
            "OPENAI_API_MODE": "chat_completions"}).start()
        try:
            url = f"{host.base_url}/runtime/webhooks/mcp"
            async with httpx2.AsyncClient(headers={"x-functions-key": host.mcp_key}, timeout=60) as http:
                async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                    await durable_run(client, model, host)  # warm-up: imports, first sessions
                    durable = [await durable_run(client, model, host) for _ in range(runs)]
                    plain = [await plain_run(model) for _ in range(runs)]
                    listed = json.loads((await client.call_tool("list_jobs", {"limit": 1})).content[0].text)
                    job_id = listed["jobs"][0]["job_id"]
                    await get_job_latencies(client, job_id, 50)
                    latencies = await get_job_latencies(client, job_id, calls)
        finally:
            host.stop()
    per_turn = [(d - p) / TURNS * 1000 for d, p in zip(sorted(durable), sorted(plain))]
    print(f"durable {TURNS}-turn agent: {spread([d * 1000 for d in durable], 'ms', 1)}; "
          f"plain (no durability): {spread([p * 1000 for p in plain], 'ms', 1)}")
    print(f"durable overhead per agent turn: {spread(per_turn, 'ms', 1)}  [target <= 10 ms]")
    print(f"get_job over MCP (Streamable HTTP, {calls} sequential calls): p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms  [target p50 <= 3 ms]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.calls))
