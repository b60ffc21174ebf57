"""serviceentry.Analyzer: ServiceEntries with TCP (or unset-protocol) ports and no addresses, where neither the
mesh nor the status allocates one (IST0134)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq, spec


class ServiceEntryAnalyzer(Analyzer):
    name = "serviceentry.Analyzer"
    description = "Checks the validity of ServiceEntry"
    inputs = ("ServiceEntry", "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        md = ctx.mesh.proxy_metadata
        auto = md.get("ISTIO_META_DNS_CAPTURE") == "true" and (
            md.get("ISTIO_META_DNS_AUTO_ALLOCATE") == "true" or md.get("PILOT_ENABLE_IP_AUTOALLOCATE") == "true")
        if auto:
            return
        for se in ctx.of("ServiceEntry"):
            s = spec(se)
            if seq(s.get("addresses")) or seq(mapping(se.get("status")).get("addresses")):
                continue
            for i, port in enumerate(seq(s.get("ports"))):
                proto = str(mapping(port).get("protocol") or "")
                if proto == "" or proto.upper() == "TCP":
                    ctx.report("IST0134", se, path=f"{{.spec.ports[{i}].name}}")
