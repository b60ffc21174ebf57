"""injection.Analyzer: namespaces not enabled for injection, conflicting labels, pods missing the proxy."""
from __future__ import annotations

import json

from ..kube.snapshot import annotations_of, labels_of, name_of, ns_of
from ..mesh.workloads import containers_of
from .base import Analyzer, Context
from .util import SYSTEM_NAMESPACES

INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"
DATAPLANE_LABEL = "istio.io/dataplane-mode"


def injector_values(ctx: Context, revision: str | None = None) -> dict | None:
    """The Helm values of the sidecar injector ConfigMap (``istio-sidecar-injector[-<rev>]``), if present."""
    want = "istio-sidecar-injector" + (f"-{revision}" if revision and revision != "default" else "")
    for cm in ctx.of("ConfigMap"):
        if name_of(cm) == want:
            try:
                return json.loads((cm.get("data") or {}).get("values") or "{}")
            except ValueError:
                return None
    return None


def injection_labels(ns: dict) -> list[str]:
    """The labels that each enable a data plane mode on the namespace."""
    labels = labels_of(ns)
    out = []
    if labels.get(INJECTION_LABEL) == "disabled":
        return []
    if INJECTION_LABEL in labels:
        out.append(f"{INJECTION_LABEL}={labels[INJECTION_LABEL]}")
    if labels.get(REVISION_LABEL):
        out.append(f"{REVISION_LABEL}={labels[REVISION_LABEL]}")
    if labels.get(DATAPLANE_LABEL) == "ambient":
        out.append(f"{DATAPLANE_LABEL}=ambient")
    return out


def namespace_injected(ns: dict | None) -> bool:
    if not ns:
        return False
    labels = labels_of(ns)
    if labels.get(INJECTION_LABEL) == "disabled":
        return False
    return labels.get(INJECTION_LABEL) == "enabled" or bool(labels.get(REVISION_LABEL))


def pod_injection_disabled(pod: dict) -> bool:
    label = labels_of(pod).get("sidecar.istio.io/inject")
    if label is not None:  # the label wins over the annotation
        return str(label).lower() == "false"
    return str(annotations_of(pod).get("sidecar.istio.io/inject", "")).lower() == "false"


def has_proxy(pod: dict) -> bool:
    spec = pod.get("spec") or {}
    return any(c.get("name") == "istio-proxy" for c in containers_of(pod)) or any(
        c.get("name") == "istio-proxy" for c in spec.get("initContainers") or [])


class InjectionAnalyzer(Analyzer):
    name = "injection.Analyzer"
    description = "Checks namespaces are enabled for injection, have one injection label, and their pods a proxy"
    inputs = ("Namespace", "Pod", "ConfigMap")

    def analyze(self, ctx: Context) -> None:
        values = injector_values(ctx) or {}
        by_default = bool((values.get("sidecarInjectorWebhook") or {}).get("enableNamespacesByDefault"))
        namespaces = {name_of(n): n for n in ctx.of("Namespace")}
        for name, ns in sorted(namespaces.items()):
            if name in SYSTEM_NAMESPACES or name == ctx.mesh.root_namespace:
                continue
            labels = injection_labels(ns)
            if len(labels) > 1:
                ctx.report("IST0123", ns, ", ".join(labels))
                continue
            if labels or labels_of(ns).get(INJECTION_LABEL) == "disabled":
                continue
            ctx.report("IST0148" if by_default else "IST0102", ns, name)
        for pod in ctx.of("Pod"):
            ns = ns_of(pod)
            if ns in SYSTEM_NAMESPACES or ns == ctx.mesh.root_namespace:
                continue
            if not namespace_injected(namespaces.get(ns)):
                continue
            if (pod.get("spec") or {}).get("hostNetwork") or pod_injection_disabled(pod) or has_proxy(pod):
                continue
            ctx.report("IST0103", pod, name_of(pod))
