"""L7 authorization and JWT: authz_policies, authz_check, generate_jwt_policy."""
from __future__ import annotations

import re

from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInput, NotFound
from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import ambient
from ..mesh import authz as A
from ..mesh import mtls as M
from ..mesh.meshconfig import root_namespace
from ..mesh.workloads import WorkloadInfo, sidecar_of, workloads
from ..render import render_changes, table
from ..runtime import RUNTIME
from .registry import Caller, CallerSpec, Files, Namespace, Target, TargetPort, Workload, op, parse_arg
from .registry import Apply, Confirm
from .traffic import TrafficChange, _apply_objects

AUTHZ_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "AuthorizationPolicy",
               "RequestAuthentication", "PeerAuthentication", "ConfigMap", "ServiceAccount")
#: and for ambient workloads, their waypoints (Gateways of class istio-waypoint)
AMBIENT_AUTHZ_KINDS = AUTHZ_KINDS + tuple(k for k in (ambient.GATEWAY_KEY, *ambient.GATEWAY_CLASS_KEYS) if k in KINDS)


def read(namespace: str, files: list[str] | None) -> Snapshot:
    """The objects a question about a workload of ``namespace`` needs (issue 23: that namespace's pods, Services
    and controllers, policies there and in the root namespace, the mesh config, Gateways whole). Files are read
    whole."""
    return RUNTIME.snapshot(AMBIENT_AUTHZ_KINDS, None, files, scoped=None if files else namespace)


def with_pods_of(snap: Snapshot, namespace: str | None, key: str = "Pod") -> Snapshot:
    """``snap`` plus the pods (or another namespaced ``key``) of another namespace (the caller's), read with one
    namespaced LIST when the scoped read did not include them."""
    if not namespace or any(ns_of(p) == namespace for p in snap.of(key)) or snap.source == "files":
        return snap
    try:
        extra = RUNTIME.snapshot((key,), namespace)
    except NotFound:  # a principal may name a namespace that does not exist here
        return snap
    return Snapshot(objects={**snap.objects, key: [*snap.of(key), *extra.of(key)]}, absent=set(snap.absent),
                    source=snap.source, namespace=snap.namespace)


def with_provider_services(snap: Snapshot, mesh: dict) -> Snapshot:
    """``snap`` plus the Services of the namespaces where the CUSTOM policies' ext_authz providers run (istiod
    checks the provider's Service exists: mesh/authz.py resolve_provider), which a scoped read may not hold."""
    names = {str(((ap.get("spec") or {}).get("provider") or {}).get("name") or "") for ap in snap.of(
        "AuthorizationPolicy") if str((ap.get("spec") or {}).get("action") or "").upper() == "CUSTOM"}
    for p in mesh.get("extensionProviders") or []:
        if not isinstance(p, dict) or p.get("name") not in names:
            continue
        conf = p.get("envoyExtAuthzHttp") or p.get("envoyExtAuthzGrpc")
        host = str((conf or {}).get("service") or "") if isinstance(conf, dict) else ""
        ns = host.partition("/")[0] if "/" in host else (host.split(".")[1] if host.count(".") >= 1 else "")
        if re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", ns):
            snap = with_pods_of(snap, ns, "Service")
    return snap


def _root(snap: Snapshot) -> str:
    return M.root_and_auto_mtls(snap)[0]


def find_workload(snap: Snapshot, namespace: str, workload: str) -> WorkloadInfo:
    for w in workloads(snap, namespace):
        if w.name == workload:
            return w
    names = sorted({w.name for w in workloads(snap, namespace)})
    raise NotFound(f"No workload {workload!r} in namespace {namespace!r}.",
                   hint=f"use one of: {', '.join(names[:20]) or '(none)'} (list_workloads namespace={namespace}).")


def workload_labels(snap: Snapshot, namespace: str, workload: str) -> dict[str, str]:
    for w in workloads(snap, namespace):
        if w.name == workload:
            return labels_of(w.pods[0]) if w.pods else labels_of(w.template or {})
    names = sorted({w.name for w in workloads(snap, namespace)})
    raise NotFound(f"No workload {workload!r} in namespace {namespace!r}.",
                   hint=f"use one of: {', '.join(names[:20]) or '(none)'} (list_workloads namespace={namespace}).")


class PolicyRef(BaseModel):
    name: str = Field(description='"ns/name"')
    scope: str = Field(description="mesh, namespace, selector, targetRefs, or PeerAuthentication (ztunnel's "
                                   "policies derived from STRICT)")
    rules: int
    dry_run: bool = False
    provider: str | None = None
    enforced_by: str | None = Field(default=None, description="sidecar, ztunnel (L4), waypoint NS/NAME (L7), or "
                                                              "nobody (and why)")
    effect: str | None = Field(default=None, description="what it does where it is enforced, when that differs "
                                                         "from what it says (ztunnel drops HTTP rules)")


class AuthzPolicies(BaseModel):
    workload: str
    data_plane: str = Field(default="sidecar", description="sidecar, ambient (ztunnel), ambient+waypoint or none")
    evaluation: dict[str, list[PolicyRef]] = Field(description="CUSTOM, DENY, ALLOW, AUDIT in evaluation order")
    request_authentications: list[str] = Field(description='"ns/name (issuers)"')
    summary: str


