"""The message catalog: every code an analyzer can report, as data.

``IST`` codes are Istio's, copied from istio/istio ``pkg/config/analysis/msg/messages.yaml`` at the pinned
module (1.31-dev, 2026-08-27): same names, levels and templates (Go ``fmt`` verbs, rendered by
``go_sprintf``). ``MESH`` codes are ours, for checks Istio does not make; each has a section in
``docs/analyzers.md``. Codes are never reused once retired (MESH0404 moved to its own analyzer; IST
codes Istio retired are absent, as in Istio).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["Error", "Warning", "Info"]
LEVEL_ORDER = {"Error": 0, "Warning": 1, "Info": 2}
IST_DOCS = "https://istio.io/latest/docs/reference/config/analysis"
#: Our codes have no web page: their documentation is their section of docs/analyzers.md in this
#: repository (shipped with the plugin), given as a relative reference.
MESH_DOCS = "docs/analyzers.md"


@dataclass(frozen=True)
class MessageType:
    code: str
    name: str
    level: Level
    template: str
    description: str
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        if self.code.startswith("IST"):
            return f"{IST_DOCS}/{self.code.lower()}/"
        return f"{MESH_DOCS}#{self.code.lower()}"

    def render(self, *args: Any) -> str:
        return go_sprintf(self.template, args)


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's strconv.Quote for text: quotes, backslashes and control characters escaped."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Any, verb: str) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_value(x, verb) for x in v) + "]"
    if verb == "q":
        return go_quote(str(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if verb == "d" and not isinstance(v, int):
        return f"%!d(string={v})"
    return str(v)


def go_sprintf(template: str, args: tuple[Any, ...] | list[Any]) -> str:
    """Render a Go ``fmt`` template (%s %v %q %d; slices as ``[a b]``) with ``args``. Arguments are data:
    they are inserted as text, never interpreted as templates."""
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(4)
        if verb == "%":
            return "%"
        try:
            v = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        return _value(v, verb)

    return _VERB.sub(sub, template)


def _m(code: str, name: str, level: Level, template: str, description: str, args: tuple[str, ...] = ()
       ) -> MessageType:
    return MessageType(code, name, level, template, description, args)


CATALOG: dict[str, MessageType] = {m.code: m for m in [
    # --- Istio's (msg/messages.yaml at the pin), in code order ----------------------------------------
    _m('IST0001', 'InternalError', 'Error',
       'Internal error: %v',
       'There was an internal error in the toolchain. This is almost always a bug in the implementation.',
       ('detail',)),
    _m('IST0002', 'Deprecated', 'Warning',
       'Deprecated: %s',
       'A feature that the configuration is depending on is now deprecated.',
       ('detail',)),
    _m('IST0101', 'ReferencedResourceNotFound', 'Error',
       'Referenced %s not found: %q',
       'A resource being referenced does not exist.',
       ('reftype', 'refval')),
    _m('IST0102', 'NamespaceNotInjected', 'Info',
       "The namespace is not enabled for Istio injection. Run 'kubectl label namespace %s "
       "istio-injection=enabled' to enable it, or 'kubectl label namespace %s istio-injection=disabled' to "
       'explicitly mark it as not needing injection.',
       'A namespace is not enabled for Istio injection.',
       ('namespace', 'namespace2')),
    _m('IST0103', 'PodMissingProxy', 'Warning',
       'The pod %s is missing the Istio proxy. This can often be resolved by restarting or redeploying the '
       'workload.',
       'A pod is missing the Istio proxy.',
       ('podName',)),
    _m('IST0106', 'SchemaValidationError', 'Error',
       'Schema validation error: %v',
       'The resource has a schema validation error.',
       ('err',)),
    _m('IST0107', 'MisplacedAnnotation', 'Warning',
       'Misplaced annotation: %s can only be applied to %s',
       'An Istio annotation is applied to the wrong kind of resource.',
       ('annotation', 'kind')),
    _m('IST0108', 'UnknownAnnotation', 'Warning',
       'Unknown annotation: %s',
       'An Istio annotation is not recognized for any kind of resource',
       ('annotation',)),
    _m('IST0109', 'ConflictingMeshGatewayVirtualServiceHosts', 'Error',
       'The VirtualServices %s associated with mesh gateway define the same host %s which can lead to '
       'undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single '
       'resource.',
       'Conflicting hosts on VirtualServices associated with mesh gateway',
       ('virtualServices', 'host')),
    _m('IST0110', 'ConflictingSidecarWorkloadSelectors', 'Error',
       'The Sidecars %v in namespace %q select the same workload pod %q, which can lead to undefined '
       'behavior.',
       'A Sidecar resource selects the same workloads as another Sidecar resource',
       ('conflictingSidecars', 'namespace', 'workloadPod')),
    _m('IST0111', 'MultipleSidecarsWithoutWorkloadSelectors', 'Error',
       'The Sidecars %v in namespace %q have no workload selector, which can lead to undefined behavior.',
       'More than one sidecar resource in a namespace has no workload selector',
       ('conflictingSidecars', 'namespace')),
    _m('IST0112', 'VirtualServiceDestinationPortSelectorRequired', 'Error',
       'This VirtualService routes to a service %q that exposes multiple ports %v. Specifying a port in the '
       'destination is required to disambiguate.',
       'A VirtualService routes to a service with more than one port exposed, but does not specify which to '
       'use.',
       ('destHost', 'destPorts')),
    _m('IST0116', 'DeploymentAssociatedToMultipleServices', 'Warning',
       'This deployment %s is associated with multiple services using port %d but different protocols: %v',
       "The resulting pods of a service mesh deployment can't be associated with multiple services using the "
       'same port but different protocols.',
       ('deployment', 'port', 'services')),
    _m('IST0118', 'PortNameIsNotUnderNamingConvention', 'Info',
       "Port name %s (port: %d, targetPort: %s) doesn't follow the naming convention of Istio port.",
       'Port name is not under naming convention. Protocol detection is applied to the port.',
       ('portName', 'port', 'targetPort')),
    _m('IST0123', 'NamespaceMultipleInjectionLabels', 'Warning',
       'The namespace has more than one type of injection labels %v, which may lead to undefined behavior. '
       'Make sure only one injection label exists.',
       'A namespace has more than one type of injection labels',
       ('labels',)),
    _m('IST0125', 'InvalidAnnotation', 'Warning',
       'Invalid annotation %s: %s',
       'An Istio annotation that is not valid',
       ('annotation', 'problem')),
    _m('IST0126', 'UnknownMeshNetworksServiceRegistry', 'Error',
       'Unknown service registry %s in network %s',
       'A service registry in Mesh Networks is unknown',
       ('serviceregistry', 'network')),
    _m('IST0127', 'NoMatchingWorkloadsFound', 'Warning',
       'No matching workloads for this resource with the following labels: %s',
       "There aren't workloads matching the resource labels",
       ('labels',)),
    _m('IST0128', 'NoServerCertificateVerificationDestinationLevel', 'Warning',
       'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate '
       'server identity for host: %s',
       'No caCertificates are set in DestinationRule, this results in no verification of presented server '
       'certificate.',
       ('destinationrule', 'namespace', 'mode', 'host')),
    _m('IST0129', 'NoServerCertificateVerificationPortLevel', 'Warning',
       'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate '
       'server identity for host: %s at port %s',
       'No caCertificates are set in DestinationRule, this results in no verification of presented server '
       'certificate for traffic to a given port.',
       ('destinationrule', 'namespace', 'mode', 'host', 'port')),
    _m('IST0130', 'VirtualServiceUnreachableRule', 'Warning',
       'VirtualService rule %v not used (%s).',
       'A VirtualService rule will never be used because a previous rule uses the same match.',
       ('ruleno', 'reason')),
    _m('IST0131', 'VirtualServiceIneffectiveMatch', 'Info',
       'VirtualService rule %v match %v is not used (duplicate/overlapping match in rule %v).',
       'A VirtualService rule match duplicates a match in a previous rule.',
       ('ruleno', 'matchno', 'dupno')),
    _m('IST0132', 'VirtualServiceHostNotFoundInGateway', 'Warning',
       'one or more host %v defined in VirtualService %s not found in Gateway %s.',
       'Host defined in VirtualService not found in Gateway.',
       ('host', 'virtualservice', 'gateway')),
    _m('IST0133', 'SchemaWarning', 'Warning',
       'Schema validation warning: %v',
       'The resource has a schema validation warning.',
       ('err',)),
    _m('IST0134', 'ServiceEntryAddressesRequired', 'Warning',
       'ServiceEntry addresses are required for this protocol.',
       'Virtual IP addresses are required for ports serving TCP (or unset) protocol when '
       'PILOT_ENABLE_IP_AUTOALLOCATE is not set on a proxy',
       ()),
    _m('IST0135', 'DeprecatedAnnotation', 'Info',
       'Annotation %q has been deprecated%s and may not work in future Istio versions.',
       'A resource is using a deprecated Istio annotation.',
       ('annotation', 'extra')),
    _m('IST0136', 'AlphaAnnotation', 'Info',
       'Annotation %q is part of an alpha-phase feature and may be incompletely supported.',
       'An Istio annotation may not be suitable for production.',
       ('annotation',)),
    _m('IST0137', 'DeploymentConflictingPorts', 'Warning',
       'This deployment %s is associated with multiple services %v using targetPort %q but different ports: '
       '%v.',
       'Two services selecting the same workload with the same targetPort MUST refer to the same port.',
       ('deployment', 'services', 'targetPort', 'ports')),
    _m('IST0138', 'GatewayDuplicateCertificate', 'Warning',
       'Duplicate certificate in multiple gateways %v may cause 404s if clients re-use HTTP2 connections.',
       'Duplicate certificate in multiple gateways may cause 404s if clients re-use HTTP2 connections.',
       ('gateways',)),
    _m('IST0139', 'InvalidWebhook', 'Error',
       '%v',
       'Webhook is invalid or references a control plane service that does not exist.',
       ('error',)),
    _m('IST0140', 'IngressRouteRulesNotAffected', 'Warning',
       'Subset in virtual service %s has no effect on ingress gateway %s requests',
       'Route rules have no effect on ingress gateway requests',
       ('virtualservicesubset', 'virtualservice')),
    _m('IST0141', 'InsufficientPermissions', 'Error',
       'Missing required permission to create resource %v (%v)',
       'Required permissions to install Istio are missing.',
       ('resource', 'error')),
    _m('IST0142', 'UnsupportedKubernetesVersion', 'Error',
       'The Kubernetes Version %q is lower than the minimum version: %v',
       'The Kubernetes version is not supported',
       ('version', 'minimumVersion')),
    _m('IST0143', 'LocalhostListener', 'Error',
       'Port %v is exposed in a Service but listens on localhost. It will not be exposed to other pods.',
       'A port exposed in a Service is bound to a localhost address',
       ('port',)),
    _m('IST0144', 'InvalidApplicationUID', 'Warning',
       'User ID (UID) 1337 is reserved for the sidecar proxy.',
       'Application pods should not run as user ID (UID) 1337',
       ()),
    _m('IST0145', 'ConflictingGateways', 'Error',
       'Conflict with gateways %s (workload selector %s, port %s, hosts %v).',
       'Gateway should not have the same selector, port and matched hosts of server',
       ('gateway', 'selector', 'portnumber', 'hosts')),
    _m('IST0146', 'ImageAutoWithoutInjectionWarning', 'Warning',
       '%s %s contains `image: auto` but does not match any Istio injection webhook selectors.',
       'Deployments with `image: auto` should be targeted for injection.',
       ('resourceType', 'resourceName')),
    _m('IST0147', 'ImageAutoWithoutInjectionError', 'Error',
       '%s %s contains `image: auto` but does not match any Istio injection webhook selectors.',
       'Pods with `image: auto` should be targeted for injection.',
       ('resourceType', 'resourceName')),
    _m('IST0148', 'NamespaceInjectionEnabledByDefault', 'Info',
       'is enabled for Istio injection, as Istio is installed with enableNamespacesByDefault as true.',
       'user namespace should be injectable if Istio is installed with enableNamespacesByDefault enabled and '
       'neither injection label is set.',
       ()),
    _m('IST0149', 'JwtClaimBasedRoutingWithoutRequestAuthN', 'Error',
       'The virtual service uses the JWT claim based routing (key: %s) but found no request authentication '
       'for the gateway (%s) pod (%s). The request authentication must first be applied for the gateway pods '
       'to validate the JWT token and make the claims available for routing.',
       'Virtual service using JWT claim based routing without request authentication.',
       ('key', 'gateway', 'pod')),
    _m('IST0150', 'ExternalNameServiceTypeInvalidPortName', 'Warning',
       'Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched '
       'traffic for ports serving TCP protocol from being forwarded correctly',
       'Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being '
       'forwarded correctly for ExternalName services.',
       ()),
    _m('IST0151', 'EnvoyFilterUsesRelativeOperation', 'Warning',
       'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the '
       'EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help '
       'in ensuring the EnvoyFilter is applied correctly.',
       'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the '
       'EnvoyFilter not to be applied. Using the INSERT_FIRST or ADD option or setting the priority may help '
       'in ensuring the EnvoyFilter is applied correctly.',
       ()),
    _m('IST0152', 'EnvoyFilterUsesReplaceOperationIncorrectly', 'Error',
       'The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
       'The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
       ()),
    _m('IST0153', 'EnvoyFilterUsesAddOperationIncorrectly', 'Error',
       'The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
       'The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
       ()),
    _m('IST0154', 'EnvoyFilterUsesRemoveOperationIncorrectly', 'Error',
       'The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
       'The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
       ()),
    _m('IST0155', 'EnvoyFilterUsesRelativeOperationWithProxyVersion', 'Warning',
       'This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, '
       'REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied '
       'during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring '
       'the EnvoyFilter is applied correctly.',
       'This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, '
       'REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied '
       'during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring '
       'the EnvoyFilter is applied correctly.',
       ()),
    _m('IST0156', 'UnsupportedGatewayAPIVersion', 'Error',
       'The Gateway API CRD version %v is lower than the minimum version: %v',
       'The Gateway API CRD version is not supported',
       ('version', 'minimumVersion')),
    _m('IST0157', 'InvalidTelemetryProvider', 'Warning',
       'The Telemetry %v in namespace %q with empty providers will be ignored.',
       'The Telemetry with empty providers will be ignored',
       ('name', 'namespace')),
    _m('IST0158', 'PodsIstioProxyImageMismatchInNamespace', 'Warning',
       'The Istio proxy images of the pods running in the namespace do not match the image defined in the '
       'injection configuration (pod names: %v). This often happens after upgrading the Istio control-plane '
       'and can be fixed by redeploying the pods.',
       'The Istio proxy image of the pods running in the namespace do not match the image defined in the '
       'injection configuration.',
       ('podNames',)),
    _m('IST0159', 'ConflictingTelemetryWorkloadSelectors', 'Error',
       'The Telemetries %v in namespace %q select the same workload pod %q, which can lead to undefined '
       'behavior.',
       'A Telemetry resource selects the same workloads as another Telemetry resource',
       ('conflictingTelemetries', 'namespace', 'workloadPod')),
    _m('IST0160', 'MultipleTelemetriesWithoutWorkloadSelectors', 'Error',
       'The Telemetries %v in namespace %q have no workload selector, which can lead to undefined behavior.',
       'More than one telemetry resource in a namespace has no workload selector',
       ('conflictingTelemetries', 'namespace')),
    _m('IST0161', 'InvalidGatewayCredential', 'Error',
       'The credential referenced by the Gateway %s in namespace %s is invalid, which can cause the traffic '
       'not to work as expected.',
       'The credential provided for the Gateway resource is invalid',
       ('gatewayName', 'gatewayNamespace')),
    _m('IST0162', 'GatewayPortNotDefinedOnService', 'Warning',
       'The gateway is listening on a target port (port %d) that is not defined in the Service associated '
       'with its workload instances (Pod selector %s). If you need to access the gateway port through the '
       'gateway Service, it will not be available.',
       'Gateway port not exposed by service',
       ('port', 'selector')),
    _m('IST0163', 'InvalidExternalControlPlaneConfig', 'Warning',
       'The hostname (%s) that was provided for the webhook (%s) to reach the ingress gateway on the '
       'external control plane cluster %s. Traffic may not flow properly.',
       'Address for the ingress gateway on the external control plane is not valid',
       ('hostname', 'webhook', 'msg')),
    _m('IST0164', 'ExternalControlPlaneAddressIsNotAHostname', 'Info',
       'The address (%s) that was provided for the webhook (%s) to reach the ingress gateway on the external '
       'control plane cluster is an IP address. This is not recommended for a production environment.',
       'Address for the ingress gateway on the external control plane is an IP address and not a hostname',
       ('hostname', 'webhook')),
    _m('IST0165', 'ReferencedInternalGateway', 'Warning',
       'Gateway reference in VirtualService %s is to an implementation-generated internal Gateway: %s.',
       'VirtualServices should not reference internal Gateways.',
       ('virtualservice', 'gateway')),
    _m('IST0166', 'IneffectiveSelector', 'Warning',
       'Ineffective selector on Kubernetes Gateway %s. Use the TargetRef field instead.',
       'Selector has no effect when applied to Kubernetes Gateways.',
       ('gateway',)),
    _m('IST0167', 'IneffectivePolicy', 'Warning',
       'The policy has no impact: %s.',
       'The policy applied has no impact.',
       ('reason',)),
    _m('IST0168', 'UnknownUpgradeCompatibility', 'Warning',
       'The configuration %q changed in release %s, but compatibility cannot be automatically detected: %s. '
       'Or, install with `--set compatibilityVersion=%s` to retain the old default.',
       'We cannot automatically detect whether a change is fully compatible or not',
       ('field', 'release', 'info', 'compatVersion')),
    _m('IST0169', 'UpdateIncompatibility', 'Warning',
       'The configuration %q changed in release %s: %s. Or, install with `--set compatibilityVersion=%s` to '
       'retain the old default.',
       'The provided configuration object may be incompatible due to an upgrade',
       ('field', 'release', 'info', 'compatVersion')),
    _m('IST0170', 'MultiClusterInconsistentService', 'Warning',
       'The service %v in namespace %q is inconsistent across clusters %q, which can lead to undefined '
       'behaviors. The inconsistent behaviors are: %v.',
       'The services live in different clusters under multi-cluster deployment model are inconsistent',
       ('serviceName', 'namespace', 'clusters', 'error')),
    _m('IST0171', 'NegativeConditionStatus', 'Warning',
       'A condition with a negative status is present: type=%s, reason=%s, message=%s.',
       'A condition with a negative status is present',
       ('conditionType', 'reason', 'message')),
    _m('IST0172', 'FutureUnsupportedGatewayAPIVersion', 'Warning',
       'The Gateway API CRD version %v is lower than the minimum version: %v',
       'The Gateway API CRD version will not be supported in the future',
       ('version', 'minimumVersion')),
    _m('IST0173', 'DestinationRuleSubsetNotSelectPods', 'Error',
       'The Subset %s defined in the DestinationRule does not select any pods. Which may lead to 503 UH '
       '(NoHealthyUpstream).',
       'Subsets defined in destination does not select any pods.',
       ('subset',)),
    _m('IST0174', 'UnknownDestinationRuleHost', 'Warning',
       'The host %s defined in the DestinationRule does not match any services in the mesh.',
       'Host defined in destination rule does not match any services in the mesh.',
       ('host',)),
    _m('IST0175', 'JwksUriFetchUnrestricted', 'Warning',
       'BLOCKED_CIDRS_IN_JWKS_URIS is not configured but %d RequestAuthentication resource(s) exist (%s). '
       'Consider configuring it to restrict JWKS URI fetches to trusted networks.',
       'RequestAuthentication resources exist but BLOCKED_CIDRS_IN_JWKS_URIS is not configured on istiod.',
       ('count', 'names')),
    _m('IST0176', 'GatewayAPICRDVersionBelowMinimum', 'Warning',
       'Gateway API CRD %q is at version %q but Istio requires at least %q; resources of this kind will not '
       'be processed. Upgrade the Gateway API CRDs to satisfy the minimum version.',
       'A Gateway API CRD is installed at a version below the minimum required by this Istio version. '
       'Resources of this kind will not be processed.',
       ('crd', 'installedVersion', 'minimumVersion')),
    _m('IST0177', 'ConflictingServiceEntryProtocol', 'Warning',
       'Multiple ServiceEntries (%s) define the same host %q and port %d with conflicting protocols (%s).',
       'Multiple ServiceEntries define the same host and port with conflicting protocols.',
       ('serviceEntryNames', 'host', 'port', 'protocols')),
    # --- ours (docs/analyzers.md) ------------------------------------------------------------------
    _m("MESH0001", "UnreadableInput", "Error", "Cannot read input %s: %s",
       "A file is not YAML, or a document is not a Kubernetes object; the other inputs are still analyzed."),
    _m("MESH0002", "UnknownKind", "Info", "Unknown kind %s (apiVersion %s): not analyzed",
       "An object whose kind no analyzer reads."),
    _m("MESH0003", "AnalyzerFailed", "Error", "Analyzer %s failed: %s",
       "An analyzer raised an error; the other analyzers still ran. Please report it."),
    _m("MESH0101", "MTLSDisabledTowardStrict", "Error",
       "DestinationRule sets tls.mode DISABLE%s toward host %s whose workloads require STRICT mTLS (%s): "
       "requests will be refused.", "Kiali KIA0207/KIA0208; the conflict Istio's IST0113 used to report."),
    _m("MESH0102", "IstioMutualTowardNoSidecar", "Error",
       "DestinationRule sets tls.mode ISTIO_MUTUAL%s toward host %s whose pods have no sidecar (%s): "
       "the server cannot terminate mTLS.", "Client mTLS toward a workload without a sidecar breaks traffic."),
    _m("MESH0103", "MTLSEnabledWithoutPeerAuthentication", "Info",
       "DestinationRule %s enables mTLS (ISTIO_MUTUAL) mesh- or namespace-wide, but no PeerAuthentication "
       "at that level sets STRICT or PERMISSIVE.", "Kiali KIA0205/KIA0206."),
    _m("MESH0201", "RouteWeightsRelative", "Info",
       "Route %s weights add up to %d: weights are relative (Istio 1.15+), so %s.",
       "Destination weights of a route are relative: each destination gets weight/total of the traffic. "
       "A total other than 100 is valid; this says what share each destination really gets."),
    _m("MESH0301", "OutlierCanEjectAllHosts", "Warning", "%s", "Outlier detection that can eject every host."),
    _m("MESH0302", "OutlierEjectsOnNoise", "Warning", "%s",
       "consecutive5xxErrors below 3 ejects replicas on background noise."),
    _m("MESH0303", "OutlierTimingOutOfRange", "Warning", "%s",
       "outlierDetection interval or baseEjectionTime outside a sensible range (1s-300s, 5s-600s)."),
    _m("MESH0304", "NoOutlierDetection", "Info", "%s",
       "A DestinationRule for a multi-replica host without outlierDetection."),
    _m("MESH0305", "ConnectionPoolBelowConcurrency", "Warning", "%s",
       "Connection pool limits below the observed concurrency: requests overflow (503 UO)."),
    _m("MESH0401", "RequestAuthenticationWithoutRequiredToken", "Warning",
       "RequestAuthentication %s validates tokens but no AuthorizationPolicy requires one "
       "(requestPrincipals: [\"*\"]): requests without a token are allowed.",
       "A RequestAuthentication alone never rejects requests without a token."),
    _m("MESH0402", "AllowPolicyWithNoRules", "Warning",
       "ALLOW policy with no rules matches no request: it denies every request to %s.",
       "An AuthorizationPolicy with action ALLOW and no rules denies everything on the workloads it selects."),
    _m("MESH0403", "PeerIdentityWithoutStrictMTLS", "Warning",
       "The policy uses %s but mTLS is not STRICT for %s (mode %s by %s): plaintext requests carry no peer "
       "identity, so ALLOW rules never match them and DENY rules never catch them.",
       "principals/namespaces need mTLS; under PERMISSIVE a plaintext client bypasses them."),
    _m("MESH0404", "JwksUriInBlockedCIDR", "Warning",
       "jwksUri %s is in istiod's BLOCKED_CIDRS_IN_JWKS_URIS: istiod will not fetch the keys and tokens fail.",
       "A RequestAuthentication whose JWKS address istiod is configured to refuse."),
    _m("MESH0405", "RequestPrincipalsWithoutRequestAuthentication", "Error",
       "The policy uses requestPrincipals but no RequestAuthentication applies to its workloads: no request "
       "ever has a request principal.", "requestPrincipals need a RequestAuthentication on the same workloads."),
    _m("MESH0406", "UnknownHTTPMethod", "Warning", "Method %q %s.",
       "Istio matches methods/notMethods exactly, case included (or as a prefix/suffix with *): a value that is "
       "not a standard method matches only requests that send exactly it, which is most often a typo."),
    _m("MESH0407", "PrincipalServiceAccountNotFound", "Warning",
       "Principal %s names service account %s/%s, which does not exist.",
       "A principal that no workload can present."),
    _m("MESH0501", "LinkerdServerWithoutAuthorization", "Warning",
       "Server %s has no AuthorizationPolicy or ServerAuthorization%s: %s",
       "A Linkerd Server whose traffic no authorization admits."),
    _m("MESH0502", "LinkerdInvalidFailureAccrual", "Error", "Invalid failure-accrual annotation %s: %s",
       "A balancer.linkerd.io failure-accrual annotation that Linkerd cannot parse."),
    _m("MESH0503", "LinkerdHTTPRouteBackendNotFound", "Error",
       "HTTPRoute backendRef %s does not match any Service in namespace %s.",
       "An HTTPRoute backend that does not exist."),
    _m("MESH0601", "AmbientAllowWithHTTPRulesDeniesAll", "Warning",
       "In ambient mode ztunnel enforces no HTTP rule: every rule of this ALLOW policy has HTTP fields (%s), so it "
       "reaches ztunnel with no rules and denies every connection to %s. Attach it to a waypoint with targetRefs.",
       "istiod drops ALLOW rules with HTTP fields for ztunnel; with none left the policy matches nothing."),
    _m("MESH0602", "AmbientDenyWithHTTPRulesIgnored", "Warning",
       "In ambient mode ztunnel enforces no HTTP rule: without its HTTP fields (%s) no rule of this DENY policy can "
       "match, so ztunnel denies nothing to %s. Attach it to a waypoint with targetRefs.",
       "istiod removes the HTTP fields of DENY rules for ztunnel; a clause left empty never matches."),
    _m("MESH0603", "AmbientHTTPRulesDropped", "Info",
       "In ambient mode ztunnel enforces no HTTP rule (%s): %s, more restrictive than written, for %s.",
       "ztunnel enforces the L4 part of a policy with HTTP fields: ALLOW rules with them are dropped, DENY rules "
       "lose their HTTP conditions."),
    _m("MESH0604", "AmbientPolicyNotSentToZtunnel", "Warning", "%s: the policy is not enforced for %s.",
       "CUSTOM, AUDIT and dry-run AuthorizationPolicies are not sent to ztunnel (ZtunnelAccepted=False)."),
    _m("MESH0605", "TargetRefPolicyNotEnforced", "Warning",
       "No waypoint or gateway takes this policy, so it is enforced nowhere (sidecars and ztunnel ignore "
       "targetRefs policies): %s.",
       "A targetRefs policy whose Service has no waypoint, whose target is missing, or that references another "
       "namespace."),
    _m("MESH0606", "WaypointBindingRefused", "Warning",
       "istio.io/use-waypoint asks for waypoint %s, which istiod refuses (%s: %s): the traffic skips the "
       "waypoint and its L7 policies and routes.",
       "A namespace, Service or pod bound to a waypoint that is missing, not ready, denies the namespace, or does "
       "not take that traffic."),
    _m("MESH0607", "AmbientAllowRefusesWaypoint", "Warning",
       "Traffic to %s goes through waypoint %s, and ztunnel sees the waypoint's identity (%s), which this L4 "
       "ALLOW policy does not allow: that traffic is refused. Allow the waypoint's identity or move the policy "
       "to the waypoint with targetRefs.",
       "Behind a waypoint the destination ztunnel sees the waypoint's identity, not the client's."),
    _m("MESH0701", "GatewayAPIParentRefused", "Warning",
       "Istio will not attach this route to %s (%s: %s).",
       "A route parent istiod refuses (Accepted=False), computed before istiod writes status."),
    _m("MESH0702", "GatewayAPIBackendUnresolved", "Warning",
       "On %s, a backend does not resolve (%s: %s): its share of the requests gets 500.",
       "An HTTPRoute/GRPCRoute backend or mirror that is missing or not permitted (ResolvedRefs=False)."),
    _m("MESH0703", "GatewayAPIRuleAnswers500", "Warning",
       "Rule %s: %s, so Istio answers every request it matches with 500.",
       "A rule without a backend weight above 0 (and no redirect) is a 500 direct response."),
    _m("MESH0704", "GatewayAPIRuleUnreachable", "Warning",
       "Rule %s is never reached: Istio sorts the rules of a host by match (Exact, longest PathPrefix, "
       "RegularExpression, then method, headers, query) and an earlier catch-all takes every request.",
       "A rule behind a catch-all once istiod sorts the rules of the routes for a host."),
    _m("MESH0705", "VirtualServiceAndHTTPRouteForOneHost", "Warning",
       "This route and VirtualService %s both route %s; Istio applies one per client, never both (%s). Keep one.",
       "A VirtualService and a Gateway API route for the same host: Istio does not support mixing them."),
]}
