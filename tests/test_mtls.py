"""mTLS: Istio's PeerAuthentication precedence (offline table), the sandbox (kube API + real Envoy),
plaintext shares from a real Prometheus, and set_mtls_mode on the shared change path."""
from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request

import pytest

from mesh_plugin.changes.path import execute, plan_change
from mesh_plugin.errors import Conflict, InvalidInput, NotFound
from mesh_plugin.kube import KINDS, KubeClient, Snapshot
from mesh_plugin.mesh.mtls import effective_mode, kiali_status
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool

from promhelper import PromServer, counter_series
from tlshelper import client_context
from conftest import prometheus_at

PA = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"


def pa(name, ns, mode=None, selector=None, ports=None, created="2026-01-01T00:00:00Z"):
    doc = f"{PA}metadata: {{name: {name}, namespace: {ns}, creationTimestamp: '{created}'}}\nspec:\n"
    if selector:
        doc += f"  selector: {{matchLabels: {selector}}}\n"
    if mode:
        doc += f"  mtls: {{mode: {mode}}}\n"
    if ports:
        doc += "  portLevelMtls:\n" + "".join(f"    '{p}': {{mode: {m}}}\n" for p, m in ports.items())
    return doc + "---\n"


APP = {"app": "web"}
PRECEDENCE = [
    ("nothing set: PERMISSIVE by default", "", None, ("PERMISSIVE", "default", "default")),
    ("mesh-wide STRICT", pa("default", "istio-system", "STRICT"), None, ("STRICT", "istio-system/default", "mesh")),
    ("namespace overrides mesh", pa("m", "istio-system", "STRICT") + pa("n", "shop", "PERMISSIVE"), None,
     ("PERMISSIVE", "shop/n", "namespace")),
    ("workload overrides namespace", pa("n", "shop", "STRICT") + pa("w", "shop", "DISABLE", "{app: web}"), None,
     ("DISABLE", "shop/w", "workload")),
    ("workload selector not matching", pa("n", "shop", "STRICT") + pa("w", "shop", "DISABLE", "{app: other}"), None,
     ("STRICT", "shop/n", "namespace")),
    ("UNSET inherits from the namespace", pa("n", "shop", "STRICT") + pa("w", "shop", "UNSET", "{app: web}"), None,
     ("STRICT", "shop/n", "namespace")),
    ("UNSET everywhere is PERMISSIVE", pa("m", "istio-system", "UNSET"), None, ("PERMISSIVE", "default", "default")),
    ("port level overrides the workload", pa("w", "shop", "STRICT", "{app: web}", {8080: "PERMISSIVE"}), 8080,
     ("PERMISSIVE", "shop/w", "port")),
    ("another port keeps the workload mode", pa("w", "shop", "STRICT", "{app: web}", {8080: "PERMISSIVE"}), 9090,
     ("STRICT", "shop/w", "workload")),
    ("UNSET port inherits", pa("n", "shop", "DISABLE") + pa("w", "shop", None, "{app: web}", {8080: "UNSET"}), 8080,
     ("DISABLE", "shop/n", "namespace")),
    ("portLevelMtls without selector is ignored", pa("n", "shop", "STRICT", None, {8080: "DISABLE"}), 8080,
     ("STRICT", "shop/n", "namespace")),
    ("oldest namespace policy wins", pa("b", "shop", "STRICT", created="2026-02-01T00:00:00Z")
     + pa("a", "shop", "DISABLE", created="2026-03-01T00:00:00Z"), None, ("STRICT", "shop/b", "namespace")),
    ("selector policy in the root namespace is ignored",
     pa("m", "istio-system", "PERMISSIVE") + pa("r", "istio-system", "STRICT", "{app: web}"), None,
     ("PERMISSIVE", "istio-system/m", "mesh")),
]


