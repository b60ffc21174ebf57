"""The sandbox runs istiod's configuration (issue 18, step 4): the oracle's ``mesh-oracle serve`` feeds a real
Envoy in every injected pod and the ingress gateway, pods have their own network namespaces and IPs, writes push,
and the built-in generator (the fallback without Go) equals istiod's output after normalising."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import oracle
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.sandbox import Sandbox, pin, seed

pytestmark = pytest.mark.oracle

ROOT = Path(__file__).resolve().parent.parent
PAYMENT = f"payment-api.{seed.NS}.svc.cluster.local"
REVIEWS = f"reviews.{seed.NS}.svc.cluster.local"


@pytest.fixture(scope="module")
def mesh():
    """A sandbox of its own (these tests change objects): istiod, or the test fails (skips without the oracle)."""
    oracle.require_oracle()
    sb = Sandbox(config="istiod").start()
    yield sb
    sb.stop()


def _routes(sc, name: str) -> dict:
    dump = json.loads(sc.admin("config_dump?resource=dynamic_route_configs"))
    return next(rc["route_config"] for rc in dump["configs"] if rc["route_config"]["name"] == name)


def _weights(sc, port: int = 8080) -> list[int]:
    vh = next(v for v in _routes(sc, str(port))["virtual_hosts"] if v["name"] == f"{PAYMENT}:{port}")
    return [c["weight"] for c in vh["routes"][0]["route"]["weighted_clusters"]["clusters"]]


def _wait(fn, timeout: float = 20.0, what: str = ""):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def test_pin_is_the_oracles():
    gomod = (ROOT / "oracle" / "go.mod").read_text()
    assert re.search(rf"^\s*istio\.io/istio {re.escape(pin.ISTIO_MODULE_VERSION)}$", gomod, re.M)
    assert pin.ISTIO_MODULE_VERSION.endswith(pin.ISTIO_COMMIT)
    assert seed.ISTIO_VERSION == pin.ISTIO_VERSION
    images = {c["image"] for o in seed.istio_control_plane() if o["kind"] == "Pod" for c in o["spec"]["containers"]}
    assert images == {f"docker.io/istio/pilot:{pin.ISTIO_VERSION}", f"docker.io/istio/proxyv2:{pin.ISTIO_VERSION}"}
    oracle.require_oracle()
    version = json.loads(subprocess.run([str(oracle.MESH_ORACLE), "version"], capture_output=True, text=True,
                                        check=True).stdout)
    assert version["version"] == pin.ISTIO_MODULE_VERSION and version["release"].startswith(pin.ISTIO_VERSION)


def test_every_sidecar_runs_istiods_config(mesh):
    """Each Envoy holds what istiod generated for its pod (compared with istiod's own view of the connected
    proxy), announces the pinned version, and reached its pods' IPs."""
    assert mesh.config_source == "istiod" and "istiod" in mesh.describe_config_source()
    injected = [p["metadata"]["name"] for a in mesh.apps if a.inject for p in a.pods]
    gateway = [n for n in mesh.sidecars if n.startswith("istio-ingressgateway-")]
    assert sorted(mesh.sidecars) == sorted(injected + gateway) and len(gateway) == 1
    sync = {s["proxy"]: s for s in mesh.istiod.syncz()}
    for name, sc in mesh.sidecars.items():
        s = sync[sc.spec.proxy_id]
        assert s["istio_version"] == pin.ISTIO_VERSION
        for typ in ("cluster", "listener", "route", "endpoint"):
            assert s[f"{typ}_sent"] == s[f"{typ}_acked"], (name, typ)
        boot = _section(json.loads(sc.admin("config_dump")), "BootstrapConfigDump")["bootstrap"]
        assert boot["node"]["metadata"]["ISTIO_VERSION"] == pin.ISTIO_VERSION
        assert boot["node"]["id"] == f"{sc.spec.kind}~{sc.spec.pod_ip}~{sc.spec.proxy_id}~{sc.spec.namespace}.svc.cluster.local"
    fe = mesh.sidecar("frontend")
    istiod_view = mesh.istiod.config_dump(fe.spec.proxy_id)
    want = next(c for c in istiod_view["configs"] if c["@type"].endswith(".RoutesConfigDump"))
    want_8080 = next(r["routeConfig"] for r in want["dynamicRouteConfigs"] if r["routeConfig"]["name"] == "8080")
    got = _routes(fe, "8080")
    assert [v["name"] for v in got["virtual_hosts"]] == [v["name"] for v in want_8080["virtualHosts"]]
    assert _weights(fe) == [c["weight"] for c in want_8080["virtualHosts"][0]["routes"][0]["route"]
                            ["weightedClusters"]["clusters"]] == list(seed.PAYMENT_WEIGHTS.values())
    # EDS: the payment-api endpoints are the pods' IPs, where their sidecars and apps really are
    clusters = json.loads(fe.admin("clusters?format=json"))
    v1 = next(c for c in clusters["cluster_statuses"] if c["name"] == f"outbound|8080|v1|{PAYMENT}")
    hosts = sorted(f"{h['address']['socket_address']['address']}:{h['address']['socket_address']['port_value']}"
                   for h in v1["host_statuses"])
    assert hosts == sorted(mesh.endpoint(p["metadata"]["name"])
                           for a in mesh.apps if a.deployment == "payment-api-v1" for p in a.pods)
    assert all(h.startswith("10.244.") for h in hosts)


