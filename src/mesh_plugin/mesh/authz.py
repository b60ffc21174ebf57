"""Istio authorization, simulated exactly: which policies apply, and the decision for one request. Pure.

Order per request at the destination: invalid JWT -> 401 (RequestAuthentication); CUSTOM (not
simulatable: assumed to allow, said so); any matching DENY -> deny; no ALLOW policy -> allow; any matching
ALLOW -> allow; else deny. Dry-run policies (``istio.io/dry-run: "true"``) never decide, they are reported.
HTTP-only fields on a TCP port: an ALLOW rule that uses one is dropped; in DENY/AUDIT only the field is.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of

ACTIONS = ("CUSTOM", "DENY", "ALLOW", "AUDIT")
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
HTTP_SOURCE = ("requestPrincipals", "notRequestPrincipals")
HTTP_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
HTTP_WHEN = ("request.headers", "request.auth.")


@dataclass
class Request:
    """What is known about one request."""

    port: int | None = None
    http: bool = True
    mtls: bool = True
    principal: str | None = None          # "<td>/ns/<ns>/sa/<sa>" when mTLS
    source_ip: str | None = None
    remote_ip: str | None = None
    method: str = "GET"
    path: str = "/"
    host: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: bool = False                    # a JWT is presented
    issuer: str | None = None
    subject: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    sni: str | None = None

    @property
    def source_namespace(self) -> str | None:
        m = re.search(r"/ns/([^/]+)/", self.principal or "")
        return m.group(1) if m and self.mtls else None

    @property
    def request_principal(self) -> str | None:
        return f"{self.issuer}/{self.subject}" if self.token and self.issuer else None


@dataclass
class Decision:
    decision: str                          # ALLOW or DENY
    policy: str | None = None              # "ns/name"
    action: str | None = None              # the action of the deciding policy
    rule: int | None = None
    reason: str = ""
    status: int = 200                      # what the caller sees: 200, 401 or 403
    nearest: str | None = None             # for a deny: the closest ALLOW rule
    failed: list[str] = field(default_factory=list)   # its conditions that did not match
    dry_run: list[str] = field(default_factory=list)  # what dry-run policies would have done
    notes: list[str] = field(default_factory=list)


# -- which policies apply -----------------------------------------------------------------------------
def _selector(obj: dict) -> dict[str, str]:
    return (((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}


def applies(obj: dict, namespace: str, labels: dict[str, str], root: str) -> bool:
    spec = obj.get("spec") or {}
    if spec.get("targetRef") or spec.get("targetRefs"):
        return False  # bound to a waypoint/gateway by reference, not to sidecar workloads
    sel = _selector(obj)
    if ns_of(obj) == root and not sel:
        return True
    if ns_of(obj) != namespace:
        return False
    return all(labels.get(k) == v for k, v in sel.items())


def pods_under(snap: Snapshot, obj: dict, root: str) -> list[dict]:
    """The pods a policy applies to; only its own namespace is scanned unless it is mesh-wide."""
    candidates = snap.of("Pod") if ns_of(obj) == root else snap.of("Pod", ns_of(obj))
    return [p for p in candidates if applies(obj, ns_of(p), labels_of(p), root)]


def is_dry_run(ap: dict) -> bool:
    return str(annotations_of(ap).get("istio.io/dry-run", "")).lower() == "true"


def policies_for(snap: Snapshot, namespace: str, labels: dict[str, str], root: str = "istio-system"
                 ) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {a: [] for a in ACTIONS}
    for ap in snap.of("AuthorizationPolicy"):
        if applies(ap, namespace, labels, root):
            out[str((ap.get("spec") or {}).get("action") or "ALLOW").upper()].append(ap)
    for a in out:
        out[a].sort(key=lambda p: (ns_of(p) != root, ns_of(p), name_of(p)))
    return out


def request_authentications(snap: Snapshot, namespace: str, labels: dict[str, str], root: str = "istio-system"
                            ) -> list[dict]:
    return [ra for ra in snap.of("RequestAuthentication") if applies(ra, namespace, labels, root)]


# -- matching --------------------------------------------------------------------------------------------
def str_match(pattern: str, value: str | None, case_insensitive: bool = False) -> bool:
    if value is None:
        return False
    p, v = (pattern.lower(), value.lower()) if case_insensitive else (pattern, value)
    if p == "*":
        return True
    if p.endswith("*"):
        return v.startswith(p[:-1])
    if p.startswith("*"):
        return v.endswith(p[1:])
    return p == v


def path_match(pattern: str, path: str) -> bool:
    """Istio paths: exact, prefix/suffix ``*``, and templates ``{*}`` (one segment), ``{**}`` (any)."""
    path = path.split("?", 1)[0]
    if "{" not in pattern:
        return str_match(pattern, path)
    rx = ""
    for part in re.split(r"(\{\*\*\}|\{\*\})", pattern):
        if part == "{*}":
            rx += "[^/]+"
        elif part == "{**}":
            rx += ".*"
        else:
            rx += re.escape(part)
    return re.fullmatch(rx, path) is not None


def ip_match(cidr: str, ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _claim(claims: dict[str, Any], key: str) -> list[str]:
    """request.auth.claims[a][b] -> values (a list claim gives all its items)."""
    path = re.findall(r"\[([^\]]+)\]", key)
    cur: Any = claims
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    if cur is None:
        return []
    return [str(x) for x in cur] if isinstance(cur, list) else [str(cur)]


def _when_values(key: str, req: Request, trust_domain: str) -> list[str] | None:
    """The request's values for a `when` key; None when the key does not apply (HTTP-only on TCP)."""
    if key.startswith("request.headers["):
        if not req.http:
            return None
        h = key[len("request.headers["):-1].lower()
        v = {k.lower(): x for k, x in req.headers.items()}.get(h)
        return [v] if v is not None else []
    if key.startswith("request.auth.claims"):
        return _claim(req.claims, key[len("request.auth.claims"):]) if req.http and req.token else (
            None if not req.http else [])
    simple = {"source.ip": [req.source_ip] if req.source_ip else [],
              "remote.ip": [req.remote_ip or req.source_ip] if (req.remote_ip or req.source_ip) else [],
              "source.namespace": [req.source_namespace] if req.source_namespace else [],
              "source.principal": [req.principal] if req.mtls and req.principal else [],
              "request.auth.principal": [req.request_principal] if req.request_principal else [],
              "request.auth.audiences": [str(a) for a in (req.claims.get("aud") if isinstance(req.claims.get("aud"),
                                                                                            list) else
                                                          [req.claims.get("aud")] if req.claims.get("aud") else [])],
              "request.auth.presenter": [str(req.claims.get("azp"))] if req.claims.get("azp") else [],
              "destination.port": [str(req.port)] if req.port else [],
              "connection.sni": [req.sni] if req.sni else []}
    if key.startswith("request.auth.") and not req.http:
        return None
    return simple.get(key, [])


