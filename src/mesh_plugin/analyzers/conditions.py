"""conditions.ConditionAnalyzer: negative status conditions Istio or a Gateway controller set (IST0171)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq

GW = "gateway.networking.k8s.io"
_ROUTE = {"Accepted": "False", "Programmed": "False", "ResolvedRefs": "False"}
_WAYPOINT = {"istio.io/WaypointBound": "False"}
#: kind key -> condition type -> the status that is negative
NEGATIVE: dict[str, dict[str, str]] = {
    "Service": _WAYPOINT,
    "ServiceEntry": _WAYPOINT,
    "WorkloadEntry": _WAYPOINT,
    "AuthorizationPolicy": {"ZtunnelAccepted": "False", "WaypointAccepted": "False"},
    f"{GW}/Gateway": _ROUTE,
    f"{GW}/HTTPRoute": _ROUTE,
    f"{GW}/GRPCRoute": _ROUTE,
}


def conditions_of(key: str, obj: dict) -> list[dict]:
    status = mapping(obj.get("status"))
    if key in (f"{GW}/HTTPRoute", f"{GW}/GRPCRoute"):
        out: list[dict] = []
        for parent in seq(status.get("parents")):
            out += [c for c in seq(mapping(parent).get("conditions")) if isinstance(c, dict)]
        return out
    return [c for c in seq(status.get("conditions")) if isinstance(c, dict)]


class ConditionAnalyzer(Analyzer):
    name = "conditions.ConditionAnalyzer"
    description = "Checks for negative status conditions on resources"
    inputs = tuple(NEGATIVE)

    def analyze(self, ctx: Context) -> None:
        for key, negative in NEGATIVE.items():
            for obj in ctx.of(key):
                for c in conditions_of(key, obj):
                    ctype, status = str(c.get("type") or ""), str(c.get("status") or "")
                    reason, message = str(c.get("reason") or ""), str(c.get("message") or "")
                    if ctype in negative and negative[ctype] == status:
                        ctx.report("IST0171", obj, ctype, reason, message)
                    if key == "AuthorizationPolicy" and ctype == "WaypointAccepted" and reason == "PartiallyInvalid":
                        ctx.report("IST0171", obj, ctype, reason, message)
