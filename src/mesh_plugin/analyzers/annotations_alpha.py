"""annotations.AlphaAnalyzer: Istio annotations of alpha-phase features (IST0136).

Istio does not register it in ``analyzers.All()`` (istioctl does not list it): it is selectable here by its
exact name only (``--only annotations.AlphaAnalyzer``), for Istio's test grid.
"""
from __future__ import annotations

from ..kube.snapshot import annotations_of
from .annotations import ALWAYS_IGNORED, istio_annotation
from .base import Analyzer, Context
from .istio_annotations import ANNOTATIONS
from .util import seq, spec

#: set by istio-cni by default: not reported on pods without the istio-init container
CONDITIONALLY_IGNORED = frozenset({"sidecar.istio.io/interceptionMode", "traffic.sidecar.istio.io/includeInboundPorts",
                                   "traffic.sidecar.istio.io/excludeInboundPorts",
                                   "traffic.sidecar.istio.io/includeOutboundIPRanges"})


class AlphaAnalyzer(Analyzer):
    name = "annotations.AlphaAnalyzer"
    description = "Checks for alpha Istio annotations in Kubernetes resources"
    inputs = ("Namespace", "Service", "Pod", "Deployment")

    def analyze(self, ctx: Context) -> None:
        for kind in ("Namespace", "Service", "Pod", "Deployment"):
            for obj in ctx.of(kind):
                cni = kind == "Pod" and not any(
                    isinstance(c, dict) and c.get("name") == "istio-init" for c in seq(spec(obj).get("initContainers")))
                for ann in annotations_of(obj):
                    ann = str(ann)
                    known = ANNOTATIONS.get(ann)
                    if not istio_annotation(ann) or known is None or known[0] != "Alpha":
                        continue
                    if ann in ALWAYS_IGNORED or (cni and ann in CONDITIONALLY_IGNORED):
                        continue
                    ctx.report("IST0136", obj, ann, kind=kind, path="{.metadata.annotations.%s}" % ann)
