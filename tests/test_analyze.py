"""`analyze` beyond the conformance cases: the sandbox's findings, CLI contract, bad input, suppression."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh_plugin.analyzers import ALL, Analyzer, CATALOG, Context, run
from mesh_plugin.kube import Snapshot
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def cli(*args, env=None, stdin=None):
    return subprocess.run([BIN, "analyze", *args], capture_output=True, text=True, timeout=120, input=stdin,
                          env={**os.environ, **(env or {})})


def test_catalog_and_registry_are_consistent():
    names = [a.name for a in ALL]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(a.description and a.inputs for a in ALL)
    assert all(c.startswith(("IST", "MESH")) and m.template and m.description for c, m in CATALOG.items())
    for path in Path(__file__).resolve().parent.parent.joinpath("src/mesh_plugin/analyzers").glob("*.py"):
        for code in __import__("re").findall(r'"((?:IST|MESH)\d{4})"', path.read_text()):
            assert code in CATALOG, (path.name, code)


def test_mesh_codes_document_themselves_in_this_repository():
    """Every MESH code's documentationUrl is a section of docs/analyzers.md that exists (no web page exists)."""
    from mesh_plugin.analyzers import ISTIO, MESH

    root = Path(__file__).resolve().parent.parent
    for code, mt in CATALOG.items():
        if code.startswith("IST"):
            assert mt.url == f"https://istio.io/latest/docs/reference/config/analysis/{code.lower()}/"
            continue
        path, _, anchor = mt.url.partition("#")
        doc = (root / path).read_text()
        assert f'<a id="{anchor}"></a>' in doc and f"### {code} {mt.name} ({mt.level})" in doc, code
    assert all(a.name.startswith("mesh.") for a in MESH) and not any(a.name.startswith("mesh.") for a in ISTIO)
    assert CATALOG["MESH0201"].level == "Info"


def test_authz_lint_methods_follow_istio_matching():
    """Istio matches :method exactly and case-sensitively, with * prefix/suffix wildcards: only values that
    cannot be meant (not a standard method, or one in the wrong case) are reported, and none as never matching."""
    policy = ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: %s, namespace: shop}\n"
              "spec: {rules: [{to: [{operation: {methods: [%s]}}]}]}\n")
    snap = Snapshot.from_text("---\n".join(policy % (n, m) for n, m in (
        ("std", "GET, POST"), ("wild", "'*', 'G*', '*T'"), ("lower", "get"), ("typo", "FETCH"))))
    from mesh_plugin.analyzers.security_authz_lint import AuthzLintAnalyzer

    msgs = [m for m in run(Context(snap), [AuthzLintAnalyzer()]) if m.code == "MESH0406"]
    assert sorted(m.name for m in msgs) == ["lower", "typo"]
    lower = next(m for m in msgs if m.name == "lower")
    assert "case-sensitively" in lower.message and "GET" in lower.message
    assert not any("never" in m.message for m in msgs)


def test_sandbox_findings_live(runtime, sandbox):
    r = get_tool("analyze").call(limit=100)
    got = {(m.code, m.origin) for m in r.messages}
    assert {
        ("IST0101", "VirtualService production/reviews"),            # subset v3 missing
        ("MESH0201", "VirtualService production/reviews"),           # weights 110: relative, shares (Info)
        ("MESH0101", "DestinationRule production/reviews"),          # DISABLE toward STRICT
        ("MESH0301", "DestinationRule production/payment-api"),      # maxEjectionPercent 100
        ("IST0127", "AuthorizationPolicy production/reviews-viewer"),  # selects nothing
        ("MESH0401", "RequestAuthentication production/frontend-jwt"),  # no token required
    } <= got
    assert [m.level for m in r.messages] == sorted((m.level for m in r.messages),
                                                   key=["Error", "Warning", "Info"].index)
    assert r.counts["Error"] >= 2
    weights = next(m for m in r.messages if m.code == "MESH0201")
    assert weights.level == "Info" and "relative" in weights.message and "72.73%" in weights.message
    assert weights.documentationUrl == "docs/analyzers.md#mesh0201"
    only_prod = get_tool("analyze").call(namespace="production", level="Error")
    assert {m.level for m in only_prod.messages} == {"Error"}
    assert all(" production/" in m.origin for m in only_prod.messages)


