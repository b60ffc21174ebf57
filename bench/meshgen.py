"""A seeded generator of Istio mesh configurations, for the fidelity bench (bench/fidelity.py).

    from bench.meshgen import generate
    objs = generate(seed=7, size=1)          # a list of Kubernetes and Istio objects (dicts)

The same (seed, size) always gives the same objects. Every configuration is one that Istio's own
validation accepts (the oracle leaves out what the validating webhook would refuse, so a refused object
would make the comparison meaningless); what varies is everything the capabilities depend on:

- namespaces with and without sidecar injection (and pods that opt out), workloads with versions, Pods
  with ``status.podIP``, owned by Deployments through ReplicaSets;
- Services with good and bad port names (``http``, ``http-api``, ``web``, ``httpx``, unnamed), appProtocol,
  numeric and named target ports, TCP ports;
- VirtualServices with matches, relative weights (totals other than 100, zero weights), mirrors
  (``mirror`` and ``mirrors``, percentages), retries (default, off, custom with status codes), timeouts,
  faults, redirects, TCP routes;
- DestinationRules with subsets, TLS modes, outlierDetection and connectionPool at host, subset and port
  level (an empty ``outlierDetection: {}`` too), root-namespace wildcard rules;
- PeerAuthentication at mesh, namespace, workload and port level (UNSET, several at one level with
  creation times, a selector policy in the root namespace that Istio ignores);
- AuthorizationPolicy ALLOW, DENY, AUDIT and CUSTOM (a known provider, an unknown one) with every
  source, operation and condition field, principals that are not SPIFFE-shaped (``allow``, ``*``,
  ``prefix*``, ``*suffix``), trustDomains/notTrustDomains with MeshConfig trustDomainAliases, dry-run;
- RequestAuthentication with inline JWKS (keys derived from a fixed scalar: see :func:`jwt_key`);
- Sidecar (egress visibility), Gateway and a gateway-bound VirtualService, ServiceEntry.

Two variants add to the base mesh, each with its own random stream (the base objects stay as generated):
:func:`gateway_api` (HTTPRoutes, GAMMA and ingress, for the gateway-api capability) and :func:`ambient`
(ambient namespaces, waypoints, targetRefs policies, for the ambient capability).

JWT issuers and their keys are fixed (``ISSUERS``): the bench mints tokens with :func:`jwt_key`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

ROOT_NS = "istio-system"
TD = "cluster.local"
ALIAS_TD = "old.td"
PROXY_IMAGE = "docker.io/istio/proxyv2:1.31.0"

#: JWT issuers the generated RequestAuthentications trust; the bench signs with jwt_key(issuer)
ISSUERS = ("https://issuer-a.test", "https://issuer-b.test")
#: an issuer no RequestAuthentication trusts (tokens from it are rejected when a filter exists)
UNKNOWN_ISSUER = "https://evil.test"
EXT_AUTHZ_PROVIDER = "ext-authz"
MISSING_PROVIDER = "no-such-authorizer"
EXT_AUTHZ_NS = "authz"

NAMESPACES = ("shop", "pay", "ops", "legacy", "edge", "data")
APPS = ("web", "api", "cart", "auth", "search", "db", "orders", "stock")
SERVICE_ACCOUNTS = ("default",)

#: (port name, service port, target port, appProtocol, container port name)
PORT_SPECS = (
    ("http", 80, 8080, None, "http"),
    ("http-api", 8080, 8080, None, "http-api"),
    ("grpc", 9090, 9090, None, "grpc"),
    ("tcp-db", 5432, 5432, None, "tcp-db"),
    ("web", 8000, 8000, None, "web"),            # no protocol prefix: Istio sniffs it
    ("httpx", 8081, 8081, None, "httpx"),        # "httpx" is not "http-...": sniffed too
    ("metrics", 9100, "metrics", None, "metrics"),  # a named targetPort
    ("app", 7070, 7070, "http", "app"),          # appProtocol decides
    ("h2", 7071, 7071, "kubernetes.io/h2c", "h2"),
    ("raw", 7072, 7072, "tcp", "raw"),
    ("mysql", 3306, 3306, None, "mysql"),         # a well-known port: TCP without a prefix
    ("https", 8443, 8443, None, "https"),
)


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_key(issuer: str):  # type: ignore[no-untyped-def]
    """The EC P-256 private key of an issuer: derived from a hash of its name, so the generator's inline
    JWKS and the bench's tokens agree without a key file."""
    from cryptography.hazmat.primitives.asymmetric import ec

    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    scalar = int.from_bytes(hashlib.sha256(b"mesh-plugin fidelity " + issuer.encode()).digest(), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def jwks(issuer: str) -> str:
    """The JWKS (JSON text) holding the issuer's public key (kid = the issuer's host)."""
    pub = jwt_key(issuer).public_key().public_numbers()
    kid = issuer.split("//", 1)[-1]
    return json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                                 "x": _b64url(pub.x.to_bytes(32, "big")), "y": _b64url(pub.y.to_bytes(32, "big"))}]},
                      separators=(",", ":"))


