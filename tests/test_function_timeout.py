"""host.json `functionTimeout` on the local host, as Azure enforces it (MS Learn "Function app timeout duration";
`host/functions/timeout.py`): an execution past it fails with Azure's message; an activity that does is a
failed activity the orchestration's retry policy retries, and the orchestration goes on; a thread that returns
late is ignored; a value the Functions host would not read stops the host at start.

The test app (tests/apps/timeout_app) sets a 2-second timeout; its functions sleep for longer.
"""
from __future__ import annotations

import json
import shutil
import time

import httpx
import pytest

from host.durable.events import EventType
from host.functions.timeout import parse_function_timeout, timespan_text
from testing.durable_http import DurableHttp
from testing.host_process import TEST_APPS, TEST_KEYS, HostProcess
from testing.mcp_client import connect

APP = TEST_APPS / "timeout_app"
TIMEOUT = "00:00:02"


def timeout_message(function: str) -> str:
    return f"Timeout value of {TIMEOUT} was exceeded by function: Functions.{function}"


def timeout_host(tmp_path, replay: str | None = None, **env: str) -> HostProcess:
    return HostProcess(APP, tmp_path / "state", replay=replay,
                       env={"TIMEOUT_LEDGER": str(tmp_path / "ledger.txt"), **env})


def ledger(tmp_path) -> list[str]:
    path = tmp_path / "ledger.txt"
    return path.read_text().split() if path.exists() else []


def eventually(condition, what: str, limit: float = 60) -> None:
    """Wait until `condition()` holds (a guard against a hang, not a measure of speed)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize("replay,activity", [("kept", "sleepy"), ("kept", "sleepy_async"), ("azure", "sleepy")],
                         ids=["sync-kept", "async", "sync-azure-replay"])
def test_an_activity_past_the_timeout_fails_is_retried_and_the_orchestration_goes_on(tmp_path, replay, activity):
    """Each attempt of an activity that sleeps 3 s under a 2 s timeout fails with Azure's TaskFailed reason, the
    retry policy (2 attempts) runs it again, the orchestration catches the last failure and its next, quick
    activity completes. The sync attempts' threads return later: nothing of theirs is recorded."""
    host = timeout_host(tmp_path, replay).start()
    try:
        api = DurableHttp(host)
        job = api.start("slow_then_fast", {"activity": activity, "seconds": 3, "attempts": 2})
        status = api.wait(job, timeout=60)
        assert status["runtimeStatus"] == "Completed", status
        reason = f"Activity function '{activity}' failed: {timeout_message(activity)}"
        output = status["output"]
        assert output["result"] is None and output["after"] == "AFTER THE SLOW STEP", output
        assert output["failure"].startswith(reason), output
        history = api.history(job)
        scheduled = {event["EventId"] for event in history
                     if event["EventType"] == EventType.TaskScheduled and event["Name"] == activity}
        outcomes = [event for event in history if event.get("TaskScheduledId") in scheduled]
        assert len(scheduled) == 2, history
        assert [(event["EventType"], event["Reason"]) for event in outcomes] == [(EventType.TaskFailed, reason)] * 2
        assert ledger(tmp_path).count(f"{activity}:started") == 2
        if activity == "sleepy":  # both threads run on, return, and are ignored
            eventually(lambda: ledger(tmp_path).count("sleepy:returned") == 2, "the threads did not return")
            eventually(lambda: host.log().count("Functions.sleepy returned after its timeout of 00:00:02: its "
                                                "result is ignored") == 2, host.log()[-3000:])
            assert api.history(job) == history and api.status(job)["output"] == output
        else:  # async: cancelled where it waits, as the worker's restart ends it on Azure
            assert ledger(tmp_path).count("sleepy_async:cancelled") == 2, ledger(tmp_path)
        assert host.log().count(f"Timeout value of {TIMEOUT} exceeded by function 'Functions.{activity}' "
                                "(Id: '") == 2, host.log()[-3000:]
    finally:
        host.stop()


@pytest.fixture(scope="module")
def bounded_host(tmp_path_factory):
    """One host for the trigger kinds besides activities."""
    with timeout_host(tmp_path_factory.mktemp("triggers")) as host:
        yield host


