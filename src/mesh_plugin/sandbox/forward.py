"""TCP forwarders from 127.0.0.1 into the pod network, like ``kubectl port-forward``.

Each forwarder listens on a random 127.0.0.1 port of this process's namespace and, per connection, opens a
socket in a pod's (or the node's) network namespace to a fixed address there, then relays bytes both ways.
A connection that the far side refuses is closed at once, as a port-forward does.
"""
from __future__ import annotations

import asyncio
import contextlib

from .netns import NetNS


class Forwarder:
    def __init__(self, netns: NetNS, host: str, port: int) -> None:
        self.netns = netns
        self.host = host
        self.port = port
        self.local_port = 0
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> "Forwarder":
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.local_port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._conns):
            w.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        self._conns.add(writer)
        try:
            sock = self.netns.socket()
            sock.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (self.host, self.port)), 5)
            except (OSError, asyncio.TimeoutError):
                sock.close()
                return
            ur, uw = await asyncio.open_connection(sock=sock)
            self._conns.add(uw)
            try:
                await asyncio.gather(_pipe(reader, uw), _pipe(ur, writer))
            finally:
                self._conns.discard(uw)
                uw.close()
        except (OSError, RuntimeError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await src.read(65536)
            if not data:
                break
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if dst.can_write_eof():
                dst.write_eof()
            else:
                dst.close()
