"""The ambient sandbox's ztunnel: its admin endpoint (``/config_dump`` in ztunnel's format) for the pod proxy.

There is no ztunnel binary here. What a ztunnel holds is what istiod serves it over delta xDS: every
``istio.workload.Address`` (workloads and services) and ``istio.security.Authorization`` (policies). This module
renders ztunnel's admin ``/config_dump`` from those resources, as ztunnel serialises its state
(istio/ztunnel ``src/admin.rs`` ``ConfigDump``, ``src/state/workload.rs``, ``src/state/service.rs``,
``src/rbac.rs``, the in-pod ``workloadState``; as istioctl reads it, ``istioctl/pkg/writer/ztunnel/configdump``).
The resources come from one of two sources (``Ztunnel.source``):

- ``istiod``: the oracle's istiod (``mesh-oracle serve --ambient``, ``GET /ztunnel?proxy=POD.NS``): a delta ADS
  subscription as this ztunnel pod, on istiod's real connection path, kept open so pushes are followed;
- ``objects``: without the oracle, ``workload_xds`` builds the same resources from the API's objects for what the
  seed uses (pods, services, waypoints, PeerAuthentication and AuthorizationPolicy conversion); a test keeps it
  equal to istiod's output for the seeded mesh.

Certificates are the sandbox CA's, issued per identity of the ambient pods on this ztunnel's node (public
certificates only: ztunnel never dumps keys). Connections are those the sandbox recorded for this node's pods
(``Ztunnel.connections``).
"""
from __future__ import annotations

import base64
import datetime as _dt
import ipaddress
import json
from collections.abc import Callable
from typing import Any

from . import seed

CLUSTER_ID = "Kubernetes"
_LB_SCOPE = {"REGION": "Region", "ZONE": "Zone", "SUBZONE": "Subzone", "NODE": "Node", "CLUSTER": "Cluster",
             "NETWORK": "Network"}
_LB_MODE = {"UNSPECIFIED_MODE": "Standard", "STRICT": "Strict", "FAILOVER": "Failover", "PASSTHROUGH": "Passthrough"}


# -- protobuf JSON (istio.workload / istio.security) to ztunnel's serde JSON -------------------------------------

def _ip(b64: str) -> str:
    return str(ipaddress.ip_address(base64.b64decode(b64)))


def _network_address(a: dict) -> str:
    """ztunnel's NetworkAddress: ``network/ip``."""
    return f"{a.get('network', '')}/{_ip(a.get('address', ''))}"


def _gateway_address(g: dict | None) -> dict | None:
    if not g:
        return None
    if "hostname" in g:
        h = g["hostname"]
        dest = f"{h.get('namespace', '')}/{h.get('hostname', '')}"
    elif "address" in g:
        dest = _network_address(g["address"])
    else:
        return None
    return {"destination": dest, "hboneMtlsPort": int(g.get("hboneMtlsPort", 0))}


def _workload(w: dict) -> dict:
    """ztunnel's Workload (``TryFrom<XdsWorkload>``), serialised camelCase with empty and default fields left out."""
    out: dict[str, Any] = {}
    if w.get("uid"):
        out["uid"] = w["uid"]
    out["workloadIps"] = [_ip(a) for a in w.get("addresses") or []]
    for key, field in (("waypoint", "waypoint"), ("networkGateway", "networkGateway")):
        g = _gateway_address(w.get(field))
        if g:
            out[key] = g
    out["protocol"] = "HBONE" if w.get("tunnelProtocol") == "HBONE" else "TCP"
    out["networkMode"] = "HostNetwork" if w.get("networkMode") == "HOST_NETWORK" else "Standard"
    out["name"] = w.get("name", "")
    out["namespace"] = w.get("namespace", "")
    out["trustDomain"] = w.get("trustDomain") or "cluster.local"
    out["serviceAccount"] = w.get("serviceAccount") or "default"
    for key in ("network", "workloadName"):
        if w.get(key):
            out[key] = w[key]
    out["workloadType"] = (w.get("workloadType") or "DEPLOYMENT").lower()
    for key in ("canonicalName", "canonicalRevision", "hostname", "node"):
        if w.get(key):
            out[key] = w[key]
    if w.get("nativeTunnel"):
        out["nativeTunnel"] = True
    tunnel = w.get("applicationTunnel")
    if tunnel:
        out["applicationTunnel"] = {"protocol": tunnel.get("protocol", "NONE"),
                                    **({"port": tunnel["port"]} if tunnel.get("port") else {})}
    if w.get("authorizationPolicies"):
        out["authorizationPolicies"] = list(w["authorizationPolicies"])
    out["status"] = "Unhealthy" if w.get("status") == "UNHEALTHY" else "Healthy"
    out["clusterId"] = w.get("clusterId", "")
    loc = w.get("locality") or {}
    if any(loc.get(k) for k in ("region", "zone", "subzone")):
        out["locality"] = {k: loc.get(k, "") for k in ("region", "zone", "subzone")}
    if w.get("services"):
        out["services"] = sorted(w["services"])
    out["capacity"] = int((w.get("capacity") or {}).get("value", 1)) if isinstance(w.get("capacity"), dict) \
        else int(w.get("capacity", 1) or 1)
    return out


