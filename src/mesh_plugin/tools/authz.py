"""L7 authorization and JWT: authz_policies, authz_check, generate_jwt_policy."""
from __future__ import annotations

import re

from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInput, NotFound
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import ambient
from ..mesh import authz as A
from ..mesh import mtls as M
from ..mesh.workloads import WorkloadInfo, workloads
from ..render import render_changes, table
from ..runtime import RUNTIME
from .registry import Caller, CallerSpec, Files, Namespace, Target, TargetPort, Workload, op, parse_arg
from .registry import Apply, Confirm
from .traffic import TrafficChange, _apply_objects

AUTHZ_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "AuthorizationPolicy",
               "RequestAuthentication", "PeerAuthentication", "ConfigMap", "ServiceAccount")


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
    scope: str = Field(description="mesh, namespace or selector")
    rules: int
    dry_run: bool = False
    provider: str | None = None


class AuthzPolicies(BaseModel):
    workload: str
    evaluation: dict[str, list[PolicyRef]] = Field(description="CUSTOM, DENY, ALLOW, AUDIT in evaluation order")
    request_authentications: list[str] = Field(description='"ns/name (issuers)"')
    summary: str


def _ref(p: dict, root: str) -> PolicyRef:
    sel = ((p.get("spec") or {}).get("selector") or {}).get("matchLabels")
    return PolicyRef(name=f"{ns_of(p)}/{name_of(p)}", scope="selector" if sel else ("mesh" if ns_of(p) == root
                                                                                    else "namespace"),
                     rules=len((p.get("spec") or {}).get("rules") or []), dry_run=A.is_dry_run(p),
                     provider=((p.get("spec") or {}).get("provider") or {}).get("name"))


def render_policies(r: AuthzPolicies) -> str:
    rows = [[action, p.name, p.scope, p.rules, "yes" if p.dry_run else "", p.provider or ""]
            for action, ps in r.evaluation.items() for p in ps]
    out = [f"{r.workload}: {r.summary}",
           table(["ACTION", "POLICY", "SCOPE", "RULES", "DRY-RUN", "PROVIDER"], rows) if rows else "(no policies)"]
    if r.request_authentications:
        out.append("RequestAuthentications: " + "; ".join(r.request_authentications))
    return "\n".join(out)


@op("security_status", "authz_policies", cli="authz policies", args="workload", render=render_policies)
def authz_policies(workload: Workload, namespace: Namespace, files: Files = None) -> AuthzPolicies:
    """AuthorizationPolicies and RequestAuthentications that apply to a workload, in order.

    Every AuthorizationPolicy and RequestAuthentication that applies to a workload (mesh-wide from the
    root namespace, namespace-wide, or by selector), grouped by action in evaluation order (CUSTOM, DENY,
    ALLOW, AUDIT), with dry-run policies marked. Use authz_check to get the decision for one request."""
    snap = RUNTIME.snapshot(AUTHZ_KINDS, None, files)
    labels = workload_labels(snap, namespace, workload)
    root = _root(snap)
    pols = A.policies_for(snap, namespace, labels, root)
    ras = A.request_authentications(snap, namespace, labels, root)
    allows = [p for p in pols["ALLOW"] if not A.is_dry_run(p)]
    summary = ("no ALLOW policy: everything not denied is allowed" if not allows else
               f"{len(allows)} ALLOW polic{'y' if len(allows) == 1 else 'ies'}: requests matching no ALLOW rule are "
               "denied")
    if any(not (p.get("spec") or {}).get("rules") for p in allows):
        summary += "; an ALLOW policy without rules denies everything"
    return AuthzPolicies(workload=f"{namespace}/{workload}",
                         evaluation={a: [_ref(p, root) for p in pols[a]] for a in A.ACTIONS},
                         request_authentications=[f"{ns_of(r)}/{name_of(r)} ("
                                                  + ", ".join(j.get("issuer", "?") for j in
                                                              (r.get("spec") or {}).get("jwtRules") or []) + ")"
                                                  for r in ras],
                         summary=summary)


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
    request: dict = Field(description="the request as simulated")


def render_decision(d: AuthzDecision) -> str:
    out = [f"{d.decision} ({d.status}): {d.reason}"]
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
    snap = RUNTIME.snapshot(AUTHZ_KINDS, None, files)
    namespace, workload = to.split("/", 1)
    target = find_workload(snap, namespace, workload)
    labels = M.workload_labels(target)
    pod_spec = ((target.pods[0].get("spec") if target.pods else (target.template or {}).get("spec")) or {})
    mesh = M.mesh_config(snap)
    root = str(mesh.get("rootNamespace") or "istio-system")
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
    mode = M.effective_mode(snap, namespace, labels, port, root).mode
    kind, _, where = what.jwt_location.partition(":")
    d = A.decide(snap, namespace, labels, req, root, td, mesh=mesh, mtls_mode=mode,
                 injected=target.sidecar == "istio",
                 token_location=(kind, where.lower() if kind == "header" else where))
    notes = list(d.notes)
    if not req.http and not d.refused:
        notes.append(f"port {port} is not HTTP: HTTP-only fields ignored (ALLOW rules using them are dropped)")
    if req.principal and not re.fullmatch(r"[^/]+/ns/[^/]+/sa/[^/]+", req.principal):
        notes.append(f"the caller identity {req.principal!r} is not SPIFFE-shaped (<td>/ns/<ns>/sa/<sa>): matched "
                     "as the string spiffe://" + req.principal)
    return AuthzDecision(decision=d.decision, policy=d.policy, action=d.action, rule=d.rule, reason=d.reason,  # type: ignore[arg-type]
                         status=d.status, nearest_allow=d.nearest, failed_conditions=d.failed, dry_run=d.dry_run,
                         notes=notes, refused=d.refused, mtls_mode=mode,
                         request={"to": to, "port": port, "mtls": req.mtls, "principal": req.principal,
                                  "method": m, "path": path, "host": host, "request_principal": req.request_principal,
                                  "http": req.http, "source_ip": req.source_ip, "remote_ip": req.remote()})


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

