"""k8sgateway.SelectorAnalyzer: policies that select Kubernetes Gateway pods by label (use targetRef)."""
from __future__ import annotations

from ..kube.snapshot import labels_of, ns_of
from .base import Analyzer, Context, matches
from .util import selector_labels, spec

GATEWAY_NAME_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")
POLICY_KINDS = ("RequestAuthentication", "AuthorizationPolicy", "WasmPlugin", "Telemetry")


class SelectorAnalyzer(Analyzer):
    name = "k8sgateway.SelectorAnalyzer"
    description = "Checks policies do not select Kubernetes Gateway pods by label, where selectors have no effect"
    inputs = ("Pod", *POLICY_KINDS)

    def analyze(self, ctx: Context) -> None:
        gw_pods = [p for p in ctx.of("Pod") if any(k in labels_of(p) for k in GATEWAY_NAME_LABELS)]
        for key in POLICY_KINDS:
            for pol in ctx.of(key):
                if spec(pol).get("targetRef") or spec(pol).get("targetRefs"):
                    continue
                sel = selector_labels(pol, "selector.matchLabels")
                if not sel:
                    continue
                for pod in gw_pods:
                    if ns_of(pod) == ns_of(pol) and matches(sel, labels_of(pod)):
                        gw = next(labels_of(pod)[k] for k in GATEWAY_NAME_LABELS if k in labels_of(pod))
                        ctx.report("IST0166", pol, gw)
                        break
