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
- Gateway API (``gateway_api()``, every sandbox): HTTPRoute ``frontend`` (GAMMA, parentRef Service
  ``frontend``) sends 10% to ``frontend-v2``, a Service that does not exist (istiod: ResolvedRefs=False,
  BackendNotFound; that share gets Envoy's 500); HTTPRoute ``shop-api`` (ingress, parentRef Gateway
  ``istio-system/shop-gateway`` on the istio-ingressgateway pods) is clean.
- ambient (``ambient_control_plane()`` and ``ambient_namespace()``, the ``ambient`` variant): AuthorizationPolicy
  ``orders/checkout-get-only`` has only HTTP rules and binds an ambient pod by selector: ztunnel gets an ALLOW with no
  rules and refuses every connection to checkout (it needs a waypoint and targetRefs); ``legacy-cron`` opts out
  (``istio.io/dataplane-mode=none``) in an ambient namespace with a STRICT PeerAuthentication.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .pin import ISTIO_VERSION
NS = "production"
ROOT_NS = "istio-system"
#: the sandbox's one node (every pod's spec.nodeName)
NODE = "sandbox-node-1"
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
    namespace: str = "production"
    #: captured by ztunnel (an ambient pod: no sidecar, annotation ambient.istio.io/redirection=enabled)
    ambient: bool = False


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


#: a real certificate (no key kept anywhere): the gateway credential is valid as istioctl checks it
SHOP_CERT = ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJSRENCN0tBREFnRUNBZ0VCTUFvR0NDcUdTTTQ5QkFNQ01Cc3hHVEFYQmdO"
             "VkJBTU1FSE5vYjNBdVpYaGgKYlhCc1pTNWpiMjB3SUJjTk1qWXdNVEF4TURBd01EQXdXaGdQTWpFeU5qQXhNREV3TURBd01EQmFN"
             "QnN4R1RBWApCZ05WQkFNTUVITm9iM0F1WlhoaGJYQnNaUzVqYjIwd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxaGtqT1BRTUJCd05DCkFB"
             "VE82d3M5K2gyTDV2d29rbkR5VzVTRlJFc3ZyZFo4Q1BKcWpJY3p4QXR4UzFuS0tnKytjL0R4MzBLRHlFbzMKMkVhbXhPdUtRUDFE"
             "ZUpmNmFrWENZcmtmb3g4d0hUQWJCZ05WSFJFRUZEQVNnaEJ6YUc5d0xtVjRZVzF3YkdVdQpZMjl0TUFvR0NDcUdTTTQ5QkFNQ0Ew"
             "Y0FNRVFDSUNvV1NOQVJBUFBTNjVUUVN1aTFlUVUxRTFGSXg1ZmZsZmQ0CjdRbHNNS3lwQWlBMkVveDh3eWdQRGM2dVVTZ1ZZbEFX"
             "S1dKOGZnblN6TEs0b1pucHE2bFk2UT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K")

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
                        ambient: bool = False, kind: str = "Deployment", host_network: bool = False,
                        ) -> tuple[dict, list[dict]]:
    """A Deployment and the Running pods its ReplicaSet made (with a sidecar when injected; with the CNI's
    ``ambient.istio.io/redirection: enabled`` when ``ambient``), or (``kind="DaemonSet"``) a DaemonSet and its pod
    on the sandbox's node."""
    template_hash = _h(namespace, name, n=10)
    dep = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, namespace, dict(labels)),
           "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                    "template": {"metadata": {"labels": dict(labels),
                                              **({"annotations": template_annotations} if template_annotations else {})},
                                 "spec": {"serviceAccountName": service_account, "containers": containers}}},
           "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                      "updatedReplicas": replicas}}
    if kind == "DaemonSet":
        dep["spec"].pop("replicas")
        dep["status"] = {"desiredNumberScheduled": replicas, "currentNumberScheduled": replicas,
                         "numberReady": replicas, "numberAvailable": replicas, "updatedNumberScheduled": replicas}
    pods = []
    for i in range(replicas):
        pod_name = f"{name}-{template_hash}-{_h(namespace, name, str(i), n=5)}"
        if kind == "DaemonSet":
            pod_name = f"{name}-{_h(namespace, name, str(i), n=5)}"
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
        if ambient:
            annotations["ambient.istio.io/redirection"] = "enabled"
        ip = "172.18.0.2" if host_network else f"10.244.{ip_base[0]}.{ip_base[1] + i}"
        owner = ({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "controller": True,
                  "uid": _h("ds", namespace, name, n=8)} if kind == "DaemonSet" else
                 {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-{template_hash}", "controller": True,
                  "uid": _h("rs", namespace, name, n=8)})
        pods.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {**meta(pod_name, namespace, {**labels,
                                                      **({"pod-template-hash": template_hash}
                                                         if kind == "Deployment" else {}),
                                                      **({"security.istio.io/tlsMode": "istio",
                                                          "service.istio.io/canonical-name": labels.get("app", name),
                                                          "service.istio.io/canonical-revision":
                                                              labels.get("version", "latest")}
                                                         if injected else {})},
                              annotations or None),
                         "uid": _uid(namespace, pod_name),
                         "generateName": f"{name}-{template_hash}-" if kind == "Deployment" else f"{name}-",
                         "ownerReferences": [owner]},
            "spec": {"serviceAccountName": service_account, "nodeName": NODE,
                     "initContainers": init, "containers": pod_containers,
                     **({"hostNetwork": True} if host_network else {})},
            "status": {"phase": "Running", "podIP": ip, "hostIP": "172.18.0.2",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0,
                                              "image": c["image"]} for c in pod_containers]},
        })
    return dep, pods


