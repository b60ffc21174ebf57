"""The mTLS and authorization tools for ambient workloads (issue 22), on the ambient sandbox's kube API: mtls_status
(HBONE through ztunnel, PeerAuthentication as istiod converts it), mtls_migration_plan (STRICT and sidecars to
ambient), authz_policies (who enforces each policy), authz_check (the waypoint hop with Envoy's semantics, the ztunnel
hop at L4). Cross-checked against what istiod really sends: the ztunnel config_dump the ambient sandbox serves from
``mesh-oracle serve --ambient`` and the RBAC of the waypoint's real Envoy (marker ``oracle``). Also issue 23: a
namespace question lists that namespace (and the caller's), and answers as the whole-cluster read does."""
from __future__ import annotations

import json
import urllib.request

import pytest
import yaml

from mesh_plugin.mesh import ambient as AM
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import Sandbox, seed
from mesh_plugin.tools import get_tool

NS = seed.AMBIENT_NS
SEC = "security.istio.io/v1"


@pytest.fixture(scope="module")
def amb():
    sb = Sandbox(variant="ambient", config="generator").start()
    yield sb
    sb.stop()


@pytest.fixture()
def live(amb):
    configure(amb.kubeconfig, "sandbox")
    return amb


def _pa(name: str, spec: dict) -> dict:
    return {"apiVersion": SEC, "kind": "PeerAuthentication", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _delete(sb: Sandbox, obj: dict) -> None:
    from mesh_plugin.kube import KINDS

    path = KINDS[obj["kind"]].path(obj["metadata"].get("namespace"), obj["metadata"]["name"])
    urllib.request.urlopen(urllib.request.Request(sb.url + path, method="DELETE"), timeout=10).read()


# -- mtls_status ---------------------------------------------------------------------------------------------------
def test_mtls_status_of_ambient_workloads(live):
    r = get_tool("mtls_status").call(namespace=NS)
    by = {w.workload: w for w in r.workloads}
    for name in ("checkout", "inventory-v1", "inventory-v2", "ledger"):
        w = by[name]
        assert (w.data_plane, w.injected, w.mode, w.policy) == ("ambient", False, "STRICT", f"{NS}/default"), w
        assert w.clients["outside the mesh"] == "plaintext through ztunnel: refused (STRICT)"
        assert not w.conflicts
    assert by["checkout"].clients["checkout:8080"] == "HBONE mTLS from ambient and sidecar clients"
    assert by["legacy-cron"].data_plane == "none"
    # the pod outside the mesh comes first; ambient pods are not "uninjected"
    assert r.workloads[0].workload == "legacy-cron"
    text = get_tool("mtls_status").render(r)
    assert "DATA PLANE" in text and "ambient" in text


def test_ambient_port_level_and_disable(live):
    """portLevelMtls reaches ztunnel (a converted_peer_authentication DENY); DISABLE acts as PERMISSIVE."""
    port = _pa("ledger-port", {"selector": {"matchLabels": {"app": "ledger"}}, "mtls": {"mode": "STRICT"},
                               "portLevelMtls": {"7070": {"mode": "PERMISSIVE"}}})
    off = _pa("checkout-off", {"selector": {"matchLabels": {"app": "checkout"}}, "mtls": {"mode": "DISABLE"}})
    live.apply([port, off])
    try:
        r = get_tool("mtls_status").call(namespace=NS)
        by = {w.workload: w for w in r.workloads}
        ledger = by["ledger"]
        assert (ledger.mode, ledger.ports) == ("STRICT", {"7070": "PERMISSIVE"})
        assert ledger.clients["outside the mesh"] == \
            "plaintext through ztunnel: refused (STRICT), except on port(s) 7070: accepted"
        checkout = by["checkout"]
        assert (checkout.mode, checkout.policy, checkout.ports) == ("PERMISSIVE", f"{NS}/checkout-off",
                                                                     {"8080": "PERMISSIVE"})
        assert any("DISABLE" in n and "PERMISSIVE" in n for n in checkout.notes)
        # the same decision as ztunnel's at L4 over the policies istiod sends (check_l4 on a plaintext connection)
        pod = next(p for p in live.api.store[("", "pods")].values() if p["metadata"]["labels"].get("app") == "ledger")
        from mesh_plugin.kube.snapshot import Snapshot

        snap = Snapshot(objects={"PeerAuthentication": [o for (_, _), o in
                                                        live.api.store[("security.istio.io", "peerauthentications")]
                                                        .items()]})
        assert AM.check_l4(snap, pod, AM.L4Connection(destination_port=7070)).allowed
        assert not AM.check_l4(snap, pod, AM.L4Connection(destination_port=9999)).allowed
    finally:
        for o in (port, off):
            _delete(live, o)


def test_sidecar_servers_in_a_mesh_with_ambient_namespaces(live, tmp_path):
    """ztunnel sends plain TCP to a sidecar pod without networking.istio.io/tunnel=http (istiod lists it as TCP):
    the STRICT port refuses ambient clients. Not said in a mesh without ambient namespaces."""
    r = get_tool("mtls_status").call(namespace=seed.NS, workload="frontend")
    assert "refused on STRICT port(s) 8080" in r.workloads[0].clients["ambient pods (via ztunnel)"]
    objs, _ = seed.production()
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane() + objs))
    off = get_tool("mtls_status").call(files=[str(tmp_path)], namespace=seed.NS, workload="frontend")
    assert "ambient pods (via ztunnel)" not in off.workloads[0].clients


