#!/usr/bin/env python3
"""Writes tests/data/gatewayapi/shop.yaml and cases.yaml: meshes with Gateway API routes (GAMMA and ingress), as
written by hand (no API server defaults), with injected sidecar pods and a Gateway API gateway pod so the Istio
oracle builds every proxy. Used offline and with the oracle by tests/test_gatewayapi.py."""
import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
T1, T2, T3 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"
GW = "gateway.networking.k8s.io/v1"


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def pod(ns, name, app, version, ip, port):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": app, "version": version, "security.istio.io/tlsMode": "istio",
                                    "service.istio.io/canonical-name": app,
                                    "service.istio.io/canonical-revision": version},
                         "annotations": {"sidecar.istio.io/status": json.dumps(
                             {"initContainers": ["istio-init"], "containers": ["istio-proxy"]})}},
            "spec": {"serviceAccountName": app, "nodeName": "node-1", "containers": [
                {"name": app, "image": f"example/{app}:{version}",
                 "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}]},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.31.0", "args": ["proxy", "sidecar"]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def service(ns, name, ports, selector):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector, "ports": [{"name": n, "port": p, "targetPort": "http"} for n, p in ports]}}


def route(ns, name, spec, ts=T2, kind="HTTPRoute"):
    return {"apiVersion": GW, "kind": kind, "metadata": {"name": name, "namespace": ns, "creationTimestamp": ts},
            "spec": spec}


def gateway(ns, name, listeners, ip, ports, target=0):
    """A Gateway of class istio, the Service istiod would deploy for it and its (router) pod (listening on the
    Service port + ``target``)."""
    return [
        {"apiVersion": GW, "kind": "Gateway", "metadata": {"name": name, "namespace": ns, "creationTimestamp": T1},
         "spec": {"gatewayClassName": "istio", "listeners": listeners}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-istio", "namespace": ns},
         "spec": {"selector": {"gateway.networking.k8s.io/gateway-name": name},
                  "ports": [{"name": f"p{p}", "port": p, "targetPort": p + target} for p in ports]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": f"{name}-istio-1", "namespace": ns,
                      "labels": {"gateway.networking.k8s.io/gateway-name": name,
                                 "service.istio.io/canonical-name": f"{name}-istio"}},
         "spec": {"serviceAccountName": f"{name}-istio", "nodeName": "node-1", "containers": [
             {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.31.0", "args": ["proxy", "router"],
              "ports": [{"containerPort": p + target} for p in ports]}]},
         "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                    "conditions": [{"type": "Ready", "status": "True"}]}},
    ]


def svc_ref(name, port=None, ns=None):
    ref = {"group": "", "kind": "Service", "name": name}
    if ns:
        ref["namespace"] = ns
    if port:
        ref["port"] = port
    return ref


def shop():
    ns = "shop"
    return [
        namespace("istio-system"), namespace(ns, {"istio-injection": "enabled", "edge": "public"}),
        namespace("other", {"istio-injection": "enabled"}),
        pod(ns, "sleep-1", "sleep", "v1", "10.244.1.10", 8080),
        pod("other", "sleep-other-1", "sleep", "v1", "10.244.2.10", 8080),
        pod(ns, "reviews-v1-1", "reviews", "v1", "10.244.1.20", 9080),
        pod(ns, "reviews-v2-1", "reviews", "v2", "10.244.1.21", 9080),
        pod(ns, "ratings-v1-1", "ratings", "v1", "10.244.1.30", 9080),
        pod(ns, "catalog-1", "catalog", "v1", "10.244.1.50", 9090),
        service(ns, "sleep", [("http", 80)], {"app": "sleep"}),
        service(ns, "reviews", [("http", 9080)], {"app": "reviews"}),
        service(ns, "reviews-v1", [("http", 9080)], {"app": "reviews", "version": "v1"}),
        service(ns, "reviews-v2", [("http", 9080)], {"app": "reviews", "version": "v2"}),
        service(ns, "ratings", [("http", 9080)], {"app": "ratings"}),
        service(ns, "catalog", [("grpc", 9090)], {"app": "catalog"}),
        # GAMMA: reviews split 90/10 with a mirror and a timeout; a header route to v2
        route(ns, "reviews", {"parentRefs": [svc_ref("reviews", 9080)], "rules": [
            {"matches": [{"headers": [{"name": "end-user", "value": "jason"}]}],
             "backendRefs": [{"name": "reviews-v2", "port": 9080}]},
            {"backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 90},
                             {"name": "reviews-v2", "port": 9080, "weight": 10}],
             "timeouts": {"request": "3s"},
             "filters": [{"type": "RequestMirror", "requestMirror": {
                 "backendRef": {"name": "reviews-v2", "port": 9080}, "percent": 25}}]}]}),
        # ratings: a VirtualService (older) and an HTTPRoute (newer, in the Service's namespace) both claim it
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "ratings", "namespace": ns, "creationTimestamp": T1},
         "spec": {"hosts": ["ratings"], "http": [{"name": "vs-ratings", "timeout": "7s",
                                                  "route": [{"destination": {"host": "ratings"}}]}]}},
        route(ns, "ratings", {"parentRefs": [svc_ref("ratings")], "rules": [
            {"backendRefs": [{"name": "ratings", "port": 9080, "weight": 3},
                             {"name": "ratings-missing", "port": 9080, "weight": 1}]}]}, ts=T3),
        # ingress: a Gateway with a wildcard listener for labelled namespaces and an admin listener
        *gateway(ns, "web", [
            {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com",
             "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"edge": "public"}}}}},
            {"name": "admin", "port": 8080, "protocol": "HTTP", "hostname": "admin.example.com"}],
            "10.244.1.40", [80, 8080]),
        route(ns, "shop-web", {"parentRefs": [{"name": "web", "sectionName": "http"}],
                               "hostnames": ["shop.example.com", "shop.example.org"], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/reviews/"}}],
             "backendRefs": [{"name": "reviews", "port": 9080}],
             "timeouts": {"request": "10s", "backendRequest": "2s"}},
            {"matches": [{"path": {"type": "Exact", "value": "/old"}}],
             "filters": [{"type": "RequestRedirect", "requestRedirect": {
                 "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}, "statusCode": 301}}]},
            {"matches": [{"path": {"type": "PathPrefix", "value": "/zero"}}],
             "backendRefs": [{"name": "reviews", "port": 9080, "weight": 0}]},
            {"backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 1},
                             {"name": "reviews-v2", "port": 9080, "weight": 0}],
             "filters": [{"type": "RequestMirror", "requestMirror": {
                 "backendRef": {"name": "reviews-v2", "port": 9080}, "fraction": {"numerator": 1, "denominator": 8}}}]}]}),
        # a route from a namespace the listener does not allow, and one to a port the Gateway does not have
        route("other", "other-web", {"parentRefs": [{"name": "web", "namespace": ns}], "hostnames": ["other.example.com"],
                                     "rules": [{"backendRefs": [{"name": "reviews", "namespace": ns, "port": 9080}]}]}),
        route(ns, "admin", {"parentRefs": [{"name": "web", "port": 8080}], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}, "method": "GET"}],
             "backendRefs": [{"name": "ratings", "port": 9080}]}]}),
        route(ns, "bad-port", {"parentRefs": [{"name": "web", "port": 9999}],
                               "rules": [{"backendRefs": [{"name": "ratings", "port": 9080}]}]}),
        # a consumer route: clients in "other" send reviews traffic to v1 only
        route("other", "reviews-from-other", {"parentRefs": [svc_ref("reviews", 9080, ns)], "rules": [
            {"backendRefs": [{"name": "reviews-v1", "namespace": ns, "port": 9080}]}]}, ts=T3),
        route(ns, "catalog", {"parentRefs": [svc_ref("catalog", 9090)], "rules": [
            {"matches": [{"method": {"service": "shop.Catalog", "method": "Get"}}],
             "backendRefs": [{"name": "catalog", "port": 9090}]},
            {"backendRefs": [{"name": "catalog", "port": 9090}]}]}, kind="GRPCRoute"),
    ]


