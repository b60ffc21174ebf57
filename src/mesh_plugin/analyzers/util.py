"""Shared helpers for analyzers: host names, exportTo visibility, selectors, gateway workloads. Pure."""
from __future__ import annotations

from typing import Any

from ..kube.snapshot import annotations_of, labels_of, name_of, ns_of
from .base import Context, matches

DOMAIN = "svc.cluster.local"
MESH_GATEWAY = "mesh"
SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease", "local-path-storage", "istio-system",
                     "istio-operator"}


def spec(obj: dict) -> dict:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


def fqdn(host: str, namespace: str) -> str:
    """Istio's short-name resolution: a name without dots is a Service in the resource's namespace."""
    if not host or "*" in host or "." in host:
        return host
    return f"{host}.{namespace}.{DOMAIN}"


def host_matches(pattern: str, host: str) -> bool:
    """Istio host matching: exact, or ``*.suffix`` wildcards (``*`` matches everything)."""
    if pattern == "*" or pattern == host:
        return True
    if pattern.startswith("*"):
        if host.startswith("*"):
            return host[1:].endswith(pattern[1:])
        return host.endswith(pattern[1:])
    return False


def hosts_overlap(a: str, b: str) -> bool:
    return host_matches(a, b) or host_matches(b, a)


def export_namespaces(exports: list[str] | None, own: str) -> set[str] | None:
    """The namespaces a resource is visible in; None means every namespace."""
    if not exports or "*" in exports:
        return None
    return {own if e == "." else e for e in exports}


def visible_in(exports: set[str] | None, namespace: str) -> bool:
    return exports is None or namespace in exports


def service_exports(svc: dict) -> set[str] | None:
    raw = annotations_of(svc).get("networking.istio.io/exportTo")
    return export_namespaces([x.strip() for x in raw.split(",")] if raw else None, ns_of(svc))


def service_fqdn(svc: dict) -> str:
    return f"{name_of(svc)}.{ns_of(svc)}.{DOMAIN}"


def selector_labels(obj: dict, *paths: str) -> dict[str, str] | None:
    """The first selector found at the given spec paths (e.g. 'selector.matchLabels', 'workloadSelector.labels')."""
    s = spec(obj)
    for p in paths:
        cur: Any = s
        for part in p.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            return {str(k): str(v) for k, v in cur.items()}
    return None


def gateway_pods(ctx: Context, gw: dict) -> list[dict]:
    """Pods a networking Gateway selects: any namespace (Istio's default gateway scoping)."""
    sel = spec(gw).get("selector") or {}
    if not sel:
        return []
    return [p for p in ctx.of("Pod") if matches(sel, labels_of(p))]


def services_for_pod(ctx: Context, pod: dict) -> list[dict]:
    out = []
    for svc in ctx.of("Service", ns_of(pod)):
        sel = spec(svc).get("selector") or {}
        if sel and matches(sel, labels_of(pod)):
            out.append(svc)
    return out


def namespace_names(ctx: Context) -> set[str]:
    return set(ctx.namespaces())


def find_gateway(ctx: Context, ref: str, vs_ns: str) -> tuple[dict | None, str, str]:
    """(gateway or None, namespace, name) for a VirtualService gateway reference ``[ns/]name``."""
    ns, _, name = ref.rpartition("/")
    ns = ns or vs_ns
    if "." in name and not ns:  # legacy name.namespace form
        name, _, ns = name.partition(".")
    for key in ("Gateway", "gateway.networking.k8s.io/Gateway"):
        for gw in ctx.of(key, ns):
            if name_of(gw) == name:
                return gw, ns, name
    return None, ns, name


def gateway_hosts(gw: dict) -> list[tuple[str, str]]:
    """(namespace scope, host) pairs a gateway exposes. Scope '*' = any VS namespace, '.' = the gateway's."""
    out = []
    s = spec(gw)
    if "listeners" in s:  # Gateway API
        for lst in s.get("listeners") or []:
            out.append(("*", lst.get("hostname") or "*"))
        return out
    for server in s.get("servers") or []:
        for h in server.get("hosts") or []:
            scope, _, host = h.rpartition("/")
            out.append((scope or "*", host))
    return out


def destinations(vs: dict) -> list[tuple[str, dict]]:
    """Every (route kind, destination) in a VirtualService: http/tcp/tls routes and mirrors."""
    out: list[tuple[str, dict]] = []
    s = spec(vs)
    for kind in ("http", "tcp", "tls"):
        for route in s.get(kind) or []:
            for r in route.get("route") or []:
                out.append((kind, r.get("destination") or {}))
            if kind == "http":
                if route.get("mirror"):
                    out.append(("mirror", route["mirror"]))
                for m in route.get("mirrors") or []:
                    out.append(("mirror", m.get("destination") or {}))
    return out


def vs_gateways(vs: dict) -> list[str]:
    return list(spec(vs).get("gateways") or [MESH_GATEWAY])


def port_number(p: Any) -> int | None:
    try:
        return int(p)
    except (TypeError, ValueError):
        return None
