"""sidecar.SelectorAnalyzer: Sidecar selectors that match no pod (IST0101), Sidecars that select the same pod
(IST0110), several selector-less Sidecars in a namespace (IST0111), Sidecars in ambient mode (IST0167).
Pods come from the index (issue 23)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import full_name, mapping, namespace_in_ambient, pod_in_ambient, selector_string, spec, str_map


class SidecarSelectorAnalyzer(Analyzer):
    name = "sidecar.SelectorAnalyzer"
    description = ("Validates that sidecars that define a workload selector match at least one pod, and that "
                   "there aren't multiple sidecar resources that select overlapping pods")
    inputs = ("Sidecar", "Pod", "Namespace")

    def analyze(self, ctx: Context) -> None:
        pod_sidecars: dict[str, list[dict]] = {}
        pods: dict[str, dict] = {}
        ns_sidecars: dict[str, list[dict]] = {}
        for sc in ctx.of("Sidecar"):
            sel = str_map(mapping(spec(sc).get("workloadSelector")).get("labels"))
            if not sel:
                ns_sidecars.setdefault(ns_of(sc), []).append(sc)
                continue
            matched = ctx.pods.select(ns_of(sc), sel)
            for pod in matched:
                pod_sidecars.setdefault(full_name(pod), []).append(sc)
                pods[full_name(pod)] = pod
            if not matched:
                sel_str = selector_string(sel)
                label = sel_str.split("=", 1)[0] if "=" in sel_str else ""
                ctx.report("IST0101", sc, "selector", sel_str, path=f"{{.spec.workloadSelector.labels.{label}}}")
        namespaces = {name_of(n): n for n in ctx.of("Namespace")}
        reported: set[str] = set()
        for pod_name, sidecars in pod_sidecars.items():
            pod = pods[pod_name]
            ambient = pod_in_ambient(pod)
            if len(sidecars) == 1 and not ambient:
                continue
            names = sorted(name_of(s) for s in sidecars)
            for sc in sidecars:
                if ambient:
                    if full_name(sc) not in reported:
                        ctx.report("IST0167", sc, "selected workload is in ambient mode, the policy has no impact")
                        reported.add(full_name(sc))
                    continue
                ctx.report("IST0110", sc, names, ns_of(pod), name_of(pod), path="{.metadata.name}")
        for ns, sidecars in ns_sidecars.items():
            if namespace_in_ambient(namespaces.get(ns)):
                for sc in sidecars:
                    if full_name(sc) not in reported:
                        ctx.report("IST0167", sc, "namespace is in ambient mode, the policy has no impact")
                        reported.add(full_name(sc))
                continue
            if len(sidecars) > 1:
                names = sorted(name_of(s) for s in sidecars)
                for sc in sidecars:
                    ctx.report("IST0111", sc, names, ns)
