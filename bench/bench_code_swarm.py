"""Benchmark: how long the demo code swarm takes end to end, and how many model calls it makes.

The project's app on the real local host (subprocess), the scripted todo-CLI model
(testing/model_scripts/code_swarm.py, zero latency): each run launches `run_code_swarm` over MCP with the
official client and polls `get_job` until the job completes. What is measured is everything but the model:
the durable steps, the file-tool activities, git's merges, ruff and the sandboxed pytest runs.

    python -m bench.bench_code_swarm [--runs 5]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from testing.fake_model_server import FakeModelServer
from testing.host_process import project_host
from testing.mcp_client import call, connect
from testing.model_scripts import code_swarm as todo

from .figures import spread

POLL_SECONDS = 0.05


async def one_run(host, model) -> tuple[float, int]:
    model.reset()
    model.script(todo.SCRIPT)
    async with connect(host) as client:
        started = time.perf_counter()
        job = await call(client, "run_code_swarm", goal=todo.GOAL, max_workers=3)
        while job["status"] not in ("completed", "failed", "canceled"):
            await asyncio.sleep(POLL_SECONDS)
            job = await call(client, "get_job", job_id=job["job_id"])
        elapsed = time.perf_counter() - started
    if job["status"] != "completed" or not job["output"]["checks"]["ok"]:
        raise SystemExit(f"the demo code swarm did not pass: {job.get('error') or job['output']['checks']}")
    return elapsed, model.stats().total


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_code_swarm", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-code-swarm-") as temporary, FakeModelServer() as model:
        state = Path(temporary)
        host = project_host(state / "state", model, APP_DATA_DIR=str(state / "appdata")).start()
        try:
            results = [asyncio.run(one_run(host, model)) for _ in range(args.runs)]
        finally:
            host.stop()
    seconds, calls = [r[0] for r in results], sorted({r[1] for r in results})
    print(f"demo code swarm (3 workers, 1 conflict, 1 nudge, 1 fixing round), launch to completed: "
          f"{spread(seconds, 's', 2)}")
    print(f"model calls per run: {', '.join(map(str, calls))}")


if __name__ == "__main__":
    main()
