"""virtualservice.WeightsAnalyzer (MESH): the weights of one route must add up to 100."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import spec


class RouteWeightsAnalyzer(Analyzer):
    name = "virtualservice.WeightsAnalyzer"
    description = "Checks the destination weights of every HTTP/TCP/TLS route add up to 100"
    inputs = ("VirtualService",)

    def analyze(self, ctx: Context) -> None:
        for vs in ctx.of("VirtualService"):
            for kind in ("http", "tcp", "tls"):
                for i, route in enumerate(spec(vs).get(kind) or []):
                    dests = route.get("route") or []
                    weights = [d.get("weight") for d in dests]
                    if len(dests) < 2 and all(w is None for w in weights):
                        continue
                    if all(w is None for w in weights):
                        continue
                    total = sum(int(w or 0) for w in weights)
                    if total != 100:
                        label = route.get("name") or f"{kind}[{i}]"
                        ctx.report("MESH0201", vs, repr(label), total)
