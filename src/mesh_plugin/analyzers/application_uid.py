"""applicationUID.Analyzer: application containers must not run as UID 1337 (the sidecar's)."""
from __future__ import annotations

from .base import Analyzer, Context

PROXY_UID = 1337


def _uses_proxy_uid(pod_spec: dict) -> bool:
    if ((pod_spec.get("securityContext") or {}).get("runAsUser")) == PROXY_UID:
        return True
    for c in pod_spec.get("containers") or []:
        if c.get("name") != "istio-proxy" and (c.get("securityContext") or {}).get("runAsUser") == PROXY_UID:
            return True
    return False


class ApplicationUIDAnalyzer(Analyzer):
    name = "applicationUID.Analyzer"
    description = "Checks that application pods do not use the user ID reserved for the sidecar proxy (1337)"
    inputs = ("Pod", "Deployment")

    def analyze(self, ctx: Context) -> None:
        for pod in ctx.of("Pod"):
            if _uses_proxy_uid(pod.get("spec") or {}):
                ctx.report("IST0144", pod)
        for dep in ctx.of("Deployment"):
            tmpl = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
            if _uses_proxy_uid(tmpl):
                ctx.report("IST0144", dep)