def _ports(ports: list[dict] | None) -> dict[str, int]:
    return {str(p.get("servicePort", 0)): int(p.get("targetPort", 0)) for p in ports or []}


def _service(s: dict, workloads: list[dict]) -> dict:
    """ztunnel's Service, its endpoints from the workloads that list it (``Workload.services``)."""
    key = f"{s.get('namespace', '')}/{s.get('hostname', '')}"
    endpoints = {}
    for w in workloads:
        entry = (w.get("services") or {}).get(key)
        if entry is None or not w.get("uid"):
            continue
        endpoints[w["uid"]] = {"workloadUid": w["uid"], "port": _ports(entry.get("ports")),
                               "status": "Unhealthy" if w.get("status") == "UNHEALTHY" else "Healthy"}
    out: dict[str, Any] = {"name": s.get("name", ""), "namespace": s.get("namespace", ""),
                           "hostname": s.get("hostname", ""),
                           "vips": [_network_address(a) for a in s.get("addresses") or []],
                           "ports": _ports(s.get("ports"))}
    if endpoints:
        out["endpoints"] = dict(sorted(endpoints.items()))
    out["subjectAltNames"] = list(s.get("subjectAltNames") or [])
    g = _gateway_address(s.get("waypoint"))
    if g:
        out["waypoint"] = g
    lb = s.get("loadBalancing")
    if lb:
        out["loadBalancer"] = {"mode": _LB_MODE.get(lb.get("mode", "UNSPECIFIED_MODE"), "Standard"),
                               "routingPreferences": [_LB_SCOPE.get(x, x) for x in lb.get("routingPreference") or []],
                               "healthPolicy": "AllowAll" if lb.get("healthPolicy") == "ALLOW_ALL" else "OnlyHealthy"}
    fam = {"IPV4_ONLY": "IPv4", "IPV6_ONLY": "IPv6", "DUAL": "Dual"}.get(s.get("ipFamilies", ""))
    if fam:
        out["ipFamilies"] = fam
    if s.get("canonical"):
        out["canonical"] = True
    return out


def _string_match(m: dict) -> dict:
    for key, tag in (("exact", "Exact"), ("prefix", "Prefix"), ("suffix", "Suffix")):
        if key in m:
            return {tag: m[key]}
    return {"Presence": []}


def _ipnet(a: dict) -> str:
    ip = _ip(a.get("address", ""))
    return f"{ip}/{a.get('length', 32 if ':' not in ip else 128)}"


def _match(m: dict) -> dict:
    """ztunnel's RbacMatch: fields in its order, empty ones left out."""
    out: dict[str, Any] = {}
    for key in ("namespaces", "notNamespaces"):
        if m.get(key):
            out[key] = [_string_match(x) for x in m[key]]
    for key in ("serviceAccounts", "notServiceAccounts"):
        if m.get(key):
            out[key] = [{"namespace": x.get("namespace", ""), "serviceAccount": x.get("serviceAccount", "")}
                        for x in m[key]]
    for key in ("principals", "notPrincipals"):
        if m.get(key):
            out[key] = [_string_match(x) for x in m[key]]
    for key in ("sourceIps", "notSourceIps", "destinationIps", "notDestinationIps"):
        if m.get(key):
            out[key] = [_ipnet(x) for x in m[key]]
    for key in ("destinationPorts", "notDestinationPorts"):
        if m.get(key):
            out[key] = [int(x) for x in m[key]]
    return out


