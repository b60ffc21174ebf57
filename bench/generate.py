"""Generate a synthetic mesh of any size (namespaces, services, pods, VS, DR, PA, AP, Gateways).

    from bench.generate import generate
    objs = generate(namespaces=500, pods=5000, services=1000, virtualservices=2000, ...)

Every namespace is injected; services have 2 subsets (v1, v2) selected by their pods; one in ten
VirtualServices splits 90/10, a few objects are deliberately wrong so analyzers have work to do.
"""
from __future__ import annotations

import argparse
import sys

import yaml


def generate(namespaces: int = 500, pods: int = 5000, services: int = 1000, virtualservices: int = 2000,
             destinationrules: int = 2000, peerauthentications: int = 500, authorizationpolicies: int = 500,
             gateways: int = 50) -> list[dict]:
    objs: list[dict] = []
    ns_names = [f"team-{i:04d}" for i in range(namespaces)]
    for ns in ns_names:
        objs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
    svc_names = []
    for i in range(services):
        ns = ns_names[i % namespaces]
        name = f"svc-{i:05d}"
        svc_names.append((ns, name))
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                     "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]}})
    for i in range(pods):
        ns, app = svc_names[i % services]
        version = "v1" if (i // services) % 2 == 0 else "v2"
        containers = [{"name": app, "image": f"registry.example.com/{app}:1"}]
        if i % 97:
            containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.28.1"})
        objs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{app}-{version}-{i:06d}", "namespace": ns,
                                  "labels": {"app": app, "version": version},
                                  "ownerReferences": [{"kind": "ReplicaSet", "name": f"{app}-{version}-5d8f7c",
                                                       "controller": True}]},
                     "spec": {"serviceAccountName": app, "containers": containers},
                     "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    for i in range(destinationrules):
        ns, app = svc_names[i % services]
        od = {"consecutive5xxErrors": 10, "interval": "60s", "baseEjectionTime": "30s",
              "maxEjectionPercent": 100 if i % 50 == 0 else 50}
        objs.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                     "metadata": {"name": f"{app}-dr{i // services}", "namespace": ns},
                     "spec": {"host": app, "trafficPolicy": {"outlierDetection": od},
                              "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                          {"name": "v2", "labels": {"version": "v2"}}]}})
    for i in range(virtualservices):
        ns, app = svc_names[i % services]
        if i % 10 == 0:
            route = [{"destination": {"host": app, "subset": "v1"}, "weight": 90},
                     {"destination": {"host": app, "subset": "v2"}, "weight": 10 if i % 100 else 20}]
        else:
            route = [{"destination": {"host": app}}]
        vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
              "metadata": {"name": f"{app}-vs{i // services}", "namespace": ns},
              "spec": {"hosts": [app if i < services else f"{app}.example.com"], "http": [{"route": route}]}}
        if i >= services:
            vs["spec"]["gateways"] = [f"istio-system/gw-{i % gateways:03d}"]
        objs.append(vs)
    for i in range(gateways):
        objs.append({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                     "metadata": {"name": f"gw-{i:03d}", "namespace": "istio-system"},
                     "spec": {"selector": {"istio": "ingressgateway"}, "servers": [
                         {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*.example.com"]}]}})
    for i in range(peerauthentications):
        objs.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                     "metadata": {"name": "default", "namespace": ns_names[i % namespaces]},
                     "spec": {"mtls": {"mode": "STRICT" if i % 3 else "PERMISSIVE"}}})
    for i in range(authorizationpolicies):
        ns, app = svc_names[i % services]
        objs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                     "metadata": {"name": f"{app}-allow", "namespace": ns},
                     "spec": {"selector": {"matchLabels": {"app": app if i % 25 else "nothing"}}, "rules": [
                         {"from": [{"source": {"principals": [f"cluster.local/ns/{ns}/sa/client"]}}],
                          "to": [{"operation": {"methods": ["GET"]}}]}]}})
    return objs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for k, v in (("namespaces", 500), ("pods", 5000), ("services", 1000), ("virtualservices", 2000),
                 ("destinationrules", 2000), ("peerauthentications", 500), ("authorizationpolicies", 500)):
        ap.add_argument(f"--{k}", type=int, default=v)
    args = ap.parse_args()
    yaml.safe_dump_all(generate(**vars(args)), sys.stdout)


if __name__ == "__main__":
    main()
