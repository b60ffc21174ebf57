"""Routing explained: VirtualServices, DestinationRule subsets and gateways for one host. Pure.

Each HTTP route also carries what istiod programs into Envoy for it (``envoy``), as
``pilot/pkg/networking/core/route/route.go`` builds it: relative weights as given (a destination of weight 0 is
left out when there are several; a single destination gets all traffic whatever its weight), the cluster port
(the destination's, else the Service's only port, else the listener's), the timeout (0s = none), the retry
policy (the mesh's defaultHttpRetryPolicy or Istio's 2 attempts when the route has none; attempts 0 turns
retries off; status codes in retryOn become retriable_status_codes: ``route/retry/retry.go``), mirrors with
their percentage (0% = no mirror, default 100%), and whether Envoy ever sees it (istiod stops after the first
catch-all route). ``clients`` says, per client namespace, whether its Sidecar imports the host and the
VirtualService (``pilot/pkg/model/sidecar.go``).

Also the pure halves of the traffic writes: validating weights and building the edited objects.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, NotFound
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from .workloads import is_running

DOMAIN = "svc.cluster.local"


def fqdn(host: str, ns: str) -> str:
    return host if (not host or "." in host or "*" in host) else f"{host}.{ns}.{DOMAIN}"


def _match_host(pattern: str, host: str) -> bool:
    return pattern == host or pattern == "*" or (pattern.startswith("*") and host.endswith(pattern[1:]))


# -- the routing answer for one host: plain records; the tools build their output models from them
# (tools/traffic.py, Model.model_validate(record, from_attributes=True)) -------------------------------------
def _lax_int(v: Any) -> Any:
    """A whole number written as a number or text ("50", 50.0) as an int, as the output model reads it; anything
    else as it is (the output model refuses it)."""
    if v is None or isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    if isinstance(v, (str, bytes)):
        text = v.decode(errors="replace") if isinstance(v, bytes) else v
        try:
            return int(text.strip())
        except ValueError:
            try:
                f = float(text.strip())
            except ValueError:
                return v
            return int(f) if f.is_integer() and "e" not in text.lower() else v
    return v


@dataclass(kw_only=True)
class Destination:
    host: str
    subset: str | None = None
    port: int | None = None
    weight: int | None = None


@dataclass(kw_only=True)
class EnvoyCluster:
    host: str
    subset: str | None = None
    port: int | None = None  # null: the port of the listener the request came in on
    weight: int | None = None  # relative weight; null for a single destination


@dataclass(kw_only=True)
class EnvoyMirror:
    host: str
    subset: str | None = None
    port: int | None = None
    percent: float


@dataclass(kw_only=True)
class EnvoyRetry:
    attempts: int
    retry_on: str
    retriable_status_codes: list[int] = field(default_factory=list)
    per_try_timeout: str | None = None


@dataclass(kw_only=True)
class EnvoyRoute:
    """What istiod sends Envoy for one VirtualService route."""

    reachable: bool  # false: after a catch-all route, istiod does not send it
    #: the Envoy routes istiod emits for it: one per match (name or name.matchName), none after a catch-all
    names: list[str] = field(default_factory=list)
    action: str  # route, redirect or direct_response; tcp_proxy for a TCP route
    match_ports: list[int] = field(default_factory=list)  # TCP routes: the listener ports it applies to ([] = any)
    clusters: list[EnvoyCluster] = field(default_factory=list)
    timeout: str = "0s"  # 0s = no timeout
    retry: EnvoyRetry | None = None  # null: retries off
    mirrors: list[EnvoyMirror] = field(default_factory=list)


@dataclass(kw_only=True)
class RouteEntry:
    kind: str  # http, tcp or tls
    index: int
    name: str | None = None
    match: list[str] = field(default_factory=list)  # each match as text; empty = every request
    destinations: list[Destination] = field(default_factory=list)
    timeout: str | None = None
    retries: str | None = None
    fault: str | None = None
    mirror: str | None = None
    rewrite: str | None = None
    headers: str | None = None
    redirect: str | None = None
    envoy: EnvoyRoute | None = None  # http routes: what Envoy is sent for this route


@dataclass(kw_only=True)
class VirtualServiceView:
    name: str  # "ns/name"
    gateways: list[str]
    hosts: list[str]
    routes: list[RouteEntry]


@dataclass(kw_only=True)
class SubsetView:
    name: str
    labels: dict[str, str]
    pods: int  # running pods the subset selects


@dataclass(kw_only=True)
class RoutingView:
    host: str
    service: str | None  # "ns/name" of the Service, or null
    ports: list[str] = field(default_factory=list)
    virtual_services: list[VirtualServiceView]
    destination_rule: str | None = None
    subsets: list[SubsetView] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)  # gateways that expose the host
    #: client namespace -> what its sidecars do for this host: the VirtualService, the default route, or not
    #: visible (Sidecar egress)
    clients: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # what will misroute, most severe first


def resolve_host(snap: Snapshot, host: str, namespace: str | None) -> tuple[str, dict | None]:
    """(FQDN, Service or None) for a short name, an FQDN or a Service name."""
    if "." in host:
        full = host if host.endswith(DOMAIN) or host.count(".") != 1 else f"{host}.{DOMAIN}"
        parts = full.split(".")
        svc = snap.get("Service", parts[0], parts[1]) if full.endswith(DOMAIN) else None
        return full, svc
    candidates = [s for s in snap.of("Service") if name_of(s) == host and (namespace is None or ns_of(s) == namespace)]
    if len(candidates) > 1:
        raise InvalidInput(f"Service {host!r} exists in several namespaces: "
                           f"{', '.join(sorted(ns_of(s) for s in candidates))}.", hint="pass namespace=.")
    if candidates:
        return fqdn(host, ns_of(candidates[0])), candidates[0]
    if namespace:
        return fqdn(host, namespace), None
    raise NotFound(f"No Service named {host!r}.", hint="pass namespace= or the FQDN (name.ns.svc.cluster.local).")


def virtual_services_for(snap: Snapshot, host: str) -> list[dict]:
    return [vs for vs in snap.of("VirtualService")
            if any(_match_host(fqdn(str(h), ns_of(vs)), host) for h in (vs.get("spec") or {}).get("hosts") or [])]


def routing_to(snap: Snapshot, host: str) -> list[dict]:
    """Gateway-bound VirtualServices whose routes send traffic to ``host`` (they expose it at the edge)."""
    out = []
    for vs in snap.of("VirtualService"):
        spec = vs.get("spec") or {}
        if "mesh" in (spec.get("gateways") or ["mesh"]):
            continue
        for kind in ("http", "tcp", "tls"):
            if any(fqdn(str((d.get("destination") or {}).get("host") or ""), ns_of(vs)) == host
                   for r in spec.get(kind) or [] for d in r.get("route") or []):
                out.append(vs)
                break
    return out


def destination_rule_for(snap: Snapshot, host: str) -> dict | None:
    exact = [dr for dr in snap.of("DestinationRule")
             if fqdn(str((dr.get("spec") or {}).get("host") or ""), ns_of(dr)) == host]
    return exact[0] if exact else None


def _describe_match(m: dict) -> str:
    parts = []
    for field in ("uri", "authority", "scheme", "method"):
        if m.get(field):
            (op, val), = list(m[field].items())[:1] or [("", "")]
            parts.append(f"{field} {op} {val}")
    for h, cond in (m.get("headers") or {}).items():
        if isinstance(cond, dict) and cond:
            op, val = next(iter(cond.items()))
            parts.append(f"header {h} {op} {val}")
        else:
            parts.append(f"header {h} present")
    for q, cond in (m.get("queryParams") or {}).items():
        op, val = next(iter((cond or {"present": ""}).items()))
        parts.append(f"query {q} {op} {val}")
    if m.get("port"):
        parts.append(f"port {m['port']}")
    if m.get("sourceLabels"):
        parts.append("from " + ",".join(f"{k}={v}" for k, v in m["sourceLabels"].items()))
    if m.get("gateways"):
        parts.append("gateways " + ",".join(m["gateways"]))
    if m.get("sniHosts"):
        parts.append("sni " + ",".join(m["sniHosts"]))
    return " and ".join(parts) or "any"


def _route_view(kind: str, i: int, r: dict, ns: str) -> RouteEntry:
    dests = [Destination(host=fqdn(str((d.get("destination") or {}).get("host") or ""), ns),
                         subset=(d.get("destination") or {}).get("subset"),
                         port=((d.get("destination") or {}).get("port") or {}).get("number"),
                         weight=_lax_int(d.get("weight"))) for d in r.get("route") or []]
    e = RouteEntry(kind=kind, index=i, name=r.get("name"), match=[_describe_match(m) for m in r.get("match") or []],
                   destinations=dests, timeout=r.get("timeout"))
    if r.get("retries"):
        rt = r["retries"]
        e.retries = f"{rt.get('attempts', 0)} attempts" + (f", {rt['perTryTimeout']} per try"
                                                           if rt.get("perTryTimeout") else "") + (
            f", on {rt['retryOn']}" if rt.get("retryOn") else "")
    if r.get("fault"):
        f = r["fault"]
        bits = []
        if f.get("delay"):
            bits.append(f"delay {f['delay'].get('fixedDelay')} for {(f['delay'].get('percentage') or {}).get('value', 100)}%")
        if f.get("abort"):
            bits.append(f"abort {f['abort'].get('httpStatus')} for {(f['abort'].get('percentage') or {}).get('value', 100)}%")
        e.fault = ", ".join(bits)
    mirrors = ([r["mirror"]] if r.get("mirror") else []) + [m.get("destination") or {} for m in r.get("mirrors") or []]
    if mirrors:
        pct = (r.get("mirrorPercentage") or {}).get("value", 100)
        e.mirror = ", ".join(f"{fqdn(str(m.get('host')), ns)}" + (f" subset {m['subset']}" if m.get("subset") else "")
                             for m in mirrors) + f" ({pct}%)"
    if r.get("rewrite"):
        e.rewrite = ", ".join(f"{k} -> {v}" for k, v in r["rewrite"].items())
    if r.get("headers"):
        e.headers = "; ".join(f"{k}: {', '.join(sorted((v or {}).get('set', {}) or (v or {}).get('add', {}) or []))}"
                              for k, v in r["headers"].items())
    if r.get("redirect"):
        e.redirect = ", ".join(f"{k}={v}" for k, v in r["redirect"].items())
    return e


# -- what Envoy is sent (pilot/pkg/networking/core/route/route.go, route/retry/retry.go) -------------------
#: Go's http.StatusText: the numbers Istio takes as status codes in retryOn
_HTTP_STATUS = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
                305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
                416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
                506, 507, 508, 510, 511}
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"


def is_catch_all(match: dict | None) -> bool:
    """IsCatchAllRoute: no match, or a path of prefix "/" or regex ".*" with no header, method, authority,
    scheme or query parameter condition."""
    if not match:
        return True
    if any(match.get(k) for k in ("headers", "withoutHeaders", "queryParams", "method", "authority", "scheme")):
        return False
    uri = match.get("uri")
    if not uri:
        return True
    return uri.get("prefix") == "/" or uri.get("regex") == ".*"


def _service_ports(snap: Snapshot, host: str) -> list[int]:
    parts = host.split(".")
    if len(parts) >= 3 and host.endswith("." + DOMAIN):
        svc = snap.get("Service", parts[0], parts[1])
        if svc is not None:
            return [int(p["port"]) for p in (svc.get("spec") or {}).get("ports") or [] if str(p.get("port", "")).isdigit()]
    return []


def _cluster_port(snap: Snapshot, dest: dict, ns: str) -> int | None:
    """GetDestinationCluster: the destination's port, else the Service's only port, else the listener's (None)."""
    number = (dest.get("port") or {}).get("number")
    if str(number).isdigit():
        return int(number)
    ports = _service_ports(snap, fqdn(str(dest.get("host") or ""), ns))
    return ports[0] if len(ports) == 1 else None


