"""destinationrule.CaCertificateAnalyzer: TLS SIMPLE/MUTUAL that does not verify the server (IST0128/0129)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import full_name, mapping, seq, spec


def _unverified(tls: dict, has_selector: bool) -> bool:
    if tls.get("mode") not in ("SIMPLE", "MUTUAL"):
        return False
    # a credentialName carries the CA only where it is read: workloadSelector-scoped rules
    return not tls.get("caCertificates") and not (tls.get("credentialName") and has_selector)


class CaCertificateAnalyzer(Analyzer):
    name = "destinationrule.CaCertificateAnalyzer"
    description = "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL"
    inputs = ("DestinationRule",)

    def analyze(self, ctx: Context) -> None:
        for dr in ctx.of("DestinationRule"):
            s = spec(dr)
            has_sel = s.get("workloadSelector") is not None
            tp = mapping(s.get("trafficPolicy"))
            tls = mapping(tp.get("tls"))
            host = str(s.get("host") or "")
            if _unverified(tls, has_sel):
                ctx.report("IST0128", dr, full_name(dr), ns_of(dr), tls["mode"], host,
                           path="{.spec.trafficPolicy.tls.caCertificates}")
            for i, pls in enumerate(seq(tp.get("portLevelSettings"))):
                ptls = mapping(mapping(pls).get("tls"))
                if _unverified(ptls, has_sel):
                    number = mapping(mapping(pls).get("port")).get("number")
                    ctx.report("IST0129", dr, full_name(dr), ns_of(dr), ptls["mode"], host,
                               f"number:{number}" if number else "",
                               path=f"{{.spec.trafficPolicy.portLevelSettings[{i}].tls.caCertificates}}")
