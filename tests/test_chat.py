"""`mesh-plugin chat`: the Messages API mocked at the HTTP layer (respx through pytest-httpx2; anthropic 2.x
uses httpx2), tools run for real against the sandbox."""
from __future__ import annotations

import io
import json

import httpx
import pytest

from mesh_plugin.agent.chat import ChatSession, tool_specs
from mesh_plugin.errors import InvalidInput

from scripted_model import sse, tool_results

URL = "https://api.anthropic.com/v1/messages"


def scripted(httpx2_mock, answers):
    seen = []

    def respond(request):
        seen.append(json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=answers[len(seen) - 1])

    httpx2_mock.post(URL).mock(side_effect=respond)
    return seen


@pytest.fixture()
def session_factory(monkeypatch, runtime):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    def make(**kw):
        out = io.StringIO()
        return ChatSession(out=out, **kw), out

    return make


def test_tool_round_trip_streams_and_sends_results(httpx2_mock, session_factory):
    seen = scripted(httpx2_mock, [
        sse("Checking mTLS.", [("toolu_1", "security_status", {"view": "mtls", "namespace": "production"})]),
        sse("reviews is broken: its DestinationRule disables TLS toward STRICT pods."),
    ])
    s, out = session_factory(model="test-model")
    final = s.ask("why do calls to reviews fail?")
    assert final.startswith("reviews is broken")
    assert len(seen) == 2
    first = seen[0]
    assert first["model"] == "test-model" and first["stream"] is True
    assert "senior service-mesh engineer" in first["system"]
    assert {t["name"] for t in first["tools"]} >= {"security_status", "security_change", "analyze"}
    [result] = tool_results(seen[1])
    assert result["tool_use_id"] == "toolu_1" and not result.get("is_error")
    data = json.loads(result["content"])["mtls"]
    assert any(w["workload"] == "reviews-v1" and w["conflicts"] for w in data["workloads"])
    assert "Checking mTLS." in out.getvalue() and "[security_status" in out.getvalue()


def test_writes_need_confirmation(httpx2_mock, session_factory):
    call = ("toolu_2", "security_change", {"action": "mtls_mode", "namespace": "production", "mode": "PERMISSIVE",
                                           "apply": True, "confirm": "production"})
    seen = scripted(httpx2_mock, [sse("", [call]), sse("I will not apply without your OK.")])
    s, _ = session_factory(confirm=lambda q: False)
    s.ask("relax mTLS in production")
    [result] = tool_results(seen[1])
    assert result["is_error"] and "did not confirm" in result["content"]


def test_read_only_mode_has_no_write_tools_and_refuses(httpx2_mock, session_factory):
    seen = scripted(httpx2_mock, [sse("", [("toolu_3", "security_change", {"action": "mtls_mode",
                                                                         "namespace": "production",
                                                                         "mode": "STRICT"})]), sse("ok")])
    s, _ = session_factory(read_only=True)
    s.ask("go strict")
    assert {t["name"] for t in seen[0]["tools"]} == {"mesh_overview", "analyze", "proxy_inspect", "security_status",
                                                     "traffic_status", "install_plan"}
    assert tool_results(seen[1])[0]["content"] == "refused: read-only mode"


def test_bad_tool_arguments_come_back_as_errors(httpx2_mock, session_factory):
    seen = scripted(httpx2_mock, [sse("", [("toolu_4", "mesh_overview", {"view": "workloads", "namespace": "Not_Valid"}),
                                           ("toolu_5", "mesh_overview", {"view": "workloads", "namespce": "x"}),
                                           ("toolu_6", "mesh_overview", {"view": "nope"})]),
                                  sse("Let me fix that.")])
    s, _ = session_factory()
    s.ask("list workloads")
    bad, unknown, view = tool_results(seen[1])
    assert bad["is_error"] and "Invalid arguments to list_workloads: namespace" in bad["content"]
    assert unknown["is_error"] and "has no parameter 'namespce'" in unknown["content"]
    assert view["is_error"] and "needs view= one of overview, workloads, not 'nope'" in view["content"]


def test_max_turns_and_token_budget(httpx2_mock, session_factory):
    loop = sse("", [("toolu_5", "mesh_overview", {})])
    scripted(httpx2_mock, [loop] * 10)
    s, out = session_factory(max_turns=2)
    s.ask("loop")
    assert "[stopped after 2 turns]" in out.getvalue()
    scripted(httpx2_mock, [loop] * 10)
    s, out = session_factory(token_budget=100)
    s.ask("loop")
    assert "token budget" in out.getvalue()


