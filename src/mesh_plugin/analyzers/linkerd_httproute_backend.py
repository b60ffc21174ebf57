"""mesh.linkerd.HTTPRouteBackendAnalyzer (MESH): HTTPRoute backendRefs must name an existing Service.

Gateway API HTTPRoutes that Istio accepts are left to mesh.gatewayapi.RouteAnalyzer (MESH0702 says what istiod
makes of an unresolved backend); this one covers Linkerd's HTTPRoutes and the Gateway API ones only Linkerd reads
(e.g. parentRefs with group core, which Istio ignores)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from ..mesh import gatewayapi as G
from .base import Analyzer, Context
from .util import spec


class HTTPRouteBackendAnalyzer(Analyzer):
    name = "mesh.linkerd.HTTPRouteBackendAnalyzer"
    aliases = ("linkerd.HTTPRouteBackendAnalyzer",)
    description = "Checks HTTPRoute backendRefs (Linkerd traffic splits) name Services that exist"
    inputs = ("policy.linkerd.io/HTTPRoute", G.HTTPROUTE, G.GRPCROUTE, G.GATEWAY, G.REFERENCE_GRANT, G.GATEWAY_CLASS,
              "Service", "Namespace", "ServiceEntry")

    def analyze(self, ctx: Context) -> None:
        services = {(ns_of(s), name_of(s)) for s in ctx.of("Service")}
        istio: set[tuple[str, str]] = set()
        if ctx.of(G.HTTPROUTE):
            istio = {(ns_of(i.route), name_of(i.route)) for i in G.translate(ctx).routes
                     if i.key == G.HTTPROUTE and any(s.accepted for s in i.status)}
        for key in ("policy.linkerd.io/HTTPRoute", G.HTTPROUTE):
            for route in ctx.of(key):
                if key == G.HTTPROUTE and (ns_of(route), name_of(route)) in istio:
                    continue
                for rule in spec(route).get("rules") or []:
                    for ref in rule.get("backendRefs") or []:
                        if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
                            continue
                        ns = ref.get("namespace") or ns_of(route)
                        if (ns, ref.get("name")) not in services:
                            ctx.report("MESH0503", route, ref.get("name"), ns)
