"""Faults injected into the sandbox: every tool answers a typed error (or a partial answer), nothing hangs,
reads retry within bounds, writes never retry and are never half-applied."""
from __future__ import annotations

import time

import pytest

from mesh_plugin.errors import Conflict, Forbidden, MeshError, NotFound, ServerError, Timeout
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.runtime import configure
from mesh_plugin.tools import get_tool
from conftest import prometheus_at


@pytest.fixture()
def sb(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    return fresh_sandbox


def test_429_with_retry_after_is_retried_on_reads(sb):
    sb.inject_fault(r"/api/v1/pods$", 429, times=2, headers={"Retry-After": "0.2"})
    t0 = time.monotonic()
    w = get_tool("list_workloads").call()
    assert w.page.total > 0 and time.monotonic() - t0 >= 0.4
    assert sum(1 for m, p in sb.api.request_log if p.startswith("/api/v1/pods?")) >= 3


def test_persistent_500_gives_up_with_a_typed_error(sb):
    sb.inject_fault(r"/api/v1/namespaces$", 500)
    t0 = time.monotonic()
    with pytest.raises(ServerError) as e:
        get_tool("mesh_overview").call()
    assert e.value.status == 500 and time.monotonic() - t0 < 5
    assert sum(1 for m, p in sb.api.request_log if p.startswith("/api/v1/namespaces?")) == 3  # bounded


def test_writes_are_never_retried(sb):
    sb.inject_fault(r"/peerauthentications/default$", 503, method="PUT")
    with pytest.raises(ServerError):
        get_tool("set_mtls_mode").call(namespace="production", mode="PERMISSIVE", apply=True, confirm="production")
    assert sum(1 for m, p in sb.api.request_log if m == "PUT" and "dryRun" not in p) == 0  # the dry-run failed first
    c = KubeClient.connect(sb.kubeconfig)
    assert c.get(KINDS["PeerAuthentication"], "default", "production")["spec"]["mtls"]["mode"] == "STRICT"


def test_forbidden_and_not_found_are_typed(sb):
    sb.inject_fault(r"/destinationrules$", 403, method="GET")
    with pytest.raises(Forbidden) as e:
        get_tool("analyze").call(namespace="production")
    assert "list" in str(e.value) or "get" in str(e.value)
    assert "destinationrules.networking.istio.io" in str(e.value)
    sb.clear_faults()
    with pytest.raises(NotFound):
        get_tool("set_traffic_split").call(host="ghost", namespace="production", weights={"v1": 100})
    assert any("no Service" in f for f in get_tool("describe_routing").call(host="ghost",
                                                                             namespace="production").findings)


def test_slow_api_times_out(sb):
    sb.inject_fault(r"/api/v1/pods$", 0, delay=4.0)
    configure(sb.kubeconfig, "sandbox", timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        get_tool("list_workloads").call()
    assert time.monotonic() - t0 < 3


def test_expired_continue_token_restarts_the_list(sb):
    c = KubeClient.connect(sb.kubeconfig)
    pages = c.list(KINDS["Pod"], None, page_size=3)
    first = [next(pages) for _ in range(3)]
    sb.api.expire_continue_tokens()
    with pytest.raises(ServerError) as e:
        list(pages)
    assert e.value.status == 410
    sb.inject_fault(r"/api/v1/pods$", 410, times=1, query_key="continue")
    from mesh_plugin.kube import Snapshot

    snap = Snapshot.from_cluster(c, ["Pod"])
    assert len(snap.of("Pod")) == len(list(c.list(KINDS["Pod"]))) and first


def test_envoy_admin_and_prometheus_unreachable(runtime, sandbox):
    from mesh_plugin.errors import Unreachable

    with sandbox.sidecar_down("reviews-v2"), pytest.raises(Unreachable):
        get_tool("proxy_health").call(pod=sandbox.pod_name("reviews-v2"), namespace="production")
    with prometheus_at("http://127.0.0.1:9"):
        r = get_tool("mtls_status").call(namespace="production")
    assert r.metrics.startswith("metrics unavailable") and r.workloads


def test_multi_object_write_is_not_half_applied(sb):
    c = KubeClient.connect(sb.kubeconfig)
    c.request("DELETE", KINDS["DestinationRule"].path("production", "reviews"))
    before_vs = c.get(KINDS["VirtualService"], "reviews", "production")
    # the DestinationRule (first object) lands; the VirtualService (second) fails
    sb.inject_fault(r"/virtualservices/reviews$", 500, method="PUT")
    with pytest.raises(ServerError) as e:
        get_tool("set_traffic_split").call(host="reviews", weights={"v1": 50, "v2": 50}, namespace="production",
                                           apply=True, confirm="production")
    assert "rolled back: DestinationRule production/reviews" in str(e.value)
    sb.clear_faults()
    with pytest.raises(NotFound):  # the DestinationRule created first was rolled back
        c.get(KINDS["DestinationRule"], "reviews", "production")
    assert c.get(KINDS["VirtualService"], "reviews", "production")["spec"] == before_vs["spec"]


def test_conflict_is_reported_not_retried(sb):
    sb.inject_fault(r"/peerauthentications/default$", 409, method="PUT", times=1)
    with pytest.raises(Conflict):
        get_tool("set_mtls_mode").call(namespace="production", mode="PERMISSIVE", apply=True, confirm="production")
    assert isinstance(Conflict("x"), MeshError)