def test_base_url_is_honoured(httpx2_mock, monkeypatch, runtime):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway.test:8080")
    route = httpx2_mock.post("http://gateway.test:8080/v1/messages").mock(return_value=httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=sse("hello")))
    s = ChatSession(out=io.StringIO())
    assert s.ask("hi") == "hello" and route.called


def test_no_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(InvalidInput, match="ANTHROPIC_API_KEY is not set"):
        ChatSession(out=io.StringIO())


def test_tool_schemas_are_the_servers():
    from mesh_plugin.tools.registry import load_tools

    specs = {t["name"]: t for t in tool_specs()}
    assert specs == {t.name: {"name": t.name, "description": t.description, "input_schema": t.input_schema()}
                     for t in load_tools()}
    assert specs["traffic_change"]["input_schema"]["required"] == ["action"]
    assert specs["traffic_change"]["input_schema"]["additionalProperties"] is False


def test_production_write_asks_the_user_with_the_diff(httpx2_mock, session_factory, fresh_sandbox, tmp_path,
                                                      monkeypatch):
    from mesh_plugin.runtime import configure

    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    call = ("toolu_4", "security_change", {"action": "mtls_mode", "namespace": "production", "mode": "PERMISSIVE",
                                           "apply": True})
    for answers, applied in (([True, False], False), ([True, True], True)):
        asked: list[str] = []
        seen = scripted(httpx2_mock, [sse("", [call]), sse("done")])
        s, _ = session_factory(confirm=lambda q, a=iter(answers): asked.append(q) or next(a))
        s.ask("relax mTLS in production")
        [result] = tool_results(seen[1])
        assert len(asked) == 2 and "labelled environment=production" in asked[1] and "+    mode: PERMISSIVE" in asked[1]
        if applied:
            assert not result.get("is_error") and json.loads(result["content"])["mtls_mode"]["applied"] is True
        else:
            assert result["is_error"] and "ConfirmationRequired" in result["content"]


def test_default_model_is_current_in_the_sdk():
    """The default must be a model the installed SDK lists and does not mark deprecated: the next end of
    life fails CI instead of every user's chat."""
    import typing

    from anthropic._data import DEPRECATED_MODELS
    from anthropic.types.model_param import ModelParam

    from mesh_plugin.agent.chat import DEFAULT_MODEL

    listed = {a for arg in typing.get_args(ModelParam) for a in typing.get_args(arg)}
    assert DEFAULT_MODEL in listed, f"{DEFAULT_MODEL} is not in the SDK's model list"
    assert DEFAULT_MODEL not in DEPRECATED_MODELS, \
        f"{DEFAULT_MODEL} reaches end of life on {DEPRECATED_MODELS[DEFAULT_MODEL]}: pick a current Sonnet"
    assert "sonnet" in DEFAULT_MODEL


def test_model_overrides(monkeypatch, session_factory):
    from mesh_plugin.agent.chat import DEFAULT_MODEL

    monkeypatch.delenv("MESH_PLUGIN_MODEL", raising=False)
    assert session_factory()[0].model == DEFAULT_MODEL
    monkeypatch.setenv("MESH_PLUGIN_MODEL", "claude-env-model")
    assert session_factory()[0].model == "claude-env-model"
    assert session_factory(model="claude-flag-model")[0].model == "claude-flag-model"


def test_cli_help_names_the_default_model():
    import subprocess
    import sys

    from mesh_plugin.agent.chat import DEFAULT_MODEL

    out = subprocess.run([sys.executable, "-m", "mesh_plugin.cli", "chat", "--help"], capture_output=True,
                         env={**__import__("os").environ, "COLUMNS": "200"},
                         text=True, check=True).stdout
    assert DEFAULT_MODEL in out
    from pathlib import Path
    assert f"`{DEFAULT_MODEL}`" in (Path(__file__).parents[1] / "README.md").read_text()


def test_the_package_carries_the_agent_prompt_claude_code_uses():
    """chat from a wheel (no plugin folder) has the same prompt: the package's copy equals agents/."""
    from pathlib import Path

    from mesh_plugin.agent import chat

    root = Path(__file__).resolve().parent.parent
    assert (root / "src/mesh_plugin/agent/mesh-engineer.md").read_bytes() == (
        root / "agents/mesh-engineer.md").read_bytes(), "copy agents/mesh-engineer.md to src/mesh_plugin/agent/"
    assert chat.system_prompt() != chat.FALLBACK_PROMPT and not chat.system_prompt().startswith("---")
