"""Client-supplied text is shortened before the host echoes it in an error or writes it to its log.

Issue 8 item 4: a 1 MB `clientInfo` came back as a 1.3 MB header, a 3 MB job id wrote 3 MB to the
log. Errors name what was wrong with `bounded(value)`; every log record passes `BoundedLogRecords`,
which shortens the message and any traceback, so no code path can flood the log.
"""
from __future__ import annotations

import logging

MAX_ECHO_CHARS = 200
MAX_LOG_CHARS = 4000


def bounded(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """`str(value)`, cut to `limit` characters with a note of the full length when longer."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def _head_and_tail(text: str, limit: int) -> str:
    """Tracebacks: keep the start and the end (where the exception is), drop the middle."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... ({len(text) - 2 * half:,} characters left out) ...\n{text[-half:]}"


class BoundedLogRecords(logging.Filter):
    """A handler filter: messages over `limit` characters are cut, tracebacks keep head and tail."""

    def __init__(self, limit: int = MAX_LOG_CHARS):
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit:
            record.msg, record.args = bounded(message, self.limit), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _head_and_tail(record.exc_text, self.limit)
        return True


def bound_log_records(limit: int = MAX_LOG_CHARS) -> None:
    """Install `BoundedLogRecords` on every handler of the root logger (call after logging is set up)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(BoundedLogRecords(limit))
