"""Linkerd: golden metrics reproduced from a real Prometheus (seeded history, reached through the sandbox API's
service proxy), edges, policy decisions, checks, and the HTTPRoute traffic split on the change path."""
from __future__ import annotations

import time

import pytest


from mesh_plugin.errors import InvalidInput, NotFound, Unreachable
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import Sandbox
from mesh_plugin.tools import get_tool

from promhelper import PromServer, counter_series
from conftest import prometheus_at

NS = "emojivoto"
IDENT = "{}.emojivoto.serviceaccount.identity.linkerd.cluster.local"
# (deployment, success/s, failure/s)
TRAFFIC = [("web", 20.0, 0.0), ("voting", 9.0, 1.0), ("emoji", 2.0, 2.0)]
BUCKETS = [("10", 5.0), ("50", 9.0), ("100", 9.9), ("+Inf", 10.0)]  # 50% <= 10ms, 90% <= 50ms, 99% <= 100ms


def expected_quantile(q: float) -> float:
    """histogram_quantile's linear interpolation inside the bucket that holds the rank."""
    total = BUCKETS[-1][1]
    rank, prev_le, prev_c = q * total, 0.0, 0.0
    for le, c in BUCKETS:
        if c >= rank:
            if le == "+Inf":
                return prev_le
            return prev_le + (float(le) - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = float(le), c
    return prev_le


@pytest.fixture(scope="module")
def linkerd():
    end = time.time() - 2  # the tool queries "now": the 1m window must hold a full minute of samples
    resp, lat, tcp = [], [], []
    for dep, ok, bad in TRAFFIC:
        base = {"direction": "inbound", "namespace": NS, "deployment": dep, "tls": "true"}
        resp += counter_series("response_total", {**base, "classification": "success"}, ok, end, step=5)
        if bad:
            resp += counter_series("response_total", {**base, "classification": "failure"}, bad, end, step=5)
        for le, rate in BUCKETS:
            lat += counter_series("response_latency_ms_bucket", {"direction": "inbound", "namespace": NS,
                                                                  "deployment": dep, "le": le}, rate, end, step=5)
        tcp += [line for line in counter_series("tcp_open_connections", {"direction": "inbound", "namespace": NS,
                                                                          "deployment": dep}, 0.0, end)]
    tcp = [line.rsplit(" ", 2)[0] + " 5 " + line.rsplit(" ", 1)[1] for line in tcp]
    out = {"direction": "outbound", "namespace": NS, "deployment": "web", "dst_namespace": NS}
    edges = [line.rsplit(" ", 2)[0] + f" {n} " + line.rsplit(" ", 1)[1] for n, line in
             [(3, x) for x in counter_series("tcp_open_connections", {**out, "dst_deployment": "voting",
                                                                       "server_id": IDENT.format("voting")}, 0, end)]
             + [(1, x) for x in counter_series("tcp_open_connections", {**out, "dst_deployment": "emoji",
                                                                         "no_tls_reason": "not_provided_by_remote"},
                                               0, end)]]
    prom = PromServer({"response": ("counter", resp), "response_latency_ms_bucket": ("unknown", lat),
                       "tcp_open_connections": ("gauge", tcp + edges)})
    sb = Sandbox(mesh="linkerd").start()
    sb.api.service_ports[("linkerd-viz", "prometheus", "9090")] = prom.port
    yield sb, prom
    sb.stop()
    prom.stop()


@pytest.fixture()
def lk(linkerd, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    sb, prom = linkerd
    configure(sb.kubeconfig, "sandbox")
    return sb, prom


def test_stat_reproduces_known_golden_metrics_through_the_service_proxy(lk):
    r = get_tool("linkerd_stat").call(resource="deploy", namespace=NS)
    by = {x.name: x for x in r.rows}
    assert [x.name for x in r.rows][0] == "emoji"  # lowest success first
    assert by["voting"].success == pytest.approx(0.9, abs=0.005)
    assert by["emoji"].success == pytest.approx(0.5, abs=0.005) and by["web"].success == 1.0
    assert by["voting"].rps == pytest.approx(10.0, rel=0.05) and by["web"].rps == pytest.approx(20.0, rel=0.05)
    for q, attr in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms")):
        assert getattr(by["voting"], attr) == pytest.approx(expected_quantile(q), rel=0.02), attr
    assert by["voting"].tcp_conn == 5 and by["web"].meshed == "2/2" and by["voting-v2"].success is None
    assert "linkerd-viz/prometheus" in r.metrics
    one = get_tool("linkerd_stat").call(resource="deploy/voting", namespace=NS)
    assert [x.name for x in one.rows] == ["voting"]
    ns = get_tool("linkerd_stat").call(resource="ns/emojivoto")
    assert ns.rows[0].rps == pytest.approx(34.0, rel=0.05) and ns.rows[0].meshed == "5/5"


def test_edges_show_which_are_secured(lk):
    r = get_tool("linkerd_edges").call(namespace=NS)
    assert [(e.src, e.dst, e.secured) for e in r.edges] == [("web", "emoji", False), ("web", "voting", True)]
    assert r.edges[0].no_tls_reason == "not_provided_by_remote"
    assert r.edges[1].server_id == IDENT.format("voting") and r.edges[1].client_id == IDENT.format("web")


def test_policies_and_authz_decisions(lk):
    p = get_tool("linkerd_policies").call(workload="voting", namespace=NS)
    assert p.servers == ["emojivoto/voting-grpc port grpc accessPolicy deny"]
    assert p.authorization_policies == ["emojivoto/voting-from-web"]
    assert p.traffic_splits == ["emojivoto/voting-split: voting-svc=90 voting-v2-svc=10"]
    check = get_tool("linkerd_authz_check")
    assert check.call(to="emojivoto/voting", port=8080, caller={"namespace": NS, "sa": "web"}).allowed
    assert not check.call(to="emojivoto/voting", port=8080, caller={"namespace": NS, "sa": "emoji"}).allowed
    assert not check.call(to="emojivoto/voting", port=8080, caller={"ip": "10.0.0.9"}).allowed
    assert not check.call(to="emojivoto/emoji", port=8080, caller={"identity": IDENT.format("web")}).allowed
    open_ = check.call(to="emojivoto/web", port=8080)
    assert open_.allowed and "default inbound policy" in open_.reason


def test_checks(lk):
    r = get_tool("linkerd_check").call()
    by = {c.group: c for c in r.checks}
    assert by["linkerd-existence"].ok and by["linkerd-config"].ok and by["linkerd-identity"].ok
    assert not by["linkerd-data-plane"].ok and "voting" in by["linkerd-data-plane"].detail
    assert by["linkerd-viz"].ok and r.ok  # the proxy skew is a warning (‼), as linkerd check --proxy reports it
    assert "PLACEHOLDER" not in r.model_dump_json() and "PRIVATE" not in r.model_dump_json()


def test_split_on_the_change_path(lk):
    sb, _ = lk
    split = get_tool("set_linkerd_split")
    relative = split.call(host="voting-svc", namespace=NS, weights={"voting-svc": 100, "voting-v2-svc": 10})
    assert relative.warnings == ["weights are relative (total 110): voting-svc 90.9%, voting-v2-svc 9.09%"]
    with pytest.raises(InvalidInput, match="Every weight is 0"):
        split.call(host="voting-svc", namespace=NS, weights={"voting-svc": 0})
    with pytest.raises(InvalidInput, match="not found"):
        split.call(host="voting-svc", namespace=NS, weights={"voting-svc": 50, "voting-v3-svc": 50})
    done = split.call(host="voting-svc", namespace=NS, weights={"voting-svc": 50, "voting-v2-svc": 50}, apply=True)
    c = KubeClient.connect(sb.kubeconfig)
    route = c.get(KINDS["policy.linkerd.io/HTTPRoute"], "voting-split", NS)
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [50, 50]
    get_tool("rollback_change").call(handle=done.changes[0].rollback_handle, apply=True)
    route = c.get(KINDS["policy.linkerd.io/HTTPRoute"], "voting-split", NS)
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [90, 10]


def test_bad_input_says_what_is_missing(fresh_sandbox, linkerd):
    configure(fresh_sandbox.kubeconfig, "sandbox")
    with pytest.raises(NotFound, match="Linkerd is not installed"):
        get_tool("linkerd_stat").call(resource="deploy")
    with pytest.raises(NotFound, match="Linkerd is not installed"):
        get_tool("linkerd_check").call()
    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        get_tool("linkerd_stat").call(resource="cronjob/x")
    sb, _ = linkerd
    configure(sb.kubeconfig, "sandbox")
    with pytest.raises(Unreachable, match="Prometheus"):
        with prometheus_at("http://127.0.0.1:9"):
            get_tool("linkerd_stat").call(resource="deploy")


def test_without_linkerd_every_linkerd_read_says_so(runtime):
    """The Istio sandbox has no Linkerd: policies and authz must not answer 'allowed: true' (issue 20)."""
    for name, kw in (("linkerd_policies", {"workload": "frontend", "namespace": "production"}),
                     ("linkerd_authz_check", {"to": "production/frontend", "caller": {"namespace": "production",
                                                                                        "sa": "reviews"}})):
        with pytest.raises(NotFound, match="Linkerd is not installed"):
            get_tool(name).call(**kw)


def test_named_ports_and_check_severities(lk):
    check = get_tool("linkerd_authz_check")
    by_name = check.call(to="emojivoto/voting", port="grpc", caller={"namespace": NS, "sa": "web"})
    by_number = check.call(to="emojivoto/voting", port=8080, caller={"namespace": NS, "sa": "web"})
    assert (by_name.allowed, by_name.server) == (by_number.allowed, by_number.server) and by_name.server
    r = get_tool("linkerd_check").call()
    skew = next(c for c in r.checks if c.group == "linkerd-data-plane")
    assert not skew.ok and skew.severity == "warning"  # the seed's voting proxy is one edge behind
    assert r.ok == all(c.ok or c.severity == "warning" for c in r.checks)
    assert "‼ [linkerd-data-plane]" in get_tool("linkerd_check").render(r)


def test_a_missing_httproute_backend_is_reported_once_by_the_mesh_that_reads_the_route(tmp_path, runtime):
    """An HTTPRoute Istio accepts (GAMMA parentRef, group "") gets Istio's view (MESH0702) and not the Linkerd
    check too; one only Linkerd reads (parentRef group core, which Istio ignores) gets MESH0503."""
    import yaml

    def route(name: str, group: str) -> dict:
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"parentRefs": [{"group": group, "kind": "Service", "name": "web", "port": 80}],
                         "rules": [{"backendRefs": [{"name": "web", "port": 80, "weight": 90},
                                                    {"name": "web-gone", "port": 80, "weight": 10}]}]}}
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
            route("gamma", ""), route("linkerd-style", "core")]
    f = tmp_path / "routes.yaml"
    f.write_text(yaml.safe_dump_all(docs))
    r = get_tool("analyze").call(files=[str(f)])
    got = {(m.code, m.origin.rpartition("/")[2]) for m in r.messages if m.code in ("MESH0503", "MESH0702")}
    assert got == {("MESH0702", "gamma"), ("MESH0503", "linkerd-style")}, got
