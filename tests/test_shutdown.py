"""Ctrl+C stops the host and the demo quietly, every time (trial finding: 2 of 9 stops of `make run` /
`make demo` printed `asyncio.exceptions.CancelledError ... KeyboardInterrupt`).

A terminal's Ctrl+C is SIGINT to the whole foreground process group (make, the demo, its host): the
tests send it that way, to a process group of the test's own, at the moments a person presses it:
idle, while the app still loads, twice in a row, while a job's activities run, while clients hold a
legacy SSE stream and wait in a tool call. Each time: exit status 0 (so `make` adds no "Error 130"
line either), no traceback or error in the output, and jobs as they were.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from host.mcp.wire import answered_ids, error_message, sse_message_event
from testing.durable_http import DurableHttp
from testing.host_process import PROJECT_ROOT, TEST_APPS, HostProcess, free_port
from testing.mcp_client import connect

NOISE = ("Traceback", "Error", "ERROR", "Exception", "CancelledError", "KeyboardInterrupt", "Task was destroyed",
         "never awaited", "Cancel ")
EXIT_SECONDS = 60  # guards a hang only: a stop that waited for an hour-long activity would never end in time
TIMES = 5


def quiet_lines(output: str) -> list[str]:
    """The lines of `output` that a quiet stop must not print."""
    return [line for line in output.splitlines() if any(word in line for word in NOISE)]


@contextlib.contextmanager
def killed_if_left(proc: subprocess.Popen):
    """A process (and its group) that did not end as the test expects is killed, not left serving after it."""
    try:
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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


def ignoring_ctrl_c() -> None:
    """What a shell without job control does to a command it starts with `&` (host/interrupts.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


STARTED = pytest.mark.parametrize("started_with", [None, ignoring_ctrl_c], ids=["foreground", "background"])


@STARTED
def test_ctrl_c_while_the_app_loads_is_quiet(tmp_path, started_with):
    """Loading the project's app (the Agents SDK, the MCP SDK) takes seconds: Ctrl+C during it used to
    print a KeyboardInterrupt traceback from wherever an import was; started in the background of a
    script (SIGINT ignored until uvicorn's handler), it was lost."""
    log = tmp_path / "host.log"
    for attempt in range(TIMES):
        with open(log, "wb") as output:
            proc = subprocess.Popen([sys.executable, "-m", "host", "--port", str(free_port()), "--state",
                                     str(tmp_path / "state")], cwd=PROJECT_ROOT, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=started_with)
            while not log.read_bytes() and proc.poll() is None:  # its first line: the app is being imported
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGINT)
            with killed_if_left(proc):
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


MCP_CLIENTS = [("streamable-2025", False), ("streamable-2025", True), ("streamable-2026", False),
               ("streamable-2026", True), ("sse", False)]


