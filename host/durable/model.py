"""The engine's records: an instance's runtime status and the rows kept per instance, activity and timer."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RuntimeStatus(str, Enum):
    """An orchestration instance's runtime status, with the Durable extension's names
    (`OrchestrationRuntimeStatus`); a `str`, so it compares equal to the name and JSON-encodes as it."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    CANCELED = "Canceled"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_terminal(self) -> bool:
        """Completed, failed, terminated or canceled: the instance runs no more (until rewound or restarted)."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED,
                               RuntimeStatus.CANCELED})
LIVE_STATUSES = frozenset({RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.SUSPENDED,
                           RuntimeStatus.CONTINUED_AS_NEW})


@dataclass
class InstanceRow:
    """One orchestration instance as stored: its JSON texts (`input`, `output`, `custom_status`) as
    the management API returns them, times in seconds since the epoch."""

    instance_id: str
    name: str
    execution_id: str
    status: RuntimeStatus
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
        return self.status.is_terminal


@dataclass
class PendingActivity:
    """An activity scheduled by `execution_id` whose result is not recorded yet (run at least once)."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass
class PendingTimer:
    """A durable timer of `execution_id` that has not fired yet; `fire_at` in seconds since the epoch."""

    instance_id: str
    execution_id: str
    timer_id: int
    fire_at: float
