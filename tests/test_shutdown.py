"""Ctrl+C stops the host and the demo quietly, every time (trial finding: 2 of 9 stops of `make run` /
`make demo` printed `asyncio.exceptions.CancelledError ... KeyboardInterrupt`).

A terminal's Ctrl+C is SIGINT to the whole foreground process group (make, the demo, its host): the
tests send it that way, to a process group of the test's own, at the moments a person presses it:
idle, while the app still loads, twice in a row, while a job's activities run, while clients hold a
legacy SSE stream and wait in a tool call. Each time: exit status 0 (so `make` adds no "Error 130"
line either), no traceback or error in the output, and jobs as they were.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from testing.durable_http import DurableHttp
from testing.host_process import PROJECT_ROOT, TEST_APPS, HostProcess, free_port

NOISE = ("Traceback", "Error", "ERROR", "Exception", "CancelledError", "KeyboardInterrupt", "Task was destroyed",
         "never awaited", "Cancel ")
EXIT_SECONDS = 60  # guards a hang only: a stop that waited for an hour-long activity would never end in time
TIMES = 5


def quiet_lines(output: str) -> list[str]:
    """The lines of `output` that a quiet stop must not print."""
    return [line for line in output.splitlines() if any(word in line for word in NOISE)]


def stopped(host: HostProcess, times: int = 1) -> int:
    """Ctrl+C `times` times; the host's exit status."""
    for _ in range(times):
        host.interrupt()
    return host.proc.wait(timeout=EXIT_SECONDS)


def test_ctrl_c_stops_an_idle_host_quietly_every_time(tmp_path):
    host = HostProcess(TEST_APPS / "durable_app", tmp_path / "state", own_group=True)
    for attempt in range(TIMES):
        host.start()
        assert stopped(host, times=1 + attempt % 2) == 0, host.log()  # once, and twice in a row
        assert quiet_lines(host.log()) == [], host.log()[-4000:]


def test_ctrl_c_while_the_app_loads_is_quiet(tmp_path):
    """Loading the project's app (the Agents SDK, the MCP SDK) takes seconds: Ctrl+C during it used to
    print a KeyboardInterrupt traceback from wherever an import was."""
    log = tmp_path / "host.log"
    for attempt in range(TIMES):
        with open(log, "wb") as output:
            proc = subprocess.Popen([sys.executable, "-m", "host", "--port", str(free_port()), "--state",
                                     str(tmp_path / "state")], cwd=PROJECT_ROOT, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            while not log.read_bytes() and proc.poll() is None:  # its first line: the app is being imported
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=EXIT_SECONDS) == 0, log.read_text()
        assert quiet_lines(log.read_text()) == [], log.read_text()[-4000:]


def test_ctrl_c_while_activities_run_leaves_the_jobs_to_the_next_start(tmp_path):
    """A sync activity that would run for an hour and an async one: the host stops at once (it does not
    wait for the thread), and after a restart both jobs are still running: nothing was lost or failed."""
    ledger = tmp_path / "ledger.txt"
    host = HostProcess(TEST_APPS / "durable_app", tmp_path / "state", env={"STEP_LEDGER": str(ledger)},
                       own_group=True).start()
    api = DurableHttp(host)
    sync_job = api.start("steps", {"run": "sync", "count": 2, "sleep": 3600})
    async_job = api.start("waits_on_slow_activity", {"run": "async", "seconds": 3600})
    while not {"sync:0", "async:started"} <= set(ledger.read_text().split() if ledger.exists() else []):
        time.sleep(0.05)
    assert stopped(host) == 0, host.log()
    assert quiet_lines(host.log()) == [], host.log()[-4000:]
    host.start()
    try:
        assert api.status(sync_job)["runtimeStatus"] == "Running"
        assert api.status(async_job)["runtimeStatus"] == "Running"
        for job in (sync_job, async_job):
            assert api.post(job, "terminate", reason="test over").status_code == 202
    finally:
        host.kill()


def test_ctrl_c_ends_open_streams_and_waiting_calls_cleanly(tmp_path):
    """A client holding a legacy SSE stream and one waiting in a tool call: uvicorn used to wait 5 s,
    then cancel them with an ERROR and a traceback, and the waiting client got a bare 500. Now the call
    gets a JSON-RPC error saying the host is shutting down, the stream ends, and the log stays quiet."""
    host = HostProcess(TEST_APPS / "mcp_app", tmp_path / "state", own_group=True).start()
    headers = {"x-functions-key": host.mcp_key, "accept": "application/json, text/event-stream",
               "content-type": "application/json", "mcp-protocol-version": "2025-11-25"}
    seen: dict[str, object] = {}

    def waiting_call() -> None:
        response = httpx.post(f"{host.base_url}/runtime/webhooks/mcp", headers=headers, timeout=EXIT_SECONDS,
                              json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                    "params": {"name": "wait_until_cancelled", "arguments": {"key": "k"}}})
        seen["call"] = (response.status_code, response.json())

    streaming = threading.Event()

    def sse_stream() -> None:
        seen["sse"] = []
        with httpx.stream("GET", f"{host.base_url}/runtime/webhooks/mcp/sse", timeout=EXIT_SECONDS,
                          headers={"x-functions-key": host.mcp_key}) as response:
            for line in response.iter_lines():
                seen["sse"].append(line)
                streaming.set()
        seen["sse ended"] = True  # not cut: an incomplete chunked body raises in iter_lines

    clients = [threading.Thread(target=waiting_call), threading.Thread(target=sse_stream)]
    for client in clients:
        client.start()
    while json.loads(call_tool(host, headers, "wait_state", key="k")) != "waiting":
        time.sleep(0.05)
    assert streaming.wait(EXIT_SECONDS)
    assert stopped(host) == 0, host.log()
    for client in clients:
        client.join(EXIT_SECONDS)
    status, body = seen["call"]
    assert status == 503 and "shutting down" in body["error"]["message"], seen
    assert seen["sse"][0] == "event: endpoint" and seen.get("sse ended"), seen
    assert quiet_lines(host.log()) == [], host.log()[-4000:]


def call_tool(host: HostProcess, headers: dict, name: str, **arguments) -> str:
    response = httpx.post(f"{host.base_url}/runtime/webhooks/mcp", headers=headers, timeout=30, json={
        "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
    return json.dumps(response.json()["result"]["content"][0]["text"])


def test_ctrl_c_stops_the_demo_and_its_host_quietly(tmp_path):
    """`make demo`: Ctrl+C reaches the demo and the host it started; both end, quietly, status 0, and the
    demo's last words are its label."""
    for attempt in range(2):
        port = free_port()
        demo = subprocess.Popen([sys.executable, "-m", "demo", "--port", str(port), "--state", str(tmp_path / "demo")],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        while not serving(port):
            assert demo.poll() is None, demo.stdout.read()
            time.sleep(0.1)
        os.killpg(demo.pid, signal.SIGINT)
        output, _ = demo.communicate(timeout=EXIT_SECONDS)
        assert demo.returncode == 0, output
        assert quiet_lines(output) == [], output[-4000:]
        assert output.rstrip().endswith("=" * 78), output[-1000:]
        assert not serving(port)  # the host is gone too


def serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/admin/host/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