def retry_policy(retries: dict | None, mesh: dict | None) -> EnvoyRetry | None:
    """retry.ConvertPolicy of the route's retries, else of the mesh's defaultHttpRetryPolicy, else Istio's
    default (2 attempts)."""
    from .resilience import pb_duration

    policy = retries if retries is not None else (mesh or {}).get("defaultHttpRetryPolicy")
    if policy is None:
        return EnvoyRetry(attempts=2, retry_on=DEFAULT_RETRY_ON)
    attempts = int(policy.get("attempts") or 0)
    if attempts <= 0:
        return None
    retry_on, codes = DEFAULT_RETRY_ON, []
    if policy.get("retryOn"):
        words = []
        for part in str(policy["retryOn"]).split(","):
            part = part.strip()
            if not part:
                continue
            if part.lstrip("+-").isdigit() and int(part) in _HTTP_STATUS:
                codes.append(int(part))
            else:
                words.append(part)
        retry_on = ",".join(words)
        if codes and "retriable-status-codes" not in retry_on:
            retry_on += ",retriable-status-codes"
    return EnvoyRetry(attempts=attempts, retry_on=retry_on, retriable_status_codes=codes,
                      per_try_timeout=pb_duration(policy["perTryTimeout"]) if policy.get("perTryTimeout") else None)


