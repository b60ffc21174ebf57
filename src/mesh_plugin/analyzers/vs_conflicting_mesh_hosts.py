"""virtualservice.ConflictingMeshGatewayHostsAnalyzer: two mesh VirtualServices for one host, visible together."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import MESH_GATEWAY, export_namespaces, fqdn, spec, vs_gateways


class ConflictingMeshGatewayHostsAnalyzer(Analyzer):
    name = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
    description = "Checks VirtualServices bound to the mesh gateway do not define the same host in one scope"
    inputs = ("VirtualService",)

    def analyze(self, ctx: Context) -> None:
        scoped: dict[tuple[str, str], list[dict]] = {}
        for vs in ctx.of("VirtualService"):
            if MESH_GATEWAY not in vs_gateways(vs):
                continue
            vis = export_namespaces(spec(vs).get("exportTo"), ns_of(vs))
            scope = "*" if vis is None else ns_of(vs)
            for h in spec(vs).get("hosts") or []:
                scoped.setdefault((scope, fqdn(str(h), ns_of(vs))), []).append(vs)
        reported: set[int] = set()
        for (scope, host), items in sorted(scoped.items(), key=lambda kv: kv[0]):
            group = list(items) if scope == "*" else items + [v for v in scoped.get(("*", host), []) if v not in items]
            if len(group) < 2:
                continue
            names = ",".join(sorted(f"{ns_of(v)}/{name_of(v)}" for v in group))
            for vs in group:
                if id(vs) not in reported:
                    reported.add(id(vs))
                    ctx.report("IST0109", vs, names, host)
