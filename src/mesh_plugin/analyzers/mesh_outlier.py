"""mesh.resilience.OutlierAnalyzer (MESH): outlier detection and pools that hurt more than they help.

Outlier detection that can eject every replica (MESH0301), ejects on noise (MESH0302), has timings out of
range (MESH0303); a DestinationRule for a multi-replica host without outlier detection (MESH0304).
"""
from __future__ import annotations

from ..kube.snapshot import ns_of
from ..mesh.resilience import effective_policy, lint
from .base import Analyzer, Context
from .util import fqdn, service_fqdn, spec


class ResilienceAnalyzer(Analyzer):
    name = "mesh.resilience.OutlierAnalyzer"
    aliases = ("destinationrule.ResilienceAnalyzer",)
    description = "Checks DestinationRule outlier detection cannot eject every replica or eject on noise"
    inputs = ("DestinationRule", "Service", "Pod")

    def analyze(self, ctx: Context) -> None:
        services = {service_fqdn(s): s for s in ctx.of("Service")}
        for dr in ctx.of("DestinationRule"):
            host = fqdn(str(spec(dr).get("host") or ""), ns_of(dr))
            svc = services.get(host)
            sel = (spec(svc).get("selector") or {}) if svc else {}
            pods = ctx.pods.select(ns_of(svc), sel) if svc and sel else []
            seen: set[tuple[str, str]] = set()
            for subset in [None, *(spec(dr).get("subsets") or [])]:
                name = subset.get("name") if subset else None
                if subset and not (subset.get("trafficPolicy") or {}).get("outlierDetection"):
                    continue  # inherited: judged once at the top level
                pol = effective_policy(dr, name)
                labels = {str(k): str(v) for k, v in (subset.get("labels") or {}).items()} if subset else {}
                if not subset:
                    targets = pods
                elif not (svc and sel) or any(k in sel and str(sel[k]) != v for k, v in labels.items()):
                    targets = []
                else:
                    targets = ctx.pods.select(ns_of(svc), {**sel, **labels})
                what = host + (f" subset {name}" if name else "")
                for code, _, text in lint(pol.get("outlierDetection"), pol.get("connectionPool"),
                                          len(targets) if svc else 0, what, True):
                    if (code, text) not in seen:
                        seen.add((code, text))
                        ctx.report(code, dr, text)
