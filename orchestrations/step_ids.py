"""Instance ids for sub-orchestrations, `<parent id>:<label>-<8 hex>`, so a job's steps can be found.

Without an explicit id the Durable extension names a sub-orchestration with a GUID, and the
history it shows people drops the child's id once the child completes (the scheduling event is
merged into the completion), so nothing would link a job to the steps it ran. Naming every child
under its parent's id keeps that link on both hosts: the job view finds all of a job's steps with
the management API's `instanceIdPrefix` filter, and a step's parent is the id before its last `:`.
The suffix comes from `context.new_uuid()`, which is the same on every replay.
"""
from __future__ import annotations

import re
from typing import Any

MAX_LABEL_CHARS = 24


def step_instance_id(context: Any, label: str) -> str:
    """A replay-safe, unique instance id for a sub-orchestration of `context`'s instance."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:MAX_LABEL_CHARS].strip("-") or "step"
    return f"{context.instance_id}:{slug}-{context.new_uuid()[:8]}"
