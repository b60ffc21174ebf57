"""injection.ImageAnalyzer: pods whose proxy image differs from what the injector would inject now."""
from __future__ import annotations

import re

from ..kube.snapshot import annotations_of, labels_of, name_of
from ..mesh.workloads import containers_of
from .base import Analyzer, Context
from .injection import INJECTION_LABEL, REVISION_LABEL, injector_values

_VARIANT = re.compile(r"-(distroless|debug)$")


def injected_image(values: dict, image_type: str | None) -> str | None:
    g = values.get("global") or {}
    image = str((g.get("proxy") or {}).get("image") or "")
    if not image:
        return None
    if "/" not in image:
        image = f"{g.get('hub')}/{image}:{g.get('tag')}"
    variant = image_type or g.get("variant")
    if variant and variant != "default" and not image.endswith(f"-{variant}"):
        image = f"{image}-{variant}"
    return image


def _base(image: str) -> str:
    return _VARIANT.sub("", image)


class ImageAnalyzer(Analyzer):
    name = "injection.ImageAnalyzer"
    description = "Checks the proxy image of running pods matches the injector's (pods to redeploy after upgrades)"
    inputs = ("Namespace", "Pod", "ConfigMap")

    def analyze(self, ctx: Context) -> None:
        for ns in ctx.of("Namespace"):
            labels = labels_of(ns)
            if labels.get(INJECTION_LABEL) == "enabled":
                revision = "default"
            elif labels.get(REVISION_LABEL) and labels.get(INJECTION_LABEL) != "disabled":
                revision = labels[REVISION_LABEL]
            else:
                continue
            values = injector_values(ctx, revision)
            if values is None:
                continue
            want = injected_image(values, ctx.mesh.image_type)
            if not want:
                continue
            stale = []
            for pod in ctx.of("Pod", name_of(ns)):
                if annotations_of(pod).get("sidecar.istio.io/proxyImage"):
                    continue
                spec = pod.get("spec") or {}
                proxies = [c for c in containers_of(pod) + list(spec.get("initContainers") or [])
                           if c.get("name") == "istio-proxy"]
                if proxies and _base(str(proxies[0].get("image") or "")) != _base(want):
                    stale.append(name_of(pod))
            if stale:
                ctx.report("IST0158", ns, ", ".join(sorted(stale)))
