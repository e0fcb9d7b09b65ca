"""A standard-library HTTP server on a loopback port for the small outside sites tests need, quiet when
a client gives up: a fetch that timed out closes its connection, and the handler's late write then
fails with BrokenPipeError or ConnectionResetError, which `socketserver` would print as a traceback."""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` on 127.0.0.1 (port 0: a free one), serving in a daemon thread once
    `start()` is called; `close()` stops it."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> "LoopbackHTTPServer":
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client went away first: expected in these tests, not a fault of the server
        super().handle_error(request, client_address)
