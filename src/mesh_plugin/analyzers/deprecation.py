"""deprecation.DeprecationAnalyzer: deprecated Istio types and fields (IST0002)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq, spec

DEPRECATED_CRDS = (("rbac.istio.io", "ClusterRbacConfig"), ("rbac.istio.io", "RbacConfig"),
                   ("rbac.istio.io", "ServiceRole"), ("rbac.istio.io", "ServiceRoleBinding"))


class DeprecationAnalyzer(Analyzer):
    name = "deprecation.DeprecationAnalyzer"
    description = "Checks for deprecated Istio types and fields"
    inputs = ("VirtualService", "Sidecar", "CustomResourceDefinition")

    def analyze(self, ctx: Context) -> None:
        for vs in ctx.of("VirtualService"):
            for route in seq(spec(vs).get("http")):
                delay = mapping(mapping(mapping(route).get("fault")).get("delay"))
                if isinstance(delay.get("percent"), int) and delay["percent"] > 0:
                    ctx.report("IST0002", vs, "HTTPRoute.fault.delay.percent is deprecated; use "
                                              "HTTPRoute.fault.delay.percentage")
        for sc in ctx.of("Sidecar"):
            if mapping(spec(sc).get("outboundTrafficPolicy")).get("egressProxy") is not None:
                ctx.report("IST0002", sc, "OutboundTrafficPolicy.EgressProxy ignored")
        for crd in ctx.of("CustomResourceDefinition"):
            s = spec(crd)
            if (s.get("group"), mapping(s.get("names")).get("kind")) in DEPRECATED_CRDS:
                ctx.report("IST0002", crd, f"Custom resource type {s['group']} {s['names']['kind']} is removed")
