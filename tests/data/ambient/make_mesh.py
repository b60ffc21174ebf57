#!/usr/bin/env python3
"""Writes tests/data/ambient/mesh.yaml (run from the repository root): an ambient mesh as the API server would
serve it, for tests/test_ambient.py."""
import yaml

TS = "2026-01-01T00:00:00Z"
objs = []


def ns(name, labels=None):
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})


def pod(ns_, name, app, ip, node, *, labels=None, ann=None, containers=None, sa=None, host=False, phase="Running",
        owner="ReplicaSet", owner_name=None, args=None):
    h = "5d8f7b9c6"
    labels = {"app": app, **({} if owner != "ReplicaSet" else {"pod-template-hash": h}), **(labels or {})}
    cs = containers or [{"name": app, "image": f"example/{app}:1"}]
    meta = {"name": name, "namespace": ns_, "labels": labels, "annotations": ann or {},
            "creationTimestamp": TS, "ownerReferences": [{"kind": owner, "name": owner_name or f"{app}-{h}",
                                                          "controller": True, "apiVersion": "apps/v1", "uid": "x"}]}
    spec = {"containers": cs, "nodeName": node, "serviceAccountName": sa or app}
    if host:
        spec["hostNetwork"] = True
    objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                 "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}],
                            "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}]}})


def deploy(ns_, name, labels=None, replicas=1, template_labels=None):
    objs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns_,
                                                                            "labels": labels or {}},
                 "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name, **(template_labels or {})}},
                                       "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]}}}})


def svc(ns_, name, selector, ports, labels=None, ip=None):
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns_,
                                                                    "labels": labels or {}},
                 "spec": {"selector": selector, "clusterIP": ip,
                          "ports": [{"name": f"http-{p}", "port": p, "targetPort": t, "protocol": "TCP"}
                                    for p, t in ports]}})


AMB = {"istio.io/dataplane-mode": "ambient"}
RED = {"ambient.istio.io/redirection": "enabled"}
PROXY = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.31.0", "args": ["proxy", "sidecar"]}

# istio-system: istiod, ztunnel, istio-cni
ns("istio-system")
pod("istio-system", "istiod-7c9d8f6b5-abcde", "istiod", "10.244.0.10", "node-a", labels={"istio": "pilot"},
    containers=[{"name": "discovery", "image": "docker.io/istio/pilot:1.31.0",
                 "env": [{"name": "PILOT_ENABLE_AMBIENT", "value": "true"}]}], owner_name="istiod-7c9d8f6b5")
objs.append({"apiVersion": "apps/v1", "kind": "DaemonSet",
             "metadata": {"name": "ztunnel", "namespace": "istio-system", "labels": {"app.kubernetes.io/name": "ztunnel"}},
             "spec": {"selector": {"matchLabels": {"app": "ztunnel"}},
                      "template": {"metadata": {"labels": {"app": "ztunnel", "istio.io/dataplane-mode": "none",
                                                           "sidecar.istio.io/inject": "false"}},
                                   "spec": {"containers": [{"name": "istio-proxy",
                                                            "image": "docker.io/istio/ztunnel:1.31.0"}]}}},
             "status": {"desiredNumberScheduled": 2, "numberReady": 2, "currentNumberScheduled": 2}})
for node, ip, suffix in (("node-a", "10.244.0.20", "a1b2c"), ("node-b", "10.244.1.20", "d3e4f")):
    pod("istio-system", f"ztunnel-{suffix}", "ztunnel", ip, node, owner="DaemonSet", owner_name="ztunnel", sa="ztunnel",
        labels={"app.kubernetes.io/name": "ztunnel", "istio.io/dataplane-mode": "none",
                "sidecar.istio.io/inject": "false"},
        containers=[{"name": "istio-proxy", "image": "docker.io/istio/ztunnel:1.31.0"}])