def _ref(p: dict, root: str, enforced_by: str | None = None, effect: str | None = None) -> PolicyRef:
    spec = p.get("spec") or {}
    sel = (spec.get("selector") or {}).get("matchLabels")
    scope = "targetRefs" if spec.get("targetRefs") or spec.get("targetRef") else \
        "selector" if sel else ("mesh" if ns_of(p) == root else "namespace")
    return PolicyRef(name=f"{ns_of(p)}/{name_of(p)}", scope=scope, rules=len(spec.get("rules") or []),
                     dry_run=A.is_dry_run(p), provider=(spec.get("provider") or {}).get("name"),
                     enforced_by=enforced_by, effect=effect)


def render_policies(r: AuthzPolicies) -> str:
    rows = [[action, p.name, p.scope, p.rules, "yes" if p.dry_run else "", p.provider or "", p.enforced_by or "",
             p.effect or ""] for action, ps in r.evaluation.items() for p in ps]
    out = [f"{r.workload} ({r.data_plane}): {r.summary}",
           table(["ACTION", "POLICY", "SCOPE", "RULES", "DRY-RUN", "PROVIDER", "ENFORCED BY", "EFFECT"], rows)
           if rows else "(no policies)"]
    if r.request_authentications:
        out.append("RequestAuthentications: " + "; ".join(r.request_authentications))
    return "\n".join(out)


def _ras_text(ras: list[dict]) -> list[str]:
    return [f"{ns_of(r)}/{name_of(r)} (" + ", ".join(j.get("issuer", "?") for j in
                                                    (r.get("spec") or {}).get("jwtRules") or []) + ")" for r in ras]


def _ambient_pod(w: WorkloadInfo) -> dict | None:
    """The workload's pod ztunnel serves (captured, no sidecar), if most of its running pods are such."""
    pods = w.running or w.pods
    amb = [p for p in pods if ambient.in_ambient(p) and sidecar_of(p) == "none"]
    return amb[0] if amb and len(amb) * 2 >= len(pods) else None


def waypoint_request_authentications(snap: Snapshot, waypoint: str, service: dict | None, root: str) -> list[dict]:
    """The RequestAuthentications a waypoint applies for ``service``: the same attachment rule as its
    AuthorizationPolicies (pilot/pkg/model/policyattachment.go serves both kinds), so waypoint_policies is run
    over them."""
    view = Snapshot(objects={"AuthorizationPolicy": snap.of("RequestAuthentication")})
    return ambient.waypoint_policies(view, waypoint, service, root)


def _waypoint_targets(snap: Snapshot, pod: dict, index: dict) -> list[tuple[str, dict | None]]:
    """(waypoint, Service or None for workload traffic) for the waypoints traffic to the pod goes through."""
    out: list[tuple[str, dict | None]] = []
    wb = ambient.workload_waypoint(snap, pod, index)
    if wb.waypoint:
        out.append((wb.waypoint, None))
    for svc in ambient.services_of_pod(snap, pod):
        b = ambient.service_waypoint(snap, svc, index)
        if b.waypoint:
            out.append((b.waypoint, svc))
    return out


def ambient_policies(snap: Snapshot, w: WorkloadInfo, pod: dict, root: str
                     ) -> tuple[dict[str, list[PolicyRef]], list[dict], list[str], str]:
    """What applies to an ambient workload, and where: selector/namespace/mesh policies at its ztunnel (their L4
    part, mesh/ambient.py policy_enforcement), the PeerAuthentication-derived DENY policies there, targetRefs
    policies at the waypoints its traffic goes through (waypoint_policies), and targetRefs policies to its Services
    that no waypoint takes. Returns (by action, RequestAuthentications of the waypoints, waypoints, summary)."""
    key = f"{ns_of(pod)}/{name_of(pod)}"
    labels = labels_of(pod)
    refs: dict[str, list[PolicyRef]] = {a: [] for a in A.ACTIONS}
    deny_all: list[str] = []
    zt_allows = 0
    for ap in (p for ps in A.policies_for(snap, w.namespace, labels, root).values() for p in ps):
        e = ambient.policy_enforcement(snap, ap, root)
        action = e.action if e.action in refs else "ALLOW"
        if key in e.ztunnel:
            effect = e.effect if e.effect != "enforced at L4 as written" else None
            blocked = [n for n in e.notes if n.startswith(key + " is reached through waypoint")]
            if blocked:
                effect = "; ".join(filter(None, [effect, blocked[0]]))
            refs[action].append(_ref(ap, root, "ztunnel (L4)", effect))
            if action == "ALLOW" and not A.is_dry_run(ap):
                zt_allows += 1
            if e.effect and e.effect.startswith("denies every connection"):
                deny_all.append(f"{name_of(ap)}: ALLOW with only HTTP rules, ztunnel denies every connection")
        else:
            refs[action].append(_ref(ap, root, "nobody", e.ztunnel_status.message or "not sent to ztunnel"))
    for k in ambient.peer_authentication_policy_keys(snap, w.namespace, labels, root):
        refs["DENY"].append(PolicyRef(name=k, scope="PeerAuthentication", rules=1, enforced_by="ztunnel (L4)",
                                      effect="refuses connections without a peer identity (plaintext)"
                                      + ("" if k.endswith(ambient.STATIC_STRICT) else " on the ports STRICT names")))
    index = ambient.waypoint_index(snap)
    seen: set[str] = set()
    ras: list[dict] = []
    wps: list[str] = []
    for wp, svc in _waypoint_targets(snap, pod, index):
        wps.append(wp)
        for ap in ambient.waypoint_policies(snap, wp, svc, root):
            k = f"{ns_of(ap)}/{name_of(ap)}"
            if k not in seen:
                seen.add(k)
                action = str((ap.get("spec") or {}).get("action") or "ALLOW").upper()
                refs.setdefault(action, []).append(_ref(ap, root, f"waypoint {wp} (L7)"))
        ras += [r for r in waypoint_request_authentications(snap, wp, svc, root) if r not in ras]
    names = {name_of(s) for s in ambient.services_of_pod(snap, pod)}
    for ap in snap.of("AuthorizationPolicy", w.namespace):
        k = f"{ns_of(ap)}/{name_of(ap)}"
        hits = [t for t in ambient.target_refs(ap) if t.get("kind") == "Service" and t.get("name") in names]
        if hits and k not in seen:
            st = ambient.waypoint_policy_status(snap, ap, root, index)
            why = "; ".join(f"{x.reason}: {x.message}" for x in st if not x.bound) or "no waypoint takes it"
            action = str((ap.get("spec") or {}).get("action") or "ALLOW").upper()
            refs.setdefault(action, []).append(_ref(ap, root, "nobody", why))
    wps = list(dict.fromkeys(wps))
    parts = [f"ztunnel enforces L4 only{'; waypoint ' + ', '.join(wps) + ' enforces L7' if wps else ''}"]
    parts.append(f"{zt_allows} ALLOW polic{'y' if zt_allows == 1 else 'ies'} at ztunnel: connections matching none "
                 "are refused" if zt_allows else "no ALLOW policy at ztunnel")
    parts += deny_all
    return refs, ras, wps, "; ".join(parts)