@pytest.mark.parametrize("name,yaml_text,port,want", PRECEDENCE, ids=[c[0] for c in PRECEDENCE])
def test_peer_authentication_precedence(name, yaml_text, port, want):
    snap = Snapshot.from_text(yaml_text or "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    eff = effective_mode(snap, "shop", APP, port)
    assert (eff.mode, eff.policy, eff.level) == want


def test_kiali_states():
    assert kiali_status("STRICT", "") == "MTLS_ENABLED"
    assert kiali_status("STRICT", "DISABLE") == "MTLS_PARTIALLY_ENABLED"
    assert kiali_status("PERMISSIVE", "") == "MTLS_PARTIALLY_ENABLED"
    assert kiali_status("DISABLE", "") == "MTLS_DISABLED"
    assert kiali_status("", "") == "MTLS_NOT_ENABLED"
    assert kiali_status("STRICT", "", auto_mtls=False) == "MTLS_PARTIALLY_ENABLED"


def test_status_on_the_sandbox(runtime):
    r = get_tool("mtls_status").call(namespace="production")
    by = {w.workload: w for w in r.workloads}
    assert by["reviews-v1"].conflicts and "tls DISABLE" in by["reviews-v1"].conflicts[0]
    assert r.workloads[0].conflicts  # conflicts first
    assert by["legacy-batch"].injected is False and by["frontend"].injected is True
    assert by["frontend"].mode == "STRICT" and by["frontend"].policy == "production/default"
    assert by["frontend"].ports == {"8080": "STRICT"}
    assert by["payment-api-v1"].clients["payment-api:8080"] == "mTLS (auto-mTLS)"
    assert [(n.namespace, n.status) for n in r.namespaces] == [("production", "MTLS_ENABLED")]
    assert r.mesh == "MTLS_PARTIALLY_ENABLED"
    assert r.metrics.startswith("metrics unavailable")  # said plainly
    data = r.model_dump()
    assert set(data["workloads"][0]) >= {"namespace", "workload", "mode", "ports", "policy", "injected", "conflicts"}


def test_offline_status_and_unknown_names(tmp_path, runtime):
    import yaml

    objs, _ = seed.production()
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    r = get_tool("mtls_status").call(files=[str(tmp_path)], namespace="production", workload="frontend")
    assert [w.workload for w in r.workloads] == ["frontend"] and "offline" in r.metrics
    with pytest.raises(NotFound):
        get_tool("mtls_status").call(namespace="staging")
    with pytest.raises(NotFound):
        get_tool("mtls_status").call(namespace="production", workload="nope")


def test_strict_inbound_for_real(sandbox):
    sc = sandbox.sidecar("payment-api-v1")
    url = f"127.0.0.1:{sc.inbound_port}/api/pay"
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://{url}", timeout=3).read()
    with urllib.request.urlopen(f"https://{url}", timeout=5, context=client_context(sandbox.ca, seed.NS, "frontend")) as r:
        assert r.status == 200 and b"payment-api" in r.read()
    no_cert = ssl.create_default_context(cafile=None)
    no_cert.check_hostname, no_cert.verify_mode = False, ssl.CERT_NONE
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        urllib.request.urlopen(f"https://{url}", timeout=3, context=no_cert).read()


@pytest.fixture(scope="module")
def prometheus():
    end = time.time() - 30
    base = {"reporter": "destination", "destination_workload_namespace": "production", "response_code": "200"}
    lines = []
    meshed = {"source_workload": "frontend", "source_workload_namespace": "production"}
    # plaintext: 0.6/s from a pod without a sidecar (no peer metadata: source "unknown") and 0.4/s from a sidecar
    # whose DestinationRule disables TLS (its metadata names it)
    plain_from = ({"source_workload": "unknown", "source_workload_namespace": "unknown"}, 0.6), \
        ({"source_workload": "reviews-v2", "source_workload_namespace": "production"}, 0.4)
    for wl, mtls_rate, plain in (("payment-api-v1", 9.0, True), ("frontend", 5.0, False), ("reviews-v1", 2.0, False)):
        lines += counter_series("istio_requests_total", {**base, **meshed, "destination_workload": wl,
                                                         "connection_security_policy": "mutual_tls"}, mtls_rate, end)
        for src, rate in plain_from if plain else ():
            lines += counter_series("istio_requests_total", {**base, **src, "destination_workload": wl,
                                                             "connection_security_policy": "none"}, rate, end)
    p = PromServer({"istio_requests": ("counter", lines)})
    yield p
    p.stop()


def test_plaintext_share_from_prometheus(runtime, prometheus):
    with prometheus_at(prometheus.url):
        r = get_tool("mtls_status").call(namespace="production")
    by = {w.workload: w for w in r.workloads}
    assert by["payment-api-v1"].plaintext_share == pytest.approx(0.10, abs=0.01)
    assert by["frontend"].plaintext_share == 0.0 and by["legacy-batch"].plaintext_share is None
    assert "istio_requests_total" in r.metrics
    with prometheus_at(prometheus.url):
        plan = get_tool("mtls_migration_plan").call(namespace="production")
    assert plan.current_step == 3
    assert any("legacy-batch" in b for b in plan.blockers)
    # issue 21: the senders are named by SOURCE workload, not by the destination that received them
    senders = [b for b in plan.blockers if b.startswith("plaintext client: ")]
    assert any(b.startswith("plaintext client: production/reviews-v2 -> payment-api-v1 (") for b in senders), senders
    assert any("unidentified client (source_workload unknown" in b and "-> payment-api-v1" in b for b in senders)
    assert not any("frontend" in b for b in senders)  # frontend sends mTLS only
    step5 = plan.steps[4]
    assert step5.done is False and "payment-api-v1 (10% plaintext)" in step5.detail
    assert "sent by: production/reviews-v2 -> payment-api-v1" in step5.detail or "production/reviews-v2" in step5.detail


def test_prometheus_through_the_service_proxy(fresh_sandbox, prometheus):
    sb = fresh_sandbox
    sb.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prometheus", "namespace": "istio-system"},
               "spec": {"ports": [{"name": "http", "port": 9090}]}}])
    sb.api.service_ports[("istio-system", "prometheus", "9090")] = prometheus.port
    configure(sb.kubeconfig, "sandbox")
    r = get_tool("mtls_status").call(namespace="production", workload="payment-api-v1")
    assert r.workloads[0].plaintext_share == pytest.approx(0.10, abs=0.01)
    assert "service istio-system/prometheus:9090" in r.metrics


