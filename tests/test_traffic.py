"""Traffic management: describe_routing, splits and mirrors on the change path, canary steps gated by a real
Prometheus, verify_routing against the sandbox's real Envoy (file-based xDS push), offline GitOps output."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml


from mesh_plugin.errors import Conflict, InvalidInput, NotFound
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.mesh.routing import shadowed_routes
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool

from promhelper import PromServer, counter_series
from conftest import prometheus_at

BIN = str(Path(sys.executable).parent / "mesh-plugin")


@pytest.fixture()
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    d = tmp_path_factory.mktemp("gitops")
    objs, _ = seed.production()
    (d / "mesh.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    return d


def test_describe_routing_explains_and_flags(runtime):
    v = get_tool("describe_routing").call(host="reviews", namespace="production")
    assert v.host == "reviews.production.svc.cluster.local" and v.service == "production/reviews"
    assert [(r.name, r.match) for r in v.virtual_services[0].routes] == [
        ("jason", ["header end-user exact jason"]), ("split", [])]
    assert {(s.name, s.pods) for s in v.subsets} == {("v1", 1), ("v2", 1)}
    assert any("weights are relative (total 110): v1 72.7%, v3 27.3%" in f for f in v.findings)
    assert any("subset v3" in f for f in v.findings)
    p = get_tool("describe_routing").call(host="payment-api.production.svc.cluster.local")
    r = p.virtual_services[0].routes[0]
    assert [(d.subset, d.weight) for d in r.destinations] == [("v1", 90), ("v2", 10)]
    assert r.timeout == "5s" and r.retries == "2 attempts, 2s per try" and p.findings == []
    f = get_tool("describe_routing").call(host="frontend", namespace="production")
    assert f.gateways == ["production/public-gateway"]


def test_shadowed_routes_and_duplicate_virtual_services(tmp_path, runtime):
    http = [{"match": [{"uri": {"prefix": "/api"}}]}, {"match": [{"uri": {"prefix": "/api/v2"}}]},
            {"route": []}, {"match": [{"uri": {"exact": "/x"}}]}]
    assert shadowed_routes(http) == [(1, 0), (3, 2)]
    extra = tmp_path / "dup.yaml"
    objs, _ = seed.production()
    dup = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "payment-api-2", "namespace": "production"},
           "spec": {"hosts": ["payment-api.production.svc.cluster.local"],
                    "http": [{"route": [{"destination": {"host": "payment-api", "subset": "v1"}}]}]}}
    extra.write_text(yaml.safe_dump_all(objs + [dup]))
    v = get_tool("describe_routing").call(host="payment-api", namespace="production", files=[str(extra)])
    assert any("several VirtualServices" in f for f in v.findings)
    with pytest.raises(InvalidInput, match="Several VirtualServices claim"):
        get_tool("set_traffic_split").call(host="payment-api", weights={"v1": 50, "v2": 50}, namespace="production",
                                           files=[str(extra)])


def test_split_validates_before_anything(fresh_sandbox, state):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    before = fresh_sandbox.api.last_rv
    split = get_tool("set_traffic_split")
    for weights, msg in (({"v1": 0, "v2": 0}, "Every weight is 0"), ({"v1": 110, "v2": -10}, ">= 0"),
                         ({"v1": 50, "v9": 50}, "Unknown subset 'v9'"), ({}, "No weights")):
        with pytest.raises(InvalidInput, match=msg):
            split.call(host="payment-api", weights=weights, namespace="production")
    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        split.call(host="payment-api", weights={"v1": 50.5, "v2": 49.5}, namespace="production")
    with pytest.raises(NotFound, match="No Service"):
        split.call(host="nothing", weights={"v1": 100}, namespace="production")
    assert fresh_sandbox.api.last_rv == before


def test_split_dry_run_apply_push_verify_rollback_with_real_envoy(runtime, sandbox, state):
    c = KubeClient.connect(sandbox.kubeconfig)
    original = c.get(KINDS["VirtualService"], "payment-api", "production")
    split = get_tool("set_traffic_split")
    dry = split.call(host="payment-api", weights={"v1": 50, "v2": 50}, namespace="production")
    assert [ch.action for ch in dry.changes] == ["update"] and not dry.changes[0].applied
    assert "-      weight: 90\n+      weight: 50" in dry.changes[0].diff
    handle = None
    try:
        with sandbox.hold_pushes("frontend"):      # the control plane's push has not reached this sidecar yet
            done = split.call(host="payment-api", weights={"v1": 50, "v2": 50}, namespace="production", apply=True,
                              confirm="production")
            handle = done.changes[0].rollback_handle
            sandbox.push_routes()
            v = get_tool("verify_routing").call(host="payment-api", namespace="production")
            fe = next(p for p in v.proxies if p.pod == sandbox.pod_name("frontend"))
            assert v.expected == {"v1": 50, "v2": 50} and fe.status == "STALE" and fe.envoy == {"v1": 90, "v2": 10}
            assert v.proxies[0].status == "STALE"
        for _ in range(100):                       # now it arrives (the write pushed itself, debounced)
            fe = next(p for p in get_tool("verify_routing").call(host="payment-api", namespace="production").proxies
                      if p.pod == sandbox.pod_name("frontend"))
            if fe.status == "SYNCED":
                break
            time.sleep(0.05)
        assert fe.status == "SYNCED" and fe.envoy == {"v1": 50, "v2": 50}
        # lb picks the weighted cluster: 49 -> v1 (200), 50 -> v2 (the 503 canary)
        assert sandbox.send("frontend", 8080, "payment-api", 2, lb=49) == {200: 2}
        assert sandbox.send("frontend", 8080, "payment-api", 2, lb=50) == {503: 2}
    finally:
        back = get_tool("rollback_change").call(handle=handle, apply=True, confirm="production") if handle else None
        sandbox.push_routes()
    assert back is not None and back.applied
    assert c.get(KINDS["VirtualService"], "payment-api", "production")["spec"] == original["spec"]


def test_split_creates_missing_subsets_from_pod_labels(fresh_sandbox, state):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    c.request("DELETE", KINDS["DestinationRule"].path("production", "reviews"))
    r = get_tool("set_traffic_split").call(host="reviews", weights={"v1": 75, "v2": 25}, namespace="production",
                                           apply=True, confirm="production")
    assert [ch.action for ch in r.changes] == ["create", "update"] and all(ch.applied for ch in r.changes)
    dr = c.get(KINDS["DestinationRule"], "reviews", "production")
    assert dr["spec"]["subsets"] == [{"name": "v1", "labels": {"version": "v1"}},
                                     {"name": "v2", "labels": {"version": "v2"}}]
    vs = c.get(KINDS["VirtualService"], "reviews", "production")
    assert vs["spec"]["http"][0]["name"] == "jason"  # other routes kept
    assert [(d["destination"]["subset"], d["weight"]) for d in vs["spec"]["http"][1]["route"]] == [("v1", 75),
                                                                                                   ("v2", 25)]


def test_mirror_and_concurrent_edit(fresh_sandbox, state):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    r = get_tool("set_traffic_mirror").call(host="payment-api", subset="v2", percent=5, namespace="production",
                                            apply=True, confirm="production")
    route = c.get(KINDS["VirtualService"], "payment-api", "production")["spec"]["http"][0]
    assert route["mirror"] == {"host": "payment-api", "subset": "v2"} and route["mirrorPercentage"] == {"value": 5.0}
    assert r.changes[0].rollback_handle
    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        get_tool("set_traffic_mirror").call(host="payment-api", subset="v2", percent=150, namespace="production")
    # another writer edits between our read and our write: reported, not overwritten
    from mesh_plugin.changes.path import execute, plan_change
    from mesh_plugin.mesh.routing import with_split

    vs = c.get(KINDS["VirtualService"], "payment-api", "production")
    plan = plan_change(c, KINDS["VirtualService"], with_split(vs, "payment-api", "production", "x", {"v1": 100}, None))
    c.patch(KINDS["VirtualService"], "payment-api", "production", {"metadata": {"labels": {"edited": "by-someone"}}})
    with pytest.raises(Conflict, match="changed since it was read"):
        execute(c, plan, apply=True, confirm="production")
    assert c.get(KINDS["VirtualService"], "payment-api", "production")["spec"]["http"][0]["route"][0]["weight"] == 90


def test_offline_gitops_output_leaves_files_alone(manifests):
    before = (manifests / "mesh.yaml").read_text()
    r = subprocess.run([BIN, "traffic", "split", "payment-api", "v1=75", "v2=25", "-n", "production", "-f",
                        str(manifests)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [vs] = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert vs["kind"] == "VirtualService" and [x["weight"] for x in vs["spec"]["http"][0]["route"]] == [75, 25]
    assert "resourceVersion" not in vs["metadata"]
    r = subprocess.run([BIN, "traffic", "mirror", "payment-api", "v2", "10", "-n", "production", "-f",
                        str(manifests), "--diff"], capture_output=True, text=True, timeout=60)
    assert "+      mirrorPercentage:" in r.stdout or "+    mirrorPercentage:" in r.stdout
    assert (manifests / "mesh.yaml").read_text() == before
    r = subprocess.run([BIN, "traffic", "split", "payment-api", "v1=75", "v2=35", "-n", "production", "-f",
                        str(manifests)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and [x["weight"] for x in [d for d in yaml.safe_load_all(r.stdout.split("\n# ")[0])
                                                        if d][0]["spec"]["http"][0]["route"]] == [75, 35]


def test_canary_template(runtime):
    t = get_tool("canary_template").call(host="reviews", namespace="production", weight=20)
    docs = list(yaml.safe_load_all(t.manifests))
    assert [d["kind"] for d in docs] == ["DestinationRule", "VirtualService"]
    assert [(d["destination"]["subset"], d["weight"]) for d in docs[1]["spec"]["http"][0]["route"]] == [
        ("v1", 80), ("v2", 20)]
    assert docs[0]["spec"]["trafficPolicy"]["outlierDetection"]["maxEjectionPercent"] == 50


@pytest.fixture(scope="module")
def canary_metrics():
    end = time.time() - 30
    base = {"reporter": "destination", "destination_service_name": "payment-api",
            "destination_service_namespace": "production"}
    lines = counter_series("istio_requests_total", {**base, "destination_version": "v1", "response_code": "200"},
                           20, end)
    lines += counter_series("istio_requests_total", {**base, "destination_version": "v2", "response_code": "200"},
                            1, end)
    lines += counter_series("istio_requests_total", {**base, "destination_version": "v2", "response_code": "503"},
                            1, end)
    p = PromServer({"istio_requests": ("counter", lines)})
    yield p
    p.stop()


def test_step_refuses_when_the_canary_fails(fresh_sandbox, canary_metrics, state):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    step = get_tool("traffic_step")
    with prometheus_at(canary_metrics.url), pytest.raises(InvalidInput,
                                                        match=r"Refusing to move v2 from 10% to 25%.*50\.0%"):
        step.call(host="payment-api", canary="v2", namespace="production")
    with prometheus_at(canary_metrics.url):
        forced = step.call(host="payment-api", canary="v2", namespace="production", force=True)
    assert forced.to_weight == 25 and forced.error_rates["v2"] == pytest.approx(0.5, abs=0.02)
    assert "-      weight: 10\n+      weight: 25" in forced.changes[0].diff and not forced.changes[0].applied
    with prometheus_at("http://127.0.0.1:9"), pytest.raises(InvalidInput, match="no metrics for v2"):
        step.call(host="payment-api", canary="v2", namespace="production")  # the gate fails closed
    with prometheus_at("http://127.0.0.1:9"):
        forced = step.call(host="payment-api", canary="v2", namespace="production", force=True)
    assert any(w.startswith("forced: no metrics for v2") for w in forced.warnings)


def test_step_reads_the_sidecars_counters_without_prometheus(runtime, sandbox, state):
    """No Prometheus: the calling sidecars' Envoy counters per subset cluster decide, and the failing canary
    (the sandbox's v2 answers 503) is refused."""
    codes = sandbox.send("frontend", 8080, "payment-api", 40)
    codes.update(sandbox.send("frontend", 8080, "payment-api", 3, lb=95))  # a few on the canary for sure
    assert codes.get(503), codes
    with pytest.raises(InvalidInput, match=r"canary v2 fails 100\.0% of requests vs 0\.0% for v1"):
        get_tool("traffic_step").call(host="payment-api", canary="v2", namespace="production")


def test_live_routing_sees_sidecars_and_the_mesh_config(runtime, sandbox):
    """Live describe_routing reads Sidecars (what each client namespace imports) and the mesh config (by name,
    not every ConfigMap), as it does from files."""
    c = KubeClient.connect(sandbox.kubeconfig)
    before = get_tool("describe_routing").call(host="payment-api", namespace="production")
    assert "not visible" not in before.clients.get("production", "")
    since = len(sandbox.api.request_log)
    sc = {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
          "metadata": {"name": "default", "namespace": "production"},
          "spec": {"egress": [{"hosts": ["istio-system/*"]}]}}
    c.create(KINDS["Sidecar"], sc)
    try:
        after = get_tool("describe_routing").call(host="payment-api", namespace="production")
        assert "not visible" in after.clients["production"], after.clients
    finally:
        c.request("DELETE", KINDS["Sidecar"].path("production", "default"))
    cm = [p for m, p in sandbox.api.request_log[since:] if p.startswith("/api/v1/configmaps")]
    assert cm and all("fieldSelector=metadata.name%3Distio" in p for p in cm), cm
