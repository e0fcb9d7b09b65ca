"""Every SQL statement of the local host: instances, their history, inboxes, pending work and timers.

SQLite in WAL mode with synchronous=FULL. One writer thread owns the write connection and
commits whatever writes are queued in one transaction (group commit): a burst of activity
completions costs one fsync, not one each. Reads use their own connection (WAL lets them run
beside the writer). Nothing durable lives only in memory: the engine can be killed at any
point and rebuilt from these tables.
"""
from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    parent_instance_id TEXT,
    parent_task_id INTEGER,
    parent_execution_id TEXT
);
CREATE INDEX IF NOT EXISTS ix_instances_created ON instances(created_at, instance_id);
CREATE INDEX IF NOT EXISTS ix_instances_status ON instances(status);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_inbox_instance ON inbox(instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    PRIMARY KEY (instance_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at REAL NOT NULL,
    PRIMARY KEY (instance_id, timer_id)
) WITHOUT ROWID;
"""

TERMINAL_STATUSES = ("Completed", "Failed", "Terminated", "Canceled")
_INSTANCE_COLUMNS = (
    "instance_id, name, execution_id, status, input, output, custom_status, created_at, updated_at, "
    "parent_instance_id, parent_task_id, parent_execution_id"
)


@dataclass
class InstanceRow:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_at: float
    updated_at: float
    parent_instance_id: str | None = None
    parent_task_id: int | None = None
    parent_execution_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class PendingActivity:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass
class PendingTimer:
    instance_id: str
    execution_id: str
    timer_id: int
    fire_at: float


@dataclass
class EpisodeCommit:
    """Everything one orchestrator episode changes, written in one transaction."""

    instance: InstanceRow
    consumed_inbox_ids: list[int]
    new_history: list[tuple[int, str]]
    activities: list[PendingActivity]
    timers: list[PendingTimer]
    children: list[tuple[InstanceRow, str]]  # (child row, ExecutionStarted event JSON)
    enqueue: list[tuple[str, str]] = field(default_factory=list)  # (instance id, event JSON), if it exists
    delivered: list[PendingActivity] = field(default_factory=list)  # activities whose results this episode records
    reset_history: bool = False  # continue-as-new or rewind: the instance's history is rewritten
    finished: bool = False  # terminal: drop pending work and timers


class HistoryStore:
    """SQLite persistence with a single group-committing writer thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writes: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Any] | None] = queue.SimpleQueue()
        self._write_conn = self._connect()
        self._write_conn.executescript(SCHEMA)
        self._read_conn = self._connect()
        self._read_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_loop, name="history-store-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    # ---- the writer thread -------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            batch = [item]
            while True:
                try:
                    nxt = self._writes.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._run_batch(batch)
                    return
                batch.append(nxt)
                if len(batch) >= 512:
                    break
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[Callable[[sqlite3.Connection], Any], Any]]) -> None:
        conn = self._write_conn
        results: list[tuple[Any, Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        for op, done in batch:
            conn.execute("SAVEPOINT op")
            try:
                value = op(conn)
            except BaseException as exc:  # one bad write must not lose the others in the batch
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                results.append((done, None, exc))
            else:
                conn.execute("RELEASE op")
                results.append((done, value, None))
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            results = [(done, None, exc) for done, _, _ in results]
        for done, value, exc in results:
            done(value, exc)

    async def write(self, op: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `op` inside the next group commit; returns once it is durable."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(value: Any, exc: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, value, exc)

        self._writes.put((op, done))
        return await future

    def close(self) -> None:
        self._writes.put(None)
        self._writer.join(timeout=10)
        self._write_conn.close()
        self._read_conn.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._read_lock:
            return self._read_conn.execute(sql, params).fetchall()

    # ---- reads --------------------------------------------------------------------------
    def get_instance(self, instance_id: str) -> InstanceRow | None:
        rows = self._read(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,))
        return InstanceRow(*rows[0]) if rows else None

    def load_history(self, instance_id: str) -> list[str]:
        rows = self._read("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
        return [r[0] for r in rows]

    def load_inbox(self, instance_id: str) -> list[tuple[int, str]]:
        return self._read("SELECT id, event FROM inbox WHERE instance_id = ? ORDER BY id", (instance_id,))

    def instances_with_inbox(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT instance_id FROM inbox")]

    def pending_activities(self) -> list[PendingActivity]:
        rows = self._read("SELECT instance_id, execution_id, task_id, name, input FROM activities")
        return [PendingActivity(*r) for r in rows]

    def pending_timers(self) -> list[PendingTimer]:
        rows = self._read("SELECT instance_id, execution_id, timer_id, fire_at FROM timers")
        return [PendingTimer(*r) for r in rows]

    def query_instances(
        self,
        statuses: Iterable[str] | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        prefix: str | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 100,
    ) -> list[InstanceRow]:
        where, params = _instance_filter(statuses, created_from, created_to, prefix)
        if after is not None:
            where.append("(created_at > ? OR (created_at = ? AND instance_id > ?))")
            params += [after[0], after[0], after[1]]
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, instance_id LIMIT ?"
        params.append(limit)
        return [InstanceRow(*r) for r in self._read(sql, params)]

    # ---- writes (each returns an op for `write`) -----------------------------------------
    @staticmethod
    def op_create_instance(row: InstanceRow, started_event: str, replace_terminal: bool = True):
        """Create an instance with its ExecutionStarted waiting in the inbox; refuses a live duplicate."""

        def op(conn: sqlite3.Connection) -> bool:
            existing = conn.execute("SELECT status FROM instances WHERE instance_id = ?", (row.instance_id,)).fetchone()
            if existing is not None:
                if not replace_terminal or existing[0] not in TERMINAL_STATUSES:
                    return False
                _delete_instance(conn, row.instance_id)
            _insert_instance(conn, row)
            conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (row.instance_id, started_event))
            return True

        return op

    @staticmethod
    def op_enqueue(instance_id: str, event: str, only_if_status: Sequence[str] | None = None):
        """Add an event to an instance's inbox; returns the instance's status, or None if it does not exist."""

        def op(conn: sqlite3.Connection) -> str | None:
            found = conn.execute("SELECT status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
            if found is None:
                return None
            if only_if_status is None or found[0] in only_if_status:
                conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (instance_id, event))
            return found[0]

        return op

    @staticmethod
    def op_complete_activity(instance_id: str, execution_id: str, task_id: int, event: str):
        """Record an activity's result, unless its execution is gone (terminated, purged, continued)."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM activities WHERE instance_id = ? AND task_id = ? AND execution_id = ?",
                (instance_id, task_id, execution_id),
            )
            if cur.rowcount == 0:
                return False
            conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (instance_id, event))
            return True

        return op

    @staticmethod
    def op_fire_timer(instance_id: str, execution_id: str, timer_id: int, event: str):
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM timers WHERE instance_id = ? AND timer_id = ? AND execution_id = ?",
                (instance_id, timer_id, execution_id),
            )
            if cur.rowcount == 0:
                return False
            conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (instance_id, event))
            return True

        return op

    @staticmethod
    def op_commit_episode(commit: EpisodeCommit):
        def op(conn: sqlite3.Connection) -> list[str]:
            row = commit.instance
            current = conn.execute(
                "SELECT execution_id FROM instances WHERE instance_id = ?", (row.instance_id,)
            ).fetchone()
            if current is None:
                raise InstanceGone(row.instance_id)
            if commit.consumed_inbox_ids:
                conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in commit.consumed_inbox_ids])
            if commit.delivered:
                conn.executemany(
                    "DELETE FROM activities WHERE instance_id = ? AND task_id = ? AND execution_id = ?",
                    [(a.instance_id, a.task_id, a.execution_id) for a in commit.delivered],
                )
            if commit.reset_history:
                conn.execute("DELETE FROM history WHERE instance_id = ?", (row.instance_id,))
            if commit.finished or commit.reset_history:
                conn.execute("DELETE FROM activities WHERE instance_id = ?", (row.instance_id,))
                conn.execute("DELETE FROM timers WHERE instance_id = ?", (row.instance_id,))
            conn.executemany(
                "INSERT INTO history(instance_id, seq, event) VALUES (?, ?, ?)",
                [(row.instance_id, seq, ev) for seq, ev in commit.new_history],
            )
            conn.execute(
                "UPDATE instances SET execution_id = ?, status = ?, output = ?, custom_status = ?, updated_at = ?, "
                "input = ? WHERE instance_id = ?",
                (row.execution_id, row.status, row.output, row.custom_status, row.updated_at, row.input, row.instance_id),
            )
            _insert_activities(conn, commit.activities)
            _insert_timers(conn, commit.timers)
            started: list[str] = []
            for child, started_event in commit.children:
                existing = conn.execute(
                    "SELECT status FROM instances WHERE instance_id = ?", (child.instance_id,)
                ).fetchone()
                if existing is not None:
                    if existing[0] not in TERMINAL_STATUSES:
                        continue
                    _delete_instance(conn, child.instance_id)
                _insert_instance(conn, child)
                conn.execute(
                    "INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (child.instance_id, started_event)
                )
                started.append(child.instance_id)
            for target, event in commit.enqueue:
                if conn.execute("SELECT 1 FROM instances WHERE instance_id = ?", (target,)).fetchone():
                    conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (target, event))
            return started

        return op

    @staticmethod
    def op_rewrite_history(instance_id: str, status: str, events: list[str], inbox_event: str | None):
        """Replace an instance's history (rewind) and wake it with an inbox event."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
            conn.executemany(
                "INSERT INTO history(instance_id, seq, event) VALUES (?, ?, ?)",
                [(instance_id, i, ev) for i, ev in enumerate(events)],
            )
            conn.execute(
                "UPDATE instances SET status = ?, output = NULL, updated_at = ? WHERE instance_id = ?",
                (status, time.time(), instance_id),
            )
            if inbox_event is not None:
                conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (instance_id, inbox_event))

        return op

    @staticmethod
    def op_delete_inbox(ids: list[int]):
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

        return op

    @staticmethod
    def op_rearm(activities: list[PendingActivity], timers: list[PendingTimer]):
        """Record work to run again (rewind): activities that have no result and timers that have not fired."""

        def op(conn: sqlite3.Connection) -> None:
            _insert_activities(conn, activities)
            _insert_timers(conn, timers)

        return op

    @staticmethod
    def op_purge(instance_id: str):
        def op(conn: sqlite3.Connection) -> int:
            return _delete_instance(conn, instance_id)

        return op

    @staticmethod
    def op_purge_by(statuses: Iterable[str] | None, created_from: float | None, created_to: float | None):
        def op(conn: sqlite3.Connection) -> int:
            where, params = _instance_filter(statuses, created_from, created_to, None)
            sql = "SELECT instance_id FROM instances" + (" WHERE " + " AND ".join(where) if where else "")
            ids = [r[0] for r in conn.execute(sql, params).fetchall()]
            for instance_id in ids:
                _delete_instance(conn, instance_id)
            return len(ids)

        return op


class InstanceGone(Exception):
    """The instance was purged while an episode was running."""


def _settle(future: asyncio.Future, value: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)


def _insert_instance(conn: sqlite3.Connection, row: InstanceRow) -> None:
    conn.execute(
        f"INSERT INTO instances({_INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.instance_id, row.name, row.execution_id, row.status, row.input, row.output, row.custom_status,
            row.created_at, row.updated_at, row.parent_instance_id, row.parent_task_id, row.parent_execution_id,
        ),
    )


def _insert_activities(conn: sqlite3.Connection, activities: list[PendingActivity]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO activities(instance_id, execution_id, task_id, name, input) VALUES (?, ?, ?, ?, ?)",
        [(a.instance_id, a.execution_id, a.task_id, a.name, a.input) for a in activities],
    )


def _insert_timers(conn: sqlite3.Connection, timers: list[PendingTimer]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO timers(instance_id, execution_id, timer_id, fire_at) VALUES (?, ?, ?, ?)",
        [(t.instance_id, t.execution_id, t.timer_id, t.fire_at) for t in timers],
    )


def _delete_instance(conn: sqlite3.Connection, instance_id: str) -> int:
    cur = conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
    for table in ("history", "inbox", "activities", "timers"):
        conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))
    return cur.rowcount


def _instance_filter(
    statuses: Iterable[str] | None, created_from: float | None, created_to: float | None, prefix: str | None
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    statuses = list(statuses or [])
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += statuses
    if created_from is not None:
        where.append("created_at >= ?")
        params.append(created_from)
    if created_to is not None:
        where.append("created_at <= ?")
        params.append(created_to)
    if prefix:
        where.append("instance_id >= ? AND instance_id < ?")
        params += [prefix, prefix + "\U0010ffff"]
    return where, params


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
