"""k8sgateway.CRDVersionAnalyzer: Gateway API CRDs installed below the version this Istio requires (IST0176)."""
from __future__ import annotations

import re

from ..kube.snapshot import annotations_of, name_of
from .base import Analyzer, Context

BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version"
#: pkg/config/schema/gatewayapi.MinimumCRDVersions at the pin
MINIMUM: dict[str, tuple[int, int, int]] = {
    "grpcroutes.gateway.networking.k8s.io": (1, 1, 0),
    "backendtlspolicies.gateway.networking.k8s.io": (1, 4, 0),
    "tlsroutes.gateway.networking.k8s.io": (1, 5, 0),
    "tcproutes.gateway.networking.k8s.io": (1, 6, 0),
}
#: Masterminds semver.NewVersion (loose: a leading v, missing minor/patch)
_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z\-.]+))?(?:\+([0-9A-Za-z\-.]+))?$")


def _version(s: str) -> tuple[tuple[int, int, int], str, str] | None:
    m = _SEMVER.match(s.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)), m.group(4) or "", m.group(5) or ""


def _show(v: tuple[int, int, int], pre: str = "", meta: str = "") -> str:
    return ".".join(map(str, v)) + (f"-{pre}" if pre else "") + (f"+{meta}" if meta else "")


class CRDVersionAnalyzer(Analyzer):
    name = "k8sgateway.CRDVersionAnalyzer"
    description = "Checks Gateway API CRDs are at the minimum version required by this Istio version"
    inputs = ("CustomResourceDefinition",)

    def analyze(self, ctx: Context) -> None:
        for crd in ctx.of("CustomResourceDefinition"):
            minimum = MINIMUM.get(name_of(crd))
            bundle = annotations_of(crd).get(BUNDLE_VERSION)
            if minimum is None or bundle is None:
                continue
            parsed = _version(str(bundle))
            if parsed is None:
                continue
            version, pre, meta = parsed
            if version < minimum:
                ctx.report("IST0176", crd, name_of(crd), _show(version, pre, meta), _show(minimum))
