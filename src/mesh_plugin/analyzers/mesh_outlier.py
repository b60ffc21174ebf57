"""destinationrule.OutlierEjectAllAnalyzer (MESH): outlier detection that can eject every endpoint."""
from __future__ import annotations

from ..kube.snapshot import labels_of, ns_of
from .base import Analyzer, Context, matches
from .util import fqdn, service_fqdn, spec


class OutlierEjectAllAnalyzer(Analyzer):
    name = "destinationrule.OutlierEjectAllAnalyzer"
    description = "Checks outlierDetection.maxEjectionPercent cannot eject every replica of a host"
    inputs = ("DestinationRule", "Service", "Pod")

    def analyze(self, ctx: Context) -> None:
        services = {service_fqdn(s): s for s in ctx.of("Service")}
        for dr in ctx.of("DestinationRule"):
            host = fqdn(str(spec(dr).get("host") or ""), ns_of(dr))
            svc = services.get(host)
            sel = (spec(svc).get("selector") or {}) if svc else {}
            pods = [p for p in ctx.of("Pod", ns_of(svc)) if sel and matches(sel, labels_of(p))] if svc else []
            checks: list[tuple[dict | None, dict]] = []
            top = (spec(dr).get("trafficPolicy") or {}).get("outlierDetection")
            if top:
                checks.append((None, top))
            for s in spec(dr).get("subsets") or []:
                od = (s.get("trafficPolicy") or {}).get("outlierDetection")
                if od:
                    checks.append((s, od))
            for subset, od in checks:
                pct = od.get("maxEjectionPercent")
                if pct is None or int(pct) < 100:
                    continue
                targets = [p for p in pods if subset is None or matches(subset.get("labels") or {}, labels_of(p))]
                what = host + (f" subset {subset.get('name')}" if subset else "")
                ctx.report("MESH0301", dr, pct, len(targets) if svc else "the", what)