def test_requests_reach_the_pods_through_both_sidecars(mesh):
    """frontend's app calls the Service; istio-init's rules hand it to the frontend sidecar, which sends mTLS to a
    payment-api pod's IP, whose sidecar checks the AuthorizationPolicy and hands it to the app."""
    assert mesh.send("frontend", 8080, "payment-api", 4, lb=0) == {200: 4}
    # payment-api-allow allows GET/POST on /api/* from frontend only: /admin is denied by payment-api's sidecar
    assert mesh.send("frontend", 8080, "payment-api", 2, lb=0, path="/admin") == {403: 2}
    # the canary answers 503 (lb picks the weighted cluster: 95 -> v2)
    assert mesh.send("frontend", 8080, "payment-api:8080", 2, lb=95) == {503: 2}


def test_strict_refuses_plaintext_until_a_write_makes_it_permissive(mesh):
    """A plaintext request to payment-api's port fails (STRICT); a PeerAuthentication applied through the API
    reaches istiod, which pushes a plaintext filter chain: the same request now reaches the sidecar's RBAC (403,
    no principal). Deleting it brings STRICT back."""
    sc = mesh.sidecar("payment-api-v1")
    url = f"http://127.0.0.1:{sc.inbound_port}/api/pay"

    def plaintext() -> int | str:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            return type(e).__name__

    assert not isinstance(plaintext(), int)
    c = KubeClient.connect(mesh.kubeconfig)
    pa = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
          "metadata": {"name": "payment-permissive", "namespace": seed.NS},
          "spec": {"selector": {"matchLabels": {"app": "payment-api"}}, "mtls": {"mode": "PERMISSIVE"}}}
    c.request("POST", KINDS["PeerAuthentication"].path(seed.NS), body=pa)
    try:
        assert _wait(lambda: plaintext() == 403, what="a plaintext chain from istiod")
    finally:
        c.request("DELETE", KINDS["PeerAuthentication"].path(seed.NS, "payment-permissive"))
    assert _wait(lambda: not isinstance(plaintext(), int), what="STRICT again")


