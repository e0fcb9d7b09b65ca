"""Management operations (start, events, terminate, suspend, resume, rewind, restart, purge, queries),
each validated first and then one transaction; reads go through the store's reader thread."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Awaitable, Callable, Iterable

from host.durable import events as he
from host.durable.backend import Backend
from host.durable.config import EngineConfig
from host.durable.errors import (
    EngineError,
    InstanceEnded,
    InstanceExists,
    InstanceNotFound,
    PayloadTooLarge,
    UnknownFunction,
)
from host.durable.events import EventType
from host.durable.model import LIVE_STATUSES, InstanceRow, RuntimeStatus
from host.durable.payloads import stored_bytes
from host.durable.rewind import rewind_operation
from host.durable.store import HistoryStore, Transaction, dumps
from host.functions.loader import LoadedApp


class Management:
    """The engine's public operations; `app`, `store`, `backend` and `config` are set by the engine."""

    app: LoadedApp
    store: HistoryStore
    backend: Backend
    config: EngineConfig
    # Awaited with the ids before an operation rewinds, restarts or replaces ended instances (False), or purges
    # instances (True): whoever keeps something derived from how an instance ended records it first (the MCP
    # tasks' outcomes, host/mcp/tasks.py, issue 21 §1.1). Set by the engine; the host adds to it.
    change_hooks: list[Callable[[list[str], bool], Awaitable[None]]]

    async def _before_change(self, instance_ids: list[str], removed: bool) -> None:
        for hook in self.change_hooks:
            await hook(instance_ids, removed)

    def check_payload(self, what: str, value: Any) -> None:
        """`PayloadTooLarge` when `value` is over the limit as Azure stores it (`payloads.stored_bytes`)."""
        size = stored_bytes(value)
        if size > self.config.max_payload_bytes:
            raise PayloadTooLarge(
                f"{what} is {size} bytes, over the local host's limit of {self.config.max_payload_bytes} bytes")

    async def start_new(self, name: str, instance_id: str | None = None, input_value: Any = None,
                        replace_terminal: bool = True) -> str:
        """Create an instance of orchestrator `name`; refuses a live instance with the same id."""
        orchestrator = self.app.orchestrator(name)
        if orchestrator is None:
            raise UnknownFunction(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.")
        chosen, instance_id = instance_id is not None, instance_id or uuid.uuid4().hex
        if instance_id.startswith("@") or not instance_id.strip() or len(instance_id) > 256:
            raise EngineError(f"Invalid instance id {instance_id!r}")
        self.check_payload("The orchestration input", input_value)
        input_json = None if input_value is None else dumps(input_value)
        now = time.time()
        row = InstanceRow(instance_id, orchestrator.durable_name, uuid.uuid4().hex, RuntimeStatus.PENDING,
                          input_json, None, None, now, now)
        started = he.execution_started(now, row.name, instance_id, row.execution_id, input_json)

        def op(txn: Transaction) -> None:
            status = txn.status(instance_id)
            if status is not None:
                if not replace_terminal or not status.is_terminal:
                    raise InstanceExists(
                        f"An instance with ID '{instance_id}' already exists and is not in a terminal state.")
                txn.delete_instance(instance_id)
            txn.create_instance(row, started)

        if chosen and replace_terminal and self.change_hooks:
            existing = await self.get_instance(instance_id)
            if existing is not None and existing.is_terminal:
                await self._before_change([instance_id], False)
        await self.backend.commit(op)
        return instance_id

    async def get_instance(self, instance_id: str) -> InstanceRow | None:
        return await self.store.read(self.store.get_instance, instance_id)

    async def get_history(self, instance_id: str) -> list[dict[str, Any]]:
        return [json.loads(text) for text in await self.store.read(self.store.load_history, instance_id)]

    async def query_instances(self, statuses: Iterable[str] | None = None, created_from: float | None = None,
                              created_to: float | None = None, prefix: str | None = None,
                              after: tuple[float, str] | None = None, limit: int = 100) -> list[InstanceRow]:
        return await self.store.read(self.store.query_instances, statuses, created_from, created_to, prefix,
                                     after, limit)

    async def raise_event(self, instance_id: str, name: str, value: Any) -> None:
        self.check_payload("The event data", value)
        await self._send(instance_id, he.event_raised(time.time(), name, dumps(value)))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        await self._send(instance_id, he.event(EventType.ExecutionTerminated, time.time(), Input=reason))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._send(instance_id, he.event(EventType.ExecutionSuspended, time.time(), Reason=reason))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._send(instance_id, he.event(EventType.ExecutionResumed, time.time(), Reason=reason))

    async def _send(self, instance_id: str, event: dict[str, Any]) -> None:
        def op(txn: Transaction) -> None:
            status = txn.status(instance_id)
            if status is None:
                raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
            if status not in LIVE_STATUSES:
                raise InstanceEnded(f"The instance '{instance_id}' is in the {status} state.")
            txn.enqueue(instance_id, event)

        await self.backend.commit(op)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Continue a failed instance from its failure; recorded steps are not run again."""
        await self._before_change([instance_id], False)
        await self.backend.commit(rewind_operation(instance_id, reason, time.time()))

    async def restart(self, instance_id: str, new_instance_id: bool) -> str:
        row = await self.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(f"No instance with ID '{instance_id}' was found.")
        input_value = None if row.input is None else json.loads(row.input)
        return await self.start_new(row.name, None if new_instance_id else instance_id, input_value)

    async def purge(self, instance_id: str) -> int:
        await self._before_change([instance_id], True)
        return int(await self.backend.commit(lambda txn: txn.delete_instance(instance_id)))

    async def purge_by(self, statuses: Iterable[str] | None, created_from: float | None,
                       created_to: float | None) -> int:
        if self.change_hooks:
            rows = await self.query_instances(statuses, created_from, created_to, limit=-1)  # -1: no limit
            await self._before_change([row.instance_id for row in rows], True)

        def op(txn: Transaction) -> int:
            ids = txn.matching(statuses, created_from, created_to)
            for instance_id in ids:
                txn.delete_instance(instance_id)
            return len(ids)

        return await self.backend.commit(op)

    async def wait_for_change(self, instance_id: str, timeout: float) -> None:
        """Return when the instance next commits a change, or after `timeout` seconds."""
        await self.backend.wait_for_change(instance_id, timeout)
