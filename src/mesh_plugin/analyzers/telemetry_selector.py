"""telemetry.SelectorAnalyzer: Telemetry selectors that match no pod (IST0101), Telemetries that select the
same pod (IST0159). Pods come from the index (issue 23)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import full_name, mapping, selector_string, spec, str_map


class SelectorAnalyzer(Analyzer):
    name = "telemetry.SelectorAnalyzer"
    description = ("Validates that telemetries that define a selector match at least one pod, and that there "
                   "aren't multiple telemetry resources that select overlapping pods")
    inputs = ("Telemetry", "Pod")

    def analyze(self, ctx: Context) -> None:
        pod_telemetries: dict[str, tuple[dict, list[dict]]] = {}
        for t in ctx.of("Telemetry"):
            sel = str_map(mapping(spec(t).get("selector")).get("matchLabels"))
            if not sel:
                continue
            matched = ctx.pods.select(ns_of(t), sel)
            for pod in matched:
                pod_telemetries.setdefault(full_name(pod), (pod, []))[1].append(t)
            if not matched:
                sel_str = selector_string(sel)
                label = sel_str.split("=", 1)[0] if "=" in sel_str else ""
                ctx.report("IST0101", t, "selector", sel_str, path=f"{{.spec.selector.matchLabels.{label}}}")
        for pod, items in pod_telemetries.values():
            if len(items) > 1:
                names = sorted(name_of(t) for t in items)
                for t in items:
                    ctx.report("IST0159", t, names, ns_of(pod), name_of(pod), path="{.metadata.name}")