def _uid(*parts: str) -> str:
    """A stable UUID-shaped uid (the API keeps a uid it is given)."""
    d = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


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
         # tls.crt: a self-signed certificate for shop.example.com, valid 2026-2126 (public; IST0161 checks its
         # dates); tls.key: fake material, the tools must never return it
         "data": {"tls.crt": SHOP_CERT,
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


# -- Gateway API ---------------------------------------------------------------------------------------------

#: the Gateway API release Istio's pin reads (oracle/README.md "The pin": Gateway API v1.6.0)
GATEWAY_API_BUNDLE = "v1.6.0"
GW = "gateway.networking.k8s.io"
_COND_TIME = "2026-11-20T09:00:00Z"


def gateway_api_crds() -> list[dict]:
    """The standard-channel CRDs of the Gateway API bundle the pin reads, as installed from its release manifest
    (``config/crd/standard``): names, scope, served and storage versions, and the bundle-version and channel
    annotations (istiod ignores kinds whose CRD is older than its minimum, ``crdwatcher.go``)."""
    out = []
    for kind, plural, scope, versions, short in (
            ("GatewayClass", "gatewayclasses", "Cluster", (("v1", True), ("v1beta1", False)), ["gc"]),
            ("Gateway", "gateways", "Namespaced", (("v1", True), ("v1beta1", False)), ["gtw"]),
            ("HTTPRoute", "httproutes", "Namespaced", (("v1", True), ("v1beta1", False)), []),
            ("GRPCRoute", "grpcroutes", "Namespaced", (("v1", True),), []),
            ("ReferenceGrant", "referencegrants", "Namespaced", (("v1", False), ("v1beta1", True)), ["refgrant"])):
        names = {"categories": ["gateway-api"], "kind": kind, "listKind": f"{kind}List", "plural": plural,
                 "singular": kind.lower(), **({"shortNames": short} if short else {})}
        out.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": meta(f"{plural}.{GW}", annotations={
                        "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/4530",
                        f"{GW}/bundle-version": GATEWAY_API_BUNDLE, f"{GW}/channel": "standard"}),
                    "spec": {"group": GW, "names": names, "scope": scope,
                             "versions": [{"name": v, "served": True, "storage": st} for v, st in versions]},
                    "status": {"conditions": [{"type": "Established", "status": "True"}],
                               "acceptedNames": names, "storedVersions": [v for v, st in versions if st]}})
    return out


def _cond(kind: str, reason: str, message: str, status: str = "True", generation: int = 1) -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": _COND_TIME, "observedGeneration": generation}