def _mirror_percent(value: Any, default: float | None = 100.0) -> float | None:
    """The mirrored share as Envoy gets it (uint32(value*10000) per million); None: no mirror."""
    if value is None:
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return int(v * 10000) / 10000 if v > 0 else None


def route_names(r: dict, reachable: bool) -> list[str]:
    """TranslateRoute's names: the route's name, plus ".<match name>" per named match, one per match up to and
    including the first catch-all match."""
    if not reachable:
        return []
    base = str(r.get("name") or "")
    matches = r.get("match") or []
    if not matches:
        return [base]
    out = []
    for m in matches:
        out.append(base + ("." + str(m["name"]) if m.get("name") else ""))
        if is_catch_all(m):
            break
    return out


def envoy_route(snap: Snapshot, r: dict, ns: str, mesh: dict | None, reachable: bool) -> EnvoyRoute:
    from .resilience import pb_duration

    names = route_names(r, reachable)
    if r.get("redirect") is not None:
        return EnvoyRoute(reachable=reachable, names=names, action="redirect", retry=None)
    if r.get("directResponse") is not None:
        return EnvoyRoute(reachable=reachable, names=names, action="direct_response", retry=None)
    dests = list(r.get("route") or [])
    clusters = []
    for d in dests:
        dest = d.get("destination") or {}
        weight = int(d.get("weight") or 0)
        if len(dests) > 1 and weight == 0:
            continue
        clusters.append(EnvoyCluster(host=fqdn(str(dest.get("host") or ""), ns), subset=dest.get("subset") or None,
                                     port=_cluster_port(snap, dest, ns), weight=weight if len(dests) > 1 else None))
    mirrors = []
    if r.get("mirror"):
        pct = _mirror_percent((r.get("mirrorPercentage") or {}).get("value") if r.get("mirrorPercentage") is not None
                              else r.get("mirrorPercent"), 100.0)
        if r.get("mirrorPercentage") is not None and (r.get("mirrorPercentage") or {}).get("value") is None:
            pct = None  # an explicit mirrorPercentage without a value is 0%
        if pct is not None:
            m = r["mirror"]
            mirrors.append(EnvoyMirror(host=fqdn(str(m.get("host") or ""), ns), subset=m.get("subset") or None,
                                       port=_cluster_port(snap, m, ns), percent=pct))
    for m in r.get("mirrors") or []:
        dest = m.get("destination")
        if not dest:
            continue
        pct = _mirror_percent((m.get("percentage") or {}).get("value") if m.get("percentage") is not None else None)
        if m.get("percentage") is not None and (m.get("percentage") or {}).get("value") is None:
            pct = None
        if pct is not None:
            mirrors.append(EnvoyMirror(host=fqdn(str(dest.get("host") or ""), ns), subset=dest.get("subset") or None,
                                       port=_cluster_port(snap, dest, ns), percent=pct))
    return EnvoyRoute(reachable=reachable, names=names, action="route", clusters=clusters,
                      timeout=pb_duration(r["timeout"]) if r.get("timeout") else "0s",
                      retry=retry_policy(r.get("retries"), mesh), mirrors=mirrors)


