"""destinationrule.CaCertificateAnalyzer: SIMPLE/MUTUAL TLS that does not verify the server certificate."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import spec


def _unverified(tls: dict | None, has_selector: bool) -> bool:
    if not tls or tls.get("mode") not in ("SIMPLE", "MUTUAL"):
        return False
    if tls.get("caCertificates") or tls.get("insecureSkipVerify"):
        return False
    # a credentialName carries the CA only where it is read: gateways / workloadSelector-scoped rules
    return not (tls.get("credentialName") and has_selector)


class CaCertificateAnalyzer(Analyzer):
    name = "destinationrule.CaCertificateAnalyzer"
    description = "Checks DestinationRules with TLS SIMPLE or MUTUAL set caCertificates to verify the server"
    inputs = ("DestinationRule",)

    def analyze(self, ctx: Context) -> None:
        for dr in ctx.of("DestinationRule"):
            s = spec(dr)
            has_sel = bool(s.get("workloadSelector"))
            tp = s.get("trafficPolicy") or {}
            tls = tp.get("tls") or {}
            if _unverified(tls, has_sel):
                ctx.report("IST0128", dr, name_of(dr), ns_of(dr) or "default", tls.get("mode"), s.get("host"))
            for pls in tp.get("portLevelSettings") or []:
                ptls = pls.get("tls") or {}
                if _unverified(ptls, has_sel):
                    ctx.report("IST0129", dr, name_of(dr), ns_of(dr) or "default", ptls.get("mode"), s.get("host"),
                               (pls.get("port") or {}).get("number"))
