"""diagnose (issue 21): one call followed through route, subsets, the client sidecar's endpoints and counters,
mTLS and authorization, on the sandbox's real Envoy; the cause named, with evidence and a dry-run fix."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mesh_plugin.mesh import diagnose as D
from mesh_plugin.tools import get_tool

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def test_the_503_canary_is_named_with_its_weight_fix(runtime, sandbox):
    codes = sandbox.send("frontend", 8080, "payment-api", 40)
    for code, n in sandbox.send("frontend", 8080, "payment-api", 3, lb=95).items():  # a few on the canary for sure
        codes[code] = codes.get(code, 0) + n  # (10% of 40 random picks is none 1.5% of the time)
    assert codes.get(503), codes  # the v2 canary answers 503
    vs = sandbox.api.store[("networking.istio.io", "virtualservices")][("production", "payment-api")]
    before = vs["metadata"]["resourceVersion"]
    d = get_tool("diagnose").call(source="production/frontend", to="payment-api:8080", path="/api/charge")
    assert d.cause.startswith("subset v2 fails") and "10% of the route" in d.cause, d.cause
    v2 = next(s for s in d.subsets if s.subset == "v2")
    # requests are the answers Envoy charged (response classes), not upstream_rq_completed, which also counts
    # retried attempts: every answer v2 gave was a 503, so its share is 100% whatever the retries did
    assert v2.errors_5xx >= codes[503] and v2.requests == v2.errors_5xx, (v2.requests, v2.errors_5xx)
    assert [c.target for c in d.fix_change] == ["VirtualService production/payment-api"]
    assert "-      weight: 10\n+      weight: 0" in d.fix_change[0].diff and not d.fix_change[0].applied
    assert "v1=90 v2=0" in d.fix and vs["metadata"]["resourceVersion"] == before  # a dry-run: nothing written
    assert d.authz.startswith("ALLOW") and "STRICT" in d.mtls


def test_an_mtls_mismatch_comes_before_the_missing_subset(runtime, sandbox):
    d = get_tool("diagnose").call(source="production/frontend", to="reviews:9080")
    assert d.cause.startswith("mTLS mismatch") and "ISTIO_MUTUAL" in d.fix, d.cause


def test_cli_json(sandbox):
    r = subprocess.run([BIN, "diagnose", "--from", "production/frontend", "--to", "payment-api:8080", "--path",
                        "/api/charge", "-o", "json"], capture_output=True, text=True, timeout=120,
                       env={"KUBECONFIG": sandbox.kubeconfig, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["call"].startswith("production/frontend -> payment-api.production.svc.cluster.local:8080")
    assert {s["subset"] for s in doc["subsets"]} == {"v1", "v2"}


def facts(subset, share, pods=1, endpoints=(), completed=0, errors=0, defined=True):
    return D.SubsetFacts(subset=subset, share=share, cluster=f"outbound|80|{subset}|h", defined=defined,
                         pods=[f"p{i}" for i in range(pods)], endpoints=list(endpoints), completed=completed,
                         errors_5xx=errors)


def test_verdict_order():
    ok = facts("v1", 0.9, completed=90)
    assert D.verdict([ok], ("DENY", "DENY (403)"), None).cause.startswith("authorization denies")
    assert D.verdict([ok], None, "DestinationRule sends plaintext").cause.startswith("mTLS mismatch")
    nc = D.verdict([ok, facts("v3", 0.1, defined=False)], None, None)
    assert "(NC)" in nc.cause and nc.failing_subset == "v3"
    uh = D.verdict([ok, facts("v2", 0.1, pods=0)], None, None)
    assert "(UH)" in uh.cause and uh.failing_subset == "v2"
    bad = D.verdict([ok, facts("v2", 0.1, endpoints=[("10.0.0.2:80", "p", True, False)], completed=10, errors=9)],
                    None, None)
    assert bad.failing_subset == "v2" and "9 of 10" in bad.cause
    app = D.verdict([facts("v1", 1.0, completed=10, errors=10)], None, None)
    assert "the application answers errors" in app.cause and app.failing_subset is None
    assert D.verdict([ok], None, None).cause.startswith("no failure seen")
    assert D.weights_without(D.Route("ns/vs", 0, None, [D.Dest("h", "v1", None, 90), D.Dest("h", "v2", None, 10)]),
                             "v2") == {"v1": 90, "v2": 0}


def test_route_taken_follows_envoys_order():
    vs = {"metadata": {"name": "r", "namespace": "ns"}, "spec": {"http": [
        {"name": "jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
         "route": [{"destination": {"host": "r", "subset": "v2"}}]},
        {"name": "api", "match": [{"uri": {"prefix": "/api"}}], "route": [{"destination": {"host": "r", "subset": "v3"}}]},
        {"name": "rest", "route": [{"destination": {"host": "r", "subset": "v1"}, "weight": 3},
                                   {"destination": {"host": "r", "subset": "v2"}, "weight": 1}]}]}}
    assert D.route_taken(vs, "r.ns.svc.cluster.local", "r", "ns", "/api/x", "GET").name == "api"
    rest = D.route_taken(vs, "r.ns.svc.cluster.local", "r", "ns", "/", "GET")
    assert rest.name == "rest" and [(d.subset, d.weight) for d in rest.dests] == [("v1", 3), ("v2", 1)]
