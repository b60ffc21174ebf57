"""Resource kinds as data: one line per kind, CRDs included.

``key`` is how a Snapshot names the kind. It is the bare Kind, except where two
API groups share a Kind name (Istio's and the Gateway API's ``Gateway``, Istio's
and Linkerd's ``AuthorizationPolicy``); those carry their group as a prefix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: a namespace name (DNS-1123 label)
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Kind:
    key: str
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True
    #: Older served versions tried when ``version`` is not served (404).
    fallback_versions: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def base_path(self, version: str | None = None) -> str:
        v = version or self.version
        return f"/apis/{self.group}/{v}" if self.group else f"/api/{v}"

    def path(self, namespace: str | None = None, name: str | None = None, version: str | None = None) -> str:
        p = self.base_path(version)
        if self.namespaced and namespace:
            p += f"/namespaces/{namespace}"
        p += f"/{self.plural}"
        if name:
            p += f"/{name}"
        return p

    @property
    def resource(self) -> str:
        """The RBAC resource name, e.g. ``virtualservices.networking.istio.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


NET = "networking.istio.io"
SEC = "security.istio.io"
GW = "gateway.networking.k8s.io"
LP = "policy.linkerd.io"

ALL_KINDS: tuple[Kind, ...] = (
    # core and apps
    Kind("Namespace", "Namespace", "", "v1", "namespaces", namespaced=False),
    Kind("Pod", "Pod", "", "v1", "pods"),
    Kind("Service", "Service", "", "v1", "services"),
    Kind("ServiceAccount", "ServiceAccount", "", "v1", "serviceaccounts"),
    Kind("ConfigMap", "ConfigMap", "", "v1", "configmaps"),
    Kind("Secret", "Secret", "", "v1", "secrets"),
    Kind("Deployment", "Deployment", "apps", "v1", "deployments"),
    Kind("StatefulSet", "StatefulSet", "apps", "v1", "statefulsets"),
    Kind("DaemonSet", "DaemonSet", "apps", "v1", "daemonsets"),
    Kind("MutatingWebhookConfiguration", "MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
         "mutatingwebhookconfigurations", namespaced=False),
    Kind("ValidatingWebhookConfiguration", "ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
         "validatingwebhookconfigurations", namespaced=False),
    Kind("Node", "Node", "", "v1", "nodes", namespaced=False),
    Kind("CustomResourceDefinition", "CustomResourceDefinition", "apiextensions.k8s.io", "v1",
         "customresourcedefinitions", namespaced=False),
    # Istio
    Kind("VirtualService", "VirtualService", NET, "v1", "virtualservices", fallback_versions=("v1beta1",)),
    Kind("DestinationRule", "DestinationRule", NET, "v1", "destinationrules", fallback_versions=("v1beta1",)),
    Kind("Gateway", "Gateway", NET, "v1", "gateways", fallback_versions=("v1beta1",)),
    Kind("ServiceEntry", "ServiceEntry", NET, "v1", "serviceentries", fallback_versions=("v1beta1",)),
    Kind("Sidecar", "Sidecar", NET, "v1", "sidecars", fallback_versions=("v1beta1",)),
    Kind("WorkloadEntry", "WorkloadEntry", NET, "v1", "workloadentries", fallback_versions=("v1beta1",)),
    Kind("WorkloadGroup", "WorkloadGroup", NET, "v1", "workloadgroups", fallback_versions=("v1beta1",)),
    Kind("ProxyConfig", "ProxyConfig", NET, "v1beta1", "proxyconfigs"),
    Kind("EnvoyFilter", "EnvoyFilter", NET, "v1alpha3", "envoyfilters"),
    Kind("PeerAuthentication", "PeerAuthentication", SEC, "v1", "peerauthentications", fallback_versions=("v1beta1",)),
    Kind("AuthorizationPolicy", "AuthorizationPolicy", SEC, "v1", "authorizationpolicies",
         fallback_versions=("v1beta1",)),
    Kind("RequestAuthentication", "RequestAuthentication", SEC, "v1", "requestauthentications",
         fallback_versions=("v1beta1",)),
    Kind("Telemetry", "Telemetry", "telemetry.istio.io", "v1", "telemetries", fallback_versions=("v1alpha1",)),
    Kind("WasmPlugin", "WasmPlugin", "extensions.istio.io", "v1alpha1", "wasmplugins"),
    Kind("TrafficExtension", "TrafficExtension", "extensions.istio.io", "v1alpha1", "trafficextensions"),
    # Gateway API
    Kind(f"{GW}/Gateway", "Gateway", GW, "v1", "gateways"),
    Kind(f"{GW}/HTTPRoute", "HTTPRoute", GW, "v1", "httproutes"),
    Kind(f"{GW}/GRPCRoute", "GRPCRoute", GW, "v1", "grpcroutes"),
    Kind("GatewayClass", "GatewayClass", GW, "v1", "gatewayclasses", namespaced=False),
    Kind("ReferenceGrant", "ReferenceGrant", GW, "v1beta1", "referencegrants", fallback_versions=("v1", "v1alpha2")),
    # Linkerd policy
    Kind("Server", "Server", LP, "v1beta3", "servers", fallback_versions=("v1beta2", "v1beta1")),
    Kind("ServerAuthorization", "ServerAuthorization", LP, "v1beta1", "serverauthorizations"),
    Kind(f"{LP}/AuthorizationPolicy", "AuthorizationPolicy", LP, "v1alpha1", "authorizationpolicies"),
    Kind("MeshTLSAuthentication", "MeshTLSAuthentication", LP, "v1alpha1", "meshtlsauthentications"),
    Kind("NetworkAuthentication", "NetworkAuthentication", LP, "v1alpha1", "networkauthentications"),
    Kind(f"{LP}/HTTPRoute", "HTTPRoute", LP, "v1beta3", "httproutes", fallback_versions=("v1beta2", "v1beta1")),
)

