"""The local host's MCP task records: which job a task is, which tool started it, and its lifetime.

A task's id is its job's id (an unguessable instance id), and while the task is live everything else
about it (status, input requests) is read from the job, so a task survives a host restart exactly as its
job does. This table keeps what the job does not know: the tool that started it (whose metadata names the
job's status, input and cancel tools), when the task was created, its time to live, who created it, and its
outcome once it reached a terminal status.

- Owner (`owner`, host/mcp/context.caller_key: "" for a key): a task is bound to its creator, and another
  caller's task is not found, as the spec requires when there is an auth context (2025-11-25 Tasks, Security:
  get/result/cancel/list scoped to it; issue 20). `principal` keeps the creator's identity headers
  (host/mcp/context.caller_headers), so that the host can read the job as its creator when it records the
  task's outcome with no client on the line.
- Outcome: a terminal task must never move again (MCP 2025-11-25, Tasks, Task Status Lifecycle), while its
  job may (`retry_job` rewinds a failed job, a restart or a launch replaces an ended one, a purge removes it:
  issue 21 §1.1), so from then on the task answers from its outcome.

One SQLite file in the state folder, `tasks.sqlite`, private to the user like the rest of it.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.state_folder import create_private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    created_at REAL NOT NULL,
    ttl_ms INTEGER,
    owner TEXT NOT NULL DEFAULT '',
    outcome TEXT,
    principal TEXT
)
"""
COLUMNS = "task_id, tool, created_at, ttl_ms, owner, outcome, principal"
ADDED_COLUMNS = {  # tasks.sqlite files made before a column was
    "owner": "ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT ''",  # issue 20
    "outcome": "ALTER TABLE tasks ADD COLUMN outcome TEXT",  # issue 21
    "principal": "ALTER TABLE tasks ADD COLUMN principal TEXT",
}


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    tool: str
    created_at: float  # seconds since the epoch
    ttl_ms: int | None  # None: kept as long as the job
    owner: str = ""
    outcome: dict[str, Any] | None = None  # once terminal: {"status", "message", "updated_at", "result"}
    principal: dict[str, str] = field(default_factory=dict)  # the creator's identity headers

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
        present = {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}
        for column, statement in ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(statement)

    def add(self, task_id: str, tool: str, ttl_ms: int | None, owner: str, principal: dict[str, str]) -> TaskRecord:
        """Record `owner`'s task; the same job started again (an idempotency key) keeps its first record."""
        record = TaskRecord(task_id, tool, time.time(), ttl_ms, owner, principal=principal)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tasks (task_id, tool, created_at, ttl_ms, owner, principal) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (record.task_id, record.tool, record.created_at, record.ttl_ms, record.owner,
                              json.dumps(principal)))
        return self.get(task_id, owner) or record

    def get(self, task_id: str, owner: str) -> TaskRecord | None:
        """`owner`'s live task of that id (another caller's is None, like an unknown one)."""
        record = self.find(task_id)
        return record if record is not None and record.owner == owner else None

    def find(self, task_id: str) -> TaskRecord | None:
        """The live task of that id, whoever created it: for the host's own bookkeeping, never for a caller."""
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        record = _record(row) if row else None
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
        return [_record(row) for row in rows]

    def settle(self, record: TaskRecord, outcome: dict[str, Any]) -> TaskRecord | None:
        """Record the task's terminal outcome, unless it has one already: the first one stays."""
        with self._lock:
            self._db.execute("UPDATE tasks SET outcome = ? WHERE task_id = ? AND outcome IS NULL",
                             (json.dumps(outcome), record.task_id))
        return self.get(record.task_id, record.owner)

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


def _record(row: tuple) -> TaskRecord:
    task_id, tool, created_at, ttl_ms, owner, outcome, principal = row
    return TaskRecord(task_id, tool, created_at, ttl_ms, owner, json.loads(outcome) if outcome else None,
                      json.loads(principal) if principal else {})