def test_writes_push_and_a_held_proxy_keeps_its_config(mesh):
    """Sandbox.edit (another writer) changes the VirtualService; istiod pushes to every sidecar but the held one,
    which catches up when released. A DestinationRule change through the API changes the outlier detection."""
    fe, other = mesh.sidecar("frontend"), mesh.sidecars[mesh.pod_name("frontend", 1)]

    def weights(v1: int, v2: int):
        def change(vs):
            vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = v1, v2
        return change

    try:
        with mesh.hold_pushes("frontend"):
            mesh.edit("networking.istio.io", "virtualservices", seed.NS, "payment-api", weights(3, 1))
            mesh.push_routes()
            assert _weights(other) == [3, 1]       # relative weights, as istiod writes them
            assert _weights(fe) == [90, 10]
        assert _wait(lambda: _weights(fe) == [3, 1], what="the held push")
    finally:
        mesh.edit("networking.istio.io", "virtualservices", seed.NS, "payment-api", weights(90, 10))
        mesh.push_routes()
    c = KubeClient.connect(mesh.kubeconfig)
    path = KINDS["DestinationRule"].path(seed.NS, "payment-api")
    dr = c.get(KINDS["DestinationRule"], "payment-api", seed.NS)
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] = 7
    c.request("PUT", path, body=dr)

    def od() -> dict:
        dump = json.loads(fe.admin("config_dump?resource=dynamic_active_clusters"))
        return next(x["cluster"] for x in dump["configs"]
                    if x["cluster"]["name"] == f"outbound|8080|v1|{PAYMENT}")["outlier_detection"]

    assert _wait(lambda: od().get("consecutive_5xx") == 7, what="the DestinationRule push")
    dr = c.get(KINDS["DestinationRule"], "payment-api", seed.NS)
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] = 2
    c.request("PUT", path, body=dr)
    assert _wait(lambda: od().get("consecutive_5xx") == 2, what="the DestinationRule push back")


def test_sidecar_down_and_back(mesh):
    sc = mesh.sidecar("reviews-v1")
    with mesh.sidecar_down("reviews-v1"):
        with pytest.raises(OSError):
            sc.admin("ready", timeout=2)
    assert sc.admin("ready").strip() == b"LIVE" and sc.ready()


# -- the built-in generator against istiod --------------------------------------------------------------------

_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def snake(x):
    """protojson (istiod's debug dump) to Envoy's admin field names; keys that are not field names (type URLs,
    metadata namespaces) stay as they are."""
    if isinstance(x, dict):
        return {(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), k) if _CAMEL.match(k) else k)
                .replace("consecutive5xx", "consecutive_5xx"): snake(v) for k, v in x.items()}
    if isinstance(x, list):
        return [snake(v) for v in x]
    return x


def _section(dump: dict, kind: str) -> dict:
    return next(c for c in dump["configs"] if c["@type"].endswith("." + kind))


