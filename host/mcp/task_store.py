"""The local host's MCP task records: which job a task is, which tool started it, and its lifetime.

A task's id is its job's id (an unguessable instance id), and everything else about it (status,
result, input requests) is read from the job, so a task survives a host restart exactly as its job
does. This table only keeps what the job does not know: the tool that started it (whose metadata
names the job's status, input and cancel tools), when the task was created, its time to live, and who
created it (`owner`, host/mcp/context.caller_key: "" for a key): a task is bound to its creator, and
another caller's task is not found, as the spec requires when there is an auth context (2025-11-25
Tasks, Security: get/result/cancel/list scoped to it).
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
    ttl_ms INTEGER,
    owner TEXT NOT NULL DEFAULT ''
)
"""
COLUMNS = "task_id, tool, created_at, ttl_ms, owner"
OWNER_COLUMN = "ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT ''"  # files made before issue 20


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    tool: str
    created_at: float  # seconds since the epoch
    ttl_ms: int | None  # None: kept as long as the job
    owner: str = ""

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
        if "owner" not in {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}:
            self._db.execute(OWNER_COLUMN)

    def add(self, task_id: str, tool: str, ttl_ms: int | None, owner: str) -> TaskRecord:
        """Record `owner`'s task; the same job started again (an idempotency key) keeps its first record."""
        record = TaskRecord(task_id, tool, time.time(), ttl_ms, owner)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tasks (task_id, tool, created_at, ttl_ms, owner) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (record.task_id, record.tool, record.created_at, record.ttl_ms, record.owner))
        return self.get(task_id, owner) or record

    def get(self, task_id: str, owner: str) -> TaskRecord | None:
        """`owner`'s live task of that id (another caller's is None, like an unknown one)."""
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM tasks WHERE task_id = ? AND owner = ?",
                                   (task_id, owner)).fetchone()
        record = TaskRecord(*row) if row else None
        if record is not None and record.expired(time.time()):
            self.delete(task_id)
            return None
        return record

    def page(self, after: tuple[float, str] | None, limit: int, owner: str) -> list[TaskRecord]:
        """Up to `limit` of `owner`'s live records after the (created_at, task_id) position, oldest first."""
        self._purge_expired()
        query = f"SELECT {COLUMNS} FROM tasks WHERE owner = ?"
        params: tuple = (owner,)
        if after is not None:
            query += " AND (created_at > ? OR (created_at = ? AND task_id > ?))"
            params = (owner, after[0], after[0], after[1])
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
