"""The engine in-process (testing/inprocess.py): scheduling under memory limits and commits that fail."""
from __future__ import annotations

import asyncio
import json

from host.durable.config import EngineConfig
from host.durable.store import Transaction
from testing.inprocess import load_test_app, running_engine, wait_until_done

APP = load_test_app("durable_app")
GREETINGS = ["Hello Tokyo!", "Hello Seattle!", "Hello London!", "Hello Oslo!", "Hello Lima!"]


async def test_instances_evicted_from_memory_are_replayed_and_finish(tmp_path):
    async with running_engine(APP, tmp_path, EngineConfig(cache_size=1)) as engine:
        ids = await asyncio.gather(*(engine.start_new("hello_sequence") for _ in range(20)))
        rows = [await wait_until_done(engine, instance_id) for instance_id in ids]
    assert [json.loads(row.output) for row in rows] == [GREETINGS] * 20


async def test_steps_wait_while_the_store_cannot_be_written_and_none_runs_twice(tmp_path, monkeypatch):
    """SQLite's max_page_count stands in for a full disk (tests/test_full_disk.py fills a real one)."""
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv("STEP_LEDGER", str(ledger))
    async with running_engine(APP, tmp_path, EngineConfig()) as engine:
        def limit(pages: int | None):
            def op(txn: Transaction) -> None:
                count = txn.conn.execute("PRAGMA page_count").fetchone()[0]
                txn.conn.execute(f"PRAGMA max_page_count = {pages or count}")

            return op

        instance_id = await engine.start_new("steps", None, {"run": "full", "count": 40})
        (await engine.store.write(limit(None))).result()
        while engine.fault is None:  # the history grows until a commit no longer fits
            await engine.wait_for_change(instance_id, 1.0)
            assert (await engine.get_instance(instance_id)).status == "Running", "it ended before the store filled"
        (await engine.store.write(limit(1_073_741_823))).result()
        row = await wait_until_done(engine, instance_id)
    assert json.loads(row.output) == list(range(40))
    assert sorted(ledger.read_text().splitlines()) == sorted(f"full:{n}" for n in range(40))