@op("security_status", "authz_policies", cli="authz policies", args="workload", render=render_policies)
def authz_policies(workload: Workload, namespace: Namespace, files: Files = None) -> AuthzPolicies:
    """AuthorizationPolicies and RequestAuthentications that apply to a workload, in order, and who enforces them.

    Every AuthorizationPolicy and RequestAuthentication that applies to a workload (mesh-wide from the
    root namespace, namespace-wide, or by selector), grouped by action in evaluation order (CUSTOM, DENY,
    ALLOW, AUDIT), with dry-run policies marked. For an ambient workload, who enforces each: ztunnel (the
    L4 part; e.g. an ALLOW with only HTTP rules denies every connection there), the waypoint its traffic
    goes through (targetRefs policies, L7), or nobody (and why). Use authz_check for one request."""
    snap = read(namespace, files)
    target = find_workload(snap, namespace, workload)
    labels = M.workload_labels(target)
    root = _root(snap)
    pod = _ambient_pod(target)
    if pod is not None:
        refs, wras, wps, summary = ambient_policies(snap, target, pod, root)
        ras = A.request_authentications(snap, namespace, labels, root)
        texts = [t + " (by selector: ztunnel ignores it)" for t in _ras_text(ras)] + \
            [t + " (at the waypoint)" for t in _ras_text(wras)]
        return AuthzPolicies(workload=f"{namespace}/{workload}", data_plane="ambient" + ("+waypoint" if wps else ""),
                             evaluation=refs, request_authentications=texts, summary=summary)
    pols = A.policies_for(snap, namespace, labels, root)
    ras = A.request_authentications(snap, namespace, labels, root)
    allows = [p for p in pols["ALLOW"] if not A.is_dry_run(p)]
    summary = ("no ALLOW policy: everything not denied is allowed" if not allows else
               f"{len(allows)} ALLOW polic{'y' if len(allows) == 1 else 'ies'}: requests matching no ALLOW rule are "
               "denied")
    if any(not (p.get("spec") or {}).get("rules") for p in allows):
        summary += "; an ALLOW policy without rules denies everything"
    injected = target.sidecar == "istio"
    if not injected:
        summary = "no sidecar and not in ambient: nothing enforces these policies"
    by = "sidecar" if injected else "nobody (no sidecar, not in ambient)"
    return AuthzPolicies(workload=f"{namespace}/{workload}", data_plane="sidecar" if injected else "none",
                         evaluation={a: [_ref(p, root, by) for p in pols[a]] for a in A.ACTIONS},
                         request_authentications=_ras_text(ras), summary=summary)


class AuthzDecision(BaseModel):
    decision: Literal["ALLOW", "DENY"]
    policy: str | None = Field(description='the deciding policy "ns/name", or null')
    action: str | None
    rule: int | None = Field(description="index of the deciding rule, or null")
    reason: str
    status: int = Field(description="what the caller sees: 200, 401 (bad JWT), 403 (RBAC: access denied), or 0 when "
                                    "the connection is closed (refused by the port's mTLS mode, or a TCP port's deny)")
    refused: bool = Field(default=False, description="refused at the connection, before any policy: plaintext to a "
                                                     "STRICT port, or mTLS to a DISABLE port")
    mtls_mode: str | None = Field(default=None, description="the PeerAuthentication mode of the target port")
    nearest_allow: str | None = Field(default=None, description="for a deny: the closest ALLOW rule")
    failed_conditions: list[str] = Field(default=[], description="the conditions of nearest_allow that failed")
    dry_run: list[str] = []
    notes: list[str] = []
    decided_by: str | None = Field(default=None, description="where the decision is taken: sidecar, waypoint NS/NAME "
                                                             "(L7, Envoy) or ztunnel (L4, the destination's)")
    hops: list[str] = Field(default=[], description="ambient: each enforcement point on the way, what it sees and "
                                                    "decides")
    request: dict = Field(description="the request as simulated")