def _policy(a: dict) -> dict:
    scope = {"GLOBAL": "Global", "NAMESPACE": "Namespace", "WORKLOAD_SELECTOR": "WorkloadSelector"}
    return {"name": a.get("name", ""), "namespace": a.get("namespace", ""),
            "scope": scope.get(a.get("scope", "GLOBAL"), "Global"),
            "action": "Deny" if a.get("action") == "DENY" else "Allow",
            "rules": [[[_match(m) for m in rules.get("matches") or []] for rules in group.get("rules") or []]
                      for group in a.get("groups") or []],
            "dryRun": bool(a.get("dryRun", False))}


# -- certificates and the dump -------------------------------------------------------------------------------------

def _rfc3339(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_dump(identity: str, chain_pem: bytes) -> dict:
    """ztunnel's CertsDump for one identity (``src/admin.rs`` dump_certs): the leaf (and intermediates) and the
    roots, each with its PEM (base64), decimal serial number and validity. Public certificates only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certs = x509.load_pem_x509_certificates(chain_pem)

    def one(c: Any) -> dict:
        pem = c.public_bytes(serialization.Encoding.PEM)
        return {"pem": base64.b64encode(pem).decode(), "serialNumber": str(c.serial_number),
                "validFrom": _rfc3339(c.not_valid_before_utc), "expirationTime": _rfc3339(c.not_valid_after_utc)}

    return {"identity": identity, "state": "Available", "certChain": [one(c) for c in certs[:-1]],
            "rootCerts": [one(certs[-1])]}


def render(snapshot: dict, *, node: str, local: list[dict], certificates: list[dict],
           connections: dict[str, dict] | None = None) -> dict:
    """ztunnel's ``/config_dump`` from the resources istiod serves it (``snapshot``: ``addresses`` and
    ``authorizations``, each ``[{"name", "resource"}]`` in protobuf JSON), for a ztunnel on ``node`` whose in-pod
    workloads are ``local`` (the pods it captures)."""
    workloads = [a["resource"]["workload"] for a in snapshot.get("addresses") or [] if "workload" in a["resource"]]
    services = [a["resource"]["service"] for a in snapshot.get("addresses") or [] if "service" in a["resource"]]
    state = {}
    for pod in local:
        m = pod["metadata"]
        state[m["uid"]] = {"state": "Up", "connections": (connections or {}).get(m["uid"]) or {"inbound": [],
                                                                                                "outbound": []},
                           "info": {"name": m["name"], "namespace": m["namespace"],
                                    "serviceAccount": pod["spec"].get("serviceAccountName") or "default"}}
    control = f"https://istiod.{seed.ROOT_NS}.svc:15012"
    return {
        "workloads": sorted((_workload(w) for w in workloads), key=lambda w: w.get("uid", "")),
        "services": sorted((_service(s, workloads) for s in services), key=lambda s: (s["namespace"], s["hostname"])),
        "policies": [_policy(a["resource"]) for a in snapshot.get("authorizations") or []],
        "stagedServices": {},
        "staticConfig": {"workloads": [], "policies": [], "services": []},
        "version": {"version": seed.ISTIO_VERSION, "gitRevision": "mesh-plugin-sandbox", "rustVersion": "",
                    "buildProfile": "release", "buildStatus": "Clean", "gitTag": seed.ISTIO_VERSION,
                    "istioVersion": seed.ISTIO_VERSION},
        "config": {"proxyMode": "Shared", "clusterId": CLUSTER_ID, "clusterDomain": "cluster.local", "network": "",
                   "localNode": node, "xdsAddress": control, "caAddress": control, "xdsOnDemand": False},
        "certificates": certificates,
        "workloadState": state,
    }


class Ztunnel:
    """One ztunnel pod: renders its config dump on demand from ``fetch()`` (the snapshot of what istiod serves it)."""

    def __init__(self, pod: dict, fetch: Callable[[], dict], source: str, local: Callable[[], list[dict]],
                 certificates: Callable[[list[dict]], list[dict]]) -> None:
        self.pod = pod
        self.name = pod["metadata"]["name"]
        self.namespace = pod["metadata"]["namespace"]
        self.node = pod["spec"].get("nodeName") or seed.NODE
        self.fetch = fetch
        self.source = source
        self._local = local
        self._certificates = certificates
        #: pod uid -> {"inbound": [...], "outbound": [...]}: connections the sandbox made through this ztunnel
        self.connections: dict[str, dict] = {}
        self.log_level = "info"
        self.admin_port = 0

    @property
    def proxy_id(self) -> str:
        return f"{self.name}.{self.namespace}"

    def config_dump(self) -> dict:
        local = self._local()
        return render(self.fetch(), node=self.node, local=local, certificates=self._certificates(local),
                      connections=self.connections)

    def app(self) -> Any:
        """ztunnel's admin endpoints the tools use: ``/config_dump``, ``/logging`` (GET, POST ``?level=``), ``/``."""
        from aiohttp import web

        async def config_dump(request: web.Request) -> web.Response:
            import asyncio

            try:
                dump = await asyncio.get_running_loop().run_in_executor(None, self.config_dump)
            except Exception as e:  # noqa: BLE001 - answered like a failing admin handler
                return web.Response(status=500, text=f"config_dump failed: {type(e).__name__}: {e}\n")
            return web.Response(text=json.dumps(dump, indent=2), content_type="application/json")

        async def logging(request: web.Request) -> web.Response:
            if request.method == "POST" and request.query.get("level"):
                self.log_level = request.query["level"]
            return web.Response(text=f"current log level is {self.log_level}\n")

        async def index(request: web.Request) -> web.Response:
            return web.Response(text="ztunnel admin (mesh-plugin sandbox): /config_dump /logging\n")

        app = web.Application()
        app.router.add_get("/config_dump", config_dump)
        app.router.add_route("*", "/logging", logging)
        app.router.add_get("/", index)
        return app


