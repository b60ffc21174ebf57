"""AuthorizationPolicy and RequestAuthentication as Envoy HTTP filters, the way istiod builds them.

A Python rendering of ``pilot/pkg/security/authz/model/generator.go`` and ``matcher/*.go`` for the common
fields: principals (spiffe:// strings: exact, prefix*, *suffix as a regex, * as ".+"), namespaces and service
accounts as Istio's regexes, trust domains, ipBlocks, requestPrincipals (issuer and subject split at the last
"/"), hosts (case-insensitive, * = present), methods and request headers (case-sensitive, * = present), paths,
ports, JWT claims, and their negations. Used by tests/test_authz.py to run a real Envoy without the oracle (the
fidelity bench runs istiod's own filters instead).
"""
from __future__ import annotations

from typing import Any

from ..kube.snapshot import name_of, ns_of
from .authz import is_dry_run

T = "type.googleapis.com/"
JWT = "envoy.filters.http.jwt_authn"


def _sm(pattern: str, ignore_case: bool = False) -> dict:
    m: dict[str, Any]
    if pattern == "*":
        m = {"safe_regex": {"regex": ".+"}}
    elif pattern.endswith("*"):
        m = {"prefix": pattern[:-1]}
    elif pattern.startswith("*"):
        m = {"suffix": pattern[1:]}
    else:
        m = {"exact": pattern}
    if ignore_case and "safe_regex" not in m:
        m["ignore_case"] = True
    return m


def _or(items: list[dict], key: str) -> dict:
    return items[0] if len(items) == 1 else {f"or_{key}": {key: items}}


def _and(items: list[dict], key: str, any_key: str) -> dict:
    if not items:
        return {any_key: True}
    return items[0] if len(items) == 1 else {f"and_{key}": {key: items}}


def _principal_name(p: str) -> dict:
    """StringMatcherWithPrefix(p, "spiffe://") on the authenticated principal."""
    import re

    if p == "*":
        m: dict = {"safe_regex": {"regex": ".+"}}
    elif p.startswith("*"):
        m = {"safe_regex": {"regex": "spiffe://.*" + re.escape(p[1:])}}
    elif p.endswith("*"):
        m = {"prefix": "spiffe://" + p[:-1]}
    else:
        m = {"exact": "spiffe://" + p}
    return {"authenticated": {"principal_name": m}}


def _namespace(ns: str) -> dict:
    """srcNamespaceGenerator: ".*/ns/<ns, * as .*>/.*"."""
    import re

    rx = ".*".join(re.escape(part) for part in ns.split("*"))
    return {"authenticated": {"principal_name": {"safe_regex": {"regex": f".*/ns/{rx}/.*"}}}}


def _service_account(value: str, policy_ns: str) -> dict:
    import re

    ns, sep, sa = value.partition("/")
    if not sep:
        ns, sa = policy_ns, value
    rx = f"spiffe://.+/ns/{re.escape(ns)}/(.+/|)sa/{re.escape(sa)}(/.+)?"
    return {"authenticated": {"principal_name": {"safe_regex": {"regex": rx}}}}


def _trust_domain(td: str) -> dict:
    import re

    if td == "*":
        m: dict = {"prefix": "spiffe://"}
    elif "*" not in td:
        m = {"prefix": f"spiffe://{td}/"}
    else:
        a, b = td.split("*", 1)
        m = {"safe_regex": {"regex": f"spiffe://{re.escape(a)}[^/]*{re.escape(b)}/.*"}}
    return {"authenticated": {"principal_name": m}}


def _header(name: str, v: str, ignore_case: bool = False) -> dict:
    """matcher.HeaderMatcher / HostMatcher: * = present, *x suffix, x* prefix, else exact."""
    if v == "*":
        return {"header": {"name": name, "present_match": True}}
    if v.startswith("*"):
        m: dict = {"suffix": v[1:]}
    elif v.endswith("*"):
        m = {"prefix": v[:-1]}
    else:
        m = {"exact": v}
    if ignore_case:
        m["ignore_case"] = True
    return {"header": {"name": name, "string_match": m}}


def _jwt_claim(field: str, m: dict) -> dict:
    return {"metadata": {"filter": JWT, "path": [{"key": "payload"}, {"key": field}], "value": {"string_match": m}}}


