"""Scheduling: which instance runs an episode when, and what the host keeps in memory between episodes.

An instance with new messages is queued; ready instances go to the orchestrator threads in batches
(one hand-off for many short episodes; with `Replay.AZURE` one episode per hand-off, as the Durable
extension calls the worker once per episode, up to maxConcurrentOrchestratorFunctions at once), each
batch's decisions are committed in one group commit, and only then do they take effect (`Backend.apply`). An instance is in at most one episode at a time; what
arrives meanwhile waits for the next. A commit that fails because the store cannot be written puts the
messages back and retries the instance later, with a growing delay, until the disk takes writes again.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.durable.config import EngineConfig, Replay
from host.durable.episode import EpisodeDecisions, InstanceState, Message, load_state, run_episode
from host.durable.errors import StoreUnavailable
from host.durable.handoff import ThreadToLoop
from host.durable.model import InstanceRow, RuntimeStatus
from host.durable.store import HistoryStore, InstanceGone, Outcome
from host.functions.loader import LoadedApp

if TYPE_CHECKING:
    from host.durable.backend import Backend

log = logging.getLogger("host.engine")

MAX_BATCH = 64
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)  # seconds before retrying an episode whose commit failed


@dataclass
class _Job:
    instance_id: str
    state: InstanceState | None  # None: read it from the store in the worker thread
    messages: list[Message]


@dataclass
class _Done:
    job: _Job
    state: InstanceState | None = None
    decisions: EpisodeDecisions | None = None
    error: BaseException | None = None


class Scheduler:
    def __init__(self, app: LoadedApp, store: HistoryStore, backend: "Backend", pool: Executor,
                 config: EngineConfig, workers: int):
        self.app = app
        self.store = store
        self.backend = backend
        self.config = config
        self._pool = pool
        self._workers = workers
        self._max_batch = MAX_BATCH if config.replay is Replay.KEPT else 1
        self.states: OrderedDict[str, InstanceState] = OrderedDict()
        self.pending: dict[str, list[Message]] = {}
        self._agents: OrderedDict[str, None] = OrderedDict()  # instances whose session holds an agent thread
        self._ready: deque[str] = deque()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._forgotten: set[str] = set()  # forgotten while in an episode: its state is dropped afterwards
        self._failures: dict[str, int] = {}
        self._in_flight = 0
        self._pump_scheduled = False
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: ThreadToLoop[list[_Done]] | None = None
        self._commits: set[asyncio.Task] = set()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = ThreadToLoop(self._loop, self._on_done)

    async def stop(self) -> None:
        self._stopping = True
        if self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)
        for state in self.states.values():
            state.drop_session()
        self.states.clear()

    # ---- what the backend tells it ----------------------------------------------------------------
    def deliver(self, instance_id: str, message: Message) -> None:
        """A new event for the instance (committed, or an activity result / timer held in memory)."""
        self.pending.setdefault(instance_id, []).append(message)
        self.wake(instance_id)

    def adopt(self, row: InstanceRow) -> None:
        """A new instance: its state is known without reading the store."""
        self.forget(row.instance_id, drop_pending=False)
        self._remember(InstanceState(row))

    def forget(self, instance_id: str, drop_pending: bool) -> None:
        """Drop what is kept of the instance (its history changed or it is gone)."""
        state = self.states.pop(instance_id, None)
        self._agents.pop(instance_id, None)
        if instance_id in self._running:
            self._forgotten.add(instance_id)
        elif state is not None:
            state.drop_session()
        if drop_pending:
            self.pending.pop(instance_id, None)

    def wake(self, instance_id: str) -> None:
        if self._stopping or instance_id in self._queued or instance_id in self._running:
            return
        self._queued.add(instance_id)
        self._ready.append(instance_id)
        if not self._pump_scheduled and self._loop is not None:
            self._pump_scheduled = True
            self._loop.call_soon(self._pump)

    # ---- episodes ---------------------------------------------------------------------------------
    def _pump(self) -> None:
        self._pump_scheduled = False
        while self._ready and self._in_flight < self._workers and not self._stopping:
            size = max(1, min(self._max_batch, len(self._ready) // (self._workers - self._in_flight)))
            jobs = []
            while self._ready and len(jobs) < size:
                instance_id = self._ready.popleft()
                self._queued.discard(instance_id)
                messages = self.pending.pop(instance_id, None)
                if not messages:
                    continue
                self._running.add(instance_id)
                state = self.states.get(instance_id)
                if state is not None:
                    self.states.move_to_end(instance_id)
                jobs.append(_Job(instance_id, state, messages))
            if jobs:
                self._in_flight += 1
                self._pool.submit(self._run_batch, jobs)

    def _run_batch(self, jobs: list[_Job]) -> None:
        """In an orchestrator thread: run each job's episode; the decisions go back to the loop together."""
        results = []
        for job in jobs:
            done = _Done(job)
            try:
                done.state = job.state or load_state(self.store, job.instance_id)
                if done.state is not None:
                    done.decisions = run_episode(self.app, done.state, job.messages, time.time(), self.config)
            except BaseException as exc:  # a host bug: the instance is retried, the others go on
                done.error = exc
            results.append(done)
        assert self._done is not None
        self._done.post(results)

    def _on_done(self, batches: list[list[_Done]]) -> None:
        if self._stopping:  # nothing of these was committed: the next start runs them again
            return
        for results in batches:
            self._in_flight -= 1
            task = asyncio.get_running_loop().create_task(self._commit(results))
            self._commits.add(task)
            task.add_done_callback(self._commits.discard)
        self._pump()

    async def _commit(self, results: list[_Done]) -> None:
        decided = [done for done in results if done.decisions is not None]
        try:
            outcomes = await self.store.write_many([done.decisions.write for done in decided]) if decided else []
        except Exception as exc:  # the writer itself is gone (shutdown)
            outcomes = [Outcome(error=exc) for _ in decided]
        by_job = {id(done): outcome for done, outcome in zip(decided, outcomes)}
        for done in results:
            self._settle(done, by_job.get(id(done)))

    def _settle(self, done: _Done, outcome: Outcome | None) -> None:
        instance_id = done.job.instance_id
        self._running.discard(instance_id)
        forgotten = instance_id in self._forgotten
        self._forgotten.discard(instance_id)
        state, decisions = done.state, done.decisions
        if done.error is not None:
            log.error("an episode of %s failed in the host", instance_id, exc_info=done.error)
            self._retry_later(done, state)
            return
        if state is None or decisions is None:  # no such instance (any more): its messages go with it
            return
        assert outcome is not None
        if outcome.error is not None:
            if isinstance(outcome.error, InstanceGone):
                state.drop_session()
                self.forget(instance_id, drop_pending=False)
                return
            if not isinstance(outcome.error, StoreUnavailable):
                log.error("the commit of an episode of %s failed", instance_id, exc_info=outcome.error)
            self._retry_later(done, state)
            return
        self._failures.pop(instance_id, None)
        assert outcome.changes is not None
        self.backend.apply(outcome.changes)
        if decisions.finished or forgotten:
            state.drop_session()
            self.forget(instance_id, drop_pending=False)
        else:
            self._remember(state)
        arrived = bool(self.pending.get(instance_id))
        if decisions.left:
            self.pending[instance_id] = decisions.left + self.pending.get(instance_id, [])
        if arrived or (decisions.left and state.row.status is not RuntimeStatus.SUSPENDED):
            self.wake(instance_id)

    def _retry_later(self, done: _Done, state: InstanceState | None) -> None:
        """Put the messages back (they were not recorded) and try the instance again after a while."""
        instance_id = done.job.instance_id
        if state is not None:
            state.drop_session()
        self.forget(instance_id, drop_pending=False)
        self.pending[instance_id] = done.job.messages + self.pending.get(instance_id, [])
        failures = self._failures.get(instance_id, 0)
        self._failures[instance_id] = failures + 1
        delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
        assert self._loop is not None
        self._loop.call_later(delay, self.wake, instance_id)

    def _remember(self, state: InstanceState) -> None:
        instance_id = state.row.instance_id
        self.states[instance_id] = state
        self.states.move_to_end(instance_id)
        if state.session is not None and state.session.holds_thread:
            self._agents[instance_id] = None
            self._agents.move_to_end(instance_id)
        self._evict(self._agents, self.config.max_agent_sessions)
        self._evict(self.states, self.config.cache_size)

    def _evict(self, entries: "OrderedDict[str, Any]", limit: int) -> None:
        """Forget the least recently used instances over `limit`, except those in an episode."""
        if len(entries) <= limit:
            return
        for instance_id in list(entries):
            if len(entries) <= limit:
                return
            if instance_id not in self._running:
                self.forget(instance_id, drop_pending=False)