# -- mtls_migration_plan -----------------------------------------------------------------------------------------------
def test_plan_of_an_ambient_namespace(live):
    p = get_tool("mtls_migration_plan").call(namespace=NS)
    assert p.strict.startswith(f"STRICT is already in place for every meshed workload ({NS}/default)")
    assert p.steps[3].done is True and p.current_step == 3  # legacy-cron opted out of ambient
    [b] = [b for b in p.blockers if b.startswith("pod outside the mesh")]
    assert "legacy-cron" in b and "opted out of ambient with the label istio.io/dataplane-mode=none" in b
    assert "istio.io/dataplane-mode=none" in p.next_action
    a = p.ambient
    assert [s.done for s in a.steps] == [True, True, False, True, True, True] and a.current_step == 3
    assert any(b.startswith(f"MESH0601 AuthorizationPolicy {NS}/checkout-get-only") for b in a.blockers)
    assert f"{NS}/checkout-get-only" in a.next_action and "targetRefs" in a.next_action


def test_plan_from_sidecars_to_ambient(live):
    """production (sidecars) in a cluster where ztunnel runs: what moving it would break, found by running the
    ambient analyzers on the namespace as it will be (its selector ALLOW with only HTTP rules denies everything)."""
    a = get_tool("mtls_migration_plan").call(namespace=seed.NS).ambient
    assert a.steps[0].done is True and "ztunnel istio-system/ztunnel 1/1 ready" in a.steps[0].detail
    assert a.steps[1].done is False and "production/payment-api-allow" in a.steps[1].detail
    assert a.current_step == 2 and a.next_action.startswith(f"istioctl waypoint apply -n {seed.NS}")
    assert a.steps[4].done is False and "istio-injection=enabled" in a.steps[4].detail
    assert any(b.startswith("after the move, MESH0601 AuthorizationPolicy production/payment-api-allow")
               for b in a.blockers), a.blockers
    assert "Sidecars to ambient" in get_tool("mtls_migration_plan").render(
        get_tool("mtls_migration_plan").call(namespace=seed.NS))


def test_plan_names_the_real_reason_a_pod_is_outside_the_mesh(live):
    """Issue 21: a missing namespace label, a label added after the pod started, an opt-out annotation."""
    from mesh_plugin.sandbox.seed import deployment_and_pods

    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain", "labels": {}}}
    _, pods = deployment_and_pods("plain", "web", {"app": "web"}, 1,
                                  [{"name": "web", "image": "web", "ports": [{"containerPort": 80}]}], "web", False,
                                  (60, 10))
    live.apply([ns, *pods])
    try:
        p = get_tool("mtls_migration_plan").call(namespace="plain")
        assert any("namespace plain has no istio-injection=enabled" in b for b in p.blockers), p.blockers
        assert p.next_action.startswith("label namespace plain istio-injection=enabled (sidecars) or "
                                        "istio.io/dataplane-mode=ambient")
        assert p.strict.startswith("not STRICT")
        ns["metadata"]["labels"] = {"istio-injection": "enabled"}
        live.apply([ns])
        p = get_tool("mtls_migration_plan").call(namespace="plain")
        assert any("has istio-injection=enabled but the pod has no sidecar" in b for b in p.blockers)
        assert p.next_action == "kubectl rollout restart its workload"
    finally:
        for o in [*pods, ns]:
            _delete(live, o)


