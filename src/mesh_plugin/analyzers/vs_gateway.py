"""virtualservice.GatewayAnalyzer: gateways a VirtualService names that do not exist (IST0101) or declare none of
its hosts (IST0132), and references to Gateways generated for Kubernetes Gateways (IST0165)."""
from __future__ import annotations

from ..kube.snapshot import ns_of
from .base import Analyzer, Context
from .util import (KUBERNETES_GATEWAY_NAME, MESH_GATEWAY, full_name, host_matches, mapping, names_for_namespace,
                   seq, short_or_full_name, spec)


def is_internal_gateway_reference(name: str) -> bool:
    parts = name.split("/", 1)
    return f"~{KUBERNETES_GATEWAY_NAME}~" in (parts[1] if len(parts) == 2 else name)


def gateway_hosts(gw: dict) -> list[str]:
    """The hosts of a Gateway's servers with ``./`` made ``<gateway ns>/`` and ``*/`` stripped
    (sanitizeServerHostNamespace; ``*/*`` makes the server's hosts just ``*``)."""
    out: list[str] = []
    for server in seq(spec(gw).get("servers")):
        hosts = [str(h) for h in seq(mapping(server).get("hosts"))]
        for i, h in enumerate(hosts):
            if "/" in h:
                ns, _, rest = h.partition("/")
                rest = h.split("/")[1]
                if ns == ".":
                    hosts[i] = f"{ns_of(gw)}/{rest}"
                elif ns == "*":
                    if rest == "*":
                        hosts = ["*"]
                        break
                    hosts[i] = rest
        out += hosts
    return out


class GatewayAnalyzer(Analyzer):
    name = "virtualservice.GatewayAnalyzer"
    description = "Checks the gateways associated with each virtual service"
    inputs = ("Gateway", "VirtualService")

    def analyze(self, ctx: Context) -> None:
        for vs in ctx.of("VirtualService"):
            vs_ns = ns_of(vs)
            vs_hosts = [str(h) for h in seq(spec(vs).get("hosts"))]
            for i, gw_name in enumerate(str(g) for g in seq(spec(vs).get("gateways"))):
                if gw_name == MESH_GATEWAY:
                    continue
                path = f"{{.spec.gateways[{i}]}}"
                if is_internal_gateway_reference(gw_name):
                    ctx.report("IST0165", vs, full_name(vs), gw_name, path=path)
                    continue
                ns, name = short_or_full_name(vs_ns, gw_name)
                gw = ctx.find("Gateway", name, ns)
                if gw is None:
                    ctx.report("IST0101", vs, "gateway", gw_name, path=path)
                gw_hosts = names_for_namespace(gateway_hosts(gw), vs_ns) if gw is not None else []
                if not any(host_matches(gh, vh) for gh in gw_hosts for vh in vs_hosts):
                    ctx.report("IST0132", vs, vs_hosts, full_name(vs), f"{ns}/{name}" if ns else name, path=path)
