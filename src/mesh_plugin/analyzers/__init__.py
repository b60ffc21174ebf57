"""Analyzers: one per file, pure, each declaring its name, description and inputs.

``ISTIO`` are Istio's analyzers at the pinned version, named, coded and levelled as ``istioctl analyze
--list-analyzers`` and its messages name them; ``MESH`` are ours (``mesh.*`` names, MESH codes, documented
in docs/analyzers.md). ``ALL`` is the explicit, sorted registration. ``run`` executes analyzers over a
Context and returns messages sorted and de-duplicated as istioctl does.
"""
from __future__ import annotations

import fnmatch

from .annotations import K8sAnalyzer
from .annotations_alpha import AlphaAnalyzer
from .ambient_target_ref import TargetRefAnalyzer
from .ambient_waypoint_binding import WaypointBindingAnalyzer
from .ambient_waypoint_identity import WaypointIdentityAnalyzer
from .ambient_ztunnel_policy import ZtunnelPolicyAnalyzer
from .application_uid import ApplicationUIDAnalyzer
from .auth import AuthorizationPoliciesAnalyzer
from .authn_blocked_cidrs import BlockedCIDRsAnalyzer
from .base import Analyzer, Context, MeshConfig, Message, dedupe, sort_messages, suppressed
from .conditions import ConditionAnalyzer
from .deployment_multi_service import MultiServiceAnalyzer
from .deprecation import DeprecationAnalyzer
from .destinationrule_ca import CaCertificateAnalyzer
from .destinationrule_subsets import SubsetSelectPodAnalyzer
from .envoyfilter_patch import EnvoyPatchAnalyzer
from .externalcontrolplane import ExternalControlPlaneAnalyzer
from .gateway_certificate import CertificateAnalyzer
from .gateway_conflicting import ConflictingGatewayAnalyzer
from .gateway_ingress_port import IngressGatewayPortAnalyzer
from .gateway_secret import SecretAnalyzer
from .injection import InjectionAnalyzer
from .injection_image import ImageAnalyzer
from .injection_image_auto import ImageAutoAnalyzer
from .k8sgateway_crd_version import CRDVersionAnalyzer
from .k8sgateway_selector import SelectorAnalyzer as K8sGatewaySelectorAnalyzer
from .linkerd_failure_accrual import FailureAccrualAnalyzer
from .linkerd_httproute_backend import HTTPRouteBackendAnalyzer
from .linkerd_server_authz import ServerAuthorizationAnalyzer
from .mesh_allow_no_rules import AllowNothingAnalyzer
from .mesh_gatewayapi_routes import GatewayAPIRouteAnalyzer
from .mesh_jwks_blocked_cidr import JwksBlockedCIDRAnalyzer
from .mesh_mtls_conflict import MTLSConflictAnalyzer
from .mesh_outlier import ResilienceAnalyzer
from .mesh_request_authn import RequestAuthenticationAnalyzer
from .mesh_route_weights import RouteWeightsAnalyzer
from .meshnetworks import MeshNetworksAnalyzer
from .messages import CATALOG, MessageType
from .multicluster_service import MultiClusterServiceAnalyzer
from .schema import ALL_VALIDATION_ANALYZERS
from .security_authz_lint import AuthzLintAnalyzer
from .service_port_name import PortNameAnalyzer
from .serviceentry_addresses import ServiceEntryAnalyzer
from .serviceentry_protocol import ConflictingServiceEntryProtocolAnalyzer
from .sidecar_selector import SidecarSelectorAnalyzer
from .telemetry_default_selector import DefaultSelectorAnalyzer
from .telemetry_lightstep import LightstepAnalyzer
from .telemetry_providers import ProviderAnalyzer
from .telemetry_selector import SelectorAnalyzer as TelemetrySelectorAnalyzer
from .vs_conflicting_mesh_hosts import ConflictingMeshGatewayHostsAnalyzer
from .vs_destination_host import DestinationHostAnalyzer
from .vs_destination_rule import DestinationRuleAnalyzer
from .vs_gateway import GatewayAnalyzer
from .vs_jwt_claim_route import JWTClaimRouteAnalyzer
from .webhook import WebhookAnalyzer


def _sorted(analyzers: tuple[Analyzer, ...]) -> tuple[Analyzer, ...]:
    return tuple(sorted(analyzers, key=lambda a: a.name))


