"""gateway.CertificateAnalyzer: one certificate on several gateways of the same workloads (IST0138)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import full_name, mapping, seq, spec, str_map

#: features.ScopeGatewayToNamespace (PILOT_SCOPE_GATEWAY_TO_NAMESPACE) defaults to false
SCOPE_GATEWAY_TO_NAMESPACE = False


def same_certificate(a: dict, b: dict) -> bool:
    if a.get("credentialName") and b.get("credentialName"):
        return a["credentialName"] == b["credentialName"]
    if not a.get("credentialName") and not b.get("credentialName"):
        if a.get("serverCertificate") and b.get("serverCertificate") and \
                a["serverCertificate"] == b["serverCertificate"]:
            if a.get("privateKey") and b.get("privateKey"):
                return a["privateKey"] == b["privateKey"]
    return False


def selector_subset(x: dict[str, str], y: dict[str, str]) -> bool:
    """Every key of x is in y with the same value."""
    return all(k in y and y[k] == v for k, v in x.items())


class CertificateAnalyzer(Analyzer):
    name = "gateway.CertificateAnalyzer"
    description = "Checks a gateway certificate"
    inputs = ("Gateway",)

    def analyze(self, ctx: Context) -> None:
        gateways = ctx.of("Gateway")
        by_selector: dict[tuple, list[dict]] = {}
        for gw in gateways:
            by_selector.setdefault(tuple(sorted(str_map(spec(gw).get("selector")).items())), []).append(gw)
        for gw in gateways:
            sel = str_map(spec(gw).get("selector"))
            servers = [mapping(s) for s in seq(spec(gw).get("servers"))]
            if not any(isinstance(s.get("tls"), dict) for s in servers):
                continue
            for other in self._candidates(gateways, by_selector, gw, sel):
                if other is gw or full_name(other) == full_name(gw):
                    continue
                for cur in servers:
                    for srv in seq(spec(other).get("servers")):
                        a, b = cur.get("tls"), mapping(srv).get("tls")
                        if isinstance(a, dict) and isinstance(b, dict) and same_certificate(a, b):
                            ctx.report("IST0138", gw, [full_name(gw), full_name(other)], path="{.metadata.name}")

    @staticmethod
    def _candidates(gateways: list[dict], by_selector: dict[tuple, list[dict]], gw: dict, sel: dict[str, str]
                    ) -> list[dict]:
        if not sel:
            out = gateways
        else:
            out = [g for key, group in by_selector.items() if selector_subset(sel, dict(key)) for g in group]
        if SCOPE_GATEWAY_TO_NAMESPACE:
            out = [g for g in out if ns_of(g) == ns_of(gw)]
        return out
