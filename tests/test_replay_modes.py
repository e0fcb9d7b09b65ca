"""The host's two replay modes (README "Durable agents on the local host"; issue 17 §3): `kept` keeps
orchestrators and agents alive between episodes, `azure` replays every episode from the start of its history
on the worker's thread pool, as Azure's Python worker does. They write the same history, so a job started in
one mode goes on in the other, after a SIGKILL too, and no recorded step runs again."""
from __future__ import annotations

import asyncio
import re
import time

from testing.durable_http import DurableHttp
from testing.host_process import TEST_APPS, HostProcess, project_host
from testing.mcp_client import call, connect, wait_until
from tests.test_agent_jobs import AGENT
from tests.test_trip import TRIP_AGENTS, bookings_of, trip_script, waiting_trip

async def test_an_agent_job_killed_between_tool_calls_goes_on_in_the_other_mode(tmp_path, model, site):
    first, then = "kept", "azure"
    model.reset()
    model.script({AGENT: [
        {"tool_calls": [{"name": "fetch_url", "arguments": {"url": f"{site.base}/fast-{first}"}}]},
        {"tool_calls": [{"name": "fetch_url", "arguments": {"url": f"{site.base}/slow-{first}"}}]},
        lambda request: {"text": "read: " + " | ".join(request.tool_outputs())},
    ]})
    host = project_host(tmp_path / "state", model, site, replay=first).start()
    try:
        async with connect(host) as client:
            job = await call(client, "run_agent", task="Read two pages", tools=["fetch_url"])
        deadline = time.monotonic() + 30
        while site.hits.get(f"/slow-{first}", 0) == 0:  # the job is inside its 2nd tool call
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        host.kill()
    host = project_host(tmp_path / "state", model, site, replay=then).start()
    try:
        async with connect(host) as client:
            done = await wait_until(client, job["job_id"])
    finally:
        host.stop()
    assert done["status"] == "completed", done
    assert f"page /fast-{first}" in done["output"]["final_output"] and done["output"]["model_calls"] == 3
    assert model.stats().by_agent[AGENT] == 3, "a recorded model call was made again"
    assert site.hits[f"/fast-{first}"] == 1, "a recorded tool call was made again"


async def test_a_trip_waiting_for_approval_is_approved_in_the_other_mode(tmp_path, model, site):
    first, then = "azure", "kept"
    model.reset()
    model.script(trip_script())
    app_data = tmp_path / "appdata"
    host = project_host(tmp_path / "state", model, site, replay=first, APP_DATA_DIR=str(app_data)).start()
    try:
        async with connect(host) as client:
            job = await waiting_trip(client)
    finally:
        host.stop()
    assert job["status"] == "waiting_for_input", job
    host = project_host(tmp_path / "state", model, site, replay=then, APP_DATA_DIR=str(app_data)).start()
    try:
        async with connect(host) as client:
            await call(client, "send_job_input", job_id=job["job_id"], event="approval", data={"approved": True})
            done = await wait_until(client, job["job_id"])
    finally:
        host.stop()
    assert done["status"] == "completed" and done["output"]["booking"]["reference"].startswith("TRIP-"), done
    assert model.stats().by_agent == dict.fromkeys(TRIP_AGENTS, 1), "a recorded model call was made again"
    assert len(bookings_of(app_data, job["job_id"])) == 1


def skeleton(history: list[dict]) -> list[tuple]:
    """What makes two histories the same to the SDK's replay: the events, their order and their task ids
    (times, and what comes from them - a step's id ends with `context.new_uuid()`, made from the time of
    the episode - and the model server's random response ids left out)."""
    return [(e["EventType"], e["EventId"], e.get("Name"), e.get("TaskScheduledId"), e.get("TimerId"),
             e.get("OrchestrationStatus")) for e in history]


def step_label(instance_id: str) -> str:
    """A step's instance id without its time-made suffix (orchestrations/step_ids.py)."""
    return re.sub(r"-[0-9a-f]{8}$", "", instance_id)


async def test_both_modes_write_the_same_history(tmp_path, model, site):
    """One trip, with the same idempotency key (so the same job id) on a host in each mode: the job's
    history and those of its steps are event for event the same."""
    histories = {}
    for mode in ("kept", "azure"):
        model.reset()
        model.script(trip_script())
        host = project_host(tmp_path / mode, model, site, replay=mode, APP_DATA_DIR=str(tmp_path / f"data-{mode}"))
        try:
            host.start()
            async with connect(host) as client:
                job = await waiting_trip(client, idempotency_key="one-trip")
                await call(client, "send_job_input", job_id=job["job_id"], event="approval", data={"approved": True})
                done = await wait_until(client, job["job_id"])
            assert done["status"] == "completed", done
            api = DurableHttp(host)
            instances = sorted(i["instanceId"] for i in api.instances(instanceIdPrefix=job["job_id"], top=100))
            histories[mode] = {step_label(instance_id): skeleton(api.history(instance_id)) for instance_id in instances}
        finally:
            host.stop()
    assert len(histories["kept"]) > 3  # the job and its steps
    assert histories["kept"] == histories["azure"]


def test_code_that_changes_between_replays_fails_as_on_azure(tmp_path):
    """The Azure-like mode replays every episode, so orchestrator code that is not deterministic fails there
    as it does on Azure ("Non-Deterministic workflow detected"); kept alive, its code ran once and completed."""
    with HostProcess(TEST_APPS / "replay_app", tmp_path / "state", replay="azure") as host:
        api = DurableHttp(host)
        status = api.wait(api.start("counts_its_runs"), timeout=60)
    assert status["runtimeStatus"] == "Failed", status
    assert "Non-Deterministic workflow detected" in status["output"], status["output"]
    assert "TaskScheduled first with sequence number 0" in status["output"], status["output"]
