"""`serve --workers N` hands its server processes a listening socket that says it is TCP,
so that asyncio sets TCP_NODELAY on every connection (issue 11). Without it, a response
written in two parts waited for the client's delayed ACK: 40 ms more per request."""

from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import ThreadPoolExecutor

from trialhub.cli.tcp import TCPConfig


def _as_a_server_process_gets_it(sock: socket.socket) -> socket.socket:
    """What multiprocessing rebuilds in the process it spawns: a socket of the same family,
    type and protocol number, on a duplicate of the descriptor."""
    return socket.socket(sock.family, sock.type, sock.proto, os.dup(sock.fileno()))


async def _nodelay_of_an_accepted_connection(listening: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def connected(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(connected, sock=listening)
    host, port = listening.getsockname()[:2]
    _reader, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(accepted, timeout=10)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_connections_to_the_server_processes_socket_send_without_delay() -> None:
    sock = TCPConfig("trialhub.cli.processes:app_for_server_process", port=0).bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
        copy = _as_a_server_process_gets_it(sock)
        # in a thread of its own: a browser test in this process may hold a running loop
        with ThreadPoolExecutor(1) as thread:
            nodelay = thread.submit(asyncio.run, _nodelay_of_an_accepted_connection(copy))
            assert nodelay.result(timeout=30) != 0
    finally:
        sock.close()
