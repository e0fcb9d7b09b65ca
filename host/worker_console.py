"""The console as the Functions host keeps it: worker lines meant for the platform stay out of it.

A line a function (or a library it uses) prints that starts with `LanguageWorkerConsoleLog` is, for
the Azure Functions host, a message to the platform, not to the user: it strips the prefix and logs
the rest at Debug (azure-functions-host, WorkerProcessUtilities.IsConsoleLog and
LanguageWorkerConstants.LanguageWorkerConsoleLogPrefix, matched case-insensitively). The Durable
SDK's OpenAI Agents integration prints one on its first agent call ("Detected OpenAI Agents SDK
integration ... Package versions: ..."), which the local host showed in the middle of the job log.
Here such lines go to the `host.worker` logger at DEBUG the same way; everything else is written
through at once.
"""
from __future__ import annotations

import io
import logging
import sys
import threading
from typing import TextIO

PREFIX = "LanguageWorkerConsoleLog"

log = logging.getLogger("host.worker")


class WorkerConsole(io.TextIOBase):
    """A text stream in front of `stream` that diverts whole lines starting with PREFIX to `log`.

    Text that might still become such a line (the start of a line, shorter than the prefix and
    matching it so far) is held back until it can be told; any other text is written at once.
    """

    def __init__(self, stream: TextIO):
        super().__init__()
        self.stream = stream
        self._lock = threading.Lock()
        self._held = ""  # the start of the current line, while it may be a console log line
        self._diverting = False  # the current line is a console log line
        self._at_line_start = True

    def write(self, text: str) -> int:
        with self._lock:
            for piece in text.splitlines(keepends=True):
                self._take(piece)
        return len(text)

    def _take(self, piece: str) -> None:
        ends_line = piece.endswith(("\n", "\r"))
        if not self._diverting:
            if not self._at_line_start:
                self._write_through(piece, ends_line)
                return
            candidate = self._held + piece
            head = candidate[:len(PREFIX)].lower()
            if head != PREFIX.lower():
                if PREFIX.lower().startswith(head) and not ends_line:
                    self._held = candidate  # may still become a console log line
                else:
                    self._held = ""
                    self._write_through(candidate, ends_line)
                return
            self._held, self._diverting = "", True
            piece = candidate
        self._held += piece
        if ends_line:
            log.debug("%s", self._held[len(PREFIX):].rstrip())
            self._held, self._diverting = "", False

    def _write_through(self, text: str, ends_line: bool) -> None:
        self.stream.write(text)
        self._at_line_start = ends_line

    def flush(self) -> None:
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


def divert_worker_console_lines() -> None:
    """Put a WorkerConsole in front of sys.stdout (the host's functions run in this process)."""
    if not isinstance(sys.stdout, WorkerConsole):
        sys.stdout = WorkerConsole(sys.stdout)
