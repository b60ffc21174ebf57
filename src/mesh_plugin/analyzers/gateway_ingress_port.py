"""gateway.IngressGatewayPortAnalyzer: a Gateway whose selector matches no pod (IST0101), or whose port the
Service of its pods does not expose (IST0162). Pods come from the index (issue 23)."""
from __future__ import annotations

from ..kube.snapshot import labels_of, ns_of
from .base import Analyzer, Context
from .util import mapping, selector_string, seq, set_matches, spec, str_map, target_port_int


class IngressGatewayPortAnalyzer(Analyzer):
    name = "gateway.IngressGatewayPortAnalyzer"
    description = "Checks a gateway's ports against the gateway's Kubernetes service ports"
    inputs = ("Gateway", "Pod", "Service")

    def analyze(self, ctx: Context) -> None:
        for gw in ctx.of("Gateway"):
            sel = str_map(spec(gw).get("selector"))
            pods = ctx.pods.select(None, sel)
            sel_str = selector_string(sel)
            label = sel_str.split("=", 1)[0] if "=" in sel_str else ""
            if not pods:
                ctx.report("IST0101", gw, "selector", sel_str, path=f"{{.spec.selector.{label}}}")
                continue
            service_ports: set[int] = set()
            port_mapping: dict[int, int] = {}
            seen: set[tuple] = set()  # pods of one workload share namespace and labels: look their Services up once
            for pod in pods:
                plabels = labels_of(pod)
                key = (ns_of(pod), tuple(sorted(str_map(plabels).items())))
                if key in seen:
                    continue
                seen.add(key)
                for svc in ctx.of("Service", ns_of(pod)):
                    if not set_matches(spec(svc).get("selector"), plabels):
                        continue
                    for p in seq(spec(svc).get("ports")):
                        p = mapping(p)
                        if p.get("protocol") != "TCP":
                            continue
                        tp = target_port_int(p)
                        if tp:
                            service_ports.add(tp)
                            port_mapping.setdefault(int(p.get("port") or 0), tp)
                        else:
                            service_ports.add(int(p.get("port") or 0))
            for server in seq(spec(gw).get("servers")):
                port = mapping(server).get("port")
                if not isinstance(port, dict):
                    continue
                number = int(port.get("number") or 0)
                if number not in service_ports and number not in port_mapping:
                    ctx.report("IST0162", gw, number, sel_str, path=f"{{.spec.selector.{label}}}")
