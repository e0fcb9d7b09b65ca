"""A tiny HTTP site that agents' fetch_url tool reads in tests: counts hits per path; /slow takes 2 s."""
from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

from .loopback_http import LoopbackHTTPServer


class CountingSite:
    """Serves `page <path>` for every GET on a loopback port and counts the hits per path."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                if self.path.startswith("/slow"):
                    time.sleep(2)
                body = f"page {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = LoopbackHTTPServer(Handler).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.close()