def gateway_classes(ambient: bool = False) -> list[dict]:
    """The GatewayClasses istiod creates (``gatewaycommon/classinfo.go``): ``istio``, and ``istio-waypoint`` with
    ambient."""
    classes = [("istio", "istio.io/gateway-controller", "The default Istio GatewayClass")]
    if ambient:
        classes.append(("istio-waypoint", "istio.io/mesh-controller", "The default Istio waypoint GatewayClass"))
    return [{"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": meta(name),
             "spec": {"controllerName": ctrl, "description": desc},
             "status": {"conditions": [_cond("Accepted", "Accepted", "Handled by Istio controller")]}}
            for name, ctrl, desc in classes]


def _route_parent(ref: dict, resolved: tuple[str, str, str] | None = None, ambient: bool = False,
                  waypoint: bool = False) -> dict:
    """A route's parent status as istiod writes it (``gateway/conditions.go``; ResolvedWaypoints with ambient)."""
    status, reason, message = resolved or ("True", "ResolvedRefs", "All references resolved")
    conds = [_cond("Accepted", "Accepted", "Route was valid"), _cond("ResolvedRefs", reason, message, status)]
    if ambient:
        conds.append(_cond("ResolvedWaypoints", "ResolvedWaypoints", "All waypoints resolved" if waypoint else
                           "istio.io/use-waypoint label missing from parent and parent namespace; in ambient mode, "
                           "route will not be respected"))
    return {"parentRef": ref, "controllerName": "istio.io/gateway-controller", "conditions": conds}


def _listener_status(name: str, attached: int, kinds: tuple[str, ...] = ("HTTPRoute", "GRPCRoute")) -> dict:
    return {"name": name, "attachedRoutes": attached, "supportedKinds": [{"group": GW, "kind": k} for k in kinds],
            "conditions": [_cond("Accepted", "Accepted", "No errors found"),
                           _cond("Conflicted", "NoConflicts", "No errors found", "False"),
                           _cond("Programmed", "Programmed", "No errors found"),
                           _cond("ResolvedRefs", "ResolvedRefs", "No errors found")]}


def gateway_api(ambient: bool = False) -> list[dict]:
    """Gateway API routing in the seeded mesh, with the status istiod would write (the sandbox writes none itself):

    - ingress: Gateway ``istio-system/shop-gateway`` (class ``istio``; ``spec.addresses`` names the existing
      istio-ingressgateway Service, so istiod programs those pods: no new deployment) and HTTPRoute
      ``production/shop-api`` for ``api.shop.example.com``: ``/pay`` to payment-api, the rest to frontend;
    - mesh (GAMMA): HTTPRoute ``production/frontend`` with parentRef Service ``frontend`` splitting 90/10 between
      ``frontend-v1`` (a per-version Service) and ``frontend-v2``, which does not exist (the deliberate finding).
    """
    fqdn = f"istio-ingressgateway.{ROOT_NS}.svc.cluster.local"
    gw_ref = {"group": GW, "kind": "Gateway", "name": "shop-gateway", "namespace": ROOT_NS, "sectionName": "http"}
    svc_ref = {"group": "", "kind": "Service", "name": "frontend", "port": 80}
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("frontend-v1", NS, {"app": "frontend", "version": "v1"}),
         "spec": {"selector": {"app": "frontend", "version": "v1"}, "clusterIP": "10.96.6.80",
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
        {"apiVersion": f"{GW}/v1", "kind": "Gateway", "metadata": meta("shop-gateway", ROOT_NS),
         "spec": {"gatewayClassName": "istio", "addresses": [{"type": "Hostname", "value": fqdn}],
                  "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "api.shop.example.com",
                                 "allowedRoutes": {"namespaces": {"from": "All"}}}]},
         "status": {"addresses": [{"type": "Hostname", "value": fqdn}],
                    "conditions": [_cond("Accepted", "Accepted", "Resource accepted"),
                                   _cond("Programmed", "Programmed",
                                         f"Resource programmed, assigned to service(s) {fqdn}:80"),
                                   _cond("ResolvedRefs", "ResolvedRefs", "All references resolved")],
                    "listeners": [_listener_status("http", 1)]}},
        {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": meta("shop-api", NS),
         "spec": {"parentRefs": [{k: v for k, v in gw_ref.items() if k != "group" and k != "kind"}],
                  "hostnames": ["api.shop.example.com"],
                  "rules": [{"name": "pay", "matches": [{"path": {"type": "PathPrefix", "value": "/pay"}}],
                             "backendRefs": [{"name": "payment-api", "port": 8080}]},
                            {"name": "web", "backendRefs": [{"name": "frontend", "port": 80}]}]},
         "status": {"parents": [_route_parent(gw_ref, ambient=ambient)]}},
        {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": meta("frontend", NS),
         "spec": {"parentRefs": [svc_ref],
                  "rules": [{"name": "split", "backendRefs": [{"name": "frontend-v1", "port": 80, "weight": 90},
                                                              {"name": "frontend-v2", "port": 80, "weight": 10}]}]},
         "status": {"parents": [_route_parent(svc_ref, ("False", "BackendNotFound",
                                                        f"backend(frontend-v2.{NS}.svc.cluster.local) not found"),
                                              ambient=ambient)]}},
    ]


