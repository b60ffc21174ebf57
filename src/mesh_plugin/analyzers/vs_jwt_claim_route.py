"""virtualservice.JWTClaimRouteAnalyzer: routing on JWT claims needs a RequestAuthentication on the gateway."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context, matches
from .util import find_gateway, gateway_pods, selector_labels, spec

CLAIM_PREFIX = "@request.auth.claims"


def _claim_keys(vs: dict) -> list[str]:
    keys = []
    for route in spec(vs).get("http") or []:
        for m in route.get("match") or []:
            for field in ("headers", "withoutHeaders"):
                keys += [k for k in (m.get(field) or {}) if str(k).startswith(CLAIM_PREFIX)]
    return keys


def ra_applies(ctx: Context, ra: dict, pod: dict) -> bool:
    sel = selector_labels(ra, "selector.matchLabels")
    if ns_of(ra) == ctx.mesh.root_namespace and not sel:
        return True
    return ns_of(ra) == ns_of(pod) and (not sel or matches(sel, labels_of(pod)))


class JWTClaimRouteAnalyzer(Analyzer):
    name = "virtualservice.JWTClaimRouteAnalyzer"
    description = "Checks VirtualServices that route on JWT claims have a RequestAuthentication on their gateway pods"
    inputs = ("VirtualService", "Gateway", "Pod", "RequestAuthentication")

    def analyze(self, ctx: Context) -> None:
        ras = ctx.of("RequestAuthentication")
        for vs in ctx.of("VirtualService"):
            keys = _claim_keys(vs)
            if not keys:
                continue
            for ref in spec(vs).get("gateways") or []:
                gw, _, _ = find_gateway(ctx, ref, ns_of(vs))
                if gw is None:
                    continue
                for pod in gateway_pods(ctx, gw):
                    if not any(ra_applies(ctx, ra, pod) for ra in ras):
                        ctx.report("IST0149", vs, keys[0], ref, f"{ns_of(pod)}/{name_of(pod)}")
                        break
