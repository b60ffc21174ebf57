"""auth.AuthorizationPoliciesAnalyzer: policies that select no workload (IST0127) or name namespaces that do
not exist (IST0101).

Only pods in the mesh (a sidecar, injection enabled, or ambient) count as workloads, as in Istio. Pods are
looked up in an index by namespace and label built once per analysis, so the cost grows with the number of
policies plus the number of pods, not their product (issue 23).
"""
from __future__ import annotations

from ..kube.index import LabelIndex
from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import mapping, pod_in_ambient, pod_in_mesh, selector_string, seq, spec


def mesh_pods(ctx: Context) -> LabelIndex:
    """The pods Istio's initPodLabelsMap keeps: in the mesh, or in ambient mode."""
    return ctx.memo("mesh-pods", lambda: LabelIndex(
        p for p in ctx.of("Pod") if pod_in_mesh(ctx, p) or pod_in_ambient(p)))


def namespace_match(ns: str, exp: str) -> bool:
    if exp == "*":
        return True
    if exp.startswith("*"):
        return ns.endswith(exp[1:])
    if exp.endswith("*"):
        return ns.startswith(exp[:-1])
    return ns.lower() == exp.lower()


class AuthorizationPoliciesAnalyzer(Analyzer):
    name = "auth.AuthorizationPoliciesAnalyzer"
    description = "Checks the validity of authorization policies"
    inputs = ("MeshConfig", "AuthorizationPolicy", "Namespace", "Pod")

    def analyze(self, ctx: Context) -> None:
        pods = mesh_pods(ctx)
        root = ctx.mesh.root_namespace
        ns_names = [name_of(n) for n in ctx.of("Namespace")]
        exact = {n.lower() for n in ns_names}
        for ap in ctx.of("AuthorizationPolicy"):
            s = spec(ap)
            ns = ns_of(ap)
            has_selector = isinstance(s.get("selector"), dict)
            sel = {str(k): str(v) for k, v in mapping(mapping(s.get("selector")).get("matchLabels")).items()}
            if ns == root:
                if has_selector and not pods.any(None, sel):
                    ctx.report("IST0127", ap, selector_string(sel))
            elif not has_selector:
                if not pods.in_namespace(ns):
                    ctx.report("IST0127", ap, "")
            elif not pods.any(ns, sel):
                ctx.report("IST0127", ap, selector_string(sel))
            for i, rule in enumerate(seq(s.get("rules"))):
                for j, frm in enumerate(seq(mapping(rule).get("from"))):
                    src = mapping(mapping(frm).get("source"))
                    names = [str(x) for x in seq(src.get("namespaces"))]
                    nots = [str(x) for x in seq(src.get("notNamespaces"))]
                    for k, pattern in enumerate(names + nots):
                        if "*" not in pattern and pattern.lower() in exact:
                            continue
                        if any(namespace_match(n, pattern) for n in ns_names):
                            continue
                        idx = k if k < len(names) else k - len(names)
                        ctx.report("IST0101", ap, "namespace", pattern,
                                   path=f"{{.spec.rules[{i}].from[{j}].source.namespaces[{idx}]}}")
