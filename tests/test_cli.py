"""The CLI: help, offline mode, and clean errors (exit 2, a next step, no traceback)."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh_plugin.sandbox import seed

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def run(*args, env=None, stdin=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, input=stdin,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    objs, _ = seed.production()
    (d / "all.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    return d


def test_help_lists_the_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("serve", "overview", "workloads", "proxy-health", "sandbox", "demo", "--read-only", "--context"):
        assert cmd in r.stdout


def test_offline_workloads_table_and_json(manifests):
    r = run("workloads", "-n", "production", "-f", str(manifests))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "WORKLOAD", "KIND", "READY", "DATAPLANE", "MESHED", "IDENTITY", "ISSUE"]
    assert lines[1].split()[:5] == ["production", "legacy-batch", "Deployment", "1/1", "none"]
    r = run("workloads", "-f", str(manifests), "-o", "json", "--limit", "2")
    data = json.loads(r.stdout)
    assert data["page"]["shown"] == 2 and "showing 2 of" in data["page"]["note"]


def test_offline_from_stdin_with_a_broken_document_warns(manifests, tmp_path):
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    r = run("overview", "-f", str(manifests), "-f", str(tmp_path / "broken.yaml"))
    assert r.returncode == 0
    assert "Warning:" in r.stdout and "broken.yaml: not valid YAML" in r.stdout
    r = run("overview", "-f", str(tmp_path / "broken.yaml"))
    assert r.returncode == 2 and "No Kubernetes objects could be read" in r.stderr and "Traceback" not in r.stderr
    r = run("overview", "-o", "yaml", "-f", "-", stdin=(manifests / "all.yaml").read_text())
    assert r.returncode == 0 and yaml.safe_load(r.stdout)["meshes"][0]["mesh"] == "istio"


def test_bad_input_is_a_clear_error(sandbox, tmp_path):
    env = {"KUBECONFIG": sandbox.kubeconfig}
    cases = [
        (["workloads", "-n", "Prod!"], "Invalid arguments to list_workloads: namespace"),
        (["overview", "-n", "staging"], "Namespace 'staging' does not exist"),
        (["--context", "nope", "overview"], "Context 'nope' is not in kubeconfig"),
        (["proxy-health", f"{sandbox.pod_name('legacy-batch')}.production"], "has no Envoy sidecar"),
        (["proxy-health", "ghost.production"], "Not found: pods/ghost"),
        (["overview", "-f", str(tmp_path / "missing.yaml")], "No such file or folder"),
    ]
    for args, expected in cases:
        r = run(*args, env=env)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert expected in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    r = run("overview", env={"KUBECONFIG": str(tmp_path / "none")})
    assert r.returncode == 2 and "No cluster configured" in r.stderr and "--sandbox" in r.stderr


def test_live_overview_and_tools_listing(sandbox):
    r = run("overview", env={"KUBECONFIG": sandbox.kubeconfig})
    assert r.returncode == 0, r.stderr
    assert f"istio  {seed.ISTIO_VERSION}" in r.stdout and "production" in r.stdout
    r = run("--read-only", "tools")
    assert r.returncode == 0 and "mesh_overview" in r.stdout


@pytest.mark.parametrize("argv", [["analyze", "-f", "tests/data/skill-base.yaml"],
                                  ["proxy-config", "cluster", "-f",
                                   "tests/data/istio-proxy-config/data/all/config_dump.json"]])
def test_offline_commands_do_not_import_the_cluster_client_or_mcp(argv):
    """Issue 23: file-only commands start without the kubernetes client, the MCP SDK or the Anthropic SDK."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "mesh_plugin.cli", *argv], cwd=root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3), r.stderr[-2000:]  # 3: analyze found errors
    assert r.stdout.strip()
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "mesh_plugin.tools.registry" in imported  # the probe sees our own imports
    assert not {m for m in imported if m.split(".")[0] in ("kubernetes", "mcp", "anthropic", "urllib3")}


def test_sandbox_ambient_flag_starts_the_ambient_variant_and_stops_clean():
    import signal
    import time

    p = subprocess.Popen([str(Path(sys.executable).parent / "mesh-plugin"), "sandbox", "--ambient", "--no-envoy"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("KUBECONFIG=" in x for x in lines):
            lines.append(p.stdout.readline())
        head = "".join(lines)
        assert "Sandbox cluster (ambient) ready" in head and "ztunnel" in head, head
        folder = os.path.dirname(next(x for x in lines if "KUBECONFIG=" in x).split("KUBECONFIG=", 1)[1].strip())
        r = subprocess.run([str(Path(sys.executable).parent / "mesh-plugin"), "workloads", "-n", "orders"],
                           env={**os.environ, "KUBECONFIG": os.path.join(folder, "kubeconfig")},
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "ambient" in r.stdout, r.stdout + r.stderr
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    assert not os.path.exists(folder)


def test_authz_lint_runs_the_authorization_and_ambient_analyzers_with_analyze_flags():
    """`authz lint` is analyze with the authorization analyzers, istioctl's flags included (it crashed on
    --list-analyzers before): ambient findings (MESH06xx) come with Istio's and ours."""
    bin_ = str(Path(sys.executable).parent / "mesh-plugin")
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([bin_, "authz", "lint", "-f", str(root / "tests/data/ambient/mesh.yaml"),
                        "--failure-threshold", "Warning"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 79 and "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    codes = set(re.findall(r"\[(MESH\d+|IST\d+)\]", r.stdout))
    assert {"MESH0601", "MESH0602", "MESH0605"} <= codes and not {c for c in codes if c.startswith("MESH07")}
    r = subprocess.run([bin_, "authz", "lint", "--list-analyzers"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "mesh.ambient.ZtunnelPolicyAnalyzer" in r.stdout
