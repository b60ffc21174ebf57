"""The MCP server in-process (mcp.Client) and over stdio with exactly the command in .mcp.json."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import mcp
from mcp.client.stdio import StdioServerParameters, stdio_client
from mesh_plugin.runtime import configure
from mesh_plugin.server import build_server
from mesh_plugin.tools import load_tools

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"mesh_overview", "analyze", "proxy_inspect", "security_status", "traffic_status",
            "install_plan", "traffic_change", "security_change", "proxy_log_level", "rollback_change", "install_apply"}
WRITES = {"traffic_change", "security_change", "proxy_log_level", "rollback_change", "install_apply"}
DESTRUCTIVE = WRITES - {"proxy_log_level"}
NOT_IDEMPOTENT = {"rollback_change", "traffic_change", "install_apply"}


async def test_tools_list_has_schemas_titles_and_annotations():
    async with mcp.Client(build_server()) as c:
        tools = (await c.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED
    for t in tools:
        assert t.title and t.description and len(t.description) > 50
        assert t.output_schema and t.output_schema.get("type") == "object"
        a = t.annotations
        assert a.read_only_hint is (t.name not in WRITES) and a.destructive_hint is (t.name in DESTRUCTIVE)
        assert a.idempotent_hint is (t.name not in NOT_IDEMPOTENT)
        assert a.title == t.title


async def test_read_only_server_has_no_write_tools():
    async with mcp.Client(build_server(read_only=True)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert names == {t.name for t in load_tools() if t.read_only} == EXPECTED - WRITES


async def test_call_returns_structured_content(sandbox):
    configure(sandbox.kubeconfig, "sandbox")
    async with mcp.Client(build_server()) as c:
        r = await c.call_tool("mesh_overview", {"view": "workloads", "namespace": "production", "limit": 2})
    assert not r.is_error
    assert json.loads(r.content[0].text) == r.structured_content  # the text is the same answer, compact
    sc = r.structured_content["workloads"]
    assert sc["page"] == {"total": 6, "shown": 2, "offset": 0,
                          "note": "showing 2 of 6 workloads; next page: offset=2; narrow with namespace= or sidecar="}
    assert sc["workloads"][0]["name"] == "legacy-batch"


async def test_errors_name_the_next_step(sandbox, tmp_path):
    configure(sandbox.kubeconfig, "sandbox")
    async with mcp.Client(build_server()) as c:
        r = await c.call_tool("mesh_overview", {"view": "workloads", "namespace": "Not_A_Namespace"})
        assert r.is_error and "namespace" in r.content[0].text
        r = await c.call_tool("proxy_inspect", {"view": "health", "pod": sandbox.pod_name("legacy-batch"),
                                                "namespace": "production"})
        assert r.is_error and "no Envoy sidecar" in r.content[0].text and "mesh_overview view=workloads" in r.content[0].text
    configure(str(tmp_path / "missing-kubeconfig"), None)
    async with mcp.Client(build_server()) as c:
        assert {t.name for t in (await c.list_tools()).tools} == EXPECTED
        r = await c.call_tool("mesh_overview", {})
        assert r.is_error and "Next:" in r.content[0].text and "Traceback" not in r.content[0].text


def _mcp_json_command() -> tuple[str, list[str]]:
    cfg = json.loads((ROOT / ".mcp.json").read_text())
    server = cfg["mcpServers"]["mesh"]
    sub = lambda s: s.replace("${CLAUDE_PLUGIN_ROOT}", str(ROOT))  # noqa: E731
    return sub(server["command"]), [sub(a) for a in server.get("args", [])]


async def test_stdio_round_trip_with_the_command_in_mcp_json(sandbox):
    command, args = _mcp_json_command()
    env = {**os.environ, "CLAUDE_PLUGIN_ROOT": str(ROOT), "KUBECONFIG": sandbox.kubeconfig,
           "MESH_PLUGIN_VENV": str(Path(sys.executable).parent.parent)}
    params = StdioServerParameters(command=command, args=args, env=env)
    async with stdio_client(params) as (read, write):
        async with mcp.ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "service-mesh"
            tools = (await session.list_tools()).tools
            assert {t.name for t in tools} == EXPECTED
            assert all(t.output_schema and t.annotations.read_only_hint == (t.name not in WRITES) for t in tools)
            r = await session.call_tool("mesh_overview", {"view": "overview"})
            assert not r.is_error, r.content
            assert r.structured_content["overview"]["meshes"][0]["mesh"] == "istio"
            prod = [n for n in r.structured_content["overview"]["namespaces"] if n["namespace"] == "production"][0]
            assert prod["meshed_pods"] == 7


async def test_streamable_http_transport_on_loopback(sandbox):
    import asyncio
    import socket

    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_ = str(Path(sys.executable).parent / "mesh-plugin")
    proc = await asyncio.create_subprocess_exec(
        bin_, "serve", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port),
        env={**os.environ, "KUBECONFIG": sandbox.kubeconfig}, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
            async with mcp.ClientSession(read, write) as session:
                await session.initialize()
                assert {t.name for t in (await session.list_tools()).tools} == EXPECTED
                r = await session.call_tool("mesh_overview", {"view": "workloads", "namespace": "production"})
                assert not r.is_error and r.structured_content["workloads"]["page"]["total"] == 6
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 input_required round / mid-call request
async def test_production_write_asks_by_elicitation_when_the_client_can(mode, fresh_sandbox, tmp_path, monkeypatch):
    """A write to a namespace labelled environment=production: an elicitation-capable client is asked (with the
    diff) and the change applies only when the user types the namespace; other clients get the confirm= error."""
    from mcp import types

    from mesh_plugin.kube import KubeClient
    from mesh_plugin.kube.kinds import KINDS

    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    kube = KubeClient.connect(fresh_sandbox.kubeconfig)
    pa = lambda: kube.get(KINDS["PeerAuthentication"], "default", "production")["spec"]["mtls"]["mode"]  # noqa: E731
    asked: list[str] = []

    def answering(content: dict | None, action: str = "accept"):
        async def cb(context, params):
            asked.append(params.message)
            return types.ElicitResult(action=action, content=content)
        return cb

    args = {"action": "mtls_mode", "namespace": "production", "mode": "PERMISSIVE", "apply": True}
    async with mcp.Client(build_server(), mode=mode) as c:  # no elicitation capability: the confirm= error
        r = await c.call_tool("security_change", args)
    assert r.is_error and 'confirm="production"' in r.content[0].text and pa() == "STRICT" and not asked
    for cb, said in ((answering(None, "decline"), "not confirmed"), (answering({"namespace": "staging"}),
                                                                     "ConfirmationRequired")):
        async with mcp.Client(build_server(), mode=mode, elicitation_callback=cb) as c:
            r = await c.call_tool("security_change", args)
        assert r.is_error and said in r.content[0].text and pa() == "STRICT"
    assert len(asked) == 2 and "-    mode: STRICT" in asked[0] and "+    mode: PERMISSIVE" in asked[0]
    yes = answering({"namespace": "production"})
    async with mcp.Client(build_server(), mode=mode, elicitation_callback=yes) as c:
        r = await c.call_tool("security_change", args)
        assert not r.is_error and r.structured_content["mtls_mode"]["applied"] and pa() == "PERMISSIVE"
        r = await c.call_tool("rollback_change", {"handle": r.structured_content["mtls_mode"]["rollback_handle"],
                                                  "apply": True})
    assert not r.is_error and pa() == "STRICT" and len(asked) == 4


async def test_lazy_server_lists_from_a_schema_cache_and_registers_on_first_call(sandbox, tmp_path, monkeypatch):
    """`serve` answers tools/list from a cache keyed by the code; the cached list equals the built one, and a
    call still runs the real tool."""
    monkeypatch.setenv("MESH_PLUGIN_CACHE_DIR", str(tmp_path))
    configure(sandbox.kubeconfig, "sandbox")
    async with mcp.Client(build_server()) as c:
        eager = [t.model_dump() for t in (await c.list_tools()).tools]
    async with mcp.Client(build_server(lazy=True)) as c:  # no cache yet: builds, then writes it
        assert [t.model_dump() for t in (await c.list_tools()).tools] == eager
    [cache] = list(tmp_path.glob("tools-*.json"))
    server = build_server(lazy=True)
    async with mcp.Client(server) as c:
        listed = [t.model_dump() for t in (await c.list_tools()).tools]
        assert listed == eager and server._tool_manager.list_tools() == []  # served from the cache
        r = await c.call_tool("mesh_overview", {"view": "workloads", "namespace": "production", "limit": 1})
        assert not r.is_error and r.structured_content["workloads"]["page"]["total"] == 6
    async with mcp.Client(build_server(read_only=True, lazy=True)) as c:  # its own cache entry
        assert {t.name for t in (await c.list_tools()).tools} == EXPECTED - WRITES
    assert len(list(tmp_path.glob("tools-*.json"))) == 2 and cache.exists()
