"""gateway.ConflictingGatewayAnalyzer: gateways on the same workloads and port that claim the same host."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import hosts_overlap, spec


class ConflictingGatewayAnalyzer(Analyzer):
    name = "gateway.ConflictingGatewayAnalyzer"
    description = "Checks gateways with one workload selector and port do not define the same host"
    inputs = ("Gateway",)

    def analyze(self, ctx: Context) -> None:
        entries: list[tuple[dict, tuple, int, str]] = []
        for gw in ctx.of("Gateway"):
            sel = tuple(sorted((spec(gw).get("selector") or {}).items()))
            for server in spec(gw).get("servers") or []:
                number = (server.get("port") or {}).get("number")
                if not number:
                    continue
                for h in server.get("hosts") or []:
                    entries.append((gw, sel, int(number), h.rpartition("/")[2]))
        conflicts: dict[int, tuple[dict, set[str], tuple, int, set[str]]] = {}
        for i, (gw, sel, port, host) in enumerate(entries):
            for gw2, sel2, port2, host2 in entries[i + 1:]:
                if gw2 is gw or sel != sel2 or port != port2 or not hosts_overlap(host, host2):
                    continue
                for a, b in ((gw, gw2), (gw2, gw)):
                    c = conflicts.setdefault(id(a), (a, set(), sel, port, set()))
                    c[1].add(f"{ns_of(b)}/{name_of(b)}")
                    c[4].add(host)
        for gw, others, sel, port, hosts in conflicts.values():
            ctx.report("IST0145", gw, ", ".join(sorted(others)), ", ".join(f"{k}={v}" for k, v in sel), port,
                       ", ".join(sorted(hosts)))