def test_an_http_trigger_past_the_timeout_answers_500_with_the_message(bounded_host):
    answer = httpx.get(f"{bounded_host.base_url}/api/slow", params={"seconds": "4"}, timeout=60)
    assert answer.status_code == 500, answer.text
    assert answer.text == f"Function 'slow_http' failed: {timeout_message('slow_http')}"
    assert f"Timeout value of {TIMEOUT} exceeded by function 'Functions.slow_http'" in bounded_host.log()


async def test_an_mcp_tool_past_the_timeout_is_a_failed_call(bounded_host):
    """Azure's error result (the MCP extension does not show the exception's message); the log has it."""
    async with connect(bounded_host) as client:
        result = await client.call_tool("slow_tool", {"seconds": 4})
    assert result.is_error and result.content[0].text == "An error occurred invoking 'slow_tool'."
    assert f"tool slow_tool failed: FunctionTimeoutError: {timeout_message('slow_tool')}" in bounded_host.log()
    assert f"Timeout value of {TIMEOUT} exceeded by function 'Functions.slow_tool'" in bounded_host.log()


def test_a_timer_run_past_the_timeout_fails_in_the_log(bounded_host):
    ran = httpx.post(f"{bounded_host.base_url}/admin/functions/slow_timer", json={},
                     headers={"x-functions-key": TEST_KEYS["FUNCTIONS_MASTER_KEY"]}, timeout=60)
    assert ran.status_code == 202
    log = bounded_host.log()
    assert f"Timeout value of {TIMEOUT} exceeded by function 'Functions.slow_timer'" in log
    assert "timer function slow_timer failed" in log and timeout_message("slow_timer") in log


def app_with_host_json(tmp_path, **settings) -> HostProcess:
    """A copy of the test app whose host.json has `settings` at its top level."""
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    config = json.loads((app / "host.json").read_text())
    (app / "host.json").write_text(json.dumps({**config, **settings}))
    return HostProcess(app, tmp_path / "state", env={"TIMEOUT_LEDGER": str(tmp_path / "ledger.txt")})


@pytest.mark.parametrize("where,value,says", [
    ("host.json", "5 minutes",
     "host.json functionTimeout '5 minutes' is not a duration: write it as [d.]hh:mm:ss (hours 0-23"),
    ("environment", "24:00:00",
     ("AzureFunctionsJobHost__functionTimeout '24:00:00' is out of range: write it as [d.]hh:mm:ss (hours 0-23, "
      "minutes and seconds 0-59; e.g. \"00:10:00\" for ten minutes, \"1.00:00:00\" for a day), or \"-1\" for no "
      "limit")),
], ids=["host.json", "app-setting"])
def test_a_malformed_function_timeout_stops_the_host_at_start(tmp_path, where, value, says):
    if where == "host.json":
        host = app_with_host_json(tmp_path, functionTimeout=value)
    else:
        host = timeout_host(tmp_path, AzureFunctionsJobHost__functionTimeout=value)
    with pytest.raises(RuntimeError) as refused:
        host.start()
        host.stop()
    assert "host exited with 2" in str(refused.value), refused.value
    errors = [line for line in host.log().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {says}"), host.log()


@pytest.mark.parametrize("text,seconds,canonical", [
    ("00:30:00", 1800, "00:30:00"), ("0:0:2", 2, "00:00:02"), ("1.00:00:00", 86400, "1.00:00:00"),
    ("00:00:01.5", 1.5, "00:00:01.5000000"), ("23:59:59", 86399, "23:59:59"),
])
def test_function_timeout_texts_read_as_the_functions_host_reads_them(text, seconds, canonical):
    assert parse_function_timeout(text) == seconds and timespan_text(seconds) == canonical


def test_no_function_timeout_is_flex_consumptions_default_and_minus_one_is_no_limit():
    assert parse_function_timeout(None) == 30 * 60 and parse_function_timeout("-1") is None


@pytest.mark.parametrize("value,says", [
    (300, "300 is not a duration: write it as a string, [d.]hh:mm:ss"),
    ("05:00", "'05:00' is not a duration"),  # TimeSpan.Parse would read five hours
    ("00:60:00", "'00:60:00' is out of range"),
    ("00:00:00", "'00:00:00' is under 00:00:01, the shortest Azure accepts"),
    ("00:00:00.5", "'00:00:00.5' is under 00:00:01"),
])
def test_function_timeout_values_azure_would_not_take_as_meant_are_refused(value, says):
    with pytest.raises(ValueError) as refused:
        parse_function_timeout(value)
    assert str(refused.value).startswith(says)