# -- ambient ---------------------------------------------------------------------------------------------------

AMBIENT_NS = "orders"
ZTUNNEL_ADMIN_PORT = 15000


def ambient_control_plane(version: str = ISTIO_VERSION) -> list[dict]:
    """What the ambient profile adds to istio-system: the ztunnel DaemonSet (its pod on the sandbox's node), the
    istio-cni node agent and its ConfigMap (``manifests/charts/ztunnel``, ``istio-cni``)."""
    objs: list[dict] = []
    zt_labels = {"app": "ztunnel", "app.kubernetes.io/name": "ztunnel", "istio.io/dataplane-mode": "none",
                 "sidecar.istio.io/inject": "false"}
    ds, pods = deployment_and_pods(
        ROOT_NS, "ztunnel", zt_labels, 1,
        [{"name": "istio-proxy", "image": f"docker.io/istio/ztunnel:{version}", "args": ["proxy", "ztunnel"],
          "env": [{"name": "CA_ADDRESS", "value": f"istiod.{ROOT_NS}.svc:15012"},
                  {"name": "XDS_ADDRESS", "value": f"istiod.{ROOT_NS}.svc:15012"}],
          "ports": [{"containerPort": 15020, "name": "ztunnel-stats", "protocol": "TCP"}]}],
        "ztunnel", False, (0, 30), kind="DaemonSet")
    ds["metadata"]["labels"] = {"app.kubernetes.io/name": "ztunnel", "app.kubernetes.io/version": version}
    ds["spec"]["selector"] = {"matchLabels": {"app": "ztunnel"}}
    objs += [ds, *pods]
    cni_labels = {"k8s-app": "istio-cni-node", "sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"}
    ds, pods = deployment_and_pods(
        ROOT_NS, "istio-cni-node", cni_labels, 1,
        [{"name": "install-cni", "image": f"docker.io/istio/install-cni:{version}"}], "istio-cni", False, (0, 0),
        kind="DaemonSet", host_network=True)
    ds["metadata"]["labels"] = {"k8s-app": "istio-cni-node", "app.kubernetes.io/version": version}
    ds["spec"]["selector"] = {"matchLabels": {"k8s-app": "istio-cni-node"}}
    objs += [ds, *pods]
    objs += [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("istio-cni-config", ROOT_NS, {"k8s-app": "istio-cni-node"}),
         "data": {"AMBIENT_ENABLED": "true", "AMBIENT_DNS_CAPTURE": "true", "AMBIENT_IPV6": "true",
                  "AMBIENT_ENABLEMENT_SELECTOR": "- podSelector:\n    matchLabels: {istio.io/dataplane-mode: ambient}\n"
                                                 "- podSelector:\n    matchExpressions:\n"
                                                 "    - {key: istio.io/dataplane-mode, operator: NotIn, values: [none]}\n"
                                                 "  namespaceSelector:\n    matchLabels: {istio.io/dataplane-mode: ambient}\n",
                  "EXCLUDE_NAMESPACES": "kube-system"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("ztunnel", ROOT_NS)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("istio-cni", ROOT_NS)},
    ]
    return objs


