"""Benchmark: both swarms on a real model. The code swarm as a swarm and as one worker (`max_workers=1`, the
"solo" of the published comparison) on small packages with hidden tests (`real_model_tasks.py`), and
`run_swarm` on the green tea goal (issue 22 §1).

It runs only where a real OpenAI-compatible model is configured (`OPENAI_BASE_URL`, with `OPENAI_API_MODE`,
`OPENAI_DEFAULT_MODEL`, `MODEL_CONTEXT_TOKENS` as for the app, and `MODEL_REQUEST_TIMEOUT_SECONDS`, 900 unless
set, for a model on CPU; `../shared/real_llm/` sets up
Qwen2.5-Coder-1.5B-Instruct on llama.cpp) and says so otherwise. The project's app runs on the local host
(a subprocess) with those settings; each job is launched over MCP with the official client and followed until
it ends. Per task and mode it prints: the job's status and score, the hidden tests that pass on its final
tree (run in the same sandbox as the workers' tests, after the tree's own tests are removed), minutes, and
tokens (prompt + generated, from llama.cpp's `/metrics` counters when the server has them; other servers:
"n/a"). Runs are one after another, so the counters belong to one job, as long as nothing else uses the
server. Then a summary per mode: median (min-max) of hidden tests passed, minutes and tokens.

    python -m bench.bench_real_model [--tasks calc,shortener,inventory] [--modes swarm,solo] [--runs 1]
                                     [--workers 3] [--tea] [--timeout-minutes 60]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

from orchestrations.code_swarm import checks as code_checks
from orchestrations.code_swarm.facts import is_test_file, test_counts
from testing.host_process import PROJECT_ROOT, TEST_KEYS, HostProcess
from testing.mcp_client import call, connect

from .real_model_tasks import TASKS, TEA

POLL_SECONDS = 10
SLOW_MODEL_REQUEST_TIMEOUT_SECONDS = 900  # unless MODEL_REQUEST_TIMEOUT_SECONDS is set
METRIC = re.compile(r"^llamacpp:(prompt_tokens_total|tokens_predicted_total)\s+([0-9.e+]+)$", re.MULTILINE)


def tokens_used(base_url: str) -> float | None:
    """Prompt plus generated tokens so far, from llama.cpp's /metrics, or None where there are none."""
    try:
        text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    found = METRIC.findall(text)
    return sum(float(value) for _, value in found) if len(found) == 2 else None


async def run_job(host: HostProcess, tool: str, arguments: dict, timeout: float) -> dict:
    async with connect(host) as client:
        job = await call(client, tool, **arguments)
        deadline = time.monotonic() + timeout
        while job["status"] not in ("completed", "failed", "canceled"):
            if time.monotonic() > deadline:
                await call(client, "cancel_job", job_id=job["job_id"], reason="benchmark timeout")
                job["status"] = "timed out"
                return job
            await asyncio.sleep(POLL_SECONDS)
            job = await call(client, "get_job", job_id=job["job_id"])
    return job


def hidden_results(host: HostProcess, job_id: str, tests: str) -> tuple[int, int, dict[str, str]]:
    """(passed, total, the tree: {path: text}): the hidden tests on the job's final tree, in the sandbox. The
    tree goes into the log, to read what the model wrote."""
    answer = httpx.get(f"{host.base_url}/api/workspaces/{job_id}/zip", timeout=60,
                       headers={"x-functions-key": TEST_KEYS["FUNCTIONS_DEFAULT_KEY"]})
    total = len(re.findall(r"^def test_", tests, re.MULTILINE))
    if answer.status_code != 200:
        return 0, total, {}
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    tree = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    files = {path: data for path, data in tree.items() if not is_test_file(path)}  # its own tests are not measured
    result = code_checks.run_tests({**files, "hidden_tests/test_hidden.py": tests.encode()})
    passed, run = test_counts(result.get("output") or "")
    return passed, total, {path: data.decode(errors="replace") for path, data in sorted(tree.items())}


def one_run(host: HostProcess, base_url: str, tool: str, arguments: dict, timeout: float) -> dict:
    before, started = tokens_used(base_url), time.monotonic()
    job = asyncio.run(run_job(host, tool, arguments, timeout))
    after = tokens_used(base_url)
    output = job.get("output") or {}
    return {"job_id": job["job_id"], "status": job["status"], "score": output.get("score"),
            "minutes": (time.monotonic() - started) / 60, "tokens": None if before is None or after is None
            else after - before, "error": job.get("error"), "output": output}


