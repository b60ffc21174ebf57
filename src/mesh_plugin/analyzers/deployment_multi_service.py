"""deployment.MultiServiceAnalyzer: a meshed Deployment behind several Services that use one port with
different protocols (IST0116), or one targetPort behind different ports (IST0137)."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context
from .util import GATEWAY_MANAGED, deployment_in_mesh, full_name, mapping, seq, set_matches, spec

MESH_CONTROLLER = "istio.io-mesh-controller"


class MultiServiceAnalyzer(Analyzer):
    name = "deployment.MultiServiceAnalyzer"
    description = "Checks association between services and pods"
    inputs = ("Service", "Deployment", "Namespace")

    def analyze(self, ctx: Context) -> None:
        for dep in ctx.of("Deployment"):
            if labels_of(dep).get(GATEWAY_MANAGED) == MESH_CONTROLLER or not deployment_in_mesh(ctx, dep):
                continue
            pod_labels = mapping(mapping(mapping(spec(dep).get("template")).get("metadata")).get("labels"))
            svcs = [s for s in ctx.of("Service", ns_of(dep))
                    if mapping(spec(s).get("selector")) and set_matches(spec(s).get("selector"), pod_labels)]
            by_port: dict[int, dict[str, list[str]]] = {}
            by_target: dict[str, dict[int, str]] = {}
            for svc in svcs:
                for p in seq(spec(svc).get("ports")):
                    if not isinstance(p, dict):
                        continue
                    port = int(p.get("port") or 0)
                    proto = str(p.get("protocol") or "TCP")
                    by_port.setdefault(port, {}).setdefault(proto, []).append(full_name(svc))
                    tp = p.get("targetPort")
                    tps = "" if tp is None else str(tp)
                    if tps in ("0", ""):
                        tps = str(port)
                    by_target.setdefault(tps, {})[port] = full_name(svc)
            for port, protos in by_port.items():
                if len(protos) > 1:
                    names = sorted(n for ns in protos.values() for n in ns)
                    ctx.report("IST0116", dep, name_of(dep), port, names, path="{.metadata.name}")
            for target, ports in by_target.items():
                if len(ports) > 1:
                    ctx.report("IST0137", dep, name_of(dep), sorted(ports.values()), target, sorted(ports),
                               path="{.metadata.name}")
