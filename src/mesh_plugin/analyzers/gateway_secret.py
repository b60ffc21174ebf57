"""gateway.SecretAnalyzer: TLS credentialName Secrets must exist where the gateway pods run."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import gateway_pods, spec


class SecretAnalyzer(Analyzer):
    name = "gateway.SecretAnalyzer"
    description = "Checks a Gateway's TLS credentialName Secret exists in the namespace of its workloads"
    inputs = ("Gateway", "Pod", "Secret")

    def analyze(self, ctx: Context) -> None:
        secrets = {(ns_of(s), name_of(s)) for s in ctx.of("Secret")}
        for gw in ctx.of("Gateway"):
            pods = gateway_pods(ctx, gw)
            namespaces = {ns_of(p) for p in pods} or {ns_of(gw)}
            for server in spec(gw).get("servers") or []:
                cred = (server.get("tls") or {}).get("credentialName")
                if not cred:
                    continue
                name = str(cred).rpartition("/")[2]  # "ns/name" refers across namespaces
                wanted = {str(cred).rpartition("/")[0]} if "/" in str(cred) else namespaces
                if not all((ns, name) in secrets or (ns, name.removesuffix("-cacert")) in secrets for ns in wanted):
                    ctx.report("IST0101", gw, "credentialName", cred)