def _request_principal(p: str) -> dict:
    """requestPrincipalGenerator: issuer and subject matchers, split at the last "/"."""
    any_ = {"safe_regex": {"regex": ".+"}}
    idx = p.rfind("/")
    found = idx >= 0
    iss, sub = (p[:idx], p[idx + 1:]) if found else (p, "")
    if p == "*":
        mi, ms = any_, any_
    elif p.startswith("*"):
        if found:
            mi, ms = (any_ if iss == "*" else {"suffix": iss[1:]}), {"exact": sub}
        else:
            mi, ms = any_, {"suffix": p[1:]}
    elif p.endswith("*"):
        if found:
            mi, ms = {"exact": iss}, (any_ if sub == "*" else {"prefix": sub[:-1]})
        else:
            mi, ms = {"prefix": p[:-1]}, any_
    else:
        mi, ms = {"exact": iss}, {"exact": sub}
    return {"and_ids": {"ids": [_jwt_claim("iss", mi), _jwt_claim("sub", ms)]}}


def _not(x: dict, key: str) -> dict:
    return {"not_id": x} if key == "ids" else {"not_rule": x}


def _source(src: dict, td: str, policy_ns: str = "") -> dict:
    ids: list[dict] = []
    if src.get("principals"):
        ids.append(_or([_principal_name(p) for p in src["principals"]], "ids"))
    if src.get("notPrincipals"):
        ids.append(_not(_or([_principal_name(p) for p in src["notPrincipals"]], "ids"), "ids"))
    if src.get("namespaces"):
        ids.append(_or([_namespace(n) for n in src["namespaces"]], "ids"))
    if src.get("notNamespaces"):
        ids.append(_not(_or([_namespace(n) for n in src["notNamespaces"]], "ids"), "ids"))
    if src.get("serviceAccounts"):
        ids.append(_or([_service_account(s, policy_ns) for s in src["serviceAccounts"]], "ids"))
    if src.get("notServiceAccounts"):
        ids.append(_not(_or([_service_account(s, policy_ns) for s in src["notServiceAccounts"]], "ids"), "ids"))
    if src.get("trustDomains"):
        ids.append(_or([_trust_domain(t) for t in src["trustDomains"]], "ids"))
    if src.get("notTrustDomains"):
        ids.append(_not(_or([_trust_domain(t) for t in src["notTrustDomains"]], "ids"), "ids"))
    for field, key in (("ipBlocks", "direct_remote_ip"), ("remoteIpBlocks", "remote_ip")):
        for neg in (False, True):
            vals = src.get(("not" + field[0].upper() + field[1:]) if neg else field)
            if vals:
                cidrs = []
                for c in vals:
                    addr, _, plen = c.partition("/")
                    cidrs.append({key: {"address_prefix": addr, "prefix_len": int(plen or (128 if ":" in addr else 32))}})
                x = _or(cidrs, "ids")
                ids.append(_not(x, "ids") if neg else x)
    if src.get("requestPrincipals"):
        ids.append(_or([_request_principal(p) for p in src["requestPrincipals"]], "ids"))
    if src.get("notRequestPrincipals"):
        ids.append(_not(_or([_request_principal(p) for p in src["notRequestPrincipals"]], "ids"), "ids"))
    return _and(ids, "ids", "any")


def _path(p: str) -> dict:
    """pathGenerator: templates as Envoy's uri_template ({*} -> *, {**} -> **), else StringMatcher (* = ".+")."""
    if "{*" in p:
        return {"uri_template": {"name": "uri-template", "typed_config": {
            "@type": T + "envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
            "path_template": p.replace("{**}", "**").replace("{*}", "*")}}}
    m = {"safe_regex": {"regex": ".+"}} if p == "*" else _sm(p)
    return {"url_path": {"path": m}}


def _operation(op: dict) -> dict:
    rules: list[dict] = []
    pairs = (("hosts", lambda h: _header(":authority", h, True)),
             ("methods", lambda m: _header(":method", m)),
             ("paths", _path),
             ("ports", lambda p: {"destination_port": int(p)}))
    for field, build in pairs:
        for neg in (False, True):
            vals = op.get(("not" + field[0].upper() + field[1:]) if neg else field)
            if vals:
                x = _or([build(v) for v in vals], "rules")
                rules.append(_not(x, "rules") if neg else x)
    return _and(rules, "rules", "any")


