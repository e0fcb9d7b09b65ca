"""A tiny HTTP site that agents' fetch_url tool reads in tests: counts hits per path; /slow takes 2 s;
pages a test adds with `serve` are served as given."""
from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

from .loopback_http import LoopbackHTTPServer


class CountingSite:
    """Serves `page <path>` for every GET on a loopback port (or the page `serve` added for the path)
    and counts the hits per path."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.pages: dict[str, tuple[bytes, str]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                if self.path.startswith("/slow"):
                    time.sleep(2)
                body, content_type = site.pages.get(self.path, (f"page {self.path}".encode(), "text/plain"))
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = LoopbackHTTPServer(Handler).start()

    def serve(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `body` at `path` from now on; returns the page's URL."""
        self.pages[path] = (body, content_type)
        return self.base + path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.close()
