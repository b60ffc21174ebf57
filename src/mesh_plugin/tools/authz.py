"""L7 authorization and JWT: authz_policies, authz_check, generate_jwt_policy."""
from __future__ import annotations

from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field

from ..errors import InvalidInput, NotFound
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import authz as A
from ..mesh.workloads import trust_domain, workloads
from ..render import table
from ..runtime import RUNTIME
from .registry import Files, FromIP, FromNamespace, FromSA, Namespace, Target, TargetPort, tool
from .traffic import Apply, Confirm, TrafficChange, _apply_objects

AUTHZ_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "AuthorizationPolicy",
               "RequestAuthentication", "PeerAuthentication", "ConfigMap", "ServiceAccount")
Workload = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                                description="the workload (Deployment, StatefulSet...) name")]


def _root(snap: Snapshot) -> str:
    from .mtls import _root as root_of

    return root_of(snap)[0]


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


@tool("Authorization policies of a workload", render=render_policies)
def authz_policies(workload: Workload, namespace: Namespace, files: Files = None) -> AuthzPolicies:
    """Every AuthorizationPolicy and RequestAuthentication that applies to a workload (mesh-wide from the
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
    status: int = Field(description="what the caller sees: 200, 401 (bad JWT) or 403 (RBAC: access denied)")
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


def _port_is_http(snap: Snapshot, namespace: str, labels: dict[str, str], port: int | None) -> bool:
    if port is None:
        return True
    for svc in snap.of("Service", namespace):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if not sel or not all(labels.get(k) == v for k, v in sel.items()):
            continue
        for sp in (svc.get("spec") or {}).get("ports") or []:
            tp = sp.get("targetPort", sp.get("port"))
            if port in (sp.get("port"), tp):
                proto = str(sp.get("appProtocol") or sp.get("name") or "").split("-")[0].lower()
                return proto in ("http", "http2", "https", "grpc", "grpc-web", "h2c")
    return True


@tool("Check an authorization decision", render=render_decision)
def authz_check(to: Target,
                port: TargetPort = None,
                from_principal: Annotated[str | None, Field(max_length=300, description=(
                    "peer identity <td>/ns/<ns>/sa/<sa> (needs mTLS)"))] = None,
                from_namespace: FromNamespace = None,
                from_sa: FromSA = None,
                from_ip: FromIP = None,
                plaintext: Annotated[bool, Field(description="the request arrives without mTLS")] = False,
                method: Annotated[str, Field(max_length=10)] = "GET",
                path: Annotated[str, Field(max_length=2048)] = "/",
                host: Annotated[str | None, Field(max_length=253)] = None,
                headers: Annotated[dict[str, str] | None, Field(default=None, max_length=50)] = None,
                jwt_claims: Annotated[dict[str, str | list[str]] | None, Field(default=None, max_length=50)] = None,
                request_principal: Annotated[str | None, Field(max_length=500, description="ISS/SUB of a valid JWT")
                                             ] = None,
                no_token: Annotated[bool, Field(description="no JWT at all")] = False,
                files: Files = None) -> AuthzDecision:
    """Simulate Istio's decision for one request to a workload, exactly as Envoy would take it: JWT checks
    (invalid issuer 401, wrong audience 403), CUSTOM (cannot be simulated, said so), DENY, then ALLOW (no
    ALLOW policy means allow); exact/prefix/suffix/presence matching, negations, principals and namespaces only
    with mTLS, HTTP-only fields on TCP ports, the trust domain. Names the deciding policy and rule; for a deny,
    the nearest ALLOW rule and which conditions failed."""
    snap = RUNTIME.snapshot(AUTHZ_KINDS, None, files)
    namespace, workload = to.split("/", 1)
    labels = workload_labels(snap, namespace, workload)
    root = _root(snap)
    td = trust_domain(snap)
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
    req = A.Request(port=port, http=_port_is_http(snap, namespace, labels, port), mtls=not plaintext,
                    principal=principal if not plaintext else None, source_ip=from_ip, method=m, path=path,
                    host=host, headers=dict(headers or {}), token=token, issuer=issuer if token else None,
                    subject=subject if token else None, claims=claims if token else {})
    d = A.decide(snap, namespace, labels, req, root, td)
    return AuthzDecision(decision=d.decision, policy=d.policy, action=d.action, rule=d.rule, reason=d.reason,  # type: ignore[arg-type]
                         status=d.status, nearest_allow=d.nearest, failed_conditions=d.failed, dry_run=d.dry_run,
                         notes=d.notes + ([] if req.http else [f"port {port} is not HTTP: HTTP-only fields ignored "
                                                               "(ALLOW rules using them are dropped)"]),
                         request={"to": to, "port": port, "mtls": req.mtls, "principal": req.principal,
                                  "method": m, "path": path, "host": host, "request_principal": req.request_principal,
                                  "http": req.http})


def jwt_objects(workload: str, namespace: str, selector: dict[str, str], issuer: str, jwks_uri: str,
                audiences: list[str], require_token: bool) -> list[dict]:
    """The RequestAuthentication (and the AuthorizationPolicy requiring a token) as objects."""
    rule: dict = {"issuer": issuer, "jwksUri": jwks_uri}
    if audiences:
        rule["audiences"] = list(audiences)
    objs = [{"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
             "metadata": {"name": f"{workload}-jwt", "namespace": namespace},
             "spec": {"selector": {"matchLabels": dict(sorted(selector.items()))}, "jwtRules": [rule]}}]
    if require_token:
        objs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                     "metadata": {"name": f"{workload}-require-jwt", "namespace": namespace},
                     "spec": {"selector": {"matchLabels": dict(sorted(selector.items()))}, "action": "ALLOW",
                              "rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]}})
    return objs


class JWTPolicy(TrafficChange):
    manifests_for_review: str = ""


@tool("Generate JWT policy", read_only=False, destructive=True, idempotent=True)
def generate_jwt_policy(workload: Workload, namespace: Namespace,
                        issuer: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$",
                                                     description="the token issuer (iss claim), e.g. a URL")],
                        jwks_uri: Annotated[str, Field(pattern=r"^https?://[^\x00-\x20\x7f]+$", max_length=2000,
                                                       description="where the issuer publishes its keys (JWKS)")],
                        audiences: Annotated[list[Annotated[str, Field(max_length=500,
                                                                       pattern=r"^[^\x00-\x1f\x7f]+$")]] | None,
                                             Field(default=None, max_length=20,
                                                   description="accepted aud claims; omit to accept any")] = None,
                        require_token: Annotated[bool, Field(description=(
                            "also add the ALLOW rule that denies requests without a token"))] = True,
                        files: Files = None, apply: Apply = False, confirm: Confirm = None) -> JWTPolicy:
    """A RequestAuthentication (and, with require_token, the AuthorizationPolicy that requires a token: without
    it, requests with no token pass) for a workload. Shown for review (manifests_for_review); apply=true sends
    both through the shared change path (dry-run first, rollback handles)."""
    snap = RUNTIME.snapshot(AUTHZ_KINDS, None, files, fresh=True)
    labels = workload_labels(snap, namespace, workload)
    selector = {k: labels[k] for k in ("app", "app.kubernetes.io/name") if k in labels} or labels
    objs = jwt_objects(workload, namespace, selector, issuer, jwks_uri, audiences or [], require_token)
    # built as data and dumped: no argument is ever pasted into YAML text
    rendered = "\n---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)
    warnings = [] if require_token else ["without require_token, requests with NO token are allowed (MESH0401)"]
    change = _apply_objects(objs, files, apply, confirm, False, snap, f"JWT for {namespace}/{workload}",
                            f"{workload}.{namespace}", warnings,
                            kinds={"RequestAuthentication", "AuthorizationPolicy"}, namespace=namespace)
    return JWTPolicy(**change.model_dump(), manifests_for_review=rendered)