# -- without the oracle: the same resources from the objects ------------------------------------------------------
# What istiod's ambient index (pilot/pkg/serviceregistry/ambient: workloads.go podWorkloadBuilder, services.go
# constructService, waypoints.go, authorization.go convertAuthorizationPolicy / convertPeerAuthentication /
# convertedSelectorPeerAuthentications) makes of Pods, Services, Gateways, PeerAuthentications and
# AuthorizationPolicies, for a single-network, single-cluster mesh without ServiceEntries or WorkloadEntries.

_STATIC_STRICT = "istio_converted_static_strict"
_APP_PROTOCOL = {"http": "HTTP11", "http2": "HTTP2", "grpc": "GRPC", "tls": "TLS", "https": "TLS", "tcp": "TCP"}
_L4_WHEN = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")


def _b64ip(ip: str) -> str:
    return base64.b64encode(ipaddress.ip_address(ip).packed).decode()


def _meta(o: dict) -> dict:
    return o.get("metadata") or {}


def _labels(o: dict) -> dict:
    return _meta(o).get("labels") or {}


def _selects(sel: dict | None, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (sel or {}).items())


def _app_protocol(port: dict) -> str | None:
    """``toAppProtocolFromKube``: the Service port's appProtocol, else its name's prefix (well-known ports TCP)."""
    if port.get("protocol") == "UDP":
        return None
    name = port.get("appProtocol") or port.get("name") or ""
    proto = _APP_PROTOCOL.get(name.split("-")[0].lower())
    if proto is None and int(port.get("port", 0)) in (25, 53, 3306, 27017):
        return "TCP"
    return proto


def _deploy_name(pod: dict) -> str:
    """``kube.GetWorkloadMetaFromPod``: the controller behind a generated pod (a ReplicaSet's Deployment)."""
    m = _meta(pod)
    if not m.get("generateName"):
        return m.get("name", "")
    ref = next((r for r in m.get("ownerReferences") or [] if r.get("controller")), None)
    if ref is None:
        return m.get("name", "")
    h = _labels(pod).get("pod-template-hash")
    if ref.get("kind") == "ReplicaSet" and h and ref.get("name", "").endswith(h):
        return ref["name"][:-len(h) - 1]
    return ref.get("name", "")


def _canonical(labels: dict, workload: str) -> tuple[str, str]:
    name = labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name") or \
        labels.get("app") or workload
    rev = labels.get("service.istio.io/canonical-revision") or labels.get("app.kubernetes.io/version") or \
        labels.get("version") or "latest"
    return name, rev


def _string_matches(values: list[str]) -> list[dict]:
    out = []
    for v in values or []:
        if v == "*":
            out.append({"presence": {}})
        elif v.startswith("*"):
            out.append({"suffix": v[1:]})
        elif v.endswith("*"):
            out.append({"prefix": v[:-1]})
        else:
            out.append({"exact": v})
    return out


def _ports_of(values: list[str]) -> list[int]:
    return [int(v) for v in values or [] if str(v).isdigit() and int(v) <= 65535]


