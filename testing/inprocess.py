"""The engine in this process, for fast tests and the benchmarks: a test app and a state folder, no HTTP."""
from __future__ import annotations

import contextlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import AsyncIterator

from host.durable.config import EngineConfig
from host.durable.engine import Engine
from host.durable.model import InstanceRow
from host.durable.store import HistoryStore
from host.functions.invoker import FunctionInvoker
from host.functions.loader import LoadedApp, load_app

from .host_process import TEST_APPS

_LOADED: dict[str, LoadedApp] = {}


def load_test_app(name: str) -> LoadedApp:
    """tests/apps/<name>, loaded once. Every app's script is a module named `function_app`, so the one
    loaded before is taken out of the import system's way first."""
    if name not in _LOADED:
        app_dir = str(TEST_APPS / name)
        sys.modules.pop("function_app", None)
        _LOADED[name] = load_app(app_dir)
        sys.modules.pop("function_app", None)
        sys.path.remove(str(Path(app_dir).resolve()))
    return _LOADED[name]


@contextlib.asynccontextmanager
async def running_engine(app: LoadedApp, state_dir: Path,
                         config: EngineConfig | None = None) -> AsyncIterator[Engine]:
    """An engine with its own store in `state_dir`, started, and stopped on exit."""
    store = HistoryStore(Path(state_dir) / "durable.sqlite")
    functions = ThreadPoolExecutor(32, thread_name_prefix="functions")
    orchestrators = ThreadPoolExecutor(4, thread_name_prefix="orchestrators")
    engine = Engine(app, store, FunctionInvoker(functions, str(app.directory), lambda: "{}"), orchestrators, config)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
        store.close()
        functions.shutdown(wait=False, cancel_futures=True)
        orchestrators.shutdown(wait=False, cancel_futures=True)


async def wait_until_done(engine: Engine, instance_id: str, timeout: float = 60) -> InstanceRow:
    """The instance's row once it has ended; TimeoutError if it has not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        row = await engine.get_instance(instance_id)
        if row is not None and row.is_terminal:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} has not ended after {timeout} s: {row}")
        await engine.wait_for_change(instance_id, 1.0)
