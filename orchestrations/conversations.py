"""What a job that continues a conversation finds in its input (issue 18 §2): `continue_from`, the id of
the job continued, and `conversation`, that job's conversation as the Agents SDK's input list. The
launcher puts them there (tools/conversations.py); `agent_jobs.AgentJob.run` puts the conversation
before the new task.
"""
from __future__ import annotations

import json
from typing import Any

from orchestrations.agents.context_budget import CHARS_PER_TOKEN

CONTINUE_FROM = "continue_from"  # the launcher argument, and the input entry that records it
CONVERSATION = "conversation"  # the input entry holding the previous conversation


def describe(job_id: str, items: list[Any]) -> str:
    """How long a continued conversation is, for people: items, characters, about how many tokens."""
    chars = len(json.dumps(items, ensure_ascii=False))
    return (f"the conversation of job {job_id}: {len(items)} items, {chars:,} characters (about "
            f"{chars // CHARS_PER_TOKEN:,} tokens)")