def _ips_of(values: list[str]) -> list[dict]:
    out = []
    for v in values or []:
        try:
            net = ipaddress.ip_network(v, strict=False) if "/" in v else None
            addr = net.network_address if net else ipaddress.ip_address(v)
            out.append({"address": base64.b64encode(addr.packed).decode(),
                        "length": net.prefixlen if net else addr.max_prefixlen})
        except ValueError:
            continue
    return out


def _sa_matches(values: list[str], ns: str) -> list[dict]:
    out = []
    for v in values or []:
        a, _, b = v.partition("/")
        out.append({"namespace": a, "serviceAccount": b} if b else {"namespace": ns, "serviceAccount": v})
    return out


def _drop_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, [], {}, "", False)}


def _convert_authorization_policy(root_ns: str, obj: dict) -> dict | None:
    """``convertAuthorizationPolicy``: L4 rules for ztunnel; targetRefs, CUSTOM and AUDIT are not sent."""
    spec = obj.get("spec") or {}
    m = _meta(obj)
    dry = str((m.get("annotations") or {}).get("istio.io/dry-run", "")).lower() == "true"
    if dry or spec.get("targetRefs") or spec.get("targetRef"):
        return None
    action = spec.get("action", "ALLOW")
    if action not in ("ALLOW", "DENY"):
        return None
    scope = "WORKLOAD_SELECTOR" if spec.get("selector") is not None else \
        ("GLOBAL" if m.get("namespace") == root_ns else "NAMESPACE")
    groups = []
    for rule in spec.get("rules") or []:
        l7 = False
        rules = []
        to = []
        for t in rule.get("to") or []:
            op = t.get("operation") or {}
            l7 |= any(op.get(k) for k in ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"))
            to.append(_drop_empty({"destinationPorts": _ports_of(op.get("ports")),
                                   "notDestinationPorts": _ports_of(op.get("notPorts"))}))
        frm = []
        for f in rule.get("from") or []:
            src = f.get("source") or {}
            l7 |= any(src.get(k) for k in ("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals",
                                            "notRequestPrincipals"))
            frm.append(_drop_empty({
                "namespaces": _string_matches(src.get("namespaces")),
                "notNamespaces": _string_matches(src.get("notNamespaces")),
                "serviceAccounts": _sa_matches(src.get("serviceAccounts"), m.get("namespace", "")),
                "notServiceAccounts": _sa_matches(src.get("notServiceAccounts"), m.get("namespace", "")),
                "principals": _string_matches(src.get("principals")),
                "notPrincipals": _string_matches(src.get("notPrincipals")),
                "sourceIps": _ips_of(src.get("ipBlocks")), "notSourceIps": _ips_of(src.get("notIpBlocks"))}))
        if to:
            rules.append({"matches": to})
        if frm:
            rules.append({"matches": frm})
        for w in rule.get("when") or []:
            key = w.get("key", "")
            l7 |= key not in _L4_WHEN

            def pick(k: str, conv: Callable[[list[str]], list], invert: bool) -> list:
                return conv(w.get("notValues" if invert else "values") or []) if key == k else []
            rules.append({"matches": [_drop_empty({
                "namespaces": pick("source.namespace", _string_matches, False),
                "notNamespaces": pick("source.namespace", _string_matches, True),
                "principals": pick("source.principal", _string_matches, False),
                "notPrincipals": pick("source.principal", _string_matches, True),
                "sourceIps": pick("source.ip", _ips_of, False), "notSourceIps": pick("source.ip", _ips_of, True),
                "destinationIps": pick("destination.ip", _ips_of, False),
                "notDestinationIps": pick("destination.ip", _ips_of, True),
                "destinationPorts": pick("destination.port", _ports_of, False),
                "notDestinationPorts": pick("destination.port", _ports_of, True)})]})
        if action == "ALLOW" and l7:
            continue  # L7 rules never match for ALLOW: the rule is dropped
        groups.append(_drop_empty({"rules": rules}))
    return _drop_empty({"name": m.get("name", ""), "namespace": m.get("namespace", ""),
                        "scope": None if scope == "GLOBAL" else scope, "action": None if action == "ALLOW" else action,
                        "groups": groups})


def _mode(pa: dict | None) -> str:
    return (((pa or {}).get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"


def _oldest(items: list[dict]) -> dict | None:
    return min(items, key=lambda o: (_meta(o).get("creationTimestamp") or "", _meta(o).get("name", "")), default=None)


def _pa_levels(root_ns: str, pas: list[dict]) -> tuple[dict | None, dict | None, dict | None]:
    mesh = _oldest([p for p in pas if not ((p.get("spec") or {}).get("selector") or {}).get("matchLabels")
                    and _meta(p).get("namespace") == root_ns])
    ns = _oldest([p for p in pas if not ((p.get("spec") or {}).get("selector") or {}).get("matchLabels")
                  and _meta(p).get("namespace") != root_ns])
    wl = _oldest([p for p in pas if ((p.get("spec") or {}).get("selector") or {}).get("matchLabels")
                  and _meta(p).get("namespace") != root_ns])
    return mesh, ns, wl


def _converted_pa_name(pa: dict) -> str:
    return f"converted_peer_authentication_{_meta(pa).get('name', '')}"


def _selector_pa_keys(root_ns: str, pas: list[dict]) -> list[str]:
    """``convertedSelectorPeerAuthentications``: the static STRICT policy and/or the workload's converted one."""
    mesh, ns, wl = _pa_levels(root_ns, pas)
    strict = _mode(mesh) == "STRICT" if mesh else False
    if ns is not None and _mode(ns) != "UNSET":
        strict = _mode(ns) == "STRICT"
    key = ""
    if wl is not None:
        mode = _mode(wl)
        if mode == "STRICT":
            strict = True
        if mode in ("PERMISSIVE", "DISABLE"):
            strict = False
        ports = [(v or {}).get("mode") or "UNSET" for v in ((wl.get("spec") or {}).get("portLevelMtls") or {}).values()]
        wkey = f"{_meta(wl).get('namespace')}/{_converted_pa_name(wl)}"
        if ports:
            if mode == "STRICT":
                if any(p in ("PERMISSIVE", "DISABLE") for p in ports):
                    key, strict = wkey, False
            elif mode in ("PERMISSIVE", "DISABLE"):
                if "STRICT" in ports:
                    key = wkey
            elif strict:
                if "PERMISSIVE" in ports:
                    key, strict = wkey, False
            else:
                strict = False
                if "STRICT" in ports:
                    key = wkey
    return sorted({*([f"{root_ns}/{_STATIC_STRICT}"] if strict else []), *([key] if key else [])})


def _convert_peer_authentication(root_ns: str, pa: dict, ns_pa: dict | None, root_pa: dict | None) -> dict | None:
    """``convertPeerAuthentication``: a workload policy with port-level mTLS as an L4 DENY policy."""
    spec = pa.get("spec") or {}
    port_mtls = spec.get("portLevelMtls") or {}
    if _meta(pa).get("namespace") == root_ns or spec.get("selector") is None or not port_mtls:
        return None
    mode = _mode(pa)
    presence = {"notPrincipals": [{"presence": {}}]}
    rules: list[dict] = []
    groups: list[dict] = []
    if mode == "STRICT":
        rules.append({"matches": [presence]})
    non_strict = False
    for port in sorted(port_mtls, key=int):
        pmode = (port_mtls[port] or {}).get("mode") or "UNSET"
        if pmode == "STRICT":
            if mode == "STRICT" or (mode == "UNSET" and ns_pa is not None and _mode(ns_pa) == "STRICT") or \
                    ((ns_pa is None or _mode(ns_pa) == "UNSET") and root_pa is not None and _mode(root_pa) == "STRICT"):
                continue
            groups.append({"rules": [{"matches": [{**presence, "destinationPorts": [int(port)]}]}]})
        elif pmode in ("PERMISSIVE", "DISABLE"):
            if mode in ("PERMISSIVE", "DISABLE"):
                continue
            if mode == "UNSET" and ((ns_pa is not None and _mode(ns_pa) != "STRICT") or
                                    (ns_pa is None and root_pa is not None and _mode(root_pa) != "STRICT") or
                                    (ns_pa is None and root_pa is None)):
                continue
            non_strict = True
            rules.append({"matches": [{"notDestinationPorts": [int(port)]}]})
    if mode == "STRICT" and not non_strict:
        return None
    if not rules and not groups:
        return None
    merge = (root_pa is not None and _mode(root_pa) == "STRICT" and
             (ns_pa is None or _mode(ns_pa) in ("UNSET", "STRICT"))) or (ns_pa is not None and _mode(ns_pa) == "STRICT")
    if merge and non_strict:
        rules.append({"matches": [presence]})
    if rules:
        groups.append({"rules": rules})
    return {"name": _converted_pa_name(pa), "namespace": _meta(pa).get("namespace", ""),
            "scope": "WORKLOAD_SELECTOR", "action": "DENY", "groups": groups}


def workload_xds(objects: list[dict], root_ns: str = seed.ROOT_NS, trust_domain: str = seed.TRUST_DOMAIN) -> dict:
    """What istiod would serve a ztunnel for these objects, in the shape of ``Istiod.ztunnel``'s answer."""
    def of(kind: str, group: str = "") -> list[dict]:
        return [o for o in objects if o.get("kind") == kind and
                (o.get("apiVersion", "").rpartition("/")[0] if "/" in o.get("apiVersion", "") else "") == group]

    namespaces = {_meta(n).get("name"): n for n in of("Namespace")}
    pods, services = of("Pod"), of("Service")
    pas = of("PeerAuthentication", "security.istio.io")
    aps = of("AuthorizationPolicy", "security.istio.io")
    classes = {_meta(c).get("name"): c for c in of("GatewayClass", "gateway.networking.k8s.io")}
    # waypoints: Gateways with status addresses; traffic type from the Gateway, else its class, else "service"
    waypoints = {}
    for gw in of("Gateway", "gateway.networking.k8s.io"):
        addrs = (gw.get("status") or {}).get("addresses") or []
        if not addrs:
            continue
        cls = classes.get((gw.get("spec") or {}).get("gatewayClassName"))
        traffic = _labels(gw).get("istio.io/waypoint-for") or (_labels(cls) if cls else {}).get(
            "istio.io/waypoint-for") or "service"
        host = next((a["value"] for a in addrs if a.get("type") == "Hostname"), None)
        ip = next((a["value"] for a in addrs if a.get("type") == "IPAddress"), None)
        address = ({"hostname": {"namespace": _meta(gw)["namespace"], "hostname": host}} if host else
                   {"address": {"address": _b64ip(ip)}} if ip else None)
        if address is None:
            continue
        waypoints[(_meta(gw)["namespace"], _meta(gw)["name"])] = {
            "traffic": traffic, "address": {**address, "hboneMtlsPort": 15008},
            "from": ((((gw.get("spec") or {}).get("listeners") or [{}])[0].get("allowedRoutes") or {})
                     .get("namespaces") or {}).get("from", "Same")}

    def waypoint_for(obj: dict, kinds: tuple[str, ...]) -> dict | None:
        """``fetchWaypointForTarget``: the object's istio.io/use-waypoint, else its namespace's."""
        ns = _meta(obj).get("namespace", "")
        for src in (obj, namespaces.get(ns) or {}):
            name = _labels(src).get("istio.io/use-waypoint")
            if not name:
                continue
            if name == "none":
                return None
            wns = _labels(src).get("istio.io/use-waypoint-namespace") or ns
            wp = waypoints.get((wns, name))
            if wp is None or wp["traffic"] not in kinds or (wns != ns and wp["from"] == "Same"):
                return None
            return wp["address"]
        return None

    authorizations = {}
    if pas:
        authorizations[f"{root_ns}/{_STATIC_STRICT}"] = {
            "name": _STATIC_STRICT, "namespace": root_ns, "scope": "WORKLOAD_SELECTOR", "action": "DENY",
            "groups": [{"rules": [{"matches": [{"notPrincipals": [{"presence": {}}]}]}]}]}
    def no_selector(ns: str) -> dict | None:  # PeerAuthByNamespace: the oldest policy without a selector
        return _oldest([p for p in pas if _meta(p).get("namespace") == ns and (p.get("spec") or {}).get("selector")
                        is None])

    for pa in pas:
        conv = _convert_peer_authentication(root_ns, pa, no_selector(_meta(pa).get("namespace", "")),
                                            no_selector(root_ns))
        if conv:
            authorizations[f"{conv['namespace']}/{conv['name']}"] = conv
    selector_policies = []
    for ap in aps:
        conv = _convert_authorization_policy(root_ns, ap)
        if conv is not None:
            authorizations[f"{conv['namespace']}/{conv['name']}"] = conv
            sel = (ap.get("spec") or {}).get("selector")
            if sel is not None:
                selector_policies.append((conv, sel.get("matchLabels") or {}))

    addresses = {}
    svc_infos = []
    for svc in services:
        spec = svc.get("spec") or {}
        m = _meta(svc)
        host = f"{m['name']}.{m['namespace']}.svc.cluster.local"
        vips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        ports = []
        for p in spec.get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            port = {"servicePort": int(p["port"]), "targetPort": int(tp) if isinstance(tp, int) or str(tp).isdigit()
                    else 0}
            proto = _app_protocol(p)
            if proto:
                port["appProtocol"] = proto
            ports.append(port)
        s = {"name": m["name"], "namespace": m["namespace"], "hostname": host,
             "addresses": [{"address": _b64ip(ip)} for ip in vips], "ports": ports}
        wp = waypoint_for(svc, ("service", "all"))
        if wp:
            s["waypoint"] = wp
        fams = spec.get("ipFamilies") or []
        if len(fams) == 2:
            s["ipFamilies"] = "DUAL"
        elif fams:
            s["ipFamilies"] = "IPV4_ONLY" if fams[0] == "IPv4" else "IPV6_ONLY"
        s["canonical"] = True
        addresses[f"{m['namespace']}/{host}"] = {"service": s}
        svc_infos.append((svc, s))

    for pod in pods:
        m, spec, status = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
        ips = [x.get("ip") for x in status.get("podIPs") or []] or ([status["podIP"]] if status.get("podIP") else [])
        if not ips or status.get("phase") in ("Succeeded", "Failed"):
            continue
        labels, ann, ns = _labels(pod), m.get("annotations") or {}, m.get("namespace", "")
        wl_name = _deploy_name(pod)
        cname, crev = _canonical(labels, wl_name)
        ns_pas = [p for p in pas if (_meta(p).get("namespace") == root_ns and not (p.get("spec") or {}).get("selector"))
                  or (_meta(p).get("namespace") == ns and _selects(((p.get("spec") or {}).get("selector") or {})
                                                                  .get("matchLabels"), labels))]
        policies = sorted(f"{c['namespace']}/{c['name']}" for c, sel in selector_policies
                          if c["namespace"] in (ns, root_ns) and _selects(sel, labels))
        policies += _selector_pa_keys(root_ns, ns_pas)
        svcs = {}
        for svc, s in svc_infos:
            sel = (svc.get("spec") or {}).get("selector")
            if _meta(svc).get("namespace") != ns or not sel or not _selects(sel, labels):
                continue
            plist = []
            for p in (svc.get("spec") or {}).get("ports") or []:
                tp = p.get("targetPort", p.get("port"))
                if not (isinstance(tp, int) or str(tp).isdigit()):
                    found = [c2.get("containerPort") for c in spec.get("containers") or []
                             for c2 in c.get("ports") or [] if c2.get("name") == tp]
                    if not found:
                        continue
                    tp = found[0]
                plist.append({"servicePort": int(p["port"]), "targetPort": int(tp)})
            svcs[f"{s['namespace']}/{s['hostname']}"] = {"ports": plist}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        w: dict[str, Any] = {"uid": f"{CLUSTER_ID}//Pod/{ns}/{m['name']}", "name": m["name"], "namespace": ns,
                             "addresses": [_b64ip(ip) for ip in ips]}
        if ann.get("ambient.istio.io/redirection") == "enabled":
            w["tunnelProtocol"] = "HBONE"
        if labels.get("networking.istio.io/tunnel") == "http":
            w["tunnelProtocol"], w["nativeTunnel"] = "HBONE", True
        if trust_domain != "cluster.local":
            w["trustDomain"] = trust_domain
        w["serviceAccount"] = spec.get("serviceAccountName") or "default"
        is_waypoint = labels.get("gateway.networking.k8s.io/gateway-name") and \
            (ns, labels["gateway.networking.k8s.io/gateway-name"]) in waypoints
        wp = None if is_waypoint else waypoint_for(pod, ("workload", "all"))
        if wp:
            w["waypoint"] = wp
        if spec.get("nodeName"):
            w["node"] = spec["nodeName"]
        w.update({"canonicalName": cname, "canonicalRevision": crev, "workloadType": "POD", "workloadName": wl_name})
        if svcs:
            w["services"] = svcs
        if policies:
            w["authorizationPolicies"] = policies
        if not ready or m.get("deletionTimestamp"):
            w["status"] = "UNHEALTHY"
        w["clusterId"] = CLUSTER_ID
        if spec.get("hostNetwork"):
            w["networkMode"] = "HOST_NETWORK"
        addresses[w["uid"]] = {"workload": w}
    return {"source": "objects",
            "addresses": [{"name": k, "resource": addresses[k]} for k in sorted(addresses)],
            "authorizations": [{"name": k, "resource": authorizations[k]} for k in sorted(authorizations)]}
