"""gateway.CertificateAnalyzer: one certificate on gateways that share workloads (HTTP/2 coalescing 404s)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import spec


def _certs(gw: dict) -> set[str]:
    out = set()
    for server in spec(gw).get("servers") or []:
        tls = server.get("tls") or {}
        cert = tls.get("credentialName") or tls.get("serverCertificate")
        if cert:
            out.add(str(cert))
    return out


class CertificateAnalyzer(Analyzer):
    name = "gateway.CertificateAnalyzer"
    description = "Checks gateways that run on the same workloads do not share a certificate"
    inputs = ("Gateway",)

    def analyze(self, ctx: Context) -> None:
        gws = ctx.of("Gateway")
        for gw in gws:
            sel = spec(gw).get("selector") or {}
            certs = _certs(gw)
            if not certs:
                continue
            dups = []
            for other in gws:
                if other is gw:
                    continue
                osel = spec(other).get("selector") or {}
                # other's workloads are all selected by gw: both configure the same proxies
                if sel.items() <= osel.items() and certs & _certs(other):
                    dups.append(f"{ns_of(other)}/{name_of(other)}")
            if dups:
                ctx.report("IST0138", gw, ", ".join([f"{ns_of(gw)}/{name_of(gw)}", *sorted(dups)]))
