"""auth.AuthorizationPoliciesAnalyzer: selectors that match no workload, namespaces that do not exist."""
from __future__ import annotations

import fnmatch

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context, matches
from .util import namespace_names, selector_labels, spec


def _ns_pattern_matches(pattern: str, names: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


class AuthorizationPoliciesAnalyzer(Analyzer):
    name = "auth.AuthorizationPoliciesAnalyzer"
    description = "Checks AuthorizationPolicies select workloads and reference existing namespaces"
    inputs = ("AuthorizationPolicy", "Namespace", "Pod")

    def analyze(self, ctx: Context) -> None:
        root = ctx.mesh.root_namespace
        namespaces = namespace_names(ctx)
        pods = ctx.of("Pod")
        for ap in ctx.of("AuthorizationPolicy"):
            ns = ns_of(ap)
            sel = selector_labels(ap, "selector.matchLabels")
            if spec(ap).get("targetRef") or spec(ap).get("targetRefs"):
                pass  # waypoint / gateway policies are bound by reference, not selector
            elif sel:
                scope = pods if ns == root else [p for p in pods if ns_of(p) == ns]
                if not any(matches(sel, labels_of(p)) for p in scope):
                    ctx.report("IST0127", ap, ", ".join(f"{k}={v}" for k, v in sorted(sel.items())))
            elif ns != root and not any(ns_of(p) == ns for p in pods):
                ctx.report("IST0127", ap, "(namespace-wide)")
            for rule in spec(ap).get("rules") or []:
                for frm in rule.get("from") or []:
                    src = frm.get("source") or {}
                    for field in ("namespaces", "notNamespaces"):
                        for pattern in src.get(field) or []:
                            if not _ns_pattern_matches(str(pattern), namespaces):
                                ctx.report("IST0101", ap, "namespace", pattern)

