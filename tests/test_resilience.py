"""Circuit breaking: Istio's merge rules and Envoy defaults (offline table), lint, live ejection from the
sandbox's real Envoy, recommendations, writes on the change path, Linkerd failure accrual."""
from __future__ import annotations

import pytest
import yaml

from mesh_plugin.errors import InvalidInput
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.mesh import resilience as RZ
from mesh_plugin.runtime import configure
from mesh_plugin.tools import get_tool
from conftest import prometheus_at

DR = yaml.safe_load("""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: shop}
spec:
  host: api
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 100}}
    outlierDetection: {consecutive5xxErrors: 10, interval: 60s}
    portLevelSettings:
    - port: {number: 9090}
      outlierDetection: {consecutive5xxErrors: 3}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool: {http: {http2MaxRequests: 10}}
      portLevelSettings:
      - port: {number: 8080}
        outlierDetection: {consecutive5xxErrors: 7}
""")

# Istio's merge (pilot/pkg/networking/util/util.go GetPortLevelTrafficPolicy, MergeSubsetTrafficPolicy;
# pilot/pkg/model/destination_rule.go MergeTrafficPolicy): port-level settings replace the policy whole (a field
# they omit is NOT inherited: Envoy's default applies); a subset overrides field by field, and its own port-level
# settings again replace all four fields.
MERGE = [
    ("top level", None, 8080, {"tcp": {"maxConnections": 100}}, {"consecutive5xxErrors": 10, "interval": "60s"}),
    ("top-level port override does not inherit", None, 9090, None, {"consecutive5xxErrors": 3}),
    ("subset inherits", "v1", 8080, {"tcp": {"maxConnections": 100}}, {"consecutive5xxErrors": 10, "interval": "60s"}),
    ("subset replaces connectionPool whole", "v2", 9090, {"http": {"http2MaxRequests": 10}},
     {"consecutive5xxErrors": 3}),
    ("subset port-level replaces every field", "v2", 8080, None, {"consecutive5xxErrors": 7}),
    ("a subset without policy keeps the port override", "v1", 9090, None, {"consecutive5xxErrors": 3}),
]


@pytest.mark.parametrize("name,subset,port,pool,od", MERGE, ids=[m[0] for m in MERGE])
def test_istio_merge_rules(name, subset, port, pool, od):
    p = RZ.effective_policy(DR, subset, port)
    assert p.get("connectionPool") == pool and p.get("outlierDetection") == od


def test_mesh_default_traffic_policy_fills_unset_blocks():
    mesh_default = {"connectionPool": {"tcp": {"maxConnections": 7}}, "outlierDetection": {"interval": "5s"}}
    p = RZ.effective_policy(DR, None, 8080, mesh_default)
    assert p["connectionPool"] == {"tcp": {"maxConnections": 100}} and p["outlierDetection"]["interval"] == "60s"
    assert RZ.effective_policy(None, None, 8080, mesh_default) == mesh_default
    # a subset's port-level settings replace the blocks whole, the mesh default included
    assert RZ.effective_policy(DR, "v2", 8080, mesh_default).get("connectionPool") is None


