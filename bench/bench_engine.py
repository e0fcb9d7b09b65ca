"""Engine throughput and footprint, in-process (the engine, its SQLite store with synchronous=FULL, and the
real test app; no HTTP in the way). Prints figures; asserts nothing.

    python -m bench.bench_engine [--runs 3] [--waiting 10000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from host.durable.config import EngineConfig
from host.durable.engine import Engine
from host.durable.store import HistoryStore
from host.functions.invoker import FunctionInvoker
from host.functions.loader import load_app

from .figures import percentile, spread

APP_DIR = Path(__file__).resolve().parent.parent / "tests" / "apps" / "durable_app"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Bench:
    def __init__(self, app, state: Path):
        self.store = HistoryStore(state / "bench.sqlite")
        invoker = FunctionInvoker(ThreadPoolExecutor(32), str(app.directory), lambda: "{}")
        self.engine = Engine(app, self.store, invoker, ThreadPoolExecutor(4), EngineConfig(cache_size=2000))

    async def wait_done(self, instance_id: str) -> str:
        while True:
            row = await self.engine.get_instance(instance_id)
            if row.is_terminal:
                return row.status
            await self.engine.wait_for_change(instance_id, 1.0)


async def fan_out(bench: Bench, n: int = 1000) -> float:
    start = time.perf_counter()
    instance_id = await bench.engine.start_new("fan_out", None, json.dumps(n))
    assert await bench.wait_done(instance_id) == "Completed"
    return n / (time.perf_counter() - start)


async def chain(bench: Bench, n: int = 200) -> float:
    start = time.perf_counter()
    instance_id = await bench.engine.start_new("chain", None, json.dumps(n))
    assert await bench.wait_done(instance_id) == "Completed"
    return n / (time.perf_counter() - start)


async def many_sequences(bench: Bench, n: int = 1000) -> float:
    start = time.perf_counter()
    ids = await asyncio.gather(*(bench.engine.start_new("hello_sequence") for _ in range(n)))
    statuses = await asyncio.gather(*(bench.wait_done(i) for i in ids))
    assert set(statuses) == {"Completed"}
    return n / (time.perf_counter() - start)


async def waiting(bench: Bench, n: int, sample: int = 200) -> dict[str, float]:
    rss_before = rss_mb()
    ids = []
    for batch in range(0, n, 500):
        ids += await asyncio.gather(*(bench.engine.start_new("wait_event") for _ in range(min(500, n - batch))))
    while "Pending" in [(await bench.engine.get_instance(i)).status for i in ids[-50:]]:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    cpu0, wall0 = os.times(), time.perf_counter()
    await asyncio.sleep(5.0)
    cpu1, wall1 = os.times(), time.perf_counter()
    idle_cpu = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (wall1 - wall0) * 100
    latencies = []
    for instance_id in ids[:: max(1, n // sample)][:sample]:
        t0 = time.perf_counter()
        await bench.engine.raise_event(instance_id, "go", "now")
        assert await bench.wait_done(instance_id) == "Completed"
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return {"rss_mb": rss_mb(), "rss_growth_mb": rss_mb() - rss_before, "idle_cpu_pct": idle_cpu,
            "p50_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99)}


async def main(runs: int, waiting_count: int) -> None:
    app = load_app(APP_DIR)
    results: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state:
            bench = Bench(app, Path(state))
            await bench.engine.start()
            results["a"].append(await fan_out(bench))
            results["b"].append(await chain(bench))
            results["c"].append(await many_sequences(bench))
            await bench.engine.stop()
            bench.store.close()
    print(f"(a) fan-out/fan-in of 1,000 no-op activities : {spread(results['a'])} activities/s  [target >= 2,000]")
    print(f"(b) chain of 200 sequential no-op activities : {spread(results['b'])} activities/s  [target >= 500]")
    print(f"(c) 1,000 orchestrations x 5 activities      : {spread(results['c'])} orchestrations/s  [target >= 300]")
    with tempfile.TemporaryDirectory() as state:
        bench = Bench(app, Path(state))
        await bench.engine.start()
        figures = await waiting(bench, waiting_count)
        await bench.engine.stop()
        bench.store.close()
    print(f"(d) {waiting_count:,} orchestrations waiting on an event: RSS {figures['rss_mb']:.0f} MB "
          f"(+{figures['rss_growth_mb']:.0f} MB for the instances) [target <= 300], idle CPU "
          f"{figures['idle_cpu_pct']:.1f}% of one core, raise_event -> Completed p50 {figures['p50_ms']:.1f} ms "
          f"p99 {figures['p99_ms']:.1f} ms [target p50 <= 20]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.waiting))
