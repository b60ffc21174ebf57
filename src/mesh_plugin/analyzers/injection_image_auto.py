"""injection.ImageAutoAnalyzer: ``image: auto`` proxies that no injector will replace (IST0146 on Deployments
no Istio webhook selects, IST0147 on Pods)."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context
from .util import ISTIO_PROXY, containers, label_selector_matches, mapping, seq, spec


def _auto_image(pod_spec: dict) -> bool:
    return any(c.get("name") == ISTIO_PROXY and c.get("image") == "auto" for c in containers(pod_spec, init=False))


class ImageAutoAnalyzer(Analyzer):
    name = "injection.ImageAutoAnalyzer"
    description = "Makes sure that Pods and Deployments with `image: auto` are going to be injected"
    inputs = ("Namespace", "Pod", "Deployment", "MutatingWebhookConfiguration")

    def analyze(self, ctx: Context) -> None:
        webhooks = [mapping(wh) for cfg in ctx.of("MutatingWebhookConfiguration") for wh in seq(cfg.get("webhooks"))
                    if str(mapping(wh).get("name") or "").endswith("istio.io")]
        for pod in ctx.of("Pod"):
            if _auto_image(spec(pod)):
                ctx.report("IST0147", pod, "Pod", name_of(pod))
        for dep in ctx.of("Deployment"):
            tmpl = mapping(spec(dep).get("template"))
            if not _auto_image(mapping(tmpl.get("spec"))):
                continue
            ns = ctx.find("Namespace", ns_of(dep) or "default")
            ns_labels = labels_of(ns) if ns is not None else {}
            pod_labels = mapping(mapping(tmpl.get("metadata")).get("labels"))
            if not any(label_selector_matches(wh.get("namespaceSelector"), ns_labels)
                       and label_selector_matches(wh.get("objectSelector"), pod_labels) for wh in webhooks):
                ctx.report("IST0146", dep, "Deployment", name_of(dep))
