"""Ctrl+C is honoured from the first line, however the process was started.

A shell without job control starts a background command (`make run &`, a CI script's `cmd &`) with SIGINT
ignored, and an ignored signal stays ignored across exec; Python then installs no KeyboardInterrupt handler
(Python docs, signal: "SIGINT is translated into a KeyboardInterrupt exception if the parent process has not
changed it"). uvicorn installs its own SIGINT handler once it serves, so such a host ignored a Ctrl+C (or
`kill -INT`) only while the app still loaded, and the demo never stopped its host. Seen as the Ctrl+C tests
failing whenever the test run itself was started in the background.
"""
from __future__ import annotations

import signal


def honour_ctrl_c() -> None:
    """Turn an inherited 'ignore SIGINT' into Python's KeyboardInterrupt; any other disposition is kept."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
