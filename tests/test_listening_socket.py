"""The host's own listening socket (host/http/connections.py), in process: what uvicorn is handed."""
from __future__ import annotations

import asyncio
import socket

import pytest

from host.http.connections import PortUnavailable, listening_socket


async def accepted_nodelay(sock: socket.socket) -> int:
    """TCP_NODELAY on the server side of one connection accepted through `sock` by asyncio."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    async with server:
        _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        result = await accepted
        writer.close()
    return result


def test_accepted_connections_have_nagle_off():
    """asyncio turns Nagle off only for sockets whose proto says TCP; with it on, every sequential
    request-response paid a ~40 ms delayed ACK (bench_mcp p50 48 ms instead of 2.4 ms)."""
    assert asyncio.run(accepted_nodelay(listening_socket("127.0.0.1", 0))) != 0


def test_busy_port_and_bad_address_are_one_line_errors():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortUnavailable) as busy:
            listening_socket("127.0.0.1", port)
    assert busy.value.in_use and str(busy.value) == f"port {port} on 127.0.0.1 is already in use " \
                                                     "(another server listens there)"
    with pytest.raises(PortUnavailable) as unusable:
        listening_socket("192.0.2.1", 0)  # TEST-NET-1: not an address of this machine
    assert not unusable.value.in_use and "cannot listen on 192.0.2.1" in str(unusable.value)
