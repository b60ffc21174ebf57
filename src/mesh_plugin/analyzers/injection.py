"""injection.Analyzer: namespaces not enabled for injection (IST0102, or IST0148 when the injector enables
namespaces by default), namespaces with several injection labels (IST0123), pods of injected namespaces
without the proxy (IST0103)."""
from __future__ import annotations

import json

from ..kube.snapshot import annotations_of, labels_of, name_of
from .base import ISTIO_SYSTEM, Analyzer, Context
from .util import (DATAPLANE_MODE_LABEL, INJECTION_ENABLED, INJECTION_LABEL, ISTIO_PROXY, REVISION_LABEL,
                   SIDECAR_INJECT, containers, full_name, injector_configmap_name, mapping, spec)


def injector_values(cm: dict) -> dict | None:
    """The JSON ``values`` of an injector ConfigMap, None when it does not parse."""
    try:
        v = json.loads(str(mapping(cm.get("data")).get("values") or ""))
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def enable_namespaces_by_default(cm: dict) -> bool:
    v = mapping(mapping(injector_values(cm)).get("sidecarInjectorWebhook")).get("enableNamespacesByDefault")
    return v is True


class InjectionAnalyzer(Analyzer):
    name = "injection.Analyzer"
    description = "Checks conditions related to Istio sidecar injection"
    inputs = ("Namespace", "Pod", "ConfigMap")

    def analyze(self, ctx: Context) -> None:
        configmaps: dict[str, dict] = {}
        for cm in ctx.of("ConfigMap"):
            configmaps.setdefault(name_of(cm), cm)
        by_default = False  # carried from one namespace to the next, as in Istio
        injected: set[str] = set()
        for ns in ctx.of("Namespace"):
            name = name_of(ns)
            if name == ISTIO_SYSTEM:
                continue
            labels = labels_of(ns)
            has_injection = INJECTION_LABEL in labels
            injection = str(labels.get(INJECTION_LABEL) or "")
            has_rev = REVISION_LABEL in labels
            revision = str(labels.get(REVISION_LABEL) or "")
            found = [f"{INJECTION_LABEL}={injection}"] if has_injection else []
            for label in (REVISION_LABEL, DATAPLANE_MODE_LABEL):
                if label in labels and (not has_injection or injection == "enabled"):
                    found.append(f"{label}={labels[label]}")
            if len(found) > 1:
                ctx.report("IST0123", ns, found)
            if labels.get(DATAPLANE_MODE_LABEL) == "ambient":
                continue
            cm = configmaps.get(injector_configmap_name(revision))
            if cm is not None:
                by_default = enable_namespaces_by_default(cm)
            if injection == "" and not has_rev:
                if by_default:
                    ctx.report("IST0148", ns)
                else:
                    ctx.report("IST0102", ns, name, name, path="{.metadata.name}")
                continue
            if injection == INJECTION_ENABLED:
                injected.add(name)
        for ns in sorted(injected):
            for pod in ctx.of("Pod", ns):
                inj = str(annotations_of(pod).get(SIDECAR_INJECT, ""))
                if SIDECAR_INJECT in labels_of(pod):
                    inj = str(labels_of(pod)[SIDECAR_INJECT])
                if inj.lower() == "false" or spec(pod).get("hostNetwork"):
                    continue
                proxy = next((c for c in containers(spec(pod)) if c.get("name") == ISTIO_PROXY), None)
                if proxy is None or not proxy.get("image"):
                    ctx.report("IST0103", pod, full_name(pod))
