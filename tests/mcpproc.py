"""`mesh-plugin serve` as a real process, reached with the official MCP client over stdio or streamable HTTP."""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import mcp
from mcp.client.stdio import StdioServerParameters, stdio_client

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(kubeconfig: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_PLUGIN_")}
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def stdio_session(env: dict[str, str], *args: str, cwd: str | None = None) -> AsyncIterator[mcp.ClientSession]:
    params = StdioServerParameters(command=BIN, args=["serve", *args], env=env, cwd=cwd)
    async with stdio_client(params) as (read, write):
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            yield session


@contextlib.asynccontextmanager
async def http_server(env: dict[str, str], *args: str, cwd: str | None = None
                      ) -> AsyncIterator[tuple[int, asyncio.subprocess.Process]]:
    """`serve --transport streamable-http` on a free loopback port; yields (port, process) once it listens."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        BIN, "serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port), *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                if proc.returncode is not None:
                    raise RuntimeError((await proc.stderr.read()).decode()[-2000:])  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
        yield port, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


@contextlib.asynccontextmanager
async def http_session(port: int, token: str | None = None) -> AsyncIterator[mcp.ClientSession]:
    import httpx2 as httpx
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60.0)) as http:
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (read, write):
            async with mcp.ClientSession(read, write) as session:
                await session.initialize()
                yield session


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def text_of(result: object) -> str:
    """Everything a client gets back from a call: content text and structured content."""
    import json

    parts = [getattr(c, "text", "") for c in getattr(result, "content", []) or []]
    sc = getattr(result, "structured_content", None)
    if sc:
        parts.append(json.dumps(sc))
    return "\n".join(parts)


async def call_op(session: mcp.ClientSession, operation: str, args: dict) -> object:
    """Call an operation (e.g. ``mtls_status``) as a model would: its MCP tool, with ``view=``/``action=``."""
    from mesh_plugin.tools.registry import get_tool

    o = get_tool(operation)
    key = o.spec.key
    return await session.call_tool(o.tool, {**({key: o.view} if key else {}), **args})


def answer(result: object, operation: str) -> dict:
    """The operation's own answer inside the tool's structured content."""
    from mesh_plugin.tools.registry import get_tool

    o = get_tool(operation)
    sc = getattr(result, "structured_content", None) or {}
    return sc[o.view] if o.spec.key else sc
