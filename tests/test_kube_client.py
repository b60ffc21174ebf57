"""KubeClient against the sandbox API over real HTTP: pagination, selectors, typed errors, timeouts."""
from __future__ import annotations

import socket
import time

import pytest
import yaml

from mesh_plugin.errors import Conflict, Forbidden, InvalidInput, NotFound, ServerError, Timeout, Unreachable
from mesh_plugin.kube import KINDS, KubeClient, Snapshot


def test_list_is_paginated_with_limit_and_continue(client):
    before = client.requests_made
    pods = list(client.list(KINDS["Pod"], "production", page_size=3))
    assert len(pods) == 8
    assert client.requests_made - before == 3  # 3 + 3 + 2
    assert len({p["metadata"]["name"] for p in pods}) == 8
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in pods)


def test_label_and_field_selectors_are_applied_by_the_server(client):
    v2 = list(client.list(KINDS["Pod"], None, label_selector="app=payment-api,version in (v2)"))
    assert [p["metadata"]["labels"]["version"] for p in v2] == ["v2"]
    not_v1 = list(client.list(KINDS["Pod"], "production", label_selector="app=payment-api,version!=v1"))
    assert len(not_v1) == 1
    running = list(client.list(KINDS["Pod"], "production", field_selector="status.phase=Running"))
    assert len(running) == 8


def test_get_missing_object_is_a_typed_not_found(client):
    with pytest.raises(NotFound) as e:
        client.get(KINDS["Pod"], "nope", "production")
    assert "pods/nope" in str(e.value) and "production" in str(e.value)


def test_forbidden_names_verb_resource_and_namespace(sandbox, client):
    sandbox.inject_fault(r"/namespaces/production/virtualservices$", 403, method="GET")
    with pytest.raises(Forbidden) as e:
        list(client.list(KINDS["VirtualService"], "production"))
    msg = str(e.value)
    assert e.value.verb == "get" and "virtualservices.networking.istio.io" in msg and "'production'" in msg
    assert "kubectl auth can-i get virtualservices.networking.istio.io -n production" in msg


def test_slow_answer_times_out_instead_of_hanging(sandbox):
    sandbox.clear_faults()
    sandbox.inject_fault(r"/api/v1/namespaces/production/services$", 0, delay=3.0, times=1)
    c = KubeClient.connect(sandbox.kubeconfig, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(Timeout):
        list(c.list(KINDS["Service"], "production"))
    assert time.monotonic() - t0 < 2.5


def test_unreachable_api_server_fails_fast(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}))
    c = KubeClient.connect(str(cfg))
    t0 = time.monotonic()
    with pytest.raises(Unreachable) as e:
        list(c.list(KINDS["Pod"]))
    assert time.monotonic() - t0 < 3
    assert "kubectl cluster-info" in str(e.value)


def test_unknown_context_lists_the_known_ones(sandbox):
    with pytest.raises(NotFound) as e:
        KubeClient.connect(sandbox.kubeconfig, context="prod-eu")
    assert "'prod-eu'" in str(e.value) and "sandbox" in str(e.value)


def test_malformed_kubeconfig_is_invalid_input(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [unclosed\n")
    with pytest.raises(InvalidInput):
        KubeClient.connect(str(bad))


def test_create_is_201_dry_run_persists_nothing_and_stale_put_conflicts(fresh_sandbox):
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": "canary", "namespace": "production"}, "spec": {"hosts": ["reviews"]}}
    dry = c.create(KINDS["VirtualService"], vs, dry_run=True)
    assert dry["metadata"]["resourceVersion"]
    with pytest.raises(NotFound):
        c.get(KINDS["VirtualService"], "canary", "production")
    created = c.create(KINDS["VirtualService"], vs)
    with pytest.raises(Conflict):
        c.create(KINDS["VirtualService"], vs)
    first = c.get(KINDS["VirtualService"], "canary", "production")
    assert first["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    edited = {**first, "spec": {"hosts": ["reviews", "reviews.production"]}}
    updated = c.replace(KINDS["VirtualService"], edited)
    assert int(updated["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    stale = {**first, "spec": {"hosts": ["other"]}}
    with pytest.raises(Conflict):
        c.replace(KINDS["VirtualService"], stale)
    assert c.get(KINDS["VirtualService"], "canary", "production")["spec"]["hosts"] == ["reviews", "reviews.production"]
    patched = c.patch(KINDS["VirtualService"], "canary", "production", {"spec": {"hosts": ["x"]}}, dry_run=True)
    assert patched["spec"]["hosts"] == ["x"]
    assert c.get(KINDS["VirtualService"], "canary", "production")["spec"]["hosts"] != ["x"]


def test_server_error_is_typed_and_reads_retry(sandbox, client):
    sandbox.inject_fault(r"/api/v1/namespaces$", 500, times=1)
    assert len(list(client.list(KINDS["Namespace"]))) >= 4  # one transient 500: retried
    sandbox.clear_faults()
    sandbox.inject_fault(r"/api/v1/namespaces$", 500)
    with pytest.raises(ServerError) as e:
        list(client.list(KINDS["Namespace"]))
    assert e.value.status == 500


def test_snapshot_one_list_per_kind_and_absent_crds(fresh_sandbox):
    fresh_sandbox.api.remove_kind("policy.linkerd.io", "servers")
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    keys = ["Namespace", "Pod", "Service", "VirtualService", "PeerAuthentication", "Server"]
    before = fresh_sandbox.api.requests_made
    snap = Snapshot.from_cluster(c, keys)
    # one LIST per kind; the absent Server CRD costs its fallback versions (v1beta3, v1beta2, v1beta1)
    assert fresh_sandbox.api.requests_made - before == 5 + 3
    assert snap.absent == {"Server"} and snap.of("Server") == []
    assert len(snap.of("Pod", "production")) == 8
    assert snap.get("VirtualService", "payment-api", "production")["spec"]["hosts"] == ["payment-api"]


def test_snapshot_never_holds_secret_values(client):
    snap = Snapshot.from_cluster(client, ["Secret"])
    secret = snap.get("Secret", "shop-tls", "istio-system")
    assert secret["dataKeys"] == ["tls.crt", "tls.key"]
    assert "data" not in secret and "PRIVATE KEY" not in str(snap.objects)
