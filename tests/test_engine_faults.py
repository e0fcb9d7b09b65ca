"""Bad input and faulty code: each gets a clear error, and the host keeps serving everything else."""
from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest


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


def test_payloads_are_counted_as_azure_stores_them(api):
    """The limit applies to a payload as the Durable extension stores it, in UTF-8 (host/durable/payloads.py),
    not to the worker's ASCII-escaped JSON text: a CJK character is 3 bytes in a result or an output but
    7 in an activity input, where the worker's escape is quoted once more."""
    # 42,002 bytes (108,002 as the worker escapes it)
    done = api.wait(api.start("text_output", {"text": "日😀", "count": 6_000}))
    assert done["runtimeStatus"] == "Completed", done["output"]
    assert done["output"] == "日😀" * 6_000
    failed = api.wait(api.start("text_output", {"text": "日", "count": 22_000}))
    assert failed["runtimeStatus"] == "Failed"
    assert "its result is 66002 bytes, over the local host's limit of 65536 bytes" in failed["output"]
    # 30,000 backslashes: 60,002 bytes as the worker writes the input, 120,008 as DTFx stores it
    failed = api.wait(api.start("text_input", "\\" * 30_000))
    assert failed["runtimeStatus"] == "Failed"
    assert "the input of activity 'noop' is 120008 bytes, over the local host's limit" in failed["output"]
    waiting = api.start("wait_event")
    assert api.raise_event(waiting, "go", "日" * 15_000).status_code == 202  # 45,002 bytes
    assert api.wait(waiting)["output"] == "日" * 15_000
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


def test_durable_client_binding_needs_no_key_but_its_rpc_secret(durable_host):
    response = httpx.post(f"{durable_host.rpc_base_url}orchestrators/chain", json=1)
    assert response.status_code == 202


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# (method, path under the public API, query params, extra headers, body): each must get a 4xx with a
# message, never a 500 or a hang, and create nothing (issue 9 item 5, issue 8 item 8).
BAD_REQUESTS = {
    "start: JSON 30,000 levels deep": ("POST", "/orchestrators/chain", {}, {}, nested(30_000)),
    "start: JSON 65 levels deep (Azure's limit is 64)": ("POST", "/orchestrators/chain", {}, {}, nested(65)),
    "start: NaN": ("POST", "/orchestrators/chain", {}, {}, b"NaN"),
    "start: number out of range": ("POST", "/orchestrators/chain", {}, {}, b"[1e999]"),
    "start: integer of 5,000 digits": ("POST", "/orchestrators/chain", {}, {}, b"1" * 5000),
    "start: not UTF-8": ("POST", "/orchestrators/chain", {}, {}, b'"\xff"'),
    "start: timeout=abc": ("POST", "/orchestrators/chain", {"timeout": "abc"}, {}, b"1"),
    "start: timeout=-1": ("POST", "/orchestrators/chain", {"timeout": "-1"}, {}, b"1"),
    "start: timeout=nan": ("POST", "/orchestrators/chain", {"timeout": "nan"}, {}, b"1"),
    "start: timeout=inf": ("POST", "/orchestrators/chain", {"timeout": "inf"}, {}, b"1"),
    "start: pollingInterval=x": ("POST", "/orchestrators/chain", {"timeout": "1", "pollingInterval": "x"}, {}, b"1"),
    "start with id: timeout=abc": ("POST", "/orchestrators/chain/fuzz-created", {"timeout": "abc"}, {}, b"1"),
    "raiseEvent: JSON 30,000 levels deep": ("POST", "/instances/{waiting}/raiseEvent/go", {}, {}, nested(30_000)),
    "raiseEvent: Infinity": ("POST", "/instances/{waiting}/raiseEvent/go", {}, {}, b"Infinity"),
    "list: top=99999999999999999999": ("GET", "/instances", {"top": "99999999999999999999"}, {}, None),
    "list: top=0": ("GET", "/instances", {"top": "0"}, {}, None),
    "list: top=1.5": ("GET", "/instances", {"top": "1.5"}, {}, None),
    "list: createdTimeFrom=abc": ("GET", "/instances", {"createdTimeFrom": "abc"}, {}, None),
    **{f"list: continuation token {token[:12]}": ("GET", "/instances", {}, {"x-ms-continuation-token": token}, None)
       for token in ("1", "null", "[[1],[2]]", '"x"', "[1]", "[true, \"x\"]", "[1e999, \"x\"]", "not json",
                     "[" * 5000)},
    "purge by filter: createdTimeFrom=abc": ("DELETE", "/instances", {"createdTimeFrom": "abc"}, {}, None),
    "purge by filter: runtimeStatus=Bogus": ("DELETE", "/instances", {"createdTimeFrom": "2000-01-01T00:00:00Z",
                                                                     "runtimeStatus": "Running,Bogus"}, {}, None),
    "list: runtimeStatus=Bogus": ("GET", "/instances", {"runtimeStatus": "Bogus"}, {}, None),
    "restart: restartWithNewInstanceId=maybe": ("POST", "/instances/{waiting}/restart",
                                                {"restartWithNewInstanceId": "maybe"}, {}, None),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_clear_4xx_and_change_nothing(api, case):
    method, path, params, headers, body = BAD_REQUESTS[case]
    waiting = api.start("wait_event")
    count = len(api.client.get(f"{api.base}/instances", params={"top": 10_000}).json())
    response = api.client.request(method, api.base + path.format(waiting=waiting), params=params,
                                  headers={"content-type": "application/json", **headers}, content=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["Message"], response.text[:300]
    assert len(api.client.get(f"{api.base}/instances", params={"top": 10_000}).json()) == count
    assert api.client.get(f"{api.base}/instances/fuzz-created").status_code == 404
    assert api.raise_event(waiting, "go", "after").status_code == 202
    assert api.wait(waiting)["output"] == "after"  # no bad event reached it, and the host keeps serving
    assert_still_serving(api)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_bad_time_names_the_parameter_not_pythons_parser(api, method):
    """Was "Invalid isoformat string: 'notadate'" (Python's datetime wording)."""
    response = api.client.request(method, f"{api.base}/instances", params={"createdTimeFrom": "notadate"})
    assert response.status_code == 400
    assert response.json()["Message"] == ("createdTimeFrom must be an ISO 8601 time such as 2026-01-31T12:00:00Z, "
                                          "got 'notadate'")


def test_json_up_to_azures_depth_limit_is_accepted(api):
    value = json.loads(nested(64))
    instance_id = api.start("wait_event", value)
    assert api.status(instance_id, showInput="true")["input"] == value


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_create_and_wait_with_polling_interval_zero_is_no_busy_loop(api, durable_host):
    """pollingInterval=0 used to spin the event loop (89 % of a core) for the whole timeout."""
    before = cpu_seconds(durable_host.proc.pid)
    response = api.client.post(f"{api.base}/orchestrators/wait_event", params={"timeout": "5", "pollingInterval": "0"})
    used = cpu_seconds(durable_host.proc.pid) - before
    assert response.status_code == 202  # still running when the wait ends: the check-status answer
    assert used < 1.0, f"the host used {used:.2f} s of CPU while one request waited 5 s"
    assert_still_serving(api)