#: Istio's analyzers.All() at the pin: the names `istioctl analyze --list-analyzers` prints.
ISTIO: tuple[Analyzer, ...] = _sorted((
    K8sAnalyzer(), ApplicationUIDAnalyzer(), AuthorizationPoliciesAnalyzer(), BlockedCIDRsAnalyzer(),
    ConditionAnalyzer(), MultiServiceAnalyzer(), DeprecationAnalyzer(), CaCertificateAnalyzer(),
    SubsetSelectPodAnalyzer(), EnvoyPatchAnalyzer(), ExternalControlPlaneAnalyzer(), CertificateAnalyzer(),
    ConflictingGatewayAnalyzer(), IngressGatewayPortAnalyzer(), SecretAnalyzer(), InjectionAnalyzer(),
    ImageAnalyzer(), ImageAutoAnalyzer(), CRDVersionAnalyzer(), K8sGatewaySelectorAnalyzer(),
    MeshNetworksAnalyzer(), *ALL_VALIDATION_ANALYZERS, PortNameAnalyzer(), ServiceEntryAnalyzer(),
    ConflictingServiceEntryProtocolAnalyzer(), MultiClusterServiceAnalyzer(), SidecarSelectorAnalyzer(),
    DefaultSelectorAnalyzer(), LightstepAnalyzer(), ProviderAnalyzer(), TelemetrySelectorAnalyzer(),
    ConflictingMeshGatewayHostsAnalyzer(), DestinationHostAnalyzer(), DestinationRuleAnalyzer(), GatewayAnalyzer(),
    JWTClaimRouteAnalyzer(), WebhookAnalyzer(),
))

#: Ours (MESH codes): checks Istio does not make. Names start with "mesh." so they cannot be taken for Istio's.
MESH: tuple[Analyzer, ...] = _sorted((
    RouteWeightsAnalyzer(), MTLSConflictAnalyzer(), ResilienceAnalyzer(), AllowNothingAnalyzer(),
    AuthzLintAnalyzer(), RequestAuthenticationAnalyzer(), JwksBlockedCIDRAnalyzer(), FailureAccrualAnalyzer(),
    HTTPRouteBackendAnalyzer(), ServerAuthorizationAnalyzer(), ZtunnelPolicyAnalyzer(), TargetRefAnalyzer(),
    WaypointBindingAnalyzer(), WaypointIdentityAnalyzer(), GatewayAPIRouteAnalyzer(),
))

ALL: tuple[Analyzer, ...] = _sorted(ISTIO + MESH)

#: Istio analyzers that Istio itself does not register (not in istioctl's list): run only when named exactly.
OPTIONAL: tuple[Analyzer, ...] = (AlphaAnalyzer(),)

BY_NAME: dict[str, Analyzer] = {a.name: a for a in ALL + OPTIONAL}


def select(only: list[str] | None) -> list[Analyzer]:
    """Analyzers by exact name or glob (``virtualservice.*``), former names of ours included; all when
    ``only`` is empty. Analyzers of OPTIONAL run only when named exactly."""
    if not only:
        return list(ALL)
    out = [a for a in ALL if any(fnmatch.fnmatchcase(n, pat) for pat in only for n in (a.name, *a.aliases))]
    out += [a for a in OPTIONAL if a.name in only]
    return out


def input_kinds(analyzers: list[Analyzer]) -> list[str]:
    """The snapshot kinds the analyzers read (for a live LIST), plus what every analysis needs."""
    from ..kube.kinds import KINDS

    keys: list[str] = []
    for a in analyzers:
        for k in a.inputs:
            if k in KINDS and k not in keys:
                keys.append(k)
    for k in ("Namespace", "ConfigMap", "Node"):  # mesh config, namespace names, topology
        if k not in keys:
            keys.append(k)
    return keys


def run(ctx: Context, analyzers: list[Analyzer]) -> list[Message]:
    """Run each analyzer; one that raises is reported (MESH0003) and the others still run. Messages come back
    sorted and de-duplicated as istioctl's (SortedDedupedCopy)."""
    for a in analyzers:
        ctx.current = a.name
        before = len(ctx.messages)
        try:
            a.analyze(ctx)
        except Exception as e:  # one analyzer failing never stops the others
            del ctx.messages[before:]
            ctx.messages.append(Message("MESH0003", "Error", CATALOG["MESH0003"].render(
                a.name, f"{type(e).__name__}: {e}"), "Analyzer", None, a.name, a.name))
    return dedupe(sort_messages(ctx.messages))


__all__ = ["ALL", "ISTIO", "MESH", "OPTIONAL", "BY_NAME", "CATALOG", "Analyzer", "Context", "MeshConfig", "Message",
           "MessageType", "run", "select", "suppressed", "input_kinds"]
