"""schema.ValidationAnalyzer: required fields and enum values of mesh resources (IST0106)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import spec

ENUMS = {
    ("PeerAuthentication", "mtls.mode"): ("UNSET", "DISABLE", "PERMISSIVE", "STRICT"),
    ("AuthorizationPolicy", "action"): ("ALLOW", "DENY", "AUDIT", "CUSTOM"),
    ("DestinationRule", "trafficPolicy.tls.mode"): ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"),
}


def _get(d: dict, path: str) -> object:
    cur: object = d
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


class SchemaAnalyzer(Analyzer):
    name = "schema.ValidationAnalyzer"
    description = "Checks mesh resources have their required fields and valid enum values"
    inputs = ("VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "PeerAuthentication",
              "AuthorizationPolicy", "RequestAuthentication")

    def analyze(self, ctx: Context) -> None:
        for vs in ctx.of("VirtualService"):
            s = spec(vs)
            if not s.get("hosts") and not s.get("http"):
                ctx.report("IST0106", vs, "virtual service must have at least one host")
            for kind in ("http", "tcp", "tls"):
                for i, route in enumerate(s.get(kind) or []):
                    if not route.get("route") and not route.get("redirect") and not route.get("directResponse") \
                            and not route.get("delegate"):
                        ctx.report("IST0106", vs, f"{kind}[{i}]: route, redirect or directResponse is required")
                    for d in route.get("route") or []:
                        if not (d.get("destination") or {}).get("host"):
                            ctx.report("IST0106", vs, f"{kind}[{i}]: destination.host is required")
        for dr in ctx.of("DestinationRule"):
            if not spec(dr).get("host"):
                ctx.report("IST0106", dr, "host is required")
        for gw in ctx.of("Gateway"):
            for i, server in enumerate(spec(gw).get("servers") or []):
                if not (server.get("port") or {}).get("number"):
                    ctx.report("IST0106", gw, f"servers[{i}]: port.number is required")
                if not server.get("hosts"):
                    ctx.report("IST0106", gw, f"servers[{i}]: at least one host is required")
        for se in ctx.of("ServiceEntry"):
            if not spec(se).get("hosts"):
                ctx.report("IST0106", se, "hosts is required")
        for ra in ctx.of("RequestAuthentication"):
            for i, rule in enumerate(spec(ra).get("jwtRules") or []):
                if not rule.get("issuer"):
                    ctx.report("IST0106", ra, f"jwtRules[{i}]: issuer is required")
        for (key, path), allowed in ENUMS.items():
            for obj in ctx.of(key):
                value = _get(spec(obj), path)
                if value is not None and str(value).upper() not in allowed:
                    ctx.report("IST0106", obj, f"{path}: {value!r} is not one of {', '.join(allowed)}")