KINDS: dict[str, Kind] = {k.key: k for k in ALL_KINDS}
_BY_GROUP_KIND: dict[tuple[str, str], Kind] = {(k.group, k.kind): k for k in ALL_KINDS}

#: a question about one namespace reads these in that namespace only (the heavy, per-workload kinds)
LOCAL_KEYS = frozenset({"Pod", "Service", "Endpoints", "EndpointSlice", "Deployment", "StatefulSet", "DaemonSet",
                        "ReplicaSet", "ServiceAccount", "Secret"})
#: ... these in that namespace and the mesh's root namespace (a root-namespace policy applies mesh-wide)
POLICY_KEYS = frozenset({"PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Sidecar",
                         "EnvoyFilter", "Telemetry", "WasmPlugin", "TrafficExtension", "ProxyConfig"})
#: ... and the ConfigMap kind as the mesh config only (every ConfigMap named istio); any other namespaced
#: kind (routing: VirtualService, DestinationRule, ServiceEntry, Gateway, routes) in every namespace, as it
#: can apply across namespaces (exportTo)
MESH_CONFIG_SELECTOR = "metadata.name=istio"

ISTIO_KEYS = tuple(k.key for k in ALL_KINDS if k.group in (NET, SEC, "telemetry.istio.io", "extensions.istio.io"))
LINKERD_KEYS = tuple(k.key for k in ALL_KINDS if k.group == LP)


def kind_for(api_version: str, kind: str) -> Kind | None:
    """The Kind of a manifest, from its apiVersion (any version) and kind."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return _BY_GROUP_KIND.get((group, kind))


def get_kind(key: str) -> Kind:
    try:
        return KINDS[key]
    except KeyError:
        from ..errors import InvalidInput

        raise InvalidInput(f"Unknown kind {key!r}.", hint=f"use one of: {', '.join(sorted(KINDS))}") from None
