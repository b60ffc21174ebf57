"""mesh.ambient.ZtunnelPolicyAnalyzer (MESH): what istiod's ztunnel conversion does to selector, namespace and
mesh-wide AuthorizationPolicies on ambient pods (pilot/pkg/serviceregistry/ambient/authorization.go
``convertAuthorizationPolicy`` / ``handleRule``). Istio accepts these with ``ZtunnelAccepted=True`` and
reason ``UnsupportedValue`` and no analyzer code (IST0171 stays silent); the effect is often the opposite of
what the policy says:

- MESH0601: an ALLOW whose every rule has HTTP fields reaches ztunnel with no rules and denies every connection;
- MESH0602: a DENY whose rules all lose a whole clause to the HTTP fields denies nothing at ztunnel;
- MESH0603: rules kept without their HTTP parts (more restrictive than written);
- MESH0604: CUSTOM, AUDIT and dry-run policies are not sent to ztunnel (not enforced for ambient pods).

Ambient pods: captured (``ambient.istio.io/redirection=enabled``), or, in files without that annotation, pods
the istio-cni enablement selectors will capture.
"""
from __future__ import annotations

from ..mesh import ambient
from .base import Analyzer, Context


def _names(pods: list[dict]) -> str:
    names = sorted(str((p.get("metadata") or {}).get("name")) for p in pods)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


class ZtunnelPolicyAnalyzer(Analyzer):
    name = "mesh.ambient.ZtunnelPolicyAnalyzer"
    description = ("Explains what ztunnel enforces of AuthorizationPolicies on ambient pods: HTTP rules dropped, "
                   "ALLOW policies that deny everything, DENY policies with no effect, unsupported actions")
    inputs = ("AuthorizationPolicy", "Pod", "Namespace", "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        root = ctx.mesh.root_namespace
        policies = ctx.of("AuthorizationPolicy")
        ctx.of("Namespace")
        shown = {id(p) for p in ctx.of("Pod")}
        view = ambient.ambient_view(ctx.snap) if policies else None  # once: the candidate pods only
        if view is None or not any(ambient.in_ambient(p) or not (ambient.is_waypoint_pod(p) or
                                                                  ambient.is_ztunnel_pod(p)) for p in view.of("Pod")):
            return
        for ap in policies:
            if ambient.target_refs(ap):
                continue
            conv = ambient.convert_authorization_policy(ap, root)
            if conv.policy is None:
                if conv.reason != "UnsupportedValue":
                    continue
                pods = self._pods(view, ap, root, shown, sent=False)
                if pods:
                    ctx.report("MESH0604", ap, conv.message, _names(pods))
                continue
            if not conv.l7_fields:
                continue
            pods = self._pods(view, ap, root, shown, sent=True)
            if not pods:
                continue
            fields = ", ".join(conv.l7_fields)
            form = ambient.ztunnel_form(conv.policy)
            if conv.policy["action"] == "ALLOW":
                if not form["rules"]:
                    ctx.report("MESH0601", ap, fields, _names(pods))
                else:
                    ctx.report("MESH0603", ap, fields, "its rules with HTTP fields are left out (they never match)",
                               _names(pods))
            else:
                live = [r for r in form["rules"] if ambient.rule_can_fire(r)]
                if not live:
                    ctx.report("MESH0602", ap, fields, _names(pods))
                elif len(live) < len(form["rules"]) or conv.l7_fields:
                    ctx.report("MESH0603", ap, fields, f"{len(live)} rule(s) deny without their HTTP conditions",
                               _names(pods))

    @staticmethod
    def _pods(view, ap: dict, root: str, shown: set[int], sent: bool) -> list[dict]:  # type: ignore[no-untyped-def]
        if sent:
            pods = ambient.ztunnel_pods(view, ap, root, intended=True)
        else:  # not sent: the ambient pods it would have applied to (the view holds only those)
            pods = [p for p in ambient.selected_pods(view, ap, root) if not ambient.is_ztunnel_pod(p)]
        return [p for p in pods if id(p) in shown]
