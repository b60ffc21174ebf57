"""Istio authorization, simulated exactly: which policies apply, and the decision for one request. Pure.

The simulator follows istiod's translation of AuthorizationPolicy into Envoy RBAC and the order of the
inbound filters, so that it decides as the sidecar does (checked against a real Envoy running istiod's
configuration by bench/fidelity.py):

- the connection first: the PeerAuthentication mode of the target port decides whether a plaintext or an
  mTLS connection finds a filter chain at all (plaintext to STRICT, mTLS to DISABLE: refused);
- CUSTOM (``pilot/pkg/security/authz/builder/builder.go``): the ext_authz filter comes first; a provider
  that is not in the mesh config (or whose service is missing), or several providers on one workload,
  turn the CUSTOM rules into an RBAC DENY; otherwise the external answer cannot be simulated (assumed
  allow, said so);
- RequestAuthentication (``pilot/pkg/security/authn/policy_applier.go``): jwt_authn, an invalid token is
  401, a missing one passes without identity;
- DENY, then ALLOW (no ALLOW policy: allow; an ALLOW policy without rules matches nothing); AUDIT and
  dry-run policies never decide (reported).

Rules are matched as Istio generates them (``pilot/pkg/security/authz/model/{model,generator}.go``,
``matcher/*.go``): principals as ``spiffe://`` strings (exact, ``prefix*``, ``*suffix``, ``*`` = any
authenticated peer; any string, SPIFFE-shaped or not), namespaces and service accounts as regexes on the
peer's URI, trust domains (with the mesh's trustDomainAliases), methods exactly and case-sensitively,
hosts case-insensitively, paths with templates, request principals split at the last ``/`` into issuer and
subject, claims as lists or strings (``scope``, ``permission`` and ``spaceDelimitedClaims`` split on
spaces). HTTP-only fields on a TCP port: an ALLOW rule that uses one is dropped whole; in DENY/AUDIT/CUSTOM
only the field is dropped. A ``when`` key Istio does not know drops the rule.

A policy principal that is not SPIFFE-shaped (``allow``) is still a string match, on ``spiffe://allow``; but a
sidecar's TLS handshake only accepts client certificates of the mesh's trust domains (``spiffe://<td>/...``,
aliases included: TrustDomainsForValidation), so such a peer is refused before any policy unless
PILOT_SKIP_VALIDATE_TRUST_DOMAIN is set.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InvalidInput
from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of

ACTIONS = ("CUSTOM", "DENY", "ALLOW", "AUDIT")
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
SPIFFE = "spiffe://"
#: claims jwt_authn always splits on spaces (pilot/pkg/security/authn/policy_applier.go buildSpaceDelimitedClaims)
DEFAULT_SPACE_DELIMITED = ("permission", "scope")


@dataclass
class Request:
    """What is known about one request."""

    port: int | None = None
    http: bool = True
    mtls: bool = True
    principal: str | None = None          # the peer's identity: "<td>/ns/<ns>/sa/<sa>" or any URI SAN
    source_ip: str | None = None
    remote_ip: str | None = None           # default: the last X-Forwarded-For address, else source_ip
    method: str = "GET"
    path: str = "/"
    host: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    token: bool = False                    # a JWT is presented
    issuer: str | None = None
    subject: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    sni: str | None = None
    destination_ip: str | None = None

    @property
    def peer_uri(self) -> str | None:
        """The URI SAN of the client certificate, as Envoy's RBAC sees it (None without mTLS)."""
        if not self.mtls or not self.principal:
            return None
        return self.principal if self.principal.startswith(SPIFFE) else SPIFFE + self.principal

    @property
    def source_namespace(self) -> str | None:
        m = re.search(r"/ns/([^/]+)/", self.principal or "")
        return m.group(1) if m and self.mtls else None

    @property
    def request_principal(self) -> str | None:
        return f"{self.issuer}/{self.subject}" if self.token and self.issuer else None

    def remote(self) -> str | None:
        """remote.ip / remoteIpBlocks: Istio's inbound HCM has use_remote_address false and no trusted hops,
        so Envoy takes the last X-Forwarded-For address, else the peer address."""
        if self.remote_ip:
            return self.remote_ip
        if not self.http:  # a TCP connection has no X-Forwarded-For: the peer address
            return self.source_ip
        xff = {k.lower(): v for k, v in self.headers.items()}.get("x-forwarded-for")
        if xff:
            last = xff.split(",")[-1].strip()
            try:
                ipaddress.ip_address(last)
                return last
            except ValueError:
                pass
        return self.source_ip

    def normalized_path(self) -> str:
        """The path Envoy's RBAC matches: query removed, dot segments resolved (normalize_path: true)."""
        path = (self.path or "/").split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/"):
            path = "/" + path
        norm = posixpath.normpath(path)
        if norm.startswith("//"):
            norm = "/" + norm.lstrip("/")
        if path.endswith("/") and norm != "/":
            norm += "/"
        return norm