def envoy_tcp_route(snap: Snapshot, r: dict, ns: str, svc: dict | None = None) -> EnvoyRoute:
    """A TCP route as the outbound listener's tcp_proxy (networkfilter.go buildOutboundNetworkFilters): one cluster,
    or weighted clusters without the 0-weight ones; it applies on the ports its matches name (any without), but
    never on a TLS or HTTPS port, where only tls routes count (tls.go buildSidecarOutboundTCPFilterChainOpts)."""
    dests = list(r.get("route") or [])
    clusters = []
    for d in dests:
        dest = d.get("destination") or {}
        weight = int(d.get("weight") or 0)
        if len(dests) > 1 and weight == 0:
            continue
        clusters.append(EnvoyCluster(host=fqdn(str(dest.get("host") or ""), ns), subset=dest.get("subset") or None,
                                     port=_cluster_port(snap, dest, ns), weight=weight if len(dests) > 1 else None))
    ports = sorted({int(m["port"]) for m in r.get("match") or [] if str(m.get("port", "")).isdigit()})
    if any(not m.get("port") for m in r.get("match") or []) or not r.get("match"):
        ports = []
    reachable = True
    if svc is not None:
        svc_ports = {int(sp["port"]): _port_protocol(sp) for sp in (svc.get("spec") or {}).get("ports") or []
                     if str(sp.get("port", "")).isdigit()}
        usable = [p for p, proto in svc_ports.items() if proto not in ("TLS", "HTTPS") and (not ports or p in ports)]
        if not ports and len(usable) != len(svc_ports):
            ports = sorted(usable)
        elif ports:
            ports = [p for p in ports if p in usable or p not in svc_ports]
        reachable = bool(usable)
    return EnvoyRoute(reachable=reachable, action="tcp_proxy", match_ports=ports, clusters=clusters, timeout="0s",
                      retry=None)


def reachable_routes(http: list[dict]) -> list[bool]:
    """Which HTTP routes istiod sends (BuildHTTPRoutesForVirtualService stops after the first catch-all)."""
    out, done = [], False
    for r in http:
        out.append(not done)
        if done:
            continue
        matches = r.get("match") or []
        if not matches or any(is_catch_all(m) for m in matches):
            done = True
    return out


