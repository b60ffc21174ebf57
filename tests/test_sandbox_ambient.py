"""The ambient sandbox (issue 22): Sandbox(variant="ambient") adds istio-cni and ztunnel DaemonSets, the ``orders``
namespace in ambient mode with a waypoint, and a ztunnel admin endpoint that answers ``/config_dump`` in ztunnel's
format through the API's pod proxy. With the oracle, the ztunnel's state is what istiod serves it over delta xDS and
the waypoint is a real Envoy with istiod's waypoint config; without it, the same resources are built from the objects
(checked equal to istiod's here)."""
from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import oracle
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.sandbox import Sandbox, seed, ztunnel

from test_sandbox import _netns_inodes_in_use, _own_netns_fds, _pids_with

NS = seed.AMBIENT_NS
INVENTORY = f"inventory.{NS}.svc.cluster.local"


@pytest.fixture(scope="module")
def amb():
    """The ambient variant without istiod (the objects build the ztunnel's state)."""
    sb = Sandbox(variant="ambient", config="generator").start()
    yield sb
    sb.stop()


def _get(sb: Sandbox, path: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(sb.url + path, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _dump(sb: Sandbox) -> dict:
    zt = sb.ztunnel()
    code, body = _get(sb, f"/api/v1/namespaces/{zt.namespace}/pods/{zt.name}:15000/proxy/config_dump")
    assert code == 200, body[:500]
    return json.loads(body)


def _by(items: list[dict], key: str) -> dict[str, dict]:
    return {i[key]: i for i in items}


def _pods(sb: Sandbox, ns: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for (n, _), p in sb.api.store[("", "pods")].items() if n == ns}


def _wait(fn, timeout: float = 20.0, what: str = ""):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


# -- the objects ---------------------------------------------------------------------------------------------------

def test_the_api_serves_the_ambient_mesh_and_the_gateway_api(amb):
    c = KubeClient.connect(amb.kubeconfig)
    ns = c.get(KINDS["Namespace"], NS)
    assert ns["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    pods = {p["metadata"]["name"]: p for p in c.list(KINDS["Pod"], NS)}
    ambient = [p for p in pods.values() if (p["metadata"].get("annotations") or {}).get(
        "ambient.istio.io/redirection") == "enabled"]
    assert {p["metadata"]["labels"]["app"] for p in ambient} == {"checkout", "inventory", "ledger"}
    assert all(c_["name"] != "istio-proxy" for p in ambient for c_ in p["spec"]["containers"])
    cron = next(p for p in pods.values() if p["metadata"]["labels"]["app"] == "legacy-cron")
    assert cron["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    assert "ambient.istio.io/redirection" not in (cron["metadata"].get("annotations") or {})
    ds = {d["metadata"]["name"]: d for d in c.list(KINDS["DaemonSet"], seed.ROOT_NS)}
    assert ds["ztunnel"]["spec"]["selector"]["matchLabels"] == {"app": "ztunnel"}
    assert ds["istio-cni-node"]["metadata"]["labels"]["k8s-app"] == "istio-cni-node"
    zpods = list(c.list(KINDS["Pod"], seed.ROOT_NS, label_selector="app=ztunnel"))
    assert len(zpods) == 1 and zpods[0]["spec"]["containers"][0]["name"] == "istio-proxy"
    assert zpods[0]["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    istiod = next(iter(c.list(KINDS["Pod"], seed.ROOT_NS, label_selector="app=istiod")))
    assert {"name": "PILOT_ENABLE_AMBIENT", "value": "true"} in istiod["spec"]["containers"][0]["env"]
    # the waypoint: a Gateway of class istio-waypoint, ready (status addresses), its pod, and a bound Service
    gw = c.get(KINDS["gateway.networking.k8s.io/Gateway"], "waypoint", NS)
    assert gw["spec"]["gatewayClassName"] == "istio-waypoint"
    assert gw["metadata"]["labels"]["istio.io/waypoint-for"] == "service"
    assert gw["spec"]["listeners"] == [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]
    assert {a["type"] for a in gw["status"]["addresses"]} == {"IPAddress", "Hostname"}
    wp = [p for p in pods.values() if p["metadata"]["labels"].get("gateway.networking.k8s.io/gateway-name") == "waypoint"]
    assert len(wp) == 1 and wp[0]["spec"]["containers"][0]["args"][:2] == ["proxy", "waypoint"]
    assert c.get(KINDS["Service"], "inventory", NS)["metadata"]["labels"]["istio.io/use-waypoint"] == "waypoint"
    # Gateway API CRDs with the bundle version, classes, and the routes
    crds = {x["metadata"]["name"]: x for x in c.list(KINDS["CustomResourceDefinition"], None)}
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"):
        crd = crds[f"{plural}.gateway.networking.k8s.io"]
        assert crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == seed.GATEWAY_API_BUNDLE
    assert {g["metadata"]["name"] for g in c.list(KINDS["GatewayClass"], None)} == {"istio", "istio-waypoint"}
    routes = {(r["metadata"]["namespace"], r["metadata"]["name"]): r
              for r in c.list(KINDS["gateway.networking.k8s.io/HTTPRoute"], None)}
    assert set(routes) == {(seed.NS, "frontend"), (seed.NS, "shop-api"), (NS, "inventory")}
    assert routes[(NS, "inventory")]["spec"]["parentRefs"][0] == {"group": "", "kind": "Service", "name": "inventory",
                                                                  "port": 9080}
    assert amb.unserved == []


def test_the_default_sandbox_is_not_ambient():
    sb = Sandbox(envoy=False).start()
    try:
        assert not sb.ztunnels and sb.variant == "default"
        assert ("", NS) not in sb.api.store[("", "namespaces")]
        assert not any(k[1].startswith("ztunnel") for k in sb.api.store[("", "pods")])
        # the Gateway API routes are in every Istio sandbox
        assert (seed.NS, "frontend") in sb.api.store[("gateway.networking.k8s.io", "httproutes")]
        assert "istio-waypoint" not in {k[1] for k in sb.api.store[("gateway.networking.k8s.io", "gatewayclasses")]}
    finally:
        sb.stop()


# -- the ztunnel's config_dump -------------------------------------------------------------------------------------

def test_ztunnel_config_dump_through_the_pod_proxy(amb):
    """Without istiod, the dump is built from the objects, in ztunnel's format."""
    d = _dump(amb)
    assert amb.ztunnel().source == "objects"
    assert set(d) >= {"workloads", "services", "policies", "certificates", "workloadState", "staticConfig", "version",
                      "config"}
    assert [w["uid"] for w in d["workloads"]] == sorted(w["uid"] for w in d["workloads"])
    pods = _pods(amb, NS)
    w = {x["name"]: x for x in d["workloads"]}
    # every pod with an IP is a workload; captured ones speak HBONE, the opted-out one and the waypoint plain TCP
    all_pods = [p for p in amb.api.store[("", "pods")].values() if p["status"].get("podIP")]
    assert set(w) == {p["metadata"]["name"] for p in all_pods}
    for name, p in pods.items():
        captured = (p["metadata"].get("annotations") or {}).get("ambient.istio.io/redirection") == "enabled"
        assert w[name]["protocol"] == ("HBONE" if captured else "TCP"), name
        assert w[name]["uid"] == f"Kubernetes//Pod/{NS}/{name}" and w[name]["workloadIps"] == [p["status"]["podIP"]]
    checkout = next(x for n, x in w.items() if n.startswith("checkout-"))
    assert checkout["authorizationPolicies"] == [f"{NS}/checkout-get-only",
                                                 f"{seed.ROOT_NS}/istio_converted_static_strict"]
    assert checkout["serviceAccount"] == "checkout" and checkout["node"] == seed.NODE
    assert checkout["canonicalName"] == "checkout" and checkout["workloadName"] == "checkout"
    cni = next(x for n, x in w.items() if n.startswith("istio-cni-node-"))
    assert cni["networkMode"] == "HostNetwork"
    svc = _by(d["services"], "hostname")
    inv = svc[INVENTORY]
    assert inv["waypoint"] == {"destination": f"{NS}/waypoint.{NS}.svc.cluster.local", "hboneMtlsPort": 15008}
    assert inv["vips"] == ["/10.96.40.90"] and inv["ports"] == {"9080": 9080}
    assert {e["workloadUid"].split("/")[-1].rsplit("-", 2)[0] for e in inv["endpoints"].values()} == \
        {"inventory-v1", "inventory-v2"}
    assert "waypoint" not in svc[f"ledger.{NS}.svc.cluster.local"]
    pol = {(p["namespace"], p["name"]): p for p in d["policies"]}
    # the deliberate finding: HTTP-only rules by selector on an ambient pod become an ALLOW with no rules
    assert pol[(NS, "checkout-get-only")] == {"name": "checkout-get-only", "namespace": NS, "scope": "WorkloadSelector",
                                             "action": "Allow", "rules": [], "dryRun": False}
    assert pol[(NS, "ledger-from-checkout")]["rules"] == [[[{"destinationPorts": [7070]}], [{"principals": [
        {"Exact": f"{seed.TRUST_DOMAIN}/ns/{NS}/sa/checkout"}]}]]]
    assert pol[(seed.ROOT_NS, "istio_converted_static_strict")]["rules"] == [[[{"notPrincipals": [{"Presence": []}]}]]]
    assert (NS, "inventory-reads") not in pol  # targetRefs: for the waypoint, never sent to ztunnel
    # certificates: one per identity of the captured pods on this node, public certificates only
    assert [c["identity"] for c in d["certificates"]] == [
        f"spiffe://{seed.TRUST_DOMAIN}/ns/{NS}/sa/{sa}" for sa in ("checkout", "inventory", "ledger")]
    raw = json.dumps(d)
    assert "PRIVATE KEY" not in raw
    for c in d["certificates"]:
        assert c["state"] == "Available" and len(c["certChain"]) == 1 and len(c["rootCerts"]) == 1
        leaf = base64.b64decode(c["certChain"][0]["pem"]).decode()
        assert leaf.startswith("-----BEGIN CERTIFICATE-----") and "KEY" not in leaf
        assert int(c["certChain"][0]["serialNumber"]) > 0 and c["certChain"][0]["expirationTime"].endswith("Z")
    assert c["rootCerts"][0]["pem"] == base64.b64encode(amb.ca.cert_pem).decode()
    # workloadState: the pods this ztunnel captures, by pod uid
    captured = {p["metadata"]["uid"]: p for p in pods.values()
                if (p["metadata"].get("annotations") or {}).get("ambient.istio.io/redirection") == "enabled"}
    assert set(d["workloadState"]) == set(captured)
    for uid, st in d["workloadState"].items():
        assert st["state"] == "Up" and st["connections"] == {"inbound": [], "outbound": []}
        assert st["info"] == {"name": captured[uid]["metadata"]["name"], "namespace": NS,
                              "serviceAccount": captured[uid]["spec"]["serviceAccountName"]}


def test_ztunnel_follows_writes_without_istiod(amb):
    c = KubeClient.connect(amb.kubeconfig)
    ap = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
          "metadata": {"name": "deny-ledger-9999", "namespace": NS},
          "spec": {"selector": {"matchLabels": {"app": "ledger"}}, "action": "DENY",
                   "rules": [{"to": [{"operation": {"ports": ["9999"], "methods": ["POST"]}}]}]}}
    c.request("POST", KINDS["AuthorizationPolicy"].path(NS), body=ap)
    try:
        d = _dump(amb)
        pol = {(p["namespace"], p["name"]): p for p in d["policies"]}
        # DENY keeps the L4 part of a rule with HTTP fields (more restrictive than asked)
        assert pol[(NS, "deny-ledger-9999")]["action"] == "Deny"
        assert pol[(NS, "deny-ledger-9999")]["rules"] == [[[{"destinationPorts": [9999]}]]]
        ledger = next(w for w in d["workloads"] if w["name"].startswith("ledger-"))
        assert f"{NS}/deny-ledger-9999" in ledger["authorizationPolicies"]
    finally:
        c.request("DELETE", KINDS["AuthorizationPolicy"].path(NS, "deny-ledger-9999"))
    assert (NS, "deny-ledger-9999") not in {(p["namespace"], p["name"]) for p in _dump(amb)["policies"]}


def test_the_waypoint_has_no_envoy_without_istiod(amb):
    wp = next(n for n in _pods(amb, NS) if n.startswith("waypoint-"))
    code, body = _get(amb, f"/api/v1/namespaces/{NS}/pods/{wp}:15000/proxy/ready")
    assert code == 503 and b"connection refused" in body
    assert "the waypoint pod runs no Envoy" in amb.describe_config_source()


def test_istioctl_reads_the_dump(amb, tmp_path):
    """The pinned istioctl's ztunnel-config reads the dump (its own parser, configdump.go Prime) and shows the
    ambient facts."""
    oracle.require_oracle()
    f = tmp_path / "zt.json"
    f.write_text(json.dumps(_dump(amb)))
    r = oracle.istioctl("ztunnel-config", "all", "-f", str(f), check=True)
    rows = [line.split() for line in r.stdout.splitlines()]
    workloads = {row[1]: row for row in rows if row and row[0] == NS and len(row) == 6}
    assert {row[5] for name, row in workloads.items() if name.startswith(("checkout-", "inventory-", "ledger-"))} == \
        {"HBONE"}
    assert next(row for name, row in workloads.items() if name.startswith("legacy-cron-"))[5] == "TCP"
    services = {row[1]: row for row in rows if row and row[0] == NS and len(row) == 5}
    assert services["inventory"][3] == "waypoint" and services["inventory"][4] == "2/2"
    assert services["ledger"][3] == "None"
    assert [NS, "checkout-get-only", "Allow", "WorkloadSelector"] in rows
    assert [seed.ROOT_NS, "istio_converted_static_strict", "Deny", "WorkloadSelector"] in rows
    leaf = [row for row in rows if row and row[0] == f"spiffe://{seed.TRUST_DOMAIN}/ns/{NS}/sa/checkout"]
    assert [row[1:4] for row in leaf] == [["Leaf", "Available", "true"], ["Root", "Available", "true"]]


# -- lifecycle -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["generator", "auto"])
def test_ambient_sandbox_stops_without_orphans(config):
    before = _own_netns_fds()
    sb = Sandbox(variant="ambient", config=config).start()
    try:
        zt = sb.ztunnel()
        admin = zt.admin_port
        assert urllib.request.urlopen(f"http://127.0.0.1:{admin}/", timeout=5).status == 200
        if sb.config_source == "istiod":  # 8 sidecars and gateways + the waypoint; + the orders pods' namespaces
            assert len(sb.sidecars) == 9
            assert len(sb.net.pods) == 9 + len([a for a in sb.apps if a.namespace == NS]) + 1
            assert _pids_with("mesh-oracle", "serve", "--ambient", sb.dir) == [sb.istiod.proc.pid]
        assert len(_pids_with("envoy", sb.dir)) == len(sb.sidecars)
        assert sb.started_in < 15
        pod_netns = {os.fstat(ns.fd).st_ino for ns in sb.net.pods.values()} if sb.net else set()
    finally:
        sb.stop()
    assert _pids_with("envoy", sb.dir) == [] and _pids_with("mesh-oracle", sb.dir) == []
    assert not os.path.exists(sb.dir)
    assert not (pod_netns & _netns_inodes_in_use()) and _own_netns_fds() <= before
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{admin}/", timeout=2)


def test_variant_is_checked():
    with pytest.raises(ValueError):
        Sandbox(variant="sidecarless")
    with pytest.raises(ValueError):
        Sandbox(variant="ambient", mesh="linkerd")


# -- with istiod -------------------------------------------------------------------------------------------------

@pytest.mark.oracle
def test_ztunnel_state_is_what_istiod_serves(amb_istiod):
    """The dump renders istiod's own delta xDS answer to this ztunnel pod; and the objects fallback builds the
    same resources for the seeded mesh."""
    sb = amb_istiod
    zt = sb.ztunnel()
    assert zt.source == "istiod" and "istiod's workload xDS" in sb.describe_config_source()
    snap = sb.istiod.ztunnel(zt.proxy_id)
    assert snap["proxy"] == zt.proxy_id and snap["node_id"].startswith("ztunnel~10.244.0.30~")
    assert snap["responses"]["address"] >= 1 and snap["responses"]["authorization"] >= 1
    got = _dump(sb)
    local = sb._captured_pods(zt.node)  # noqa: SLF001
    want = ztunnel.render(snap, node=zt.node, local=local, certificates=sb._ztunnel_certs(local))  # noqa: SLF001
    for key in ("workloads", "services", "policies", "workloadState"):
        assert got[key] == want[key], key
    # every pod with an IP, as istiod indexes them; HBONE exactly for the annotated pods
    names = {a["resource"]["workload"]["name"]: a["resource"]["workload"] for a in snap["addresses"]
             if "workload" in a["resource"]}
    pods = {p["metadata"]["name"]: p for p in sb.api.store[("", "pods")].values()}
    assert set(names) == set(pods)
    for name, w in names.items():
        captured = (pods[name]["metadata"].get("annotations") or {}).get("ambient.istio.io/redirection") == "enabled"
        assert (w.get("tunnelProtocol") == "HBONE") == captured, name
    objs = sb._objects()  # noqa: SLF001
    _same_resources(ztunnel.workload_xds(objs), snap)


def _same_resources(mine: dict, istiod: dict) -> None:
    for key in ("addresses", "authorizations"):
        a = {x["name"]: x["resource"] for x in mine[key]}
        b = {x["name"]: x["resource"] for x in istiod[key]}
        assert sorted(a) == sorted(b), key
        for name in b:
            assert a[name] == b[name], (key, name)


#: objects that take the fallback through more of istiod's conversion (authorization.go, waypoints.go)
EXTRA = [
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "ledger-ports", "namespace": NS},
     "spec": {"selector": {"matchLabels": {"app": "ledger"}}, "portLevelMtls": {"7070": {"mode": "PERMISSIVE"}}}},
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "checkout-ports", "namespace": NS},
     "spec": {"selector": {"matchLabels": {"app": "checkout"}}, "mtls": {"mode": "PERMISSIVE"},
              "portLevelMtls": {"8080": {"mode": "STRICT"}, "9090": {"mode": "DISABLE"}}}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "ns-deny", "namespace": NS},
     "spec": {"action": "DENY", "rules": [
         {"from": [{"source": {"notPrincipals": ["*/ns/orders/*", "cluster.local/*"], "ipBlocks": ["10.0.0.0/8", "1.2.3.4"]}},
                   {"source": {"serviceAccounts": ["ledger", "other/sa"]}}],
          "to": [{"operation": {"ports": ["8080"], "methods": ["DELETE"]}}]},
         {"when": [{"key": "source.ip", "values": ["10.1.0.0/16"]}, {"key": "request.headers[x]", "values": ["y"]}]}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "mesh-allow", "namespace": seed.ROOT_NS},
     "spec": {"rules": [{"from": [{"source": {"namespaces": ["orders", "prod*"]}}]}, {}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "ext", "namespace": NS},
     "spec": {"action": "CUSTOM", "provider": {"name": "ext-authz"}, "rules": [{}]}},
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
     "metadata": {"name": "wl-waypoint", "namespace": NS, "labels": {"istio.io/waypoint-for": "workload"}},
     "spec": {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
     "status": {"addresses": [{"type": "Hostname", "value": f"wl-waypoint.{NS}.svc.cluster.local"}]}},
]


@pytest.mark.oracle
def test_the_objects_fallback_equals_istiod_beyond_the_seed(amb_istiod):
    """Port-level PeerAuthentications, a namespace DENY with L4 and HTTP fields, a mesh-wide ALLOW, CUSTOM (not
    sent), and a workload waypoint bound by a pod label: the fallback and istiod agree on every resource."""
    sb = amb_istiod
    c = KubeClient.connect(sb.kubeconfig)
    ledger = next(n for n in _pods(sb, NS) if n.startswith("ledger-"))
    created = []
    try:
        for o in EXTRA:
            kind = KINDS.get(o["kind"]) if o["apiVersion"].startswith(("security", "v1")) else \
                KINDS[f"gateway.networking.k8s.io/{o['kind']}"]
            c.request("POST", kind.path(o["metadata"]["namespace"]), body=copy.deepcopy(o))
            created.append((kind, o["metadata"]["namespace"], o["metadata"]["name"]))
        c.request("PATCH", KINDS["Pod"].path(NS, ledger), body={"metadata": {"labels": {
            "istio.io/use-waypoint": "wl-waypoint"}}}, content_type="application/merge-patch+json")
        zt = sb.ztunnel()

        def pushed() -> dict | None:
            snap = sb.istiod.ztunnel(zt.proxy_id)
            names = {a["name"] for a in snap["authorizations"]}
            w = next(a["resource"]["workload"] for a in snap["addresses"] if a["name"].endswith("/" + ledger))
            return snap if {f"{NS}/ns-deny", f"{seed.ROOT_NS}/mesh-allow"} <= names and "waypoint" in w else None

        snap = _wait(pushed, what="istiod's push to the ztunnel")
        assert f"{NS}/ext" not in {a["name"] for a in snap["authorizations"]}
        _same_resources(ztunnel.workload_xds(sb._objects()), snap)  # noqa: SLF001
        d = _dump(sb)
        w = next(x for x in d["workloads"] if x["name"] == ledger)
        assert w["waypoint"] == {"destination": f"{NS}/wl-waypoint.{NS}.svc.cluster.local", "hboneMtlsPort": 15008}
        assert f"{NS}/converted_peer_authentication_ledger-ports" in w["authorizationPolicies"]
    finally:
        c.request("PATCH", KINDS["Pod"].path(NS, ledger), body={"metadata": {"labels": {
            "istio.io/use-waypoint": None}}}, content_type="application/merge-patch+json")
        for kind, ns, name in created:
            c.request("DELETE", kind.path(ns, name))
    sb.wait_synced()


@pytest.mark.oracle
def test_a_write_reaches_the_ztunnel_through_istiod(amb_istiod):
    sb = amb_istiod
    c = KubeClient.connect(sb.kubeconfig)
    c.request("PATCH", KINDS["Service"].path(NS, "ledger"), body={"metadata": {"labels": {
        "istio.io/use-waypoint": "waypoint"}}}, content_type="application/merge-patch+json")
    try:
        _wait(lambda: "waypoint" in _by(_dump(sb)["services"], "hostname")[f"ledger.{NS}.svc.cluster.local"],
              what="the ledger Service bound to the waypoint")
    finally:
        c.request("PATCH", KINDS["Service"].path(NS, "ledger"), body={"metadata": {"labels": {
            "istio.io/use-waypoint": None}}}, content_type="application/merge-patch+json")
    _wait(lambda: "waypoint" not in _by(_dump(sb)["services"], "hostname")[f"ledger.{NS}.svc.cluster.local"],
          what="the binding removed")


@pytest.mark.oracle
def test_the_waypoint_runs_istiods_waypoint_config(amb_istiod):
    """The waypoint pod runs Envoy as a waypoint proxy (node type waypoint) with what istiod generates for it: the
    HBONE listener, the GAMMA HTTPRoute's 90/10 split for the inventory Service, the targetRefs policy; its admin is
    reachable through the pod proxy like a sidecar's."""
    sb = amb_istiod
    name = next(n for n, px in sb.sidecars.items() if px.spec.kind == "waypoint")
    px = sb.sidecars[name]
    sync = {s["proxy"]: s for s in sb.istiod.syncz()}[px.spec.proxy_id]
    for typ in ("cluster", "listener"):
        assert sync[f"{typ}_sent"] and sync[f"{typ}_sent"] == sync[f"{typ}_acked"], typ
    assert px.config_state()["listener_manager.lds.update_rejected"] == 0
    code, body = _get(sb, f"/api/v1/namespaces/{NS}/pods/{name}:15000/proxy/ready")
    assert (code, body.strip()) == (200, b"LIVE")
    code, body = _get(sb, f"/api/v1/namespaces/{NS}/pods/{name}:15000/proxy/config_dump")
    dump = json.loads(body)
    boot = next(c for c in dump["configs"] if c["@type"].endswith("BootstrapConfigDump"))["bootstrap"]
    assert boot["node"]["id"].startswith(f"waypoint~{px.spec.pod_ip}~{px.spec.proxy_id}~")
    listeners = {x["name"]: x["active_state"]["listener"]
                 for x in next(c for c in dump["configs"] if c["@type"].endswith("ListenersConfigDump"))
                 ["dynamic_listeners"]}
    assert {"connect_terminate", "main_internal"} <= set(listeners)
    assert listeners["connect_terminate"]["address"]["socket_address"]["port_value"] == 15008
    text = json.dumps(listeners["main_internal"])
    # the HTTPRoute, as istiod writes it for the waypoint (inline route config inbound-vip|9080|http|HOST)
    assert f"inbound-vip|9080|http|{INVENTORY}" in text
    assert f"outbound|9080||inventory-v1.{NS}.svc.cluster.local" in text and '"weight": 90' in text
    assert f"outbound|9080||inventory-v2.{NS}.svc.cluster.local" in text and '"weight": 10' in text
    # the targetRefs policy is enforced here (an RBAC filter naming it), not at ztunnel
    assert f"ns[{NS}]-policy[inventory-reads]" in text
    want = sb.istiod.config_dump(px.spec.proxy_id)
    want_names = {x["name"] for x in next(c for c in want["configs"] if c["@type"].endswith("ListenersConfigDump"))
                  ["dynamicListeners"]}
    assert want_names == set(listeners)
