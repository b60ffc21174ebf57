"""service.PortNameAnalyzer: Service ports whose name (or appProtocol) does not declare a protocol (IST0118),
and ExternalName Services with such ports or a port named tcp (IST0150)."""
from __future__ import annotations

from ..kube.snapshot import labels_of
from .base import Analyzer, Context
from .util import GATEWAY_MANAGED, convert_protocol, UNSUPPORTED, is_istio_control_plane, mapping, seq, spec, \
    target_port_string

MANAGED = ("istio.io-gateway-controller", "istio.io-mesh-controller", "istio.io-eastwest-controller")


class PortNameAnalyzer(Analyzer):
    name = "service.PortNameAnalyzer"
    description = "Checks the port names associated with each service"
    inputs = ("Service",)

    def analyze(self, ctx: Context) -> None:
        for svc in ctx.of("Service"):
            if is_istio_control_plane(svc) or labels_of(svc).get(GATEWAY_MANAGED) in MANAGED:
                continue
            s = spec(svc)
            external = s.get("type") == "ExternalName"
            for i, port in enumerate(seq(s.get("ports"))):
                port = mapping(port)
                name = str(port.get("name") or "")
                app = port.get("appProtocol")
                proto = convert_protocol(port.get("port"), name, str(port.get("protocol") or ""),
                                         None if app is None else str(app))
                if proto == UNSUPPORTED or (name == "tcp" and external):
                    path = f"{{.spec.ports[{i}].port}}"
                    if external:
                        ctx.report("IST0150", svc, path=path)
                    else:
                        ctx.report("IST0118", svc, name, int(port.get("port") or 0), target_port_string(port),
                                   path=path)
