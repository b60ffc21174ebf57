"""gateway.IngressGatewayPortAnalyzer: gateway ports the gateway's Service does not expose; no workload at all."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import gateway_pods, services_for_pod, spec


class IngressGatewayPortAnalyzer(Analyzer):
    name = "gateway.IngressGatewayPortAnalyzer"
    description = "Checks a Gateway selects workloads and that their Service exposes the Gateway's ports"
    inputs = ("Gateway", "Pod", "Service")

    def analyze(self, ctx: Context) -> None:
        for gw in ctx.of("Gateway"):
            sel = spec(gw).get("selector") or {}
            pods = gateway_pods(ctx, gw)
            if not pods:
                ctx.report("IST0101", gw, "selector", ",".join(f"{k}={v}" for k, v in sorted(sel.items())))
                continue
            ports: set[int] = set()
            for pod in pods:
                for svc in services_for_pod(ctx, pod):
                    for p in spec(svc).get("ports") or []:
                        if str(p.get("protocol") or "TCP").upper() != "TCP":
                            continue
                        ports.add(int(p.get("port") or 0))
                        tp = p.get("targetPort")
                        if isinstance(tp, int) or (isinstance(tp, str) and tp.isdigit()):
                            ports.add(int(tp))
            for server in spec(gw).get("servers") or []:
                number = (server.get("port") or {}).get("number")
                if number and int(number) not in ports:
                    ctx.report("IST0162", gw, number, ",".join(f"{k}={v}" for k, v in sorted(sel.items())))

