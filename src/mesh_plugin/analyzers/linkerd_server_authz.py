"""mesh.linkerd.ServerAuthorizationAnalyzer (MESH): a Server that denies by default and nothing authorizes."""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from .base import Analyzer, Context, matches
from .util import spec

OPEN_POLICIES = ("all-unauthenticated", "all-authenticated", "cluster-unauthenticated", "cluster-authenticated")


def _targets_server(ap: dict, server: dict) -> bool:
    refs = [spec(ap).get("targetRef")] if spec(ap).get("targetRef") else []
    for ref in refs:
        kind = ref.get("kind")
        if kind == "Server" and ref.get("name") == name_of(server):
            return True
        if kind == "Namespace" and ref.get("name", ns_of(ap)) == ns_of(server):
            return True
    return False


class ServerAuthorizationAnalyzer(Analyzer):
    name = "mesh.linkerd.ServerAuthorizationAnalyzer"
    aliases = ("linkerd.ServerAuthorizationAnalyzer",)
    description = "Checks every Linkerd Server that denies by default has an authorization admitting traffic"
    inputs = ("Server", "policy.linkerd.io/AuthorizationPolicy", "ServerAuthorization", "policy.linkerd.io/HTTPRoute")

    def analyze(self, ctx: Context) -> None:
        for server in ctx.of("Server"):
            access = str(spec(server).get("accessPolicy") or "deny")
            if access in OPEN_POLICIES:
                continue
            ns = ns_of(server)
            if any(_targets_server(ap, server) for ap in ctx.of("policy.linkerd.io/AuthorizationPolicy", ns)):
                continue
            routes = [r for r in ctx.of("policy.linkerd.io/HTTPRoute", ns)
                      if any(p.get("kind") == "Server" and p.get("name") == name_of(server)
                             for p in spec(r).get("parentRefs") or [])]
            if any((spec(ap).get("targetRef") or {}).get("kind") == "HTTPRoute" and
                   (spec(ap).get("targetRef") or {}).get("name") in {name_of(r) for r in routes}
                   for ap in ctx.of("policy.linkerd.io/AuthorizationPolicy", ns)):
                continue
            authorized = False
            for sa in ctx.of("ServerAuthorization", ns):
                ref = spec(sa).get("server") or {}
                if ref.get("name") == name_of(server):
                    authorized = True
                elif ref.get("selector"):
                    authorized = matches((ref["selector"].get("matchLabels") or {}), labels_of(server))
                if authorized:
                    break
            if not authorized:
                ctx.report("MESH0501", server, f"{ns}/{name_of(server)}", f" (accessPolicy {access})",
                           "every request to it is refused")
