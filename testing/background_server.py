"""An ASGI app served by uvicorn in a daemon thread on a loopback port, for the fakes of outside services."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind before serving, so the caller knows the port (even for port 0) before uvicorn starts.

    The protocol must be IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only
    then, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def uvicorn_server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))


class BackgroundServer:
    """Serves `self.app()` in a thread: `with Subclass(...) as server:` then talk to `server.url`."""

    name = "background-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._sock = listening_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def app(self) -> Any:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10) -> "BackgroundServer":
        self._server = uvicorn_server(self.app())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