def _when(cond: dict) -> tuple[str, dict] | None:
    """('permission'|'principal', matcher) for a `when` condition."""
    key = str(cond.get("key", ""))
    values = [str(v) for v in cond.get("values") or []]
    neg = [str(v) for v in cond.get("notValues") or []]
    if key.startswith("request.headers["):
        name = key[len("request.headers["):-1].lower()
        mk = lambda v: _header(name, v)  # noqa: E731
        kind, k = "principal", "ids"
    elif key.startswith("request.auth.claims["):
        claim = key[len("request.auth.claims["):-1]
        mk = lambda v: {"or_ids": {"ids": [  # noqa: E731
            {"metadata": {"filter": JWT, "path": [{"key": "payload"}, {"key": claim}],
                          "value": {"string_match": _sm(v)}}},
            {"metadata": {"filter": JWT, "path": [{"key": "payload"}, {"key": claim}],
                          "value": {"list_match": {"one_of": {"string_match": _sm(v)}}}}}]}}
        kind, k = "principal", "ids"
    elif key == "request.auth.principal":
        mk, kind, k = _request_principal, "principal", "ids"
    elif key == "source.ip":
        mk = lambda v: {"direct_remote_ip": {"address_prefix": v.split("/")[0],  # noqa: E731
                                             "prefix_len": int(v.split("/")[1]) if "/" in v else 32}}
        kind, k = "principal", "ids"
    elif key == "source.namespace":
        mk, kind, k = _namespace, "principal", "ids"
    elif key == "source.principal":
        mk, kind, k = _principal_name, "principal", "ids"
    elif key == "destination.port":
        mk, kind, k = (lambda v: {"destination_port": int(v)}), "permission", "rules"
    else:
        return None
    parts = []
    if values:
        parts.append(_or([mk(v) for v in values], k))
    if neg:
        parts.append(_not(_or([mk(v) for v in neg], k), k))
    if not parts:
        return None
    return kind, _and(parts, k, "any")


def rbac_policy(rule: dict, td: str, policy_ns: str = "") -> dict:
    froms = [_source(f.get("source") or {}, td, policy_ns) for f in rule.get("from") or []]
    tos = [_operation(t.get("operation") or {}) for t in rule.get("to") or []]
    perms: list[dict] = [_or(tos, "rules")] if tos else []
    ids: list[dict] = [_or(froms, "ids")] if froms else []
    for cond in rule.get("when") or []:
        w = _when(cond)
        if w:
            (perms if w[0] == "permission" else ids).append(w[1])
    return {"permissions": [_and(perms, "rules", "any")], "principals": [_and(ids, "ids", "any")]}


def rbac_filters(policies: dict[str, list[dict]], trust_domain: str = "cluster.local") -> list[dict]:
    """The RBAC HTTP filters for a workload: DENY first, then ALLOW (only when ALLOW policies exist)."""
    out = []
    for action in ("DENY", "ALLOW"):
        pols = [p for p in policies.get(action, []) if not is_dry_run(p)]
        if not pols:
            continue
        rules: dict[str, dict] = {}
        for ap in pols:
            for i, rule in enumerate((ap.get("spec") or {}).get("rules") or []):
                rules[f"ns[{ns_of(ap)}]-policy[{name_of(ap)}]-rule[{i}]"] = rbac_policy(rule, trust_domain, ns_of(ap))
        out.append({"name": "envoy.filters.http.rbac", "typed_config": {
            "@type": T + "envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": action, "policies": rules}}})
    return out


def jwt_filter(ras: list[dict], jwks: dict[str, str]) -> dict | None:
    """jwt_authn with one provider per jwtRule; missing tokens pass, invalid ones are 401 (Istio's behaviour).

    ``jwks`` maps issuer -> JWKS JSON (the sandbox has no network: keys are inlined)."""
    providers: dict[str, dict] = {}
    for ra in ras:
        for rule in (ra.get("spec") or {}).get("jwtRules") or []:
            name = f"origins-{len(providers)}"
            p: dict[str, Any] = {"issuer": rule["issuer"], "forward": True, "payload_in_metadata": "payload",
                                 "local_jwks": {"inline_string": jwks.get(rule["issuer"], '{"keys": []}')}}
            if rule.get("audiences"):
                p["audiences"] = list(rule["audiences"])
            providers[name] = p
    if not providers:
        return None
    return {"name": JWT, "typed_config": {
        "@type": T + "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": providers,
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
            *({"provider_name": n} for n in providers), {"allow_missing": {}}]}}}]}}
