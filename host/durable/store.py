"""Every SQL statement of the local host: instances, their history, inboxes, pending activities and timers.

SQLite in WAL mode with synchronous=FULL. One writer thread owns the write connection and commits
whatever operations are queued in one transaction (group commit: a burst of steps costs one
fsync, not one each); each operation runs in its own savepoint, so one that raises leaves the
others intact, and is all-or-nothing: an engine operation is one `Transaction`. Reads use their own
connection (WAL lets them run beside the writer), from worker threads or through `read()`, never on
the event loop. Nothing durable lives only in memory: the engine can be killed at any point and
rebuilt from these tables.

A failed commit (a full disk, an I/O error) fails every operation of that batch with
`StoreUnavailable`, rolls back, and leaves the store usable: `fault` says what went wrong until a
later commit succeeds (`probe()` tries one).

The schema has a version (`PRAGMA user_version`); a database made by an older host is migrated
forward in one transaction when it is opened, and one made by a newer host is refused.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from host.durable.errors import StoreUnavailable
from host.durable.model import InstanceRow, PendingActivity, PendingTimer, RuntimeStatus

log = logging.getLogger("host.store")

SCHEMA_VERSION = 1

# The schema of a new database (the latest version).
SCHEMA = """
CREATE TABLE instances (
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
CREATE INDEX ix_instances_created ON instances(created_at, instance_id);
CREATE INDEX ix_instances_status ON instances(status);
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX ix_inbox_instance ON inbox(instance_id, id);
CREATE TABLE activities (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    PRIMARY KEY (instance_id, task_id)
) WITHOUT ROWID;
CREATE TABLE timers (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at REAL NOT NULL,
    PRIMARY KEY (instance_id, timer_id)
) WITHOUT ROWID;
CREATE TABLE host_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

# MIGRATIONS[n] takes a database of version n - 1 to version n (each runs in one transaction).
MIGRATIONS: dict[int, str] = {
    # v0 -> v1: the inbox is a plain rowid table (AUTOINCREMENT cost a second write per event and
    # row ids only need to grow among live rows); host_state holds the write probe and migration notes.
    1: """
    CREATE TABLE inbox_v1 (id INTEGER PRIMARY KEY, instance_id TEXT NOT NULL, event TEXT NOT NULL);
    INSERT INTO inbox_v1 (id, instance_id, event) SELECT id, instance_id, event FROM inbox;
    DROP TABLE inbox;
    ALTER TABLE inbox_v1 RENAME TO inbox;
    CREATE INDEX ix_inbox_instance ON inbox(instance_id, id);
    DELETE FROM sqlite_sequence WHERE name = 'inbox';
    CREATE TABLE host_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
}

_INSTANCE_COLUMNS = (
    "instance_id, name, execution_id, status, input, output, custom_status, created_at, updated_at, "
    "parent_instance_id, parent_task_id, parent_execution_id"
)
_BATCH_LIMIT = 512


class StoreVersionError(Exception):
    """The database was made by a newer host than this one."""


class InstanceGone(Exception):
    """The instance was purged or replaced while an episode of it was running."""


class ChangeSet:
    """What one committed operation changed, for the engine to act on once it is durable."""

    __slots__ = ("inbox", "activities", "timers", "created", "reset", "deleted", "stopped", "touched")

    def __init__(self) -> None:
        self.inbox: list[tuple[str, int, dict[str, Any]]] = []  # (instance, row id, event)
        self.activities: list[PendingActivity] = []  # to run
        self.timers: list[PendingTimer] = []  # to arm
        self.created: list[InstanceRow] = []  # new instances, with no history yet
        self.reset: set[str] = set()  # cached state no longer valid (purged, replaced, rewound)
        self.deleted: set[str] = set()  # gone with everything pending for them (purged, replaced)
        self.stopped: set[str] = set()  # in-flight work must stop (terminated, purged, replaced)
        self.touched: set[str] = set()  # status or history changed (for watchers)


@dataclass
class Outcome:
    """The result of one operation: its return value and changes, or the exception it raised."""

    value: Any = None
    changes: ChangeSet | None = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


Operation = Callable[["Transaction"], Any]


class Transaction:
    """The statements an engine operation may run, inside its own savepoint of a group commit.
    Every change that needs an effect after the commit is recorded in `changes`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.changes = ChangeSet()

    # ---- reads inside the transaction ----------------------------------------------------------
    def instance(self, instance_id: str) -> InstanceRow | None:
        row = self.conn.execute(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?",
                                (instance_id,)).fetchone()
        return _instance(row) if row else None

    def status(self, instance_id: str) -> RuntimeStatus | None:
        row = self.conn.execute("SELECT status FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return RuntimeStatus(row[0]) if row else None

    def execution_id(self, instance_id: str) -> str | None:
        row = self.conn.execute("SELECT execution_id FROM instances WHERE instance_id = ?",
                                (instance_id,)).fetchone()
        return row[0] if row else None

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
        return [json.loads(text) for text, in rows]

    def matching(self, statuses: Iterable[str] | None, created_from: float | None,
                 created_to: float | None) -> list[str]:
        where, params = _instance_filter(statuses, created_from, created_to, None)
        sql = "SELECT instance_id FROM instances" + (" WHERE " + " AND ".join(where) if where else "")
        return [r[0] for r in self.conn.execute(sql, params).fetchall()]

    # ---- instances ----------------------------------------------------------------------------
    def create_instance(self, row: InstanceRow, started_event: dict[str, Any]) -> None:
        """A new instance with its ExecutionStarted waiting in the inbox."""
        self.conn.execute(
            f"INSERT INTO instances({_INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.instance_id, row.name, row.execution_id, row.status.value, row.input, row.output,
             row.custom_status, row.created_at, row.updated_at, row.parent_instance_id, row.parent_task_id,
             row.parent_execution_id),
        )
        self.changes.created.append(row)
        self.changes.touched.add(row.instance_id)
        self.enqueue(row.instance_id, started_event)

    def update_instance(self, row: InstanceRow) -> None:
        self.conn.execute(
            "UPDATE instances SET execution_id = ?, status = ?, output = ?, custom_status = ?, updated_at = ?, "
            "input = ? WHERE instance_id = ?",
            (row.execution_id, row.status.value, row.output, row.custom_status, row.updated_at, row.input,
             row.instance_id),
        )
        self.changes.touched.add(row.instance_id)

    def reopen(self, instance_id: str, updated_at: float) -> None:
        """A failed instance runs again (rewind): Running, without its output."""
        self.conn.execute("UPDATE instances SET status = ?, output = NULL, updated_at = ? WHERE instance_id = ?",
                          (RuntimeStatus.RUNNING.value, updated_at, instance_id))
        self.changes.touched.add(instance_id)
        self.changes.reset.add(instance_id)

    def delete_instance(self, instance_id: str) -> bool:
        """Delete an instance and everything it has (purge, or replacing an ended one)."""
        cur = self.conn.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
        for table in ("history", "inbox", "activities", "timers"):
            self.conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))
        self.changes.reset.add(instance_id)
        self.changes.deleted.add(instance_id)
        self.changes.stopped.add(instance_id)
        self.changes.touched.add(instance_id)
        return cur.rowcount > 0

    def stop(self, instance_id: str) -> None:
        """The instance was terminated: its in-flight work is to stop (its rows go with `end_pending_work`)."""
        self.changes.stopped.add(instance_id)

    # ---- history ------------------------------------------------------------------------------
    def append_history(self, instance_id: str, first_seq: int, events: Sequence[str]) -> None:
        self.conn.executemany("INSERT INTO history(instance_id, seq, event) VALUES (?, ?, ?)",
                              [(instance_id, first_seq + i, text) for i, text in enumerate(events)])

    def clear_history(self, instance_id: str) -> None:
        self.conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))

    # ---- inbox --------------------------------------------------------------------------------
    def enqueue(self, instance_id: str, event: dict[str, Any]) -> int:
        cur = self.conn.execute("INSERT INTO inbox(instance_id, event) VALUES (?, ?)", (instance_id, dumps(event)))
        self.changes.inbox.append((instance_id, cur.lastrowid, event))
        return cur.lastrowid

    def delete_inbox(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    # ---- pending activities and timers ----------------------------------------------------------
    def add_activities(self, activities: Sequence[PendingActivity]) -> None:
        if activities:
            self.conn.executemany(
                "INSERT OR REPLACE INTO activities(instance_id, execution_id, task_id, name, input) "
                "VALUES (?, ?, ?, ?, ?)",
                [(a.instance_id, a.execution_id, a.task_id, a.name, a.input) for a in activities])
            self.changes.activities.extend(activities)

    def add_timers(self, timers: Sequence[PendingTimer]) -> None:
        if timers:
            self.conn.executemany(
                "INSERT OR REPLACE INTO timers(instance_id, execution_id, timer_id, fire_at) VALUES (?, ?, ?, ?)",
                [(t.instance_id, t.execution_id, t.timer_id, t.fire_at) for t in timers])
            self.changes.timers.extend(timers)

    def finish_activities(self, activities: Sequence[PendingActivity]) -> None:
        """Their results are recorded (or no longer wanted): they never run again."""
        if activities:
            self.conn.executemany(
                "DELETE FROM activities WHERE instance_id = ? AND task_id = ? AND execution_id = ?",
                [(a.instance_id, a.task_id, a.execution_id) for a in activities])

    def finish_timers(self, timers: Sequence[PendingTimer]) -> None:
        if timers:
            self.conn.executemany(
                "DELETE FROM timers WHERE instance_id = ? AND timer_id = ? AND execution_id = ?",
                [(t.instance_id, t.timer_id, t.execution_id) for t in timers])

    def end_pending_work(self, instance_id: str) -> None:
        """The execution ended or was replaced: none of its activities or timers is wanted any more."""
        self.conn.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))
        self.conn.execute("DELETE FROM timers WHERE instance_id = ?", (instance_id,))

    # ---- host state -----------------------------------------------------------------------------
    def note(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO host_state(key, value) VALUES (?, ?)", (key, value))


@dataclass
class _Write:
    ops: list[Operation]
    settle: Callable[[list[Outcome]], None]


class HistoryStore:
    """SQLite persistence: a group-committing writer thread, and a read connection for other threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fault: str | None = None
        self.commits = 0  # transactions committed, for the benchmarks' commit rate
        self._writes: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._write_conn = self._connect()
        migrate(self._write_conn)
        self._read_conn = self._connect()
        self._read_lock = threading.Lock()
        self._reads: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future] | None] = \
            queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read_loop, name="history-store-reader", daemon=True)
        self._reader.start()
        self._writer = threading.Thread(target=self._write_loop, name="history-store-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    # ---- writes ---------------------------------------------------------------------------------
    async def write(self, op: Operation) -> Outcome:
        """Run `op` in the next group commit; returns once it is durable (or failed: see `Outcome`)."""
        return (await self.write_many([op]))[0]

    async def write_many(self, ops: list[Operation]) -> list[Outcome]:
        """Run each op in its own savepoint of the next group commit; one wake-up for all of them."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(outcomes: list[Outcome]) -> None:
            loop.call_soon_threadsafe(_settle, future, outcomes)

        self._writes.put(_Write(ops, settle))
        return await future

    async def probe(self) -> None:
        """Write one small row: clears `fault` once the disk takes writes again."""
        (await self.write(lambda txn: txn.note("write_probe", repr(time.time())))).result()

    def close(self) -> None:
        self._writes.put(None)
        self._writer.join(timeout=10)
        self._reads.put(None)
        self._reader.join(timeout=10)
        self._write_conn.close()
        self._read_conn.close()

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < _BATCH_LIMIT:
                try:
                    nxt = self._writes.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Write]) -> None:
        conn = self._write_conn
        results: list[list[Outcome]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for write in batch:
                results.append([self._run_op(conn, op) for op in write.ops])
            conn.execute("COMMIT")
            self.commits += 1
            if self.fault is not None:
                log.warning("the state database takes writes again")
            self.fault = None
        except BaseException as exc:  # the disk is full, an I/O error: nothing of this batch is durable
            message = _fault_message(exc)
            if self.fault != message:
                log.error("the state database could not be written: %s", message)
            self.fault = message
            self._roll_back()
            error = StoreUnavailable(f"The state database could not be written: {message}. Nothing of this "
                                     f"request was saved; the host keeps running and retries its own work.")
            results = [[Outcome(error=error) for _ in write.ops] for write in batch]
        for write, outcomes in zip(batch, results):
            try:
                write.settle(outcomes)
            except RuntimeError:  # the caller's event loop is closed (shutdown)
                pass

    @staticmethod
    def _run_op(conn: sqlite3.Connection, op: Operation) -> Outcome:
        conn.execute("SAVEPOINT op")
        txn = Transaction(conn)
        try:
            value = op(txn)
        except sqlite3.Error as exc:
            if _is_fault(exc):
                raise
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return Outcome(error=exc)
        except Exception as exc:  # one operation that refuses must not lose the others in the batch
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return Outcome(error=exc)
        conn.execute("RELEASE op")
        return Outcome(value, txn.changes)

    def _roll_back(self) -> None:
        """Leave no transaction open; if SQLite cannot even roll back, start over with a new connection."""
        try:
            if self._write_conn.in_transaction:
                self._write_conn.execute("ROLLBACK")
        except sqlite3.Error:
            try:
                self._write_conn.close()
            except sqlite3.Error:
                pass
            try:
                self._write_conn = self._connect()
            except sqlite3.Error as exc:  # keep the old object: the next batch fails cleanly and retries
                log.error("could not reopen the state database: %s", exc)

    # ---- reads (worker threads call them directly; the event loop awaits `read`) --------------------
    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one of the read methods below on the store's reader thread."""
        future = asyncio.get_running_loop().create_future()
        self._reads.put((fn, args, future))
        return await future

    def _read_loop(self) -> None:
        while True:
            item = self._reads.get()
            if item is None:
                return
            fn, args, future = item
            try:
                outcome = Outcome(value=fn(*args))
            except Exception as exc:
                outcome = Outcome(error=exc)
            try:
                future.get_loop().call_soon_threadsafe(_settle_read, future, outcome)
            except RuntimeError:  # the caller's event loop is closed (shutdown)
                pass

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._read_lock:
            return self._read_conn.execute(sql, params).fetchall()

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        rows = self._fetch(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,))
        return _instance(rows[0]) if rows else None

    def load_history(self, instance_id: str) -> list[str]:
        """The instance's history events as JSON texts, in order."""
        return [r[0] for r in self._fetch("SELECT event FROM history WHERE instance_id = ? ORDER BY seq",
                                          (instance_id,))]

    def load_inbox(self) -> list[tuple[str, int, str]]:
        """Every inbox row: (instance id, row id, event JSON), oldest first."""
        return self._fetch("SELECT instance_id, id, event FROM inbox ORDER BY id")

    def pending_activities(self) -> list[PendingActivity]:
        return [PendingActivity(*r) for r in
                self._fetch("SELECT instance_id, execution_id, task_id, name, input FROM activities")]

    def pending_timers(self) -> list[PendingTimer]:
        rows = self._fetch("SELECT instance_id, execution_id, timer_id, fire_at FROM timers")
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
        """Instances in (created_at, instance_id) order, filtered; `after` is a keyset cursor."""
        where, params = _instance_filter(statuses, created_from, created_to, prefix)
        if after is not None:
            where.append("(created_at > ? OR (created_at = ? AND instance_id > ?))")
            params += [after[0], after[0], after[1]]
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, instance_id LIMIT ?"
        params.append(limit)
        return [_instance(r) for r in self._fetch(sql, params)]


