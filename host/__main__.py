"""`python -m host`: start the local host for a Python v2 function app (default: this project).

Ctrl+C stops it quietly, with exit status 0 (so `make run` prints nothing either), whenever it comes:
while the app loads, while the host serves (uvicorn shuts down gracefully, then re-raises the signal,
which ends up here as KeyboardInterrupt), or during that shutdown (a second Ctrl+C skips the wait for
open connections). The process then ends without waiting for function threads that still run: what
they would have recorded is not, exactly as after a crash, and runs again at the next start
(activities run at least once; host/durable/engine.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
from typing import NoReturn

from host.interrupts import honour_ctrl_c


def main(argv: list[str] | None = None) -> int:
    """Run the host until it is stopped: 0 when stopped by Ctrl+C, 2 when it cannot start."""
    honour_ctrl_c()
    try:
        return serve(argv)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: a second Ctrl+C changes nothing
        return 0


def serve(argv: list[str] | None) -> int:
    # Imported here, inside main's KeyboardInterrupt handling: importing them takes a second or more.
    from host.banner import print_banner
    from host.bounded import bound_log_records
    from host.config import SettingError, parse_options
    from host.functions.loader import AppLoadError
    from host.http.connections import PortUnavailable, listening_socket
    from host.identity.settings import OAuthSettingsError
    from host.server import LocalHost
    from host.state_folder import StateFolderError
    from host.worker_console import divert_worker_console_lines

    options = parse_options(argv)
    try:
        sock = listening_socket(options.host, options.port)  # first: a busy port fails before anything else
    except PortUnavailable as exc:
        hint = '; pick another with --port, e.g. make run ARGS="--port 8080"' if exc.in_use else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    options = dataclasses.replace(options, port=sock.getsockname()[1])  # --port 0: the port it got
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Lines a user of `make run` cannot act on: a line per HTTP request of the functions' clients
    # (httpx's would also show one-time progress URLs; httpx2 is the model client's), and the Durable
    # SDK's one-time typing advisories about its own call sites. Their warnings still show.
    for name in ("httpx", "httpx2", "azure.functions.DurableFunctions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    divert_worker_console_lines()
    bound_log_records()
    try:
        local_host = LocalHost(options)
    except (AppLoadError, StateFolderError, SettingError, OAuthSettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_banner(local_host)
    local_host.serve(sock)
    return 0


def exit_now(code: int) -> NoReturn:
    """End the process with `code` once its output is flushed, without joining worker threads (a sync
    activity may run for minutes; the state it would change is durable and recovered at the next start)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