# -- Sidecar visibility (pilot/pkg/model/sidecar.go) ---------------------------------------------------------
def sidecar_for(snap: Snapshot, namespace: str, labels: dict[str, str], root: str) -> dict | None:
    """The Sidecar of a workload: one whose workloadSelector matches it, else its namespace's default (no
    selector), else the root namespace's default."""
    from .mtls import _oldest

    def selector(sc: dict) -> dict:
        return ((sc.get("spec") or {}).get("workloadSelector") or {}).get("labels") or {}

    local = snap.of("Sidecar", namespace)
    chosen = _oldest([sc for sc in local if selector(sc) and all(labels.get(k) == v for k, v in selector(sc).items())])
    chosen = chosen or _oldest([sc for sc in local if not selector(sc)])
    if chosen is None and namespace != root:
        chosen = _oldest([sc for sc in snap.of("Sidecar", root) if not selector(sc)])
    return chosen


def _egress(sc: dict | None) -> list[tuple[str, str]]:
    if sc is None:
        return [("*", "*")]
    out = []
    for listener in (sc.get("spec") or {}).get("egress") or []:
        for h in listener.get("hosts") or []:
            ns, _, dns = str(h).partition("/")
            out.append((ns, dns) if dns else ("*", ns))
    return out or [("*", "*")]


def _dns_match(pattern: str, host: str) -> bool:
    if pattern == "*" or pattern == host:
        return True
    if pattern.startswith("*"):
        return host.endswith(pattern[1:])
    if host.startswith("*"):
        return pattern.endswith(host[1:])
    return False


def imports(sc: dict | None, obj_ns: str, hosts: list[str]) -> bool:
    """Whether a Sidecar's egress hosts import an object of namespace ``obj_ns`` with these hosts."""
    sc_ns = ns_of(sc) if sc else ""
    for ns, dns in _egress(sc):
        if ns == "~":
            continue
        if ns == "*" or ns == obj_ns or (ns == "." and obj_ns == sc_ns):
            if any(_dns_match(dns, h) for h in hosts):
                return True
    return False


def exported_to(obj: dict, client_ns: str) -> bool:
    """exportTo of an Istio config (spec.exportTo) or a Service (annotation networking.istio.io/exportTo,
    comma-separated); default: everywhere."""
    if obj.get("kind") == "Service":
        ann = ((obj.get("metadata") or {}).get("annotations") or {}).get("networking.istio.io/exportTo")
        export = [x.strip() for x in str(ann).split(",") if x.strip()] if ann else ["*"]
    else:
        export = (obj.get("spec") or {}).get("exportTo") or ["*"]
    return any(e == "*" or e == client_ns or (e == "." and client_ns == ns_of(obj)) for e in export)


_HTTP_FAMILY = ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web")


def _port_protocol(sp: dict) -> str:
    from ..analyzers.util import convert_protocol

    return convert_protocol(sp.get("port"), str(sp.get("name") or ""), str(sp.get("protocol") or "TCP"),
                            sp.get("appProtocol"))


def _http_ports(svc: dict) -> list[int]:
    """Service ports that get HTTP routes: the HTTP family, and undeclared (sniffed) ones."""
    return [int(sp["port"]) for sp in (svc.get("spec") or {}).get("ports") or []
            if str(sp.get("port", "")).isdigit() and _port_protocol(sp) in _HTTP_FAMILY + ("UnsupportedProtocol",)]


def _shared_http_ports(snap: Snapshot, sc: dict | None, client_ns: str) -> set[int]:
    """Ports on which a client's sidecar has a shared HTTP route configuration (named after the port): the
    HTTP-family ports of the Services its Sidecar imports. A host the Sidecar does not import, but an imported
    VirtualService names, gets routes only there."""
    out: set[int] = set()
    for svc in snap.of("Service"):
        full = f"{name_of(svc)}.{ns_of(svc)}.{DOMAIN}"
        if not imports(sc, ns_of(svc), [full]) or not exported_to(svc, client_ns):
            continue
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if str(sp.get("port", "")).isdigit() and _port_protocol(sp) in _HTTP_FAMILY:
                out.add(int(sp["port"]))
    return out