def render_decision(d: AuthzDecision) -> str:
    out = [f"{d.decision} ({d.status}){' at ' + d.decided_by if d.decided_by else ''}: {d.reason}"]
    out += [f"hop: {h}" for h in d.hops]
    if d.nearest_allow:
        out.append(f"nearest ALLOW rule: {d.nearest_allow}")
        out += [f"  - failed: {c}" for c in d.failed_conditions]
    out += [f"dry-run: {x}" for x in d.dry_run] + [f"note: {x}" for x in d.notes]
    return "\n".join(out)


HTTP_PROTOCOLS = ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web", "UnsupportedProtocol")


def _port_is_http(snap: Snapshot, namespace: str, labels: dict[str, str], port: int | None,
                  pod_spec: dict | None = None) -> bool:
    """Whether HTTP requests to this workload port meet HTTP filters (RBAC on the request) or a TCP proxy (RBAC
    on the connection): the protocol of the Service port that targets it (pkg/config/kube ConvertProtocol: HTTP
    family, or undeclared and sniffed), the oldest Service first; a port no Service targets is sniffed."""
    if port is None:
        return True
    proto = _target_protocols(snap, namespace, labels, pod_spec or {}).get(port)
    return proto is None or proto in HTTP_PROTOCOLS


def _target_protocols(snap: Snapshot, namespace: str, labels: dict[str, str], pod_spec: dict) -> dict[int, str]:
    """Workload (target) port -> the protocol Istio gives it, from the Service ports that target it (the oldest
    Service first, as _port_is_http reads them)."""
    from ..analyzers.util import convert_protocol

    out: dict[int, str] = {}
    svcs = sorted(M.services_for(snap, namespace, labels), key=lambda s: (M._created(s), name_of(s)))
    for svc in svcs:
        for sp in (svc.get("spec") or {}).get("ports") or []:
            t = M.target_port(sp, pod_spec)
            if t is not None and t not in out:
                out[t] = convert_protocol(sp.get("port"), str(sp.get("name") or ""), str(sp.get("protocol") or "TCP"),
                                          sp.get("appProtocol"))
    return out


def http_ports(snap: Snapshot, namespace: str, labels: dict[str, str], pod_spec: dict) -> list[int]:
    """The workload ports where HTTP filters (and so RequestAuthentication and HTTP rules) run: the target ports
    of its Service ports whose protocol is HTTP-family or sniffed; without a Service, its container ports (sniffed
    on the inbound passthrough chains)."""
    protos = _target_protocols(snap, namespace, labels, pod_spec)
    if protos:
        return sorted(p for p, proto in protos.items() if proto in HTTP_PROTOCOLS)
    return sorted({int(p["containerPort"]) for c in pod_spec.get("containers") or [] if c.get("name") != "istio-proxy"
                   for p in c.get("ports") or [] if str(p.get("containerPort", "")).isdigit()})


class RequestSpec(BaseModel):
    """The ``request`` argument of authz_check, checked."""

    model_config = ConfigDict(extra="forbid")
    method: str = Field(default="GET", max_length=10)
    path: str = Field(default="/", max_length=2048)
    host: str | None = Field(default=None, max_length=253)
    headers: dict[str, str] = Field(default={}, max_length=50)
    jwt_claims: dict[str, Any] = Field(default={}, max_length=50, description=(
        "the token's claims (JSON values: strings, numbers, lists, objects)"))
    request_principal: str | None = Field(default=None, max_length=500)
    no_token: bool = False
    jwt_location: str = Field(default="header:Authorization", max_length=110,
                              pattern=r"^(header|param|cookie):[A-Za-z0-9_.-]{1,100}$", description=(
                                  "where the token is sent: header:NAME (Authorization: with Bearer), param:NAME "
                                  "or cookie:NAME"))


Request = Annotated[dict[str, Any] | None, Field(description=(
    'HTTP request: "method", "path", "host", "headers"; JWT: "jwt_claims" or "request_principal" (ISS/SUB), '
    '"jwt_location" (header:NAME, param:NAME, cookie:NAME), or "no_token": true'))]


@op("security_status", "authz_check", cli="authz check", render=render_decision,
    flags={"--from-principal": "caller.principal", "--from-namespace": "caller.namespace", "--from-sa": "caller.sa",
           "--from-ip": "caller.ip", "--plaintext": "caller.plaintext=true", "--method": "request.method",
           "--path": "request.path", "--host": "request.host", "--header": "request.headers=K=V...",
           "--jwt-claim": "request.jwt_claims=K=V...", "--request-principal": "request.request_principal",
           "--jwt-location": "request.jwt_location",
           "--no-token": "request.no_token=true"})
