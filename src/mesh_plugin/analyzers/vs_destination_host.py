"""virtualservice.DestinationHostAnalyzer: destinations (and mirrors) must name a visible service and port."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import (MESH_GATEWAY, export_namespaces, fqdn, host_matches, service_exports, service_fqdn, spec,
                   visible_in, vs_gateways, destinations)


class DestinationHostAnalyzer(Analyzer):
    name = "virtualservice.DestinationHostAnalyzer"
    description = "Checks VirtualService destinations name a service (or ServiceEntry) and port visible to them"
    inputs = ("VirtualService", "Service", "ServiceEntry", "DestinationRule")

    def analyze(self, ctx: Context) -> None:
        services: dict[str, list[tuple[set[str] | None, dict]]] = {}
        for s in ctx.of("Service"):
            services.setdefault(service_fqdn(s), []).append((service_exports(s), s))
        entries = [(h, export_namespaces(spec(se).get("exportTo"), ns_of(se)), se)
                   for se in ctx.of("ServiceEntry") for h in spec(se).get("hosts") or []]
        mesh_vs_subsets = self._mesh_subset_hosts(ctx)
        for vs in ctx.of("VirtualService"):
            own = ns_of(vs)
            exports = export_namespaces(spec(vs).get("exportTo"), own)
            viewers = [own] if exports is None else sorted(exports)
            for _, dest in destinations(vs):
                host = fqdn(str(dest.get("host") or ""), own)
                port = (dest.get("port") or {}).get("number")
                for viewer in viewers:
                    svc = next((s for vis, s in services.get(host, []) if visible_in(vis, viewer)), None)
                    se = next((e for h, vis, e in entries if host and host_matches(h, host) and visible_in(vis, viewer)),
                              None)
                    if svc is None and se is None:
                        ctx.report("IST0101", vs, "host", host or dest.get("host", ""))
                        break
                    ports = [int(p.get("port") or 0) for p in spec(svc).get("ports") or []] if svc is not None else \
                        [int(p.get("number") or 0) for p in spec(se).get("ports") or []]
                    if port is not None and ports and int(port) not in ports:
                        ctx.report("IST0101", vs, "host+port", f"{host}+{port}")
                        break
                    if port is None and svc is not None and len(ports) > 1:
                        ctx.report("IST0112", vs, host, ports)
                        break
            self._ingress_subsets(ctx, vs, mesh_vs_subsets)

    @staticmethod
    def _mesh_subset_hosts(ctx: Context) -> dict[str, dict]:
        """host -> a mesh-bound VirtualService for it that routes by subset."""
        out: dict[str, dict] = {}
        for vs in ctx.of("VirtualService"):
            if MESH_GATEWAY in vs_gateways(vs) and any(d.get("subset") for _, d in destinations(vs)):
                for h in spec(vs).get("hosts") or []:
                    out.setdefault(fqdn(str(h), ns_of(vs)), vs)
        return out

    @staticmethod
    def _ingress_subsets(ctx: Context, vs: dict, mesh_subsets: dict[str, dict]) -> None:
        """IST0140: a gateway VS routes to a host whose subset routing lives only in mesh VirtualServices."""
        gateways = [g for g in vs_gateways(vs) if g != MESH_GATEWAY]
        if not gateways:
            return
        for _, dest in destinations(vs):
            if dest.get("subset"):
                continue
            other = mesh_subsets.get(fqdn(str(dest.get("host") or ""), ns_of(vs)))
            if other is not None and other is not vs:
                ctx.report("IST0140", vs, f"{ns_of(other)}/{name_of(other)}", ", ".join(gateways))
                return
