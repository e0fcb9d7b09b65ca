"""`python -m demo [--walkthrough] [--port 7071] [--state DIR]`: the local host with a scripted model.

Without `--walkthrough` it prints how to connect a client and serves until Ctrl+C; with it, it runs
the README's walkthrough itself as an MCP client and exits. Either way the output says, first and
last, that the model is scripted. Jobs and keys live in their own state folder (`.durable/demo/`),
bookings in its `appdata/`, so a demo never mixes with `make run`'s jobs.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

import httpx

from host.http.connections import PortUnavailable, listening_socket
from host.keys import load_keys
from testing.fake_model_server import FakeModelServer, load_script

from .walkthrough import run_walkthrough

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = "scripted-demo-model"
STARTUP_SECONDS = 60
STOP_SECONDS = 15
LABEL = "\n".join([
    "=" * 78,
    " DEMO MODE: the model is SCRIPTED (testing/model_scripts/demo.py), NOT a real LLM.",
    " Its answers are canned. The durable jobs, MCP tools, progress, approvals and",
    " crash safety are real. For real answers: set OPENAI_API_KEY and run `make run`.",
    "=" * 78,
])
TRY_THIS = """
DEMO: in your MCP client, try
  run_swarm        goal="Plan a two-day offsite for 12 people with 4800 EUR"
  wait_for_job     job_id=<the job_id it returned>            (repeat until completed)
  plan_trip        request="A long weekend in spring, trains only, good food"
  wait_for_job     job_id=<its job_id>                        (until waiting_for_input)
  send_job_input   job_id=<its job_id> event="approval" data={"approved": true}
  run_code_swarm   goal="Build a small todo CLI in Python" max_workers=3
  wait_for_job     job_id=<its job_id>                        (then read workspace://<job_id>/files)
or stop this one (Ctrl+C) and let the demo run the walkthrough itself: make demo ARGS=--walkthrough
Press Ctrl+C to stop."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--walkthrough", action="store_true", help="run the walkthrough as an MCP client, then exit")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--state", type=Path, default=PROJECT_ROOT / ".durable" / "demo",
                        help="state folder for the demo's jobs and keys (default .durable/demo/)")
    return parser.parse_args(argv)


def host_environment(model: FakeModelServer, state: Path) -> dict[str, str]:
    """Point the app at the scripted server, and blank every other provider setting, so a
    local.settings.json configured for a real model cannot send demo jobs there."""
    return {**os.environ, "PYTHONUNBUFFERED": "1",
            "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "demo-no-real-key",
            "OPENAI_DEFAULT_MODEL": DEMO_MODEL, "OPENAI_API_MODE": "responses",
            "AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_API_KEY": "", "AZURE_OPENAI_DEPLOYMENT": "",
            "APP_DATA_DIR": str(state / "appdata")}


def start_host(args: argparse.Namespace, model: FakeModelServer, output: BinaryIO | None) -> subprocess.Popen:
    """The local host in a child process; its own output (banner, logs) goes to the terminal, or to
    `output` (an anonymous temporary file) during the walkthrough so the walkthrough's output stays
    readable. Nothing is written into the state folder: the host keeps that to itself."""
    return subprocess.Popen([sys.executable, "-m", "host", "--port", str(args.port), "--state", str(args.state)],
                            cwd=PROJECT_ROOT, env=host_environment(model, args.state), stdout=output,
                            stderr=subprocess.STDOUT if output else None)


def wait_until_serving(host: subprocess.Popen, args: argparse.Namespace, output: BinaryIO | None) -> None:
    """Return once the host answers; SystemExit with its one-line reason when it exits or never answers."""
    for _ in range(STARTUP_SECONDS * 5):
        if host.poll() is not None:  # its one-line reason went to the terminal, or to `output`
            if output is not None:
                output.seek(0)
            last = output.read().decode(errors="replace").strip().splitlines()[-1:] if output else []
            raise SystemExit("\n".join(last) or f"error: the host exited with {host.returncode}")
        if is_serving(args.port):
            return
        time.sleep(0.2)
    raise SystemExit(f"error: the host did not start within {STARTUP_SECONDS} s")


def stop_host(host: subprocess.Popen) -> None:
    """Stop the host (Ctrl+C reached it already when it came from a terminal) and wait for it to end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: a second Ctrl+C must not cut this short
    host.terminate()
    try:
        host.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        host.kill()
        host.wait()


def port_refusal(port: int) -> str | None:
    """One line when `port` cannot be used: checked before anything starts, so a server already on
    the port is never mistaken for ours (issue 9 item 10)."""
    try:
        listening_socket("127.0.0.1", port).close()
    except PortUnavailable as exc:
        hint = '; pick another with make demo ARGS="--port 8080"' if exc.in_use else ""
        return f"error: {exc}{hint}"
    return None


def is_serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/admin/host/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    refusal = port_refusal(args.port)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the host on `kill` too, not only on Ctrl+C
    print(LABEL, flush=True)
    with FakeModelServer(load_script("demo")) as model:
        print(f"DEMO: scripted model server at {model.base_url}", flush=True)
        output = tempfile.TemporaryFile() if args.walkthrough else None
        host = start_host(args, model, output)
        try:
            wait_until_serving(host, args, output)
            if args.walkthrough:
                asyncio.run(run_walkthrough(f"http://localhost:{args.port}", load_keys(args.state)))
            else:
                print(TRY_THIS, flush=True)
                host.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop_host(host)
            print(LABEL, flush=True)
    return 0