def authz_check(to: Target, port: TargetPort = None, caller: Caller = None, request: Request = None,
                files: Files = None) -> AuthzDecision:
    """Would this request to a workload be allowed? The deciding policy and rule, as Envoy decides.

    Simulate Istio's decision for one request to a workload, exactly as Envoy would take it: JWT checks
    (invalid issuer 401, wrong audience 403), CUSTOM (cannot be simulated, said so), DENY, then ALLOW (no
    ALLOW policy means allow); exact/prefix/suffix/presence matching, negations, principals and namespaces only
    with mTLS, HTTP-only fields on TCP ports, the trust domain. Names the deciding policy and rule; for a deny,
    the nearest ALLOW rule and which conditions failed."""
    who: CallerSpec = parse_arg(CallerSpec, caller, "caller")
    what: RequestSpec = parse_arg(RequestSpec, request, "request")
    if who.identity:
        raise InvalidInput("caller.identity is a Linkerd identity.", hint="for Istio pass principal, or namespace "
                                                                          "and sa.")
    if isinstance(port, str):
        if not port.isdigit():
            raise InvalidInput(f"Istio authorization takes a port number, not {port[:40]!r}.",
                               hint="pass the container port number.")
        port = int(port)
    from_principal, from_namespace, from_sa, from_ip, plaintext = (who.principal, who.namespace, who.sa, who.ip,
                                                                   who.plaintext)
    method, path, host, headers, jwt_claims = what.method, what.path, what.host, what.headers, what.jwt_claims
    request_principal, no_token = what.request_principal, what.no_token
    namespace, workload = to.split("/", 1)
    snap = read(namespace, files)
    target = find_workload(snap, namespace, workload)
    labels = M.workload_labels(target)
    pod_spec = ((target.pods[0].get("spec") if target.pods else (target.template or {}).get("spec")) or {})
    mesh = M.mesh_config(snap)
    snap = with_provider_services(snap, mesh)
    root = root_namespace(mesh)
    td = M.trust_domains(snap)[0]
    if from_principal and (from_namespace or from_sa):
        raise InvalidInput("Give either from_principal or from_namespace + from_sa, not both.")
    if bool(from_namespace) != bool(from_sa):
        raise InvalidInput("from_namespace and from_sa go together.", hint="or pass from_principal.")
    principal = A.validate_principal(from_principal) if from_principal else (
        A.validate_principal(f"{td}/ns/{from_namespace}/sa/{from_sa}") if from_namespace else None)
    if from_ip:
        A.validate_ip(from_ip)
    m = A.validate_method(method)
    claims: dict = dict(jwt_claims or {})
    issuer = subject = None
    if request_principal:
        issuer, _, subject = request_principal.rpartition("/")
        if not issuer or not subject:
            raise InvalidInput(f"Malformed request principal {request_principal!r}.", hint="use ISSUER/SUBJECT.")
        claims.setdefault("iss", issuer)
        claims.setdefault("sub", subject)
    elif claims.get("iss"):
        issuer, subject = str(claims["iss"]), str(claims.get("sub", ""))
    token = bool(issuer) and not no_token
    req = A.Request(port=port, http=_port_is_http(snap, namespace, labels, port, pod_spec), mtls=not plaintext,
                    principal=principal if not plaintext else None, source_ip=from_ip, method=m, path=path,
                    host=host, headers=dict(headers or {}), token=token, issuer=issuer if token else None,
                    subject=subject if token else None, claims=claims if token else {})
    kind, _, where = what.jwt_location.partition(":")
    location = (kind, where.lower() if kind == "header" else where)
    pod = _ambient_pod(target)
    if pod is not None:
        return ambient_decision(snap, target, pod, req, who, root, td, mesh, location, to)
    mode = M.effective_mode(snap, namespace, labels, port, root).mode
    d = A.decide(snap, namespace, labels, req, root, td, mesh=mesh, mtls_mode=mode,
                 injected=target.sidecar == "istio", token_location=location)
    notes = list(d.notes)
    if not req.http and not d.refused:
        notes.append(f"port {port} is not HTTP: HTTP-only fields ignored (ALLOW rules using them are dropped)")
    if req.principal and not re.fullmatch(r"[^/]+/ns/[^/]+/sa/[^/]+", req.principal):
        notes.append(f"the caller identity {req.principal!r} is not SPIFFE-shaped (<td>/ns/<ns>/sa/<sa>): matched "
                     "as the string spiffe://" + req.principal)
    return AuthzDecision(decision=d.decision, policy=d.policy, action=d.action, rule=d.rule, reason=d.reason,  # type: ignore[arg-type]
                         status=d.status, nearest_allow=d.nearest, failed_conditions=d.failed, dry_run=d.dry_run,
                         notes=notes, refused=d.refused, mtls_mode=mode,
                         decided_by="sidecar" if target.sidecar == "istio" else None,
                         request={"to": to, "port": port, "mtls": req.mtls, "principal": req.principal,
                                  "method": m, "path": path, "host": host, "request_principal": req.request_principal,
                                  "http": req.http, "source_ip": req.source_ip, "remote_ip": req.remote()})


def _principal_namespace(principal: str | None) -> str | None:
    m = re.fullmatch(r"[^/]+/ns/([^/]+)/sa/[^/]+", principal or "")
    return m.group(1) if m else None


def caller_pod(snap: Snapshot, namespace: str | None, sa: str | None, ip: str | None) -> dict | None:
    """The caller's pod: by IP, else a running pod of the namespace with that service account (not ztunnel)."""
    from ..mesh.workloads import is_running

    pods = snap.of("Pod") if ip else snap.of("Pod", namespace) if namespace else []
    for p in sorted(pods, key=lambda p: (ns_of(p), name_of(p))):  # the same pod whatever order the read gave
        if not is_running(p) or ambient.is_ztunnel_pod(p):
            continue
        if ip and (p.get("status") or {}).get("podIP") == ip:
            return p
        spec = p.get("spec") or {}
        if not ip and str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default") == (sa or "default"):
            return p
    return None