@dataclass
class Decision:
    decision: str                          # ALLOW or DENY
    policy: str | None = None              # "ns/name"
    action: str | None = None              # the action of the deciding policy
    rule: int | None = None
    reason: str = ""
    status: int = 200                      # what the caller sees: 200, 401, 403, or 0 (connection closed)
    nearest: str | None = None             # for a deny: the closest ALLOW rule
    failed: list[str] = field(default_factory=list)   # its conditions that did not match
    dry_run: list[str] = field(default_factory=list)  # what dry-run policies would have done
    notes: list[str] = field(default_factory=list)
    refused: bool = False                  # refused at the connection (mTLS mode of the port), before any policy


# -- which policies apply -----------------------------------------------------------------------------
def _selector(obj: dict) -> dict[str, str]:
    return (((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}


def applies(obj: dict, namespace: str, labels: dict[str, str], root: str) -> bool:
    """Whether an AuthorizationPolicy or RequestAuthentication applies to a sidecar workload: policies of its
    namespace and of the root namespace whose selector matches its labels (no selector: all of them);
    policies bound with targetRef(s) are for gateways and waypoints, never sidecars
    (pilot/pkg/model/policyattachment.go ShouldAttachPolicy)."""
    spec = obj.get("spec") or {}
    if spec.get("targetRef") or spec.get("targetRefs"):
        return False
    if ns_of(obj) not in (namespace, root):
        return False
    return all(labels.get(k) == v for k, v in _selector(obj).items())


def pods_under(snap: Snapshot, obj: dict, root: str) -> list[dict]:
    """The pods a policy applies to; only its own namespace is scanned unless it is in the root namespace."""
    candidates = snap.of("Pod") if ns_of(obj) == root else snap.of("Pod", ns_of(obj))
    return [p for p in candidates if applies(obj, ns_of(p), labels_of(p), root)]


def is_dry_run(ap: dict) -> bool:
    """The istio.io/dry-run annotation, parsed as Go's strconv.ParseBool does."""
    return str(annotations_of(ap).get("istio.io/dry-run", "")).strip() in ("1", "t", "T", "true", "TRUE", "True")


def policies_for(snap: Snapshot, namespace: str, labels: dict[str, str], root: str = "istio-system"
                 ) -> dict[str, list[dict]]:
    return by_action([ap for ap in snap.of("AuthorizationPolicy") if applies(ap, namespace, labels, root)], root)


def by_action(policies: list[dict], root: str = "istio-system") -> dict[str, list[dict]]:
    """AuthorizationPolicies grouped by action (CUSTOM, DENY, ALLOW, AUDIT), each group in the order the
    simulator reports them (the root namespace's first, then by namespace and name)."""
    out: dict[str, list[dict]] = {a: [] for a in ACTIONS}
    for ap in policies:
        action = str((ap.get("spec") or {}).get("action") or "ALLOW").upper()
        if action in out:
            out[action].append(ap)
    for a in out:
        out[a].sort(key=lambda p: (ns_of(p) != root, ns_of(p), name_of(p)))
    return out


def request_authentications(snap: Snapshot, namespace: str, labels: dict[str, str], root: str = "istio-system"
                            ) -> list[dict]:
    return [ra for ra in snap.of("RequestAuthentication") if applies(ra, namespace, labels, root)]


# -- Envoy's matchers, as Istio builds them -----------------------------------------------------------
def str_match(pattern: str, value: str | None, case_insensitive: bool = False) -> bool:
    """Istio's wildcard string match (matcher.StringMatcher): ``*`` = any non-empty value, ``x*`` prefix,
    ``*x`` suffix, else exact."""
    if value is None:
        return False
    p, v = (pattern.lower(), value.lower()) if case_insensitive else (pattern, value)
    if p == "*":
        return v != ""
    if p.startswith("*"):
        return v.endswith(p[1:])
    if p.endswith("*"):
        return v.startswith(p[:-1])
    return p == v


def _header_match(pattern: str, value: str | None, ignore_case: bool = False) -> bool:
    """matcher.HeaderMatcher / HostMatcher: ``*`` = the header is present (any value, even empty)."""
    if value is None:
        return False
    if pattern == "*":
        return True
    p, v = (pattern.lower(), value.lower()) if ignore_case else (pattern, value)
    if p.startswith("*"):
        return v.endswith(p[1:])
    if p.endswith("*"):
        return v.startswith(p[:-1])
    return p == v


def _with_prefix(pattern: str, prefix: str, value: str | None) -> bool:
    """matcher.StringMatcherWithPrefix(pattern, prefix) against ``value`` (principals: prefix spiffe://)."""
    if value is None:
        return False
    if pattern == "*":
        return re.fullmatch(".+", value, re.S) is not None
    if pattern.startswith("*"):
        return re.fullmatch(re.escape(prefix) + ".*" + re.escape(pattern[1:]), value, re.S) is not None
    if pattern.endswith("*"):
        return value.startswith(prefix + pattern[:-1])
    return value == prefix + pattern


def _template_regex(pattern: str) -> str:
    """Envoy's uri_template match of an Istio path template ({*} -> one segment, {**} -> any segments)."""
    rx = ""
    for part in re.split(r"(\{\*\*\}|\{\*\})", pattern):
        if part == "{*}":
            rx += "[^/]+"
        elif part == "{**}":
            rx += ".*"
        else:
            rx += re.escape(part)
    return rx


def path_match(pattern: str, path: str) -> bool:
    """Istio paths: exact, prefix/suffix ``*``, ``*`` = any, and templates ``{*}`` / ``{**}``."""
    path = path.split("?", 1)[0]
    if "{*" in pattern:
        return re.fullmatch(_template_regex(pattern), path) is not None
    return str_match(pattern, path)


def ip_match(cidr: str, ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False


def _namespace_match(pattern: str, uri: str | None) -> bool:
    """srcNamespaceGenerator: the regex ``.*/ns/<ns with * as .*>/.*`` on the peer's URI."""
    if uri is None:
        return False
    ns_rx = ".*".join(re.escape(p) for p in pattern.split("*"))
    return re.fullmatch(f".*/ns/{ns_rx}/.*", uri, re.S) is not None


def _service_account_match(pattern: str, policy_ns: str, uri: str | None) -> bool:
    """srcServiceAccountGenerator: ``spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`` (ns defaults to the policy's)."""
    if uri is None:
        return False
    ns, sep, sa = pattern.partition("/")
    if not sep:
        ns, sa = policy_ns, pattern
    rx = f"spiffe://.+/ns/{re.escape(ns)}/(.+/|)sa/{re.escape(sa)}(/.+)?"
    return re.fullmatch(rx, uri, re.S) is not None


def _trust_domain_match(pattern: str, uri: str | None) -> bool:
    """srcTrustDomainGenerator: ``*`` any spiffe://, exact = prefix spiffe://<td>/, one * = regex on the td."""
    if uri is None:
        return False
    if pattern == "*":
        return uri.startswith(SPIFFE)
    if "*" not in pattern:
        return uri.startswith(f"{SPIFFE}{pattern}/")
    a, b = pattern.split("*", 1)
    return re.fullmatch(f"spiffe://{re.escape(a)}[^/]*{re.escape(b)}/.*", uri, re.S) is not None


def _claim_values(payload: dict | None, path: list[str]) -> list | None:
    cur: Any = payload
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _metadata_string_or_list(value: Any, patterns: list[str]) -> bool:
    """MetadataListValueMatcher with useExtendedJwt: a string value matches directly, a list when one of its
    string items matches (numbers and objects never match a string matcher)."""
    items = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and str_match(p, v) for p in patterns for v in items)


def _split_request_principal(value: str) -> tuple[Callable[[Any], bool], Callable[[Any], bool]]:
    """requestPrincipalGenerator: split at the last "/" into issuer and subject matchers."""
    idx = value.rfind("/")
    found = idx >= 0
    iss, sub = (value[:idx], value[idx + 1:]) if found else (value, "")
    any_ = lambda v: isinstance(v, str) and v != ""  # noqa: E731  ".+"
    exact = lambda s: (lambda v: isinstance(v, str) and v == s)  # noqa: E731
    suffix = lambda s: (lambda v: isinstance(v, str) and v.endswith(s))  # noqa: E731
    prefix = lambda s: (lambda v: isinstance(v, str) and v.startswith(s))  # noqa: E731
    if value == "*":
        return any_, any_
    if value.startswith("*"):
        if found:
            return (any_ if iss == "*" else suffix(iss[1:])), exact(sub)
        return any_, suffix(value[1:])
    if value.endswith("*"):
        if found:
            return exact(iss), (any_ if sub == "*" else prefix(sub[:-1]))
        return prefix(value[:-1]), any_
    return exact(iss), exact(sub)


def request_principal_match(value: str, payload: dict | None) -> bool:
    if payload is None:
        return False
    m_iss, m_sub = _split_request_principal(value)
    return m_iss(payload.get("iss")) and m_sub(payload.get("sub"))


# -- trust domains ------------------------------------------------------------------------------------
def _td_string_match(a: str, lst: list[str]) -> bool:
    def prefix(x: str, pat: str) -> bool:
        return pat.endswith("*") and x.startswith(pat[:-1])

    def suffix(x: str, pat: str) -> bool:
        return pat.startswith("*") and x.endswith(pat[1:])

    return any(a == s or s == "*" or prefix(a, s) or prefix(s, a) or suffix(a, s) or suffix(s, a) for s in lst)


def replace_trust_domain_aliases(principals: list[str], tds: list[str]) -> list[str]:
    """trustdomain.Bundle.ReplaceTrustDomainAliases: a principal ``<td>/ns/x/sa/y`` whose trust domain is the
    mesh's, an alias or cluster.local is expanded to every trust domain of the bundle."""
    out: list[str] = []
    for p in principals:
        parts = p.split("/")
        if len(parts) != 5 or parts[0] == "*":
            out.append(p)
            continue
        td = parts[0]
        if _td_string_match(td, tds) or td == "cluster.local":
            seen: list[str] = []
            for t in tds:
                new = p if (t.startswith("*") and td.endswith(t[1:])) else "/".join([t, *parts[1:]])
                if new not in seen:
                    seen.append(new)
            out += seen
        else:
            out.append(p)
    return out


def expand_trust_domain_aliases(values: list[str], tds: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        for x in (tds if v in tds else [v]):
            if x not in out:
                out.append(x)
    return out


# -- one rule, as Envoy RBAC policy ------------------------------------------------------------------------
@dataclass
class Field_:
    """One constraint of a rule: a field (or `when` key) with its values and notValues."""

    desc: str
    http_only: bool
    test: Callable[[Request, dict | None], bool]   # (request, JWT payload) -> matched


@dataclass
class RuleResult:
    matched: bool
    failed: list[str]
    dropped: bool = False   # an ALLOW rule dropped for HTTP-only fields on TCP, or an unknown `when` key


@dataclass
class Context:
    trust_domains: list[str]
    policy_ns: str = ""


def _values_field(name: str, values: list[str] | None, not_values: list[str] | None, http_only: bool,
                  one: Callable[[str, Request, dict | None], bool],
                  group: Callable[[list[str], Request, dict | None], bool] | None = None) -> list[Field_]:
    """values -> OR of matchers; notValues -> NOT(OR); ``group`` evaluates a whole list at once (the
    'extended' generators: request principals, audiences, presenter, claims)."""
    out = []

    def any_of(vals: list[str]) -> Callable[[Request, dict | None], bool]:
        if group is not None:
            return lambda r, pl: group(vals, r, pl)
        return lambda r, pl: any(one(v, r, pl) for v in vals)

    if values:
        vals = list(values)
        f = any_of(vals)
        out.append(Field_(f"{name} {vals}", http_only, f))
    if not_values:
        nvals = list(not_values)
        nf = any_of(nvals)
        out.append(Field_(f"not {name} {nvals}", http_only, lambda r, pl, nf=nf: not nf(r, pl)))
    return out


def _strs(x: Any) -> list[str]:
    return [str(v) for v in x] if isinstance(x, list) else []


def _source_fields(src: dict, ctx: Context) -> list[Field_]:
    tds = ctx.trust_domains
    pol_ns = ctx.policy_ns
    out: list[Field_] = []
    # insertFront order in model.New puts principals first; order does not change the result
    out += _values_field("principals", replace_trust_domain_aliases(_strs(src.get("principals")), tds),
                         replace_trust_domain_aliases(_strs(src.get("notPrincipals")), tds), False,
                         lambda v, r, pl: _with_prefix(v, SPIFFE, r.peer_uri))
    out += _values_field("requestPrincipals", _strs(src.get("requestPrincipals")),
                         _strs(src.get("notRequestPrincipals")), True,
                         lambda v, r, pl: request_principal_match(v, pl))
    out += _values_field("serviceAccounts", _strs(src.get("serviceAccounts")), _strs(src.get("notServiceAccounts")),
                         False, lambda v, r, pl: _service_account_match(v, pol_ns, r.peer_uri))
    out += _values_field("trustDomains", expand_trust_domain_aliases(_strs(src.get("trustDomains")), tds),
                         expand_trust_domain_aliases(_strs(src.get("notTrustDomains")), tds), False,
                         lambda v, r, pl: _trust_domain_match(v, r.peer_uri))
    out += _values_field("namespaces", _strs(src.get("namespaces")), _strs(src.get("notNamespaces")), False,
                         lambda v, r, pl: _namespace_match(v, r.peer_uri))
    out += _values_field("remoteIpBlocks", _strs(src.get("remoteIpBlocks")), _strs(src.get("notRemoteIpBlocks")),
                         False, lambda v, r, pl: ip_match(v, r.remote()))
    out += _values_field("ipBlocks", _strs(src.get("ipBlocks")), _strs(src.get("notIpBlocks")), False,
                         lambda v, r, pl: ip_match(v, r.source_ip))
    return out


def _operation_fields(op: dict) -> list[Field_]:
    out: list[Field_] = []
    out += _values_field("hosts", _strs(op.get("hosts")), _strs(op.get("notHosts")), True,
                         lambda v, r, pl: _header_match(v, r.host, ignore_case=True))
    out += _values_field("methods", _strs(op.get("methods")), _strs(op.get("notMethods")), True,
                         lambda v, r, pl: _header_match(v, r.method))
    out += _values_field("paths", _strs(op.get("paths")), _strs(op.get("notPaths")), True,
                         lambda v, r, pl: path_match(v, r.normalized_path()))
    out += _values_field("ports", _strs(op.get("ports")), _strs(op.get("notPorts")), False,
                         lambda v, r, pl: r.port is not None and v.isdigit() and int(v) == int(r.port))
    return out


def _bracket_path(key: str, prefix: str) -> list[str] | None:
    rest = key[len(prefix):]
    names = re.findall(r"\[([^\[\]]*)\]", rest)
    if not names or "".join(f"[{n}]" for n in names) != rest:
        return None
    return names


def _when_field(cond: dict, ctx: Context) -> tuple[str, list[Field_]] | None:
    """('permission'|'principal', fields) for a `when` condition; None for a key Istio does not know (the rule
    is then dropped whatever its action)."""
    key = str(cond.get("key", ""))
    values, not_values = _strs(cond.get("values")), _strs(cond.get("notValues"))
    tds = ctx.trust_domains

    def f(http_only: bool, one: Callable | None = None, group: Callable | None = None,
          vals: list[str] = values, nvals: list[str] = not_values) -> list[Field_]:
        return _values_field(f"when {key}", vals, nvals, http_only, one or (lambda *_: False), group)

    if key == "destination.ip":
        return "permission", f(False, lambda v, r, pl: ip_match(v, r.destination_ip))
    if key == "destination.port":
        return "permission", f(False, lambda v, r, pl: r.port is not None and v.isdigit() and int(v) == int(r.port))
    if key == "connection.sni":
        return "permission", f(False, lambda v, r, pl: str_match(v, r.sni))
    if key.startswith("experimental.envoy.filters."):
        return "permission", f(False, lambda v, r, pl: False)
    if key == "source.ip":
        return "principal", f(False, lambda v, r, pl: ip_match(v, r.source_ip))
    if key == "remote.ip":
        return "principal", f(False, lambda v, r, pl: ip_match(v, r.remote()))
    if key == "source.namespace":
        return "principal", f(False, lambda v, r, pl: _namespace_match(v, r.peer_uri))
    if key == "source.trustDomain":
        return "principal", f(False, lambda v, r, pl: _trust_domain_match(v, r.peer_uri),
                              vals=expand_trust_domain_aliases(values, tds),
                              nvals=expand_trust_domain_aliases(not_values, tds))
    if key == "source.serviceAccount":
        return "principal", f(False, lambda v, r, pl: _service_account_match(v, ctx.policy_ns, r.peer_uri))
    if key == "source.principal":
        return "principal", f(False, lambda v, r, pl: _with_prefix(v, SPIFFE, r.peer_uri),
                              vals=replace_trust_domain_aliases(values, tds),
                              nvals=replace_trust_domain_aliases(not_values, tds))
    if key == "request.auth.principal":
        return "principal", f(True, group=lambda vs, r, pl: any(request_principal_match(v, pl) for v in vs))
    if key == "request.auth.audiences":
        return "principal", f(True, group=lambda vs, r, pl: pl is not None and _metadata_string_or_list(
            pl.get("aud"), vs))
    if key == "request.auth.presenter":
        return "principal", f(True, group=lambda vs, r, pl: pl is not None and _metadata_string_or_list(
            pl.get("azp"), vs))
    if key.startswith("request.headers"):
        names = _bracket_path(key, "request.headers")
        if not names or len(names) != 1:
            return None
        header = names[0].lower()

        def hdr(v: str, r: Request, pl: dict | None, header: str = header) -> bool:
            return _header_match(v, {k.lower(): x for k, x in r.headers.items()}.get(header))

        return "principal", f(True, hdr)
    if key.startswith("request.auth.claims"):
        path = _bracket_path(key, "request.auth.claims")
        if not path:
            return None
        return "principal", f(True, group=lambda vs, r, pl, path=path: pl is not None and _metadata_string_or_list(
            _claim_values(pl, path), vs))
    return None


@dataclass
class CompiledRule:
    permissions: list[list[Field_]]   # OR of ANDs
    principals: list[list[Field_]]    # OR of ANDs
    invalid: str | None = None        # why Istio skips the rule whatever the action


def compile_rule(rule: dict, ctx: Context) -> CompiledRule:
    base_perm: list[Field_] = []
    base_princ: list[Field_] = []
    for cond in rule.get("when") or []:
        w = _when_field(cond or {}, ctx)
        if w is None:
            return CompiledRule([], [], f"unknown condition key {str((cond or {}).get('key'))!r}: Istio skips the rule")
        (base_perm if w[0] == "permission" else base_princ).extend(w[1])
    principals = [_source_fields((f or {}).get("source") or {}, ctx) + base_princ for f in rule.get("from") or []]
    permissions = [_operation_fields((t or {}).get("operation") or {}) + base_perm for t in rule.get("to") or []]
    return CompiledRule(permissions or [list(base_perm)], principals or [list(base_princ)])


def evaluate_compiled(cr: CompiledRule, req: Request, action: str, payload: dict | None) -> RuleResult:
    """Does one rule match? any permission AND any principal, as Envoy's RBAC policy."""
    if cr.invalid:
        return RuleResult(False, [cr.invalid], True)
    tcp = not req.http
    if tcp and action == "ALLOW":
        for group in cr.permissions + cr.principals:
            bad = [f.desc for f in group if f.http_only]
            if bad:
                return RuleResult(False, [f"{bad[0]}: HTTP-only on a TCP port, so Istio drops this ALLOW rule"], True)

    def side(groups: list[list[Field_]], part: str) -> list[str] | None:
        best: list[str] | None = None
        for group in groups:
            live = [f for f in group if not (tcp and f.http_only)]
            bad = [f.desc for f in live if not f.test(req, payload)]
            if not bad:
                return None
            if best is None or len(bad) < len(best):
                best = bad
        return [f"{part}: {b}" for b in (best or [f"no {part} entry matches"])]

    failed: list[str] = []
    for groups, part in ((cr.principals, "from"), (cr.permissions, "to")):
        bad = side(groups, part)
        if bad:
            failed += bad
    return RuleResult(not failed, failed)


def evaluate_rule(rule: dict, req: Request, action: str, td: str | list[str] = "cluster.local",
                  policy_ns: str = "", payload: dict | None = None) -> RuleResult:
    tds = [td] if isinstance(td, str) else list(td)
    if payload is None and req.token and req.issuer:
        payload = {"iss": req.issuer, "sub": req.subject, **req.claims}
    return evaluate_compiled(compile_rule(rule, Context(tds, policy_ns)), req, action, payload)


def _rules(ap: dict) -> list[dict]:
    return list((ap.get("spec") or {}).get("rules") or [])


# -- JWT (jwt_authn as Istio configures it) ----------------------------------------------------------------
def _locations(rule: dict) -> list[tuple[str, str]]:
    """Where a provider looks for its token: (kind, name) pairs; Envoy's default is the Authorization header
    (Bearer) and the access_token query parameter."""
    locs = [("header", str(h.get("name", "")).lower()) for h in rule.get("fromHeaders") or []]
    locs += [("param", str(p)) for p in rule.get("fromParams") or []]
    locs += [("cookie", str(c)) for c in rule.get("fromCookies") or []]
    return locs or [("header", "authorization"), ("param", "access_token")]


def jwt_rules(ras: list[dict]) -> list[dict]:
    rules = [r for ra in ras for r in ((ra.get("spec") or {}).get("jwtRules") or [])]
    return sorted(rules, key=lambda r: str(r.get("issuer", "")))


def jwt_check(ras: list[dict], req: Request, token_location: tuple[str, str] = ("header", "authorization")
              ) -> tuple[int, str] | None:
    """401/403 before authorization, as Envoy's jwt_authn would answer; None when the request goes on."""
    status, _ = jwt_authn(ras, req, token_location)
    return status


def jwt_authn(ras: list[dict], req: Request, token_location: tuple[str, str] = ("header", "authorization")
              ) -> tuple[tuple[int, str] | None, dict | None]:
    """(rejection or None, the verified payload or None). Requirements as policy_applier.go builds them (each
    provider OR allow_missing; with several providers, any provider OR all of those), which Envoy answers so: a
    token no provider's issuer matches is 401, one that some provider of its issuer accepts passes (checked
    against a real Envoy by bench/fidelity.py)."""
    rules = jwt_rules(ras)
    if not rules or not req.token:
        return None, None
    seeing = [r for r in rules if token_location in _locations(r)]
    if not seeing:
        return None, None  # no provider reads the token where it is: missing, and allowed
    matching = [r for r in seeing if r.get("issuer") == req.issuer]
    if not matching:
        return (401, "Jwt issuer is not configured"), None
    exp = req.claims.get("exp")
    if exp is not None:
        import time

        try:
            if float(exp) < time.time():
                return (401, "Jwt is expired"), None
        except (TypeError, ValueError):
            return (401, "Jwt verification fails"), None
    nbf = req.claims.get("nbf")
    if nbf is not None:
        import time

        try:
            if float(nbf) > time.time() + 60:
                return (401, "Jwt not yet valid"), None
        except (TypeError, ValueError):
            return (401, "Jwt verification fails"), None
    token_aud = req.claims.get("aud")
    token_auds = set(map(str, token_aud if isinstance(token_aud, list) else
                         ([token_aud] if token_aud is not None else [])))
    # any provider of the token's issuer that accepts it is enough (the requirement ORs the providers)
    rule = next((r for r in matching if not r.get("audiences") or token_auds & {str(a) for a in r["audiences"]}),
                None)
    if rule is None:
        return (403, "Audiences in Jwt are not allowed"), None
    payload: dict[str, Any] = {"iss": req.issuer}
    if req.subject is not None:
        payload["sub"] = req.subject
    payload.update(req.claims)
    split = set(DEFAULT_SPACE_DELIMITED) | {str(c) for c in rule.get("spaceDelimitedClaims") or []}
    for claim in split:
        if isinstance(payload.get(claim), str):
            payload[claim] = [x for x in payload[claim].split(" ") if x]
    return None, payload


# -- CUSTOM ---------------------------------------------------------------------------------------------
def resolve_provider(name: str, mesh: dict, snap: Snapshot) -> str | None:
    """Why the extension provider cannot be used (None when it can): Istio then generates an RBAC DENY with
    the CUSTOM rules (builder.go getBadCustomDenyRules)."""
    providers = [p for p in mesh.get("extensionProviders") or [] if isinstance(p, dict)]
    found = [p for p in providers if p.get("name") == name]
    if not found:
        return f"extension provider {name!r} is not in the mesh config"
    p = found[0]
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name):
        return f"extension provider name {name!r} is invalid"
    conf = p.get("envoyExtAuthzHttp") or p.get("envoyExtAuthzGrpc")
    if not isinstance(conf, dict):
        return f"extension provider {name!r} is not an ext_authz provider"
    service = str(conf.get("service") or "")
    if not _service_exists(snap, service):
        return f"extension provider {name!r}: service {service!r} is not found"
    return None


def _service_exists(snap: Snapshot, host: str) -> bool:
    if "/" in host:
        ns, _, host = host.partition("/")
    for svc in snap.of("Service"):
        full = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        if host in (full, f"{name_of(svc)}.{ns_of(svc)}"):
            return True
    for se in snap.of("ServiceEntry"):
        if host in ((se.get("spec") or {}).get("hosts") or []):
            return True
    return False


def provider_kind(name: str, mesh: dict) -> str:
    for p in mesh.get("extensionProviders") or []:
        if isinstance(p, dict) and p.get("name") == name:
            return "grpc" if p.get("envoyExtAuthzGrpc") else "http"
    return "http"


# -- the decision -----------------------------------------------------------------------------------------
def validation_trust_domains(mesh: dict, trust_domain: str = "cluster.local") -> list[str]:
    """The trust domains an inbound mTLS connection's client certificate must belong to (its URI SAN starts with
    spiffe://<td>/): the mesh's, its aliases and the caCertificates' (TrustDomainsForValidation; none when
    PILOT_SKIP_VALIDATE_TRUST_DOMAIN is set, which is not the default)."""
    tds = [str(mesh.get("trustDomain") or trust_domain)] + [str(a) for a in mesh.get("trustDomainAliases") or []]
    for ca in mesh.get("caCertificates") or []:
        if isinstance(ca, dict):
            tds += [str(t) for t in ca.get("trustDomains") or []]
    return [t for t in dict.fromkeys(tds) if t]


def connection_refusal(mode: str, req: Request, port: int | None) -> str | None:
    at = f"port {port}" if port is not None else "the workload"
    if not req.mtls and mode == "STRICT":
        return (f"refused at the connection: {at} is STRICT mTLS, so a plaintext connection matches no filter chain "
                "and the sidecar closes it before any policy is evaluated")
    if req.mtls and mode == "DISABLE":
        return (f"refused at the connection: {at} is DISABLE (plaintext only), so the mTLS handshake fails (a client "
                "sidecar with auto mTLS sends plaintext here: pass plaintext)")
    return None


def decide(snap: Snapshot, namespace: str, labels: dict[str, str], req: Request, root: str = "istio-system",
           trust_domain: str = "cluster.local", *, mesh: dict | None = None, mtls_mode: str | None = None,
           injected: bool = True, token_location: tuple[str, str] = ("header", "authorization"),
           policies: dict[str, list[dict]] | None = None, ras: list[dict] | None = None) -> Decision:
    """Istio's decision for one request to a workload (see the module docstring for the order).

    ``policies`` (by action, see :func:`by_action`) and ``ras`` replace the AuthorizationPolicies and
    RequestAuthentications a sidecar of the workload takes: what another Envoy applies, e.g. a waypoint's
    targetRefs policies (mesh/ambient.py waypoint_policies), decided with the same Envoy semantics."""
    mesh = mesh or {}
    tds = [trust_domain] + [str(a) for a in mesh.get("trustDomainAliases") or []]
    if not injected:
        return Decision("ALLOW", reason="the workload has no Istio sidecar: no policy is enforced",
                        notes=["without a sidecar, AuthorizationPolicies and mTLS do not apply"])
    if mtls_mode is None:
        from .mtls import effective_mode

        mtls_mode = effective_mode(snap, namespace, labels, req.port, root).mode
    refusal = connection_refusal(mtls_mode, req, req.port)
    if refusal is None and req.mtls and req.peer_uri and mtls_mode in ("STRICT", "PERMISSIVE"):
        allowed = validation_trust_domains(mesh, trust_domain)
        if allowed and not any(req.peer_uri.startswith(f"{SPIFFE}{td}/") for td in allowed):
            refusal = (f"refused at the connection: the client certificate's identity {req.peer_uri} is not in the "
                       f"mesh's trust domains ({', '.join(allowed)}), so the sidecar rejects it in the TLS handshake "
                       "(pilot/pkg/networking/plugin/authn TrustDomainsForValidation)")
    if refusal:
        return Decision("DENY", reason=refusal, status=0, refused=True)
    deny_status = 403 if req.http else 0
    closed = "" if req.http else " (a TCP port: the connection is closed)"
    pols = policies if policies is not None else policies_for(snap, namespace, labels, root)
    d = Decision("ALLOW")

    def ctx(ap: dict) -> Context:
        return Context(tds, ns_of(ap))

    def first_match(ap: dict, action: str, payload: dict | None) -> int | None:
        for i, rule in enumerate(_rules(ap)):
            if evaluate_compiled(compile_rule(rule, ctx(ap)), req, action, payload).matched:
                return i
        return None

    # 1. CUSTOM: ext_authz first (listener_builder.go: authzCustomBuilder before authn and authz)
    custom = [ap for ap in pols["CUSTOM"]]
    providers = sorted({str(((ap.get("spec") or {}).get("provider") or {}).get("name") or "") for ap in custom})
    for ap in custom:
        prov = str(((ap.get("spec") or {}).get("provider") or {}).get("name") or "")
        if len(providers) > 1:
            why = (f"several CUSTOM providers ({', '.join(providers)}) on one workload need "
                   "PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS: Istio denies what their rules match instead")
        else:
            why = resolve_provider(prov, mesh, snap)
            if why:
                why += ": Istio denies what its rules match instead"
        if why is None and not req.http and provider_kind(prov, mesh) == "http":
            d.notes.append(f"CUSTOM policy {ns_of(ap)}/{name_of(ap)} (HTTP provider {prov!r}) is ignored on a TCP port")
            continue
        hit = first_match(ap, "DENY", None)
        if hit is None:
            continue
        if why:
            return Decision("DENY", f"{ns_of(ap)}/{name_of(ap)}", "CUSTOM", hit,
                            f"CUSTOM policy {ns_of(ap)}/{name_of(ap)} rule {hit} matches and {why}{closed}",
                            deny_status, dry_run=d.dry_run, notes=d.notes)
        d.notes.append(f"CUSTOM policy {ns_of(ap)}/{name_of(ap)} sends this request to the external authorizer "
                       f"{prov!r}: its answer cannot be simulated (assumed allow)")
    # 2. JWT
    payload = None
    if req.http:
        if ras is None:
            ras = request_authentications(snap, namespace, labels, root)
        jwt, payload = jwt_authn(ras, req, token_location)
        if jwt:
            return Decision("DENY", reason=f"JWT rejected: {jwt[1]}", status=jwt[0], dry_run=d.dry_run, notes=d.notes)
        if req.token and not ras:
            d.notes.append("no RequestAuthentication applies: the token is neither validated nor used")
        elif req.token and payload is None:
            d.notes.append("no RequestAuthentication reads the token where it is sent: it is treated as missing")
    # dry-run policies: report what they would do
    for action in ("DENY", "ALLOW"):
        for ap in pols[action]:
            if not is_dry_run(ap):
                continue
            hit = first_match(ap, action, payload)
            d.dry_run.append(f"{ns_of(ap)}/{name_of(ap)} ({action}, dry-run) "
                             + (f"matches rule {hit}" if hit is not None else "matches no rule"))
    # 3. DENY
    for ap in (p for p in pols["DENY"] if not is_dry_run(p)):
        hit = first_match(ap, "DENY", payload)
        if hit is not None:
            return Decision("DENY", f"{ns_of(ap)}/{name_of(ap)}", "DENY", hit,
                            f"DENY policy {ns_of(ap)}/{name_of(ap)} rule {hit} matches{closed}", deny_status,
                            dry_run=d.dry_run, notes=d.notes)
    # 4. ALLOW
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
            res = evaluate_compiled(compile_rule(rule, ctx(ap)), req, "ALLOW", payload)
            if res.matched:
                return Decision("ALLOW", f"{ns_of(ap)}/{name_of(ap)}", "ALLOW", i,
                                f"ALLOW policy {ns_of(ap)}/{name_of(ap)} rule {i} matches", 200,
                                dry_run=d.dry_run, notes=d.notes)
            score = len(res.failed) + (50 if res.dropped else 0)
            if nearest is None or score < nearest[0]:
                nearest = (score, f"{ns_of(ap)}/{name_of(ap)} rule {i}", res.failed)
    return Decision("DENY", None, None, None,
                    "ALLOW policies apply but none matches: denied (RBAC: access denied)" + closed, deny_status,
                    nearest=nearest[1] if nearest else None, failed=nearest[2] if nearest else [],
                    dry_run=d.dry_run, notes=d.notes)


# -- validation of user input -------------------------------------------------------------------------
def validate_principal(p: str) -> str:
    """Any peer identity Istio can match: a SPIFFE ID without its scheme (``td/ns/NS/sa/SA``) or any other URI
    SAN string; ``spiffe://`` is stripped. Refused: empty, whitespace or control characters, wildcards."""
    p = p.strip()
    if p.startswith(SPIFFE):
        p = p[len(SPIFFE):]
    if not p or re.search(r"[\s\x00-\x1f\x7f*]", p):
        raise InvalidInput(f"Malformed principal {p!r}.", hint="use <trust-domain>/ns/<namespace>/sa/<serviceaccount>, "
                                                             "e.g. cluster.local/ns/shop/sa/frontend (no spaces or *).")
    return p


def validate_ip(ip: str) -> str:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidInput(f"Invalid IP address {ip!r}.", hint="e.g. 10.0.0.5 or 2001:db8::1.") from None
    return ip


def validate_method(m: str) -> str:
    """A standard HTTP method (sent upper-case, as clients do); Istio then matches it case-sensitively."""
    if m.upper() not in HTTP_METHODS:
        raise InvalidInput(f"{m!r} is not an HTTP method.", hint=f"use one of: {', '.join(sorted(HTTP_METHODS))}.")
    return m.upper()