objs.append({"apiVersion": "apps/v1", "kind": "DaemonSet",
             "metadata": {"name": "istio-cni-node", "namespace": "istio-system", "labels": {"k8s-app": "istio-cni-node"}},
             "spec": {"selector": {"matchLabels": {"k8s-app": "istio-cni-node"}},
                      "template": {"metadata": {"labels": {"k8s-app": "istio-cni-node"}},
                                   "spec": {"containers": [{"name": "install-cni",
                                                            "image": "docker.io/istio/install-cni:1.31.0"}]}}},
             "status": {"desiredNumberScheduled": 2, "numberReady": 2}})
objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio-cni-config", "namespace": "istio-system"},
             "data": {"AMBIENT_ENABLED": "true", "AMBIENT_DNS_CAPTURE": "true", "EXCLUDE_NAMESPACES": "kube-system",
                      "AMBIENT_ENABLEMENT_SELECTOR": yaml.safe_dump([
                          {"podSelector": {"matchLabels": AMB}},
                          {"podSelector": {"matchExpressions": [{"key": "istio.io/dataplane-mode", "operator": "NotIn",
                                                                 "values": ["none"]}]},
                           "namespaceSelector": {"matchLabels": AMB}}])}})
objs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
             "metadata": {"name": "istio-waypoint"}, "spec": {"controllerName": "istio.io/mesh-controller"}})

