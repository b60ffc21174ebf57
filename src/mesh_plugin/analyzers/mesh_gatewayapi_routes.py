"""mesh.gatewayapi.RouteAnalyzer (MESH0701-MESH0705): what istiod makes of HTTPRoutes and GRPCRoutes
(mesh/gatewayapi.py, after pilot/pkg/config/kube/gateway).

Istio reports a refused parent or an unresolved backend only in the route's status, which a file never has and a
route istiod has not reconciled yet lacks (IST0171 reads it once written): MESH0701 and MESH0702 say it before,
and stay quiet for routes with istiod's status. Istio accepts silently what MESH0703-MESH0705 explain: a rule
whose weights add up to 0 (every request gets a 500), a rule no request reaches once istiod has sorted the rules
of a host, and a VirtualService and an HTTPRoute for one host (one applies per client namespace, never both).
"""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from ..mesh import gatewayapi as G
from .base import Analyzer, Context
from .util import mapping, seq, spec


def _has_istio_status(route: dict) -> bool:
    return any(mapping(p).get("controllerName") == G.GATEWAY_CONTROLLER
               for p in seq(mapping(route.get("status")).get("parents")))


class GatewayAPIRouteAnalyzer(Analyzer):
    name = "mesh.gatewayapi.RouteAnalyzer"
    description = ("Explains what Istio makes of HTTPRoutes and GRPCRoutes: refused parents and backends before "
                   "istiod writes status, rules answering 500 or never reached, a VirtualService on the same host")
    inputs = (G.GATEWAY, G.HTTPROUTE, G.GRPCROUTE, G.REFERENCE_GRANT, G.GATEWAY_CLASS, "Service", "Namespace",
              "ServiceEntry", "VirtualService")

    def analyze(self, ctx: Context) -> None:
        t = G.translate(ctx)
        for info in t.routes:
            route, kind = info.route, info.key.rpartition("/")[2]
            quiet = _has_istio_status(route)
            for s in info.status:
                if not s.accepted and not quiet:
                    why = "; ".join(dict.fromkeys(s.message.split("; ")))
                    ctx.report("MESH0701", route, s.label, s.reason, why)
                elif s.accepted and not s.resolved_refs[0] and not quiet:
                    ctx.report("MESH0702", route, s.label, s.resolved_refs[1], s.resolved_refs[2])
            if not any(s.accepted for s in info.status):
                continue
            for i, rule in enumerate(seq(spec(G.with_defaults(route)).get("rules"))):
                rule = mapping(rule)
                backends = [mapping(b) for b in seq(rule.get("backendRefs"))]
                redirect = any(mapping(f).get("type") == "RequestRedirect" for f in seq(rule.get("filters")))
                if not redirect and sum(1 if b.get("weight") is None else int(b["weight"] or 0) for b in backends) == 0:
                    ctx.report("MESH0703", route, i, "no backendRefs" if not backends else "every backend weight is 0")
            names = {str(mapping(r).get("name") or f"{ns_of(route)}.{name_of(route)}.{n}"): n
                     for n, r in enumerate(seq(spec(route).get("rules")))}
            for rule_name in G.unreachable_rules(t, info):
                ctx.report("MESH0704", route, names.get(rule_name, rule_name))
        user = [vs for vs in ctx.of("VirtualService") if "mesh" in (seq(spec(vs).get("gateways")) or ["mesh"])]
        for svc in ctx.of("Service"):
            host = f"{name_of(svc)}.{ns_of(svc)}.svc.{t.domain}"
            routes = t.mesh_virtual_services(host)
            if not routes:
                continue
            claiming = [vs for vs in user if any(G.host_matches(_fqdn(str(h), ns_of(vs), t.domain), host)
                                                 for h in seq(spec(vs).get("hosts")))]
            if not claiming:
                continue
            ports = [int(p["port"]) for p in seq(spec(svc).get("ports")) if str(mapping(p).get("port", "")).isdigit()]
            applies = G.applies(claiming + routes, ns_of(svc), ports, [ns_of(v) for v in claiming + routes])
            where = "; ".join(f"{'other namespaces' if ns == '*' else ns}: {a}" for ns, a in applies.items())
            route_objs = {(ns_of(i.route), name_of(i.route)): i.route for i in t.routes}
            for vs in routes:
                for parent in vs["metadata"]["annotations"][G.PARENTS].split(","):
                    kind, _, rest = parent.partition("/")
                    rname, _, rns = rest.rpartition(".")
                    obj = route_objs.get((rns, rname))
                    if obj is not None:
                        ctx.report("MESH0705", obj, ", ".join(f"{ns_of(v)}/{name_of(v)}" for v in claiming), host,
                                   where)


def _fqdn(h: str, ns: str, domain: str) -> str:
    return h if ("." in h or "*" in h) else f"{h}.{ns}.svc.{domain}"
