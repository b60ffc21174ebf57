"""virtualservice.DestinationRuleAnalyzer: subsets named by routes and mirrors must exist in a DestinationRule."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import destinations, fqdn, spec


class DestinationRuleAnalyzer(Analyzer):
    name = "virtualservice.DestinationRuleAnalyzer"
    description = "Checks every subset a VirtualService routes or mirrors to is defined by a DestinationRule"
    inputs = ("VirtualService", "DestinationRule")

    def analyze(self, ctx: Context) -> None:
        subsets: dict[str, set[str]] = {}
        for dr in ctx.of("DestinationRule"):
            host = fqdn(str(spec(dr).get("host") or ""), ns_of(dr))
            subsets.setdefault(host, set()).update(str(s.get("name")) for s in spec(dr).get("subsets") or [])
        for vs in ctx.of("VirtualService"):
            for _, dest in destinations(vs):
                subset = dest.get("subset")
                if not subset:
                    continue
                host = fqdn(str(dest.get("host") or ""), ns_of(vs))
                if subset not in subsets.get(host, set()):
                    ctx.report("IST0101", vs, "host+subset in destinationrule", f"{host}+{subset}")
