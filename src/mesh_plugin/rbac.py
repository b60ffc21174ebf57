"""The Kubernetes permissions the tools need, derived from the kinds they read and write.

``deploy/`` carries them as two ClusterRoles (read-only, and writer for the mesh kinds only); the tests check
the manifests against this module and against the requests the tools really make.
"""
from __future__ import annotations

from .kube.kinds import ALL_KINDS, KINDS

READ_VERBS = ("get", "list")
WRITE_VERBS = ("create", "update", "patch", "delete")
#: what the write tools change
WRITE_KEYS = ("PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "VirtualService",
              "DestinationRule", "Service", "gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute",
              "policy.linkerd.io/HTTPRoute")


def _group_rules(keys: list[str], verbs: tuple[str, ...]) -> list[dict]:
    by_group: dict[str, set[str]] = {}
    for key in keys:
        k = KINDS[key]
        by_group.setdefault(k.group, set()).add(k.plural)
    return [{"apiGroups": [g], "resources": sorted(r), "verbs": list(verbs)} for g, r in sorted(by_group.items())]


def read_rules() -> list[dict]:
    rules = _group_rules([k.key for k in ALL_KINDS], READ_VERBS)
    rules.append({"apiGroups": [""], "resources": ["pods/proxy", "services/proxy"], "verbs": ["get"]})
    rules.append({"nonResourceURLs": ["/version"], "verbs": ["get"]})
    return rules


def write_rules() -> list[dict]:
    rules = _group_rules(list(WRITE_KEYS), WRITE_VERBS)
    rules.append({"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["create"]})  # POST /logging
    return rules


def allowed(rules: list[dict], verb: str, group: str, resource: str) -> bool:
    for r in rules:
        if group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", []):
            return True
    return False