def cases():
    ns = "lab"
    return [
        namespace("istio-system"), namespace(ns, {"istio-injection": "enabled"}),
        namespace("team", {"istio-injection": "enabled"}),
        pod(ns, "client-1", "client", "v1", "10.244.3.10", 8080),
        pod("team", "team-client-1", "client", "v1", "10.244.4.10", 8080),
        pod(ns, "api-v1-1", "api", "v1", "10.244.3.20", 8080),
        pod(ns, "api-v2-1", "api", "v2", "10.244.3.21", 8080),
        pod(ns, "legacy-1", "legacy", "v1", "10.244.3.30", 8080),
        service(ns, "client", [("http", 80)], {"app": "client"}),
        service(ns, "api", [("http", 80), ("http-admin", 8081)], {"app": "api"}),
        service(ns, "api-v1", [("http", 80)], {"app": "api", "version": "v1"}),
        service(ns, "api-v2", [("http", 80)], {"app": "api", "version": "v2"}),
        service(ns, "legacy", [("http", 80)], {"app": "legacy"}),
        # no port on the parentRef: every port of the Service; a regex rule and a rule without matches (the API
        # server defaults it to PathPrefix /, which Istio sorts before the regex); retry with backendRequest
        route(ns, "api", {"parentRefs": [svc_ref("api")], "rules": [
            {"matches": [{"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}}],
             "backendRefs": [{"name": "api-v2", "port": 80}]},
            {"backendRefs": [{"name": "api-v1", "port": 80, "weight": 0}, {"name": "api-v2", "port": 80, "weight": 0}]},
            {"matches": [{"path": {"type": "Exact", "value": "/healthz"}, "method": "GET"},
                         {"queryParams": [{"name": "debug", "value": "1"}]}],
             "backendRefs": [{"name": "api-v1", "port": 80}],
             "retry": {"attempts": 3, "codes": [503]}, "timeouts": {"backendRequest": "250ms"}}]}),
        # legacy: an HTTPRoute (older) and a VirtualService (newer) in another namespace; plus a consumer VS
        route(ns, "legacy", {"parentRefs": [svc_ref("legacy", 80)], "rules": [
            {"backendRefs": [{"name": "legacy", "port": 80}], "timeouts": {"request": "4s"}}]}, ts=T1),
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "legacy", "namespace": "team", "creationTimestamp": T2},
         "spec": {"hosts": [f"legacy.{ns}.svc.cluster.local"],
                  "http": [{"name": "team-legacy", "route": [{"destination": {"host": f"legacy.{ns}.svc.cluster.local"}}]}]}},
        # ingress: two listeners on one port (wildcard and exact host: isolation), From All; two routes for one
        # host merge; a cross-namespace backend allowed by a ReferenceGrant; a mirror on a GRPCRoute
        *gateway(ns, "edge", [
            {"name": "wild", "port": 80, "protocol": "HTTP", "hostname": "*.lab.example",
             "allowedRoutes": {"namespaces": {"from": "All"}}},
            {"name": "exact", "port": 80, "protocol": "HTTP", "hostname": "special.lab.example",
             "allowedRoutes": {"namespaces": {"from": "All"}}}], "10.244.3.40", [80], target=8000),
        route(ns, "edge-a", {"parentRefs": [{"name": "edge"}], "hostnames": ["www.lab.example", "special.lab.example"],
                             "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}],
                                        "backendRefs": [{"name": "api-v1", "port": 80}]}]}, ts=T1),
        route("team", "edge-b", {"parentRefs": [{"name": "edge", "namespace": ns}], "hostnames": ["www.lab.example"],
                                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/a/b"}}],
                                            "backendRefs": [{"name": "api-v2", "namespace": ns, "port": 80}]},
                                           {"backendRefs": [{"name": "legacy", "namespace": ns, "port": 80}]}]}, ts=T2),
        {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
         "metadata": {"name": "from-team", "namespace": ns},
         "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "team"}],
                  "to": [{"group": "", "kind": "Service", "name": "api-v2"}]}},
        route(ns, "edge-grpc", {"parentRefs": [{"name": "edge", "sectionName": "exact"}], "rules": [
            {"matches": [{"method": {"service": "lab.Api", "type": "Exact"}}],
             "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "api-v2", "port": 80},
                                                                     "percent": 5}}],
             "backendRefs": [{"name": "api-v1", "port": 80}]}]}, kind="GRPCRoute"),
    ]


if __name__ == "__main__":
    head = ("# Generated by make_fixtures.py: {what}. Objects as written by hand (no API server defaults).\n")
    (HERE / "shop.yaml").write_text(head.format(what="GAMMA and ingress routes, a VirtualService and an HTTPRoute "
                                                     "for one host, status problems")
                                    + yaml.safe_dump_all(shop(), sort_keys=False))
    (HERE / "cases.yaml").write_text(head.format(what="ordering after API defaults, every-port mesh routes, "
                                                      "retries, listener isolation, merged routes, ReferenceGrant")
                                     + yaml.safe_dump_all(cases(), sort_keys=False))
