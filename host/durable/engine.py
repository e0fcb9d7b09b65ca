"""The durable engine: the executor (`episode`), the backend that applies its decisions (`backend`,
`scheduler`, `activities`, `timers`), recovery after a restart, and the management operations.

Everything that changes state is one transaction of the `HistoryStore`, and takes effect (an activity
started, a timer armed, an instance woken) only after its commit, so a SIGKILL at any point leaves a store
from which `start()` picks up: inboxes are delivered again, activities that were scheduled but not
recorded run again (at least once), and timers are re-armed (firing late if their time passed while the
host was down). An activity whose completion was committed is never run again.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import Executor

from host.durable.activities import ActivityRunner
from host.durable.backend import Backend
from host.durable.config import EngineConfig
from host.durable.episode import Message
from host.durable.management import Management
from host.durable.scheduler import Scheduler
from host.durable.store import HistoryStore
from host.durable.timers import TimerService
from host.functions.invoker import FunctionInvoker
from host.functions.loader import LoadedApp

# The Durable SDK looks this variable up for every payload it encodes or decodes; a lookup of an unset
# variable costs an exception in os.environ (a tenth of the CPU of short steps). Empty means unset to it.
STRICT_TYPING = "AZURE_FUNCTIONS_DURABLE_STRICT_TYPING"
ORCHESTRATOR_WORKERS = 4  # kept sessions: batches of episodes in flight at once (the threads of the server's pool)


class Engine(Management):
    """Owns every instance's scheduling; the management API calls its operations (`Management`)."""

    def __init__(self, app: LoadedApp, store: HistoryStore, invoker: FunctionInvoker,
                 orchestrator_pool: Executor, config: EngineConfig | None = None):
        os.environ.setdefault(STRICT_TYPING, "")
        self.app = app
        self.store = store
        self.config = config or EngineConfig()
        self.backend = Backend(store)
        in_flight = ORCHESTRATOR_WORKERS if self.config.keeps_sessions else self.config.max_concurrent_orchestrators
        self.scheduler = Scheduler(app, store, self.backend, orchestrator_pool, self.config, in_flight)
        self.activities = ActivityRunner(app, invoker, self.config, self.scheduler.deliver)
        self.timers = TimerService(self.scheduler.deliver)
        self.backend.scheduler = self.scheduler
        self.backend.activities = self.activities
        self.backend.timers = self.timers
        self.change_hooks = []

    async def start(self) -> None:
        """Pick up where the last process stopped: deliver inboxes, re-run unrecorded activities, re-arm timers."""
        self.scheduler.start()
        inbox = await self.store.read(self.store.load_inbox)
        activities = await self.store.read(self.store.pending_activities)
        timers = await self.store.read(self.store.pending_timers)
        for instance_id, row_id, text in inbox:
            self.scheduler.deliver(instance_id, Message(json.loads(text), inbox_id=row_id))
        self.activities.start(activities)
        self.timers.arm(timers)

    async def stop(self) -> None:
        self.timers.close()
        await self.activities.close()
        await self.scheduler.stop()

    @property
    def fault(self) -> str | None:
        """Why the store cannot be written right now (a full disk), or None."""
        return self.store.fault
