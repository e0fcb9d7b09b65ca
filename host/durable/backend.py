"""The backend: where decisions take effect. Every change is one store transaction, and only once it is
durable does the engine act on it, here and nowhere else: wake the instances that got new events, start the
activities and arm the timers it recorded, stop the work of instances that were terminated or purged,
drop what is cached of instances whose history changed, and tell whoever waits for a change."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from host.durable.episode import Message
from host.durable.store import ChangeSet, HistoryStore, Operation

if TYPE_CHECKING:
    from host.durable.activities import ActivityRunner
    from host.durable.scheduler import Scheduler
    from host.durable.timers import TimerService


class Backend:
    def __init__(self, store: HistoryStore):
        self.store = store
        self.scheduler: Scheduler
        self.activities: ActivityRunner
        self.timers: TimerService
        self._watchers: dict[str, list[asyncio.Future]] = {}

    async def commit(self, op: Operation) -> Any:
        """Run `op` as one transaction and act on what it changed; its result, or the error it raised
        (`StoreUnavailable` when the store could not be written)."""
        outcome = await self.store.write(op)
        if outcome.error is None and outcome.changes is not None:
            self.apply(outcome.changes)
        return outcome.result()

    def apply(self, changes: ChangeSet) -> None:
        for instance_id in changes.stopped:
            self.activities.stop(instance_id)
            self.timers.stop(instance_id)
        for instance_id in changes.reset:
            self.scheduler.forget(instance_id, drop_pending=instance_id in changes.deleted)
        for row in changes.created:
            self.scheduler.adopt(row)
        for instance_id, row_id, event in changes.inbox:
            self.scheduler.deliver(instance_id, Message(event, inbox_id=row_id))
        if changes.activities:
            self.activities.start(changes.activities)
        if changes.timers:
            self.timers.arm(changes.timers)
        for instance_id in changes.touched:
            self._notify(instance_id)

    async def wait_for_change(self, instance_id: str, timeout: float) -> None:
        """Return when the instance next commits a change, or after `timeout` seconds."""
        future = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(instance_id, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self._watchers.get(instance_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._watchers.pop(instance_id, None)

    def _notify(self, instance_id: str) -> None:
        for future in self._watchers.pop(instance_id, []):
            if not future.done():
                future.set_result(None)
