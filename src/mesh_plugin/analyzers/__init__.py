"""Analyzers: one per file, pure, each declaring its name, description and inputs.

Registration is this explicit, sorted list. ``run`` executes them over a Snapshot and returns
coded messages (IST codes with Istio's meaning, MESH codes for our own checks).
"""
from __future__ import annotations

import fnmatch

from .annotations import K8sAnalyzer
from .application_uid import ApplicationUIDAnalyzer
from .auth import AuthorizationPoliciesAnalyzer
from .authn_blocked_cidrs import BlockedCIDRsAnalyzer
from .base import Analyzer, Context, MeshConfig, Message, sort_messages, suppressed
from .deployment_multi_service import MultiServiceAnalyzer
from .destinationrule_ca import CaCertificateAnalyzer
from .destinationrule_subsets import SubsetSelectPodAnalyzer
from .gateway_certificate import CertificateAnalyzer
from .gateway_conflicting import ConflictingGatewayAnalyzer
from .gateway_ingress_port import IngressGatewayPortAnalyzer
from .gateway_secret import SecretAnalyzer
from .injection import InjectionAnalyzer
from .injection_image import ImageAnalyzer
from .k8sgateway_selector import SelectorAnalyzer
from .linkerd_failure_accrual import FailureAccrualAnalyzer
from .linkerd_httproute_backend import HTTPRouteBackendAnalyzer
from .linkerd_server_authz import ServerAuthorizationAnalyzer
from .mesh_allow_no_rules import AllowNothingAnalyzer
from .mesh_mtls_conflict import MTLSConflictAnalyzer
from .mesh_outlier import ResilienceAnalyzer
from .mesh_request_authn import RequestAuthenticationAnalyzer
from .mesh_route_weights import RouteWeightsAnalyzer
from .messages import CATALOG, MessageType
from .schema import SchemaAnalyzer
from .security_authz_lint import AuthzLintAnalyzer
from .service_port_name import PortNameAnalyzer
from .serviceentry_addresses import ServiceEntryAnalyzer
from .serviceentry_protocol import ConflictingServiceEntryProtocolAnalyzer
from .sidecar_selector import SidecarSelectorAnalyzer
from .vs_conflicting_mesh_hosts import ConflictingMeshGatewayHostsAnalyzer
from .vs_destination_host import DestinationHostAnalyzer
from .vs_destination_rule import DestinationRuleAnalyzer
from .vs_gateway import GatewayAnalyzer
from .vs_jwt_claim_route import JWTClaimRouteAnalyzer

ALL: tuple[Analyzer, ...] = tuple(sorted((
    K8sAnalyzer(), ApplicationUIDAnalyzer(), AuthorizationPoliciesAnalyzer(), BlockedCIDRsAnalyzer(),
    MultiServiceAnalyzer(), CaCertificateAnalyzer(), SubsetSelectPodAnalyzer(), ResilienceAnalyzer(),
    CertificateAnalyzer(), ConflictingGatewayAnalyzer(), IngressGatewayPortAnalyzer(), SecretAnalyzer(),
    InjectionAnalyzer(), ImageAnalyzer(), SelectorAnalyzer(), FailureAccrualAnalyzer(), HTTPRouteBackendAnalyzer(),
    ServerAuthorizationAnalyzer(), MTLSConflictAnalyzer(), SchemaAnalyzer(), AllowNothingAnalyzer(),
    RequestAuthenticationAnalyzer(), PortNameAnalyzer(), ServiceEntryAnalyzer(),
    ConflictingServiceEntryProtocolAnalyzer(), SidecarSelectorAnalyzer(), ConflictingMeshGatewayHostsAnalyzer(),
    DestinationHostAnalyzer(), DestinationRuleAnalyzer(), GatewayAnalyzer(), JWTClaimRouteAnalyzer(),
    RouteWeightsAnalyzer(), AuthzLintAnalyzer(),
), key=lambda a: a.name))

BY_NAME: dict[str, Analyzer] = {a.name: a for a in ALL}


def select(only: list[str] | None) -> list[Analyzer]:
    """Analyzers by exact name or glob (``virtualservice.*``); all when ``only`` is empty."""
    if not only:
        return list(ALL)
    out = [a for a in ALL if any(fnmatch.fnmatchcase(a.name, pat) for pat in only)]
    return out


def input_kinds(analyzers: list[Analyzer]) -> list[str]:
    keys: list[str] = []
    for a in analyzers:
        for k in a.inputs:
            if k not in keys:
                keys.append(k)
    for k in ("Namespace", "ConfigMap", "Node"):  # mesh config, namespace names, topology
        if k not in keys:
            keys.append(k)
    return keys


def run(ctx: Context, analyzers: list[Analyzer]) -> list[Message]:
    for a in analyzers:
        ctx.current = a.name
        before = len(ctx.messages)
        try:
            a.analyze(ctx)
        except Exception as e:  # one analyzer failing never stops the others
            del ctx.messages[before:]
            ctx.messages.append(Message("MESH0003", "Error", CATALOG["MESH0003"].template.format(
                a.name, f"{type(e).__name__}: {e}"), "Analyzer", None, a.name, a.name))
    return sort_messages(ctx.messages)


__all__ = ["ALL", "BY_NAME", "CATALOG", "Analyzer", "Context", "MeshConfig", "Message", "MessageType", "run",
           "select", "suppressed", "input_kinds"]