def _caller_kind(snap: Snapshot, who: CallerSpec, principal: str | None) -> tuple[str, str | None]:
    """(ambient_check's caller kind, a note): from the caller's pod when it can be found (its sidecar, a gateway,
    ztunnel, or none: plaintext), else outside the mesh without an identity, else a mesh client of the principal."""
    if who.plaintext:
        return "outside", None
    ns = who.namespace or _principal_namespace(principal)
    sa = who.sa or (principal.rsplit("/", 1)[-1] if principal and _principal_namespace(principal) else None)
    pod = caller_pod(snap, ns, sa, who.ip) if (ns or who.ip) else None
    if pod is not None:
        kind = sidecar_of(pod)
        name = f"{ns_of(pod)}/{name_of(pod)}"
        if kind == "istio":
            return "sidecar", f"the caller {name} has a sidecar"
        if kind == "istio-gateway" and not ambient.is_waypoint_pod(pod):
            return "ingress", f"the caller {name} is a gateway"
        if ambient.in_ambient(pod):
            return "ambient", f"the caller {name} is in ambient (its ztunnel sends HBONE)"
        return "outside", f"the caller {name} has neither a sidecar nor ztunnel: it sends plaintext, without identity"
    if not principal:
        return "outside", "no caller identity given: a client outside the mesh (plaintext, no identity)"
    ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == ns), None)
    kind = "ambient" if ns_obj is not None and ambient.namespace_ambient(ns_obj).ambient else "sidecar"
    return kind, f"no pod of the caller found: taken as a {kind} client with identity {principal}"


def _called_service(snap: Snapshot, pod: dict, port: int | None, pod_spec: dict) -> tuple[dict | None, int | None]:
    """The Service the caller calls to reach ``port`` of the pod (one whose port targets it; one bound to a
    waypoint first), and the port (the first Service's target port when none was given)."""
    index = ambient.waypoint_index(snap)
    found = []
    for svc in ambient.services_of_pod(snap, pod):
        for sp in (svc.get("spec") or {}).get("ports") or []:
            t = M.target_port(sp, pod_spec)
            if port is None or t == port:
                found.append((0 if ambient.service_waypoint(snap, svc, index).waypoint else 1, name_of(svc), svc, t))
    if not found:
        return None, port
    found.sort(key=lambda x: (x[0], x[1]))
    return found[0][2], port if port is not None else found[0][3]


def ambient_decision(snap: Snapshot, target: WorkloadInfo, pod: dict, req: A.Request, who: CallerSpec, root: str,
                     td: str, mesh: dict, location: tuple[str, str], to: str) -> AuthzDecision:
    """The decision for a request to an ambient pod (mesh/ambient.py ambient_check): the waypoint on the way, if
    any, decides with Envoy's semantics on the policies it takes (waypoint_policies, its RequestAuthentications),
    seeing the caller's identity; then the destination's ztunnel decides at L4 (assert_rbac over the policies
    istiod sends it, PeerAuthentication-derived ones included), seeing the waypoint's identity behind a
    waypoint. The first hop that refuses decides."""
    namespace = target.namespace
    labels = labels_of(pod)
    pod_spec = pod.get("spec") or {}
    kind, why = _caller_kind(with_pods_of(snap, who.namespace or _principal_namespace(req.principal)), who,
                             req.principal)
    service, port = _called_service(snap, pod, req.port, pod_spec)
    plain = kind == "outside"
    conn = ambient.connection(principal=None if plain else req.principal, source_ip=req.source_ip, port=port or 0,
                              plaintext=plain)
    ac = ambient.ambient_check(snap, pod, conn, caller=kind, service=service, root_namespace=root)
    am = ambient.ambient_mtls(snap, namespace, labels, root)
    notes = [n for n in (why, ac.path) if n]
    hops: list[str] = []
    http = _port_is_http(snap, namespace, labels, port, pod_spec)
    request = {"to": to, "port": port, "mtls": not plain, "principal": conn.principal, "caller": kind,
               "service": f"{ns_of(service)}/{name_of(service)}" if service else None, "method": req.method,
               "path": req.path, "host": req.host, "http": http, "source_ip": req.source_ip}
    wd = None
    if ac.waypoint:
        wreq = A.Request(**{**req.__dict__, "port": port, "http": http, "mtls": True})
        pols = A.by_action(ambient.waypoint_policies(snap, ac.waypoint, service, root), root)
        ras = waypoint_request_authentications(snap, ac.waypoint, service, root)
        wd = A.decide(snap, namespace, labels, wreq, root, td, mesh=mesh, mtls_mode="PERMISSIVE", injected=True,
                      token_location=location, policies=pols, ras=ras)
        hops.append(f"waypoint {ac.waypoint} (sees {wreq.principal or 'no identity'}; "
                    f"{sum(map(len, pols.values()))} targetRefs polic(ies)): {wd.decision} ({wd.status}): {wd.reason}")
        if wd.decision == "DENY":
            return AuthzDecision(decision="DENY", policy=wd.policy, action=wd.action, rule=wd.rule,
                                 reason=f"at waypoint {ac.waypoint}: {wd.reason}", status=wd.status,
                                 refused=wd.refused, mtls_mode=am.port_modes.get(port or 0, am.mode),
                                 nearest_allow=wd.nearest, failed_conditions=wd.failed, dry_run=wd.dry_run,
                                 notes=notes + wd.notes, decided_by=f"waypoint {ac.waypoint}", hops=hops,
                                 request=request)
    zt = ac.hops[-1]
    z = zt.decision
    assert z is not None
    hops.append(f"ztunnel (destination; sees {zt.principal or 'no identity: plaintext'}): "
                f"{'ALLOW' if z.allowed else 'DENY'}: {z.text}")
    mode = am.port_modes.get(port or 0, am.mode)
    for pol in ambient.ztunnel_policies(snap, namespace, labels, root):
        if pol.get("action") != "Deny" and not pol.get("rules") and not pol.get("dryRun"):
            notes.append(f"{pol.get('namespace')}/{pol.get('name')} reaches ztunnel as an ALLOW with no rules (its "
                         "rules have HTTP fields, which ztunnel drops): it matches nothing, so it denies every "
                         "connection unless another ALLOW matches; it needs a waypoint and targetRefs")
    if wd is None and http and not plain:
        notes.append("no waypoint on this path: HTTP fields of the policies are not enforced (ztunnel is L4 only)")
    if not z.allowed:
        pa = bool(z.policy and (z.policy.endswith("/" + ambient.STATIC_STRICT) or
                                ambient.CONVERTED_PA_PREFIX in z.policy))
        status = 503 if ac.waypoint else 0
        reason = f"at ztunnel (destination): {z.text}"
        if pa:
            reason += " (STRICT mTLS: a connection without a peer identity is refused)"
        if ac.waypoint:
            reason += f"; the waypoint's connection to the pod is refused, so the caller gets 503"
        else:
            reason += "; the connection is closed"
        return AuthzDecision(decision="DENY", policy=z.policy, action="DENY" if z.reason == "denied" else None,
                             rule=None, reason=reason, status=status, refused=pa, mtls_mode=mode,
                             dry_run=wd.dry_run if wd else [], notes=notes + (wd.notes if wd else []),
                             decided_by="ztunnel", hops=hops, request=request)
    if wd is not None:
        return AuthzDecision(decision="ALLOW", policy=wd.policy, action=wd.action, rule=wd.rule,
                             reason=f"at waypoint {ac.waypoint}: {wd.reason}; then ztunnel: {z.text}", status=200,
                             mtls_mode=mode, dry_run=wd.dry_run, notes=notes + wd.notes,
                             decided_by=f"waypoint {ac.waypoint}", hops=hops, request=request)
    return AuthzDecision(decision="ALLOW", policy=z.policy, action="ALLOW" if z.policy else None, rule=None,
                         reason=f"at ztunnel (destination): {z.text}", status=200, mtls_mode=mode, notes=notes,
                         decided_by="ztunnel", hops=hops, request=request)


