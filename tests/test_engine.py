"""Durable semantics through the real host: starters, chaining, fan-out, retries, sub-orchestrations,
events against timers, continue-as-new, and the management operations."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from testing.durable_http import DurableHttp, ledger_counts
from testing.host_process import TEST_APPS as APPS
from testing.host_process import HostProcess


def test_everything_orchestration_via_http_starter(durable_host, api, tmp_path):
    counter = tmp_path / "flaky-counter"
    response = httpx.post(f"{durable_host.base_url}/api/orchestrators/everything",
                          json={"counter": str(counter), "timeout": 30})
    assert response.status_code == 202
    links = response.json()
    assert response.headers["Location"] == links["statusQueryGetUri"]
    for key in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri",
                "rewindPostUri", "restartPostUri", "suspendPostUri", "resumePostUri"):
        assert links[key].startswith(durable_host.base_url + "/runtime/webhooks/durabletask/instances/")
    instance_id = links["id"]
    api.wait_for_custom_status(instance_id, lambda s: (s["customStatus"] or {}).get("stage") == "waiting")
    send = links["sendEventPostUri"].replace("{eventName}", "approval")
    assert httpx.post(send, json="first yes").status_code == 202
    api.wait_for_custom_status(
        instance_id, lambda s: (s["customStatus"] or {}) == {"stage": "waiting", "generation": 1})
    assert httpx.post(send, json={"who": "second"}).status_code == 202
    status = httpx.get(links["statusQueryGetUri"]).json()
    deadline = time.time() + 30
    while status["runtimeStatus"] != "Completed" and time.time() < deadline:
        time.sleep(0.05)
        status = httpx.get(links["statusQueryGetUri"]).json()
    output = status["output"]
    assert output["greeting"] == "Hello durable!"
    assert output["fanned"] == 10
    assert output["flaky"] == "ok after 4"  # generation 1 calls it again: 4th call
    assert output["sub"] == 40 + 41 + 42
    # plain HTTP delivers the posted JSON value (the SDK client's double encoding is tested with the client)
    assert output["first"] == "first yes"
    assert output["second"] == {"who": "second"}
    assert output["generation"] == 1
    assert int(counter.read_text()) == 4  # 3 attempts in generation 0 (two retried), 1 in generation 1


def test_retry_history_matches_the_durable_extension(api):
    instance_id = api.start("always_fails")
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Failed"
    assert "the flag file is missing" in status["output"]
    shape = [(e["EventType"], e["EventId"] if e["EventType"] in (4, 10) else
              e.get("TaskScheduledId", e.get("TimerId")))
             for e in api.history(instance_id) if e["EventType"] in (4, 5, 6, 10, 11)]
    # attempt, failure, retry timer, attempt, failure, the extra timer DTFx waits before giving up
    assert shape == [(4, 0), (6, 0), (10, 1), (11, 1), (4, 2), (6, 2), (10, 3), (11, 3)]


def test_timer_wins_against_event(api, tmp_path):
    instance_id = api.start("everything", {"counter": str(tmp_path / "c"), "timeout": 0.5})
    status = api.wait(instance_id, timeout=30)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["first"] == "timed out" and status["output"]["second"] == "timed out"


def test_events_raised_before_the_wait_are_buffered(api):
    instance_id = f"buffered-{uuid.uuid4().hex}"
    api.start("wait_event", instance_id=instance_id)
    assert api.raise_event(instance_id, "go", {"early": True}).status_code == 202
    status = api.wait(instance_id)
    assert status["output"] == {"early": True}


def test_continue_as_new_loops_until_done(api):
    instance_id = api.start("counter_loop", 0)
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Completed" and status["output"] == 5


def test_call_http_is_a_durable_activity(durable_host, api):
    instance_id = api.start("http_caller", f"{durable_host.base_url}/admin/host/ping")
    status = api.wait(instance_id)
    assert status["output"]["status"] == 200
    assert json.loads(status["output"]["content"]) == {"state": "Running"}


def test_suspend_buffers_events_until_resume(api):
    instance_id = api.start("wait_event")
    api.wait(instance_id, statuses=("Running",))
    assert api.post(instance_id, "suspend", reason="hold").status_code == 202
    api.wait(instance_id, statuses=("Suspended",))
    assert api.raise_event(instance_id, "go", "while suspended").status_code == 202
    time.sleep(0.3)
    assert api.status(instance_id)["runtimeStatus"] == "Suspended"
    assert api.post(instance_id, "resume", reason="go on").status_code == 202
    assert api.wait(instance_id)["output"] == "while suspended"


def test_terminate_records_the_reason(api):
    instance_id = api.start("wait_event")
    api.wait(instance_id, statuses=("Running",))
    assert api.post(instance_id, "terminate", reason="no longer needed").status_code == 202
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "no longer needed"
    assert api.post(instance_id, "terminate", reason="again").status_code == 410
    assert api.raise_event(instance_id, "go", 1).status_code == 410


def ledger_lines(host: HostProcess, run: str) -> list[str]:
    path = Path(host.env["STEP_LEDGER"])
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.rpartition(":")[2] for line in lines if line.rpartition(":")[0] == run]


def wait_for_ledger(host: HostProcess, run: str, entry: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while entry not in ledger_lines(host, run):
        assert time.time() < deadline, f"{run}: no {entry!r} in the ledger after {timeout}s: {ledger_lines(host, run)}"
        time.sleep(0.05)


def test_terminate_cancels_the_running_async_activity(durable_host, api):
    """Issue 9 item 8: a terminated job's in-flight async work stops (on Azure it would run to its end)."""
    run = f"slow-{uuid.uuid4().hex[:8]}"
    instance_id = api.start("waits_on_slow_activity", {"run": run, "seconds": 600})
    wait_for_ledger(durable_host, run, "started")
    assert api.post(instance_id, "terminate", reason="stop it").status_code == 202
    assert api.wait(instance_id)["runtimeStatus"] == "Terminated"
    wait_for_ledger(durable_host, run, "cancelled")
    assert "finished" not in ledger_lines(durable_host, run)