def spread(values: list[float], digits: int = 1) -> str:
    if not values:
        return "n/a"
    fmt = f"{{:.{digits}f}}"
    median = fmt.format(statistics.median(values))
    return median if len(values) == 1 else f"{median} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_real_model", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--modes", default="swarm,solo")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3, help="max_workers of the swarm mode")
    parser.add_argument("--tea", action="store_true", help="also run_swarm on the green tea goal")
    parser.add_argument("--timeout-minutes", type=float, default=60)
    parser.add_argument("--log", help="a JSON-lines file each run's figures and output are appended to")
    args = parser.parse_args()
    base_url = os.environ.get("OPENAI_BASE_URL", "").strip()
    if not base_url:
        print("bench_real_model: skipped, no real model is configured (set OPENAI_BASE_URL and the other OPENAI_* "
              "settings; ../shared/real_llm/serve.sh prints them for a local Qwen2.5-Coder on llama.cpp)")
        return
    model = os.environ.get("OPENAI_DEFAULT_MODEL", "the server's default model")
    # A CPU model under load made a planner's answer in over 180 s (the app's default), and every attempt
    # started over: the job failed at planning. README "Choosing the model": raise it for a slow local model.
    request_timeout = os.environ.get("MODEL_REQUEST_TIMEOUT_SECONDS", str(SLOW_MODEL_REQUEST_TIMEOUT_SECONDS))
    print(f"model: {model} at {base_url}, context {os.environ.get('MODEL_CONTEXT_TOKENS', 'default')} tokens, "
          f"request timeout {request_timeout} s")
    modes = {"swarm": args.workers, "solo": 1}
    rows: dict[str, list[dict]] = {mode: [] for mode in args.modes.split(",") if mode}
    names = [name for name in args.tasks.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="bench-real-model-") as temporary:
        host = HostProcess(PROJECT_ROOT, Path(temporary) / "state",
                           env={"APP_DATA_DIR": str(Path(temporary) / "appdata"),
                                "MODEL_REQUEST_TIMEOUT_SECONDS": request_timeout}).start()
        try:
            print(f"{'task':<10} {'mode':<6} {'status':<10} {'score':>5} {'hidden':>7} {'minutes':>7} {'tokens':>8}")
            for _ in range(args.runs):
                for name in names:
                    task = TASKS[name]
                    for mode in rows:
                        run = one_run(host, base_url, "run_code_swarm",
                                      {"goal": task.goal, "max_workers": modes[mode]}, args.timeout_minutes * 60)
                        run["passed"], run["total"], run["tree"] = hidden_results(host, run["job_id"],
                                                                                  task.hidden_tests)
                        rows[mode].append(run)
                        tokens = "n/a" if run["tokens"] is None else f"{run['tokens']:,.0f}"
                        print(f"{name:<10} {mode:<6} {run['status']:<10} {str(run['score']):>5} "
                              f"{run['passed']:>3}/{run['total']:<3} {run['minutes']:>7.1f} {tokens:>8}", flush=True)
                        if args.log:
                            with open(args.log, "a") as log:
                                log.write(json.dumps({"task": name, "mode": mode, **run}) + "\n")
                if args.tea:
                    run = one_run(host, base_url, "run_swarm", {"goal": TEA, "max_workers": 2},
                                  args.timeout_minutes * 60)
                    gaps = len(run["output"].get("gaps") or [])
                    tokens = "n/a" if run["tokens"] is None else f"{run['tokens']:,.0f}"
                    print(f"run_swarm (green tea, 2 workers): {run['status']}, score {run['score']}, {gaps} gaps, "
                          f"{run['minutes']:.1f} min, {tokens} tokens", flush=True)
                    if args.log:
                        with open(args.log, "a") as log:
                            log.write(json.dumps({"task": "tea", "mode": "run_swarm", **run}) + "\n")
        finally:
            host.stop()
            shutil.rmtree(Path(temporary) / "appdata", ignore_errors=True)
    for mode, runs in rows.items():
        if not runs:
            continue
        passed = [100 * r["passed"] / r["total"] for r in runs if r["total"]]
        completed = sum(r["status"] == "completed" for r in runs)
        tokens = [r["tokens"] for r in runs if r["tokens"] is not None]
        print(f"{mode}: {completed} of {len(runs)} completed; hidden tests passed {spread(passed, 0)} %, "
              f"minutes {spread([r['minutes'] for r in runs])}, tokens {spread(tokens, 0)}")


if __name__ == "__main__":
    main()
