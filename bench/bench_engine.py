"""Engine throughput and footprint, in-process: the engine, its SQLite store (WAL, synchronous=FULL) and the
engine test app, no HTTP in the way. Prints each figure with its spread over runs and, beside it, the disk's
SQLite commit rate measured in the same runs; asserts nothing.

    python -m bench.bench_engine [--runs 3] [--waiting 10000]

(a) fan-out/fan-in of 1,000 and 10,000 no-op activities: activities/s
(b) chains of 200 and 2,000 no-op activities: CPU per step (all threads), and the ratio of the two
(c) 1,000 orchestrations x 5 activities: orchestrations/s
(d) orchestrations waiting on an event: RSS, idle CPU, and raise_event -> Completed latency
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

from host.durable.config import EngineConfig
from host.durable.engine import Engine
from testing.inprocess import load_test_app, running_engine, wait_until_done

from .figures import percentile, spread, sqlite_commit_rate, with_disk

CONFIG = EngineConfig()  # as users get it: 2,000 instances kept in memory


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fan_out(engine: Engine, n: int) -> float:
    start = time.perf_counter()
    instance_id = await engine.start_new("fan_out", None, n)
    assert (await wait_until_done(engine, instance_id, 600)).output == str(n * (n - 1) // 2)
    return n / (time.perf_counter() - start)


async def chain_cpu_ms(engine: Engine, n: int) -> float:
    start = time.process_time()
    instance_id = await engine.start_new("chain", None, n)
    assert (await wait_until_done(engine, instance_id, 1200)).status == "Completed"
    return (time.process_time() - start) / n * 1000


async def many_sequences(engine: Engine, n: int = 1000) -> float:
    start = time.perf_counter()
    ids = await asyncio.gather(*(engine.start_new("hello_sequence") for _ in range(n)))
    rows = await asyncio.gather(*(wait_until_done(engine, i, 600) for i in ids))
    assert {row.status for row in rows} == {"Completed"}
    return n / (time.perf_counter() - start)


async def waiting(engine: Engine, n: int, sample: int = 200) -> dict[str, float]:
    ids: list[str] = []
    for batch in range(0, n, 500):
        ids += await asyncio.gather(*(engine.start_new("wait_event") for _ in range(min(500, n - batch))))
    while "Pending" in [(await engine.get_instance(i)).status for i in ids[-50:]]:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    cpu0, wall0 = os.times(), time.perf_counter()
    await asyncio.sleep(5.0)
    cpu1, wall1 = os.times(), time.perf_counter()
    idle_cpu = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (wall1 - wall0) * 100
    latencies = []
    for instance_id in ids[:: max(1, n // sample)][:sample]:
        t0 = time.perf_counter()
        await engine.raise_event(instance_id, "go", "now")
        assert (await wait_until_done(engine, instance_id)).status == "Completed"
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return {"rss_mb": rss_mb(), "idle_cpu_pct": idle_cpu,
            "p50_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99)}


class Figure:
    """One figure's values over the runs, each with the commit rate measured just before it."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.rates: list[float] = []

    async def measure(self, state: Path, run: Callable[[], Awaitable[float]]) -> None:
        self.rates.append(sqlite_commit_rate(state))
        self.values.append(await run())


async def main(runs: int, waiting_count: int) -> None:
    app = load_test_app("durable_app")
    fan_1k, fan_10k, chain_200, chain_2000, sequences = Figure(), Figure(), Figure(), Figure(), Figure()
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder)
            async with running_engine(app, state, CONFIG) as engine:
                await fan_out(engine, 100)  # warm-up
                await fan_1k.measure(state, lambda: fan_out(engine, 1000))
                await fan_10k.measure(state, lambda: fan_out(engine, 10000))
                await chain_200.measure(state, lambda: chain_cpu_ms(engine, 200))
                await chain_2000.measure(state, lambda: chain_cpu_ms(engine, 2000))
                await sequences.measure(state, lambda: many_sequences(engine))
    ratios = [long / short for long, short in zip(chain_2000.values, chain_200.values)]
    print(with_disk(f"(a) fan-out/fan-in of 1,000 no-op activities: {spread(fan_1k.values)} activities/s "
                    f"[target >= 6,000]", fan_1k.rates))
    print(with_disk(f"(a) fan-out/fan-in of 10,000 no-op activities: {spread(fan_10k.values)} activities/s "
                    f"[target >= 6,000]", fan_10k.rates))
    print(with_disk(f"(b) chain of 200 no-op activities: CPU {spread(chain_200.values, 'ms', 2)} per step",
                    chain_200.rates))
    print(with_disk(f"(b) chain of 2,000 no-op activities: CPU {spread(chain_2000.values, 'ms', 2)} per step; "
                    f"2,000 / 200: {spread(ratios, '', 2)} [target <= 1.3]", chain_2000.rates))
    print(with_disk(f"(c) 1,000 orchestrations x 5 activities: {spread(sequences.values)} orchestrations/s "
                    f"[target >= 400]", sequences.rates))
    figures: dict[str, list[float]] = {}
    rates: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            rates.append(sqlite_commit_rate(Path(folder)))
            async with running_engine(app, Path(folder), CONFIG) as engine:
                for key, value in (await waiting(engine, waiting_count)).items():
                    figures.setdefault(key, []).append(value)
    print(with_disk(
        f"(d) {waiting_count:,} orchestrations waiting on an event: RSS of the process "
        f"{spread(figures['rss_mb'], 'MB')} [target <= 300]; idle CPU "
        f"{spread(figures['idle_cpu_pct'], '% of one core', 1)}; raise_event -> Completed p50 "
        f"{spread(figures['p50_ms'], 'ms', 1)} [target <= 20], p99 {spread(figures['p99_ms'], 'ms', 1)}", rates))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.waiting))
