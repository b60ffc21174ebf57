"""End to end in real Claude Code (npm, pinned): a scripted model behind ANTHROPIC_BASE_URL, the plugin from
this repository, our MCP server started from .mcp.json against the sandbox."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripted_model import ScriptedServer, sse, tool_results

ROOT = Path(__file__).resolve().parent.parent
TOOL = "mcp__plugin_service-mesh_mesh__security_status"


def _text_of(request: dict) -> str:
    out = []
    for m in request.get("messages", []):
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": str(content)}]
        out += [b.get("text", "") for b in blocks if isinstance(b, dict)]
    return "\n".join(out)


def test_service_mesh_command_calls_our_tool_for_real(claude_bin, sandbox, tmp_path):
    def respond(req: dict) -> bytes:
        names = {t.get("name") for t in req.get("tools") or []}
        if TOOL not in names:
            return sse("Mesh mTLS check")          # e.g. the short title request
        if tool_results(req):
            return sse("Summary: production is MTLS_ENABLED; reviews has a TLS conflict.")
        return sse("Checking mTLS in production.", [("toolu_e2e", TOOL, {"view": "mtls", "namespace": "production"})])

    model = ScriptedServer(respond)
    env = {**os.environ, "HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / ".claude"),
           "ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "sk-test-not-a-key",
           "KUBECONFIG": sandbox.kubeconfig, "MESH_PLUGIN_VENV": str(Path(sys.executable).parent.parent),
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "ENABLE_TOOL_SEARCH": "false",
           # claude -p does not wait for MCP servers by default (2.1.3xx), and blocks 5 s at most when told
           # to: a scripted run must wait, or the first model request goes out before our tools are listed
           "MCP_CONNECTION_NONBLOCKING": "false", "MCP_CONNECT_TIMEOUT_MS": "60000"}
    try:
        r = subprocess.run([claude_bin, "-p", "/service-mesh:service-mesh mtls production", "--plugin-dir", str(ROOT),
                            "--output-format", "json", "--allowedTools", "mcp__plugin_service-mesh_mesh"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    finally:
        model.stop()
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["result"].startswith("Summary: production is MTLS_ENABLED")
    turns = [q for q in model.requests if TOOL in {t.get("name") for t in q.get("tools") or []}]
    assert len(turns) >= 2
    first = _text_of(turns[0])
    # the command was expanded: $ARGUMENTS, $0 and $1 filled in
    assert "Service-mesh request: `mtls production`" in first and "(subcommand `mtls`, target `production`)" in first
    names = {t["name"] for t in turns[0]["tools"]}
    assert {f"mcp__plugin_service-mesh_mesh__{n}" for n in ("mesh_overview", "analyze", "security_change")} <= names
    [res] = tool_results(turns[-1])
    content = res["content"] if isinstance(res["content"], str) else "".join(
        b.get("text", "") for b in res["content"])
    data = json.loads(content)["mtls"]
    assert {"namespace": "production", "status": "MTLS_ENABLED"} in data["namespaces"]
    assert any(w["workload"] == "reviews-v1" and w["conflicts"] for w in data["workloads"])
