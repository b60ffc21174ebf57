"""serviceentry.Analyzer: TCP (or unset protocol) ports need addresses unless DNS auto-allocation is on."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import spec


class ServiceEntryAnalyzer(Analyzer):
    name = "serviceentry.Analyzer"
    description = "Checks ServiceEntries with TCP or unset-protocol ports have addresses (or DNS auto-allocation)"
    inputs = ("ServiceEntry",)

    def analyze(self, ctx: Context) -> None:
        if str(ctx.mesh.proxy_metadata.get("ISTIO_META_DNS_AUTO_ALLOCATE", "")).lower() == "true":
            return
        for se in ctx.of("ServiceEntry"):
            s = spec(se)
            if s.get("addresses"):
                continue
            if any(str(p.get("protocol") or "").upper() in ("", "TCP") for p in s.get("ports") or []):
                ctx.report("IST0134", se)