def client_views(snap: Snapshot, full: str, svc: dict | None, vss: list[dict], root: str) -> dict[str, str]:
    """client namespace (or "namespace/workload" for a workload with its own Sidecar) -> what its sidecars do for
    ``full``: the VirtualService that routes it, the default route, or not visible. A Service the Sidecar does
    not import (or that is not exported to the client) is still routed by an imported VirtualService for its host,
    on port 80 only, when the sidecar has an HTTP route configuration there (" [ports: 80]"); the services such a
    VirtualService sends to get clusters (pilot/pkg/model/sidecar.go "Infer more possible destinations from
    virtual services")."""
    from .workloads import owner_of, sidecar_of

    out: dict[str, str] = {}
    clients: list[tuple[str, str, dict | None]] = []  # (key, namespace, Sidecar)
    seen: set[str] = set()
    for pod in sorted(snap.of("Pod"), key=lambda p: (ns_of(p), name_of(p))):
        if sidecar_of(pod) != "istio" or not is_running(pod):
            continue
        ns = ns_of(pod)
        sc = sidecar_for(snap, ns, labels_of(pod), root)
        default = sidecar_for(snap, ns, {}, root)
        key = ns if sc is default else f"{ns}/{owner_of(pod)[1]}"  # a workload with its own Sidecar
        if key not in seen:
            seen.add(key)
            clients.append((key, ns, sc))
    by_age = lambda v: (str((v.get("metadata") or {}).get("creationTimestamp") or "9999"), name_of(v))  # noqa: E731
    mesh_vs = sorted([vs for vs in vss if "mesh" in ((vs.get("spec") or {}).get("gateways") or ["mesh"])],
                     key=by_age)
    for key, ns, sc in clients:
        sc_name = f"Sidecar {ns_of(sc)}/{name_of(sc)}" if sc else ""

        def in_scope(vs: dict, ns: str = ns, sc: dict | None = sc) -> bool:
            return exported_to(vs, ns) and imports(
                sc, ns_of(vs), [fqdn(str(h), ns_of(vs)) for h in (vs.get("spec") or {}).get("hosts") or []])

        visible = [vs for vs in mesh_vs if in_scope(vs)]
        if svc is not None and (not imports(sc, ns_of(svc), [full]) or not exported_to(svc, ns)):
            # not in the sidecar's registry: an imported VirtualService for the host still gets a virtual host, on
            # the port-80 HTTP route configuration only (route.go buildSidecarVirtualHostsForVirtualService, "a gross
            # HACK": hosts outside the registry, listener port 80), and the services it sends to get clusters
            routed = [80] if visible and 80 in _shared_http_ports(snap, sc, ns) else []
            if not routed:
                why = f"{sc_name or 'exportTo'} does not import {full}"
                if visible:
                    why += (f" (VirtualService {ns_of(visible[0])}/{name_of(visible[0])} is imported, but a host "
                            "outside the sidecar's registry is only routed on port 80, where it has no HTTP route)")
                out[key] = f"not visible: {why}"
                continue
            out[key] = (f"VirtualService {ns_of(visible[0])}/{name_of(visible[0])} [ports: "
                       f"{', '.join(str(p) for p in routed)}]")
            continue
        if visible:
            out[key] = f"VirtualService {ns_of(visible[0])}/{name_of(visible[0])}"
        elif mesh_vs:
            out[key] = (f"default route: VirtualService {ns_of(mesh_vs[0])}/{name_of(mesh_vs[0])} is not imported "
                       f"({sc_name or 'exportTo'})")
        else:
            out[key] = "default route (no VirtualService)"
    return out


def _match_key(m: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in m.items() if k != "name"))


def shadowed_routes(http: list[dict]) -> list[tuple[int, int]]:
    """(shadowed index, shadowing index): routes no request can reach because an earlier one takes them."""
    out = []
    for j, r in enumerate(http):
        mj = r.get("match") or []
        for i in range(j):
            mi = http[i].get("match") or []
            if not mi or any(not m or (set(m) == {"uri"} and (m["uri"].get("prefix") == "/")) for m in mi):
                out.append((j, i))
                break
            if mj and all(any(_covers(a, b) for a in mi) for b in mj):
                out.append((j, i))
                break
    return out


def _covers(a: dict, b: dict) -> bool:
    """Every request matching ``b`` also matches ``a``."""
    if _match_key(a) == _match_key(b):
        return True
    rest_a = {k: v for k, v in a.items() if k not in ("uri", "name")}
    rest_b = {k: v for k, v in b.items() if k not in ("uri", "name")}
    if _match_key(rest_a) != _match_key(rest_b) or "uri" not in a:
        return False
    pa = (a.get("uri") or {}).get("prefix")
    ub = b.get("uri") or {}
    target = ub.get("prefix") or ub.get("exact")
    return pa is not None and target is not None and str(target).startswith(str(pa))


