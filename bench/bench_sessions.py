"""Benchmark: what abandoned MCP subscriptions cost an idle host (issue 21 §1.3, modelcontextprotocol/servers#4710).

The local host serving tests/apps/mcp_app runs in its own subprocess, a new one each run. Each run measures the CPU time the host (its
process tree) uses over a quiet window, then a legacy SSE client subscribes to `--subscriptions` templated
resources (`snippet://…`) and goes away without unsubscribing, and the same window is measured again. A host that
keeps watching what nobody hears re-reads each resource every second from then on; one that ends a session's
subscriptions with it goes back to idle. Report: CPU seconds per window, median and min-max over the runs, with
the disk's SQLite commit rate.

    .venv/bin/python -m bench.bench_sessions [--runs 3] [--subscriptions 20] [--window 15]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import warnings
from pathlib import Path

from mcp import Client
from mcp.client.sse import sse_client

from bench.figures import spread, sqlite_commit_rate
from testing.host_process import TEST_APPS, HostProcess

SETTLE_SECONDS = 3.0  # for the host to see the stream close


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and every live process under it (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += times.get(pid, 0.0)
        pending += [child for child, parent in parents.items() if parent == pid]
    return total


def window_cpu(pid: int, seconds: float) -> float:
    start = tree_cpu_seconds(pid)
    time.sleep(seconds)
    return tree_cpu_seconds(pid) - start


async def subscribe_and_leave(host: HostProcess, names: list[str]) -> None:
    """A legacy SSE client subscribes to each name's resource, then closes its stream without unsubscribing."""
    url = f"{host.base_url}/runtime/webhooks/mcp/sse?code={host.mcp_key}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resources/subscribe is the 2025-11-25 API, on purpose
        async with Client(sse_client(url), mode="legacy") as client:
            for name in names:
                await client.subscribe_resource(f"snippet://{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured each time")
    args = parser.parse_args()
    quiet, abandoned = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):  # a host of its own each run: what one run left cannot count in the next
            host = HostProcess(TEST_APPS / "mcp_app", Path(folder) / f"state-{run}").start()
            try:
                time.sleep(SETTLE_SECONDS)
                quiet.append(window_cpu(host.proc.pid, args.window))
                asyncio.run(subscribe_and_leave(host, [f"bench-{i}" for i in range(args.subscriptions)]))
                time.sleep(SETTLE_SECONDS)
                abandoned.append(window_cpu(host.proc.pid, args.window))
            finally:
                host.stop()
        rate = sqlite_commit_rate(Path(folder))
    print(f"host CPU per {args.window:g} s, idle: {spread(quiet, 's', 2)}")
    print(f"host CPU per {args.window:g} s, after {args.subscriptions} SSE subscriptions left without "
          f"unsubscribing: {spread(abandoned, 's', 2)}")
    print(f"SQLite commit rate: {rate:,.0f} commits/s")


if __name__ == "__main__":
    main()
