"""Why an engine operation was refused. Plain exceptions: the HTTP layer maps them to statuses
(`host/http/management_api.py`), as the Durable extension answers each case."""
from __future__ import annotations


class EngineError(Exception):
    """A request the engine refuses; the message says why (a malformed id, say)."""


class UnknownFunction(EngineError):
    """No orchestrator of that name in the app."""


class InstanceNotFound(EngineError):
    """No instance with that id."""


class InstanceEnded(EngineError):
    """The instance is in a state that does not take this operation (ended, or not failed for rewind)."""


class InstanceExists(EngineError):
    """A live instance already has that id."""


class PayloadTooLarge(EngineError):
    """An input, output or event over the configured payload limit."""


class StoreUnavailable(EngineError):
    """The state database could not be written (a full disk, an I/O error): nothing of the request was saved.
    The host keeps serving and recovers by itself once writes succeed again (issue 8, item 6)."""
