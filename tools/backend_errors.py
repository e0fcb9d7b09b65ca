"""What a caller sees when the Durable backend fails a request: one readable sentence, and that trying
again later is worth it (a 503 means the backend cannot take requests now: a full disk on the local
host, an outage of the storage or the scheduler on Azure).

The SDK's `DurableOrchestrationClient` raises a plain `Exception` whose argument is either the
management API's error body, `{"Message": ..., "ExceptionMessage": ...}` (Azure's shape, and the local
host's; `start_new` passes it on for any status but 400), or a text naming the status code
("Webhook returned unrecognized status code 503" from `raise_event`, "... unexpected status code 503"
from purges). Anything else is not the backend's answer and is left to the caller.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from .arguments import ToolError

MAX_REASON_CHARS = 400
_STATUS_IN_TEXT = re.compile(r"(?:unrecognized|unexpected) status code (5\d\d)\b")


class BackendUnavailable(ToolError):
    """The Durable backend failed a request; the message says why and to try again later (HTTP 503
    from the HTTP starter)."""


def body_sentence(body: Any) -> Optional[str]:
    """The `Message` of a management API error body (a dict, or its JSON text) as one sentence."""
    if isinstance(body, dict):
        message = body.get("Message") or body.get("ExceptionMessage")
        if isinstance(message, str) and message.strip():
            text = " ".join(message.split()).rstrip(". ")
            return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 1] + "…"
    return None


def backend_reason(error: BaseException) -> Optional[str]:
    """Why the backend failed, as one sentence, when `error` is the SDK client's report of a failed
    management API request (a server-side failure); None for any other error."""
    body = error.args[0] if len(error.args) == 1 else None
    sentence = body_sentence(body)
    if sentence:
        return sentence
    match = _STATUS_IN_TEXT.search(str(error))
    if match:
        status = match.group(1)
        return f"the Durable backend answered HTTP {status}" + (" (it cannot take requests now)"
                                                                if status == "503" else "")
    return None


def unavailable(what: str, reason: str) -> BackendUnavailable:
    """"<what>: <reason>. Try again later." """
    return BackendUnavailable(f"{what}: {reason}. Try again later.")
