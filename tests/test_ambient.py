"""Istio ambient mode (issue 22): detection and inventory, waypoints and their bindings, PeerAuthentication and
AuthorizationPolicy as istiod converts them for ztunnel, ztunnel's L4 decision, ztunnel-config, and the tools.

Ground truth: Istio's own golden files for the ztunnel conversion (tests/data/ambient/istio-rbac, from
pilot/pkg/serviceregistry/ambient/testdata at the pin), istioctl's own ztunnel-config goldens
(tests/data/ambient/istioctl-zc), and the pinned istioctl itself (marker ``oracle``) on dumps we write. Live
parts run against the sandbox's kube API (pod proxy included) with a real HTTP server playing ztunnel's admin
and a real Envoy playing a waypoint.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from mesh_plugin.envoy import ztunnel as zt
from mesh_plugin.errors import InvalidInput
from mesh_plugin.kube.snapshot import Snapshot, labels_of, name_of
from mesh_plugin.mesh import ambient as A
from mesh_plugin.runtime import RUNTIME, configure
from mesh_plugin.tools import get_tool

import oracle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from fidelity import _protomarshal  # noqa: E402  (what protomarshal leaves of a security.Authorization)

DATA = Path(__file__).resolve().parent / "data" / "ambient"
RBAC = DATA / "istio-rbac"
ZC = DATA / "istioctl-zc"
MESH = DATA / "mesh.yaml"
ROOT = "istio-system"


def snap_of(*docs: dict | str) -> Snapshot:
    text = "\n---\n".join(d if isinstance(d, str) else yaml.safe_dump(d) for d in docs)
    return Snapshot.from_text(text)


@pytest.fixture(scope="module")
def mesh() -> Snapshot:
    return Snapshot.from_paths([str(MESH)])


def pod_named(snap: Snapshot, prefix: str) -> dict:
    return next(p for p in snap.of("Pod") if name_of(p).startswith(prefix))


# =====================================================================================================
# (c) (d) the ztunnel conversion: Istio's own golden grid (TestRBACConvert)
# =====================================================================================================
def _convert(inp: Path) -> dict | None:
    """As TestRBACConvert: one AuthorizationPolicy, or PeerAuthentications at mesh (istio-system), namespace and
    workload level (a lone namespace policy plays the workload one)."""
    docs = [d for d in yaml.safe_load_all(inp.read_text()) if d]
    for d in docs:
        d["metadata"].setdefault("namespace", "")
    if docs[0]["kind"] == "AuthorizationPolicy":
        return A.convert_authorization_policy(docs[0], ROOT).policy
    if len(docs) == 1:
        return A.convert_peer_authentication(docs[0], None, None, ROOT)
    root = ns = wl = None
    for d in docs:
        if d["metadata"]["namespace"] == ROOT:
            root = d
        elif (d.get("spec") or {}).get("selector") is not None:
            wl = d
        else:
            ns = d
    if wl is None:
        wl, ns = ns, None
    return A.convert_peer_authentication(wl, ns, root, ROOT)


@pytest.mark.parametrize("inp", sorted(RBAC.glob("*-in.yaml")), ids=lambda p: p.name)
def test_ztunnel_conversion_equals_istio_goldens(inp):
    want = yaml.safe_load(inp.with_name(inp.name.replace("-in.yaml", ".yaml")).read_text()) or None
    assert _protomarshal(_convert(inp)) == want


def test_the_golden_grid_is_all_there():
    assert len(list(RBAC.glob("*-in.yaml"))) == 22


@pytest.mark.parametrize("spec,reason,message", [
    # authorization_test.go TestConvertAuthorizationPolicyStatus, case by case
    ({"targetRef": {"kind": "Service", "name": "test-svc"}, "rules": []}, None, None),
    ({"rules": [{"from": [{"source": {"principals": ["trust/ns/echo-1234/"]}}],
                 "to": [{"operation": {"ports": ["http"]}}]}]}, "Accepted", "attached to ztunnel"),
    ({"action": "AUDIT", "rules": [{"from": [{"source": {"principals": ["trust/ns/echo-1234/"]}}]}]},
     "UnsupportedValue", "ztunnel does not support the AUDIT action"),
    ({"action": "CUSTOM", "rules": [{"from": [{"source": {"principals": ["trust/ns/echo-1234/"]}}]}]},
     "UnsupportedValue", "ztunnel does not support the CUSTOM action"),
    ({"rules": [{"from": [{"source": {"requestPrincipals": ["example.com/sub-1"]}}],
                 "to": [{"operation": {"methods": ["GET"]}}],
                 "when": [{"key": "request.auth.presenter", "values": ["presenter.example.com"]}]}]},
     "UnsupportedValue",
     "ztunnel does not support HTTP attributes (found: methods, request.auth.presenter, requestPrincipals). "
     "In ambient mode you must use a waypoint proxy to enforce HTTP rules. Within an ALLOW policy, rules matching "
     "HTTP attributes are omitted. This will be more restrictive than requested."),
])
def test_ztunnel_accepted_condition_as_istiod_writes_it(spec, reason, message):
    ap = {"kind": "AuthorizationPolicy", "metadata": {"name": "p", "namespace": "test"}, "spec": spec}
    c = A.convert_authorization_policy(ap, ROOT)
    assert (c.reason, c.message) == (reason, message)
    assert c.accepted == (None if reason is None else "False" if "action" in (message or "") else "True")


def test_dry_run_is_not_sent_unless_istiod_enables_it():
    ap = {"metadata": {"name": "p", "namespace": "ns", "annotations": {"istio.io/dry-run": "true"}},
          "spec": {"action": "DENY", "rules": [{}]}}
    c = A.convert_authorization_policy(ap, ROOT)
    assert c.policy is None and c.accepted == "False" and "dry-run" in c.message
    assert A.convert_authorization_policy(ap, ROOT, dry_run_enabled=True).policy["dryRun"] is True


# =====================================================================================================
# ztunnel's decision at the destination (assert_rbac) on what istiod sends
# =====================================================================================================
def _policy(action: str, rules: list, selector: dict | None = None, ns: str = "shop") -> dict:
    spec: dict = {"action": action, "rules": rules}
    if selector is not None:
        spec["selector"] = {"matchLabels": selector}
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": f"{action.lower()}-{len(rules)}", "namespace": ns}, "spec": spec}


FRONTEND = A.connection(namespace="shop", service_account="frontend", port=8080)
OTHER = A.connection(namespace="other", service_account="default", port=8080)
PLAIN = A.connection(plaintext=True, port=8080)


def _decide(ap: dict, conn: A.L4Connection) -> bool:
    pol = A.convert_authorization_policy(ap, ROOT).policy
    return A.assert_rbac([A.ztunnel_form(pol)] if pol else [], conn).allowed


@pytest.mark.parametrize("action,rules,allowed", [
    # an ALLOW with only HTTP fields reaches ztunnel with no rules: every connection is denied
    ("ALLOW", [{"to": [{"operation": {"methods": ["GET"]}}]}], {FRONTEND: False, OTHER: False, PLAIN: False}),
    # ... a rule of it without HTTP fields survives and allows what it says
    ("ALLOW", [{"to": [{"operation": {"methods": ["GET"]}}]},
               {"from": [{"source": {"namespaces": ["shop"]}}]}], {FRONTEND: True, OTHER: False, PLAIN: False}),
    # a DENY with only HTTP fields denies nothing at ztunnel (on a sidecar it would deny TCP traffic)
    ("DENY", [{"to": [{"operation": {"paths": ["/admin"]}}]}], {FRONTEND: True, OTHER: True, PLAIN: True}),
    # (b) principals + methods: the to clause is left empty, the rule never fires
    ("DENY", [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}}],
               "to": [{"operation": {"methods": ["POST"]}}]}], {FRONTEND: True, OTHER: True, PLAIN: True}),
    # (c) ports + methods: denies every connection to that port (more restrictive than written)
    ("DENY", [{"to": [{"operation": {"ports": ["8080"], "methods": ["POST"]}}]}],
     {FRONTEND: False, OTHER: False, PLAIN: False}),
    # (d) principals + notRequestPrincipals in one source: denies everything from that principal
    ("DENY", [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"],
                                    "notRequestPrincipals": ["*"]}}]}], {FRONTEND: False, OTHER: True, PLAIN: True}),
    # an L7 `when` key: its clause is an empty match, the DENY rule never fires
    ("DENY", [{"when": [{"key": "request.headers[x-user]", "values": ["bob"]}]}], {FRONTEND: True, PLAIN: True}),
    # namespaces/principals never match a plaintext connection (no identity)
    ("ALLOW", [{"from": [{"source": {"principals": ["*"]}}]}], {FRONTEND: True, PLAIN: False}),
    ("DENY", [{"from": [{"source": {"notNamespaces": ["shop"]}}]}], {FRONTEND: True, OTHER: False, PLAIN: False}),
    # a named port is dropped by istiod (stringToPort): the ALLOW rule is an empty match and never matches
    ("ALLOW", [{"to": [{"operation": {"ports": ["http"]}}]}], {FRONTEND: False}),
    # rules: [{}] matches everything; no rules at all matches nothing
    ("ALLOW", [{}], {FRONTEND: True, PLAIN: True}),
    ("ALLOW", [], {FRONTEND: False, PLAIN: False}),
    ("DENY", [{}], {FRONTEND: False, PLAIN: False}),
    # serviceAccounts without a namespace are the policy's namespace
    ("ALLOW", [{"from": [{"source": {"serviceAccounts": ["frontend"]}}]}], {FRONTEND: True, OTHER: False}),
    ("ALLOW", [{"when": [{"key": "source.ip", "values": ["10.0.0.0/8"]}]}],
     {A.connection(namespace="a", source_ip="10.1.2.3", port=1): True,
      A.connection(namespace="a", source_ip="192.168.1.1", port=1): False}),
])
def test_ztunnel_decision(action, rules, allowed):
    ap = _policy(action, rules)
    for conn, want in allowed.items():
        assert _decide(ap, conn) is want, (conn, want)


def test_assert_rbac_order_deny_first_then_allow():
    deny = A.ztunnel_form(A.convert_authorization_policy(_policy(
        "DENY", [{"from": [{"source": {"namespaces": ["other"]}}]}]), ROOT).policy)
    allow = A.ztunnel_form(A.convert_authorization_policy(_policy(
        "ALLOW", [{"from": [{"source": {"namespaces": ["other", "shop"]}}]}]), ROOT).policy)
    d = A.assert_rbac([allow, deny], OTHER)
    assert (d.allowed, d.reason, d.policy) == (False, "denied", "shop/deny-1")
    d = A.assert_rbac([allow, deny], FRONTEND)
    assert (d.allowed, d.reason, d.policy) == (True, "allowed", "shop/allow-1")
    d = A.assert_rbac([deny], FRONTEND)
    assert (d.allowed, d.reason) == (True, "no-allow")
    d = A.assert_rbac([allow], A.connection(namespace="x", port=1))
    assert (d.allowed, d.reason) == (False, "not-allowed") and "1 ALLOW policy applies" in d.text


def test_decision_works_on_a_live_ztunnel_dump():
    """The dump form istioctl's goldens carry (allow-nothing: Allow, no rules) decides like ztunnel."""
    d = zt.ZtunnelDump.load((ZC / "dump.json").read_bytes())
    pols = {p["name"]: p for p in d.policies}
    assert not A.policy_matches(pols["allow-nothing"], FRONTEND)
    waypoint = A.connection(principal="cluster.local/ns/default/sa/waypoint", port=80)
    assert A.policy_matches(pols["allow-waypoint"], waypoint)
    assert not A.policy_matches(pols["allow-waypoint"], FRONTEND)