def normalise(dump: dict, app_port: int, services: tuple[str, ...], ports: tuple[int, ...] = ()) -> dict:
    """The parts of a sidecar's config the product states, for the services the generator models.

    Left out, and why:
    - version_info, last_updated, EDS/RDS/SDS config sources: istiod serves ADS, the generator watched files;
    - clusters and routes of services the generator does not model (istiod makes one per Service port of the
      mesh: frontend, legacy-batch, istiod, the ingress gateway; and it lists every HTTP service under route
      config "80" too), and the generator's endpoints (127.0.0.1 ports: its pods have no addresses);
    - upstream transport sockets: the generator's upstreams are plain app processes without sidecars, so it sends
      plaintext where istiod's auto mTLS matches tlsMode=istio endpoints;
    - the inbound cluster's type and the lb_policy that goes with it (istiod: ORIGINAL_DST, CLUSTER_PROVIDED, to
      the pod IP from 127.0.0.6; the generator: STATIC to the app's 127.0.0.1 port), and connection options of the
      passthrough clusters (idle timeout, protocol);
    - weighted_clusters.header_name: the generator's deterministic pick for Sandbox.send(lb=); istiod sets none;
    - decorators and max_grpc_timeout (tracing name; deprecated, equal to the timeout in both);
    - istio-proxy-only parts (istio.metadata_exchange filters, ALPN istio-peer-exchange): off in serve, and the
      generator never had them.
    """
    d = snake(dump)
    out: dict = {"clusters": {}, "routes": {}, "inbound": {}}
    for entry in _section(d, "ClustersConfigDump").get("dynamic_active_clusters", []):
        c = entry["cluster"]
        name = c["name"]
        parts = name.split("|")
        modelled = (name.startswith("outbound|") and parts[3].split(".")[0] in services) or \
            name in (f"inbound|{app_port}||", "BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster")
        if not modelled:
            continue
        opts = (c.get("typed_extension_protocol_options") or {}).get(
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions") or {}
        out["clusters"][name] = {
            "type": c.get("type") if name.startswith("outbound|") else None,
            "lb_policy": c.get("lb_policy") if not name.startswith("inbound|") else None,
            "alt_stat_name": c.get("alt_stat_name"),
            "outlier_detection": c.get("outlier_detection"),
            "circuit_breakers": ((c.get("circuit_breakers") or {}).get("thresholds") or [None])[0],
            "max_requests_per_connection": (opts.get("common_http_protocol_options") or {}).get(
                "max_requests_per_connection"),
            "healthy_panic_threshold": (c.get("common_lb_config") or {}).get("healthy_panic_threshold"),
            "istio_metadata": ((c.get("metadata") or {}).get("filter_metadata") or {}).get("istio"),
        }
    for entry in _section(d, "RoutesConfigDump").get("dynamic_route_configs", []):
        rc = entry["route_config"]
        vhosts = {}
        for vh in rc.get("virtual_hosts") or []:
            if vh["name"] != "allow_any" and vh["name"].split(".")[0] not in services:
                continue
            routes = []
            for r in vh.get("routes") or []:
                action = dict(r.get("route") or {})
                wc = action.pop("weighted_clusters", None)
                retry = action.get("retry_policy") or {}
                routes.append({
                    "name": r.get("name"), "match": r.get("match"),
                    "to": action.get("cluster") or [(c["name"], c["weight"]) for c in (wc or {}).get("clusters", [])],
                    "timeout": action.get("timeout"), "retry_on": retry.get("retry_on"),
                    "num_retries": retry.get("num_retries"), "per_try_timeout": retry.get("per_try_timeout"),
                    "istio_metadata": ((r.get("metadata") or {}).get("filter_metadata") or {}).get("istio"),
                })
            vhosts[vh["name"]] = {"domains": vh.get("domains"), "routes": routes}
        if rc["name"] in {str(p) for p in ports}:
            out["routes"][rc["name"]] = vhosts
    listeners = {x["name"]: (x.get("active_state") or {}).get("listener")
                 for x in _section(d, "ListenersConfigDump").get("dynamic_listeners", [])}
    inbound = listeners.get("virtualInbound") or {}
    candidates = [fc for fc in inbound.get("filter_chains") or []
                  if (fc.get("filter_chain_match") or {}).get("destination_port") in (None, app_port)]
    plaintext = any((fc.get("filter_chain_match") or {}).get("transport_protocol") in (None, "raw_buffer")
                    for fc in candidates)
    tls = [fc for fc in candidates if (fc.get("filter_chain_match") or {}).get("transport_protocol") == "tls"]
    out["inbound"][app_port] = {
        "plaintext_accepted": plaintext, "tls_chains": bool(tls),
        "client_certificate_required": bool(tls) and all(
            ((fc.get("transport_socket") or {}).get("typed_config") or {}).get("require_client_certificate")
            for fc in tls)}
    return out


def test_the_generator_equals_istiod_after_normalising():
    """For the seeded mesh, envoy.py's config for the frontend and payment-api-v1 sidecars (live, from their admin)
    equals what istiod generates for the same objects (mesh-oracle dump), after ``normalise``."""
    oracle.require_oracle()
    sb = Sandbox(config="generator").start()
    try:
        objs = [copy.deepcopy(o) for store in sb.api.store.values() for o in store.values()]
        for o in objs:
            o["metadata"].pop("resourceVersion", None)
        fe, pa = sb.sidecar("frontend"), sb.sidecar("payment-api-v1")
        ids = [fe.spec.pod + "." + seed.NS, pa.spec.pod + "." + seed.NS]
        want = oracle.dump(objs, proxies=ids)
        for sc, pid, services, ports in ((fe, ids[0], ("payment-api", "reviews"), (8080, 9080)), (pa, ids[1], (), ())):
            got = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{sc.admin_port}/config_dump",
                                                    timeout=10).read())
            g = normalise(got, sc.spec.app_port, services, ports)
            w = normalise(want[pid], sc.spec.app_port, services, ports)
            assert g["inbound"] == w["inbound"] == {sc.spec.app_port: {
                "plaintext_accepted": False, "tls_chains": True, "client_certificate_required": True}}
            assert sorted(g["clusters"]) == sorted(w["clusters"]), pid
            for name in w["clusters"]:
                assert g["clusters"][name] == w["clusters"][name], (pid, name)
            assert g["routes"] == w["routes"], pid
        # what the product reads from them, spelled out
        od = normalise(want[ids[0]], 8080, ("payment-api",))["clusters"][f"outbound|8080|v2|{PAYMENT}"]
        assert od["healthy_panic_threshold"] == {} and od["outlier_detection"]["consecutive_5xx"] == 2
        assert od["circuit_breakers"]["max_pending_requests"] == 100 and od["max_requests_per_connection"] == 10
    finally:
        sb.stop()


