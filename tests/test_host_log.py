"""What `make run` prints: the banner, warnings and errors, not a line per request (new-user trial).

A scripted agent job on the real host (project app, the fake model server) leaves no INFO line in the
host's output after the banner: no request line of the model client (httpx2), no one-time typing
advisory of the Durable SDK, and no `LanguageWorkerConsoleLog...` line, which the Functions host
takes for the platform (stripped, logged at Debug) and so does the local host.
"""
from __future__ import annotations

import io
import logging
import re

from host.worker_console import WorkerConsole
from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until

AGENT = "fake-model"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<logger>\S+): ")


async def test_an_agent_job_adds_no_info_lines_to_the_host_output(tmp_path, model):
    model.reset()
    model.script({AGENT: [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]},
        lambda request: {"text": f"It is {request.tool_outputs()[-1]}."},
    ]})
    host = project_host(tmp_path, model).start()
    try:
        async with connect(host) as client:
            job = await call(client, "run_agent", task="Compute 6*7", tools=["calculate"])
            done = await wait_until(client, job["job_id"])
        assert done["status"] == "completed", done
        assert model.stats().by_agent[AGENT] == 2
    finally:
        host.stop()
    output = host.log()
    after_banner = output[output.index("MCP server '"):].splitlines()
    records = [(m["level"], m["logger"]) for m in map(RECORD.match, after_banner) if m]
    assert [r for r in records if r[0] not in ("WARNING", "ERROR")] == [], output
    assert "LanguageWorkerConsoleLog" not in output
    assert "Detected OpenAI Agents SDK integration" not in output  # the Debug level is not shown


def test_worker_console_lines_go_to_the_debug_log_and_the_rest_through(caplog):
    """The rule of the Functions host (prefix matched case-insensitively, stripped, logged at Debug), for
    lines printed whole or in pieces; other text passes at once, even before its line ends."""
    out = io.StringIO()
    console = WorkerConsole(out)
    with caplog.at_level(logging.DEBUG, logger="host.worker"):
        print("LanguageWorkerConsoleLogDetected integration. Package versions: x=1", file=console)
        console.write("Lang")
        console.write("uage is not the prefix\n")
        console.write("LANGUAGEWORKERCONSOLELOG")
        console.write("in pieces")
        console.write("\nprompt> ")
        assert out.getvalue().endswith("prompt> ")
        print("\nLanguageWorkerConsole", file=console)
    assert out.getvalue() == "Language is not the prefix\nprompt> \nLanguageWorkerConsole\n"
    assert [r.getMessage() for r in caplog.records if r.name == "host.worker"] == [
        "Detected integration. Package versions: x=1", "in pieces"]