def test_purge_cancels_the_running_async_activity(durable_host, api):
    run = f"slow-{uuid.uuid4().hex[:8]}"
    instance_id = api.start("waits_on_slow_activity", {"run": run, "seconds": 600})
    wait_for_ledger(durable_host, run, "started")
    assert api.client.delete(f"{api.base}/instances/{instance_id}").status_code == 200
    wait_for_ledger(durable_host, run, "cancelled")
    assert api.client.get(f"{api.base}/instances/{instance_id}").status_code == 404


def test_a_custom_status_over_azures_16_kb_fails_the_orchestration(api):
    """Azure counts the custom status as UTF-16 JSON in whole KB and fails the orchestration over 16 KB."""
    instance_id = api.start("sets_custom_status", {"text": "\u00e9", "count": 8500})  # 17,004 bytes: 16 KB
    status = api.wait_for_custom_status(instance_id, lambda s: s["customStatus"] is not None)
    assert status["runtimeStatus"] == "Running" and len(status["customStatus"]) == 8500
    assert api.raise_event(instance_id, "go", 1).status_code == 202
    assert api.wait(instance_id)["output"] == "done"
    instance_id = api.start("sets_custom_status", {"text": "\u00e9", "count": 9000})  # 18,004 bytes: 17 KB
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == ("Orchestrator function 'sets_custom_status' failed: The UTF-16 size of the "
                                "JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.")


def test_rewind_continues_from_the_failure_without_rerunning_steps(durable_host, api, tmp_path):
    flag = tmp_path / "flag"
    run = f"rewind-{uuid.uuid4().hex[:8]}"
    instance_id = api.start("guarded", {"run": run, "flag": str(flag)})
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Failed" and "the flag file is missing" in status["output"]
    flag.write_text("ok")
    assert api.post(instance_id, "rewind", reason="flag created").status_code == 202
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == [0, 1, "guard passed", 2]
    assert ledger_counts(durable_host, run) == {0: 1, 1: 1, 2: 1}