def _matches_values(values: list[str], patterns: list[str], ip: bool = False) -> bool:
    return any((ip_match(p, v) if ip else str_match(p, v)) for p in patterns for v in values)


def source_conditions(src: dict, req: Request, td: str) -> list[tuple[str, bool, bool]]:
    """(description, matched, http_only) for every field of a `from.source`."""
    principal = req.principal if req.mtls else None
    rp = req.request_principal
    conds = []

    def add(desc: str, ok: bool, http_only: bool = False) -> None:
        conds.append((desc, ok, http_only))

    if src.get("principals"):
        add(f"principals {src['principals']}" + ("" if req.mtls else " (needs mTLS: request is plaintext)"),
            any(str_match(p, principal) for p in src["principals"]))
    if src.get("notPrincipals"):
        add(f"notPrincipals {src['notPrincipals']}", not any(str_match(p, principal) for p in src["notPrincipals"]))
    if src.get("namespaces"):
        add(f"namespaces {src['namespaces']}" + ("" if req.mtls else " (needs mTLS: request is plaintext)"),
            any(str_match(p, req.source_namespace) for p in src["namespaces"]))
    if src.get("notNamespaces"):
        add(f"notNamespaces {src['notNamespaces']}",
            not any(str_match(p, req.source_namespace) for p in src["notNamespaces"]))
    if src.get("serviceAccounts"):
        sas = [f"{td}/ns/{s.split('/')[0]}/sa/{s.split('/')[1]}" for s in src["serviceAccounts"] if "/" in s]
        add(f"serviceAccounts {src['serviceAccounts']}", principal in sas)
    if src.get("trustDomains"):
        tdv = principal.split("/", 1)[0] if principal else None
        add(f"trustDomains {src['trustDomains']}", any(str_match(p, tdv) for p in src["trustDomains"]))
    if src.get("ipBlocks"):
        add(f"ipBlocks {src['ipBlocks']}", any(ip_match(c, req.source_ip) for c in src["ipBlocks"]))
    if src.get("notIpBlocks"):
        add(f"notIpBlocks {src['notIpBlocks']}", not any(ip_match(c, req.source_ip) for c in src["notIpBlocks"]))
    if src.get("remoteIpBlocks"):
        add(f"remoteIpBlocks {src['remoteIpBlocks']}",
            any(ip_match(c, req.remote_ip or req.source_ip) for c in src["remoteIpBlocks"]))
    if src.get("notRemoteIpBlocks"):
        add(f"notRemoteIpBlocks {src['notRemoteIpBlocks']}",
            not any(ip_match(c, req.remote_ip or req.source_ip) for c in src["notRemoteIpBlocks"]))
    if src.get("requestPrincipals"):
        add(f"requestPrincipals {src['requestPrincipals']}" + ("" if rp else " (no valid JWT)"),
            any(str_match(p, rp) for p in src["requestPrincipals"]), True)
    if src.get("notRequestPrincipals"):
        add(f"notRequestPrincipals {src['notRequestPrincipals']}",
            not any(str_match(p, rp) for p in src["notRequestPrincipals"]), True)
    return conds


