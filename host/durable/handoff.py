"""Hand results from worker threads to the event loop: one wake-up per burst, not one per result."""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")


class ThreadToLoop(Generic[Item]):
    """`post(item)` from any thread; `handle(items)` runs on the loop with everything posted since the last call.

    The flag is cleared before the queue is drained, so an item posted while the loop drains is either
    taken by that drain or schedules another (never lost)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Callable[[list[Item]], None]):
        self._loop = loop
        self._handle = handle
        self._items: deque[Item] = deque()
        self._scheduled = False

    def post(self, item: Item) -> None:
        self._items.append(item)
        if not self._scheduled:
            self._scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: the host is shutting down
                pass

    def _drain(self) -> None:
        self._scheduled = False
        items = self._items
        batch = [items.popleft() for _ in range(len(items))]
        if batch:
            self._handle(batch)
