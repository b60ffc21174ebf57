"""The Claude Code plugin: the validator, and our own checks of what it skips."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from mesh_plugin.tools import load_tools

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "mcp__plugin_service-mesh_mesh__"


def frontmatter(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert m, f"{path} has no frontmatter"
    return yaml.safe_load(m.group(1)), m.group(2)


def tool_list(value) -> list[str]:
    return [t.strip() for t in value.split(",")] if isinstance(value, str) else list(value)


@pytest.fixture()
def claude_env(tmp_path):
    return {**os.environ, "HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / ".claude")}


def test_claude_plugin_validate_strict(claude_bin, claude_env):
    r = subprocess.run([claude_bin, "plugin", "validate", "--strict", str(ROOT)], capture_output=True, text=True,
                       env=claude_env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Validation passed" in r.stdout


def test_marketplace_install_and_mcp_list_connects(claude_bin, claude_env, tmp_path):
    run = lambda *a: subprocess.run([claude_bin, *a], capture_output=True, text=True, env=claude_env,  # noqa: E731
                                    timeout=120, cwd=tmp_path)
    r = run("plugin", "marketplace", "add", str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("plugin", "install", "service-mesh@mesh-plugin")
    assert r.returncode == 0 and "Successfully installed" in r.stdout, r.stdout + r.stderr
    r = run("mcp", "list")
    assert "plugin:service-mesh:mesh" in r.stdout and "✔ Connected" in r.stdout, r.stdout + r.stderr


def test_manifests():
    manifest = json.loads((ROOT / ".claude-plugin/plugin.json").read_text())
    assert manifest["name"] == "service-mesh" and re.match(r"^\d+\.\d+\.\d+$", manifest["version"])
    assert manifest["description"] and manifest["author"]["name"] and "istio" in manifest["keywords"]
    root_link = ROOT / "plugin.json"
    assert root_link.is_symlink() and json.loads(root_link.read_text()) == manifest
    market = json.loads((ROOT / ".claude-plugin/marketplace.json").read_text())
    assert [p["name"] for p in market["plugins"]] == ["service-mesh"]
    import mesh_plugin

    assert manifest["version"] == mesh_plugin.__version__ == market["plugins"][0]["version"]


def test_mcp_json_uses_plugin_root_and_an_executable_launcher():
    cfg = json.loads((ROOT / ".mcp.json").read_text())
    server = cfg["mcpServers"]["mesh"]
    assert server["command"].startswith("${CLAUDE_PLUGIN_ROOT}/")
    launcher = ROOT / server["command"].replace("${CLAUDE_PLUGIN_ROOT}/", "")
    assert launcher.exists() and os.access(launcher, os.X_OK)


def test_agent_frontmatter_names_real_tools():
    fm, body = frontmatter(ROOT / "agents/mesh-engineer.md")
    assert fm["name"] == "mesh-engineer" and fm["model"] == "inherit"
    assert len(fm["description"]) > 60
    names = {t.name for t in load_tools()}
    tools = tool_list(fm["tools"])
    assert tools and all(t.startswith(PREFIX) and t[len(PREFIX):] in names for t in tools), tools
    assert set(t[len(PREFIX):] for t in tools) == names
    assert "Conclusions only from tool results" in body


def test_command_frontmatter_and_arguments():
    fm, body = frontmatter(ROOT / "commands/service-mesh.md")
    assert fm["description"] and fm["argument-hint"]
    names = {t.name for t in load_tools()}
    allowed = tool_list(fm["allowed-tools"])
    assert allowed and all(t.startswith(PREFIX) and t[len(PREFIX):] in names for t in allowed)
    assert "$ARGUMENTS" in body and "$0" in body and "$1" in body


def test_skills_match_their_folders():
    skills = sorted((ROOT / "skills").iterdir())
    assert skills
    for d in skills:
        fm, body = frontmatter(d / "SKILL.md")
        assert fm["name"] == d.name
        assert fm["description"].startswith("This skill should be used when")
        assert len(body.split()) < 1500
        for ref in re.findall(r"references/[\w./-]+\.md", body):
            assert (d / ref).exists(), ref


def test_readme_lists_every_tool():
    readme = (ROOT / "README.md").read_text()
    for t in load_tools():
        assert f"`{t.name}`" in readme, t.name
    assert "make demo" in readme and "make test" in readme and "--read-only" in readme