def mint_jwt(issuer: str, claims: dict, signer: str | None = None) -> str:
    """A compact ES256 JWT with ``claims`` (``iss`` is not added), signed with the key of ``signer``
    (default: the issuer's own key; another issuer's key gives a token whose signature fails)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = jwt_key(signer or issuer)
    head = _b64url(json.dumps({"alg": "ES256", "kid": (signer or issuer).split("//", 1)[-1], "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    der = key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{head}.{body}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def meta(name: str, ns: str | None = None, **extra: Any) -> dict:
    m: dict[str, Any] = {"name": name}
    if ns is not None:
        m["namespace"] = ns
    m.update({k: v for k, v in extra.items() if v})
    return m


def istio(api: str, kind: str, name: str, ns: str, spec: dict, **m: Any) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": meta(name, ns, **m), "spec": spec}


class App:
    """One application: a Service (maybe), its versions and pods."""

    def __init__(self, ns: str, name: str, versions: list[str], ports: list[tuple], sa: str, injected: bool,
                 extra_port: int | None) -> None:
        self.ns, self.name, self.versions, self.ports, self.sa = ns, name, versions, ports, sa
        self.injected = injected
        self.extra_port = extra_port
        self.pods: list[dict] = []

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.ns}.svc.cluster.local"

    def container_ports(self) -> list[int]:
        out = [p[2] if isinstance(p[2], int) else p[1] for p in self.ports]
        return sorted(set(out + ([self.extra_port] if self.extra_port else [])))


class Gen:
    def __init__(self, seed: int, size: int) -> None:
        self.r = random.Random(seed)
        self.seed = seed
        self.size = max(1, int(size))
        self.objs: list[dict] = []
        self.apps: list[App] = []
        self.ips = 0
        self.mesh: dict[str, Any] = {}
        self.namespaces: list[str] = []
        self.injected_ns: set[str] = set()
        self.stamp = 0

    # -- helpers ---------------------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, seq: Any) -> Any:
        return self.r.choice(list(seq))

    def some(self, seq: Any, lo: int = 1, hi: int | None = None) -> list:
        seq = list(seq)
        hi = min(len(seq), hi if hi is not None else len(seq))
        return self.r.sample(seq, self.r.randint(min(lo, hi), hi)) if seq else []

    def created(self) -> str | None:
        """A creation timestamp (sometimes none: the oracle then uses its fixed 2026-01-01, and ties are
        decided by name)."""
        if self.chance(0.3):
            return None
        self.stamp += 1
        return f"2025-0{self.r.randint(1, 9)}-{self.r.randint(10, 28)}T00:00:{self.stamp % 60:02d}Z"

    def ip(self) -> str:
        self.ips += 1
        return f"10.244.{self.ips // 200}.{self.ips % 200 + 10}"

    # -- the mesh ----------------------------------------------------------------------------------------
    def build(self) -> list[dict]:
        self.mesh_config()
        self.make_namespaces()
        self.make_apps()
        self.make_ext_authz()
        for app in self.apps:
            self.make_virtual_service(app)
            self.make_destination_rule(app)
        self.make_root_destination_rule()
        self.make_peer_authentications()
        self.make_request_authentications()
        self.make_authorization_policies()
        self.make_sidecars()
        self.make_gateway()
        self.make_service_entry()
        return self.objs

    def mesh_config(self) -> None:
        mesh: dict[str, Any] = {"rootNamespace": ROOT_NS, "trustDomain": TD}
        if self.chance(0.4):
            mesh["trustDomainAliases"] = [ALIAS_TD]
        if self.chance(0.2):
            mesh["connectTimeout"] = self.pick(["5s", "2.5s", "30s"])
        if self.chance(0.15):
            mesh["defaultHttpRetryPolicy"] = self.pick([{"attempts": 3}, {"attempts": 0},
                                                       {"attempts": 1, "retryOn": "5xx", "perTryTimeout": "1s"}])
        if self.chance(0.1):
            mesh["enableAutoMtls"] = False
        if self.chance(0.15):  # a mesh-wide baseline for clusters (DestinationRules override it per block)
            dtp: dict[str, Any] = {}
            if self.chance(0.7):
                dtp["outlierDetection"] = self.outlier()
            if self.chance(0.6) or not dtp:
                dtp["connectionPool"] = self.pool()
            mesh["defaultTrafficPolicy"] = dtp
        if self.chance(0.6):
            mesh["extensionProviders"] = [{"name": EXT_AUTHZ_PROVIDER, "envoyExtAuthzHttp": {
                "service": f"ext-authz.{EXT_AUTHZ_NS}.svc.cluster.local", "port": 8000}}]
        self.mesh = mesh
        self.objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ROOT_NS)})
        import yaml

        self.objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("istio", ROOT_NS),
                          "data": {"mesh": yaml.safe_dump(mesh, sort_keys=False)}})

    def make_namespaces(self) -> None:
        n = min(len(NAMESPACES), 1 + self.size + self.r.randint(0, 1))
        self.namespaces = self.r.sample(NAMESPACES, n)
        for i, ns in enumerate(self.namespaces):
            injected = i == 0 or self.chance(0.8)
            labels = {"istio-injection": "enabled"} if injected else {}
            if injected:
                self.injected_ns.add(ns)
            self.objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, labels=labels)})

    def make_apps(self) -> None:
        for ns in self.namespaces:
            names = self.r.sample(APPS, self.r.randint(1, min(len(APPS), 1 + self.size)))
            if ns in self.injected_ns:
                names = ["client"] + names
            for name in names:
                versions = ["v1"] if name == "client" else self.pick([["v1"], ["v1", "v2"], ["v1", "v2"], ["v1", "v2", "v3"]])
                if name == "client":
                    specs = [PORT_SPECS[0]]
                else:
                    specs = self.some(PORT_SPECS, 1, 2)
                    if len(specs) == 1 and self.chance(0.15):  # a single unnamed port: Istio sniffs it
                        s = specs[0]
                        specs = [("", s[1], s[2] if isinstance(s[2], int) else s[1], s[3], "")]
                    # two ports with one target port: keep the first
                    seen: set = set()
                    specs = [s for s in specs if not (s[2] in seen or seen.add(s[2]))]  # type: ignore[func-returns-value]
                sa = name if self.chance(0.8) else "default"
                injected = ns in self.injected_ns and not (name != "client" and self.chance(0.08))
                extra = self.pick([None, None, 9999, 15020 - 5000]) if name != "client" else None
                app = App(ns, name, versions, specs, sa, injected, extra)
                self.apps.append(app)
                self.make_pods(app)
                if name != "client" or self.chance(0.5):
                    self.make_service(app)

    def make_pods(self, app: App) -> None:
        for v in app.versions:
            rs_hash = hashlib.sha256(f"{app.ns}/{app.name}-{v}".encode()).hexdigest()[:10]
            rs_hash = "".join(c if c.isalpha() else "bcdfghjkmn"[int(c)] for c in rs_hash)
            for i in range(self.r.randint(1, 2)):
                pod_name = f"{app.name}-{v}-{rs_hash}-{i}{self.r.choice('abcdefghjk')}{self.r.choice('mnpqrstvwxz')}"
                labels = {"app": app.name, "version": v, "pod-template-hash": rs_hash}
                ports = []
                for spec in app.ports:
                    number = spec[2] if isinstance(spec[2], int) else spec[1]
                    p: dict[str, Any] = {"containerPort": number, "protocol": "TCP"}
                    if spec[4]:
                        p["name"] = spec[4]
                    ports.append(p)
                if app.extra_port:
                    ports.append({"containerPort": app.extra_port, "protocol": "TCP", "name": "extra"})
                containers = [{"name": app.name, "image": f"example/{app.name}:{v}", "ports": ports}]
                annotations: dict[str, str] = {}
                if app.injected:
                    labels.update({"security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app.name,
                                   "service.istio.io/canonical-revision": v})
                    annotations["sidecar.istio.io/status"] = json.dumps(
                        {"initContainers": ["istio-init"], "containers": ["istio-proxy"]})
                    containers.append({"name": "istio-proxy", "image": PROXY_IMAGE, "args": ["proxy", "sidecar"]})
                elif app.ns in self.injected_ns:
                    annotations["sidecar.istio.io/inject"] = "false"
                ip = self.ip()
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": meta(pod_name, app.ns, labels=labels, annotations=annotations,
                                        ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                          "name": f"{app.name}-{v}-{rs_hash}", "controller": True,
                                                          "uid": rs_hash}]),
                       "spec": {"serviceAccountName": app.sa, "nodeName": "node-1", "containers": containers},
                       "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                  "conditions": [{"type": "Ready", "status": "True"}]}}
                app.pods.append(pod)
                self.objs.append(pod)
        if app.sa != "default":
            self.objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(app.sa, app.ns)})

    def make_service(self, app: App) -> None:
        ports = []
        for name, port, target, app_proto, _ in app.ports:
            p: dict[str, Any] = {"port": port, "targetPort": target, "protocol": "TCP"}
            if name:
                p["name"] = name
            if app_proto:
                p["appProtocol"] = app_proto
            ports.append(p)
        annotations = {"networking.istio.io/exportTo": "."} if app.name != "client" and self.chance(0.06) else None
        self.objs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta(app.name, app.ns,
                                                                                annotations=annotations),
                          "spec": {"selector": {"app": app.name}, "ports": ports}})
        app.service = True  # type: ignore[attr-defined]

    def make_ext_authz(self) -> None:
        if "extensionProviders" not in self.mesh or self.chance(0.2):
            return  # a provider whose Service is missing: Istio denies what its CUSTOM rules match
        self.objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(EXT_AUTHZ_NS)})
        self.objs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("ext-authz", EXT_AUTHZ_NS),
                          "spec": {"selector": {"app": "ext-authz"},
                                   "ports": [{"name": "http", "port": 8000, "targetPort": 8000}]}})

    # -- traffic -----------------------------------------------------------------------------------------
    def services(self) -> list[App]:
        return [a for a in self.apps if getattr(a, "service", False)]

    def http_ports(self, app: App) -> list[tuple]:
        from mesh_plugin.analyzers.util import convert_protocol

        return [p for p in app.ports if convert_protocol(p[1], p[0], "TCP", p[3]) in
                ("HTTP", "HTTP2", "GRPC", "GRPC-Web", "UnsupportedProtocol")]

    def tcp_ports(self, app: App) -> list[tuple]:
        return [p for p in app.ports if p not in self.http_ports(app)]

    def host_ref(self, app: App, from_ns: str) -> str:
        if app.ns == from_ns and self.chance(0.7):
            return app.name
        return self.pick([app.fqdn, app.fqdn, f"{app.name}.{app.ns}"]) if app.ns != from_ns else app.fqdn

    def duration(self) -> str:
        return self.pick(["1s", "2s", "5s", "500ms", "1.5s", "30s", "1m", "10s"])

    def match(self, i: int) -> dict:
        m: dict[str, Any] = {}
        kind = self.pick(["uri", "uri", "headers", "method", "both", "query"])
        if kind in ("uri", "both"):
            m["uri"] = self.pick([{"prefix": "/api"}, {"exact": "/login"}, {"prefix": "/v2/"}, {"regex": "/item/[0-9]+"},
                                  {"prefix": "/"}])
        if kind in ("headers", "both"):
            m["headers"] = {self.pick(["x-user", "end-user", "x-canary"]): self.pick(
                [{"exact": "jason"}, {"prefix": "test"}, {"regex": "a.*"}])}
        if kind == "method":
            m["method"] = {"exact": self.pick(["GET", "POST"])}
        if kind == "query":
            m["queryParams"] = {"v": {"exact": "2"}}
        if self.chance(0.3):
            m["name"] = f"m{i}"
        return m

    def destinations(self, app: App, subsets: list[str], from_ns: str, port: int | None) -> list[dict]:
        n = self.pick([1, 1, 2, 2, 3]) if subsets else 1
        out = []
        pool = subsets + (["ghost"] if self.chance(0.05) else [])
        chosen = self.r.sample(pool, min(n, len(pool))) if pool else [None]
        for s in chosen:
            d: dict[str, Any] = {"host": self.host_ref(app, from_ns)}
            if s:
                d["subset"] = s
            if port is not None and (len(app.ports) > 1 or self.chance(0.3)):
                d["port"] = {"number": port}
            out.append({"destination": d})
        if len(out) > 1:
            weights = self.pick([[90, 10], [1, 3], [90, 20], [50, 50], [0, 100], [80, 30, 10], [1, 1, 1], [100, 0, 0],
                                 [33, 33, 33], [5, 0, 7]])
            weights = (weights + [self.r.randint(1, 50)] * 3)[:len(out)]
            if not sum(weights):
                weights[0] = 1
            for d, w in zip(out, weights):
                if w or self.chance(0.7):
                    d["weight"] = w
            if sum(d.get("weight", 0) for d in out) == 0:
                out[0]["weight"] = 1
        elif self.chance(0.3):
            out[0]["weight"] = self.pick([100, 50, 1])
        return out

    def make_virtual_service(self, app: App) -> None:
        if not getattr(app, "service", False) or app.name == "client" or not self.chance(0.75):
            return
        ns = app.ns if self.chance(0.85) else self.pick(self.namespaces)
        subsets = list(app.versions) if len(app.versions) > 1 or self.chance(0.3) else []
        app.vs_subsets = subsets  # type: ignore[attr-defined]
        http_ports, tcp_ports = self.http_ports(app), self.tcp_ports(app)
        spec: dict[str, Any] = {"hosts": [self.host_ref(app, ns)]}
        if http_ports:
            routes = []
            for i in range(self.pick([1, 1, 2, 3])):
                port = self.pick(http_ports)[1]
                r: dict[str, Any] = {"name": f"r{i}"}
                last = i == 0 and self.chance(0.5)
                if not last or self.chance(0.2):
                    r["match"] = [self.match(j) for j in range(self.pick([1, 1, 2]))]
                if self.chance(0.06):
                    r["redirect"] = {"uri": "/moved"}
                    routes.append(r)
                    continue
                r["route"] = self.destinations(app, subsets, ns, port)
                if self.chance(0.4):
                    r["timeout"] = self.duration()
                if self.chance(0.45):
                    rt = self.pick([{"attempts": 0}, {"attempts": 3, "perTryTimeout": "2s"},
                                    {"attempts": 5, "retryOn": "5xx,gateway-error"},
                                    {"attempts": 2, "retryOn": "connect-failure,503,504", "perTryTimeout": "500ms"},
                                    {"attempts": 1}])
                    r["retries"] = dict(rt)
                if self.chance(0.25) and subsets:
                    target = {"host": self.host_ref(app, ns), "subset": self.pick(subsets)}
                    if self.chance(0.5):
                        r["mirror"] = target
                        if self.chance(0.7):
                            r["mirrorPercentage"] = {"value": self.pick([25.0, 10.5, 100.0, 0.0, 50.0])}
                    else:
                        mirrors = [{"destination": target}]
                        if self.chance(0.6):
                            mirrors[0]["percentage"] = {"value": self.pick([5.0, 33.3, 0.0, 100.0])}
                        r["mirrors"] = mirrors
                if self.chance(0.1):
                    r["fault"] = {"abort": {"httpStatus": 503, "percentage": {"value": 1.0}}}
                routes.append(r)
            # routes after a catch-all are never reached: Istio stops there
            spec["http"] = routes
        if tcp_ports and self.chance(0.6):
            port = self.pick(tcp_ports)[1]
            spec["tcp"] = [{"match": [{"port": port}], "route": self.destinations(app, subsets, ns, port)}]
        if "http" not in spec and "tcp" not in spec:
            return
        if self.chance(0.1):
            spec["exportTo"] = ["."]  # only clients of its own namespace use it; the others get the default route
        self.objs.append(istio("networking.istio.io/v1", "VirtualService", f"{app.name}-{app.ns}", ns, spec,
                               creationTimestamp=self.created()))

    def outlier(self) -> dict:
        if self.chance(0.1):
            return {}
        od: dict[str, Any] = {}
        for field, values, p in (("consecutive5xxErrors", [0, 1, 3, 5, 10], 0.6),
                                 ("consecutiveGatewayErrors", [0, 2, 5], 0.3),
                                 ("interval", ["5s", "10s", "1m", "30s", "500ms"], 0.5),
                                 ("baseEjectionTime", ["30s", "1m", "15s"], 0.4),
                                 ("maxEjectionPercent", [0, 10, 50, 100], 0.4),
                                 ("minHealthPercent", [0, 30, 50, 80], 0.3)):
            if self.chance(p):
                od[field] = self.pick(values)
        if self.chance(0.05):
            od["consecutiveErrors"] = self.pick([2, 7])  # deprecated: Istio ignores it (a validation warning)
        if self.chance(0.15):
            od["splitExternalLocalOriginErrors"] = True
            if self.chance(0.7):
                od["consecutiveLocalOriginFailures"] = self.pick([0, 3, 7])
        return od

    def pool(self) -> dict:
        cp: dict[str, Any] = {}
        if self.chance(0.6):
            tcp: dict[str, Any] = {}
            if self.chance(0.6):
                tcp["maxConnections"] = self.pick([1, 10, 100, 1000])
            if self.chance(0.4):
                tcp["connectTimeout"] = self.pick(["1s", "250ms", "3s"])
            if self.chance(0.3):
                tcp["idleTimeout"] = self.pick(["30s", "5m"])
            if self.chance(0.15):
                tcp["maxConnectionDuration"] = "1h"
            cp["tcp"] = tcp
        if self.chance(0.6):
            http: dict[str, Any] = {}
            for field, values, p in (("http1MaxPendingRequests", [1, 10, 1024], 0.5),
                                     ("http2MaxRequests", [10, 100, 1000], 0.5),
                                     ("maxRequestsPerConnection", [1, 10, 0], 0.3),
                                     ("maxRetries", [0, 3, 10], 0.3),
                                     ("idleTimeout", ["10s", "2m"], 0.3)):
                if self.chance(p):
                    http[field] = self.pick(values)
            cp["http"] = http
        if not cp:  # Istio's validation wants tcp or http
            cp["tcp"] = {"maxConnections": self.pick([5, 50])}
        return cp

    def traffic_policy(self, ports: list[int], depth: int = 0) -> dict:
        tp: dict[str, Any] = {}
        if self.chance(0.5):
            tp["connectionPool"] = self.pool()
        if self.chance(0.55):
            tp["outlierDetection"] = self.outlier()
        if self.chance(0.25):
            tp["tls"] = {"mode": self.pick(["ISTIO_MUTUAL", "DISABLE", "SIMPLE", "ISTIO_MUTUAL"])}
        if self.chance(0.15):
            tp["loadBalancer"] = {"simple": self.pick(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"])}
        if depth == 0 and ports and self.chance(0.35):
            pls = []
            for port in self.some(ports, 1, 2):
                p: dict[str, Any] = {"port": {"number": port}}
                if self.chance(0.6):
                    p["connectionPool"] = self.pool()
                if self.chance(0.6):
                    p["outlierDetection"] = self.outlier()
                if self.chance(0.2):
                    p["tls"] = {"mode": self.pick(["DISABLE", "ISTIO_MUTUAL"])}
                if len(p) == 1:
                    p["loadBalancer"] = {"simple": "RANDOM"}
                pls.append(p)
            tp["portLevelSettings"] = pls
        return tp

    def make_destination_rule(self, app: App) -> None:
        if not getattr(app, "service", False) or app.name == "client":
            return
        subsets = getattr(app, "vs_subsets", None)
        if not subsets and not self.chance(0.5):
            return
        ports = [p[1] for p in app.ports]
        spec: dict[str, Any] = {"host": app.name if self.chance(0.7) else app.fqdn}
        tp = self.traffic_policy(ports)
        if tp:
            spec["trafficPolicy"] = tp
        if subsets or self.chance(0.3):
            subs = []
            for v in app.versions:
                s: dict[str, Any] = {"name": v, "labels": {"version": v}}
                if self.chance(0.35):
                    stp = self.traffic_policy(ports, 1)
                    if self.chance(0.35):
                        pls = {"port": {"number": self.pick(ports)}}
                        if self.chance(0.7):
                            pls["outlierDetection"] = self.outlier()
                        if self.chance(0.5):
                            pls["connectionPool"] = self.pool()
                        if len(pls) == 1:
                            pls["loadBalancer"] = {"simple": "LEAST_REQUEST"}
                        stp["portLevelSettings"] = [pls]
                    if stp:
                        s["trafficPolicy"] = stp
                subs.append(s)
            spec["subsets"] = subs
        self.objs.append(istio("networking.istio.io/v1", "DestinationRule", app.name, app.ns, spec,
                               creationTimestamp=self.created()))

    def make_root_destination_rule(self) -> None:
        if not self.chance(0.25):
            return
        ns = self.pick(self.namespaces)
        host = self.pick(["*.local", f"*.{ns}.svc.cluster.local"])
        tp: dict[str, Any] = {}
        if self.chance(0.7):
            tp["outlierDetection"] = self.outlier()
        if self.chance(0.5):
            tp["connectionPool"] = self.pool()
        if self.chance(0.3):
            tp["tls"] = {"mode": "ISTIO_MUTUAL"}
        if tp:
            self.objs.append(istio("networking.istio.io/v1", "DestinationRule", "mesh-default", ROOT_NS,
                                   {"host": host, "trafficPolicy": tp}))

    # -- security ----------------------------------------------------------------------------------------
    def mode(self) -> str | None:
        return self.pick(["STRICT", "STRICT", "PERMISSIVE", "DISABLE", "UNSET", None])

    def pa(self, name: str, ns: str, selector: dict | None, port_modes: dict | None) -> None:
        spec: dict[str, Any] = {}
        if selector:
            spec["selector"] = {"matchLabels": selector}
        m = self.mode()
        if m is not None:
            spec["mtls"] = {"mode": m}
        if port_modes:
            spec["portLevelMtls"] = {p: {"mode": mm} for p, mm in port_modes.items()}
        self.objs.append(istio("security.istio.io/v1", "PeerAuthentication", name, ns, spec,
                               creationTimestamp=self.created()))

    def make_peer_authentications(self) -> None:
        if self.chance(0.6):
            self.pa("default", ROOT_NS, None, None)
        if self.chance(0.1):
            self.pa("zz-mesh", ROOT_NS, None, None)
        if self.chance(0.15):  # a selector policy in the root namespace: ignored by Istio
            self.pa("root-selector", ROOT_NS, {"app": self.pick(APPS)}, None)
        for ns in self.namespaces:
            if self.chance(0.5):
                self.pa("default", ns, None, None)
            if self.chance(0.1):
                self.pa("another", ns, None, None)
        for app in self.apps:
            if not self.chance(0.35):
                continue
            sel = {"app": app.name}
            if len(app.versions) > 1 and self.chance(0.3):
                sel["version"] = self.pick(app.versions)
            ports = None
            if self.chance(0.6):
                ports = {p: self.pick(["STRICT", "PERMISSIVE", "DISABLE", "UNSET"])
                         for p in self.some(app.container_ports() + [12345], 1, 2)}
            self.pa(f"{app.name}-mtls", app.ns, sel, ports)
            if self.chance(0.1):
                self.pa(f"{app.name}-mtls-2", app.ns, sel, None)

    def make_request_authentications(self) -> None:
        if self.chance(0.15):  # mesh-wide: applies to every workload, with the namespace's own (several providers)
            iss = self.pick(ISSUERS)
            rule: dict[str, Any] = {"issuer": iss, "jwks": jwks(iss)}
            if self.chance(0.5):
                rule["audiences"] = ["api"]
            self.objs.append(istio("security.istio.io/v1", "RequestAuthentication", "mesh-jwt", ROOT_NS,
                                   {"jwtRules": [rule]}))
        for ns in self.namespaces:
            if not self.chance(0.4):
                continue
            apps = [a for a in self.apps if a.ns == ns and a.name != "client"]
            rules = []
            for iss in self.some(ISSUERS, 1, 2):
                rule: dict[str, Any] = {"issuer": iss, "jwks": jwks(iss)}
                if self.chance(0.4):
                    rule["audiences"] = self.some(["shop", "api", "internal"], 1, 2)
                if self.chance(0.15):
                    rule["forwardOriginalToken"] = True
                if self.chance(0.1):
                    rule["outputPayloadToHeader"] = "x-jwt-payload"
                if self.chance(0.1):
                    rule["outputClaimToHeaders"] = [{"header": "x-sub", "claim": "sub"}]
                if self.chance(0.15):
                    rule["spaceDelimitedClaims"] = ["roles"]
                if self.chance(0.12):  # where the token is read: then only there (Envoy's default otherwise)
                    rule["fromHeaders"] = [{"name": "x-jwt-assertion"}]
                if self.chance(0.08):
                    rule["fromParams"] = ["token"]
                if self.chance(0.05):
                    rule["fromCookies"] = ["session"]
                if self.chance(0.05):
                    rule["timeout"] = "3s"
                rules.append(rule)
            spec: dict[str, Any] = {"jwtRules": rules}
            if apps and self.chance(0.5):
                spec["selector"] = {"matchLabels": {"app": self.pick(apps).name}}
            self.objs.append(istio("security.istio.io/v1", "RequestAuthentication", f"jwt-{len(self.objs)}", ns,
                                   spec))

    # values that exercise Istio's string matching: exact, prefix*, *suffix, *, and not SPIFFE-shaped ones
    def principal_values(self) -> list[str]:
        pool = []
        for app in self.apps:
            pool.append(f"{TD}/ns/{app.ns}/sa/{app.sa}")
        pool += [f"{TD}/ns/{self.pick(self.namespaces)}/*", f"*/sa/{self.pick(self.apps).sa}", "*", "allow",
                 f"{ALIAS_TD}/ns/{self.pick(self.namespaces)}/sa/client", "*client", "cluster.local/*",
                 f"{TD}/ns/other/sa/ghost", "spiffe-less", "*/ns/shop/sa/client"]
        return self.some(pool, 1, 3)

    def namespace_values(self) -> list[str]:
        pool = list(self.namespaces) + ["*", "sh*", "*op", "other", "p*"]
        return self.some(pool, 1, 2)

    def request_principal_values(self) -> list[str]:
        pool = ["*", f"{ISSUERS[0]}/*", f"{ISSUERS[0]}/alice", f"{ISSUERS[1]}/bob", "*/alice", f"{ISSUERS[1]}*",
                f"{UNKNOWN_ISSUER}/*", "https://issuer-a.test/ali*"]
        return self.some(pool, 1, 2)

    def ip_values(self) -> list[str]:
        return self.some(["127.0.0.1", "127.0.0.0/8", "10.0.0.0/8", "192.168.7.7", "10.244.0.0/16", "::1/128"], 1, 2)

    def source(self, custom: bool) -> dict:
        src: dict[str, Any] = {}
        fields = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"]
        if not custom:
            fields += ["principals", "principals", "notPrincipals", "namespaces", "notNamespaces",
                       "requestPrincipals", "requestPrincipals", "notRequestPrincipals", "trustDomains",
                       "notTrustDomains", "serviceAccounts", "notServiceAccounts"]
        for f in self.some(fields, 1, 2):
            if f in ("principals", "notPrincipals"):
                src[f] = self.principal_values()
            elif f in ("namespaces", "notNamespaces"):
                src[f] = self.namespace_values()
            elif f in ("requestPrincipals", "notRequestPrincipals"):
                src[f] = self.request_principal_values()
            elif f in ("trustDomains", "notTrustDomains"):
                src[f] = self.some([TD, ALIAS_TD, "*", "clu*", "*.td", "other.td"], 1, 2)
            elif f in ("serviceAccounts", "notServiceAccounts"):
                app = self.pick(self.apps)
                src[f] = self.some([f"{app.ns}/{app.sa}", app.sa, "client", f"{self.pick(self.namespaces)}/client"], 1, 2)
            else:
                src[f] = self.ip_values()
        if (src.keys() & {"serviceAccounts", "notServiceAccounts"}) and (
                src.keys() & {"principals", "notPrincipals", "namespaces", "notNamespaces"}):
            for k in ("serviceAccounts", "notServiceAccounts"):
                src.pop(k, None)
        return src

    def operation(self, app: App | None) -> dict:
        op: dict[str, Any] = {}
        ports = [str(p) for p in (app.container_ports() if app else [8080, 80, 5432])]
        for f in self.some(["paths", "paths", "methods", "methods", "hosts", "ports", "notPaths", "notMethods",
                            "notHosts", "notPorts"], 1, 2):
            if f in ("paths", "notPaths"):
                op[f] = self.some(["/api/*", "/admin", "*/info", "/users/{*}/profile", "/files/{**}", "*",
                                   "/login", "/api/v1/items", "/health*", "/files/{**}/raw"], 1, 2)
            elif f in ("methods", "notMethods"):
                op[f] = self.some(["GET", "POST", "DELETE", "PUT", "get", "G*", "*"], 1, 2)
            elif f in ("hosts", "notHosts"):
                name = app.name if app else "web"
                op[f] = self.some([name, f"{name}:*", f"{name}.{app.ns if app else 'shop'}.svc.cluster.local",
                                   "*.example.com", "API.example.com", "*", f"{name.upper()}*"], 1, 2)
            else:
                op[f] = self.some(ports + ["9999"], 1, 2)
        return op

    def condition(self, custom: bool) -> dict:
        keys = ["request.headers[x-user]", "request.headers[x-env]", "source.ip", "remote.ip", "destination.port"]
        if not custom:
            keys += ["source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences",
                     "request.auth.presenter", "request.auth.claims[groups]", "request.auth.claims[org][team]",
                     "request.auth.claims[roles]", "source.serviceAccount", "source.trustDomain"]
        key = self.pick(keys)
        values = {
            "request.headers[x-user]": ["alice", "bob", "a*", "*"],
            "request.headers[x-env]": ["prod", "dev", "*-test"],
            "source.ip": ["127.0.0.1", "10.0.0.0/8", "127.0.0.0/24"],
            "remote.ip": ["127.0.0.1", "203.0.113.0/24", "198.51.100.7"],
            "destination.port": [str(p[2]) for p in PORT_SPECS if isinstance(p[2], int)][:5] + ["9100"],
            "source.namespace": list(self.namespaces) + ["*", "o*"],
            "source.principal": [f"{TD}/ns/{self.pick(self.namespaces)}/sa/client", "*", "allow", "*client"],
            "request.auth.principal": [f"{ISSUERS[0]}/alice", f"{ISSUERS[1]}/*", "*"],
            "request.auth.audiences": ["shop", "api", "*"],
            "request.auth.presenter": ["frontend", "mobile*"],
            "request.auth.claims[groups]": ["admins", "users", "dev*"],
            "request.auth.claims[org][team]": ["red", "blue"],
            "request.auth.claims[roles]": ["reader", "writer"],
            "source.serviceAccount": [f"{self.pick(self.namespaces)}/client", "client"],
            "source.trustDomain": [TD, ALIAS_TD, "*", "old*"],
        }[key]
        c: dict[str, Any] = {"key": key}
        if self.chance(0.7):
            c["values"] = self.some(values, 1, 2)
        else:
            c["notValues"] = self.some(values, 1, 2)
        return c

    def rule(self, app: App | None, custom: bool) -> dict:
        r: dict[str, Any] = {}
        if self.chance(0.6):
            r["from"] = [{"source": self.source(custom)} for _ in range(self.pick([1, 1, 2]))]
        if self.chance(0.6):
            r["to"] = [{"operation": self.operation(app)} for _ in range(self.pick([1, 1, 2]))]
        if self.chance(0.35):
            r["when"] = [self.condition(custom) for _ in range(self.pick([1, 1, 2]))]
        return r

    def make_authorization_policies(self) -> None:
        scopes: list[tuple[str, App | None]] = [(ns, None) for ns in self.namespaces]
        scopes += [(a.ns, a) for a in self.apps if a.name != "client"]
        n = self.r.randint(1, 2 + self.size * 2)
        for i in range(n):
            if self.chance(0.1):
                ns, app = ROOT_NS, None
                if self.chance(0.4):  # a root-namespace policy with a selector applies in every namespace
                    app = self.pick([a for a in self.apps if a.name != "client"] or self.apps)
            else:
                ns, app = self.pick(scopes)
            action = self.pick(["ALLOW", "ALLOW", "ALLOW", "DENY", "DENY", "AUDIT", "CUSTOM"])
            custom = action == "CUSTOM"
            spec: dict[str, Any] = {}
            if action != "ALLOW" or self.chance(0.5):
                spec["action"] = action
            if custom:
                spec["provider"] = {"name": EXT_AUTHZ_PROVIDER if self.chance(0.75) else MISSING_PROVIDER}
            if app is not None:
                spec["selector"] = {"matchLabels": {"app": app.name}}
            kind = self.r.random()
            if kind < 0.05 and action == "ALLOW":
                pass  # no rules: matches nothing (denies everything on the workload)
            elif kind < 0.12:
                spec["rules"] = [{}]  # one empty rule: matches everything
            else:
                spec["rules"] = [self.rule(app, custom) for _ in range(self.pick([1, 1, 2, 3]))]
            ann = {"istio.io/dry-run": "true"} if action in ("ALLOW", "DENY") and self.chance(0.08) else None
            self.objs.append(istio("security.istio.io/v1", "AuthorizationPolicy", f"{action.lower()}-{i}", ns,
                                   spec, annotations=ann, creationTimestamp=self.created()))

    # -- visibility and edges ----------------------------------------------------------------------------
    def make_sidecars(self) -> None:
        for ns in self.namespaces:
            if ns not in self.injected_ns or not self.chance(0.2):
                continue
            hosts = ["./*", f"{ROOT_NS}/*"]
            others = [n for n in self.namespaces if n != ns]
            if others and self.chance(0.6):
                hosts.append(f"{self.pick(others)}/*")
            if self.chance(0.3):
                hosts = ["./*"]
            self.objs.append(istio("networking.istio.io/v1", "Sidecar", "default", ns,
                                   {"egress": [{"hosts": hosts}]}))
        for ns in self.namespaces:  # a workload's own Sidecar (workloadSelector) beats its namespace's
            if ns in self.injected_ns and self.chance(0.08):
                self.objs.append(istio("networking.istio.io/v1", "Sidecar", "client-only", ns, {
                    "workloadSelector": {"labels": {"app": "client"}},
                    "egress": [{"hosts": self.pick([["./*"], ["./*", f"{ROOT_NS}/*"], ["*/*"]])}]}))

    def make_gateway(self) -> None:
        if not self.chance(0.3):
            return
        web = [a for a in self.services() if a.name != "client" and self.http_ports(a)]
        if not web:
            return
        app = self.pick(web)
        if self.chance(0.7):  # the ingress gateway's pod: a router proxy the oracle dumps too
            ip = self.ip()
            self.objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta(
                "istio-ingressgateway-7d4f8-gw1", ROOT_NS,
                labels={"istio": "ingressgateway", "app": "istio-ingressgateway"},
                annotations={"sidecar.istio.io/inject": "false"}),
                "spec": {"serviceAccountName": "istio-ingressgateway", "nodeName": "node-1", "containers": [
                    {"name": "istio-proxy", "image": PROXY_IMAGE, "args": ["proxy", "router"],
                     "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                           "conditions": [{"type": "Ready", "status": "True"}]}})
            self.objs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("istio-ingressgateway", ROOT_NS),
                              "spec": {"selector": {"istio": "ingressgateway"},
                                       "ports": [{"name": "http2", "port": 80, "targetPort": 8080}]}})
        self.objs.append(istio("networking.istio.io/v1", "Gateway", "public", app.ns, {
            "selector": {"istio": "ingressgateway"},
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"]}]}))
        self.objs.append(istio("networking.istio.io/v1", "VirtualService", "public", app.ns, {
            "hosts": ["shop.example.com"], "gateways": ["public"],
            "http": [{"name": "edge", "route": [{"destination": {"host": app.name,
                                                                 "port": {"number": self.http_ports(app)[0][1]}}}]}]}))

    def make_service_entry(self) -> None:
        if not self.chance(0.3):
            return
        ns = self.pick(self.namespaces)
        self.objs.append(istio("networking.istio.io/v1", "ServiceEntry", "payments-api", ns, {
            "hosts": ["api.payments.example"], "location": "MESH_EXTERNAL", "resolution": "DNS",
            "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}))


# -- variants: the base mesh plus Gateway API routing, or plus ambient ------------------------------------------
def _http_service_ports(svc: dict) -> list[int]:
    from mesh_plugin.analyzers.util import convert_protocol

    return [int(p["port"]) for p in svc["spec"]["ports"] if convert_protocol(
        p["port"], p.get("name") or "", "TCP", p.get("appProtocol")) in ("HTTP", "HTTP2", "GRPC", "GRPC-Web")]


def _app_services(objs: list[dict]) -> list[dict]:
    """The generated applications' Services (not the root, ext-authz or gateway ones)."""
    return [o for o in objs if o["kind"] == "Service" and o["metadata"]["namespace"] not in (ROOT_NS, EXT_AUTHZ_NS)
            and "app" in (o["spec"].get("selector") or {})]