AMBIENT_APPS = [
    App("checkout", "checkout", "v1", 1, 8080, "checkout", namespace=AMBIENT_NS, inject=False, ambient=True),
    App("inventory-v1", "inventory", "v1", 1, 9080, "inventory", namespace=AMBIENT_NS, inject=False, ambient=True),
    App("inventory-v2", "inventory", "v2", 1, 9080, "inventory", namespace=AMBIENT_NS, inject=False, ambient=True),
    App("ledger", "ledger", "v1", 1, 7070, "ledger", namespace=AMBIENT_NS, inject=False, ambient=True),
    App("legacy-cron", "legacy-cron", "v1", 1, 8000, "default", namespace=AMBIENT_NS, inject=False),
]


def ambient_namespace(version: str = ISTIO_VERSION) -> tuple[list[dict], list[App]]:
    """The ``orders`` namespace in ambient mode: ambient pods (no sidecar, captured by ztunnel), a waypoint for its
    services, the inventory Service bound to it, a GAMMA HTTPRoute the waypoint runs, and L4/L7 policies."""
    ns = AMBIENT_NS
    objs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace",
                         "metadata": meta(ns, labels={"istio.io/dataplane-mode": "ambient",
                                                      "kubernetes.io/metadata.name": ns})}]
    apps = [App(**{k: getattr(a, k) for k in ("deployment", "app", "version", "replicas", "port", "service_account",
                                               "status", "inject", "namespace", "ambient")}) for a in AMBIENT_APPS]
    for n, a in enumerate(apps):
        labels = {"app": a.app, "version": a.version}
        if not a.ambient:
            labels["istio.io/dataplane-mode"] = "none"
        dep, pods = deployment_and_pods(
            ns, a.deployment, labels, a.replicas,
            [{"name": a.app, "image": f"registry.example.com/orders/{a.app}:{a.version}",
              "ports": [{"containerPort": a.port, "name": "http" if a.app != "ledger" else "tcp", "protocol": "TCP"}]}],
            a.service_account, False, (40 + n, 10), ambient=a.ambient)
        if not a.ambient:
            dep["spec"]["template"]["metadata"]["labels"]["istio.io/dataplane-mode"] = "none"
        a.pods = pods
        objs += [dep, *pods]
    for sa in sorted({a.service_account for a in apps} | {"waypoint"}):
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(sa, ns)})
    services = [("checkout", {"app": "checkout"}, 8080, "http", "10.96.40.80", {}),
                ("inventory", {"app": "inventory"}, 9080, "http", "10.96.40.90", {"istio.io/use-waypoint": "waypoint"}),
                ("inventory-v1", {"app": "inventory", "version": "v1"}, 9080, "http", "10.96.40.91", {}),
                ("inventory-v2", {"app": "inventory", "version": "v2"}, 9080, "http", "10.96.40.92", {}),
                ("ledger", {"app": "ledger"}, 7070, "tcp", "10.96.40.70", {}),
                ("legacy-cron", {"app": "legacy-cron"}, 8000, "http", "10.96.40.20", {})]
    for name, sel, port, pname, ip, extra in services:
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns, {"app": sel["app"], **extra}),
                     "spec": {"selector": sel, "clusterIP": ip,
                              "ports": [{"name": pname, "port": port, "targetPort": port, "protocol": "TCP"}]}})
    # the waypoint: a Gateway of class istio-waypoint, what istiod's deployment controller makes for it
    # (files/waypoint.yaml: Deployment, Service named like the Gateway), and the status istiod writes once ready
    wp_ip = "10.96.40.15"
    wp_host = f"waypoint.{ns}.svc.cluster.local"
    gw_labels = {"gateway.networking.k8s.io/gateway-name": "waypoint",
                 "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"}
    objs.append({"apiVersion": f"{GW}/v1", "kind": "Gateway",
                 "metadata": meta("waypoint", ns, {"istio.io/waypoint-for": "service"}),
                 "spec": {"gatewayClassName": "istio-waypoint",
                          "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
                 "status": {"addresses": [{"type": "IPAddress", "value": wp_ip}, {"type": "Hostname", "value": wp_host}],
                            "conditions": [_cond("Accepted", "Accepted", "Resource accepted"),
                                           _cond("Programmed", "Programmed",
                                                 f"Resource programmed, assigned to service(s) {wp_host}:15008"),
                                           _cond("ResolvedRefs", "ResolvedRefs", "All references resolved")],
                            "listeners": [_listener_status("mesh", 0)]}})
    pod_labels = {**gw_labels, "gateway.istio.io/managed": "istio.io-mesh-controller", "sidecar.istio.io/inject": "false",
                  "istio.io/dataplane-mode": "none", "service.istio.io/canonical-name": "waypoint",
                  "service.istio.io/canonical-revision": "latest"}
    dep, pods = deployment_and_pods(
        ns, "waypoint", pod_labels, 1,
        [{"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{version}",
          "args": ["proxy", "waypoint", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--serviceCluster",
                   "waypoint.$(POD_NAMESPACE)"],
          "ports": [{"containerPort": 15020, "name": "metrics", "protocol": "TCP"},
                    {"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                    {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}]}],
        "waypoint", False, (40, 5), template_annotations={"istio.io/rev": "default"})
    dep["metadata"]["labels"] = {**gw_labels, "gateway.istio.io/managed": "istio.io-mesh-controller"}
    dep["spec"]["selector"] = {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "waypoint"}}
    objs += [dep, *pods,
             {"apiVersion": "v1", "kind": "Service", "metadata": meta("waypoint", ns, dict(gw_labels)),
              "spec": {"selector": {"gateway.networking.k8s.io/gateway-name": "waypoint"}, "clusterIP": wp_ip,
                       "ports": [{"name": "status-port", "port": 15021, "protocol": "TCP", "appProtocol": "tcp"},
                                 {"name": "mesh", "port": 15008, "protocol": "TCP", "appProtocol": "hbone"}]}}]
    inv_ref = {"group": "", "kind": "Service", "name": "inventory", "port": 9080}
    sec = "security.istio.io/v1"
    checkout = f"{TRUST_DOMAIN}/ns/{ns}/sa/checkout"
    objs += [
        {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": meta("inventory", ns),
         "spec": {"parentRefs": [inv_ref],
                  "rules": [{"name": "split", "timeouts": {"request": "3s"},
                             "backendRefs": [{"name": "inventory-v1", "port": 9080, "weight": 90},
                                             {"name": "inventory-v2", "port": 9080, "weight": 10}]}]},
         "status": {"parents": [_route_parent(inv_ref, ambient=True, waypoint=True)]}},
        {"apiVersion": sec, "kind": "PeerAuthentication", "metadata": meta("default", ns),
         "spec": {"mtls": {"mode": "STRICT"}}},
        # L4: enforced by ztunnel on the ledger pod
        {"apiVersion": sec, "kind": "AuthorizationPolicy", "metadata": meta("ledger-from-checkout", ns),
         "spec": {"selector": {"matchLabels": {"app": "ledger"}}, "action": "ALLOW",
                  "rules": [{"from": [{"source": {"principals": [checkout]}}], "to": [{"operation": {"ports": ["7070"]}}]}]}},
        # L7, bound to the Service: enforced by its waypoint
        {"apiVersion": sec, "kind": "AuthorizationPolicy", "metadata": meta("inventory-reads", ns),
         "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "inventory"}], "action": "ALLOW",
                  "rules": [{"from": [{"source": {"principals": [checkout]}}],
                             "to": [{"operation": {"methods": ["GET"], "paths": ["/items*"]}}]}]}},
        # the deliberate finding: HTTP-only rules bound by selector to an ambient pod
        {"apiVersion": sec, "kind": "AuthorizationPolicy", "metadata": meta("checkout-get-only", ns),
         "spec": {"selector": {"matchLabels": {"app": "checkout"}}, "action": "ALLOW",
                  "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}},
    ]
    return objs, apps


def istiod_ambient_env(objs: list[dict]) -> None:
    """The ambient profile's istiod: ``PILOT_ENABLE_AMBIENT=true`` on the discovery container (Deployment and pod)."""
    for o in objs:
        if o.get("kind") in ("Deployment", "Pod") and (o["metadata"].get("labels") or {}).get("app") == "istiod":
            spec = o["spec"]["template"]["spec"] if o["kind"] == "Deployment" else o["spec"]
            for c in spec["containers"]:
                if c["name"] == "discovery":
                    c.setdefault("env", []).append({"name": "PILOT_ENABLE_AMBIENT", "value": "true"})
