"""`python -m host`: start the local host for a Python v2 function app (default: this project)."""
from __future__ import annotations

import dataclasses
import logging
import sys

from host.banner import print_banner
from host.bounded import bound_log_records
from host.config import parse_options
from host.functions.loader import AppLoadError
from host.http.connections import PortUnavailable, listening_socket


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        sock = listening_socket(options.host, options.port)  # first: a busy port fails before anything else
    except PortUnavailable as exc:
        hint = '; pick another with --port, e.g. make run ARGS="--port 8080"' if exc.in_use else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    options = dataclasses.replace(options, port=sock.getsockname()[1])  # --port 0: the port it got
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines would show one-time progress URLs
    bound_log_records()
    from host.server import LocalHost

    try:
        local_host = LocalHost(options)
    except AppLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_banner(local_host)
    local_host.serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
