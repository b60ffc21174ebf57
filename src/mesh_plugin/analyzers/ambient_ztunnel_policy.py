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
        for ap in ctx.of("AuthorizationPolicy"):
            if ambient.target_refs(ap):
                continue
            conv = ambient.convert_authorization_policy(ap, root)
            if conv.policy is None:
                if conv.reason != "UnsupportedValue":
                    continue
                pods = self._pods(ctx, ap, sent=False)
                if pods:
                    ctx.report("MESH0604", ap, conv.message, _names(pods))
                continue
            pods = self._pods(ctx, ap, sent=True)
            if not pods or not conv.l7_fields:
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
    def _pods(ctx: Context, ap: dict, sent: bool) -> list[dict]:
        shown = {id(p) for p in ctx.of("Pod")}
        ctx.of("Namespace")
        if sent:
            pods = ambient.ztunnel_pods(ctx.snap, ap, ctx.mesh.root_namespace, intended=True)
        else:  # not sent: the ambient pods it would have applied to
            ns_objs = {str((n.get("metadata") or {}).get("name")): n for n in ctx.of("Namespace")}
            from ..mesh.workloads import sidecar_of

            pods = [p for p in ambient.selected_pods(ctx.snap, ap, ctx.mesh.root_namespace)
                    if sidecar_of(p) == "none" and (ambient.in_ambient(p) or ambient.pod_intended(
                        p, ns_objs.get(str((p.get("metadata") or {}).get("namespace")))))]
        return [p for p in pods if id(p) in shown]