def operation_conditions(op: dict, req: Request) -> list[tuple[str, bool, bool]]:
    conds = []
    if op.get("hosts"):
        conds.append((f"hosts {op['hosts']}", any(str_match(h, req.host, True) for h in op["hosts"]), True))
    if op.get("notHosts"):
        conds.append((f"notHosts {op['notHosts']}", not any(str_match(h, req.host, True) for h in op["notHosts"]),
                      True))
    if op.get("ports"):
        conds.append((f"ports {op['ports']}", str(req.port) in [str(p) for p in op["ports"]], False))
    if op.get("notPorts"):
        conds.append((f"notPorts {op['notPorts']}", str(req.port) not in [str(p) for p in op["notPorts"]], False))
    if op.get("methods"):
        conds.append((f"methods {op['methods']}", req.method.upper() in [m.upper() for m in op["methods"]], True))
    if op.get("notMethods"):
        conds.append((f"notMethods {op['notMethods']}",
                      req.method.upper() not in [m.upper() for m in op["notMethods"]], True))
    if op.get("paths"):
        conds.append((f"paths {op['paths']}", any(path_match(p, req.path) for p in op["paths"]), True))
    if op.get("notPaths"):
        conds.append((f"notPaths {op['notPaths']}", not any(path_match(p, req.path) for p in op["notPaths"]), True))
    return conds


@dataclass
class RuleResult:
    matched: bool
    failed: list[str]
    dropped: bool = False   # an ALLOW rule dropped for HTTP-only fields on TCP


def evaluate_rule(rule: dict, req: Request, action: str, td: str) -> RuleResult:
    """Does one rule match? from (any) AND to (any) AND every when."""
    failed: list[str] = []
    ignore_http = not req.http and action in ("DENY", "AUDIT", "CUSTOM")

    def check(conds: list[tuple[str, bool, bool]]) -> tuple[bool, list[str], bool]:
        http_only = any(h for _, _, h in conds)
        if not req.http and http_only and action == "ALLOW":
            return False, ["uses HTTP-only fields on a TCP port: the rule is dropped"], True
        relevant = [(d, ok) for d, ok, h in conds if not (ignore_http and h)]
        bad = [d for d, ok in relevant if not ok]
        return not bad, bad, False

    for part, builder in (("from", lambda x: source_conditions(x.get("source") or {}, req, td)),
                          ("to", lambda x: operation_conditions(x.get("operation") or {}, req))):
        items = rule.get(part)
        if items is None:
            continue
        best: list[str] | None = None
        any_ok = False
        for item in items:
            ok, bad, dropped = check(builder(item))
            if dropped:
                return RuleResult(False, bad, True)
            if ok:
                any_ok = True
                break
            if best is None or len(bad) < len(best):
                best = bad
        if not any_ok:
            failed += [f"{part}: {b}" for b in (best or [f"no {part} entry matches"])]
    for cond in rule.get("when") or []:
        key = str(cond.get("key", ""))
        values = _when_values(key, req, td)
        if values is None:
            if action == "ALLOW":
                return RuleResult(False, [f"when {key}: HTTP-only condition on a TCP port: the rule is dropped"], True)
            continue
        ip = key in ("source.ip", "remote.ip", "destination.ip")
        if cond.get("values") and not _matches_values(values, [str(v) for v in cond["values"]], ip):
            failed.append(f"when {key} in {cond['values']} (request has {values or 'none'})")
        if cond.get("notValues") and _matches_values(values, [str(v) for v in cond["notValues"]], ip):
            failed.append(f"when {key} not in {cond['notValues']} (request has {values})")
    return RuleResult(not failed, failed)


def _rules(ap: dict) -> list[dict]:
    return list((ap.get("spec") or {}).get("rules") or [])


def jwt_check(ras: list[dict], req: Request) -> tuple[int, str] | None:
    """401/403 before authorization, as Envoy's jwt_authn would answer; None when the request goes on."""
    if not req.token:
        return None
    rules = [r for ra in ras for r in ((ra.get("spec") or {}).get("jwtRules") or [])]
    matching = [r for r in rules if r.get("issuer") == req.issuer]
    if not matching:
        return 401, "Jwt issuer is not configured"
    exp = req.claims.get("exp")
    if exp is not None:
        import time

        try:
            if float(exp) < time.time():
                return 401, "Jwt is expired"
        except (TypeError, ValueError):
            return 401, "Jwt verification fails"
    auds = [a for r in matching for a in r.get("audiences") or []]
    token_aud = req.claims.get("aud")
    token_auds = token_aud if isinstance(token_aud, list) else ([token_aud] if token_aud else [])
    if auds and not set(map(str, token_auds)) & set(auds):
        return 403, "Audiences in Jwt are not allowed"
    return None