def test_rewind_reaches_into_a_failed_sub_orchestration(durable_host, api, tmp_path):
    flag = tmp_path / "flag"
    run = f"rewind-sub-{uuid.uuid4().hex[:8]}"
    instance_id = api.start("guarded_parent", {"run": run, "flag": str(flag)})
    assert api.wait(instance_id)["runtimeStatus"] == "Failed"
    flag.write_text("ok")
    assert api.post(instance_id, "rewind").status_code == 202
    status = api.wait(instance_id)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"before": 100, "sub": [0, 1, "guard passed", 2]}
    assert ledger_counts(durable_host, run) == {100: 1, 0: 1, 1: 1, 2: 1}


def test_rewind_is_refused_unless_failed(api):
    instance_id = api.start("chain", 2)
    api.wait(instance_id)
    assert api.post(instance_id, "rewind").status_code == 410
    assert api.post("no-such-instance", "rewind").status_code == 404


def test_restart_runs_the_same_input_again(api):
    instance_id = api.start("chain", 2)
    api.wait(instance_id)
    response = api.post(instance_id, "restart", restartWithNewInstanceId="true")
    assert response.status_code == 202
    new_id = response.json()["id"]
    assert new_id != instance_id
    assert api.wait(new_id)["output"] == [0, 1]
    response = api.post(instance_id, "restart", restartWithNewInstanceId="false")
    assert response.json()["id"] == instance_id
    assert api.wait(instance_id)["output"] == [0, 1]


def test_query_filters_and_pages(api):
    prefix = f"q{uuid.uuid4().hex[:6]}-"
    ids = [api.start("chain", 1, instance_id=f"{prefix}{i}") for i in range(5)]
    for instance_id in ids:
        api.wait(instance_id)
    seen, token = [], None
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        response = api.client.get(f"{api.base}/instances", params={"instanceIdPrefix": prefix, "top": 2},
                                  headers=headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page) <= 2
        seen += [item["instanceId"] for item in page]
        token = response.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    response = api.client.get(f"{api.base}/instances",
                              params={"instanceIdPrefix": prefix, "runtimeStatus": "Failed,Running"})
    assert response.json() == []


def test_purge_one_and_by_filter(api):
    instance_id = api.start("chain", 1)
    api.wait(instance_id)
    response = api.client.delete(f"{api.base}/instances/{instance_id}")
    assert response.json() == {"instancesDeleted": 1}
    assert api.client.get(f"{api.base}/instances/{instance_id}").status_code == 404
    assert api.client.delete(f"{api.base}/instances/{instance_id}").status_code == 404
    terminated = api.start("wait_event")
    api.wait(terminated, statuses=("Running",))
    api.post(terminated, "terminate")
    api.wait(terminated)
    response = api.client.delete(f"{api.base}/instances",
                                 params={"createdTimeFrom": "2000-01-01T00:00:00Z", "runtimeStatus": "Terminated"})
    assert response.status_code == 200 and response.json()["instancesDeleted"] >= 1
    assert api.client.get(f"{api.base}/instances/{terminated}").status_code == 404


def test_http_trigger_auth_levels(durable_host):
    url = f"{durable_host.base_url}/api/secure/ping"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"x-functions-key": "wrong"}).status_code == 401
    response = httpx.get(url, params={"code": durable_host.env["FUNCTIONS_DEFAULT_KEY"]})
    assert response.status_code == 200 and response.text == "pong"


def test_management_api_requires_its_key(durable_host):
    url = f"{durable_host.base_url}/runtime/webhooks/durabletask/instances"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"x-functions-key": durable_host.mcp_key}).status_code == 401
    assert httpx.get(url, params={"code": durable_host.durable_key}).status_code == 200
    # the rpc base the SDK client uses needs no key, but its secret path segment (test_security.py)
    assert httpx.get(f"{durable_host.rpc_base_url}instances").status_code == 200
    assert httpx.get(f"{durable_host.base_url}/durabletask/instances").status_code == 401


def test_third_party_app_runs_unmodified(tmp_path):
    with HostProcess(APPS / "third_party_app", tmp_path / "state") as host:
        api = DurableHttp(host)
        for name, expected in (("hello_orchestrator", ["Hello Seattle", "Hello Tokyo", "Hello London"]),
                               ("fan_out_fan_in", 385)):
            response = httpx.post(f"{host.base_url}/api/orchestrators/{name}")
            assert response.status_code == 202, response.text
            status = api.wait(response.json()["id"])
            assert status["runtimeStatus"] == "Completed" and status["output"] == expected
