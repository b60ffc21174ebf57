"""deployment.MultiServiceAnalyzer: a Deployment behind several Services that use one port with different protocols."""
from __future__ import annotations

from ..kube.snapshot import labels_of
from .base import Analyzer, Context, matches
from .util import spec


def port_protocol(port: dict) -> str:
    if port.get("appProtocol"):
        return str(port["appProtocol"]).lower()
    name = str(port.get("name") or "")
    proto = name.split("-", 1)[0].lower() if name else ""
    return proto or str(port.get("protocol") or "TCP").lower()


class MultiServiceAnalyzer(Analyzer):
    name = "deployment.MultiServiceAnalyzer"
    description = "Checks that a Deployment is not exposed by several Services on one port with different protocols"
    inputs = ("Deployment", "Service")

    def analyze(self, ctx: Context) -> None:
        for dep in ctx.of("Deployment"):
            labels = labels_of((spec(dep).get("template") or {}))
            if not labels:
                continue
            by_port: dict[int, set[str]] = {}
            for svc in ctx.of("Service", (dep.get("metadata") or {}).get("namespace")):
                sel = spec(svc).get("selector") or {}
                if not sel or not matches(sel, labels):
                    continue
                for port in spec(svc).get("ports") or []:
                    by_port.setdefault(int(port.get("port") or 0), set()).add(port_protocol(port))
            for port, protos in sorted(by_port.items()):
                if len(protos) > 1:
                    ctx.report("IST0116", dep, (dep.get("metadata") or {}).get("name"), port, sorted(protos))