def migrate(conn: sqlite3.Connection) -> int:
    """Create the schema, or bring an older database to `SCHEMA_VERSION`; returns the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreVersionError(
            f"The state database was made by a newer version of the host (schema v{found}; this host knows up "
            f"to v{SCHEMA_VERSION}). Run the newer host, or point this one at another state folder.")
    fresh = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'instances'").fetchone()[0] == 0
    if fresh:
        _run_script(conn, SCHEMA, SCHEMA_VERSION, None)
        return found
    for version in range(found + 1, SCHEMA_VERSION + 1):
        log.warning("migrating the state database from schema v%d to v%d", version - 1, version)
        _run_script(conn, MIGRATIONS[version], version, f"migrated_to_v{version}")
    return found


def _run_script(conn: sqlite3.Connection, script: str, version: int, note: str | None) -> None:
    """One transaction: the script, the note of when it ran, and the new version."""
    noted = (f"INSERT OR REPLACE INTO host_state(key, value) VALUES ('{note}', '{time.time()!r}');"
             if note else "")
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n{noted}\nPRAGMA user_version = {version};\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _settle(future: asyncio.Future, outcomes: list[Outcome]) -> None:
    if not future.done():
        future.set_result(outcomes)


def _settle_read(future: asyncio.Future, outcome: Outcome) -> None:
    if future.done():
        return
    if outcome.error is not None:
        future.set_exception(outcome.error)
    else:
        future.set_result(outcome.value)


_FAULT_NAMES = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_BUSY",
                "SQLITE_LOCKED", "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_NOMEM", "SQLITE_PROTOCOL")
_FAULT_WORDS = ("disk is full", "disk i/o error", "unable to open", "readonly", "database is locked",
                "malformed", "not a database", "out of memory")


def _is_fault(exc: BaseException) -> bool:
    """A failure of the database or the disk under it, not of the statement (Python 3.10 has no error names)."""
    if not isinstance(exc, sqlite3.Error) or isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return name.startswith(_FAULT_NAMES)
    return any(word in str(exc).lower() for word in _FAULT_WORDS)


def _fault_message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "full" in text.lower():
        return f"{text} (the disk is full: free some space)"
    return text


def _instance(row: tuple) -> InstanceRow:
    return InstanceRow(row[0], row[1], row[2], RuntimeStatus(row[3]), *row[4:])


def _instance_filter(
    statuses: Iterable[str] | None, created_from: float | None, created_to: float | None, prefix: str | None
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    statuses = [str(s) for s in statuses or []]
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


_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def dumps(value: Any) -> str:
    """Compact JSON, as the host stores every payload and event."""
    return _ENCODER.encode(value)
