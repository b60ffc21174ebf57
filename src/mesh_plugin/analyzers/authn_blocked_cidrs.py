"""authn.BlockedCIDRsAnalyzer: JWKS URIs whose literal IP istiod refuses to fetch (BLOCKED_CIDRS_IN_JWKS_URIS)."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from ..kube.snapshot import labels_of
from .base import Analyzer, Context
from .util import spec


def blocked_cidrs(ctx: Context) -> list[ipaddress._BaseNetwork]:
    nets: list[ipaddress._BaseNetwork] = []
    for dep in ctx.of("Deployment"):
        if labels_of(dep).get("app") != "istiod":
            continue
        for c in (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
            for env in c.get("env") or []:
                if env.get("name") == "BLOCKED_CIDRS_IN_JWKS_URIS":
                    for part in str(env.get("value") or "").split(","):
                        try:
                            nets.append(ipaddress.ip_network(part.strip(), strict=False))
                        except ValueError:
                            continue
    return nets


class BlockedCIDRsAnalyzer(Analyzer):
    name = "authn.BlockedCIDRsAnalyzer"
    description = "Checks RequestAuthentication jwksUri addresses against istiod's BLOCKED_CIDRS_IN_JWKS_URIS"
    inputs = ("RequestAuthentication", "Deployment")

    def analyze(self, ctx: Context) -> None:
        nets = blocked_cidrs(ctx)
        if not nets:
            return
        for ra in ctx.of("RequestAuthentication"):
            for rule in spec(ra).get("jwtRules") or []:
                host = urlparse(str(rule.get("jwksUri") or "")).hostname or ""
                try:
                    ip = ipaddress.ip_address(host)
                except ValueError:
                    continue  # a DNS name: resolved by istiod at run time, not checked offline
                if any(ip in n for n in nets):
                    ctx.report("MESH0404", ra, rule.get("jwksUri"))
