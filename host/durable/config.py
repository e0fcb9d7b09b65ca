"""The engine's limits and replay mode, read from the command line, the environment and host.json
`extensions.durableTask` by `host/config.py`."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


class Replay(str, Enum):
    """How orchestrator episodes run (issue 17 §3).

    KEPT: the local host's default. A generator orchestrator stays suspended and a durable OpenAI agent
    stays alive on a thread of its own between episodes (`replay.py`, `agent_session.py`); episodes are
    handed to a few orchestrator threads in batches.
    AZURE: as Azure's Python worker runs them: every episode replays the orchestrator from the start of
    its history through the SDK's own code (the agent wrapper included), one episode per call on the
    worker's one thread pool, which also runs sync activities and sync triggers, with the Durable
    extension's concurrency limits. Both write the same history."""

    KEPT = "kept"
    AZURE = "azure"


@dataclass
class EngineConfig:
    """max_payload_bytes: inputs, outputs, event data, activity inputs and results (bytes as Azure stores
    them, `payloads.py`);
    max_concurrent_activities: activities running at once; cache_size: instances kept in memory between
    episodes; max_agent_sessions: durable agents kept alive between episodes (each holds a parked thread;
    beyond it the least recently used is replayed on its next episode); activity_threads: threads that run
    sync activities (KEPT; with AZURE they run on the worker pool); replay: see `Replay`;
    max_concurrent_orchestrators: episodes running at once with AZURE (host.json
    maxConcurrentOrchestratorFunctions)."""

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_concurrent_activities: int = 200
    cache_size: int = 2000
    max_agent_sessions: int = 256
    activity_threads: int = 32
    replay: Replay = Replay.KEPT
    max_concurrent_orchestrators: int = 20

    @property
    def keeps_sessions(self) -> bool:
        return self.replay is Replay.KEPT
