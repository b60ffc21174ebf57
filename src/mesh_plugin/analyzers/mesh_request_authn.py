"""mesh.security.RequestAuthenticationAnalyzer (MESH): a RequestAuthentication no policy makes mandatory."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import selector_labels, spec


def _requires_token(ap: dict) -> bool:
    action = str(spec(ap).get("action") or "ALLOW").upper()
    for rule in spec(ap).get("rules") or []:
        for frm in rule.get("from") or []:
            src = frm.get("source") or {}
            if action == "ALLOW" and src.get("requestPrincipals"):
                return True
            if action == "DENY" and src.get("notRequestPrincipals"):
                return True
        for cond in rule.get("when") or []:
            if str(cond.get("key", "")).startswith("request.auth.") and action == "ALLOW":
                return True
    return False


class RequestAuthenticationAnalyzer(Analyzer):
    name = "mesh.security.RequestAuthenticationAnalyzer"
    aliases = ("security.RequestAuthenticationAnalyzer",)
    description = "Checks every RequestAuthentication is paired with a policy that requires a token"
    inputs = ("RequestAuthentication", "AuthorizationPolicy")

    def analyze(self, ctx: Context) -> None:
        root = ctx.mesh.root_namespace
        for ra in ctx.of("RequestAuthentication"):
            ra_sel = selector_labels(ra, "selector.matchLabels") or {}
            covered = False
            for ap in ctx.of("AuthorizationPolicy"):
                if ns_of(ap) not in (ns_of(ra), root) or not _requires_token(ap):
                    continue
                ap_sel = selector_labels(ap, "selector.matchLabels") or {}
                # the policy covers the RA's workloads when its selector is no narrower
                if ap_sel.items() <= ra_sel.items():
                    covered = True
                    break
            if not covered:
                ctx.report("MESH0401", ra, f"{ns_of(ra)}/{name_of(ra)}")
