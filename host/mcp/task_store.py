"""The local host's MCP task records: which job a task is, which tool started it, and its lifetime.

A task's id is its job's id (an unguessable instance id), and everything else about it (status,
result, input requests) is read from the job, so a task survives a host restart exactly as its job
does. This table only keeps what the job does not know: the tool that started it (whose metadata
names the job's status, input and cancel tools), when the task was created and its time to live.
One SQLite file in the state folder, `tasks.sqlite`, private to the user like the rest of it.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from host.state_folder import create_private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    created_at REAL NOT NULL,
    ttl_ms INTEGER
)
"""


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    tool: str
    created_at: float  # seconds since the epoch
    ttl_ms: int | None  # None: kept as long as the job

    def expired(self, now: float) -> bool:
        return self.ttl_ms is not None and now > self.created_at + self.ttl_ms / 1000


class TaskStore:
    """Task records, oldest first; expired ones are deleted when they are next looked at."""

    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()
        # created 0600 before SQLite opens it, so its -wal/-shm files are private too (host/state_folder.py)
        self._db = sqlite3.connect(create_private_file(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def add(self, task_id: str, tool: str, ttl_ms: int | None) -> TaskRecord:
        """Record a task; the same job started again (an idempotency key) keeps its first record."""
        record = TaskRecord(task_id, tool, time.time(), ttl_ms)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?)",
                             (record.task_id, record.tool, record.created_at, record.ttl_ms))
        return self.get(task_id) or record

    def get(self, task_id: str) -> TaskRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        record = TaskRecord(*row) if row else None
        if record is not None and record.expired(time.time()):
            self.delete(task_id)
            return None
        return record

    def page(self, after: tuple[float, str] | None, limit: int) -> list[TaskRecord]:
        """Up to `limit` live records after the (created_at, task_id) position, oldest first."""
        self._purge_expired()
        query = "SELECT * FROM tasks"
        params: tuple = ()
        if after is not None:
            query += " WHERE created_at > ? OR (created_at = ? AND task_id > ?)"
            params = (after[0], after[0], after[1])
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, task_id LIMIT ?", (*params, limit)).fetchall()
        return [TaskRecord(*row) for row in rows]

    def delete(self, task_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tasks WHERE task_id = ?", (task_id,))

    def _purge_expired(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM tasks WHERE ttl_ms IS NOT NULL AND created_at + ttl_ms / 1000.0 < ?",
                             (time.time(),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
