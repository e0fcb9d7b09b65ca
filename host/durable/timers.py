"""Durable timers: armed on the event loop, and delivered to their orchestration as TimerFired when due.

The firing is held in memory until the episode that records it commits (its row goes in that same
transaction); a timer whose time passed while the host was down fires as soon as the host is back."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from host.durable import events as he
from host.durable.episode import Message
from host.durable.model import PendingTimer


class TimerService:
    def __init__(self, deliver: Callable[[str, Message], None]):
        self._deliver = deliver
        self._armed: dict[str, dict[int, asyncio.TimerHandle]] = {}

    def arm(self, timers: list[PendingTimer]) -> None:
        loop = asyncio.get_running_loop()
        now = time.time()
        for timer in timers:
            handle = loop.call_later(max(0.0, timer.fire_at - now), self._fire, timer)
            self._armed.setdefault(timer.instance_id, {})[timer.timer_id] = handle

    def stop(self, instance_id: str) -> None:
        for handle in self._armed.pop(instance_id, {}).values():
            handle.cancel()

    def close(self) -> None:
        for instance_id in list(self._armed):
            self.stop(instance_id)

    def _fire(self, timer: PendingTimer) -> None:
        armed = self._armed.get(timer.instance_id)
        if armed is not None:
            armed.pop(timer.timer_id, None)
            if not armed:
                del self._armed[timer.instance_id]
        event = he.timer_fired(time.time(), timer.timer_id, he.iso(timer.fire_at))
        self._deliver(timer.instance_id, Message(event, timer=timer))