def test_ctrl_c_ends_open_streams_and_waiting_calls_cleanly(tmp_path):
    """Clients waiting in a tool call, and one holding a legacy SSE stream: uvicorn used to wait 5 s, then
    cancel them with an ERROR and a traceback, and the waiting client got a bare 500. Now each call gets a
    JSON-RPC error with its own id saying the host is shutting down, in its transport's form: a 503 JSON
    body when its response had not started, else an SSE `message` event before its stream ends (trial
    finding: the official client on a stream under way got "SSE stream ended without a response", and a
    plain 503 carried id null). The official `mcp` client on Streamable HTTP (2025-11-25 and 2026-07-28,
    with and without progress, i.e. a JSON answer and an SSE stream) and on legacy SSE, and plain HTTP."""
    host = HostProcess(TEST_APPS / "mcp_app", tmp_path / "state", own_group=True).start()
    headers = {"x-functions-key": host.mcp_key, "accept": "application/json, text/event-stream",
               "content-type": "application/json", "mcp-protocol-version": "2025-11-25"}
    seen: dict[str, object] = {}

    def waiting_call() -> None:
        response = httpx.post(f"{host.base_url}/runtime/webhooks/mcp", headers=headers, timeout=EXIT_SECONDS,
                              json={"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                    "params": {"name": "wait_until_cancelled", "arguments": {"key": "k"}}})
        seen["call"] = (response.status_code, response.json())

    def streamed_call() -> None:
        """With a progress token the answer is an SSE stream, started before the result."""
        with httpx.stream("POST", f"{host.base_url}/runtime/webhooks/mcp", headers=headers, timeout=EXIT_SECONDS,
                          json={"jsonrpc": "2.0", "id": "call-8", "method": "tools/call",
                                "params": {"name": "wait_until_cancelled", "arguments": {"key": "streamed"},
                                           "_meta": {"progressToken": "p8"}}}) as response:
            seen["streamed"] = (response.status_code, response.headers["content-type"],
                                [line for line in response.iter_lines() if line])

    streaming = threading.Event()

    def sse_stream() -> None:
        seen["sse"] = []
        with httpx.stream("GET", f"{host.base_url}/runtime/webhooks/mcp/sse", timeout=EXIT_SECONDS,
                          headers={"x-functions-key": host.mcp_key}) as response:
            for line in response.iter_lines():
                seen["sse"].append(line)
                streaming.set()
        seen["sse ended"] = True  # not cut: an incomplete chunked body raises in iter_lines

    clients = [threading.Thread(target=waiting_call), threading.Thread(target=streamed_call),
               threading.Thread(target=sse_stream), threading.Thread(target=anyio.run, args=(mcp_calls, host, seen))]
    for client in clients:
        client.start()
    for key in ("k", "streamed", *(f"{kind}-{progress}" for kind, progress in MCP_CLIENTS)):
        while json.loads(call_tool(host, headers, "wait_state", key=key)) != "waiting":
            assert all(client.is_alive() for client in clients), seen
            time.sleep(0.05)
    assert streaming.wait(EXIT_SECONDS)
    assert stopped(host) == 0, host.log()
    for client in clients:
        client.join(EXIT_SECONDS)
    status, body = seen["call"]
    assert status == 503 and body["id"] == 7 and "shutting down" in body["error"]["message"], seen
    status, content_type, lines = seen["streamed"]
    assert status == 200 and content_type.startswith("text/event-stream"), seen
    assert lines[-2] == "event: message", lines
    last = json.loads(lines[-1].removeprefix("data: "))
    assert last["id"] == "call-8" and "shutting down" in last["error"]["message"], lines
    for kind, progress in MCP_CLIENTS:
        assert "the host is shutting down" in seen[f"{kind}-{progress}"], seen
    assert seen["sse"][0] == "event: endpoint" and seen.get("sse ended"), seen
    assert quiet_lines(host.log()) == [], host.log()[-4000:]


def call_tool(host: HostProcess, headers: dict, name: str, **arguments) -> str:
    response = httpx.post(f"{host.base_url}/runtime/webhooks/mcp", headers=headers, timeout=30, json={
        "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
    return json.dumps(response.json()["result"]["content"][0]["text"])


async def mcp_calls(host: HostProcess, seen: dict[str, object]) -> None:
    """The official client's calls, each waiting until the host stops; `seen[key]` gets each one's error message
    (or what else ended it)."""
    async def ignore(*_) -> None:
        pass

    async def wait_in_a_call(kind: str, with_progress: bool) -> None:
        key = f"{kind}-{with_progress}"
        try:
            async with connect(host, sse=kind == "sse", mode="auto" if kind == "streamable-2026" else "legacy") as client:
                try:
                    await client.call_tool("wait_until_cancelled", {"key": key},
                                           progress_callback=ignore if with_progress else None)
                    seen[key] = "answered"
                except MCPError as error:
                    seen[key] = error.error.message
        except Exception as error:  # ending the session with a host that is gone may fail: not what is tested
            seen.setdefault(key, repr(error))

    async with anyio.create_task_group() as calls:
        for kind, with_progress in MCP_CLIENTS:
            calls.start_soon(wait_in_a_call, kind, with_progress)


@STARTED
def test_ctrl_c_stops_the_demo_and_its_host_quietly(tmp_path, started_with):
    """`make demo`: Ctrl+C reaches the demo and the host it started; both end, quietly, status 0, and the
    demo's last words are its label."""
    for attempt in range(2):
        port = free_port()
        demo = subprocess.Popen([sys.executable, "-m", "demo", "--port", str(port), "--state", str(tmp_path / "demo")],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, preexec_fn=started_with)
        while not serving(port):
            assert demo.poll() is None, demo.stdout.read()
            time.sleep(0.1)
        os.killpg(demo.pid, signal.SIGINT)
        with killed_if_left(demo):
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


def test_a_stream_owes_answers_to_the_requests_its_message_events_did_not_answer():
    """What the legacy SSE stream has answered (host/mcp/wire.answered_ids): responses and errors, by id, in
    either line ending; not server-to-client requests, notifications, pings or the endpoint event."""
    chunk = (b"event: endpoint\r\ndata: /runtime/webhooks/mcp/message?session_id=ab\r\n\r\n"
             + sse_message_event({"jsonrpc": "2.0", "id": 3, "result": {}})
             + sse_message_event(error_message("four", -32000, "no"))
             + sse_message_event({"jsonrpc": "2.0", "id": 5, "method": "elicitation/create", "params": {}})
             + sse_message_event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
             + b": ping\r\n\r\nevent: message\ndata: {\"jsonrpc\": \"2.0\", \"id\": 6, \"result\": 1}\n\n")
    assert answered_ids(chunk) == [3, "four", 6]