# =====================================================================================================
# (c) PeerAuthentication: which converted policies a workload lists, and the effective mode per port
# =====================================================================================================
def _pa(name: str, ns: str, mode: str | None = None, selector: dict | None = None, ports: dict | None = None,
        ts: str = "2026-01-01T00:00:00Z") -> dict:
    spec: dict = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": ts}, "spec": spec}


APP = {"app": "a"}


@pytest.mark.parametrize("pas,keys,mode,ports", [
    ([], [], "PERMISSIVE", {}),
    ([_pa("mesh", ROOT, "STRICT")], [f"{ROOT}/istio_converted_static_strict"], "STRICT", {}),
    ([_pa("mesh", ROOT, "STRICT"), _pa("ns", "foo", "PERMISSIVE")], [], "PERMISSIVE", {}),
    ([_pa("mesh", ROOT, "PERMISSIVE"), _pa("ns", "foo", "STRICT")], [f"{ROOT}/istio_converted_static_strict"],
     "STRICT", {}),
    # DISABLE is PERMISSIVE for ztunnel
    ([_pa("ns", "foo", "DISABLE")], [], "PERMISSIVE", {}),
    # the oldest namespace policy wins
    ([_pa("new", "foo", "STRICT", ts="2026-02-01T00:00:00Z"), _pa("old", "foo", "PERMISSIVE")], [], "PERMISSIVE", {}),
    # STRICT with a PERMISSIVE port: the converted policy replaces the static one
    ([_pa("w", "foo", "STRICT", APP, {9090: "PERMISSIVE"})], ["foo/converted_peer_authentication_w"], "STRICT",
     {9090: "PERMISSIVE"}),
    # inherited STRICT (mesh) with a PERMISSIVE port: merged into the workload's policy
    ([_pa("mesh", ROOT, "STRICT"), _pa("w", "foo", None, APP, {9090: "PERMISSIVE", 8080: "STRICT"})],
     ["foo/converted_peer_authentication_w"], "STRICT", {8080: "STRICT", 9090: "PERMISSIVE"}),
    # PERMISSIVE with a STRICT port
    ([_pa("w", "foo", "PERMISSIVE", APP, {8080: "STRICT"})], ["foo/converted_peer_authentication_w"], "PERMISSIVE",
     {8080: "STRICT"}),
    # Istio's quirk: an UNSET workload mode under an inherited STRICT with a DISABLE port keeps the static STRICT
    # policy (only PERMISSIVE ports are looked for there), so the port stays STRICT for ztunnel
    ([_pa("ns", "foo", "STRICT"), _pa("w", "foo", None, APP, {9090: "DISABLE"})],
     [f"{ROOT}/istio_converted_static_strict"], "STRICT", {9090: "STRICT"}),
    # a selector policy in the root namespace is ignored
    ([_pa("w", ROOT, "STRICT", APP)], [], "PERMISSIVE", {}),
])
def test_ambient_mtls(pas, keys, mode, ports):
    snap = snap_of(*pas) if pas else Snapshot()
    assert A.peer_authentication_policy_keys(snap, "foo", {"app": "a", "v": "1"}, ROOT) == keys
    m = A.ambient_mtls(snap, "foo", {"app": "a", "v": "1"}, ROOT)
    assert (m.mode, m.port_modes) == (mode, ports)
    if any((p["spec"].get("mtls") or {}).get("mode") == "DISABLE" for p in pas):
        assert any("DISABLE" in n for n in m.notes)


