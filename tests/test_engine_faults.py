"""Bad input and faulty code: each gets a clear error, and the host keeps serving everything else."""
from __future__ import annotations

import httpx


def assert_still_serving(api) -> None:
    instance_id = api.start("chain", 2)
    assert api.wait(instance_id)["output"] == [0, 1]


def test_unknown_orchestrator_is_a_400(api):
    response = api.client.post(f"{api.base}/orchestrators/no_such_orchestrator", json=1)
    assert response.status_code == 400
    assert "no_such_orchestrator" in response.json()["ExceptionMessage"]
    assert_still_serving(api)


def test_malformed_json_body_is_a_400(api):
    response = api.client.post(f"{api.base}/orchestrators/chain", content=b"{not json",
                                headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = api.client.post(f"{api.base}/instances/x/raiseEvent/go", content=b"text",
                               headers={"content-type": "text/plain"})
    assert response.status_code == 400 and "application/json" in response.text
    assert_still_serving(api)


def test_oversized_payloads_are_refused(api):
    big = "x" * 70_000  # the test app's host.json sets localHost.maxPayloadBytes to 65,536
    response = api.client.post(f"{api.base}/orchestrators/chain", json=big)
    assert response.status_code == 413 and "65536" in response.text
    waiting = api.start("wait_event")
    response = api.raise_event(waiting, "go", big)
    assert response.status_code == 413
    assert api.raise_event(waiting, "go", "small").status_code == 202
    assert api.wait(waiting)["output"] == "small"


def test_oversized_activity_result_fails_the_instance_clearly(api):
    status = api.wait(api.start("big_output", 100_000))
    assert status["runtimeStatus"] == "Failed"
    assert "over the local host's limit of 65536 bytes" in status["output"]
    assert_still_serving(api)


def test_unknown_instance_and_event_targets(api):
    assert api.client.get(f"{api.base}/instances/nope").status_code == 404
    assert api.raise_event("nope", "go", 1).status_code == 404
    assert api.post("nope", "terminate").status_code == 404
    assert api.post("nope", "suspend").status_code == 404


def test_faulty_orchestrations_fail_with_their_reason(api):
    cases = {
        "raises": "orchestrator says no",
        "calls_missing": "The function 'no_such_activity' doesn't exist",
        "calls_missing_sub": "The function 'no_such_orchestrator' doesn't exist",
        "returns_object": "not JSON serializable",
        "activity_returns_object": "must be json serializable",
    }
    for name, reason in cases.items():
        status = api.wait(api.start(name))
        assert status["runtimeStatus"] == "Failed", name
        assert reason in status["output"], (name, status["output"])
    assert_still_serving(api)


def test_duplicate_running_instance_id_is_refused(api):
    api.start("wait_event", instance_id="dup-1")
    response = api.client.post(f"{api.base}/orchestrators/wait_event/dup-1")
    assert response.status_code == 409
    assert api.raise_event("dup-1", "go", "done").status_code == 202
    assert api.wait("dup-1")["output"] == "done"


def test_durable_client_binding_needs_no_key_on_loopback(durable_host):
    response = httpx.post(f"{durable_host.base_url}/durabletask/orchestrators/chain", json=1)
    assert response.status_code == 202