_TEXT = r"^[^\x00-\x1f\x7f]+$"


class JwtSpec(BaseModel):
    """The ``jwt`` argument of security_change action=jwt, checked."""

    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(min_length=1, max_length=500, pattern=_TEXT)
    jwks_uri: str = Field(pattern=r"^https?://[^\x00-\x20\x7f]+$", max_length=2000)
    audiences: list[Annotated[str, Field(max_length=500, pattern=_TEXT)]] = Field(default=[], max_length=20)
    require_token: bool = True
    paths: list[Annotated[str, Field(max_length=300, pattern=r"^/[^\x00-\x20\x7f]*$")]] = Field(default=[],
                                                                                               max_length=20)
    hosts: list[Annotated[str, Field(max_length=253, pattern=r"^[A-Za-z0-9*.-]+$")]] = Field(default=[], max_length=20)
    methods: list[Annotated[str, Field(max_length=10, pattern=r"^[A-Z]+$")]] = Field(default=[], max_length=10)


Jwt = Annotated[dict[str, Any], Field(description=(
    '"issuer", "jwks_uri" (required), "audiences"; require_token (default true) denies requests without a valid '
    'token, only on "paths", "hosts", "methods" when given'))]


def jwt_objects(workload: str, namespace: str, selector: dict[str, str], spec: JwtSpec,
                ports: list[int] | None = None) -> list[dict]:
    """The RequestAuthentication, and (require_token) a DENY for requests without a token, scoped to the given
    paths, hosts (each also as ``host:*``: Istio matches the Host header with its port exactly) and methods, and
    always to the workload's HTTP ``ports``.

    DENY with notRequestPrincipals, not ALLOW with requestPrincipals: an ALLOW would also deny every other
    request of the workload that no ALLOW matches (the homepage of a shared gateway). The ports: a DENY rule
    with only HTTP fields also reaches the TCP filter chains, where istiod drops the HTTP fields and keeps a rule
    that matches every connection (pilot/pkg/security/authz/model/model.go), so without ``to.operation.ports``
    it would deny every TCP connection to the workload (Istio's validation warns: IST0133)."""
    rule: dict = {"issuer": spec.issuer, "jwksUri": spec.jwks_uri}
    if spec.audiences:
        rule["audiences"] = list(spec.audiences)
    match = {"matchLabels": dict(sorted(selector.items()))}
    objs = [{"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
             "metadata": {"name": f"{workload}-jwt", "namespace": namespace},
             "spec": {"selector": match, "jwtRules": [rule]}}]
    if spec.require_token:
        deny: dict = {"from": [{"source": {"notRequestPrincipals": ["*"]}}]}
        op_: dict = {}
        if ports:
            op_["ports"] = [str(p) for p in ports]
        if spec.paths:
            op_["paths"] = list(spec.paths)
        if spec.hosts:
            op_["hosts"] = [h for host in spec.hosts for h in (host, f"{host}:*")]
        if spec.methods:
            op_["methods"] = list(spec.methods)
        if op_:
            deny["to"] = [{"operation": op_}]
        objs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                     "metadata": {"name": f"{workload}-require-jwt", "namespace": namespace},
                     "spec": {"selector": match, "action": "DENY", "rules": [deny]}})
    return objs


class Impact(BaseModel):
    request: str = Field(description="method host path, with or without a token")
    before: str = Field(description="the decision today (status)")
    after: str = Field(description="the decision with the new policies")


