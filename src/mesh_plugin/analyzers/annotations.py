"""annotations.K8sAnalyzer: unknown, misplaced, deprecated and invalid Istio annotations."""
from __future__ import annotations

from ..kube.snapshot import annotations_of
from .base import Analyzer, Context

POD, SVC, NS, ANY = "Pod", "Service", "Namespace", "Any"

#: annotation -> (resource kinds it belongs on, value type or None, deprecation note or None)
KNOWN: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "sidecar.istio.io/inject": ((POD,), None, None),
    "sidecar.istio.io/status": ((POD,), None, None),
    "sidecar.istio.io/proxyImage": ((POD,), None, None),
    "sidecar.istio.io/proxyImageType": ((POD,), None, None),
    "sidecar.istio.io/proxyCPU": ((POD,), None, None),
    "sidecar.istio.io/proxyCPULimit": ((POD,), None, None),
    "sidecar.istio.io/proxyMemory": ((POD,), None, None),
    "sidecar.istio.io/proxyMemoryLimit": ((POD,), None, None),
    "sidecar.istio.io/logLevel": ((POD,), None, None),
    "sidecar.istio.io/componentLogLevel": ((POD,), None, None),
    "sidecar.istio.io/agentLogLevel": ((POD,), None, None),
    "sidecar.istio.io/interceptionMode": ((POD,), None, None),
    "sidecar.istio.io/bootstrapOverride": ((POD,), None, None),
    "sidecar.istio.io/userVolume": ((POD,), None, None),
    "sidecar.istio.io/userVolumeMount": ((POD,), None, None),
    "sidecar.istio.io/enableCoreDump": ((POD,), None, None),
    "sidecar.istio.io/rewriteAppHTTPProbers": ((POD,), None, None),
    "sidecar.istio.io/discoveryAddress": ((POD,), None, None),
    "sidecar.istio.io/nativeSidecar": ((POD,), None, None),
    "sidecar.istio.io/statsHistogramBuckets": ((POD,), None, None),
    "sidecar.istio.io/statsInclusionPrefixes": ((POD,), None, " in favor of the proxy.istio.io/config field"),
    "sidecar.istio.io/statsInclusionSuffixes": ((POD,), None, " in favor of the proxy.istio.io/config field"),
    "sidecar.istio.io/statsInclusionRegexps": ((POD,), None, " in favor of the proxy.istio.io/config field"),
    "sidecar.istio.io/extraStatTags": ((POD,), None, " in favor of the Telemetry API"),
    "inject.istio.io/templates": ((POD,), None, None),
    "traffic.sidecar.istio.io/includeOutboundIPRanges": ((POD,), None, None),
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": ((POD,), None, None),
    "traffic.sidecar.istio.io/includeInboundPorts": ((POD,), None, None),
    "traffic.sidecar.istio.io/excludeInboundPorts": ((POD,), None, None),
    "traffic.sidecar.istio.io/includeOutboundPorts": ((POD,), None, None),
    "traffic.sidecar.istio.io/excludeOutboundPorts": ((POD,), None, None),
    "traffic.sidecar.istio.io/excludeInterfaces": ((POD,), None, None),
    "traffic.sidecar.istio.io/kubevirtInterfaces": ((POD,), None, None),
    "readiness.status.sidecar.istio.io/initialDelaySeconds": ((POD,), "int", None),
    "readiness.status.sidecar.istio.io/periodSeconds": ((POD,), "int", None),
    "readiness.status.sidecar.istio.io/failureThreshold": ((POD,), "int", None),
    "readiness.status.sidecar.istio.io/applicationPorts": ((POD,), None, None),
    "status.sidecar.istio.io/port": ((POD,), "int", None),
    "proxy.istio.io/config": ((POD,), None, None),
    "proxy.istio.io/overrides": ((POD,), None, None),
    "prometheus.istio.io/merge-metrics": ((POD,), None, None),
    "istio.io/rev": ((POD, NS), None, None),
    "ambient.istio.io/redirection": ((POD,), None, None),
    "istio.io/dry-run": (("AuthorizationPolicy",), None, None),
    "networking.istio.io/exportTo": ((SVC,), None, None),
    "networking.istio.io/traffic-distribution": ((SVC,), None, None),
    "networking.istio.io/service-type": (("Gateway",), None, None),
    "kubernetes.io/ingress.class": (("Ingress",), None, None),
    "gateway.istio.io/controller-version": ((ANY,), None, None),
    "topology.istio.io/controlPlaneClusters": ((ANY,), None, None),
    "istio.io/workloadSelector": ((ANY,), None, None),
}


def _istio_annotation(key: str) -> bool:
    if key == "kubernetes.io/ingress.class":  # Istio documents it, so it is analyzed too
        return True
    domain = key.split("/", 1)[0]
    return "/" in key and domain.endswith("istio.io")


class K8sAnalyzer(Analyzer):
    name = "annotations.K8sAnalyzer"
    description = "Checks Istio annotations on Kubernetes resources: unknown, misplaced, deprecated or invalid"
    inputs = ("Pod", "Service", "Namespace", "Deployment")

    def analyze(self, ctx: Context) -> None:
        for key in self.inputs:
            for obj in ctx.of(key):
                self._check(ctx, obj, key)

    def _check(self, ctx: Context, obj: dict, kind: str) -> None:
        for ann, value in sorted(annotations_of(obj).items()):
            if not _istio_annotation(ann):
                continue
            known = KNOWN.get(ann)
            if known is None:
                ctx.report("IST0108", obj, ann)
                continue
            kinds, vtype, deprecated = known
            if deprecated:
                ctx.report("IST0135", obj, ann, deprecated)
            if ANY not in kinds and kind not in kinds:
                ctx.report("IST0107", obj, ann, ", ".join(kinds))
                continue
            if vtype == "int" and not str(value).strip().lstrip("-").isdigit():
                ctx.report("IST0125", obj, ann, f"{value!r} is not an integer")
