"""mesh.security.AllowNothingAnalyzer (MESH): an ALLOW policy without rules denies every request."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import selector_labels, spec


class AllowNothingAnalyzer(Analyzer):
    name = "mesh.security.AllowNothingAnalyzer"
    aliases = ("security.AllowNothingAnalyzer",)
    description = "Flags ALLOW AuthorizationPolicies with no rules: they deny every request to their workloads"
    inputs = ("AuthorizationPolicy",)

    def analyze(self, ctx: Context) -> None:
        for ap in ctx.of("AuthorizationPolicy"):
            s = spec(ap)
            if str(s.get("action") or "ALLOW").upper() != "ALLOW" or s.get("rules") or s.get("provider"):
                continue
            sel = selector_labels(ap, "selector.matchLabels")
            if sel:
                what = "workloads " + ",".join(f"{k}={v}" for k, v in sorted(sel.items())) + f" in {ns_of(ap)}"
            elif ns_of(ap) == ctx.mesh.root_namespace:
                what = "every workload in the mesh"
            else:
                what = f"every workload in namespace {ns_of(ap)}"
            ctx.report("MESH0402", ap, what)