def gateway_api(seed: int, base: list[dict]) -> list[dict]:
    """The base mesh plus Gateway API routing (its own random stream: the base mesh is unchanged): HTTPRoutes with
    GAMMA parentRefs (a Service; producer routes in its namespace and consumer routes in a client's), an ingress
    Gateway (class istio, with its pod and Service) and routes bound to it, matches on path, headers and method,
    relative weights (0 and missing ones too), a Service per version, backends in other namespaces with and
    without a ReferenceGrant, backends that do not exist, timeouts, retries and RequestMirror filters. The
    mesh-bound VirtualServices of the hosts the routes take are removed (a host is routed by one or the other)."""
    r = random.Random(f"{seed}-gateway-api")
    objs = [o for o in base]
    svcs = [s for s in _app_services(base) if _http_service_ports(s) and s["metadata"]["name"] != "client"]
    if not svcs:
        return objs
    pods = [o for o in base if o["kind"] == "Pod"]
    namespaces = sorted({o["metadata"]["name"] for o in base if o["kind"] == "Namespace"} - {ROOT_NS, EXT_AUTHZ_NS})
    added: list[dict] = []
    # a Service per version (the backends of the splits)
    versions: dict[tuple[str, str], list[str]] = {}
    for s in svcs:
        ns, name = s["metadata"]["namespace"], s["metadata"]["name"]
        vs = sorted({p["metadata"]["labels"].get("version") for p in pods if p["metadata"]["namespace"] == ns
                     and p["metadata"]["labels"].get("app") == name} - {None})
        versions[(ns, name)] = vs
        for v in vs:
            added.append({"apiVersion": "v1", "kind": "Service", "metadata": meta(f"{name}-{v}", ns),
                          "spec": {"selector": {"app": name, "version": v}, "ports": [
                              {k: v2 for k, v2 in p.items()} for p in s["spec"]["ports"]]}})

    def backend(route_ns: str, svc: dict, grants: list) -> dict:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        port = r.choice(_http_service_ports(svc))
        choice = r.random()
        vs = versions.get((ns, name)) or []
        if choice < 0.08:
            b: dict[str, Any] = {"name": f"{name}-missing", "port": port}  # no such Service
        elif choice < 0.6 and vs:
            b = {"name": f"{name}-{r.choice(vs)}", "port": port}
        else:
            b = {"name": name, "port": port}
        if ns != route_ns:
            b["namespace"] = ns
            if r.random() < 0.6:
                grants.append((route_ns, ns))
        w = r.random()
        if w < 0.15:
            b["weight"] = 0
        elif w < 0.7:
            b["weight"] = r.choice([1, 2, 5, 10, 30, 50, 70, 90, 100])
        return b

    def match() -> dict:
        m: dict[str, Any] = {}
        k = r.random()
        if k < 0.35:
            m["path"] = {"type": "PathPrefix", "value": r.choice(["/api", "/v2", "/static/"])}
        elif k < 0.5:
            m["path"] = {"type": "Exact", "value": r.choice(["/login", "/health"])}
        elif k < 0.6:
            m["path"] = {"type": "RegularExpression", "value": r.choice(["/items/[0-9]+", "/u/.*"])}
        if r.random() < 0.3:
            m["headers"] = [{"name": r.choice(["x-user", "x-canary"]), "value": r.choice(["alice", "true"])}]
        if r.random() < 0.2:
            m["method"] = r.choice(["GET", "POST"])
        return m

    def rules(route_ns: str, targets: list[dict], grants: list) -> list[dict]:
        out = []
        for i in range(r.choice([1, 1, 2, 3])):
            rule: dict[str, Any] = {}
            if i < 2 and r.random() < 0.6:
                rule["matches"] = [m for m in (match() for _ in range(r.choice([1, 1, 2]))) if m] or [
                    {"path": {"type": "PathPrefix", "value": "/x"}}]
            rule["backendRefs"] = [backend(route_ns, r.choice(targets), grants) for _ in range(r.choice([1, 2, 2, 3]))]
            if r.random() < 0.25:
                rule["timeouts"] = {"request": r.choice(["5s", "500ms", "1m"])}
                if r.random() < 0.4:
                    rule["timeouts"]["backendRequest"] = r.choice(["1s", "250ms"])
            if r.random() < 0.2:
                retry: dict[str, Any] = {"attempts": r.choice([0, 1, 3])}
                if r.random() < 0.5:
                    retry["codes"] = r.sample([500, 502, 503, 504], 2)
                if r.random() < 0.3:
                    retry["backoff"] = "100ms"
                rule["retry"] = retry
            if r.random() < 0.2:
                t = r.choice(targets)
                mirror: dict[str, Any] = {"backendRef": {"name": t["metadata"]["name"],
                                                         "port": r.choice(_http_service_ports(t))}}
                if t["metadata"]["namespace"] != route_ns:
                    mirror["backendRef"]["namespace"] = t["metadata"]["namespace"]
                    grants.append((route_ns, t["metadata"]["namespace"]))
                if r.random() < 0.3:
                    mirror["percent"] = r.choice([10, 50])
                rule["filters"] = [{"type": "RequestMirror", "requestMirror": mirror}]
            out.append(rule)
        return out

    grants: list[tuple[str, str]] = []
    routed: set[str] = set()
    for i, s in enumerate(r.sample(svcs, min(len(svcs), r.randint(1, 3)))):
        ns, name = s["metadata"]["namespace"], s["metadata"]["name"]
        route_ns = ns if r.random() < 0.75 else r.choice(namespaces)  # a consumer route: for its namespace's clients
        parent: dict[str, Any] = {"group": "", "kind": "Service", "name": name}
        if route_ns != ns:
            parent["namespace"] = ns
        if r.random() < 0.3:
            parent["port"] = r.choice(_http_service_ports(s))
        same = [t for t in svcs if t["metadata"]["namespace"] == ns]
        targets = [s] * 3 + r.sample(svcs, min(2, len(svcs))) + same
        added.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                      "metadata": meta(f"{name}-mesh-{i}", route_ns),
                      "spec": {"parentRefs": [parent], "rules": rules(route_ns, targets, grants)}})
        routed.add(f"{name}.{ns}.svc.cluster.local")
    if r.random() < 0.6:  # an ingress Gateway (class istio) with its pod and Service, and routes bound to it
        gw_ns = r.choice(namespaces)
        listeners = [{"name": "http", "port": 80, "protocol": "HTTP",
                      "allowedRoutes": {"namespaces": {"from": r.choice(["All", "All", "Same"])}}}]
        if r.random() < 0.5:
            listeners[0]["hostname"] = "*.example.com"
        added.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": meta("edge", gw_ns),
                      "spec": {"gatewayClassName": "istio", "listeners": listeners}})
        labels = {"gateway.networking.k8s.io/gateway-name": "edge", "service.istio.io/canonical-name": "edge-istio"}
        ip = f"10.250.{seed % 200}.{r.randint(10, 250)}"
        added.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("edge-istio-1", gw_ns, labels=labels),
                      "spec": {"serviceAccountName": "edge-istio", "nodeName": "node-1", "containers": [
                          {"name": "istio-proxy", "image": PROXY_IMAGE, "args": ["proxy", "router"],
                           "ports": [{"containerPort": 80}]}]},
                      "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
        added.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("edge-istio", gw_ns),
                      "spec": {"selector": {"gateway.networking.k8s.io/gateway-name": "edge"},
                               "ports": [{"name": "p80", "port": 80, "targetPort": 80}]}})
        for j in range(r.randint(1, 2)):
            route_ns = gw_ns if r.random() < 0.6 else r.choice(namespaces)
            parent = {"name": "edge", **({"namespace": gw_ns} if route_ns != gw_ns else {})}
            spec: dict[str, Any] = {"parentRefs": [parent], "rules": rules(route_ns, svcs, grants)}
            if r.random() < 0.8:
                spec["hostnames"] = [r.choice(["shop.example.com", "api.example.com", "shop.other.test"])]
            added.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                          "metadata": meta(f"edge-{j}", route_ns), "spec": spec})
    for k, (frm, to) in enumerate(sorted(set(grants))):
        added.append({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                      "metadata": meta(f"from-{frm}", to), "spec": {
                          "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": frm}],
                          "to": [{"group": "", "kind": "Service"}]}})

    def vs_hosts(vs: dict) -> set[str]:
        ns = vs["metadata"]["namespace"]
        return {h if h.count(".") >= 2 else (f"{h}.{ns}.svc.cluster.local" if "." not in h else
                                             f"{h}.svc.cluster.local") for h in vs["spec"].get("hosts") or []}

    objs = [o for o in objs if not (o["kind"] == "VirtualService" and "mesh" in (o["spec"].get("gateways") or ["mesh"])
                                    and vs_hosts(o) & routed)]
    return objs + added


