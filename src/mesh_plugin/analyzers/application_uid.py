"""applicationUID.Analyzer: application containers must not run as UID 1337, the sidecar's (IST0144)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import ISTIO_OPERATOR, ISTIO_PROXY, is_istio_control_plane, mapping, seq, spec

PROXY_UID = 1337


def _uid_reports(pod_spec: dict) -> int:
    """How many times Istio reports the pod spec: once for the pod's securityContext, once per container."""
    n = 0
    if mapping(pod_spec.get("securityContext")).get("runAsUser") == PROXY_UID:
        n += 1
    for c in seq(pod_spec.get("containers")):
        if isinstance(c, dict) and c.get("name") not in (ISTIO_PROXY, ISTIO_OPERATOR) and \
                mapping(c.get("securityContext")).get("runAsUser") == PROXY_UID:
            n += 1
    return n


class ApplicationUIDAnalyzer(Analyzer):
    name = "applicationUID.Analyzer"
    description = "Checks invalid application UID"
    inputs = ("Pod", "Deployment")

    def analyze(self, ctx: Context) -> None:
        for pod in ctx.of("Pod"):
            if not is_istio_control_plane(pod):
                for _ in range(_uid_reports(spec(pod))):
                    ctx.report("IST0144", pod)
        for dep in ctx.of("Deployment"):
            if not is_istio_control_plane(dep):
                for _ in range(_uid_reports(mapping(mapping(spec(dep).get("template")).get("spec")))):
                    ctx.report("IST0144", dep)
