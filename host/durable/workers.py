"""A lean pool of worker threads: a C queue and daemon threads, without a Future per call.

`concurrent.futures.ThreadPoolExecutor.submit` costs a Future, a work item and a semaphore per call,
which showed in the profile of many short activities; results come back through `ThreadToLoop`."""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable


class WorkerThreads:
    """Runs `fn(*args)` on up to `size` threads, started as work first arrives."""

    def __init__(self, size: int, name: str):
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))
        if len(self._threads) < self._size:
            with self._lock:
                if len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}",
                                              daemon=True)
                    self._threads.append(thread)
                    thread.start()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            fn(*args)
