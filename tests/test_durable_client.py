"""The Durable SDK's own DurableOrchestrationClient, unmodified, against the local host's rpc base URL."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.durable_functions import (
    DurableOrchestrationClient,
    OrchestrationRuntimeStatus,
)


@pytest.fixture
def client(durable_host) -> DurableOrchestrationClient:
    binding = {
        "taskHubName": "EngineTests",
        "creationUrls": {}, "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": "x?id=INSTANCEID"},
        "rpcBaseUrl": durable_host.rpc_base_url,
    }
    return DurableOrchestrationClient(json.dumps(binding))


async def wait(client: DurableOrchestrationClient, instance_id: str, *statuses: OrchestrationRuntimeStatus):
    statuses = statuses or (OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed,
                            OrchestrationRuntimeStatus.Terminated)
    for _ in range(600):
        status = await client.get_status(instance_id)
        if status.runtime_status in statuses:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} stuck in {status.runtime_status}")


async def test_start_status_history_and_events(client):
    instance_id = await client.start_new("wait_event", None, {"a": 1})
    status = await wait(client, instance_id, OrchestrationRuntimeStatus.Running)
    assert status.name == "wait_event"
    await client.raise_event(instance_id, "go", {"approved": True})
    status = await wait(client, instance_id)
    # Azure's encoding: the SDK client double-encodes event data, so the orchestrator gets JSON text
    assert status.output == '{"approved": true}'
    full = await client.get_status(instance_id, show_history=True, show_history_output=True, show_input=True)
    assert json.loads(full.input_) == {"a": 1}
    # the extension's shape: names, not numbers; no replay bookkeeping events
    assert [(e["EventType"], e.get("FunctionName")) for e in full.historyEvents][:2] == [
        ("ExecutionStarted", "wait_event"), ("EventRaised", None)]
    assert full.historyEvents[-1]["OrchestrationStatus"] == "Completed"


async def test_query_terminate_suspend_resume_purge(client):
    waiting = await client.start_new("wait_event")
    await wait(client, waiting, OrchestrationRuntimeStatus.Running)
    await client.suspend(waiting, "hold")
    await wait(client, waiting, OrchestrationRuntimeStatus.Suspended)
    await client.resume(waiting, "go")
    await wait(client, waiting, OrchestrationRuntimeStatus.Running)
    await client.terminate(waiting, "stop it")
    status = await wait(client, waiting)
    assert status.runtime_status == OrchestrationRuntimeStatus.Terminated and status.output == "stop it"
    since = datetime.now(timezone.utc) - timedelta(minutes=10)
    found = await client.get_status_by(created_time_from=since, runtime_status=[OrchestrationRuntimeStatus.Terminated])
    assert waiting in [s.instance_id for s in found]
    assert (await client.purge_instance_history(waiting)).instances_deleted == 1
    assert not (await client.get_status(waiting))


async def test_rewind_and_restart(client, tmp_path):
    flag = tmp_path / "flag"
    instance_id = await client.start_new("guarded", None, {"run": "client-rewind", "flag": str(flag)})
    assert (await wait(client, instance_id)).runtime_status == OrchestrationRuntimeStatus.Failed
    flag.write_text("ok")
    await client.rewind(instance_id, "fixed")
    status = await wait(client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed
    restarted = await client.restart(instance_id, restart_with_new_instance_id=True)
    new_id = restarted["id"] if isinstance(restarted, dict) else restarted
    assert (await wait(client, new_id)).output == [0, 1, "guard passed", 2]
