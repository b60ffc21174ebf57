"""destinationrule.SubsetSelectPodAnalyzer: DestinationRule hosts that match no service (IST0174) and subsets
that select no pod (IST0173).

As in Istio, a subset's labels (merged with a ServiceEntry's workloadSelector) are matched against every
pod's labels augmented with its node's topology (region, zone, subzone) and hostname. The pods are indexed
by those labels once, so each subset costs a lookup instead of a scan of every pod (issue 23).
"""
from __future__ import annotations

from ..kube.index import LabelIndex
from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context
from .util import mapping, seq, service_hosts, spec, str_map

REGION, ZONE, SUBZONE = "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"
HOSTNAME = "kubernetes.io/hostname"


def augmented_labels(pod: dict, node_labels: dict[str, dict[str, str]]) -> dict[str, str]:
    """label.AugmentLabels(pod labels, no cluster, node locality, node name, no network)."""
    out = str_map(labels_of(pod))
    node = str(spec(pod).get("nodeName") or "")
    nl = node_labels.get(node)
    if nl is not None:
        region, zone, subzone = nl.get(REGION, ""), nl.get(ZONE, ""), nl.get(SUBZONE, "")
        locality = region + (("/" + zone + (("/" + subzone) if subzone else "")) if zone else "")
        parts = locality.split("/")
        for key, value in zip((REGION, ZONE, SUBZONE), parts + ["", ""]):
            if value:
                out[key] = value
    if node:
        out[HOSTNAME] = node
    return out


class SubsetSelectPodAnalyzer(Analyzer):
    name = "destinationrule.SubsetSelectPodAnalyzer"
    description = "Checks if pods are selected by subsets in destination rules."
    inputs = ("DestinationRule", "Pod", "Service", "ServiceEntry", "Node")

    def analyze(self, ctx: Context) -> None:
        hosts = service_hosts(ctx)
        node_labels = {name_of(n): str_map(labels_of(n)) for n in ctx.of("Node")}
        pods: LabelIndex | None = None
        for dr in ctx.of("DestinationRule"):
            s = spec(dr)
            host = str(s.get("host") or "")
            se = hosts.lookup(ns_of(dr), s.get("exportTo"), host)
            if se is None:
                ctx.report("IST0174", dr, host)
                continue
            base = str_map(mapping(se.get("workloadSelector")).get("labels"))
            selectors: dict[str, dict[str, str]] = {}  # by subset name, as Istio's matcher map
            for subset in seq(s.get("subsets")):
                subset = mapping(subset)
                selectors[str(subset.get("name") or "")] = {**base, **str_map(subset.get("labels"))}
            for subset_name, selector in selectors.items():
                if pods is None:
                    pods = LabelIndex(ctx.of("Pod"), labels=lambda p: augmented_labels(p, node_labels))
                if not pods.any(None, selector):
                    ctx.report("IST0173", dr, subset_name)