def describe(snap: Snapshot, host: str, namespace: str | None = None) -> RoutingView:
    from .meshconfig import root_namespace
    from .mtls import mesh_config

    full, svc = resolve_host(snap, host, namespace)
    mesh = mesh_config(snap)
    root = root_namespace(mesh)
    vss = virtual_services_for(snap, full)
    vss += [vs for vs in routing_to(snap, full) if vs not in vss]
    dr = destination_rule_for(snap, full)
    view = RoutingView(host=full, service=f"{ns_of(svc)}/{name_of(svc)}" if svc else None,
                       ports=[f"{p.get('name', '')}:{p.get('port')}" for p in ((svc or {}).get("spec") or {}).get(
                           "ports") or []],
                       virtual_services=[], destination_rule=f"{ns_of(dr)}/{name_of(dr)}" if dr else None)
    findings: list[tuple[int, str]] = []
    if svc is None and not any("." in h and not h.endswith(DOMAIN) for h in [full]):
        findings.append((2, f"no Service for {full}: requests to it fail unless a ServiceEntry defines it"))
    selector = ((svc or {}).get("spec") or {}).get("selector") or {}
    pods = [p for p in snap.of("Pod", ns_of(svc)) if svc and selector and is_running(p)
            and all(labels_of(p).get(k) == v for k, v in selector.items())] if svc else []
    subsets = {}
    if dr:
        for s in (dr.get("spec") or {}).get("subsets") or []:
            labels = {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
            n = sum(1 for p in pods if all(labels_of(p).get(k) == v for k, v in labels.items()))
            subsets[str(s.get("name"))] = n
            view.subsets.append(SubsetView(name=str(s.get("name")), labels=labels, pods=n))
            if n == 0:
                findings.append((2, f"subset {s.get('name')} of {view.destination_rule} selects no running pod: "
                                    "traffic to it gets 503 (no healthy upstream)"))
    mesh_bound = []
    for vs in vss:
        spec = vs.get("spec") or {}
        gws = list(spec.get("gateways") or ["mesh"])
        v = VirtualServiceView(name=f"{ns_of(vs)}/{name_of(vs)}", gateways=gws, hosts=list(spec.get("hosts") or []),
                               routes=[])
        if "mesh" in gws:
            mesh_bound.append(v.name)
        for kind in ("http", "tcp", "tls"):
            routes = spec.get(kind) or []
            reach = reachable_routes(routes) if kind == "http" else []
            for i, r in enumerate(routes):
                e = _route_view(kind, i, r, ns_of(vs))
                if kind == "http":
                    e.envoy = envoy_route(snap, r, ns_of(vs), mesh, reach[i])
                elif kind == "tcp":
                    e.envoy = envoy_tcp_route(snap, r, ns_of(vs), svc)
                v.routes.append(e)
                weights = [d.weight for d in e.destinations]
                if len(weights) > 1 or any(w is not None for w in weights):
                    total = sum(w or 0 for w in weights)
                    if total != 100:  # valid: Istio takes weights as relative (1.15+)
                        w = {(d.subset or d.host.split(".")[0]): d.weight or 0 for d in e.destinations}
                        findings.append((1, f"{v.name} {kind}[{i}]" + (f" ({e.name})" if e.name else "")
                                            + f": weights are relative (total {total}): {shares(w)}"))
                for d in e.destinations:
                    if d.subset and d.host == full and d.subset not in subsets:
                        findings.append((3, f"{v.name} {kind}[{i}] routes to subset {d.subset}, which no "
                                            f"DestinationRule for {full} defines: requests fail (503 NR)"))
            if kind == "http":
                for j, i in shadowed_routes(routes):
                    findings.append((1, f"{v.name} http[{j}] is shadowed by http[{i}] (it matches first): "
                                        "no request reaches it"))
        for g in gws:
            if g != "mesh":
                view.gateways.append(g if "/" in g else f"{ns_of(vs)}/{g}")
        view.virtual_services.append(v)
    if len(mesh_bound) > 1:
        findings.append((3, f"several VirtualServices route {full} for the mesh ({', '.join(mesh_bound)}): "
                            "Istio merges them unpredictably; keep one"))
    view.gateways = sorted(set(view.gateways))
    view.clients = client_views(snap, full, svc, vss, root)
    findings.sort(key=lambda f: -f[0])
    view.findings = [f for _, f in findings]
    return view


# -- the pure halves of the traffic writes --------------------------------------------------------
def validate_weights(weights: dict[str, Any]) -> dict[str, int]:
    """Whole, non-negative weights, at least one above 0. Istio (since 1.15) and the Gateway API take weights as
    relative: each destination gets weight / total of the traffic, whatever the total (see :func:`shares`)."""
    if not weights:
        raise InvalidInput("No weights given.", hint='give subset weights, e.g. {"v1": 90, "v2": 10}.')
    out = {}
    for subset, w in weights.items():
        if not isinstance(subset, str) or not subset or len(subset) > 63:
            raise InvalidInput(f"Invalid subset name {str(subset)[:63]!r}" + ("..." if len(str(subset)) > 63 else "")
                               + ".", hint="subset names are DNS labels of at most 63 characters, e.g. v1.")
        if isinstance(w, bool) or not isinstance(w, int) and not (isinstance(w, str) and w.isdigit()):
            raise InvalidInput(f"Weight of {subset} must be a whole number, got {str(w)[:40]!r}.",
                               hint="use whole numbers >= 0.")
        n = int(w)
        if n < 0:
            raise InvalidInput(f"Weight of {subset} is {n}: weights are >= 0.", hint="use whole numbers >= 0.")
        out[subset] = n
    if not sum(out.values()):
        raise InvalidInput("Every weight is 0: no destination would get traffic.",
                           hint="give at least one destination a weight above 0.")
    return out


def shares(weights: dict[str, int]) -> str:
    """What each destination gets, e.g. "v1 91%, v2 9%" (weights are relative)."""
    total = sum(weights.values()) or 1
    return ", ".join(f"{k} {100 * v / total:.3g}%" for k, v in weights.items())


def main_http_route(vs: dict) -> int | None:
    """The route a split edits: the last catch-all HTTP route (no match), else the last route."""
    http = (vs.get("spec") or {}).get("http") or []
    for i in range(len(http) - 1, -1, -1):
        if not http[i].get("match"):
            return i
    return len(http) - 1 if http else None


def with_split(vs: dict | None, host_short: str, namespace: str, full: str, weights: dict[str, int],
               port: int | None) -> dict:
    """The VirtualService with its main route sending ``weights`` to the subsets."""
    dests = []
    for subset, w in weights.items():
        d: dict[str, Any] = {"host": host_short, "subset": subset}
        if port:
            d["port"] = {"number": port}
        dests.append({"destination": d, "weight": w})
    if vs is None:
        return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": host_short, "namespace": namespace},
                "spec": {"hosts": [host_short], "http": [{"name": "split", "route": dests}]}}
    new = copy.deepcopy(vs)
    http = new.setdefault("spec", {}).setdefault("http", [])
    i = main_http_route(new)
    if i is None:
        http.append({"name": "split", "route": dests})
    else:
        http[i]["route"] = dests
    return new