def test_set_mtls_mode_refuses_strict_with_blockers_then_dry_run_apply_rollback(fresh_sandbox, prometheus, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    tool = get_tool("set_mtls_mode")
    with pytest.raises(InvalidInput, match="Refusing STRICT.*legacy-batch"):
        tool.call(namespace="production", mode="STRICT", workload="legacy-batch")
    with prometheus_at(prometheus.url), pytest.raises(InvalidInput, match="plaintext client: production/reviews-v2 -> payment-api-v1"):
        tool.call(namespace="production", mode="STRICT", workload="payment-api-v1")
    with prometheus_at(prometheus.url):
        dry = tool.call(namespace="production", mode="STRICT", workload="frontend", port=8080)
    assert dry.action == "create" and not dry.applied and "portLevelMtls" in dry.diff and "'8080'" in dry.diff
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    with pytest.raises(NotFound):
        c.get(KINDS["PeerAuthentication"], "frontend-mtls", "production")
    with pytest.raises(InvalidInput, match="confirm"):
        tool.call(namespace="production", mode="PERMISSIVE", apply=True)
    done = tool.call(namespace="production", mode="PERMISSIVE", apply=True, confirm="production")
    assert done.applied and done.rollback_handle and "-    mode: STRICT" in done.diff
    assert c.get(KINDS["PeerAuthentication"], "default", "production")["spec"]["mtls"]["mode"] == "PERMISSIVE"
    back = get_tool("rollback_change").call(handle=done.rollback_handle, apply=True, confirm="production")
    assert back.applied and c.get(KINDS["PeerAuthentication"], "default", "production")["spec"]["mtls"]["mode"] == "STRICT"
    warn = tool.call(namespace="production", mode="DISABLE", workload="reviews-v1")
    assert any("turns mTLS OFF" in w for w in warn.warnings)


def test_bad_input_changes_nothing(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    before = fresh_sandbox.api.last_rv
    tool = get_tool("set_mtls_mode")
    with pytest.raises(NotFound):
        tool.call(namespace="staging", mode="STRICT")
    with pytest.raises(NotFound, match="No workload"):
        tool.call(namespace="production", mode="STRICT", workload="nope")
    with pytest.raises(InvalidInput, match="does not expose port 9999"):
        tool.call(namespace="production", mode="STRICT", workload="frontend", port=9999)
    with pytest.raises(InvalidInput, match="needs a workload"):
        tool.call(namespace="production", mode="STRICT", port=8080)


    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        tool.call(namespace="production", mode="SUPERSTRICT")
    assert fresh_sandbox.api.last_rv == before


def test_concurrent_edit_is_reported_never_overwritten(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    c = KubeClient.connect(fresh_sandbox.kubeconfig)
    current = c.get(KINDS["PeerAuthentication"], "default", "production")
    desired = {**current, "spec": {"mtls": {"mode": "PERMISSIVE"}}}
    plan = plan_change(c, KINDS["PeerAuthentication"], desired)
    c.patch(KINDS["PeerAuthentication"], "default", "production", {"spec": {"mtls": {"mode": "DISABLE"}}})
    with pytest.raises(Conflict) as e:
        execute(c, plan, apply=True, confirm="production")
    assert "changed since it was read" in str(e.value) and "DISABLE" in str(e.value)
    assert c.get(KINDS["PeerAuthentication"], "default", "production")["spec"]["mtls"]["mode"] == "DISABLE"


def test_the_call_index_answers_as_the_plain_lookups():
    """Issue 23: MtlsIndex (Services by selector, DestinationRules by host, PeerAuthentications per namespace, built
    once per call) gives what the per-workload lookups give, on a generated mesh with wildcard, shadowed and
    root-namespace DestinationRules, selector-less and multi-label Services."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import yaml
    from generate import generate

    from mesh_plugin.mesh import mtls as M
    from mesh_plugin.mesh.workloads import workloads

    objs = generate(namespaces=12, pods=300, services=60, virtualservices=0, destinationrules=80,
                    peerauthentications=30, authorizationpolicies=0, gateways=0)

    def dr(name, ns, host, created):
        return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": {"host": host}}

    objs += [dr("all", "istio-system", "*.local", "2026-01-01T00:00:00Z"),
             dr("ns-wide", "team-0001", "*.team-0001.svc.cluster.local", "2026-01-02T00:00:00Z"),
             dr("everything", "team-0002", "*", "2026-01-03T00:00:00Z"),
             dr("short", "team-0003", "svc-00003", "2026-01-04T00:00:00Z"),
             dr("short-newer", "team-0003", "svc-00003", "2026-01-05T00:00:00Z"),
             {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "no-selector", "namespace": "team-0004"},
              "spec": {"ports": [{"port": 80}]}},
             {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "two-labels", "namespace": "team-0004"},
              "spec": {"selector": {"version": "v1", "app": "svc-00004"}, "ports": [{"port": 81}]}}]
    snap = Snapshot.from_text(yaml.safe_dump_all(objs))
    index = M.MtlsIndex(snap)
    hosts = sorted({f"{o['metadata']['name']}.{o['metadata']['namespace']}.svc.cluster.local"
                    for o in objs if o["kind"] == "Service"})
    compared = 0
    for w in workloads(snap):
        labels = M.workload_labels(w)
        assert M.services_for(snap, w.namespace, labels, index) == M.services_for(snap, w.namespace, labels)
        for port in (None, 8080, 9090):
            assert M.effective_mode(snap, w.namespace, labels, port, index=index) == \
                M.effective_mode(snap, w.namespace, labels, port)
        compared += 1
    for host in hosts:
        for client in (None, "team-0001", "team-0002", "team-0003"):
            got = M.destination_rule_for(snap, host, client, "istio-system", index)
            assert got is M.destination_rule_for(snap, host, client, "istio-system"), (host, client)
    assert compared > 50
    assert M.destination_rule_for(snap, "svc-00003.team-0003.svc.cluster.local", None, "istio-system",
                                  index)["metadata"]["name"] == "short"
    two = [w for w in workloads(snap, "team-0004") if M.workload_labels(w).get("version") == "v1"]
    assert two and any(s["metadata"]["name"] == "two-labels" for s in M.services_for(
        snap, "team-0004", M.workload_labels(two[0]), index))
