"""The state database in-process (host/durable/store.py): schema versions and migrations, one operation
per savepoint of a group commit, and a failed commit that leaves the store usable."""
from __future__ import annotations

import shutil
import sqlite3
import time

import pytest

from host.durable import events as he
from host.durable.errors import InstanceNotFound, StoreUnavailable
from host.durable.model import InstanceRow, RuntimeStatus
from host.durable.store import SCHEMA_VERSION, HistoryStore, StoreVersionError, Transaction
from tests.test_upgrade import STATE_V0

TABLES = ("instances", "history", "inbox", "activities", "timers")


def counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}


def row(instance_id: str) -> InstanceRow:
    now = time.time()
    return InstanceRow(instance_id, "chain", "e1", RuntimeStatus.PENDING, None, None, None, now, now)


def create(instance_id: str):
    def op(txn: Transaction) -> str:
        txn.create_instance(row(instance_id), he.execution_started(time.time(), "chain", instance_id, "e1", None))
        return instance_id

    return op


def test_a_new_database_has_the_current_schema(tmp_path):
    HistoryStore(tmp_path / "new.sqlite").close()
    with sqlite3.connect(tmp_path / "new.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("fixture", ["durable_app.sqlite", "agent_app.sqlite"])
def test_a_v0_database_is_migrated_keeping_every_row(tmp_path, fixture):
    path = tmp_path / "durable.sqlite"
    shutil.copy(STATE_V0 / fixture, path)
    before = counts(path)
    with sqlite3.connect(path) as conn:
        inbox_before = conn.execute("SELECT id, instance_id, event FROM inbox ORDER BY id").fetchall()
    store = HistoryStore(path)
    store.close()
    assert counts(path) == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT id, instance_id, event FROM inbox ORDER BY id").fetchall() == inbox_before
        assert "AUTOINCREMENT" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'inbox'").fetchone()[0]
        assert conn.execute("SELECT key FROM host_state").fetchall() == [("migrated_to_v1",)]


def test_a_database_of_a_newer_host_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    HistoryStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreVersionError, match="newer version of the host"):
        HistoryStore(path)


async def test_an_operation_that_raises_leaves_the_others_of_its_commit(tmp_path):
    store = HistoryStore(tmp_path / "s.sqlite")

    def refuses(txn: Transaction) -> None:
        txn.create_instance(row("half-made"), he.execution_started(time.time(), "chain", "half-made", "e1", None))
        raise InstanceNotFound("no")

    try:
        first, bad, last = await store.write_many([create("a"), refuses, create("b")])
        assert first.result() == "a" and last.result() == "b"
        assert isinstance(bad.error, InstanceNotFound)
        assert [r.instance_id for r in store.query_instances()] == ["a", "b"]  # nothing of the refused one
        assert [i for i, _, _ in first.changes.inbox] == ["a"]
    finally:
        store.close()


async def test_a_full_database_fails_the_write_cleanly_and_recovers(tmp_path):
    """SQLite's max_page_count stands in for a full disk here (SQLITE_FULL); test_full_disk.py fills a real one."""
    store = HistoryStore(tmp_path / "s.sqlite")
    try:
        (await store.write(create("before"))).result()
        pages = store._write_conn.execute("PRAGMA page_count").fetchone()[0]
        store._write_conn.execute(f"PRAGMA max_page_count = {pages}")
        big = "x" * 200_000

        def grows(txn: Transaction) -> None:
            txn.note("filler", big)

        outcome = await store.write(grows)
        assert isinstance(outcome.error, StoreUnavailable) and "full" in str(outcome.error)
        assert store.fault is not None and "full" in store.fault
        assert store.get_instance("before") is not None  # reads go on
        assert isinstance((await store.write(grows)).error, StoreUnavailable)  # the writer thread lives on
        store._write_conn.execute("PRAGMA max_page_count = 1073741823")
        await store.probe()
        assert store.fault is None
        (await store.write(grows)).result()
        (await store.write(create("after"))).result()
        assert {r.instance_id for r in store.query_instances()} == {"before", "after"}
    finally:
        store.close()