def with_mirror(vs: dict, host_short: str, subset: str, percent: float) -> dict:
    new = copy.deepcopy(vs)
    http = new.setdefault("spec", {}).setdefault("http", [])
    i = main_http_route(new)
    if i is None:
        raise InvalidInput(f"VirtualService {ns_of(vs)}/{name_of(vs)} has no HTTP route to mirror from.",
                           hint="create a split first (set_traffic_split).")
    route = http[i]
    route.pop("mirrors", None)
    if percent == 0:
        route.pop("mirror", None)
        route.pop("mirrorPercentage", None)
    else:
        route["mirror"] = {"host": host_short, "subset": subset}
        route["mirrorPercentage"] = {"value": percent}
    return new


def with_subsets(dr: dict | None, host_short: str, namespace: str, subsets: dict[str, dict[str, str]]) -> dict:
    if dr is None:
        return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": host_short, "namespace": namespace},
                "spec": {"host": host_short, "subsets": [{"name": n, "labels": lb} for n, lb in subsets.items()]}}
    new = copy.deepcopy(dr)
    have = {s.get("name") for s in new.setdefault("spec", {}).setdefault("subsets", [])}
    for n, lb in subsets.items():
        if n not in have:
            new["spec"]["subsets"].append({"name": n, "labels": lb})
    return new


def canary_objects(host: str, namespace: str, stable: str, canary: str, weight: int, label: str,
                   versions: list[str]) -> list[dict]:
    """A DestinationRule (a subset per version, conservative outlier detection) and a VirtualService sending
    ``weight`` to the canary and the rest to the stable subset. Objects, never text: values from pods and
    arguments cannot change the YAML's structure."""
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
          "metadata": {"name": host, "namespace": namespace},
          "spec": {"host": host,
                   "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 10, "interval": "60s",
                                                          "baseEjectionTime": "30s", "maxEjectionPercent": 50}},
                   "subsets": [{"name": v, "labels": {label: v}} for v in versions]}}
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": host, "namespace": namespace},
          "spec": {"hosts": [host], "http": [{"name": "canary", "route": [
              {"destination": {"host": host, "subset": stable}, "weight": 100 - weight},
              {"destination": {"host": host, "subset": canary}, "weight": weight}]}]}}
    return [dr, vs]
