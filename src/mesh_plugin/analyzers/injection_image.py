"""injection.ImageAnalyzer: pods whose proxy image differs from what the injector would inject now (IST0158)."""
from __future__ import annotations

import yaml

from ..kube.snapshot import annotations_of, labels_of, name_of, ns_of
from .base import Analyzer, Context
from .injection import injector_values
from .util import (INJECTION_ENABLED, INJECTION_LABEL, ISTIO_PROXY, REVISION_LABEL, containers, full_name,
                   injector_configmap_name, mapping, set_matches, spec, str_map)


def proxy_image(cm: dict) -> str:
    """injection.GetIstioProxyImage: global.proxy.image as is when it has a '/', else hub/image:tag."""
    values = injector_values(cm)
    g = mapping(mapping(values).get("global"))
    hub, tag, image = g.get("hub", ""), g.get("tag", ""), mapping(g.get("proxy")).get("image", "")
    if values is None or not all(isinstance(x, str) for x in (hub, tag, image)):
        return ""
    return image if "/" in image else f"{hub}/{image}:{tag}"


class ProxyConfigResolver:
    """util.EffectiveProxyConfigResolver: the image type for a pod, from the mesh config, ProxyConfigs (root,
    namespace, workload) and the pod's proxy.istio.io/config annotation."""

    def __init__(self, ctx: Context) -> None:
        self.mesh_type = ctx.mesh.image_type or ""
        root = ctx.mesh.root_namespace or "istio-system"
        self.root: dict = {}
        self.namespace: dict[str, dict] = {}
        self.workload: dict[str, dict] = {}
        for pc in ctx.of("ProxyConfig"):
            s = spec(pc)
            if ns_of(pc) == root:
                self.root = s
            elif s.get("selector") is None:
                self.namespace[ns_of(pc)] = s
            else:
                self.workload[full_name(pc)] = s

    @staticmethod
    def _type(s: dict) -> str:
        return str(mapping(s.get("image")).get("imageType") or "")

    def image_type(self, pod: dict) -> str:
        variant = self.mesh_type
        variant = self._type(self.root) or variant
        ns = ns_of(pod)
        if ns in self.namespace:
            variant = self._type(self.namespace[ns]) or variant
        for key, s in self.workload.items():
            if key.startswith(ns) and set_matches(str_map(mapping(s.get("selector")).get("matchLabels")),
                                                  labels_of(pod)):
                variant = self._type(s) or variant
        ann = annotations_of(pod).get("proxy.istio.io/config")
        if ann is not None:
            try:
                pc = yaml.safe_load(str(ann))
            except yaml.YAMLError:
                pc = None
            if isinstance(pc, dict):
                variant = self._type(pc) or variant
        return "" if variant == "default" else variant


class ImageAnalyzer(Analyzer):
    name = "injection.ImageAnalyzer"
    description = "Checks the image of auto-injection configured with the running proxies on pods"
    inputs = ("Namespace", "Pod", "ConfigMap", "MeshConfig", "ProxyConfig")

    def analyze(self, ctx: Context) -> None:
        images = {name_of(cm): proxy_image(cm) for cm in ctx.of("ConfigMap")
                  if name_of(cm).startswith("istio-sidecar-injector")}
        if not images:
            return
        injected: dict[str, str] = {}
        namespaces: dict[str, dict] = {}
        for ns in ctx.of("Namespace"):
            namespaces[name_of(ns)] = ns
            labels = labels_of(ns)
            if REVISION_LABEL in labels:
                injected[name_of(ns)] = str(labels[REVISION_LABEL])
            elif labels.get(INJECTION_LABEL) == INJECTION_ENABLED:
                injected[name_of(ns)] = "default"
        resolver = ProxyConfigResolver(ctx)
        mismatched: dict[str, list[str]] = {}
        for ns, revision in injected.items():
            cm_name = injector_configmap_name(revision)
            for pod in ctx.of("Pod", ns):
                if annotations_of(pod).get("sidecar.istio.io/proxyImage"):
                    continue
                variant = resolver.image_type(pod)
                for c in containers(spec(pod)):
                    if c.get("name") != ISTIO_PROXY:
                        continue
                    want = images.get(cm_name)
                    if want is None:
                        break
                    if c.get("image") != want and c.get("image") != f"{want}-{variant}":
                        mismatched.setdefault(ns, []).append(name_of(pod))
        for ns, pods in mismatched.items():
            ctx.report("IST0158", namespaces[ns], sorted(pods))
