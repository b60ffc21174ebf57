"""mesh.linkerd.HTTPRouteBackendAnalyzer (MESH): HTTPRoute backendRefs must name an existing Service."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import spec


class HTTPRouteBackendAnalyzer(Analyzer):
    name = "mesh.linkerd.HTTPRouteBackendAnalyzer"
    aliases = ("linkerd.HTTPRouteBackendAnalyzer",)
    description = "Checks HTTPRoute backendRefs (Linkerd traffic splits) name Services that exist"
    inputs = ("policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute", "Service")

    def analyze(self, ctx: Context) -> None:
        services = {(ns_of(s), name_of(s)) for s in ctx.of("Service")}
        for key in ("policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute"):
            for route in ctx.of(key):
                for rule in spec(route).get("rules") or []:
                    for ref in rule.get("backendRefs") or []:
                        if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
                            continue
                        ns = ref.get("namespace") or ns_of(route)
                        if (ns, ref.get("name")) not in services:
                            ctx.report("MESH0503", route, ref.get("name"), ns)