def decide(snap: Snapshot, namespace: str, labels: dict[str, str], req: Request, root: str = "istio-system",
           trust_domain: str = "cluster.local") -> Decision:
    ras = request_authentications(snap, namespace, labels, root)
    jwt = jwt_check(ras, req) if req.http else None
    if jwt:
        return Decision("DENY", reason=f"JWT rejected: {jwt[1]}", status=jwt[0])
    if req.token and not ras:
        req.token = False  # no RequestAuthentication: the token is not validated nor used
    pols = policies_for(snap, namespace, labels, root)
    d = Decision("ALLOW")
    for action in ("DENY", "ALLOW", "CUSTOM", "AUDIT"):
        for ap in pols[action]:
            if not is_dry_run(ap):
                continue
            hit = next((i for i, r in enumerate(_rules(ap)) if evaluate_rule(r, req, action, trust_domain).matched),
                       None)
            d.dry_run.append(f"{ns_of(ap)}/{name_of(ap)} ({action}, dry-run) "
                             + (f"matches rule {hit}" if hit is not None else "matches no rule"))
    custom = [ap for ap in pols["CUSTOM"] if not is_dry_run(ap)]
    for ap in custom:
        prov = ((ap.get("spec") or {}).get("provider") or {}).get("name", "?")
        if any(evaluate_rule(r, req, "CUSTOM", trust_domain).matched for r in _rules(ap)):
            d.notes.append(f"CUSTOM policy {ns_of(ap)}/{name_of(ap)} sends this request to the external authorizer "
                           f"{prov!r}: its answer cannot be simulated (assumed allow)")
    for ap in (p for p in pols["DENY"] if not is_dry_run(p)):
        for i, rule in enumerate(_rules(ap)):
            if evaluate_rule(rule, req, "DENY", trust_domain).matched:
                return Decision("DENY", f"{ns_of(ap)}/{name_of(ap)}", "DENY", i,
                                f"DENY policy {ns_of(ap)}/{name_of(ap)} rule {i} matches", 403,
                                dry_run=d.dry_run, notes=d.notes)
    allows = [p for p in pols["ALLOW"] if not is_dry_run(p)]
    if not allows:
        d.reason = "no ALLOW policy applies to the workload (and no DENY matched): allowed"
        return d
    nearest: tuple[int, str, list[str]] | None = None
    for ap in allows:
        rules = _rules(ap)
        if not rules:
            cand = (99, f"{ns_of(ap)}/{name_of(ap)} (no rules)", ["an ALLOW policy without rules matches nothing"])
            nearest = nearest if nearest and nearest[0] <= cand[0] else cand
        for i, rule in enumerate(rules):
            res = evaluate_rule(rule, req, "ALLOW", trust_domain)
            if res.matched:
                return Decision("ALLOW", f"{ns_of(ap)}/{name_of(ap)}", "ALLOW", i,
                                f"ALLOW policy {ns_of(ap)}/{name_of(ap)} rule {i} matches", 200,
                                dry_run=d.dry_run, notes=d.notes)
            score = len(res.failed) + (50 if res.dropped else 0)
            if nearest is None or score < nearest[0]:
                nearest = (score, f"{ns_of(ap)}/{name_of(ap)} rule {i}", res.failed)
    return Decision("DENY", None, None, None, "ALLOW policies apply but none matches: denied (RBAC: access denied)",
                    403, nearest=nearest[1] if nearest else None, failed=nearest[2] if nearest else [],
                    dry_run=d.dry_run, notes=d.notes)


# -- validation of user input -------------------------------------------------------------------------
def validate_principal(p: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.\-_*]+/ns/[a-z0-9\-*]+/sa/[a-z0-9.\-*]+", p):
        raise InvalidInput(f"Malformed principal {p!r}.", hint="use <trust-domain>/ns/<namespace>/sa/<serviceaccount>, "
                                                             "e.g. cluster.local/ns/shop/sa/frontend.")
    return p


def validate_ip(ip: str) -> str:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidInput(f"Invalid IP address {ip!r}.", hint="e.g. 10.0.0.5 or 2001:db8::1.") from None
    return ip


def validate_method(m: str) -> str:
    if m.upper() not in HTTP_METHODS:
        raise InvalidInput(f"{m!r} is not an HTTP method.", hint=f"use one of: {', '.join(sorted(HTTP_METHODS))}.")
    return m.upper()