AMBIENT = "istio.io/dataplane-mode"
REDIRECTION = "ambient.istio.io/redirection"


def ambient(seed: int, base: list[dict]) -> list[dict]:
    """The base mesh plus ambient (its own random stream): ambient namespaces (istio.io/dataplane-mode=ambient;
    their pods without a sidecar captured, ambient.istio.io/redirection=enabled, some opted out with
    dataplane-mode=none, a few labelled but not captured; injected pods keep their sidecar), a ztunnel pod,
    waypoints (Gateways of class istio-waypoint with a status address, for service, workload, all or none) and
    istio.io/use-waypoint on namespaces, Services and pods (also "none", a missing one, another namespace's),
    PeerAuthentications at every level (the base mesh's and more), and AuthorizationPolicies bound by
    targetRefs to a Service or a waypoint, beside the base mesh's selector and namespace ones (L4 and L7 fields,
    ALLOW/DENY/AUDIT/CUSTOM, dry-run)."""
    import copy

    r = random.Random(f"{seed}-ambient")
    objs = copy.deepcopy(base)
    nss = [o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] not in (ROOT_NS, EXT_AUTHZ_NS)]
    amb = [n for n in nss if r.random() < 0.7] or nss[:1]
    amb_names = {n["metadata"]["name"] for n in amb}
    for n in amb:
        n["metadata"].setdefault("labels", {})[AMBIENT] = "ambient"
        if r.random() < 0.4:
            n["metadata"]["labels"].pop("istio-injection", None)
    added: list[dict] = []
    ip = 0

    def new_ip() -> str:
        nonlocal ip
        ip += 1
        return f"10.251.{seed % 200}.{ip + 10}"

    added.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("ztunnel-z1", ROOT_NS, labels={
        "app": "ztunnel", "app.kubernetes.io/name": "ztunnel", AMBIENT: "none", "sidecar.istio.io/inject": "false"},
        ownerReferences=[{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ztunnel", "controller": True,
                          "uid": "z"}]),
        "spec": {"serviceAccountName": "ztunnel", "nodeName": "node-1",
                 "containers": [{"name": "istio-proxy", "image": "docker.io/istio/ztunnel:1.31.0"}]},
        "status": {"phase": "Running", "podIP": (zip_ := new_ip()), "podIPs": [{"ip": zip_}],
                   "conditions": [{"type": "Ready", "status": "True"}]}})
    # waypoints
    wps: list[tuple[str, str]] = []
    for n in amb:
        if r.random() < 0.6:
            ns = n["metadata"]["name"]
            name = r.choice(["waypoint", "waypoint", "wp-b"])
            labels = {}
            if r.random() < 0.4:
                labels["istio.io/waypoint-for"] = r.choice(["service", "workload", "all", "none"])
            gw: dict[str, Any] = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                                  "metadata": meta(name, ns, labels=labels),
                                  "spec": {"gatewayClassName": "istio-waypoint", "listeners": [
                                      {"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}
            if r.random() < 0.3:
                gw["spec"]["listeners"][0]["allowedRoutes"] = {"namespaces": {"from": "All"}}
            if r.random() < 0.9:
                gw["status"] = {"addresses": [{"type": "Hostname", "value": f"{name}.{ns}.svc.cluster.local"}]}
            added.append(gw)
            wps.append((ns, name))
    if amb and r.random() < 0.5:
        added.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                      "metadata": meta("istio-waypoint"), "spec": {"controllerName": "istio.io/mesh-controller"}})

    def use_waypoint(labels: dict, ns: str) -> None:
        k = r.random()
        if k < 0.1:
            labels["istio.io/use-waypoint"] = "none"
        elif k < 0.2:
            labels["istio.io/use-waypoint"] = "gone"
        elif wps:
            wns, wname = r.choice(wps)
            labels["istio.io/use-waypoint"] = wname
            if wns != ns:
                labels["istio.io/use-waypoint-namespace"] = wns

    for n in amb:
        if r.random() < 0.5:
            use_waypoint(n["metadata"]["labels"], n["metadata"]["name"])
    svcs = _app_services(objs)
    for s in svcs:
        if r.random() < 0.25:
            use_waypoint(s["metadata"].setdefault("labels", {}), s["metadata"]["namespace"])
    for p in (o for o in objs if o["kind"] == "Pod"):
        ns = p["metadata"]["namespace"]
        labels, ann = p["metadata"].setdefault("labels", {}), p["metadata"].setdefault("annotations", {})
        if ns not in amb_names and r.random() < 0.05:
            labels[AMBIENT] = "ambient"  # a pod opting in by label in a namespace that is not
        intended = (ns in amb_names or labels.get(AMBIENT) == "ambient")
        if "sidecar.istio.io/status" in ann or ns == ROOT_NS:
            continue
        if intended and r.random() < 0.1:
            labels[AMBIENT] = "none"  # opted out
            continue
        if intended and r.random() < 0.93:
            ann[REDIRECTION] = "enabled"
        if r.random() < 0.15:
            use_waypoint(labels, ns)
    # PeerAuthentication and AuthorizationPolicy beyond the base mesh's
    names = [n["metadata"]["name"] for n in nss]
    for i in range(r.randint(0, 2)):
        ns = r.choice(names)
        apps = sorted({p["metadata"]["labels"].get("app") for p in objs if p["kind"] == "Pod"
                       and p["metadata"]["namespace"] == ns} - {None})
        spec: dict[str, Any] = {}
        if apps and r.random() < 0.7:
            spec["selector"] = {"matchLabels": {"app": r.choice(apps)}}
            if r.random() < 0.8:
                spec["portLevelMtls"] = {str(pt): {"mode": r.choice(["STRICT", "PERMISSIVE", "DISABLE"])}
                                         for pt in r.sample([80, 8080, 9090, 5432, 8000], r.randint(1, 2))}
        if r.random() < 0.7 or not spec.get("portLevelMtls"):
            spec["mtls"] = {"mode": r.choice(["STRICT", "PERMISSIVE", "DISABLE", "UNSET"])}
        added.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                      "metadata": meta(f"amb-pa-{i}", ns), "spec": spec})
    for i in range(r.randint(1, 3)):
        s = r.choice(svcs) if svcs else None
        if s is None:
            break
        ns = s["metadata"]["namespace"]
        ref = {"group": "", "kind": "Service", "name": s["metadata"]["name"]}
        here = [w for w in wps if w[0] == ns]
        if here and r.random() < 0.3:
            ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": r.choice(here)[1]}
        action = r.choice(["ALLOW", "ALLOW", "DENY", "AUDIT", "CUSTOM"])
        spec = {"targetRefs": [ref], "action": action}
        if action == "CUSTOM":
            spec["provider"] = {"name": EXT_AUTHZ_PROVIDER}
        rule: dict[str, Any] = {}
        if r.random() < 0.6:
            rule["from"] = [{"source": {"namespaces": [r.choice(names)]}}]
        if r.random() < 0.6:
            rule["to"] = [{"operation": r.choice([{"methods": ["GET"]}, {"paths": ["/admin*"]}, {"ports": ["8080"]}])}]
        spec["rules"] = [rule]
        added.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                      "metadata": meta(f"amb-ap-{i}", ns), "spec": spec})
    # The API server stamps every object: stamp those without a creation time (the oracle's ambient index reads
    # its own copy of these kinds, which would keep a missing one as zero while its config store uses 2026-01-01),
    # and give every PeerAuthentication its own (istiod's ambient index takes the first of equally old policies in
    # its index's order, not by name, so a tie would make istiod's own answer vary from pod to pod)
    seen: set[str] = set()
    n = 0
    for o in objs + added:
        if o["kind"] not in ("PeerAuthentication", "AuthorizationPolicy", "Gateway"):
            continue
        ts = o["metadata"].get("creationTimestamp")
        if not ts or (o["kind"] == "PeerAuthentication" and ts in seen):
            n += 1
            ts = o["metadata"]["creationTimestamp"] = f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"
        if o["kind"] == "PeerAuthentication":
            seen.add(ts)
    return objs + added


def generate(seed: int, size: int = 1) -> list[dict]:
    """The objects of one generated mesh (deterministic for (seed, size))."""
    return Gen(seed, size).build()


if __name__ == "__main__":
    import argparse
    import sys

    import yaml

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=1)
    a = ap.parse_args()
    yaml.safe_dump_all(generate(a.seed, a.size), sys.stdout, sort_keys=False)