# -- authz_policies ---------------------------------------------------------------------------------------------
def test_who_enforces_each_policy(live):
    t = get_tool("authz_policies")
    r = t.call(workload="checkout", namespace=NS)
    assert r.data_plane == "ambient"
    [allow] = r.evaluation["ALLOW"]
    assert (allow.name, allow.enforced_by) == (f"{NS}/checkout-get-only", "ztunnel (L4)")
    assert allow.effect.startswith("denies every connection at ztunnel")
    assert "checkout-get-only: ALLOW with only HTTP rules, ztunnel denies every connection" in r.summary
    assert [(p.name, p.scope) for p in r.evaluation["DENY"]] == \
        [("istio-system/istio_converted_static_strict", "PeerAuthentication")]
    r = t.call(workload="inventory-v1", namespace=NS)
    assert r.data_plane == "ambient+waypoint"
    assert [(p.name, p.enforced_by) for p in r.evaluation["ALLOW"]] == \
        [(f"{NS}/inventory-reads", f"waypoint {NS}/waypoint (L7)")]
    r = t.call(workload="ledger", namespace=NS)
    assert [(p.name, p.enforced_by, p.effect) for p in r.evaluation["ALLOW"]] == \
        [(f"{NS}/ledger-from-checkout", "ztunnel (L4)", None)]
    # a targetRefs policy to a Service that has no waypoint: enforced by nobody
    nobody = {"apiVersion": SEC, "kind": "AuthorizationPolicy", "metadata": {"name": "ledger-l7", "namespace": NS},
              "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "ledger"}],
                       "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}}
    live.apply([nobody])
    try:
        r = t.call(workload="ledger", namespace=NS)
        ref = next(p for p in r.evaluation["ALLOW"] if p.name == f"{NS}/ledger-l7")
        assert ref.enforced_by == "nobody" and ref.effect.startswith("AncestorNotBound")
    finally:
        _delete(live, nobody)
    r = t.call(workload="payment-api-v1", namespace=seed.NS)
    assert r.data_plane == "sidecar" and {p.enforced_by for ps in r.evaluation.values() for p in ps} == {"sidecar"}
    assert "ENFORCED BY" in t.render(r)


# -- authz_check ------------------------------------------------------------------------------------------------------
CASES = [  # to, port, caller, request -> decision, status, decided_by, policy
    ("checkout", 8080, {"namespace": NS, "sa": "inventory"}, {}, "DENY", 0, "ztunnel", None),
    ("inventory-v1", 9080, {"namespace": NS, "sa": "checkout"}, {"path": "/items/1"},
     "ALLOW", 200, f"waypoint {NS}/waypoint", f"{NS}/inventory-reads"),
    ("inventory-v1", 9080, {"namespace": NS, "sa": "checkout"}, {"method": "POST", "path": "/items/1"},
     "DENY", 403, f"waypoint {NS}/waypoint", None),
    ("inventory-v1", 9080, {"namespace": NS, "sa": "ledger"}, {"path": "/items/1"},
     "DENY", 403, f"waypoint {NS}/waypoint", None),
    # a sidecar client goes straight to the pod (no service waypoint): ztunnel has no ALLOW for inventory
    ("inventory-v1", 9080, {"namespace": seed.NS, "sa": "frontend"}, {"method": "POST"}, "ALLOW", 200, "ztunnel",
     None),
    ("inventory-v1", 9080, {"plaintext": True}, {}, "DENY", 0, "ztunnel", f"istio-system/{AM.STATIC_STRICT}"),
    ("ledger", 7070, {"namespace": NS, "sa": "checkout"}, {}, "ALLOW", 200, "ztunnel", f"{NS}/ledger-from-checkout"),
    ("ledger", 7070, {"namespace": NS, "sa": "inventory"}, {}, "DENY", 0, "ztunnel", None),
    ("ledger", 7070, {"principal": f"cluster.local/ns/{NS}/sa/checkout"}, {}, "ALLOW", 200, "ztunnel",
     f"{NS}/ledger-from-checkout"),
]


def _check(to, port, caller, request):
    return get_tool("authz_check").call(to=f"{NS}/{to}", port=port, caller=caller, request=request)


@pytest.mark.parametrize("to,port,caller,request_,decision,status,by,policy", CASES)
def test_authz_check_to_ambient_pods(live, to, port, caller, request_, decision, status, by, policy):
    d = _check(to, port, caller, request_)
    assert (d.decision, d.status, d.decided_by) == (decision, status, by), (d.reason, d.hops, d.notes)
    assert d.policy == policy
    # the hops stop where the request is refused; an allowed request passes ztunnel last
    last = by if decision == "DENY" else "ztunnel"
    assert d.hops[-1].startswith(last) and len(d.hops) == (2 if by.startswith("waypoint") and decision == "ALLOW"
                                                         else 1)


def test_authz_check_names_the_seeded_finding(live):
    d = _check("checkout", 8080, {"namespace": NS, "sa": "inventory"}, {})
    assert "1 ALLOW policy applies and none matches" in d.reason
    assert any(n.startswith(f"{NS}/checkout-get-only reaches ztunnel as an ALLOW with no rules") for n in d.notes)
    assert any("is in ambient" in n for n in d.notes)
    assert d.mtls_mode == "STRICT" and d.request["caller"] == "ambient"
    text = get_tool("authz_check").render(d)
    assert text.startswith("DENY (0) at ztunnel") and "hop: ztunnel" in text


# -- against istiod: the ztunnel's policies and the waypoint's RBAC it really serves ------------------------------
def _ztunnel_dump(sb: Sandbox) -> dict:
    zt = sb.ztunnel()
    with urllib.request.urlopen(f"{sb.url}/api/v1/namespaces/{zt.namespace}/pods/{zt.name}:15000/proxy/config_dump",
                                timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.oracle
def test_decisions_match_the_policies_istiod_sends(amb_istiod):
    """For every case, ztunnel's decision recomputed from istiod's own ztunnel resources (the live config_dump:
    the workload's authorizationPolicies, its namespace's Namespace-scoped and the Global policies) is the ztunnel
    hop's answer; mtls_status's STRICT is istiod's static STRICT policy on the workload."""
    configure(amb_istiod.kubeconfig, "sandbox")
    assert amb_istiod.config_source == "istiod"
    dump = _ztunnel_dump(amb_istiod)
    wls = dump["workloads"] if isinstance(dump["workloads"], list) else list(dump["workloads"].values())
    by_app = {w["name"].rsplit("-", 2)[0]: w for w in wls if w.get("namespace") == NS}
    policies = {f"{p['namespace']}/{p['name']}": p for p in dump["policies"]}
    status = {w.workload: w for w in get_tool("mtls_status").call(namespace=NS).workloads}
    for app in ("checkout", "inventory-v1", "ledger"):
        names = by_app[app]["authorizationPolicies"]
        assert (status[app].mode == "STRICT") == (f"istio-system/{AM.STATIC_STRICT}" in names)
    checked = 0
    for to, port, caller, request, *_ in CASES:
        d = _check(to, port, caller, request)
        if d.decided_by != "ztunnel" and d.decision == "DENY":
            continue  # refused at the waypoint: ztunnel never sees it
        w = by_app[to]
        pols = [p for k, p in policies.items() if k in w["authorizationPolicies"] or p["scope"] == "Global" or
                (p["scope"] == "Namespace" and p["namespace"] == NS)]
        seen = d.hops[-1].split("sees ", 1)[1].split(")", 1)[0]
        principal = None if seen.startswith("no identity") else seen
        conn = AM.L4Connection(principal, None, w["workloadIps"][0], port)
        assert AM.assert_rbac(pols, conn).allowed == (d.decision == "ALLOW"), (to, caller, d.hops)
        checked += 1
    assert checked >= 6


@pytest.mark.oracle
def test_the_waypoint_hop_applies_what_istiod_gives_the_waypoint(amb_istiod):
    """The waypoint's real Envoy (istiod's waypoint config) carries RBAC for exactly the policies the waypoint hop
    evaluates (ns[NS]-policy[NAME]-rule[i], pilot/pkg/security/authz/builder)."""
    import re

    configure(amb_istiod.kubeconfig, "sandbox")
    wp = next(px for px in amb_istiod.sidecars.values() if getattr(px.spec, "kind", "") == "waypoint")
    with urllib.request.urlopen(f"http://127.0.0.1:{wp.admin_port}/config_dump", timeout=10) as r:
        envoy = r.read().decode()
    in_envoy = {(m.group(1), m.group(2)) for m in re.finditer(r"ns\[([^\]]*)\]-policy\[([^\]]*)\]-rule\[\d+\]", envoy)}
    d = _check("inventory-v1", 9080, {"namespace": NS, "sa": "checkout"}, {"path": "/items/1"})
    assert d.decided_by == f"waypoint {NS}/waypoint" and "1 targetRefs polic(ies)" in d.hops[0]
    assert in_envoy == {(NS, "inventory-reads")} and d.policy == f"{NS}/inventory-reads"


# -- issue 23: a namespace question reads that namespace ------------------------------------------------------------
def _lists(sb: Sandbox, since: int) -> list[str]:
    return [p.split("?")[0] for m, p in sb.api.request_log[since:] if m == "GET" and "limit=" in p]


def _all_objects(sb: Sandbox) -> list[dict]:
    return [o for items in sb.api.store.values() for o in items.values()]


def test_namespace_questions_list_that_namespace_and_answer_as_the_whole_read(live, tmp_path):
    since = len(live.api.request_log)
    scoped = get_tool("mtls_status").call(namespace=NS, limit=500)
    pol = get_tool("authz_policies").call(workload="checkout", namespace=NS)
    checks = [_check(*c[:4]) for c in CASES]
    lists = _lists(live, since)
    assert f"/api/v1/namespaces/{NS}/pods" in lists and "/api/v1/pods" not in lists, lists
    assert "/api/v1/services" not in lists and f"/api/v1/namespaces/{NS}/services" in lists
    assert f"/api/v1/namespaces/{seed.NS}/pods" in lists  # the sidecar caller's pod, read in its namespace
    # the same answers from a whole-cluster read: mtls_status -A, and the tools on every object of the API as files
    whole = get_tool("mtls_status").call(limit=500)
    assert [w.model_dump() for w in scoped.workloads] == [w.model_dump() for w in whole.workloads
                                                           if w.namespace == NS]
    assert scoped.mesh == whole.mesh
    assert scoped.namespaces == [n for n in whole.namespaces if n.namespace == NS]
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(_all_objects(live)))
    files = [str(tmp_path / "all.yaml")]
    assert get_tool("authz_policies").call(workload="checkout", namespace=NS, files=files) == pol
    for c, d in zip(CASES, checks):
        off = get_tool("authz_check").call(to=f"{NS}/{c[0]}", port=c[1], caller=c[2], request=c[3], files=files)
        assert off == d, c
    # the plan: the namespace, and the root namespace's pods, DaemonSets and ConfigMaps (ztunnel, istio-cni)
    since = len(live.api.request_log)
    for ns in (NS, seed.NS):
        plan = get_tool("mtls_migration_plan").call(namespace=ns)
        lists = _lists(live, since)
        assert "/api/v1/pods" not in lists and "/api/v1/namespaces/istio-system/pods" in lists, lists
        off = get_tool("mtls_migration_plan").call(namespace=ns, files=files)
        assert (plan.strict, plan.steps[:4], plan.blockers, plan.ambient) == \
            (off.strict, off.steps[:4], off.blockers, off.ambient)
