"""Linkerd: golden-metric queries (the PromQL of `linkerd viz stat`), policy decisions, checks. Pure."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of

RESOURCE_LABELS = {"deploy": "deployment", "deployment": "deployment", "pod": "pod", "po": "pod",
                   "sts": "statefulset", "statefulset": "statefulset", "ns": "namespace", "namespace": "namespace",
                   "ds": "daemonset", "daemonset": "daemonset"}
DEFAULT_POLICY = "all-unauthenticated"


def stat_queries(label: str, selector: str, window: str) -> dict[str, str]:
    """The queries `linkerd viz stat` runs (see mesh-semantics.md), grouped by namespace and the resource label."""
    by = "namespace" if label == "namespace" else f"namespace, {label}"
    sel = f'direction="inbound"{"," + selector if selector else ""}'
    q = {"responses": f"sum(increase(response_total{{{sel}}}[{window}])) by ({by}, classification, tls)",
         "tcp": f"sum(tcp_open_connections{{{sel}}}) by ({by})"}
    for name, quant in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        q[name] = (f"histogram_quantile({quant}, sum(irate(response_latency_ms_bucket{{{sel}}}[{window}])) "
                   f"by (le, {by}))")
    return q


def identity(sa: str, ns: str, td: str = "cluster.local") -> str:
    return f"{sa}.{ns}.serviceaccount.identity.linkerd.{td}"


@dataclass
class LinkerdDecision:
    allowed: bool
    reason: str
    server: str | None = None
    policy: str | None = None


def _match_selector(sel: dict, labels: dict[str, str]) -> bool:
    ml = (sel or {}).get("matchLabels") or {}
    if not all(labels.get(k) == v for k, v in ml.items()):
        return False
    for expr in (sel or {}).get("matchExpressions") or []:
        key, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def servers_for(snap: Snapshot, pod: dict, port: int | str | None) -> list[dict]:
    out = []
    ports = {str(p.get("containerPort")): str(p.get("name") or "") for c in (pod.get("spec") or {}).get(
        "containers") or [] for p in c.get("ports") or []}
    names = {name: number for number, name in ports.items() if name}
    for srv in snap.of("Server", ns_of(pod)):
        spec = srv.get("spec") or {}
        if not _match_selector(spec.get("podSelector") or {}, labels_of(pod)):
            continue
        sp = str(spec.get("port"))
        # a Server names its port by number or by the container port's name; so may the question
        if port is None or sp == str(port) or ports.get(str(port)) == sp or names.get(str(port)) == sp:
            out.append(srv)
    return out


def default_policy(snap: Snapshot, pod: dict, cluster_default: str = DEFAULT_POLICY) -> str:
    ann = annotations_of(pod).get("config.linkerd.io/default-inbound-policy")
    if ann:
        return ann
    ns = snap.get("Namespace", ns_of(pod))
    return annotations_of(ns or {}).get("config.linkerd.io/default-inbound-policy") or cluster_default


def _policy_allows(policy: str, client_id: str | None, in_cluster: bool = True) -> bool:
    if policy == "deny":
        return False
    if policy == "all-unauthenticated":
        return True
    if policy == "cluster-unauthenticated":
        return in_cluster
    if policy in ("all-authenticated", "cluster-authenticated"):
        return client_id is not None
    return False


def _ip_in(ip: str | None, networks: list[dict]) -> bool:
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for net in networks:
        try:
            if addr in ipaddress.ip_network(net.get("cidr", ""), strict=False) and not any(
                    addr in ipaddress.ip_network(x, strict=False) for x in net.get("except") or []):
                return True
        except ValueError:
            continue
    return False


def _mtls_auth_ok(auth: dict, client_id: str | None, td: str) -> bool:
    spec = auth.get("spec") or {}
    if client_id is None:
        return False
    ids = spec.get("identities") or []
    if any(i == "*" or i == client_id or (i.startswith("*.") and client_id.endswith(i[1:])) for i in ids):
        return True
    for sa in spec.get("identityRefs") or spec.get("serviceAccounts") or []:
        if sa.get("kind", "ServiceAccount") == "ServiceAccount" and identity(
                sa.get("name", ""), sa.get("namespace") or ns_of(auth), td) == client_id:
            return True
    return False


def decide(snap: Snapshot, pod: dict, port: int | str | None, client_id: str | None, client_ip: str | None = None,
           route: str | None = None, td: str = "cluster.local") -> LinkerdDecision:
    """May this client reach the pod's port (and route)? Servers + AuthorizationPolicy/ServerAuthorization."""
    servers = servers_for(snap, pod, port)
    if not servers:
        pol = default_policy(snap, pod)
        return LinkerdDecision(_policy_allows(pol, client_id), f"no Server selects this port: the default inbound "
                                                               f"policy {pol!r} applies")
    srv = servers[0]
    ns = ns_of(srv)
    sname = f"{ns}/{name_of(srv)}"
    auths = {(a.get("kind"), ns_of(a), name_of(a)): a for key in ("MeshTLSAuthentication", "NetworkAuthentication")
             for a in snap.of(key)}
    routes = [r for r in snap.of("policy.linkerd.io/HTTPRoute", ns) if any(
        p.get("kind") == "Server" and p.get("name") == name_of(srv) for p in (r.get("spec") or {}).get("parentRefs") or [])]
    for ap in snap.of("policy.linkerd.io/AuthorizationPolicy", ns):
        tr = (ap.get("spec") or {}).get("targetRef") or {}
        targets = (tr.get("kind") == "Server" and tr.get("name") == name_of(srv)) or \
                  (tr.get("kind") == "Namespace" and tr.get("name", ns) == ns) or \
                  (tr.get("kind") == "HTTPRoute" and route is not None and tr.get("name") == route and
                   any(name_of(r) == route for r in routes))
        if not targets:
            continue
        refs = (ap.get("spec") or {}).get("requiredAuthenticationRefs") or []
        ok = True
        for ref in refs:
            a = auths.get((ref.get("kind"), ref.get("namespace") or ns, ref.get("name")))
            if a is None:
                ok = False
                break
            if ref.get("kind") == "MeshTLSAuthentication" and not _mtls_auth_ok(a, client_id, td):
                ok = False
            if ref.get("kind") == "NetworkAuthentication" and not _ip_in(client_ip, (a.get("spec") or {}).get(
                    "networks") or []):
                ok = False
        if ok:
            return LinkerdDecision(True, f"AuthorizationPolicy {ns}/{name_of(ap)} admits the client", sname,
                                   f"{ns}/{name_of(ap)}")
    for sa_obj in snap.of("ServerAuthorization", ns):
        spec = sa_obj.get("spec") or {}
        ref = spec.get("server") or {}
        if not (ref.get("name") == name_of(srv) or (ref.get("selector") and _match_selector(ref["selector"],
                                                                                            labels_of(srv)))):
            continue
        client = spec.get("client") or {}
        if client.get("unauthenticated") and (not client.get("networks") or _ip_in(client_ip, client["networks"])):
            return LinkerdDecision(True, f"ServerAuthorization {ns}/{name_of(sa_obj)} allows unauthenticated clients",
                                   sname, f"{ns}/{name_of(sa_obj)}")
        mtls = client.get("meshTLS") or {}
        if client_id and (mtls.get("unauthenticatedTLS") or _mtls_auth_ok({"spec": {
                "identities": mtls.get("identities") or [], "serviceAccounts": mtls.get("serviceAccounts") or []},
                "metadata": {"namespace": ns}}, client_id, td)):
            return LinkerdDecision(True, f"ServerAuthorization {ns}/{name_of(sa_obj)} admits the client", sname,
                                   f"{ns}/{name_of(sa_obj)}")
    access = str((srv.get("spec") or {}).get("accessPolicy") or "deny")
    if _policy_allows(access, client_id) and access != "deny":
        return LinkerdDecision(True, f"Server {sname} accessPolicy {access!r} admits it", sname)
    return LinkerdDecision(False, f"Server {sname} (accessPolicy {access!r}): no AuthorizationPolicy or "
                                  "ServerAuthorization admits this client", sname)


def issuer_expiry(cert_pem: bytes) -> dict[str, Any]:
    from cryptography import x509

    from ..envoy.configdump import cert_metadata

    return cert_metadata(x509.load_pem_x509_certificate(cert_pem))
