"""Benchmark: an MCP tool-call round trip on the local host next to the bare `mcp` SDK, same run.

Both servers run in their own subprocess on loopback: the local host serving
tests/apps/mcp_app (its `echo` tool, auth level System, so the key check is included) and the
SDK's own minimal server (`MCPServer` with an echo tool, stateless + JSON responses). Each call
is a stateless `tools/call` POST over Streamable HTTP whose result is checked. Measured
sequentially and with 32 concurrent clients (one httpx client per worker: a shared httpx
AsyncClient is itself the bottleneck at that concurrency). Runs alternate between the servers
to spread machine noise evenly; the report gives median and min-max over the runs.

    .venv/bin/python -m bench.bench_mcp [--runs 3] [--calls 2000] [--concurrency 32]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MCP_APP = PROJECT_ROOT / "tests" / "apps" / "mcp_app"
BENCH_KEY = "bench-mcp-key"
WARMUP_CALLS = 200

SDK_SERVER = """
import sys, uvicorn
from mcp.server.mcpserver import MCPServer
server = MCPServer("sdk-echo")

@server.tool()
def echo(text: str) -> str:
    return text

app = server.streamable_http_app(stateless_http=True, json_response=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    pid: int = 0


@dataclass
class Figures:
    calls_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_call: float


def cpu_seconds(pid: int) -> float:
    """User+system CPU time a process has used (Linux /proc): the server's cost, whatever the load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], ready_url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a server (output to `log`, never a pipe that could fill up) and wait until it answers."""
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited:\n{log.read_text(errors='replace')}")
        try:
            httpx.post(ready_url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def call_body(request_id: int, text: str) -> bytes:
    return (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"}}}'
            % (request_id, text.encode()))


async def one_call(client: httpx.AsyncClient, target: Target, request_id: int) -> float | None:
    """Seconds for one checked round trip, or None when it failed."""
    text = f"ping-{request_id}"
    started = time.perf_counter()
    try:
        response = await client.post(target.url, content=call_body(request_id, text), headers=target.headers)
        ok = response.status_code == 200 and response.json()["result"]["content"][0]["text"] == text
    except (httpx.HTTPError, KeyError, ValueError):
        ok = False
    return time.perf_counter() - started if ok else None


async def measure(target: Target, calls: int, concurrency: int) -> Figures:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(calls))

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(WARMUP_CALLS // concurrency + 1):
                await one_call(client, target, 0)
            await barrier.wait()
            for request_id in counter:
                latency = await one_call(client, target, request_id + 1)
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)

    barrier = asyncio.Barrier(concurrency + 1)
    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await barrier.wait()
    started, cpu_before = time.perf_counter(), cpu_seconds(target.pid)
    await asyncio.gather(*tasks)
    elapsed, cpu_used = time.perf_counter() - started, cpu_seconds(target.pid) - cpu_before
    latencies.sort()
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return Figures(len(latencies) / elapsed, quantile(0.50), quantile(0.99), errors, cpu_used * 1000 / calls)


def summary(values: list[float], unit: str, digits: int = 0) -> str:
    fmt = f"{{:.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} {unit} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(label: str, results: dict[str, list[Figures]]) -> None:
    print(f"\n{label}")
    for name, runs in results.items():
        print(f"  {name:<11} {summary([r.calls_per_second for r in runs], 'calls/s'):<28}"
              f" p50 {summary([r.p50_ms for r in runs], 'ms', 2):<24}"
              f" p99 {summary([r.p99_ms for r in runs], 'ms', 2):<24}"
              f" server CPU/call {summary([r.cpu_ms_per_call for r in runs], 'ms', 2):<22}"
              f" errors {sum(r.errors for r in runs)}")
    ours, sdk = (statistics.median(r.calls_per_second for r in results[n]) for n in ("local host", "bare SDK"))
    print(f"  ratio local host / bare SDK: {ours / sdk:.0%}")


async def run(args: argparse.Namespace, targets: list[Target]) -> None:
    for label, concurrency in (("sequential", 1), (f"{args.concurrency} concurrent clients", args.concurrency)):
        results: dict[str, list[Figures]] = {t.name: [] for t in targets}
        for _ in range(args.runs):
            for target in targets:
                results[target.name].append(await measure(target, args.calls, concurrency))
        report(f"{label}: {args.calls} tools/call per run, {args.runs} runs, median (min-max)", results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_mcp", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)

    host_port, sdk_port = free_port(), free_port()
    env = {**os.environ, "MCP_EXTENSION_KEY": BENCH_KEY, "PYTHONUNBUFFERED": "1"}
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}
    targets = [
        Target("local host", f"http://127.0.0.1:{host_port}/runtime/webhooks/mcp",
               {**headers, "x-functions-key": BENCH_KEY}),
        Target("bare SDK", f"http://127.0.0.1:{sdk_port}/mcp", headers),
    ]
    with tempfile.TemporaryDirectory() as scratch:  # the host's state folder in it, the logs beside
        processes = [
            start([sys.executable, "-m", "host", "--app", str(MCP_APP), "--port", str(host_port), "--state",
                   str(Path(scratch) / "state")], targets[0].url, env, Path(scratch) / "host.log"),
            start([sys.executable, "-c", SDK_SERVER, str(sdk_port)], targets[1].url, env, Path(scratch) / "sdk.log"),
        ]
        for target, process in zip(targets, processes):
            target.pid = process.pid
        try:
            print(f"MCP tools/call round trip over Streamable HTTP, loopback, {os.cpu_count()} CPUs")
            asyncio.run(run(args, targets))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
