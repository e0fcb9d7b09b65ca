"""At most `MODEL_MAX_CONCURRENT_CALLS` model calls in flight per deployment, per process (issue 19 §2).

A burst of jobs (a swarm fans out ten workers; ten swarms start at once) would otherwise send every call at
the same moment to one Azure OpenAI deployment, whose quota answers with a storm of 429s and retries. Each
`run_model` activity takes a slot of its deployment (the endpoint and the model or deployment name) for the
time of each request, and waits, first come first served, while none is free; a retry's backoff sleeps
without one. Unset or 0: no limit.

Scope: a slot is held in the process that runs the activity. The local host is one process, so the limit is
exact there. On Azure each instance of the function app runs its own activities with its own slots: the
deployment sees at most the limit times the number of instances (Flex Consumption scales out to the app's
maximum instance count), and `extensions.durableTask.maxConcurrentActivityFunctions` bounds activities per
instance besides.

Waiting calls show in progress: `waiting(job_id)` counts the calls of a job's instances waiting for a slot
in this process (the job tools add it to the progress message; on Azure, when the status is read on the
instance where the calls wait).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from typing import AsyncIterator

log = logging.getLogger(__name__)

LIMIT_SETTING = "MODEL_MAX_CONCURRENT_CALLS"


def _limit() -> int:
    raw = os.environ.get(LIMIT_SETTING, "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        log.error("%s must be a whole number (0 for no limit), not %r: no limit is applied", LIMIT_SETTING, raw)
        return 0
    return int(raw)


@dataclass
class _Deployment:
    busy: int = 0
    queue: deque = field(default_factory=deque)  # futures of calls waiting, first come first served


@dataclass
class ModelSlots:
    """The slots of every deployment this process calls."""

    limit: int
    deployments: dict[str, _Deployment] = field(default_factory=dict)
    waiting_by_instance: dict[str, int] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def slot(self, deployment: str, instance_id: str | None) -> AsyncIterator[None]:
        """Hold a slot of `deployment` for the body (at once when one is free or there is no limit)."""
        if self.limit <= 0:
            yield
            return
        state = self.deployments.setdefault(deployment, _Deployment())
        if state.busy >= self.limit or state.queue:
            waiter = asyncio.get_running_loop().create_future()
            state.queue.append(waiter)
            key = instance_id or ""
            self.waiting_by_instance[key] = self.waiting_by_instance.get(key, 0) + 1
            try:
                await waiter  # the slot is handed over by the call that frees it
            except BaseException:
                if waiter in state.queue:
                    state.queue.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._release(state)  # handed over, but this call is gone: pass it on
                raise
            finally:
                self.waiting_by_instance[key] -= 1
                if not self.waiting_by_instance[key]:
                    del self.waiting_by_instance[key]
        else:
            state.busy += 1
        try:
            yield
        finally:
            self._release(state)

    @staticmethod
    def _release(state: _Deployment) -> None:
        while state.queue:
            waiter = state.queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # busy stays: the slot goes to the next call
                return
        state.busy -= 1

    def waiting(self, job_id: str) -> int:
        """Calls of the job's instances (`job_id`, `job_id:...`) waiting for a slot in this process."""
        return sum(count for instance, count in self.waiting_by_instance.items()
                   if instance == job_id or instance.startswith(f"{job_id}:"))


SLOTS = ModelSlots(_limit())
