"""The sandbox's cluster content: an Istio mesh with a realistic ``production`` namespace.

Deliberate misconfigurations, one or more per capability (each is a finding the
tools must report):

- mTLS: DestinationRule ``reviews`` sets ``tls.mode: DISABLE`` while the namespace
  PeerAuthentication is STRICT; ``legacy-batch`` opts out of injection in a STRICT namespace.
- traffic: VirtualService ``reviews`` weights add up to 110 and name subset ``v3``,
  which no DestinationRule defines.
- resilience: DestinationRule ``payment-api`` has ``maxEjectionPercent: 100`` (two v1
  replicas can both be ejected) and ``consecutive5xxErrors: 2`` (ejects on noise);
  the ``payment-api`` v2 canary answers 503, so its endpoint gets ejected for real.
- authz: AuthorizationPolicy ``reviews-viewer`` selects ``app: reviewz`` (no workload);
  RequestAuthentication ``frontend-jwt`` has no policy requiring a token.
- analyze: all of the above are findings; the rest of the namespace is clean on purpose.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .pin import ISTIO_VERSION
NS = "production"
ROOT_NS = "istio-system"
TRUST_DOMAIN = "cluster.local"
PRODUCTION_LABEL = {"environment": "production"}

#: the canary split the payment-api VirtualService declares (and the sidecar applies)
PAYMENT_WEIGHTS = {"v1": 90, "v2": 10}


@dataclass
class App:
    deployment: str
    app: str
    version: str
    replicas: int
    port: int
    service_account: str
    status: int = 200                    # what the app process answers
    inject: bool = True
    pods: list[dict] = field(default_factory=list)


APPS = [
    App("frontend", "frontend", "v1", 2, 8080, "frontend"),
    App("payment-api-v1", "payment-api", "v1", 2, 8080, "payment-api"),
    App("payment-api-v2", "payment-api", "v2", 1, 8080, "payment-api", status=503),
    App("reviews-v1", "reviews", "v1", 1, 9080, "reviews"),
    App("reviews-v2", "reviews", "v2", 1, 9080, "reviews"),
    App("legacy-batch", "legacy-batch", "v1", 1, 8000, "default", inject=False),
]

SERVICES = [("frontend", 80, 8080, "http"), ("payment-api", 8080, 8080, "http-api"),
            ("reviews", 9080, 9080, "http"), ("legacy-batch", 8000, 8000, "http")]


def _h(*parts: str, n: int = 10) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(digest[i:i + 2], 16) % len(alphabet)] for i in range(0, 2 * n, 2))


def meta(name: str, namespace: str | None = None, labels: dict | None = None, annotations: dict | None = None) -> dict:
    m: dict = {"name": name}
    if namespace:
        m["namespace"] = namespace
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    return m


def deployment_and_pods(namespace: str, name: str, labels: dict, replicas: int, containers: list[dict],
                        service_account: str, injected: bool, ip_base: tuple[int, int],
                        template_annotations: dict | None = None, istio_version: str = ISTIO_VERSION,
                        ) -> tuple[dict, list[dict]]:
    """A Deployment and the Running pods its ReplicaSet made (with a sidecar when injected)."""
    template_hash = _h(namespace, name, n=10)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, namespace, dict(labels)),
           "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                    "template": {"metadata": {"labels": dict(labels),
                                              **({"annotations": template_annotations} if template_annotations else {})},
                                 "spec": {"serviceAccountName": service_account, "containers": containers}}},
           "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                      "updatedReplicas": replicas}}
    pods = []
    for i in range(replicas):
        pod_name = f"{name}-{template_hash}-{_h(namespace, name, str(i), n=5)}"
        pod_containers = [dict(c) for c in containers]
        init: list[dict] = []
        annotations = dict(template_annotations or {})
        if injected:
            init = [{"name": "istio-init", "image": f"docker.io/istio/proxyv2:{istio_version}"}]
            pod_containers.append({"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{istio_version}",
                                   "args": ["proxy", "sidecar"], "ports": [
                                       {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}]})
            annotations.update({"sidecar.istio.io/status": '{"initContainers":["istio-init"],'
                                '"containers":["istio-proxy"],"volumes":["istio-envoy"]}',
                                "istio.io/rev": "default"})
        ip = f"10.244.{ip_base[0]}.{ip_base[1] + i}"
        pods.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta(pod_name, namespace, {**labels, "pod-template-hash": template_hash,
                                                      **({"security.istio.io/tlsMode": "istio",
                                                          "service.istio.io/canonical-name": labels.get("app", name),
                                                          "service.istio.io/canonical-revision":
                                                              labels.get("version", "latest")}
                                                         if injected else {})},
                              annotations or None),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": f"{name}-{template_hash}", "controller": True,
                                              "uid": _h("rs", namespace, name, n=8)}]},
            "spec": {"serviceAccountName": service_account, "nodeName": "sandbox-node-1",
                     "initContainers": init, "containers": pod_containers},
            "status": {"phase": "Running", "podIP": ip, "hostIP": "172.18.0.2",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0,
                                              "image": c["image"]} for c in pod_containers]},
        })
    return dep, pods


def crd(kind: str, group: str, plural: str, versions: tuple[str, ...]) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": meta(f"{plural}.{group}", labels={"app": "istio-pilot"} if "istio" in group else None),
            "spec": {"group": group, "names": {"kind": kind, "plural": plural}, "scope": "Namespaced",
                     "versions": [{"name": v, "served": True, "storage": i == 0} for i, v in enumerate(versions)]},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}}


def istio_control_plane(version: str = ISTIO_VERSION) -> list[dict]:
    """istio-system: istiod, the ingress gateway, mesh config, CRDs and the injector webhook."""
    objs: list[dict] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ROOT_NS, labels={"kubernetes.io/metadata.name": ROOT_NS})},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("istio", ROOT_NS, {"istio.io/rev": "default"}),
         "data": {"mesh": f"rootNamespace: {ROOT_NS}\ntrustDomain: {TRUST_DOMAIN}\nenableAutoMtls: true\n"
                          "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n",
                  "meshNetworks": "networks: {}"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("istiod", ROOT_NS, {"app": "istiod", "istio": "pilot"}),
         "spec": {"selector": {"app": "istiod"}, "ports": [{"name": "grpc-xds", "port": 15010},
                                                            {"name": "https-dns", "port": 15012},
                                                            {"name": "https-webhook", "port": 443, "targetPort": 15017}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": meta("istio-ingressgateway", ROOT_NS, {"app": "istio-ingressgateway", "istio": "ingressgateway"}),
         "spec": {"type": "LoadBalancer", "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                  "ports": [{"name": "http2", "port": 80, "targetPort": 8080},
                            {"name": "https", "port": 443, "targetPort": 8443}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("shop-tls", ROOT_NS), "type": "kubernetes.io/tls",
         # fake material: the tools must never return it
         "data": {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzYW5kYm94Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
                  "tls.key": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClNBTkRCT1gtU0VDUkVULUtFWQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg=="}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta("default", ROOT_NS),
         "spec": {"mtls": {"mode": "PERMISSIVE"}}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": meta("istio-sidecar-injector", labels={"app": "sidecar-injector", "istio.io/rev": "default"}),
         "webhooks": [{"name": "namespace.sidecar-injector.istio.io", "admissionReviewVersions": ["v1"],
                       "sideEffects": "None", "failurePolicy": "Fail",
                       "clientConfig": {"service": {"name": "istiod", "namespace": ROOT_NS, "path": "/inject",
                                                    "port": 443}},
                       "namespaceSelector": {"matchExpressions": [
                           {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
                       "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                  "resources": ["pods"]}]}]},
    ]
    for kind, group, plural in [("VirtualService", "networking.istio.io", "virtualservices"),
                                ("DestinationRule", "networking.istio.io", "destinationrules"),
                                ("Gateway", "networking.istio.io", "gateways"),
                                ("ServiceEntry", "networking.istio.io", "serviceentries"),
                                ("Sidecar", "networking.istio.io", "sidecars"),
                                ("PeerAuthentication", "security.istio.io", "peerauthentications"),
                                ("AuthorizationPolicy", "security.istio.io", "authorizationpolicies"),
                                ("RequestAuthentication", "security.istio.io", "requestauthentications")]:
        objs.append(crd(kind, group, plural, ("v1", "v1beta1")))
    istio_img = f"docker.io/istio/pilot:{version}"
    dep, pods = deployment_and_pods(ROOT_NS, "istiod", {"app": "istiod", "istio": "pilot", "istio.io/rev": "default",
                                                        "app.kubernetes.io/version": version},
                                    1, [{"name": "discovery", "image": istio_img,
                                         "ports": [{"containerPort": 15010}]}], "istiod", False, (0, 10))
    objs += [dep, *pods]
    gw_labels = {"app": "istio-ingressgateway", "istio": "ingressgateway", "app.kubernetes.io/version": version}
    dep, pods = deployment_and_pods(ROOT_NS, "istio-ingressgateway", gw_labels, 1,
                                    [{"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{version}",
                                      "ports": [{"containerPort": 8080}, {"containerPort": 8443}]}],
                                    "istio-ingressgateway-service-account", False, (0, 20))
    objs += [dep, *pods]
    for sa in ("istiod", "istio-ingressgateway-service-account"):
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa, ROOT_NS)})
    return objs


def production() -> tuple[list[dict], list[App]]:
    """The production namespace: workloads, Services and the mesh config that routes and secures them."""
    objs: list[dict] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": meta(NS, labels={"istio-injection": "enabled", "kubernetes.io/metadata.name": NS,
                                      **PRODUCTION_LABEL})},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("default", labels={"kubernetes.io/metadata.name": "default"})},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": meta("kube-system", labels={"kubernetes.io/metadata.name": "kube-system"})},
    ]
    apps = [App(**{k: getattr(a, k) for k in ("deployment", "app", "version", "replicas", "port",
                                               "service_account", "status", "inject")}) for a in APPS]
    for n, a in enumerate(apps):
        labels = {"app": a.app, "version": a.version}
        dep, pods = deployment_and_pods(
            NS, a.deployment, labels, a.replicas,
            [{"name": a.app, "image": f"registry.example.com/shop/{a.app}:{a.version}",
              "ports": [{"containerPort": a.port, "name": "http", "protocol": "TCP"}]}],
            a.service_account, a.inject, (1 + n, 10),
            template_annotations=None if a.inject else {"sidecar.istio.io/inject": "false"})
        a.pods = pods
        objs += [dep, *pods]
    for sa in sorted({a.service_account for a in apps}):
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa, NS)})
    for name, port, target, pname in SERVICES:
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, NS, {"app": name}),
                     "spec": {"selector": {"app": name}, "clusterIP": f"10.96.{len(objs) % 250}.{port % 250}",
                              "ports": [{"name": pname, "port": port, "targetPort": target, "protocol": "TCP"}]}})
    net, sec = "networking.istio.io/v1", "security.istio.io/v1"
    objs += [
        {"apiVersion": net, "kind": "Gateway", "metadata": meta("public-gateway", NS),
         "spec": {"selector": {"istio": "ingressgateway"}, "servers": [
             {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["shop.example.com"],
              "tls": {"mode": "SIMPLE", "credentialName": "shop-tls"}},
             {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"],
              "tls": {"httpsRedirect": True}}]}},
        {"apiVersion": net, "kind": "VirtualService", "metadata": meta("frontend", NS),
         "spec": {"hosts": ["shop.example.com"], "gateways": ["public-gateway"],
                  "http": [{"name": "web", "route": [{"destination": {"host": "frontend", "port": {"number": 80}}}]}]}},
        {"apiVersion": net, "kind": "VirtualService", "metadata": meta("payment-api", NS),
         "spec": {"hosts": ["payment-api"], "http": [{
             "name": "canary", "timeout": "5s", "retries": {"attempts": 2, "perTryTimeout": "2s"},
             "route": [{"destination": {"host": "payment-api", "subset": s}, "weight": w}
                       for s, w in PAYMENT_WEIGHTS.items()]}]}},
        {"apiVersion": net, "kind": "VirtualService", "metadata": meta("reviews", NS),
         "spec": {"hosts": ["reviews"], "http": [
             {"name": "jason", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
              "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
             {"name": "split", "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
                                         {"destination": {"host": "reviews", "subset": "v3"}, "weight": 30}]}]}},
        {"apiVersion": net, "kind": "DestinationRule", "metadata": meta("payment-api", NS),
         "spec": {"host": "payment-api", "trafficPolicy": {
             "connectionPool": {"http": {"http1MaxPendingRequests": 100, "maxRequestsPerConnection": 10}},
             "outlierDetection": {"consecutive5xxErrors": 2, "interval": "1s", "baseEjectionTime": "30s",
                                  "maxEjectionPercent": 100}},
             "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}},
        {"apiVersion": net, "kind": "DestinationRule", "metadata": meta("reviews", NS),
         "spec": {"host": "reviews", "trafficPolicy": {"tls": {"mode": "DISABLE"}},
                  "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}},
        {"apiVersion": sec, "kind": "PeerAuthentication", "metadata": meta("default", NS),
         "spec": {"mtls": {"mode": "STRICT"}}},
        {"apiVersion": sec, "kind": "AuthorizationPolicy", "metadata": meta("payment-api-allow", NS),
         "spec": {"selector": {"matchLabels": {"app": "payment-api"}}, "action": "ALLOW", "rules": [
             {"from": [{"source": {"principals": [f"{TRUST_DOMAIN}/ns/{NS}/sa/frontend"]}}],
              "to": [{"operation": {"methods": ["GET", "POST"], "paths": ["/api/*"]}}]}]}},
        {"apiVersion": sec, "kind": "AuthorizationPolicy", "metadata": meta("reviews-viewer", NS),
         "spec": {"selector": {"matchLabels": {"app": "reviewz"}}, "action": "ALLOW", "rules": [
             {"from": [{"source": {"namespaces": [NS]}}], "to": [{"operation": {"methods": ["GET"]}}]}]}},
        {"apiVersion": sec, "kind": "RequestAuthentication", "metadata": meta("frontend-jwt", NS),
         "spec": {"selector": {"matchLabels": {"app": "frontend"}}, "jwtRules": [
             {"issuer": "https://auth.example.com", "jwksUri": "https://auth.example.com/.well-known/jwks.json"}]}},
    ]
    return objs, apps


def payment_outlier_detection() -> dict:
    """What istiod makes of DestinationRule payment-api's outlierDetection (see mesh-semantics.md)."""
    return {"consecutive_5xx": 2, "interval": "1s", "base_ejection_time": "30s", "max_ejection_percent": 100,
            "enforcing_consecutive_5xx": 100, "enforcing_success_rate": 0}


