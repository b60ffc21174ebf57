"""mesh.ambient.TargetRefAnalyzer (MESH0605): policies attached with targetRefs that no waypoint takes.

A ``targetRefs`` policy is for waypoints (and Gateway API gateways) only: sidecars and ztunnel ignore it
(pilot/pkg/model/policyattachment.go ``ShouldAttachPolicy``). When its Service has no waypoint
(``AncestorNotBound``), the target does not exist (``TargetNotFound``), or the reference is invalid, it is
enforced nowhere; istiod writes ``WaypointAccepted=False`` on AuthorizationPolicies in a live cluster
(IST0171 reports it there), files carry no status, so this computes it (policies.go
``WaypointPolicyStatusCollection``). A reference to another namespace never matches.
"""
from __future__ import annotations

from ..kube.kinds import KINDS
from ..mesh import ambient
from .base import Analyzer, Context

POLICIES = ("AuthorizationPolicy", "RequestAuthentication")


class TargetRefAnalyzer(Analyzer):
    name = "mesh.ambient.TargetRefAnalyzer"
    description = "Flags policies whose targetRefs reach no waypoint or gateway: they are enforced nowhere"
    inputs = (*POLICIES, "Service", "ServiceEntry", "Namespace", "Pod", ambient.GATEWAY_KEY,
              *(k for k in ambient.GATEWAY_CLASS_KEYS if k in KINDS), "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        root = ctx.mesh.root_namespace
        policies = [(k, p) for k in POLICIES for p in ctx.of(k) if ambient.target_refs(p)]
        if not policies:
            return
        for k in self.inputs:
            if k != "MeshConfig":
                ctx.of(k)
        gateways = {f"{(g.get('metadata') or {}).get('namespace')}/{(g.get('metadata') or {}).get('name')}"
                    for g in ctx.of(ambient.GATEWAY_KEY)}
        for _, pol in policies:
            statuses = ambient.waypoint_policy_status(ctx.snap, pol, root)
            ns = str((pol.get("metadata") or {}).get("namespace") or "")
            bad = []
            for ref, st in zip(ambient.target_refs(pol), statuses):
                tns = str(ref.get("namespace") or "")
                kind = str(ref.get("kind") or "")
                if tns and tns != ns and kind != "GatewayClass":
                    bad.append(f"{st.ancestor} (a policy only applies in its own namespace)")
                elif kind == "Gateway" and f"{ns}/{ref.get('name')}" in gateways:
                    continue  # a Gateway API gateway (ingress or waypoint) takes it
                elif not st.bound:
                    bad.append(f"{st.ancestor} ({st.reason}: {st.message})")
            if bad and len(bad) == len(statuses):
                ctx.report("MESH0605", pol, "; ".join(bad[:3]))
