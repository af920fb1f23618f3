"""uvicorn's configuration for `serve --workers N`, with a listening socket that says it is
TCP (a module of its own: uvicorn pickles the configuration into each server process)."""

from __future__ import annotations

import socket

import uvicorn


class TCPConfig(uvicorn.Config):
    """uvicorn makes the listening socket without naming its protocol (0), and its server
    processes receive it pickled, which keeps that 0; asyncio sets TCP_NODELAY only on the
    connections of a socket that says TCP. Without it, a response written in two parts
    waited for the client's delayed ACK: 40 ms more per request with `--workers 2` than
    with one process, even for an empty app (uvicorn 0.54; issue 11)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())