def payment_circuit_breakers() -> dict:
    """What istiod makes of DestinationRule payment-api's connectionPool (http1MaxPendingRequests 100,
    maxRequestsPerConnection 10; the rest at Istio's defaults, 2^32-1)."""
    return {"max_connections": 4294967295, "max_pending_requests": 100, "max_requests": 4294967295,
            "max_retries": 4294967295, "max_requests_per_connection": 10}


LINKERD_VERSION = "edge-25.10.3"


def linkerd_cluster(issuer_cert_pem: bytes) -> list[dict]:
    """A Linkerd mesh: control plane, viz, CRDs, the injector webhook, the identity issuer Secret (a real
    certificate, a placeholder key), and an `emojivoto` namespace with Servers, policies and a traffic split."""
    import base64

    lns, viz, app = "linkerd", "linkerd-viz", "emojivoto"
    objs: list[dict] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(lns, labels={"linkerd.io/is-control-plane": "true"})},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(viz, labels={"linkerd.io/extension": "viz"})},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(app, annotations={"linkerd.io/inject": "enabled"})},
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("linkerd-identity-issuer", lns), "type": "kubernetes.io/tls",
         "data": {"tls.crt": base64.b64encode(issuer_cert_pem).decode(),
                  "tls.key": base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nPLACEHOLDER\n-----END PRIVATE KEY-----\n").decode()}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": meta("linkerd-proxy-injector-webhook-config", labels={"linkerd.io/control-plane-component": "proxy-injector"}),
         "webhooks": [{"name": "linkerd-proxy-injector.linkerd.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                       "clientConfig": {"service": {"name": "linkerd-proxy-injector", "namespace": lns, "path": "/"}},
                       "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}]},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("linkerd-proxy-injector", lns),
         "spec": {"selector": {"linkerd.io/control-plane-component": "proxy-injector"},
                  "ports": [{"name": "proxy-injector", "port": 443, "targetPort": 8443}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("prometheus", viz, {"linkerd.io/extension": "viz"}),
         "spec": {"selector": {"component": "prometheus"}, "ports": [{"name": "admin-http", "port": 9090}]}},
    ]
    for plural, kind in (("servers", "Server"), ("authorizationpolicies", "AuthorizationPolicy"),
                         ("meshtlsauthentications", "MeshTLSAuthentication"),
                         ("networkauthentications", "NetworkAuthentication"), ("httproutes", "HTTPRoute"),
                         ("serverauthorizations", "ServerAuthorization")):
        objs.append(crd(kind, "policy.linkerd.io", plural, ("v1beta3", "v1alpha1")))
    img = f"cr.l5d.io/linkerd/controller:{LINKERD_VERSION}"
    for i, comp in enumerate(("destination", "identity", "proxy-injector")):
        labels = {"linkerd.io/control-plane-component": comp, "linkerd.io/control-plane-ns": lns,
                  "linkerd.io/proxy-version": LINKERD_VERSION}
        dep, pods = deployment_and_pods(lns, f"linkerd-{comp}", labels, 1,
                                        [{"name": comp, "image": img}], f"linkerd-{comp}", False, (30, 10 + i))
        objs += [dep, *pods]
    for i, comp in enumerate(("prometheus", "web", "metrics-api")):
        dep, pods = deployment_and_pods(viz, comp, {"linkerd.io/extension": "viz", "component": comp}, 1,
                                        [{"name": comp, "image": f"cr.l5d.io/linkerd/{comp}:{LINKERD_VERSION}"}],
                                        comp, False, (31, 10 + i))
        objs += [dep, *pods]
    for i, (name, replicas, proxy) in enumerate((("web", 2, LINKERD_VERSION), ("emoji", 1, LINKERD_VERSION),
                                                 ("voting", 1, "edge-25.9.1"), ("voting-v2", 1, LINKERD_VERSION))):
        labels = {"app": name}
        dep, pods = deployment_and_pods(app, name, labels, replicas,
                                        [{"name": name, "image": f"buoyantio/emojivoto-{name}:v11",
                                          "ports": [{"containerPort": 8080, "name": "grpc"}]}], name, False,
                                        (32 + i, 10))
        for p in pods:
            p["spec"]["containers"].append({"name": "linkerd-proxy", "image": f"cr.l5d.io/linkerd/proxy:{proxy}"})
            p["metadata"]["labels"]["linkerd.io/proxy-deployment"] = name
            p["metadata"]["annotations"] = {"linkerd.io/proxy-version": proxy}
        objs += [dep, *pods,
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, app)},
                 {"apiVersion": "v1", "kind": "Service", "metadata": meta(f"{name}-svc", app),
                  "spec": {"selector": labels, "ports": [{"name": "grpc", "port": 8080, "targetPort": 8080}]}}]
    lp = "policy.linkerd.io"
    objs += [
        {"apiVersion": f"{lp}/v1beta3", "kind": "Server", "metadata": meta("voting-grpc", app),
         "spec": {"podSelector": {"matchLabels": {"app": "voting"}}, "port": "grpc", "proxyProtocol": "gRPC"}},
        {"apiVersion": f"{lp}/v1alpha1", "kind": "MeshTLSAuthentication", "metadata": meta("web-clients", app),
         "spec": {"identities": ["web.emojivoto.serviceaccount.identity.linkerd.cluster.local"]}},
        {"apiVersion": f"{lp}/v1alpha1", "kind": "AuthorizationPolicy", "metadata": meta("voting-from-web", app),
         "spec": {"targetRef": {"group": lp, "kind": "Server", "name": "voting-grpc"},
                  "requiredAuthenticationRefs": [{"group": lp, "kind": "MeshTLSAuthentication", "name": "web-clients"}]}},
        # deliberate misconfiguration: a Server nobody may reach
        {"apiVersion": f"{lp}/v1beta3", "kind": "Server", "metadata": meta("emoji-grpc", app),
         "spec": {"podSelector": {"matchLabels": {"app": "emoji"}}, "port": 8080, "proxyProtocol": "gRPC"}},
        {"apiVersion": f"{lp}/v1beta3", "kind": "HTTPRoute", "metadata": meta("voting-split", app),
         "spec": {"parentRefs": [{"group": "core", "kind": "Service", "name": "voting-svc", "port": 8080}],
                  "rules": [{"backendRefs": [{"name": "voting-svc", "port": 8080, "weight": 90},
                                             {"name": "voting-v2-svc", "port": 8080, "weight": 10}]}]}},
    ]
    return objs