def test_envoy_values_with_defaults():
    """pilot/pkg/networking/core/cluster_traffic_policy.go applyOutlierDetection / applyConnectionPool, and
    Envoy's defaults (envoy/config/cluster/v3/outlier_detection.proto) where Istio sets nothing."""
    e = RZ.envoy_outlier({"consecutive5xxErrors": 10, "maxEjectionPercent": 50, "interval": "1m"})
    assert (e["consecutive_5xx"], e["interval"], e["base_ejection_time"], e["max_ejection_percent"],
            e["enforcing_consecutive_5xx"], e["enforcing_success_rate"]) == (10, "60s", "30s", 50, 100, 0)
    assert RZ.envoy_outlier({"interval": "5s"})["consecutive_5xx"] == 5  # Envoy's default
    assert RZ.envoy_outlier({"consecutive5xxErrors": 0})["enforcing_consecutive_5xx"] == 0
    assert RZ.envoy_outlier(None) is None
    empty = RZ.envoy_outlier({})  # outlierDetection: {} is set: Envoy's defaults, success rate off, panic off
    assert (empty["consecutive_5xx"], empty["enforcing_success_rate"], empty["healthy_panic_threshold"]) == (5, 0, "0%")
    gw = RZ.envoy_outlier({"consecutiveGatewayErrors": 0})
    assert (gw["consecutive_gateway_failure"], gw["enforcing_consecutive_gateway_failure"]) == (0, 0)
    assert RZ.envoy_outlier({})["enforcing_consecutive_gateway_failure"] == 0  # Envoy's default: off
    assert RZ.envoy_outlier({"consecutiveErrors": 2})["consecutive_5xx"] == 5  # deprecated: Istio ignores it
    local = RZ.envoy_outlier({"splitExternalLocalOriginErrors": True, "consecutiveLocalOriginFailures": 0})
    assert (local["consecutive_local_origin_failure"], local["enforcing_local_origin_success_rate"]) == (5, 0)
    assert RZ.envoy_outlier({"minHealthPercent": 30})["healthy_panic_threshold"] == "30%"
    # the panic threshold: minHealthPercent (default 0) with outlierDetection; without it the pinned istiod sets 0
    # too (PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS is on by default: cluster_traffic_policy.go applyLoadBalancer)
    assert (RZ.panic_threshold({}), RZ.panic_threshold(None), RZ.panic_threshold({"minHealthPercent": 25})) == (
        0, 0, 25)
    assert RZ.panic_threshold({"minHealthPercent": 25}, {"spec": {"trafficDistribution": "PreferClose"}}) == 0
    cb = RZ.envoy_circuit_breakers({"http": {"http1MaxPendingRequests": 5, "maxRetries": 0}})
    assert cb["max_pending_requests"] == 5 and cb["max_connections"] == RZ.UNLIMITED
    assert cb["max_retries"] == RZ.UNLIMITED  # 0 is "unset" for Istio
    cb = RZ.envoy_circuit_breakers({"tcp": {"idleTimeout": "30s"}}, {"connectTimeout": "5s"})
    assert (cb["idle_timeout"], cb["connect_timeout"]) == ("30s", "5s")  # tcp idleTimeout when http has none


def test_lint_codes():
    codes = lambda *a, **k: [c for c, _, _ in RZ.lint(*a, **k)]  # noqa: E731
    assert codes({"maxEjectionPercent": 100}, None, 2, "h", True) == ["MESH0301"]
    assert codes({"consecutive5xxErrors": 1}, None, 2, "h", True) == ["MESH0302"]
    assert codes({"interval": "500ms", "baseEjectionTime": "1h"}, None, 2, "h", True) == ["MESH0303", "MESH0303"]
    assert codes(None, None, 3, "h", True) == ["MESH0304"] and codes(None, None, 1, "h", True) == []
    assert codes(None, {"http": {"http2MaxRequests": 5}}, 3, "h", False, concurrency=40.0) == ["MESH0305"]
    assert codes({"consecutive5xxErrors": 10, "interval": "60s", "baseEjectionTime": "30s",
                  "maxEjectionPercent": 50}, None, 2, "h", True) == []


def test_recommendation_keeps_a_replica():
    od, why = RZ.recommend(2, None, None)
    assert od == {"consecutive5xxErrors": 10, "interval": "60s", "baseEjectionTime": "30s", "maxEjectionPercent": 50}
    assert len(why) == 4
    assert RZ.recommend(3, None, None)[0]["maxEjectionPercent"] == 50
    # one replica: Istio never sends 0 (Envoy would apply its 10%); 1 of 1 is over 50%, so nothing is ejected
    assert RZ.recommend(1, None, None)[0]["maxEjectionPercent"] == 50 and RZ.max_ejectable(1, 50) == 0
    busy, _ = RZ.recommend(4, 800.0, 0.03)
    assert busy["interval"] == "10s" and busy["consecutive5xxErrors"] == 20


