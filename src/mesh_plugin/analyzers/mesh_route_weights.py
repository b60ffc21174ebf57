"""mesh.routing.WeightsAnalyzer (MESH0201, Info): route weights that do not add up to 100, with the share of
traffic each destination really gets.

Istio's weights are relative (since 1.15 a total other than 100 is valid): with several destinations, each
gets weight/total, and a destination without a weight (0) gets none; a single destination gets everything
whatever its weight. A total of 0 across several destinations is a schema error Istio reports (IST0106), not
this. So this never says the configuration is wrong: it says what the weights mean.
"""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq, spec


def _label(dest: dict) -> str:
    d = mapping(dest.get("destination"))
    host = str(d.get("host") or "?")
    subset = d.get("subset")
    port = mapping(d.get("port")).get("number")
    return host + (f" subset {subset}" if subset else "") + (f" port {port}" if port else "")


def shares(dests: list[dict]) -> list[tuple[str, float]]:
    """(destination, percent of traffic) as Envoy applies it."""
    weights = [int(mapping(d).get("weight") or 0) for d in dests]
    total = sum(weights)
    if len(dests) == 1:
        return [(_label(mapping(dests[0])), 100.0)]
    return [(_label(mapping(d)), 100.0 * w / total if total else 0.0) for d, w in zip(dests, weights)]


class RouteWeightsAnalyzer(Analyzer):
    name = "mesh.routing.WeightsAnalyzer"
    description = ("Explains route weights that do not add up to 100: they are relative; says the share each "
                   "destination gets")
    inputs = ("VirtualService",)
    aliases = ("virtualservice.WeightsAnalyzer",)

    def analyze(self, ctx: Context) -> None:
        for vs in ctx.of("VirtualService"):
            for kind in ("http", "tcp", "tls"):
                for i, route in enumerate(seq(spec(vs).get(kind))):
                    dests = [mapping(d) for d in seq(mapping(route).get("route"))]
                    if not dests or all(d.get("weight") is None for d in dests):
                        continue
                    total = sum(int(d.get("weight") or 0) for d in dests)
                    if total == 100 or (total == 0 and len(dests) > 1):
                        continue
                    label = mapping(route).get("name") or f"{kind}[{i}]"
                    split = ", ".join(f"{name} gets {pct:.4g}%" for name, pct in shares(dests))
                    ctx.report("MESH0201", vs, repr(str(label)), total, split)
