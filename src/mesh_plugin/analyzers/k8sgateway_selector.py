"""k8sgateway.SelectorAnalyzer: policies that select Kubernetes Gateway pods by label, where selectors have no
effect (IST0166: use targetRef)."""
from __future__ import annotations

from ..kube.index import LabelIndex
from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import GATEWAY_NAME_LABEL, mapping, spec, str_map

POLICIES = ("AuthorizationPolicy", "RequestAuthentication", "Telemetry", "WasmPlugin")


class SelectorAnalyzer(Analyzer):
    name = "k8sgateway.SelectorAnalyzer"
    description = "Check that selectors are effective for Kubernetes gateway"
    inputs = (*POLICIES, "Pod")

    def analyze(self, ctx: Context) -> None:
        gateway_pods = LabelIndex(p for p in ctx.of("Pod")
                                  if GATEWAY_NAME_LABEL in (p.get("metadata") or {}).get("labels", {}))
        if not len(gateway_pods):
            return
        for key in POLICIES:
            for policy in ctx.of(key):
                s = spec(policy)
                if s.get("targetRef") is not None or s.get("selector") is None:
                    continue
                sel = str_map(mapping(s.get("selector")).get("matchLabels"))
                for pod in gateway_pods.select(ns_of(policy), sel):
                    ctx.report("IST0166", policy, str((pod.get("metadata") or {}).get("labels", {})
                                                      .get(GATEWAY_NAME_LABEL, "")))
