"""mesh.security.JwksBlockedCIDRAnalyzer (MESH0404): a jwksUri whose literal IP istiod refuses to fetch.

Istio's authn.BlockedCIDRsAnalyzer (IST0175) says when BLOCKED_CIDRS_IN_JWKS_URIS is missing; this says
when it is set and a RequestAuthentication's jwksUri falls inside it, so the keys are never fetched.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from ..kube.snapshot import labels_of
from .authn_blocked_cidrs import istiod_blocked_cidrs
from .base import Analyzer, Context
from .util import mapping, seq, spec


def blocked_cidrs(ctx: Context) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for dep in ctx.of("Deployment"):
        if labels_of(dep).get("app") != "istiod":
            continue
        for part in (istiod_blocked_cidrs(dep) or "").split(","):
            try:
                nets.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                continue
    return nets


class JwksBlockedCIDRAnalyzer(Analyzer):
    name = "mesh.security.JwksBlockedCIDRAnalyzer"
    description = "Checks RequestAuthentication jwksUri addresses against istiod's BLOCKED_CIDRS_IN_JWKS_URIS"
    inputs = ("RequestAuthentication", "Deployment")

    def analyze(self, ctx: Context) -> None:
        nets = blocked_cidrs(ctx)
        if not nets:
            return
        for ra in ctx.of("RequestAuthentication"):
            for rule in seq(spec(ra).get("jwtRules")):
                uri = str(mapping(rule).get("jwksUri") or "")
                try:
                    ip = ipaddress.ip_address(urlparse(uri).hostname or "")
                except ValueError:
                    continue  # a DNS name: resolved by istiod at run time, not checked offline
                if any(ip in n for n in nets):
                    ctx.report("MESH0404", ra, uri)