def test_mtls_in_the_ambient_mesh(mesh):
    rv = pod_named(mesh, "reviews-")
    m = A.ambient_mtls(mesh, "shop", labels_of(rv), ROOT)
    assert (m.mode, m.port_modes) == ("STRICT", {9090: "PERMISSIVE"})
    assert m.sources == ("mesh istio-system/default", "workload shop/reviews-metrics")
    assert A.check_l4(mesh, rv, A.connection(plaintext=True, port=9090)).reason != "denied"
    d = A.check_l4(mesh, pod_named(mesh, "ratings-"), A.connection(plaintext=True, port=9080))
    assert (d.allowed, d.policy) == (False, "istio-system/istio_converted_static_strict")


# =====================================================================================================
# (a) who is in ambient
# =====================================================================================================
def _pod(labels: dict | None = None, ann: dict | None = None, containers: list | None = None, host: bool = False,
         ns: str = "foo") -> dict:
    spec: dict = {"containers": containers or [{"name": "app", "image": "x"}]}
    if host:
        spec["hostNetwork"] = True
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": ns, "labels": labels or {},
                                        "annotations": ann or {}}, "spec": spec, "status": {"phase": "Running"}}


NS_AMB = {"metadata": {"name": "foo", "labels": {"istio.io/dataplane-mode": "ambient"}}}
NS_PLAIN = {"metadata": {"name": "foo", "labels": {}}}
RED = {"ambient.istio.io/redirection": "enabled"}
SIDECAR = [{"name": "app", "image": "x"}, {"name": "istio-proxy", "image": "proxyv2"}]