class JWTPolicy(TrafficChange):
    manifests_for_review: str = ""
    impact: list[Impact] = Field(default=[], description="sample requests whose decision the change alters")


def _jwt_impact(snap: Snapshot, namespace: str, labels: dict[str, str], objs: list[dict], spec: JwtSpec,
                issuer: str, port: int | None = None) -> list[Impact]:
    """Sample requests (the scoped paths, hosts and methods, and ones outside them), with a valid token and
    without, decided on the current policies and with the new ones."""
    from ..kube.snapshot import Snapshot as Snap

    after = Snap(source=snap.source, objects={k: list(v) for k, v in snap.objects.items()})
    for o in objs:
        items = after.objects.setdefault(o["kind"], [])
        items[:] = [x for x in items if not (name_of(x) == name_of(o) and ns_of(x) == ns_of(o))] + [o]
    root, td = _root(snap), M.trust_domains(snap)[0]
    paths = list(dict.fromkeys([p.rstrip("*") or "/" for p in spec.paths] + ["/", "/other"]))
    hosts = list(dict.fromkeys(list(spec.hosts) + [None]))  # type: ignore[list-item]
    methods = list(dict.fromkeys(list(spec.methods) + ["GET"]))
    out = []
    for host in hosts:
        for method in methods:
            for path in paths:
                for token in (False, True):
                    def req() -> A.Request:
                        return A.Request(port=port, method=method, path=path, host=host, token=token,
                                         issuer=issuer if token else None, subject="user" if token else None,
                                         claims={"iss": issuer, "sub": "user", **(
                                             {"aud": spec.audiences[0]} if spec.audiences else {})} if token else {})
                    b = A.decide(snap, namespace, labels, req(), root, td, mtls_mode="PERMISSIVE")
                    a = A.decide(after, namespace, labels, req(), root, td, mtls_mode="PERMISSIVE")
                    if (b.decision, b.status) != (a.decision, a.status):
                        out.append(Impact(request=f"{method} {host or '*'} {path} "
                                                  f"{'with a valid token' if token else 'without a token'}",
                                          before=f"{b.decision} ({b.status})", after=f"{a.decision} ({a.status})"))
    return out[:20]


@op("security_change", "jwt", cli="authz jwt", args="workload", render=render_changes,
    flags={"--issuer": "jwt.issuer", "--jwks-uri": "jwt.jwks_uri", "--audience": "jwt.audiences...",
           "--no-require-token": "jwt.require_token=false", "--path": "jwt.paths...", "--jwt-host": "jwt.hosts...",
           "--method": "jwt.methods..."})
def generate_jwt_policy(workload: Workload, namespace: Namespace, jwt: Jwt, files: Files = None,
                        apply: Apply = False, confirm: Confirm = None) -> JWTPolicy:
    """RequestAuthentication and a token requirement for a workload, scoped, with its impact.

    A RequestAuthentication for the issuer and, with require_token, a DENY for requests without a valid
    token (notRequestPrincipals) on the given paths, hosts and methods only (everything when none is given).
    Shown for review (manifests_for_review) with the sample requests whose decision changes (impact);
    apply=true sends both through the shared change path (dry-run first, rollback handles)."""
    spec: JwtSpec = parse_arg(JwtSpec, jwt, "jwt")
    snap = RUNTIME.snapshot(AUTHZ_KINDS, None, files, fresh=True)
    target = find_workload(snap, namespace, workload)
    labels = M.workload_labels(target)
    selector = {k: labels[k] for k in ("app", "app.kubernetes.io/name") if k in labels} or labels
    pod_spec = ((target.pods[0].get("spec") if target.pods else (target.template or {}).get("spec")) or {})
    ports = http_ports(snap, namespace, labels, pod_spec) if spec.require_token else []
    if spec.require_token and not ports:
        raise InvalidInput(f"Workload {namespace}/{workload} has no HTTP port: a token can only be required on HTTP "
                           "(its Services' ports are all TCP-family, and it declares no container port).",
                           hint="name the Service port http-... (or set appProtocol: http), or pass "
                                "require_token=false for a RequestAuthentication alone.")
    objs = jwt_objects(workload, namespace, selector, spec, ports)
    # built as data and dumped: no argument is ever pasted into YAML text
    rendered = "\n---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)
    warnings = [] if spec.require_token else ["without require_token, requests with NO token are allowed (MESH0401)"]
    if spec.require_token and not (spec.paths or spec.hosts or spec.methods):
        warnings.append("the token is required on every path and host of the workload: on a shared gateway, "
                        "scope it with paths/hosts")
    if spec.require_token:
        warnings.append(f"the token is required on the HTTP port(s) {', '.join(map(str, ports))} only (TCP ports keep "
                        "their connections: a DENY with only HTTP fields would close every one of them)")
    if any(ambient.in_ambient(p) for p in target.pods):
        warnings.append(f"{namespace}/{workload} is in ambient mode: ztunnel ignores RequestAuthentication and the "
                        "HTTP fields of this DENY, so it denies nothing there; bind both to the Service's waypoint "
                        "with targetRefs instead of the selector")
    impact = _jwt_impact(snap, namespace, labels, objs, spec, spec.issuer, ports[0] if ports else None)
    change = _apply_objects(objs, files, apply, confirm, False, snap, f"JWT for {namespace}/{workload}",
                            f"{workload}.{namespace}", warnings,
                            kinds={"RequestAuthentication", "AuthorizationPolicy"}, namespace=namespace)
    return JWTPolicy(**change.model_dump(), manifests_for_review=rendered, impact=impact)