# shop: ambient, namespace waypoint
ns("shop", {**AMB, "istio.io/use-waypoint": "waypoint"})
objs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "waypoint", "namespace": "shop", "labels": {"istio.io/waypoint-for": "service"}},
             "spec": {"gatewayClassName": "istio-waypoint",
                      "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
             "status": {"addresses": [{"type": "Hostname", "value": "waypoint.shop.svc.cluster.local"}],
                        "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]}})
deploy("shop", "waypoint", labels={"gateway.networking.k8s.io/gateway-name": "waypoint",
                                   "gateway.istio.io/managed": "istio.io-mesh-controller"})
pod("shop", "waypoint-5d8f7b9c6-wp001", "waypoint", "10.244.0.30", "node-a", sa="waypoint",
    labels={"gateway.networking.k8s.io/gateway-name": "waypoint", "gateway.istio.io/managed": "istio.io-mesh-controller",
            "istio.io/dataplane-mode": "none"},
    containers=[{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.31.0", "args": ["proxy", "waypoint"]}])
svc("shop", "waypoint", {"gateway.networking.k8s.io/gateway-name": "waypoint"}, [(15008, 15008), (15021, 15021)],
    labels={"gateway.istio.io/managed": "istio.io-mesh-controller"}, ip="10.96.0.30")
for app, ip, node in (("frontend", "10.244.0.41", "node-a"), ("reviews", "10.244.1.42", "node-b"),
                      ("ratings", "10.244.1.43", "node-b")):
    deploy("shop", app)
    pod("shop", f"{app}-5d8f7b9c6-{app[:3]}01", app, ip, node, ann=RED)
svc("shop", "frontend", {"app": "frontend"}, [(80, 8080)], ip="10.96.0.41")
svc("shop", "reviews", {"app": "reviews"}, [(9080, 9080)], ip="10.96.0.42")
svc("shop", "ratings", {"app": "ratings"}, [(9080, 9080)], labels={"istio.io/use-waypoint": "none"}, ip="10.96.0.43")
svc("shop", "details", {"app": "details"}, [(9080, 9080)], labels={"istio.io/use-waypoint": "gone"}, ip="10.96.0.44")
deploy("shop", "batch", template_labels={"istio.io/dataplane-mode": "none"})
pod("shop", "batch-5d8f7b9c6-bat01", "batch", "10.244.0.45", "node-a", labels={"istio.io/dataplane-mode": "none"})
deploy("shop", "stuck")
pod("shop", "stuck-5d8f7b9c6-stu01", "stuck", "10.244.1.46", "node-b", ann={"ambient.istio.io/redirection": "pending"})
deploy("shop", "missed")
pod("shop", "missed-5d8f7b9c6-mis01", "missed", "10.244.1.47", "node-b")
deploy("shop", "node-agent")
pod("shop", "node-agent-5d8f7b9c6-nod01", "node-agent", "192.168.0.3", "node-c", host=True)
deploy("shop", "legacy-sidecar")
pod("shop", "legacy-sidecar-5d8f7b9c6-leg01", "legacy-sidecar", "10.244.0.48", "node-a",
    ann={"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}, containers=[
        {"name": "legacy-sidecar", "image": "example/legacy:1"}, PROXY])

# billing: ambient, its Service asks for shop's waypoint (Same namespace only: AttachmentDenied)
ns("billing", AMB)
deploy("billing", "payments")
pod("billing", "payments-5d8f7b9c6-pay01", "payments", "10.244.0.50", "node-a", ann=RED)
svc("billing", "payments", {"app": "payments"}, [(8443, 8443)], ip="10.96.0.50",
    labels={"istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "shop"})

# migrating: sidecar injection and the ambient label (the sidecar wins; IST0123)
ns("migrating", {"istio-injection": "enabled", **AMB})
deploy("migrating", "orders")
pod("migrating", "orders-5d8f7b9c6-ord01", "orders", "10.244.1.60", "node-b",
    ann={"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
    containers=[{"name": "orders", "image": "example/orders:1"}, PROXY])

# plain: not in the mesh
ns("plain")
deploy("plain", "web")
pod("plain", "web-5d8f7b9c6-web01", "web", "10.244.0.70", "node-a")

# security
objs.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
             "metadata": {"name": "default", "namespace": "istio-system", "creationTimestamp": TS},
             "spec": {"mtls": {"mode": "STRICT"}}})
objs.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
             "metadata": {"name": "reviews-metrics", "namespace": "shop", "creationTimestamp": TS},
             "spec": {"selector": {"matchLabels": {"app": "reviews"}}, "portLevelMtls": {9090: {"mode": "PERMISSIVE"}}}})


def ap(name, ns_, spec, ann=None):
    objs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                 "metadata": {"name": name, "namespace": ns_, "annotations": ann or {}, "creationTimestamp": TS},
                 "spec": spec})


ap("reviews-get-only", "shop", {"selector": {"matchLabels": {"app": "reviews"}}, "action": "ALLOW",
                                "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
ap("block-admin", "shop", {"selector": {"matchLabels": {"app": "frontend"}}, "action": "DENY",
                           "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]})
ap("ratings-from-frontend", "shop", {"selector": {"matchLabels": {"app": "ratings"}}, "action": "ALLOW",
                                     "rules": [{"from": [{"source": {"principals": [
                                         "cluster.local/ns/shop/sa/frontend"]}}]}]})
ap("frontend-from-ratings", "shop", {"selector": {"matchLabels": {"app": "frontend"}}, "action": "ALLOW",
                                     "rules": [{"from": [{"source": {"principals": [
                                         "cluster.local/ns/shop/sa/ratings"]}}]}]})
ap("reviews-l7", "shop", {"targetRefs": [{"kind": "Service", "group": "", "name": "reviews"}], "action": "ALLOW",
                          "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
ap("payments-l7", "billing", {"targetRefs": [{"kind": "Service", "group": "", "name": "payments"}],
                              "action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/refund"]}}]}]})
ap("ext-authz", "shop", {"selector": {"matchLabels": {"app": "frontend"}}, "action": "CUSTOM",
                         "provider": {"name": "opa"}, "rules": [{}]})

with open("tests/data/ambient/mesh.yaml", "w") as f:
    f.write("# An Istio ambient mesh, as the API server would serve it (made for tests/test_ambient.py).\n")
    yaml.safe_dump_all(objs, f, sort_keys=False)
print(len(objs))
