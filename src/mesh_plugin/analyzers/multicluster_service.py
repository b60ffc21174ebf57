"""services.MultiClusterServiceAnalyzer: one Service (namespace/name) defined differently in the clusters of a
multi-cluster mesh: headless in some, type or ports differing (IST0170).

It compares Services across clusters, so it reports only when the analysis has more than one cluster
(``Context.clusters``); a single cluster or one set of files never shows an inconsistency.
"""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import mapping, seq, spec


def _ports(svc: dict) -> list:
    return sorted((mapping(p) for p in seq(spec(svc).get("ports"))), key=lambda p: str(p.get("name") or ""))


def _headless(svc: dict) -> bool:
    return spec(svc).get("clusterIP") == "None"


def inconsistencies(by_cluster: dict[str, dict]) -> tuple[list[str], str]:
    clusters: set[str] = set()
    reasons: list[str] = []
    first_cluster, first = next(iter(by_cluster.items()))
    added_headless = False
    for cid, svc in by_cluster.items():
        if not added_headless and _headless(first) != _headless(svc):
            added_headless = True
            clusters.update(by_cluster)
            reasons.append("service has mixed mode like headless and clusterIP")
        if spec(first).get("type") != spec(svc).get("type"):
            clusters.add(cid)
            reasons.append("service type is inconsistent")
        if _ports(first) != _ports(svc):
            clusters.add(cid)
            reasons.append("service ports are inconsistent")
    if clusters:
        clusters.add(first_cluster)
    return sorted(clusters), "; ".join(dict.fromkeys(reasons))


class MultiClusterServiceAnalyzer(Analyzer):
    name = "services.MultiClusterServiceAnalyzer"
    description = "Check the validity of services in the multi-cluster environment"
    inputs = ("Service",)

    def analyze(self, ctx: Context) -> None:
        if len(ctx.clusters) < 2:
            return
        services: dict[tuple[str, str], dict[str, dict]] = {}
        for cid, snap in ctx.clusters.items():
            for svc in snap.of("Service"):
                services.setdefault((ns_of(svc), name_of(svc)), {})[cid] = svc
        for (ns, name), by_cluster in services.items():
            if len(by_cluster) < 2:
                continue
            clusters, errors = inconsistencies(by_cluster)
            if clusters:
                cid, svc = next(iter(by_cluster.items()))
                ctx.report("IST0170", {**svc, "_cluster": cid}, name, ns, clusters, errors)
