"""One reused HTTP client per event loop for the app's own HTTP calls (job listing, progress reports).

A new `httpx.AsyncClient` per call costs a TLS context, a connection pool and a TCP handshake each
time (38 ms of CPU on the event loop per `list_jobs` call before, issue 9.7). The client is bound to
the loop it was first used on, so there is one per running loop: the Functions worker and the local
host each run async functions on one long-lived loop.
"""
from __future__ import annotations

import asyncio
import functools
import ssl
import weakref

import httpx

TIMEOUT_SECONDS = 30.0

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once: loading CA certificates costs ~35 ms."""
    return httpx.create_ssl_context()


def shared_client() -> httpx.AsyncClient:
    """The running loop's client (created on first use); call it from async code."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, verify=_tls_context())
        _clients[loop] = client
    return client