def test_cli_live_exit_codes_and_json(sandbox):
    env = {"KUBECONFIG": sandbox.kubeconfig}
    r = cli("-A", env=env)
    assert r.returncode == 79 and "Error [IST0101] (VirtualService production/reviews)" in r.stdout
    assert "Info [MESH0201] (VirtualService production/reviews)" in r.stdout
    r = cli("-n", "production", "-o", "json", "--only", "virtualservice.DestinationRuleAnalyzer", env=env)
    rows = json.loads(r.stdout)
    assert [(x["code"], x["origin"]) for x in rows] == [("IST0101", "VirtualService production/reviews")]
    assert rows[0]["documentationUrl"] == "https://istio.io/latest/docs/reference/config/analysis/ist0101/"
    assert r.returncode == 79
    r = cli("-n", "production", "--only", "security.*", env=env)
    assert r.returncode == 0 and "Warning [MESH0401]" in r.stdout
    r = cli("-n", "production", "--only", "security.*", "--failure-threshold", "Warning", env=env)
    assert r.returncode == 79
    r = cli("-n", "production", "--suppress", "MESH0401=RequestAuthentication production/*",
            "--suppress", "MESH0402=*", "--only", "security.*", env=env)
    assert r.returncode == 0 and "No validation issues found when analyzing namespace: production" in r.stdout


def test_offline_files_stdin_and_clean_examples(tmp_path):
    objs, _ = seed.production()
    (tmp_path / "prod.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    r = cli(str(tmp_path / "prod.yaml"), "-o", "yaml")
    rows = yaml.safe_load(r.stdout)
    assert ("MESH0201", "VirtualService production/reviews") in {(x["code"], x["origin"]) for x in rows}
    clean = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: shop}\n"
             "spec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web}\n---\n"
             "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
             "spec: {selector: {app: web}, ports: [{name: http, port: 80}]}\n")
    r = cli("-", "--only", "virtualservice.*", stdin=clean)
    assert r.returncode == 0 and "No validation issues found" in r.stdout, r.stdout + r.stderr


def test_bad_input_is_reported_and_the_rest_analyzed(tmp_path):
    (tmp_path / "garbage.yaml").write_text("{{{ not yaml")
    (tmp_path / "widget.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    (tmp_path / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: nohosts}\n"
        "spec: {http: [{route: [{destination: {}}]}]}\n---\n"
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa}\n"
        "spec: {mtls: {mode: STRICTEST}}\n")
    r = cli(str(tmp_path), "-o", "json")
    rows = json.loads(r.stdout)
    codes = {(x["code"], x["origin"].split()[0]) for x in rows}
    assert ("MESH0001", "File") in codes
    assert ("MESH0002", "Widget") in codes
    assert ("IST0106", "VirtualService") in codes
    # istioctl cannot decode an unknown enum value: it skips the object; we say so (and analyze the rest)
    refused = next(x for x in rows if x["origin"] == "PeerAuthentication default/pa")
    assert refused["code"] == "MESH0001" and "STRICTEST" in refused["message"]
    assert r.returncode == 79 and "Traceback" not in r.stderr


def test_unknown_analyzer_and_list(tmp_path):
    r = cli("--only", "nope.Analyzer", str(tmp_path))
    assert r.returncode == 2 and "--list-analyzers" in r.stderr
    r = cli("--list-analyzers")
    assert r.returncode == 0 and "virtualservice.GatewayAnalyzer" in r.stdout
    assert "mesh.mtls.ConflictAnalyzer" in r.stdout
    names = [ln.split()[0] for ln in r.stdout.splitlines()[1:] if ln.strip()]
    assert not [n for n in names if n.startswith(("mtls.", "security.", "linkerd."))
                or n == "virtualservice.WeightsAnalyzer"]
    r = cli("--only", "security.*", "--only", "mtls.ConflictAnalyzer", str(tmp_path))  # former names still select
    assert r.returncode == 0, r.stderr


def test_one_failing_analyzer_does_not_stop_the_others():
    class Broken(Analyzer):
        name = "test.Broken"
        description = "raises"
        inputs = ("VirtualService",)

        def analyze(self, ctx):
            raise RuntimeError("boom")

    snap = Snapshot.from_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                              "metadata: {name: a}\nspec: {hosts: [a], http: [{route: [{destination: {host: a}, "
                              "weight: 70}, {destination: {host: b}, weight: 20}]}]}\n")
    from mesh_plugin.analyzers.mesh_route_weights import RouteWeightsAnalyzer

    msgs = run(Context(snap), [Broken(), RouteWeightsAnalyzer()])
    assert [(m.code, m.level, m.name) for m in msgs] == [("MESH0003", "Error", "test.Broken"),
                                                         ("MESH0201", "Info", "a")]
    assert "a gets 77.78%, b gets 22.22%" in msgs[1].message