# -- Gateway API ---------------------------------------------------------------------------------------------------

def _through_gateway(sb, host: str, path: str) -> tuple[int, bytes]:
    """A request to the ingress gateway pod's HTTP port from the node (what a LoadBalancer would send)."""
    import http.client

    gw = sb.sidecar("istio-ingressgateway")
    sock = sb.net.node.connect(gw.spec.pod_ip, 8080)
    conn = http.client.HTTPConnection(gw.spec.pod_ip, 8080, timeout=5)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_gateway_api_routes_reach_the_sidecars_and_the_gateway(mesh):
    """The seeded HTTPRoutes go to istiod like every other object: the GAMMA route of Service frontend is in every
    sidecar's route config "80" (90/10 to frontend-v1 and the missing frontend-v2), the ingress route is on the
    istio-ingressgateway pods the Gateway's spec.addresses names, and a request through the gateway follows it."""
    pa = mesh.sidecar("payment-api-v1")
    vh = next(v for v in _routes(pa, "80")["virtual_hosts"] if v["name"] == f"frontend.{seed.NS}.svc.cluster.local:80")
    assert [(c["name"], c["weight"]) for c in vh["routes"][0]["route"]["weighted_clusters"]["clusters"]] == [
        (f"outbound|80||frontend-v1.{seed.NS}.svc.cluster.local", 90),
        (f"outbound|80||frontend-v2.{seed.NS}.svc.cluster.local", 10)]
    want = mesh.istiod.config_dump(pa.spec.proxy_id)
    rc = next(r["routeConfig"] for r in _section(want, "RoutesConfigDump")["dynamicRouteConfigs"]
              if r["routeConfig"]["name"] == "80")
    assert snake(next(v for v in rc["virtualHosts"] if v["name"] == vh["name"]))["routes"][0]["route"][
        "weighted_clusters"] == vh["routes"][0]["route"]["weighted_clusters"]
    gw = mesh.sidecar("istio-ingressgateway")
    http80 = _routes(gw, "http.8080")
    api = next(v for v in http80["virtual_hosts"] if v["name"] == "api.shop.example.com:80")
    assert [r["name"] for r in api["routes"]] == ["pay", "web"]
    assert api["routes"][0]["match"]["path_separated_prefix"] == "/pay"
    code, body = _through_gateway(mesh, "api.shop.example.com", "/")
    assert code == 200 and json.loads(body)["service"] == "frontend"
    # /pay reaches payment-api, whose sidecar refuses the gateway's identity (payment-api-allow: frontend only)
    code, body = _through_gateway(mesh, "api.shop.example.com", "/pay")
    assert code == 403 and b"RBAC" in body
    # a host the routes do not claim
    assert _through_gateway(mesh, "other.example.com", "/")[0] == 404
