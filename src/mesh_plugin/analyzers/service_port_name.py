"""service.PortNameAnalyzer: Service ports whose name (or appProtocol) does not declare the protocol."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import SYSTEM_NAMESPACES, spec

PROTOCOLS = {"http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo", "mysql", "redis", "udp", "h2c",
             "hbone", "unsupported"}


def port_name_ok(name: str) -> bool:
    name = name.lower()
    if name in PROTOCOLS:
        return True
    head = name.split("-", 1)[0]
    return head in PROTOCOLS or name.startswith("grpc-web")


class PortNameAnalyzer(Analyzer):
    name = "service.PortNameAnalyzer"
    description = "Checks Service port names follow Istio's <protocol>[-suffix] convention (or set appProtocol)"
    inputs = ("Service",)

    def analyze(self, ctx: Context) -> None:
        for svc in ctx.of("Service"):
            if ns_of(svc) in SYSTEM_NAMESPACES or ns_of(svc) == ctx.mesh.root_namespace:
                continue
            if spec(svc).get("type") == "ExternalName":
                continue
            for port in spec(svc).get("ports") or []:
                if port.get("appProtocol"):
                    continue
                name = str(port.get("name") or "")
                if not port_name_ok(name):
                    ctx.report("IST0118", svc, repr(name), port.get("port"), port.get("targetPort", port.get("port")))
