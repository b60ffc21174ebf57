"""The message catalog: every code an analyzer can report, as data.

``IST`` codes keep Istio's meaning (istio/istio ``pkg/config/analysis/msg/messages.yaml``);
``MESH`` codes are ours, for checks Istio does not have or retired. Codes are never
reused once retired.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["Error", "Warning", "Info"]
LEVEL_ORDER = {"Error": 0, "Warning": 1, "Info": 2}


@dataclass(frozen=True)
class MessageType:
    code: str
    name: str
    level: Level
    template: str
    description: str

    @property
    def url(self) -> str:
        if self.code.startswith("IST"):
            return f"https://istio.io/latest/docs/reference/config/analysis/{self.code.lower()}/"
        return f"https://github.com/mesh-plugin/mesh-plugin/blob/main/docs/analyzers.md#{self.code.lower()}"


def _m(code: str, name: str, level: Level, template: str, description: str) -> MessageType:
    return MessageType(code, name, level, template, description)


CATALOG: dict[str, MessageType] = {m.code: m for m in [
    _m("IST0101", "ReferencedResourceNotFound", "Error", "Referenced {} not found: {!r}",
       "A resource being referenced does not exist."),
    _m("IST0102", "NamespaceNotInjected", "Info",
       "The namespace is not enabled for Istio injection. Run 'kubectl label namespace {0} istio-injection=enabled' "
       "to enable it, or 'kubectl label namespace {0} istio-injection=disabled' to explicitly mark it as not "
       "needing injection.", "A namespace is not enabled for Istio injection."),
    _m("IST0103", "PodMissingProxy", "Warning",
       "The pod {} is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.",
       "A pod is missing the Istio proxy."),
    _m("IST0106", "SchemaValidationError", "Error", "Schema validation error: {}",
       "The resource has a schema validation error."),
    _m("IST0107", "MisplacedAnnotation", "Warning", "Misplaced annotation: {} can only be applied to {}",
       "An Istio annotation is applied to the wrong kind of resource."),
    _m("IST0108", "UnknownAnnotation", "Warning", "Unknown annotation: {}",
       "An Istio annotation is not recognized for any kind of resource."),
    _m("IST0109", "ConflictingMeshGatewayVirtualServiceHosts", "Error",
       "The VirtualServices {} associated with mesh gateway define the same host {} which can lead to undefined "
       "behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.",
       "Conflicting hosts on VirtualServices associated with the mesh gateway."),
    _m("IST0110", "ConflictingSidecarWorkloadSelectors", "Error",
       "The Sidecars {} in namespace {!r} select the same workload pod {!r}, which can lead to undefined behavior.",
       "A Sidecar resource selects the same workloads as another Sidecar resource."),
    _m("IST0111", "MultipleSidecarsWithoutWorkloadSelectors", "Error",
       "The Sidecars {} in namespace {!r} have no workload selector, which can lead to undefined behavior.",
       "More than one sidecar resource in a namespace has no workload selector."),
    _m("IST0112", "VirtualServiceDestinationPortSelectorRequired", "Error",
       "This VirtualService routes to a service {!r} that exposes multiple ports {}. Specifying a port in the "
       "destination is required to disambiguate.", "A VirtualService routes to a service with more than one port."),
    _m("IST0116", "DeploymentAssociatedToMultipleServices", "Warning",
       "This deployment {} is associated with multiple services using port {} but different protocols: {}",
       "The resulting pods of a service mesh deployment can't be associated with multiple services using the same "
       "port but different protocols."),
    _m("IST0118", "PortNameIsNotUnderNamingConvention", "Info",
       "Port name {} (port: {}, targetPort: {}) doesn't follow the naming convention of Istio port.",
       "Port name is not under the naming convention: protocol detection is applied to the port."),
    _m("IST0123", "NamespaceMultipleInjectionLabels", "Warning",
       "The namespace has more than one type of injection labels {}, which may lead to undefined behavior. "
       "Make sure only one injection label exists.", "A namespace has more than one type of injection labels."),
    _m("IST0125", "InvalidAnnotation", "Warning", "Invalid annotation {}: {}",
       "An Istio annotation that is not valid."),
    _m("IST0127", "NoMatchingWorkloadsFound", "Warning", "No matching workloads for this resource with the "
       "following labels: {}", "There are no workloads matching the resource's selector."),
    _m("IST0128", "NoServerCertificateVerificationDestinationLevel", "Warning",
       "DestinationRule {} in namespace {} has TLS mode set to {} but no caCertificates are set to validate server "
       "identity for host: {}", "The DestinationRule does not verify the server certificate (destination level)."),
    _m("IST0129", "NoServerCertificateVerificationPortLevel", "Warning",
       "DestinationRule {} in namespace {} has TLS mode set to {} but no caCertificates are set to validate server "
       "identity for host: {} at port {}", "The DestinationRule does not verify the server certificate (port level)."),
    _m("IST0132", "VirtualServiceHostNotFoundInGateway", "Warning",
       "one or more host {} defined in VirtualService {} not found in Gateway {}.",
       "Host defined in the VirtualService is not found in the Gateway it is bound to."),
    _m("IST0134", "ServiceEntryAddressesRequired", "Warning",
       "ServiceEntry addresses are required for this protocol.",
       "Virtual IP addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE "
       "is not set on a proxy."),
    _m("IST0135", "DeprecatedAnnotation", "Info", "Annotation {!r} has been deprecated{} and may not work in future "
       "Istio versions.", "A resource uses a deprecated Istio annotation."),
    _m("IST0138", "GatewayDuplicateCertificate", "Warning",
       "Duplicate certificate in multiple gateways {} may cause 404s if HTTP/2 connection coalescing occurs.",
       "Duplicate certificate in multiple gateways."),
    _m("IST0140", "IngressRouteRulesNotAffected", "Warning",
       "Subset in virtual service {} has no effect on ingress gateway {} requests",
       "Route rules (subsets) have no effect on ingress gateway requests routed by a VirtualService that is not "
       "bound to that gateway."),
    _m("IST0144", "InvalidApplicationUID", "Warning",
       "User ID (UID) 1337 is reserved for the sidecar proxy.", "The application uses UID 1337."),
    _m("IST0145", "ConflictingGateways", "Error",
       "Conflict with gateways {} (workload selector {}, port {}, hosts {}).",
       "Gateways with the same workload selector and port define the same host."),
    _m("IST0148", "NamespaceInjectionEnabledByDefault", "Info",
       "The namespace is enabled for injection by default (sidecarInjectorWebhook.enableNamespacesByDefault). "
       "Label it istio-injection=disabled to opt it out.", "Namespaces are injected by default."),
    _m("IST0149", "JwtClaimBasedRoutingWithoutRequestAuthN", "Error",
       "The virtual service uses the JWT claim based routing (key: {}) but found no request authentication for "
       "the gateway ({}) pod ({}). The request authentication must first be applied for the gateway pods to "
       "validate the JWT token and make the claims available for routing.",
       "A VirtualService routes on JWT claims but no RequestAuthentication applies to the gateway."),
    _m("IST0158", "PodsIstioProxyImageMismatchInNamespace", "Warning",
       "The Istio proxy images of the pods running in the namespace do not match the image defined in the "
       "injection configuration (pod names: {}). This often happens after upgrading the Istio control-plane and "
       "can be fixed by redeploying the pods.", "The proxy images of pods do not match the injector's image."),
    _m("IST0162", "GatewayPortNotDefinedOnService", "Warning",
       "The gateway is listening on a target port (port {}) that is not defined in the Service associated with "
       "its workload instances (Pod selector {}). If you need to access the gateway port through the gateway "
       "Service, it will not be available.", "A Gateway port is not exposed by the gateway's Service."),
    _m("IST0165", "ReferencedInternalGateway", "Warning",
       "VirtualService {} references an internal gateway {} (created by a Kubernetes Gateway); reference the "
       "Kubernetes Gateway instead.", "A VirtualService references a Gateway managed for a Kubernetes Gateway."),
    _m("IST0166", "IneffectiveSelector", "Warning",
       "Ineffective selector on Kubernetes Gateway {}. Use the TargetRef field instead.",
       "A selector on a policy matches Kubernetes Gateway pods, where selectors have no effect."),
    _m("IST0167", "IneffectivePolicy", "Warning", "The policy has no impact: {}.",
       "The policy has no effect (e.g. a Sidecar in an ambient namespace)."),
    _m("IST0173", "DestinationRuleSubsetNotSelectPods", "Warning",
       "The Subset {} defined in the DestinationRule does not select any pods, which may lead to 503 UH (NoHealthyUpstream).",
       "A DestinationRule subset selects no pods."),
    _m("IST0174", "DestinationRuleHostNotFound", "Warning",
       "The host {} defined in the DestinationRule does not match any services in the mesh.",
       "A DestinationRule host matches no service."),
    _m("IST0177", "ConflictingServiceEntryProtocol", "Warning",
       "ServiceEntries {} define host {} port {} with conflicting protocols {}.",
       "ServiceEntries define the same host and port with different protocols."),
    # --- our own checks ---------------------------------------------------------------------------
    _m("MESH0001", "UnreadableInput", "Error", "Cannot read input {}: {}",
       "A file is not YAML, or a document is not a Kubernetes object; the other inputs are still analyzed."),
    _m("MESH0002", "UnknownKind", "Info", "Unknown kind {} (apiVersion {}): not analyzed",
       "An object whose kind no analyzer reads."),
    _m("MESH0003", "AnalyzerFailed", "Error", "Analyzer {} failed: {}",
       "An analyzer raised an error; the other analyzers still ran. Please report it."),
    _m("MESH0101", "MTLSDisabledTowardStrict", "Error",
       "DestinationRule sets tls.mode DISABLE{} toward host {} whose workloads require STRICT mTLS ({}): "
       "requests will be refused.", "Kiali KIA0207/KIA0208; the conflict Istio's IST0113 used to report."),
    _m("MESH0102", "IstioMutualTowardNoSidecar", "Error",
       "DestinationRule sets tls.mode ISTIO_MUTUAL{} toward host {} whose pods have no sidecar ({}): "
       "the server cannot terminate mTLS.", "Client mTLS toward a workload without a sidecar breaks traffic."),
    _m("MESH0103", "MTLSEnabledWithoutPeerAuthentication", "Info",
       "DestinationRule {} enables mTLS (ISTIO_MUTUAL) mesh- or namespace-wide, but no PeerAuthentication "
       "at that level sets STRICT or PERMISSIVE.", "Kiali KIA0205/KIA0206."),
    _m("MESH0201", "RouteWeightsNotHundred", "Error",
       "Route {} weights add up to {}, not 100.", "Weights of the destinations in one route must add up to 100."),
    _m("MESH0301", "OutlierCanEjectAllHosts", "Warning", "{}", "Outlier detection that can eject every host."),
    _m("MESH0302", "OutlierEjectsOnNoise", "Warning", "{}",
       "consecutive5xxErrors below 3 ejects replicas on background noise."),
    _m("MESH0303", "OutlierTimingOutOfRange", "Warning", "{}",
       "outlierDetection interval or baseEjectionTime outside a sensible range (1s-300s, 5s-600s)."),
    _m("MESH0304", "NoOutlierDetection", "Info", "{}",
       "A DestinationRule for a multi-replica host without outlierDetection."),
    _m("MESH0305", "ConnectionPoolBelowConcurrency", "Warning", "{}",
       "Connection pool limits below the observed concurrency: requests overflow (503 UO)."),
    _m("MESH0401", "RequestAuthenticationWithoutRequiredToken", "Warning",
       "RequestAuthentication {} validates tokens but no AuthorizationPolicy requires one "
       "(requestPrincipals: [\"*\"]): requests without a token are allowed.",
       "A RequestAuthentication alone never rejects requests without a token."),
    _m("MESH0402", "AllowPolicyWithNoRules", "Warning",
       "ALLOW policy with no rules matches no request: it denies every request to {}.",
       "An AuthorizationPolicy with action ALLOW and no rules denies everything on the workloads it selects."),
    _m("MESH0403", "PeerIdentityWithoutStrictMTLS", "Warning",
       "The policy uses {} but mTLS is not STRICT for {} (mode {} by {}): plaintext requests carry no peer "
       "identity, so ALLOW rules never match them and DENY rules never catch them.",
       "principals/namespaces need mTLS; under PERMISSIVE a plaintext client bypasses them."),
    _m("MESH0405", "RequestPrincipalsWithoutRequestAuthentication", "Error",
       "The policy uses requestPrincipals but no RequestAuthentication applies to its workloads: no request "
       "ever has a request principal.", "requestPrincipals need a RequestAuthentication on the same workloads."),
    _m("MESH0406", "UnknownHTTPMethod", "Warning", "{!r} is not an HTTP method: the rule never matches it.",
       "methods/notMethods must be HTTP methods (GET, POST, ...)."),
    _m("MESH0407", "PrincipalServiceAccountNotFound", "Warning",
       "Principal {} names service account {}/{}, which does not exist.",
       "A principal that no workload can present."),
    _m("MESH0404", "JwksUriInBlockedCIDR", "Warning",
       "jwksUri {} is in istiod's BLOCKED_CIDRS_IN_JWKS_URIS: istiod will not fetch the keys and tokens fail.",
       "A RequestAuthentication whose JWKS address istiod is configured to refuse."),
    _m("MESH0501", "LinkerdServerWithoutAuthorization", "Warning",
       "Server {} has no AuthorizationPolicy or ServerAuthorization{}: {}",
       "A Linkerd Server whose traffic no authorization admits."),
    _m("MESH0502", "LinkerdInvalidFailureAccrual", "Error", "Invalid failure-accrual annotation {}: {}",
       "A balancer.linkerd.io failure-accrual annotation that Linkerd cannot parse."),
    _m("MESH0503", "LinkerdHTTPRouteBackendNotFound", "Error",
       "HTTPRoute backendRef {} does not match any Service in namespace {}.",
       "An HTTPRoute backend that does not exist."),
]}
