"""run_agent jobs the agent tests share: the calculator's three turns, and the crash (a job reads two pages of the
counting site, its host is SIGKILLed while the second read is in flight, between its 2nd and 3rd model calls,
then restarted, and the job runs to its end from what its history recorded)."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from .host_process import HostProcess
from .mcp_client import call, connect, wait_until


def calculator_turns() -> list:
    """(2+3)*7 in two calculate calls, then the answer: "The answer is 35."."""
    return [
        {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+3"}}]},
        lambda request: {"tool_calls": [{"name": "calculate",
                                         "arguments": {"expression": f"{request.tool_outputs()[-1]}*7"}}]},
        lambda request: {"text": f"The answer is {request.tool_outputs()[-1]}."},
    ]


def two_reads_script(site_base: str, first: str, second: str) -> list:
    """Turns that read `first`, then `second` (paths of the counting site), then answer with both pages."""
    return [
        {"tool_calls": [{"name": "fetch_url", "arguments": {"url": f"{site_base}{first}"}}]},
        {"tool_calls": [{"name": "fetch_url", "arguments": {"url": f"{site_base}{second}"}}]},
        lambda request: {"text": "read: " + " | ".join(request.tool_outputs())},
    ]


async def killed_during_second_read(host: HostProcess, model, site, agent: str, second: str,
                                    while_down: Callable[[], None] = lambda: None) -> tuple[dict, int]:
    """Start the job on the started `host` (its model script set), SIGKILL the host once `second` is being read,
    call `while_down()`, restart the host and wait for the job's end: (its final status, the model calls `agent`
    had made before the kill). The host is stopped afterwards."""
    try:
        async with connect(host) as client:
            job = await call(client, "run_agent", task="Read two pages", tools=["fetch_url"])
        deadline = time.monotonic() + 30
        while site.hits.get(second, 0) == 0:  # the job is inside its 2nd tool call
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        calls_before = model.stats().by_agent[agent]
        host.kill()
        while_down()
        host.start()
        async with connect(host) as client:
            return await wait_until(client, job["job_id"]), calls_before
    finally:
        host.stop()
