"""virtualservice.DestinationRuleAnalyzer: subsets that routes and mirrors name but no DestinationRule for the
host defines (IST0101)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import mapping, resource_name_from_host, seq, spec
from .vs_util import dest_path, mirror_destinations, route_destinations


class DestinationRuleAnalyzer(Analyzer):
    name = "virtualservice.DestinationRuleAnalyzer"
    description = "Checks the destination rules associated with each virtual service"
    inputs = ("VirtualService", "DestinationRule")

    def analyze(self, ctx: Context) -> None:
        known: set[tuple[tuple[str, str], str]] = set()
        for dr in ctx.of("DestinationRule"):
            host = resource_name_from_host(ns_of(dr), str(spec(dr).get("host") or ""))
            for ss in seq(spec(dr).get("subsets")):
                known.add((host, str(mapping(ss).get("name") or "")))
        for vs in ctx.of("VirtualService"):
            for what, dests in (("host+subset in destinationrule", route_destinations(vs)),
                                ("mirror+subset in destinationrule", mirror_destinations(vs))):
                for d in dests:
                    subset = str(d.destination.get("subset") or "")
                    host = str(d.destination.get("host") or "")
                    if subset and (resource_name_from_host(ns_of(vs), host), subset) not in known:
                        ctx.report("IST0101", vs, what, f"{host}+{subset}", path=dest_path(d))
