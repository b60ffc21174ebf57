"""mesh.ambient.WaypointIdentityAnalyzer (MESH0607): an L4 ALLOW on an ambient pod that refuses its own waypoint.

When traffic to a pod goes through a waypoint, the destination ztunnel sees the waypoint's identity, not the
client's (istio/ztunnel assert_rbac on the HBONE connection from the waypoint). A selector policy that allows
only client principals, namespaces or service accounts then refuses everything coming through the waypoint.
Allow the waypoint's service account too, or move the rule to the waypoint with ``targetRefs``. Evaluated with
ztunnel's matching on the policy as istiod converts it, for each port the pod's bound Services target.
"""
from __future__ import annotations

from ..kube.kinds import KINDS
from ..mesh import ambient
from .base import Analyzer, Context


class WaypointIdentityAnalyzer(Analyzer):
    name = "mesh.ambient.WaypointIdentityAnalyzer"
    description = "Flags L4 ALLOW policies on ambient pods behind a waypoint that do not allow the waypoint's identity"
    inputs = ("AuthorizationPolicy", "Pod", "Service", "Namespace", ambient.GATEWAY_KEY,
              *(k for k in ambient.GATEWAY_CLASS_KEYS if k in KINDS), "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        policies = [p for p in ctx.of("AuthorizationPolicy") if not ambient.target_refs(p)]
        if not policies or not ctx.of(ambient.GATEWAY_KEY):
            return
        for k in self.inputs:
            if k != "MeshConfig":
                ctx.of(k)
        shown = {f"{(p.get('metadata') or {}).get('namespace')}/{(p.get('metadata') or {}).get('name')}"
                 for p in ctx.of("Pod")}
        view = ambient.ambient_view(ctx.snap)  # once: the candidate pods only, not every pod per policy
        if not view.of("Pod"):
            return
        for ap in policies:
            blocked = [b for b in ambient.waypoint_blocked(view, ap, ctx.mesh.root_namespace,
                                                           ctx.mesh.trust_domain, intended=True) if b.pod in shown]
            if blocked:
                b = blocked[0]
                pods = sorted({x.pod.split("/", 1)[1] for x in blocked})
                more = f" and {len(pods) - 3} more" if len(pods) > 3 else ""
                ctx.report("MESH0607", ap, ", ".join(pods[:3]) + more, b.waypoint, b.principal)
