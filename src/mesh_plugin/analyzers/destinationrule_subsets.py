"""destinationrule.SubsetSelectPodAnalyzer: subsets that select no pods, hosts that match no service."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context, matches
from .util import fqdn, host_matches, service_fqdn, spec

TOPOLOGY_PREFIX = "topology.kubernetes.io/"


def pod_labels_with_topology(ctx: Context, pod: dict, nodes: dict[str, dict]) -> dict[str, str]:
    """Pod labels plus its node's topology labels (subsets may select on region/zone)."""
    labels = dict(labels_of(pod))
    node = nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
    if node:
        labels.update({k: v for k, v in labels_of(node).items() if k.startswith(TOPOLOGY_PREFIX)})
    return labels


class SubsetSelectPodAnalyzer(Analyzer):
    name = "destinationrule.SubsetSelectPodAnalyzer"
    description = "Checks every DestinationRule subset selects pods of the host's service"
    inputs = ("DestinationRule", "Service", "Pod", "ServiceEntry")

    def analyze(self, ctx: Context) -> None:
        nodes = {name_of(n): n for n in ctx.of("Node")}
        services = {service_fqdn(s): s for s in ctx.of("Service")}
        se_hosts = [h for se in ctx.of("ServiceEntry") for h in spec(se).get("hosts") or []]
        for dr in ctx.of("DestinationRule"):
            host = fqdn(str(spec(dr).get("host") or ""), ns_of(dr))
            svc = services.get(host)
            if svc is None:
                if not any(host_matches(h, host) or host_matches(host, h) for h in se_hosts) and \
                        not any(host_matches(host, f) for f in services):
                    ctx.report("IST0174", dr, host)
                continue
            sel = spec(svc).get("selector") or {}
            pods = [pod_labels_with_topology(ctx, p, nodes) for p in ctx.of("Pod", ns_of(svc))
                    if sel and matches(sel, labels_of(p))]
            for subset in spec(dr).get("subsets") or []:
                want = {str(k): str(v) for k, v in (subset.get("labels") or {}).items()}
                if not any(matches(want, labels) for labels in pods):
                    ctx.report("IST0173", dr, subset.get("name"))
