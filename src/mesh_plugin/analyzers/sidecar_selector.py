"""sidecar.SelectorAnalyzer: Sidecar selectors that match nothing or overlap; Sidecars in ambient namespaces."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context, matches
from .injection import INJECTION_LABEL, REVISION_LABEL
from .util import selector_labels


def ambient_namespace(ns: dict | None) -> bool:
    if not ns:
        return False
    labels = labels_of(ns)
    return labels.get("istio.io/dataplane-mode") == "ambient" and not (
        labels.get(INJECTION_LABEL) == "enabled" or labels.get(REVISION_LABEL))


class SidecarSelectorAnalyzer(Analyzer):
    name = "sidecar.SelectorAnalyzer"
    description = "Checks Sidecar workload selectors match pods without overlap, one selector-less Sidecar per namespace"
    inputs = ("Sidecar", "Pod", "Namespace")

    def analyze(self, ctx: Context) -> None:
        namespaces = {name_of(n): n for n in ctx.of("Namespace")}
        no_selector: dict[str, list[dict]] = {}
        pod_owners: dict[tuple[str, str], list[dict]] = {}
        for sc in ctx.of("Sidecar"):
            ns = ns_of(sc)
            if ambient_namespace(namespaces.get(ns)):
                ctx.report("IST0167", sc, "the Sidecar is in an ambient namespace, where sidecars are not used")
                continue
            sel = selector_labels(sc, "workloadSelector.labels")
            if not sel:
                no_selector.setdefault(ns, []).append(sc)
                continue
            pods = [p for p in ctx.of("Pod", ns) if matches(sel, labels_of(p))]
            if not pods:
                ctx.report("IST0101", sc, "selector", ",".join(f"{k}={v}" for k, v in sorted(sel.items())))
            for p in pods:
                pod_owners.setdefault((ns, name_of(p)), []).append(sc)
        for ns, scs in sorted(no_selector.items()):
            if len(scs) > 1:
                names = ", ".join(sorted(name_of(s) for s in scs))
                for sc in scs:
                    ctx.report("IST0111", sc, names, ns)
        for (ns, pod), scs in sorted(pod_owners.items()):
            if len(scs) > 1:
                names = ", ".join(sorted(name_of(s) for s in scs))
                for sc in scs:
                    ctx.report("IST0110", sc, names, ns, pod)
