"""The README's walkthrough, run as an MCP client (the official `mcp` client over Streamable HTTP):
launch a swarm and watch its progress, launch a trip and approve it, poll a job over plain HTTP, and
launch a code swarm, watch it, read its files as MCP resources and download the result."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from orchestrations.wording import plural
from testing.model_scripts.code_swarm import GOAL as CODE_GOAL

SWARM_GOAL = "Plan a two-day offsite for 12 people with 4800 EUR"
TRIP_REQUEST = "A long weekend in spring, trains only, good food"
POLL_SECONDS = 0.05


class Walkthrough:
    """Numbered steps that print what a user would type and what came back."""

    def __init__(self, client: Client):
        self.client = client
        self.step = 0
        self.last_progress = ""

    def title(self, text: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {text}", flush=True)

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        shown = ", ".join(f"{name}={json.dumps(value)}" for name, value in arguments.items())
        print(f"> {tool}({shown})", flush=True)
        result = await self.client.call_tool(tool, arguments)
        text = result.content[0].text
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {text}")
        return json.loads(text)

    async def follow(self, job: dict[str, Any], until: tuple[str, ...]) -> dict[str, Any]:
        """Poll get_job and print each new progress message until the job reaches one of `until`."""
        while True:
            progress = job["progress"]
            line = f"  [{job['status']}] {progress['stage']}: {progress['message'].splitlines()[0]}"
            if line != self.last_progress:
                print(line, flush=True)
                self.last_progress = line
            if job["status"] in until:
                return job
            if job["status"] in ("completed", "failed", "canceled"):
                raise RuntimeError(f"job {job['job_id']} ended as {job['status']}: {job.get('error')}")
            await asyncio.sleep(POLL_SECONDS)
            job = json.loads((await self.client.call_tool("get_job", {"job_id": job["job_id"]})).content[0].text)


async def swarm(walk: Walkthrough) -> None:
    walk.title("Launch a swarm and watch its progress")
    job = await walk.call("run_swarm", goal=SWARM_GOAL, max_workers=3)
    print(f"  job_id {job['job_id']}")
    out = (await walk.follow(job, ("completed",)))["output"]
    print(f"  plan: contract + tasks {[task['id'] for task in out['plan']['tasks']]} (ids normalised to text)")
    for part in out["contributions"]:
        retried = f", retried because {part['problems'][0]}" if part["problems"] else ""
        print(f"  task {part['task_id']} {part['title']}: {part['status']} after {plural(part['attempts'], 'attempt')}"
              f"{retried}")
    print(f"  judge: {out['score']}/100 (threshold {out['quality_threshold']}) after "
          f"{plural(out['rounds'], 'fixing round')}; gaps: {out['gaps'] or 'none'}")
    print("  final result:\n    " + out["result"].replace("\n", "\n    "))


async def trip(walk: Walkthrough) -> dict[str, Any]:
    walk.title("Launch a trip and approve it")
    job = await walk.call("plan_trip", request=TRIP_REQUEST)
    job = await walk.follow(job, ("waiting_for_input",))
    request = job["input_request"]
    print(f"  input_request: event {request['event']!r}, schema {json.dumps(request['schema'])}")
    print("  prompt:\n    " + request["prompt"].replace("\n", "\n    "))
    for part, text in (request.get("details") or {}).items():
        print(f"  details.{part}: {text}")
    job = await walk.call("send_job_input", job_id=job["job_id"], event="approval",
                          data={"approved": True, "comment": "window seats, please"})
    job = await walk.follow(job, ("completed",))
    booking = job["output"]["booking"]
    print(f"  booked: {booking['reference']} at {booking['booked_at']} (one booking per job, however often it runs)")
    return job


async def poll_over_http(walk: Walkthrough, job: dict[str, Any], durable_key: str) -> None:
    walk.title("Poll a job over HTTP (the Durable management API)")
    url = job["links"]["status_url"]  # links carry no key: add the durabletask_extension key from keys.json
    print(f'$ curl "{url}&code=<durabletask_extension key>"')
    body = httpx.get(url, params={"code": durable_key}, timeout=30).json()
    print(f"  runtimeStatus {body['runtimeStatus']}, customStatus {json.dumps(body['customStatus'])}")


async def code_swarm(walk: Walkthrough, function_key: str) -> None:
    walk.title("Launch a code swarm, watch it, read its files, download the result")
    job = await walk.call("run_code_swarm", goal=CODE_GOAL, max_workers=3)
    job = await walk.follow(job, ("completed",))
    out = job["output"]
    print(f"  plan: tasks {[task['id'] for task in out['plan']['tasks']]} owning "
          f"{', '.join(sorted(out['plan']['owners']))} (names normalised once)")
    for part in out["branches"]:
        nudged = f", nudged because {part['problems'][0]}" if part["problems"] else ""
        print(f"  {part['branch']}: {part['status']} after {plural(part['attempts'], 'attempt')}, added "
              f"{', '.join(part['changes']['added'])}{nudged}")
    for merge in out["merges"]:
        how = "clean (git)" if merge["clean"] else ", ".join(
            f"conflict in {c['path']} {c['status']} by the integrator" for c in merge["conflicts"])
        print(f"  merge {merge['branch']} -> {merge['into']}: {how}")
    for past in out["quality_history"]:
        tests = past["checks"]["tests"]
        failed = [line for line in tests["output"].splitlines() if line.startswith("FAILED")]
        print(f"  checks before fixing round {past['round'] + 1}: tests {'pass' if tests['ok'] else 'FAIL'} "
              f"{failed[:1]}; judge {past['score']}")
    checks = out["checks"]
    print(f"  final checks: parse {checks['parse']['ok']}, ruff {checks['ruff']['ok']}, tests "
          f"{checks['tests']['output'].splitlines()[-1]} in {checks['tests']['sandbox']}; judge {out['score']}/100 "
          f"after {plural(out['rounds'], 'fixing round')}; gaps: {out['gaps'] or 'none'}")
    listing = json.loads((await walk.client.read_resource(f"workspace://{job['job_id']}/files")).contents[0].text)
    print(f"  resource workspace://{job['job_id']}/files:")
    for entry in listing["files"]:
        print(f"    {entry['path']} ({entry['size']} bytes)  {entry['uri']}")
    cli = (await walk.client.read_resource(listing["files"][-1]["uri"])).contents[0].text
    print(f"  {listing['files'][-1]['path']} begins: {cli.splitlines()[0]}")
    for kind in ("zip", "bundle"):
        url = job["links"][f"{kind}_url"]
        print(f'$ curl -H "x-functions-key: <default key>" -o job.{kind} "{url}"')
        body = httpx.get(url, headers={"x-functions-key": function_key}, timeout=60)
        print(f"  HTTP {body.status_code}, {len(body.content)} bytes" +
              ("; then: git clone job.bundle todo-cli" if kind == "bundle" else ""))


async def run_walkthrough(base_url: str, keys: dict[str, str]) -> None:
    async with httpx2.AsyncClient(headers={"x-functions-key": keys["mcp_extension"]}, timeout=90) as http:
        async with Client(streamable_http_client(f"{base_url}/runtime/webhooks/mcp", http_client=http),
                          mode="legacy") as client:
            walk = Walkthrough(client)
            await swarm(walk)
            job = await trip(walk)
            await poll_over_http(walk, job, keys["durabletask_extension"])
            await code_swarm(walk, keys["default"])
