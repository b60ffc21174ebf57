"""virtualservice.DestinationHostAnalyzer: destinations (routes and mirrors) whose host no Service or
ServiceEntry visible to the VirtualService defines (IST0101), whose port it does not expose (IST0101) or
that need a port to choose among several (IST0112); gateway routes without a subset to a host another
VirtualService splits by subset (IST0140)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import full_name, mapping, seq, service_hosts, spec
from .vs_util import Dest, dest_path, mirror_destinations, route_destinations


def _check_ports(ctx: Context, vs: dict, d: Dest, se: dict) -> None:
    port = d.destination.get("port")
    ports = [mapping(p) for p in seq(se.get("ports"))]
    host = str(d.destination.get("host") or "")
    if port is None:
        if len(ports) > 1:
            ctx.report("IST0112", vs, host, [int(p.get("number") or 0) for p in ports], path=dest_path(d))
        return
    number = int(mapping(port).get("number") or 0)
    if not any(int(p.get("number") or 0) == number for p in ports):
        ctx.report("IST0101", vs, "host:port", f"{host}:{number}", path=dest_path(d))


class DestinationHostAnalyzer(Analyzer):
    name = "virtualservice.DestinationHostAnalyzer"
    description = "Checks the destination hosts associated with each virtual service"
    inputs = ("ServiceEntry", "VirtualService", "Service")

    def analyze(self, ctx: Context) -> None:
        hosts = service_hosts(ctx)
        # initVirtualServiceDestinations: destinations with a subset whose host is one of the VS's hosts
        subset_dests: dict[str, list[tuple[str, int]]] = {}  # destination host -> [(VS full name, count)]
        for vs in ctx.of("VirtualService"):
            vs_hosts = [str(h) for h in seq(spec(vs).get("hosts"))]
            counts: dict[str, int] = {}
            for r in seq(spec(vs).get("http")):
                for rd in seq(mapping(r).get("route")):
                    dest = mapping(mapping(rd).get("destination"))
                    if dest.get("subset"):
                        h = str(dest.get("host") or "")
                        counts[h] = counts.get(h, 0) + vs_hosts.count(h)
            for h, n in counts.items():
                if n:
                    subset_dests.setdefault(h, []).append((full_name(vs), n))
        for vs in ctx.of("VirtualService"):
            s = spec(vs)
            for kind, dests in (("host", route_destinations(vs)), ("mirror host", mirror_destinations(vs))):
                for d in dests:
                    se = hosts.lookup(ns_of(vs), seq(s.get("exportTo")), str(d.destination.get("host") or ""))
                    if se is None:
                        ctx.report("IST0101", vs, kind, str(d.destination.get("host") or ""), path=dest_path(d))
                        continue
                    _check_ports(ctx, vs, d, se)
            if not seq(s.get("gateways")):
                continue
            for i, http in enumerate(seq(s.get("http"))):
                for j, rd in enumerate(seq(mapping(http).get("route"))):
                    dest = mapping(mapping(rd).get("destination"))
                    if dest.get("subset"):
                        continue
                    for other, n in subset_dests.get(str(dest.get("host") or ""), []):
                        for _ in range(n):
                            ctx.report("IST0140", vs, other, full_name(vs),
                                       path=f"{{.spec.{mapping(http).get('name') or ''}[{i}].route[{j}]"
                                            ".destination.host}")
