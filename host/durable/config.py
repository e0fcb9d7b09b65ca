"""The engine's limits, read from host.json `extensions.durableTask` by `host/config.py`."""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


@dataclass
class EngineConfig:
    """max_payload_bytes: inputs, outputs, event data, activity inputs and results (bytes as Azure stores
    them, `payloads.py`);
    max_concurrent_activities: activities running at once; cache_size: instances kept in memory between
    episodes; max_agent_sessions: durable agents kept alive between episodes (each holds a parked thread;
    beyond it the least recently used is replayed on its next episode); activity_threads: threads that run
    sync activities."""

    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_concurrent_activities: int = 200
    cache_size: int = 2000
    max_agent_sessions: int = 256
    activity_threads: int = 32
