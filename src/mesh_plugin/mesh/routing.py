"""Routing explained: VirtualServices, DestinationRule subsets and gateways for one host. Pure.

Also the pure halves of the traffic writes: validating weights and building the edited objects.
"""
from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from ..errors import InvalidInput, NotFound
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from .workloads import is_running

DOMAIN = "svc.cluster.local"


def fqdn(host: str, ns: str) -> str:
    return host if (not host or "." in host or "*" in host) else f"{host}.{ns}.{DOMAIN}"


def _match_host(pattern: str, host: str) -> bool:
    return pattern == host or pattern == "*" or (pattern.startswith("*") and host.endswith(pattern[1:]))


class Destination(BaseModel):
    host: str
    subset: str | None = None
    port: int | None = None
    weight: int | None = None


class RouteEntry(BaseModel):
    kind: str = Field(description="http, tcp or tls")
    index: int
    name: str | None = None
    match: list[str] = Field(default=[], description="each match as text; empty = every request")
    destinations: list[Destination] = []
    timeout: str | None = None
    retries: str | None = None
    fault: str | None = None
    mirror: str | None = None
    rewrite: str | None = None
    headers: str | None = None
    redirect: str | None = None


class VirtualServiceView(BaseModel):
    name: str = Field(description='"ns/name"')
    gateways: list[str]
    hosts: list[str]
    routes: list[RouteEntry]


class SubsetView(BaseModel):
    name: str
    labels: dict[str, str]
    pods: int = Field(description="running pods the subset selects")


class RoutingView(BaseModel):
    host: str
    service: str | None = Field(description='"ns/name" of the Service, or null')
    ports: list[str] = []
    virtual_services: list[VirtualServiceView]
    destination_rule: str | None = None
    subsets: list[SubsetView] = []
    gateways: list[str] = Field(default=[], description="gateways that expose the host")
    findings: list[str] = Field(default=[], description="what will misroute, most severe first")


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
                         weight=d.get("weight")) for d in r.get("route") or []]
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
    full, svc = resolve_host(snap, host, namespace)
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
            for i, r in enumerate(routes):
                e = _route_view(kind, i, r, ns_of(vs))
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