def test_status_reports_exactly_the_ejected_endpoint(runtime, sandbox):
    codes, r = sandbox.during_ejection(
        "frontend", 8080, "payment-api", lambda: get_tool("resilience_status").call(host="payment-api",
                                                                                      namespace="production"), lb=97)
    assert set(codes) == {503}
    v2 = sandbox.endpoint(sandbox.pod_name("payment-api-v2"))
    ejected = [(e.cluster, e.endpoint) for e in r.live if e.ejected]
    assert ejected == [("outbound|8080|v2|payment-api.production.svc.cluster.local", v2)]
    assert r.live[0].counters.get("ejections_active") == 1
    top = r.policies[0]
    assert (top.subset, top.replicas, top.envoy_outlier["consecutive_5xx"], top.envoy_outlier["max_ejection_percent"]
            ) == (None, 3, 2, 100)
    assert any(f.startswith("[MESH0301]") for f in r.findings) and any(f.startswith("[MESH0302]") for f in r.findings)


def test_writes_validate_then_dry_run_apply(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    before = fresh_sandbox.api.last_rv
    tool = get_tool("set_outlier_detection")
    for bad, msg in (({"interval": "30"}, "not a duration"), ({"baseEjectionTime": "-5s"}, "not a duration"),
                     ({"maxEjectionPercent": 101}, "0 to 100"), ({"nope": 1}, "Unknown outlierDetection")):
        with pytest.raises(InvalidInput, match=msg):
            tool.call(host="payment-api", namespace="production", settings=bad)
    with pytest.raises(InvalidInput, match="Unknown subset 'v9'"):
        tool.call(host="payment-api", namespace="production", settings={"interval": "10s"}, subset="v9")
    with pytest.raises(InvalidInput, match="whole number"):
        get_tool("set_connection_pool").call(host="payment-api", namespace="production",
                                             settings={"http": {"http2MaxRequests": 0}})
    assert fresh_sandbox.api.last_rv == before
    with prometheus_at("http://127.0.0.1:9"):
        rec = get_tool("recommend_outlier_detection").call(host="payment-api", namespace="production")
    assert rec.metrics.startswith("metrics unavailable") and rec.outlier_detection["maxEjectionPercent"] == 50
    done = tool.call(host="payment-api", namespace="production", settings=rec.outlier_detection, apply=True,
                     confirm="production")
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    od = c.get(KINDS["DestinationRule"], "payment-api", "production")["spec"]["trafficPolicy"]["outlierDetection"]
    assert od == rec.outlier_detection and done.changes[0].rollback_handle
    pool = get_tool("set_connection_pool").call(host="reviews", namespace="production", subset="v2",
                                                settings={"http": {"http2MaxRequests": 100}}, apply=True,
                                                confirm="production")
    assert pool.changes[0].applied
    dr = c.get(KINDS["DestinationRule"], "reviews", "production")
    assert dr["spec"]["subsets"][1]["trafficPolicy"]["connectionPool"] == {"http": {"http2MaxRequests": 100}}
    msgs = get_tool("analyze").call(namespace="production", only=["destinationrule.ResilienceAnalyzer"]).messages
    assert [(m.code, m.origin) for m in msgs] == [("MESH0304", "DestinationRule production/reviews")]


def test_linkerd_failure_accrual(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    tool = get_tool("set_failure_accrual")
    with pytest.raises(InvalidInput, match="not a duration"):
        tool.call(host="reviews", namespace="production", settings={"minPenalty": "30"})
    with pytest.raises(InvalidInput, match="longer than max_penalty"):
        tool.call(host="reviews", namespace="production", settings={"minPenalty": "2m", "maxPenalty": "60s"})
    with pytest.raises(InvalidInput, match="Invalid failure accrual settings: maxFailurez"):
        tool.call(host="reviews", namespace="production", settings={"maxFailurez": 5})
    done = tool.call(host="reviews", namespace="production", settings={"maxFailures": 5}, apply=True,
                     confirm="production")
    assert done.changes[0].applied
    r = get_tool("resilience_status").call(host="reviews", namespace="production", live=False)
    assert r.failure_accrual["balancer.linkerd.io/failure-accrual"] == "consecutive"
    assert r.failure_accrual["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] == "5"
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    c.patch(KINDS["Service"], "reviews", "production",
            {"metadata": {"annotations": {"balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio": "lots"}}})
    r = get_tool("resilience_status").call(host="reviews", namespace="production", live=False)
    assert any(f.startswith("[MESH0502]") and "jitter" in f for f in r.findings)