@pytest.mark.parametrize("pod,ns,mode,intended", [
    (_pod(ann=RED), NS_AMB, "ambient", True),
    (_pod(), NS_AMB, "none", True),                                                   # labelled, not captured
    (_pod({"istio.io/dataplane-mode": "none"}), NS_AMB, "none", False),                # pod opt-out wins
    (_pod({"istio.io/dataplane-mode": "ambient"}), NS_PLAIN, "none", True),            # pod label alone works
    (_pod({"istio.io/dataplane-mode": "ambient"}, RED), NS_PLAIN, "ambient", True),
    (_pod(ann={"ambient.istio.io/redirection": "pending"}), NS_AMB, "ambient-pending", True),
    (_pod(host=True), NS_AMB, "none", False),                                           # host network: never
    (_pod(ann={"sidecar.istio.io/status": "{}"}, containers=SIDECAR), NS_AMB, "sidecar", False),  # sidecar wins
    (_pod({"app": "ztunnel"}, containers=[{"name": "istio-proxy", "image": "ztunnel"}]), NS_PLAIN, "ztunnel", False),
    (_pod({"gateway.istio.io/managed": "istio.io-mesh-controller", "gateway.networking.k8s.io/gateway-name": "wp"},
          containers=[{"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "waypoint"]}]), NS_AMB,
     "waypoint", False),
    (_pod(ns="kube-system"), {"metadata": {"name": "kube-system", "labels": {"istio.io/dataplane-mode": "ambient"}}},
     "none", False),                                                                   # CNI excludeNamespaces
])
def test_pod_data_plane(pod, ns, mode, intended):
    dp = A.pod_data_plane(pod, ns)
    assert (dp.mode, dp.intended) == (mode, intended), dp.reason


def test_namespace_ambient_as_istioctl_counts_it():
    assert A.namespace_ambient(NS_AMB).ambient
    rev = {"metadata": {"name": "m", "labels": {"istio.io/dataplane-mode": "ambient", "istio.io/rev": "canary"}}}
    n = A.namespace_ambient(rev)
    assert n.labelled and not n.ambient and n.sidecar_injection == "istio.io/rev=canary" and n.notes
    inj = {"metadata": {"name": "m", "labels": {"istio.io/dataplane-mode": "ambient", "istio-injection": "enabled"}}}
    assert not A.namespace_ambient(inj).ambient
    wp = {"metadata": {"name": "m", "labels": {"istio.io/use-waypoint": "wp", "istio.io/use-waypoint-namespace": "x"}}}
    assert A.namespace_ambient(wp).use_waypoint == "x/wp"


def test_components(mesh):
    c = A.ambient_components(mesh)
    assert c.installed and c.istiod_ambient is True and not c.problems
    assert (c.ztunnel.namespace, c.ztunnel.name, c.ztunnel.ready, c.ztunnel.desired, c.ztunnel.version) == \
        (ROOT, "ztunnel", 2, 2, "1.31.0")
    assert c.ztunnel.pods_by_node == {"node-a": "ztunnel-a1b2c", "node-b": "ztunnel-d3e4f"}
    assert c.cni.ambient_enabled and c.cni.excluded_namespaces == ("kube-system",)
    assert A.ztunnel_for_node(mesh, "node-b")["metadata"]["name"] == "ztunnel-d3e4f"
    no_cni = Snapshot(objects={k: v for k, v in mesh.objects.items()})
    no_cni.objects["DaemonSet"] = [d for d in mesh.of("DaemonSet") if name_of(d) == "ztunnel"]
    no_cni.objects["ConfigMap"] = []
    assert any("istio-cni does not" in p for p in A.ambient_components(no_cni).problems)


# =====================================================================================================
# (b) waypoints and bindings
# =====================================================================================================
def _gw(name: str, ns: str, labels: dict | None = None, ready: bool = True, allowed: dict | None = None,
        cls: str = "istio-waypoint", listeners: list | None = None) -> dict:
    lst = {"name": "mesh", "port": 15008, "protocol": "HBONE"}
    if allowed:
        lst["allowedRoutes"] = {"namespaces": allowed}
    gw = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
          "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
          "spec": {"gatewayClassName": cls, "listeners": listeners or [lst]}}
    if ready:
        gw["status"] = {"addresses": [{"type": "Hostname", "value": f"{name}.{ns}.svc.cluster.local"}],
                        "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]}
    return gw


def _ns(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def _svc(name: str, ns: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _kpod(name: str, ns: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                            "labels": {"app": name, **(labels or {})},
                                                            "annotations": RED},
            "spec": {"containers": [{"name": "app", "image": "x"}]}, "status": {"phase": "Running"}}


UW = "istio.io/use-waypoint"


@pytest.mark.parametrize("objs,which,waypoint,reason", [
    # the Service's own label
    ([_ns("a"), _gw("wp", "a"), _svc("s", "a", {UW: "wp"})], "s", "a/wp", None),
    # else the namespace's
    ([_ns("a", {UW: "wp"}), _gw("wp", "a"), _svc("s", "a")], "s", "a/wp", None),
    # the object's label wins over the namespace's, and none opts out
    ([_ns("a", {UW: "wp"}), _gw("wp", "a"), _gw("other", "a"), _svc("s", "a", {UW: "other"})], "s", "a/other", None),
    ([_ns("a", {UW: "wp"}), _gw("wp", "a"), _svc("s", "a", {UW: "none"})], "s", None, None),
    # a waypoint without status.addresses is not ready
    ([_ns("a"), _gw("wp", "a", ready=False), _svc("s", "a", {UW: "wp"})], "s", None, "WaypointIsNotReady"),
    ([_ns("a"), _svc("s", "a", {UW: "missing"})], "s", None, "WaypointIsNotReady"),
    # another namespace: allowedRoutes Same (default) refuses, All or a Selector admits
    ([_ns("a"), _ns("b"), _gw("wp", "a"), _svc("s", "b", {UW: "wp", "istio.io/use-waypoint-namespace": "a"})],
     "s", None, "AttachmentDenied"),
    ([_ns("a"), _ns("b"), _gw("wp", "a", allowed={"from": "All"}),
      _svc("s", "b", {UW: "wp", "istio.io/use-waypoint-namespace": "a"})], "s", "a/wp", None),
    ([_ns("a"), _ns("b", {"team": "x"}), _gw("wp", "a", allowed={"from": "Selector", "selector": {
        "matchLabels": {"team": "x"}}}), _svc("s", "b", {UW: "wp", "istio.io/use-waypoint-namespace": "a"})],
     "s", "a/wp", None),
    # traffic type: a Service cannot use a workload-only waypoint
    ([_ns("a"), _gw("wp", "a", {"istio.io/waypoint-for": "workload"}), _svc("s", "a", {UW: "wp"})],
     "s", None, "UnsupportedTrafficType"),
    # GatewayClass label when the Gateway has none
    ([_ns("a"), {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                 "metadata": {"name": "istio-waypoint", "labels": {"istio.io/waypoint-for": "workload"}},
                 "spec": {"controllerName": "istio.io/mesh-controller"}},
      _gw("wp", "a"), _svc("s", "a", {UW: "wp"})], "s", None, "UnsupportedTrafficType"),
    # pods: the default (service) waypoint does not take workload traffic; inherited from the namespace that is
    # not an error, the pod's own label is
    ([_ns("a", {UW: "wp"}), _gw("wp", "a"), _kpod("p", "a")], "p", None, None),
    ([_ns("a"), _gw("wp", "a"), _kpod("p", "a", {UW: "wp"})], "p", None, "UnsupportedTrafficType"),
    ([_ns("a", {UW: "wp"}), _gw("wp", "a", {"istio.io/waypoint-for": "all"}), _kpod("p", "a")], "p", "a/wp", None),
    # a waypoint's own pod never gets a waypoint
    ([_ns("a", {UW: "wp"}), _gw("wp", "a", {"istio.io/waypoint-for": "all"}),
      _kpod("wp-1", "a", {"gateway.networking.k8s.io/gateway-name": "wp"})], "wp-1", None, None),
])
def test_waypoint_binding(objs, which, waypoint, reason):
    snap = snap_of(*objs)
    obj = next(o for o in snap.of("Service") + snap.of("Pod") if name_of(o) == which)
    b = A.service_waypoint(snap, obj) if obj["kind"] == "Service" else A.workload_waypoint(snap, obj)
    assert (b.waypoint, b.reason) == (waypoint, reason), b


def test_waypoint_listener_and_status(mesh):
    [st] = A.waypoint_status(mesh)
    w = st.waypoint
    assert (w.key, w.traffic_type, w.traffic_type_from, w.programmed, w.ready, w.listener_ok) == \
        ("shop/waypoint", "service", "Gateway", True, True, True)
    assert w.service_accounts == ("waypoint",) and w.pods == ("waypoint-5d8f7b9c6-wp001",)
    assert st.services == ("shop/frontend", "shop/reviews") and st.workloads == ()
    assert st.refused == (("Service billing/payments", "AttachmentDenied"),)
    bad = snap_of(_gw("wp", "a", listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}], ready=False))
    [st] = A.waypoint_status(bad)
    assert any("UnsupportedProtocol" in p for p in st.problems) and any("status.addresses" in p for p in st.problems)


def test_waypoint_policy_status():
    objs = [_ns("a", {UW: "wp"}), _gw("wp", "a"), _svc("bound", "a"), _svc("free", "a", {UW: "none"})]

    def status(ref: dict, ns: str = "a") -> list[tuple[str, bool, str]]:
        ap = {"kind": "AuthorizationPolicy", "metadata": {"name": "p", "namespace": ns}, "spec": {"targetRefs": [ref]}}
        return [(s.ancestor, s.bound, s.reason) for s in A.waypoint_policy_status(snap_of(*objs), ap, ROOT)]

    assert status({"kind": "Service", "group": "", "name": "bound"}) == [("Service.core:a/bound", True, "Accepted")]
    assert status({"kind": "Service", "name": "free"}) == [("Service.core:a/free", False, "AncestorNotBound")]
    assert status({"kind": "Service", "name": "gone"}) == [("Service.core:a/gone", False, "TargetNotFound")]
    assert status({"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "wp"}) == \
        [("Gateway.gateway.networking.k8s.io:a/wp", True, "Accepted")]
    assert status({"kind": "GatewayClass", "group": "gateway.networking.k8s.io", "name": "istio-waypoint"}) == \
        [("GatewayClass.gateway.networking.k8s.io:a/istio-waypoint", False, "Invalid")]


def test_policy_enforcement(mesh):
    by = {p.policy: p for p in (A.policy_enforcement(mesh, ap) for ap in mesh.of("AuthorizationPolicy"))}
    e = by["shop/reviews-get-only"]
    assert e.ztunnel == ("shop/reviews-5d8f7b9c6-rev01",) and e.needs_waypoint and "denies every connection" in e.effect
    e = by["shop/block-admin"]
    assert e.ztunnel == ("shop/frontend-5d8f7b9c6-fro01",) and e.effect.startswith("denies nothing")
    assert e.ztunnel_status.reason == "UnsupportedValue" and e.ztunnel_status.accepted == "True"
    e = by["shop/ratings-from-frontend"]
    assert e.effect == "enforced at L4 as written" and e.ztunnel_status.reason == "Accepted"
    e = by["shop/reviews-l7"]
    assert e.waypoints == ("shop/waypoint",) and not e.ztunnel and e.ztunnel_status.accepted is None
    e = by["billing/payments-l7"]
    assert not e.enforced and e.waypoint_status[0].reason == "AncestorNotBound"
    e = by["shop/ext-authz"]
    assert not e.enforced and e.ztunnel_status.accepted == "False" and any("CUSTOM" in n for n in e.notes)
    e = by["shop/frontend-from-ratings"]
    assert any("waypoint shop/waypoint" in n and "sa/waypoint" in n for n in e.notes)
    # the sidecar pod in the same namespace enforces selector policies itself
    legacy = A.policy_enforcement(mesh, {"metadata": {"name": "all", "namespace": "shop"}, "spec": {}})
    assert "shop/legacy-sidecar-5d8f7b9c6-leg01" in legacy.sidecars
    assert set(legacy.ztunnel) == {"shop/frontend-5d8f7b9c6-fro01", "shop/reviews-5d8f7b9c6-rev01",
                                   "shop/ratings-5d8f7b9c6-rat01"}


@pytest.mark.parametrize("caller,waypoint,seen,allowed", [
    # an ambient client through the Service's waypoint: ztunnel sees the waypoint, whom the L4 ALLOW refuses
    ("ambient", "shop/waypoint", "cluster.local/ns/shop/sa/waypoint", False),
    # a sidecar client and an ingress gateway (no ingress-use-waypoint) go straight to the pod
    ("sidecar", None, "cluster.local/ns/shop/sa/ratings", True),
    ("ingress", None, "cluster.local/ns/shop/sa/ratings", True),
    # no identity at all: the mesh-wide STRICT refuses plaintext
    ("outside", None, None, False),
])
def test_who_decides_a_connection_to_an_ambient_pod(mesh, caller, waypoint, seen, allowed):
    frontend = pod_named(mesh, "frontend-")
    svc = next(s for s in mesh.of("Service") if name_of(s) == "frontend")
    r = A.ambient_check(mesh, frontend, A.connection(namespace="shop", service_account="ratings", port=8080),
                        caller=caller, service=svc)
    assert r.waypoint == waypoint, r.path
    assert (r.hops[-1].principal, r.hops[-1].decision.allowed) == (seen, allowed)
    assert len(r.hops) == (2 if waypoint else 1)


def test_waypoint_hop_lists_the_policies_it_applies(mesh):
    reviews = pod_named(mesh, "reviews-")
    svc = next(s for s in mesh.of("Service") if name_of(s) == "reviews")
    r = A.ambient_check(mesh, reviews, A.connection(namespace="shop", service_account="frontend", port=9080),
                        service=svc)
    assert [(h.at, h.policies) for h in r.hops] == [("waypoint shop/waypoint", ("shop/reviews-l7",)),
                                                     ("ztunnel (destination)", ())]
    # the selector policy with only HTTP rules denies everything at ztunnel, whoever calls
    assert r.hops[-1].decision.reason == "not-allowed"
    ingress = dict(svc, metadata={**svc["metadata"], "labels": {"istio.io/ingress-use-waypoint": "true"}})
    r = A.ambient_check(mesh, reviews, A.connection(namespace="istio-system", service_account="gw", port=9080),
                        caller="ingress", service=ingress)
    assert r.waypoint == "shop/waypoint"


def test_selector_without_match_labels_is_listed_on_no_workload(mesh):
    ap = {"metadata": {"name": "odd", "namespace": "shop"}, "spec": {"selector": {}, "action": "DENY", "rules": [{}]}}
    assert A.convert_authorization_policy(ap, ROOT).policy["scope"] == "WORKLOAD_SELECTOR"
    assert A.ztunnel_pods(mesh, ap) == []
    ap["spec"]["selector"] = {"matchLabels": {}}
    assert len(A.ztunnel_pods(mesh, ap)) == 3


# =====================================================================================================
# istiod itself (the oracle in ambient mode): what it sends a ztunnel for our mesh
# =====================================================================================================
@pytest.fixture(scope="module")
def istiod_wds():
    """istiod's workload xDS for the ztunnel on node-a: ``mesh-oracle serve --ambient``, GET /ztunnel (a delta
    ADS subscription as that ztunnel pod), as {"authorizations": {ns/name: Authorization}, "workloads":
    {ns/name: Workload}, "services": {ns/name: Service}} in protobuf JSON."""
    oracle.require_oracle()
    objs = [o for o in yaml.safe_load_all(MESH.read_text()) if o]
    try:
        with oracle.serve(objs, extra_args=["--ambient"]) as s:
            z = s.get_json("/ztunnel?proxy=ztunnel-a1b2c.istio-system")
    except oracle.OracleError as e:
        pytest.skip(f"this mesh-oracle cannot serve ztunnels (--ambient): {str(e)[-300:]}")
    out: dict = {"authorizations": {a["name"]: a["resource"] for a in z["authorizations"]},
                 "workloads": {}, "services": {}}
    for a in z["addresses"]:
        r = a["resource"]
        if "workload" in r:
            out["workloads"][f"{r['workload']['namespace']}/{r['workload']['name']}"] = r["workload"]
        else:
            out["services"][f"{r['service']['namespace']}/{r['service']['name']}"] = r["service"]
    return out


@pytest.mark.oracle
def test_policies_sent_to_ztunnel_equal_istiods(mesh, istiod_wds):
    ours = {f"{p['namespace']}/{p['name']}": p for p in
            [A.convert_authorization_policy(ap, ROOT).policy for ap in mesh.of("AuthorizationPolicy")] if p}
    ours.update(A.peer_authentication_policies(mesh, ROOT))
    theirs = istiod_wds["authorizations"]
    assert sorted(ours) == sorted(theirs)
    for k, p in ours.items():
        assert _protomarshal(p) == _protomarshal(theirs[k]), k


@pytest.mark.oracle
def test_workload_policies_waypoints_and_tunnel_equal_istiods(mesh, istiod_wds):
    """Per pod: the authorizationPolicies istiod lists, its waypoint, and whether ztunnel speaks HBONE to it; per
    Service: its waypoint."""
    ns_objs = {name_of(n): n for n in mesh.of("Namespace")}
    index = A.waypoint_index(mesh)
    for pod in mesh.of("Pod"):
        key = f"{pod['metadata']['namespace']}/{name_of(pod)}"
        w = istiod_wds["workloads"][key]
        assert A.authorization_policy_keys(mesh, pod["metadata"]["namespace"], labels_of(pod), ROOT) == \
            w.get("authorizationPolicies", []), key
        b = A.workload_waypoint(mesh, pod, index)
        assert (b.waypoint is not None) == ("waypoint" in w), key
        hbone = A.pod_data_plane(pod, ns_objs.get(pod["metadata"]["namespace"])).hbone
        assert hbone == (w.get("tunnelProtocol") == "HBONE"), key
    for svc in mesh.of("Service"):
        key = f"{svc['metadata']['namespace']}/{name_of(svc)}"
        theirs = istiod_wds["services"][key].get("waypoint")
        b = A.service_waypoint(mesh, svc, index)
        want = None
        if theirs:
            want = next(w.key for w in index.values() if w.address == theirs["hostname"]["hostname"])
        assert b.waypoint == want, key


# =====================================================================================================
# ztunnel-config: istioctl's own goldens, list and map dumps, no certificate bytes
# =====================================================================================================
@pytest.fixture(scope="module")
def zdump() -> zt.ZtunnelDump:
    return zt.ZtunnelDump.load((ZC / "dump.json").read_bytes())


@pytest.mark.parametrize("golden,render", [
    ("workloadsummary.txt", lambda d: zt.tabwriter(zt.workload_table(d))),
    ("workloadsummary_default.txt", lambda d: zt.tabwriter(zt.workload_table(
        d, zt.ZtunnelFilter(namespace="default")))),
    ("workloadsummary_workload.txt", lambda d: zt.tabwriter(zt.workload_table(
        d, zt.ZtunnelFilter(namespace="bookinfo", name="productpage-v1-675fc69cf-jscn2")))),
    ("policies.txt", lambda d: zt.tabwriter(zt.policy_table(d))),
    ("secretsummary.txt", lambda d: zt.tabwriter(zt.certificate_table(d), padding=5)),
    ("connectionsummary.txt", lambda d: zt.tabwriter(zt.connections_table(d))),
    ("connectionsummary_workload.txt", lambda d: zt.tabwriter(zt.connections_table(
        d, zt.ZtunnelFilter(name="productpage-v1-796f87b58-97bjk.bookinfo")))),
    ("connectionsummary_workload.txt", lambda d: zt.tabwriter(zt.connections_table(
        d, zt.ZtunnelFilter(name="productpage-v1-796f87b58-97bjk", namespace="bookinfo")))),
    ("allsummary.txt", lambda d: "\n" + "\n".join(zt.tabwriter(zt.table(d, k), 5 if k == "certificate" else 1)
                                                  for k in zt.KINDS)),
])
def test_ztunnel_config_tables_equal_istioctl_goldens(zdump, golden, render):
    assert render(zdump) == (ZC / golden).read_text()


def _as_lists(doc: dict) -> dict:
    """The current ztunnel shape: workloads, services as lists (the golden dump has maps keyed by address)."""
    return {**doc, **{k: list(v.values()) for k, v in doc.items() if k in ("workloads", "services")
                      and isinstance(v, dict)}}


def test_list_and_map_dumps_read_the_same(zdump):
    doc = json.loads((ZC / "dump.json").read_text())
    assert isinstance(doc["workloads"], dict)
    listed = zt.ZtunnelDump.load(json.dumps(_as_lists(doc)))
    for k in zt.KINDS:
        assert zt.table(listed, k).rows == zt.table(zdump, k).rows
    assert "pem" in json.dumps(doc) and "pem" not in json.dumps(zdump.certificates)
    assert "LS0t" not in json.dumps(zt.raw_items(zdump, "certificate"))


@pytest.mark.parametrize("data,what", [
    (b"not json", "is not JSON"),
    (b'{"configs": []}', "an Envoy config dump"),
    (b"[1, 2]", "not a ztunnel dump"),
])
def test_bad_dumps_are_typed_errors(data, what):
    with pytest.raises(InvalidInput) as e:
        zt.ZtunnelDump.load(data, "x.json")
    assert what in e.value.message and e.value.hint


def test_malformed_entries_are_skipped_not_fatal():
    d = zt.ZtunnelDump.load(json.dumps({"workloads": [{"name": "a", "namespace": "n"}, 7], "services": "x"}))
    assert len(d.workloads) == 1 and d.skipped == ["workloads[1]: not an object", "services: neither a list nor a map"]


def _our_dump(mesh: Snapshot) -> dict:
    """A ztunnel dump in the current (list) form: istioctl's golden workloads and services plus the policies
    istiod would send for our ambient mesh, in ztunnel's form."""
    doc = _as_lists(json.loads((ZC / "dump.json").read_text()))
    sent = [A.convert_authorization_policy(ap, ROOT).policy for ap in mesh.of("AuthorizationPolicy")]
    pols = [A.ztunnel_form(p) for p in sent if p] + [A.ztunnel_form(p) for p in
                                                     A.peer_authentication_policies(mesh, ROOT).values()]
    doc["policies"] = pols
    return doc


@pytest.mark.oracle
@pytest.mark.parametrize("kind", [*zt.KINDS, "all"])
@pytest.mark.parametrize("shape", ["map", "list"])
def test_ztunnel_config_equals_istioctl(tmp_path, mesh, kind, shape):
    """The pinned istioctl ztunnel-config --file on the same dump prints our table, cell for cell."""
    oracle.require_oracle()
    doc = json.loads((ZC / "dump.json").read_text()) if shape == "map" else _our_dump(mesh)
    f = tmp_path / "zt.json"
    f.write_text(json.dumps(doc))
    r = oracle.istioctl("ztunnel-config", kind, "--file", str(f))
    assert r.returncode == 0, r.stderr
    d = zt.ZtunnelDump.load(f.read_bytes())
    ours = ("\n" + "\n".join(zt.tabwriter(zt.table(d, k), 5 if k == "certificate" else 1) for k in zt.KINDS)
            if kind == "all" else zt.tabwriter(zt.table(d, kind), 5 if kind == "certificate" else 1))
    assert r.stdout == ours


@pytest.mark.oracle
def test_istioctl_policy_json_is_our_conversion(tmp_path, mesh):
    """istioctl zc policy -o json echoes the ztunnel-form policies we wrote (its struct has the same fields)."""
    oracle.require_oracle()
    f = tmp_path / "zt.json"
    f.write_text(json.dumps(_our_dump(mesh)))
    r = oracle.istioctl("ztunnel-config", "policy", "--file", str(f), "-o", "json")
    got = {(p["namespace"], p["name"]): p for p in json.loads(r.stdout)}
    assert got[("shop", "reviews-get-only")]["rules"] == []                      # ALLOW with only HTTP fields
    assert got[("shop", "converted_peer_authentication_reviews-metrics")]["rules"] == \
        [[[{"notDestinationPorts": [9090]}], [{"notPrincipals": [{"Presence": []}]}]]]
    assert got[("shop", "ratings-from-frontend")]["rules"] == \
        [[[{"principals": [{"Exact": "cluster.local/ns/shop/sa/frontend"}]}]]]


# =====================================================================================================
# the tools, offline
# =====================================================================================================
@pytest.fixture()
def files_runtime():
    return configure(None, None)


def test_workloads_offline_name_each_data_plane(files_runtime):
    w = get_tool("list_workloads").call(files=[str(MESH)], limit=50)
    by = {(x.namespace, x.name): x for x in w.workloads}
    assert {k: (v.data_plane, v.waypoint) for k, v in by.items() if k[0] == "shop"} == {
        ("shop", "frontend"): ("ambient+waypoint", "shop/waypoint"),
        ("shop", "reviews"): ("ambient+waypoint", "shop/waypoint"),
        ("shop", "ratings"): ("ambient", None),                # its Service opts out (use-waypoint: none)
        ("shop", "batch"): ("none", None),                     # pod opt-out
        ("shop", "stuck"): ("ambient-pending", None),
        ("shop", "missed"): ("none", None),                    # labelled namespace, never captured
        ("shop", "node-agent"): ("none", None),                # host network
        ("shop", "legacy-sidecar"): ("sidecar", None),
        ("shop", "waypoint"): ("waypoint", None),
    }
    assert by[("istio-system", "ztunnel")].data_plane == "ztunnel" and by[("istio-system", "ztunnel")].sidecar == \
        "ztunnel"
    assert by[("migrating", "orders")].data_plane == "sidecar"
    fe = by[("shop", "frontend")]
    assert fe.identity == "spiffe://cluster.local/ns/shop/sa/frontend" and fe.meshed_pods == 1
    assert "for Service frontend" in fe.data_plane_reason
    assert "AttachmentDenied" in by[("billing", "payments")].issue
    assert "not captured" in by[("shop", "missed")].issue and "pending" in by[("shop", "stuck")].issue
    assert "sidecar wins" in by[("shop", "legacy-sidecar")].issue
    assert "host" in by[("shop", "node-agent")].data_plane_reason
    # the filter takes the data planes too
    amb = get_tool("list_workloads").call(files=[str(MESH)], sidecar="ambient")
    assert {x.name for x in amb.workloads} == {"frontend", "reviews", "ratings", "stuck", "payments"}
    assert [x.name for x in get_tool("list_workloads").call(files=[str(MESH)], sidecar="waypoint").workloads] == \
        ["waypoint"]
    assert [x.name for x in get_tool("list_workloads").call(files=[str(MESH)], sidecar="ztunnel").workloads] == \
        ["ztunnel"]
    text = get_tool("list_workloads").render(w)
    assert "ambient+waypoint:shop/waypoint" in text and len(text.encode()) < 8192


def test_overview_offline(files_runtime):
    o = get_tool("mesh_overview").call(files=[str(MESH)])
    [istio] = o.meshes
    assert istio.ambient == "ztunnel istio-system/ztunnel 2/2 ready (1.31.0), istio-cni 2/2 ready"
    shop = next(n for n in o.namespaces if n.namespace == "shop")
    assert (shop.ambient, shop.ambient_pods, shop.meshed_pods, shop.waypoint) == \
        ("istio.io/dataplane-mode=ambient", 3, 4, "shop/waypoint")
    [wp] = o.waypoints
    assert (wp.waypoint, wp.traffic_type, wp.programmed, wp.services, wp.workloads) == \
        ("shop/waypoint", "service", True, 2, 0)
    assert any("missed, stuck are not captured" in f for f in o.findings)
    assert any("billing/payments asks for waypoint shop/waypoint: refused (AttachmentDenied)" in f for f in o.findings)
    assert any("shop/gone, which does not exist" in f for f in o.findings)
    assert "WAYPOINT" in get_tool("mesh_overview").render(o)


def test_analyzers_offline(files_runtime):
    r = get_tool("analyze").call(files=[str(MESH)], limit=200)
    got = {(m.code, m.origin) for m in r.messages if m.code.startswith("MESH06")}
    assert got == {
        ("MESH0601", "AuthorizationPolicy shop/reviews-get-only"),
        ("MESH0602", "AuthorizationPolicy shop/block-admin"),
        ("MESH0604", "AuthorizationPolicy shop/ext-authz"),
        ("MESH0605", "AuthorizationPolicy billing/payments-l7"),
        ("MESH0606", "Service billing/payments"),
        ("MESH0606", "Service shop/details"),
        ("MESH0607", "AuthorizationPolicy shop/frontend-from-ratings"),
    }
    # Istio's own analyzers say nothing of these (IST0133 even warns the opposite for the DENY: sidecar semantics)
    assert not any(m.code == "IST0171" for m in r.messages)


@pytest.mark.parametrize("yaml_text,code", [
    # ALLOW with an L4 rule kept and an HTTP one dropped: Info
    ("spec: {selector: {matchLabels: {app: reviews}}, rules: [{from: [{source: {namespaces: [shop]}}]}, "
     "{to: [{operation: {methods: [GET]}}]}]}", "MESH0603"),
    # DENY on a port with a method: denies the whole port
    ("spec: {selector: {matchLabels: {app: reviews}}, action: DENY, rules: [{to: [{operation: {ports: ['9080'], "
     "methods: [POST]}}]}]}", "MESH0603"),
    # AUDIT and dry-run
    ("spec: {selector: {matchLabels: {app: reviews}}, action: AUDIT, rules: [{}]}", "MESH0604"),
    ("metadata: {annotations: {istio.io/dry-run: 'true'}}\nspec: {action: DENY, rules: [{}]}", "MESH0604"),
    # an L4-only policy is not reported
    ("spec: {selector: {matchLabels: {app: reviews}}, rules: [{from: [{source: {namespaces: [shop]}}]}]}", None),
])
def test_ztunnel_policy_analyzer_cases(tmp_path, files_runtime, yaml_text, code):
    doc = yaml.safe_load(yaml_text)
    ap = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
          "metadata": {"name": "case", "namespace": "shop", **(doc.get("metadata") or {})}, "spec": doc["spec"]}
    f = tmp_path / "case.yaml"
    f.write_text(MESH.read_text() + "\n---\n" + yaml.safe_dump(ap))
    r = get_tool("analyze").call(files=[str(f)], limit=200, only=["mesh.ambient.*"])
    got = [m.code for m in r.messages if m.origin == "AuthorizationPolicy shop/case"]
    assert got == ([code] if code else [])


def test_ztunnel_config_from_a_file(files_runtime):
    pc = get_tool("proxy_config")
    r = pc.call(kind="workload", file=str(ZC / "dump.json"), filter={"namespace": "default"})
    [t] = r.tables
    assert t.headers == ["NAMESPACE", "POD NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"] and len(t.rows) == 8
    assert zt.tabwriter(zt.Table(t.headers, t.rows)) == (ZC / "workloadsummary_default.txt").read_text()
    r = pc.call(kind="all", file=str(ZC / "dump.json"), limit=9)
    assert [t.title for t in r.tables] == list(zt.KINDS)
    assert r.tables[0].page.note.startswith("showing 3 of 27 workloads")
    r = pc.call(kind="certificate", file=str(ZC / "dump.json"), output="json")
    assert "identity" in r.raw and "pem" not in r.raw and "LS0t" not in r.raw
    r = pc.call(kind="connections", file=str(ZC / "dump.json"), filter={"direction": "outbound"})
    assert {row[1] for row in r.tables[0].rows} == {"Outbound"}
    r = pc.call(kind="policy", file=str(ZC / "dump.json"), output="json")
    assert json.loads(r.raw)[0]["name"] == "allow-nothing"
    with pytest.raises(InvalidInput) as e:
        pc.call(kind="cluster", file=str(ZC / "dump.json"))
    assert "Next:" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        pc.call(kind="workload", file=str(ZC / "dump.json"), filter={"fqdn": "x"})
    assert "fqdn" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        pc.call(kind="workload")
    assert "ztunnel" in str(e.value)


def test_ztunnel_config_cli():
    bin_ = Path(__file__).resolve().parent.parent / ".venv/bin/mesh-plugin"
    r = subprocess.run([str(bin_), "zc", "workloads", "-f", str(ZC / "dump.json"), "--workload-namespace", "bookinfo",
                        "--node", "ambient-worker"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [ln.split()[1] for ln in r.stdout.splitlines()[1:4]] == [
        "reviews-v1-5b5d6494f4-qwjv4", "reviews-v2-5b667bcbf8-q5pn2", "reviews-v3-5b9bd44f4-7fff4"]


# =====================================================================================================
# the tools, live: the sandbox's kube API with the ambient mesh, ztunnel's admin as a real HTTP server
# =====================================================================================================
class _ZtunnelAdmin(BaseHTTPRequestHandler):
    body = b""
    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).paths.append(self.path)
        if self.path.split("?")[0] != "/config_dump":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture(scope="module")
def ambient_sandbox():
    from mesh_plugin.kube.kinds import KINDS, kind_for
    from mesh_plugin.sandbox import Sandbox

    sb = Sandbox(envoy=False, seed_cluster=False).start()
    objs = [o for o in yaml.safe_load_all(MESH.read_text()) if o]
    sb.apply([o for o in objs if kind_for(o["apiVersion"], o["kind"]) is not None
              and kind_for(o["apiVersion"], o["kind"]).key in KINDS])
    doc = _as_lists(json.loads((ZC / "dump.json").read_text()))
    # the ztunnel on node-a knows the shop pods too
    doc["workloads"].append({"uid": "Kubernetes//Pod/shop/frontend-5d8f7b9c6-fro01", "workloadIps": ["10.244.0.41"],
                             "protocol": "HBONE", "name": "frontend-5d8f7b9c6-fro01", "namespace": "shop",
                             "serviceAccount": "frontend", "node": "node-a", "status": "Healthy",
                             "waypoint": {"destination": "shop/waypoint.shop.svc.cluster.local"}})
    doc["services"].append({"name": "waypoint", "namespace": "shop", "hostname": "waypoint.shop.svc.cluster.local",
                            "vips": ["/10.96.0.30"], "ports": {"15008": 15008}, "endpoints": {}})
    _ZtunnelAdmin.body = json.dumps(doc).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ZtunnelAdmin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sb.api.pod_ports[("istio-system", "ztunnel-a1b2c", 15000)] = server.server_address[1]
    yield sb
    server.shutdown()
    sb.stop()


@pytest.fixture()
def live(ambient_sandbox):
    configure(ambient_sandbox.kubeconfig, "sandbox")
    return ambient_sandbox


def test_ztunnel_config_live_through_the_pod_proxy(live):
    _ZtunnelAdmin.paths.clear()
    pc = get_tool("proxy_config")
    r = pc.call(kind="workload", pod="ztunnel-a1b2c", namespace="istio-system", filter={"namespace": "shop"})
    assert r.source == "ztunnel istio-system/ztunnel-a1b2c"
    assert r.tables[0].rows == [["shop", "frontend-5d8f7b9c6-fro01", "10.244.0.41", "node-a", "waypoint", "HBONE"]]
    assert _ZtunnelAdmin.paths == ["/config_dump"]
    assert ("GET", "/api/v1/namespaces/istio-system/pods/ztunnel-a1b2c:15000/proxy/config_dump") in \
        live.api.request_log[-3:]
    # a workload pod: the ztunnel on its node (node-a), filtered to that pod, as istioctl does
    r = pc.call(kind="workload", pod="frontend-5d8f7b9c6-fro01.shop")
    assert r.source == "ztunnel istio-system/ztunnel-a1b2c" and "shop/frontend-5d8f7b9c6-fro01" in r.preamble[0]
    assert [row[1] for row in r.tables[0].rows] == ["frontend-5d8f7b9c6-fro01"]
    r = pc.call(kind="all", pod="ztunnel-a1b2c", namespace="istio-system")
    assert [t.title for t in r.tables] == list(zt.KINDS)
    r = pc.call(kind="certificate", pod="ztunnel-a1b2c", namespace="istio-system", output="json")
    assert "pem" not in r.raw and "spiffe://cluster.local/ns/istio-system/sa/istiod" in r.raw


def test_ztunnel_live_errors_name_the_next_step(live):
    pc = get_tool("proxy_config")
    with pytest.raises(InvalidInput) as e:                       # an Envoy kind on ztunnel
        pc.call(kind="cluster", pod="ztunnel-a1b2c", namespace="istio-system")
    assert "ztunnel" in str(e.value) and "kind=workload" in str(e.value)
    with pytest.raises(InvalidInput) as e:                       # an ambient pod has no Envoy
        pc.call(kind="listener", pod="reviews-5d8f7b9c6-rev01", namespace="shop")
    assert "ambient" in str(e.value)
    from mesh_plugin.errors import Unreachable

    with pytest.raises(Unreachable) as e:                        # node-b's ztunnel admin is not reachable
        pc.call(kind="workload", pod="reviews-5d8f7b9c6-rev01", namespace="shop")
    assert "file=" in str(e.value) and "localhost:15000" in str(e.value)
    with pytest.raises(InvalidInput) as e:                       # no ztunnel on the pod's node
        pc.call(kind="workload", pod="node-agent-5d8f7b9c6-nod01", namespace="shop")
    assert "No ztunnel pod runs on node node-c" in str(e.value) and "mesh_overview" in str(e.value)


def test_workloads_and_overview_live(live):
    w = get_tool("list_workloads").call(namespace="shop", limit=50)
    assert {x.name: x.data_plane for x in w.workloads}["reviews"] == "ambient+waypoint"
    o = get_tool("mesh_overview").call()
    assert o.meshes[0].ambient.startswith("ztunnel istio-system/ztunnel 2/2 ready")
    assert [x.waypoint for x in o.waypoints] == ["shop/waypoint"]
    text = get_tool("mesh_overview").render(o)
    assert len(text.encode()) < 8192 and len(o.model_dump_json().encode()) < 8192


# -- proxy-config on a waypoint pod: it is an Envoy (a real one here) ----------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def waypoint_envoy(live, tmp_path):
    from mesh_plugin.sandbox.envoy import envoy_binary

    admin, port = _free_port(), _free_port()
    fqdn = "reviews.shop.svc.cluster.local"
    cfg = {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
           "static_resources": {
               "listeners": [{"name": "connect_terminate", "address": {"socket_address": {
                   "address": "127.0.0.1", "port_value": port}}, "filter_chains": [{"filters": [{
                       "name": "envoy.filters.network.tcp_proxy", "typed_config": {
                           "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                           "stat_prefix": "connect_terminate", "cluster": f"inbound-vip|9080|http|{fqdn}"}}]}]}],
               "clusters": [{"name": f"inbound-vip|9080|http|{fqdn}", "type": "STATIC", "connect_timeout": "1s",
                             "load_assignment": {"cluster_name": "x", "endpoints": [{"lb_endpoints": [{"endpoint": {
                                 "address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}}}}]}]}}]}}
    (tmp_path / "envoy.json").write_text(json.dumps(cfg))
    log = open(tmp_path / "envoy.log", "w")
    proc = subprocess.Popen([envoy_binary(), "-c", str(tmp_path / "envoy.json"), "--disable-hot-restart",
                             "--concurrency", "1", "--log-level", "warning", "--base-id", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", admin), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    live.api.pod_ports[("shop", "waypoint-5d8f7b9c6-wp001", 15000)] = admin
    yield fqdn
    proc.terminate()
    proc.wait(10)
    log.close()
    live.api.pod_ports.pop(("shop", "waypoint-5d8f7b9c6-wp001", 15000), None)


def test_proxy_config_works_on_a_waypoint_pod(live, waypoint_envoy):
    r = get_tool("proxy_config").call(kind="cluster", pod="waypoint-5d8f7b9c6-wp001", namespace="shop")
    rows = r.tables[0].rows
    assert any(row[0] == waypoint_envoy and row[3] == "inbound-vip" for row in rows), rows
    r = get_tool("proxy_config").call(kind="listener", pod="waypoint-5d8f7b9c6-wp001.shop", output="json")
    assert "connect_terminate" in r.raw
