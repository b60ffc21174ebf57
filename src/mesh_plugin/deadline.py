"""One overall deadline per tool call, seen by every request the call makes.

A surface (MCP, CLI, chat) runs each call inside :func:`call_deadline`; the Kubernetes client, the
Envoy admin reads and the Prometheus client take ``min(their timeout, what is left)`` for every socket
wait, and stop reading a body that trickles past the deadline. So a slow or hostile endpoint ends a call
in bounded time instead of holding it (and a server thread) forever.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import time
from collections.abc import Iterator

_END: contextvars.ContextVar[float | None] = contextvars.ContextVar("mesh_plugin_deadline", default=None)

#: bytes read per chunk while watching the deadline
CHUNK = 64 * 1024


def default_seconds(timeout: float) -> float:
    """The overall deadline of one call: ``MESH_PLUGIN_CALL_DEADLINE`` seconds, else three request timeouts."""
    raw = os.environ.get("MESH_PLUGIN_CALL_DEADLINE", "").strip()
    try:
        value = float(raw) if raw else 3 * timeout
    except ValueError:
        value = 3 * timeout
    return max(1.0, value)


@contextlib.contextmanager
def call_deadline(seconds: float | None) -> Iterator[None]:
    """Bound everything the block does to ``seconds`` (None: no deadline). Nested deadlines keep the earlier."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + seconds
    outer = _END.get()
    token = _END.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _END.reset(token)


def remaining() -> float | None:
    """Seconds left in the current call (None: no deadline)."""
    end = _END.get()
    return None if end is None else end - time.monotonic()


def bound(timeout: float) -> float:
    """A request's timeout cut to what is left of the call; raises ``TimeoutError`` when nothing is left."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise TimeoutError("the call's overall deadline has passed")
    return min(timeout, left)


def read_body(resp: object, timeout: float, max_bytes: int) -> bytes:
    """Read a response body in chunks, stopping at ``timeout`` seconds (or the call's deadline) and at
    ``max_bytes``. ``resp`` has ``read1(n)`` (urllib3) or ``read(n)`` (http.client): each returns what one
    socket read brings, so a body trickled a byte at a time cannot outlast the deadline."""
    end = time.monotonic() + bound(timeout)
    read = getattr(resp, "read1", None) or getattr(resp, "read")
    parts: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > end:
            raise TimeoutError(f"the body was still arriving after {timeout:.0f}s")
        chunk = read(CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(max_bytes)
        parts.append(chunk)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit
