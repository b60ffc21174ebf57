"""virtualservice.ConflictingMeshGatewayHostsAnalyzer: VirtualServices of the mesh gateway that define the same
host where both are visible (IST0109).

Hosts exported to every namespace are indexed by name (and wildcards kept apart), so each scoped host looks
up its mesh-wide peers instead of scanning every host (issue 23)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import (EXPORT_ALL, EXPORT_LOCAL, MESH_GATEWAY, convert_host_to_fqdn, full_name, host_matches,
                   is_export_to_all, seq, spec)


class ConflictingMeshGatewayHostsAnalyzer(Analyzer):
    name = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
    description = "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts"
    inputs = ("VirtualService",)

    def analyze(self, ctx: Context) -> None:
        scoped: dict[tuple[str, str], list[dict]] = {}
        for vs in ctx.of("VirtualService"):
            s = spec(vs)
            gateways = [str(g) for g in seq(s.get("gateways"))]
            if gateways and MESH_GATEWAY not in gateways:
                continue
            exports = [str(e) for e in seq(s.get("exportTo"))]
            if is_export_to_all(exports):
                scopes = [EXPORT_ALL]
            else:
                scopes = list(dict.fromkeys(ns_of(vs) if e == EXPORT_LOCAL else e for e in exports))
            for scope in scopes:
                for h in seq(s.get("hosts")):
                    scoped.setdefault((scope, convert_host_to_fqdn(ns_of(vs), str(h))), []).append(vs)
        global_exact: dict[str, list[list[dict]]] = {}
        global_wild: list[tuple[str, list[dict]]] = []
        for (scope, host), items in scoped.items():
            if scope == EXPORT_ALL:
                if host.startswith("*"):
                    global_wild.append((host, items))
                else:
                    global_exact.setdefault(host, []).append(items)
        reported: set[str] = set()
        for (scope, host), items in scoped.items():
            group = list(items)
            if scope != EXPORT_ALL:
                if host.startswith("*"):
                    peers = [vs for h, vss in scoped.items() if h[0] == EXPORT_ALL and host_matches(host, h[1])
                             for vs in vss]
                else:
                    peers = [vs for vss in global_exact.get(host, []) for vs in vss]
                    peers += [vs for h, vss in global_wild if host_matches(host, h) for vs in vss]
                group += peers
            if len(group) < 2:
                continue
            names = ",".join(sorted(full_name(v) for v in group))
            for vs in group:
                if full_name(vs) in reported:
                    continue
                reported.add(full_name(vs))
                ctx.report("IST0109", vs, names, f"{scope}/{host}", path="{.metadata.name}")
