"""The per-deployment limit on model calls in flight (issue 19 §2, MODEL_MAX_CONCURRENT_CALLS): a swarm's
parallel workers never have more calls at the model server than the limit, and the calls that wait show in
the job's progress."""
from __future__ import annotations

import asyncio

from testing.host_process import project_host
from testing.mcp_client import call, connect, wait_until

SLOW = 1.5  # seconds the scripted server takes per worker answer


def swarm_script() -> dict:
    tasks = [{"id": n, "title": f"Part {n}", "instructions": f"Write part {n}."} for n in (1, 2, 3)]
    return {
        "swarm-planner": [{"json": {"contract": "One Markdown section each.", "tasks": tasks}}],
        **{f"swarm-worker-{n}": [{"json": {"status": "done", "result": f"part {n}"}, "delay": SLOW}] for n in (1, 2, 3)},
        "swarm-judge": [{"json": {"score": 90, "complaints": []}}],
    }


async def run_swarm(host) -> tuple[dict, list[str]]:
    messages: list[str] = []
    async with connect(host) as client:
        job = await call(client, "run_swarm", goal="Write three parts")
        while job["status"] not in ("completed", "failed"):
            job = await call(client, "get_job", job_id=job["job_id"])
            messages.append(job["progress"]["message"])
            await asyncio.sleep(0.2)
        job = await wait_until(client, job["job_id"])
    return job, messages


async def test_a_limit_of_one_serialises_the_workers_calls_and_says_they_wait(tmp_path, model, site):
    model.reset()
    model.script(swarm_script())
    host = project_host(tmp_path / "state", model, site, MODEL_MAX_CONCURRENT_CALLS="1").start()
    try:
        job, messages = await run_swarm(host)
    finally:
        host.stop()
    assert job["status"] == "completed", job
    assert model.stats().max_in_flight == 1
    waiting = [message for message in messages if "waiting for a free slot of the model deployment" in message]
    assert waiting and "MODEL_MAX_CONCURRENT_CALLS=1" in waiting[0], messages


async def test_without_a_limit_the_workers_calls_overlap(host, model):
    """The same swarm on a host without the setting: its workers' calls are at the server together."""
    model.reset()
    model.script(swarm_script())
    job, messages = await run_swarm(host)
    assert job["status"] == "completed", job
    assert model.stats().max_in_flight == 3
    assert not [message for message in messages if "waiting for a free slot" in message]
