"""virtualservice.JWTClaimRouteAnalyzer: routing on JWT claims through a gateway whose pods no
RequestAuthentication covers (IST0149). Gateway pods come from the index (issue 23)."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import ISTIO_SYSTEM, Analyzer, Context
from .util import MESH_GATEWAY, mapping, seq, set_matches, short_or_full_name, spec, str_map

HEADER_JWT_CLAIM = "@request.auth.claims"


def is_claim_key(key: str) -> bool:
    """jwt.ToRoutingClaim(key).Match: ``@request.auth.claims.<a>.<b>`` or ``@request.auth.claims[a][b]``."""
    if not key.lower().startswith(HEADER_JWT_CLAIM):
        return False
    name = key[len(HEADER_JWT_CLAIM):]
    return (name.startswith(".") and len(name) > 1) or (name.startswith("[") and name.endswith("]") and len(name) > 2)


def claim_route_key(vs: dict) -> str:
    for route in seq(spec(vs).get("http")):
        for match in seq(mapping(route).get("match")):
            match = mapping(match)
            for field in ("headers", "withoutHeaders"):
                for key in mapping(match.get(field)):
                    if is_claim_key(str(key)):
                        return str(key)
    return ""


class JWTClaimRouteAnalyzer(Analyzer):
    name = "virtualservice.JWTClaimRouteAnalyzer"
    description = "Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication"
    inputs = ("VirtualService", "RequestAuthentication", "Gateway", "Pod")

    def analyze(self, ctx: Context) -> None:
        ra_by_ns: dict[str, list[dict[str, str]]] = {}
        for ra in ctx.of("RequestAuthentication"):
            ra_by_ns.setdefault(ns_of(ra), []).append(
                str_map(mapping(spec(ra).get("selector")).get("matchLabels")))
        for vs in ctx.of("VirtualService"):
            key = claim_route_key(vs)
            if not key:
                continue
            for gw_name in (str(g) for g in seq(spec(vs).get("gateways"))):
                if gw_name == MESH_GATEWAY:
                    continue
                ns, name = short_or_full_name(ns_of(vs), gw_name)
                gw = ctx.find("Gateway", name, ns)
                if gw is None:
                    continue
                for pod in ctx.pods.select(None, str_map(spec(gw).get("selector"))):
                    selectors = ra_by_ns.get(ISTIO_SYSTEM, []) + ra_by_ns.get(ns_of(pod), [])
                    if not any(set_matches(sel, labels_of(pod)) for sel in selectors):
                        ctx.report("IST0149", vs, key, f"{ns}/{name}" if ns else name, name_of(pod))
