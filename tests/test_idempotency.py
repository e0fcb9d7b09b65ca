"""Idempotent launches (issue 8.8): the same idempotency_key within 24 hours returns the same job,
over MCP and over the HTTP starter's Idempotency-Key header, because the instance id derives from
the key. Against the real host; the 24-hour window is exercised by giving `start_once` the time,
with the SDK's own DurableOrchestrationClient on the host."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
from azure.durable_functions import DurableOrchestrationClient

from testing.mcp_client import call, call_error, connect, wait_until
from tools.caller import KEY_OWNER
from tools.idempotency import WINDOW_SECONDS, start_once

AGENT = "fake-model"


def sdk_client(host) -> DurableOrchestrationClient:
    binding = {"taskHubName": "DurableAgents", "creationUrls": {},
               "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": "x?id=INSTANCEID"},
               "rpcBaseUrl": host.rpc_base_url}
    return DurableOrchestrationClient(json.dumps(binding))


async def test_same_key_returns_the_same_job_even_after_it_ended(host, model):
    model.reset()
    model.script({AGENT: [{"text": "once"}]})
    key = str(uuid.uuid4())
    async with connect(host) as client:
        first = await call(client, "run_agent", task="say once", idempotency_key=key)
        done = await wait_until(client, first["job_id"])
        again = await call(client, "run_agent", task="say once", idempotency_key=key)
        other_workflow = await call(client, "plan_trip", request="say once", idempotency_key=key)
        await call(client, "cancel_job", job_id=other_workflow["job_id"])
        refused = await call_error(client, "run_agent", task="say something else", idempotency_key=key)
    assert done["status"] == "completed" and done["output"]["final_output"] == "once"
    assert again["job_id"] == first["job_id"] and again["status"] == "completed"
    assert key not in first["job_id"] and other_workflow["job_id"] != first["job_id"]
    assert refused == (f"idempotency_key '{key}' was used for another run_agent request (job {first['job_id']}) "
                       "with other arguments. Allowed: the same arguments again, or a new key.")
    assert model.stats().by_agent[AGENT] == 1


async def test_concurrent_launches_and_the_http_starter_share_the_job(host, model):
    """Lost responses are retried: several launches with one key at once give one job, and the HTTP
    starter's Idempotency-Key header names the same job as the MCP launcher's idempotency_key."""
    model.reset()
    model.script({AGENT: [{"text": "shared", "repeat": True}]})
    key = str(uuid.uuid4())
    async with connect(host) as client:
        jobs = await asyncio.gather(*(call(client, "run_agent", task="share", idempotency_key=key) for _ in range(5)))
        url = f"{host.base_url}/api/jobs/run_agent"
        headers = {"x-functions-key": host.env["FUNCTIONS_DEFAULT_KEY"], "Idempotency-Key": key}
        started = [httpx.post(url, headers=headers, json={"task": "share"}) for _ in range(2)]
        await wait_until(client, jobs[0]["job_id"])
    assert {job["job_id"] for job in jobs} == {jobs[0]["job_id"]}
    assert [response.status_code for response in started] == [202, 202]
    assert {response.json()["id"] for response in started} == {jobs[0]["job_id"]}
    assert model.stats().by_agent[AGENT] == 1


async def test_the_key_holds_for_24_hours_and_never_overwrites_an_older_job(host, model):
    model.reset()
    model.script({AGENT: [{"text": "window", "repeat": True}]})
    client = sdk_client(host)
    spec = {"task": "window", "instructions": None, "tools": [], "model": None}
    key, now = str(uuid.uuid4()), time.time()
    launch = ("run_agent_workflow", "run_agent", spec, key, KEY_OWNER)
    first = await start_once(client, *launch, now=now)
    next_day = await start_once(client, *launch, now=now + WINDOW_SECONDS - 60)
    later = await start_once(client, *launch, now=now + WINDOW_SECONDS + 60)
    assert next_day == first, "within 24 hours, also across the midnight of the id's day"
    assert later != first, "after 24 hours the key starts a new job"
    assert (await client.get_status(first)).instance_id == first, "the older job is kept"
