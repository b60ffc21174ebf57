"""security.istio.io validators: AuthorizationPolicy, RequestAuthentication, PeerAuthentication
(pkg/config/validation/validation.go, pkg/config/security/security.go)."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from . import VALIDATORS
from .common import (Validation, errs, go_q, i, m, multierror_text, parse_ip, parse_prefix, s, seq,
                     validate_duration, validate_one_of_selector, validate_target_ref, validate_target_refs,
                     validate_workload_selector)
from .metadata import with_metadata

_LITERAL = re.compile(r"^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$")
_STRICT_HEADER = re.compile(r"^[-_A-Za-z0-9]+$")


def _strs(v: Any) -> list[str]:
    return [s(x) for x in seq(v)]


def check_empty(key: str, values: list[str]) -> str | None:
    return f"empty value not allowed, found in {key}" if any(v == "" for v in values) else None


def check_wildcard(key: str, values: list[str]) -> str | None:
    err = check_empty(key, values)
    if err:
        return err
    for v in values:
        n = v.count("*")
        if n > 1:
            return f"at most one wildcard is allowed, found in {key}: {go_q(v)}"
        if n == 1 and v != "*" and not v.startswith("*") and not v.endswith("*"):
            return f"wildcard is only allowed at the start or end, found in {key}: {go_q(v)}"
    return None


def check_trust_domains(key: str, values: list[str]) -> str | None:
    err = check_wildcard(key, values)
    if err:
        return err
    for v in values:
        if "/" in v:
            return f"trust domain must not contain '/', found in {key}: {go_q(v)}"
    return None


def check_service_accounts(key: str, values: list[str]) -> str | None:
    if len(values) > 16:
        return "may not have more than 16 values"
    fmt = "expected format 'serviceAccount' or 'namespace/serviceAccount'"
    for v in values:
        if v == "":
            return f"empty value not allowed, found in {key}"
        if "*" in v:
            return f"wildcard not allowed, found in {key}"
        if v.count("/") not in (0, 1):
            return f"{fmt}, found {go_q(v)} in {key}"
        if len(v) > 320:
            return f"value cannot exceed 320 characters, found {go_q(v)} in {key}"
        ns, slash, sa = v.partition("/")
        if slash:
            if not ns:
                return f"{fmt}, found empty namespace {go_q(v)} in {key}"
            if not sa:
                return f"{fmt}, found empty serviceAccount {go_q(v)} in {key}"
    return None


def check_path_templates(key: str, paths: list[str]) -> str | None:
    for path in paths:
        templated = "{*}" in path or "{**}" in path
        found_any = False
        path = path.strip("/")
        for glob in path.split("/"):
            if glob == "{*}" and not found_any:
                continue
            if glob == "{**}" and not found_any:
                found_any = True
                continue
            if glob in ("{*}", "{**}") and found_any:
                return f"invalid or unsupported path {path}, found in {key}. {{**}} is not the last operator"
            if "{" in glob or "}" in glob:
                return (f"invalid or unsupported path {path}, found in {key}. Contains '{{' or '}}' beyond a "
                        "supported path template")
            if templated and not _LITERAL.match(glob):
                return (f"invalid or unsupported path {path}, found in {key}. Contains segment {glob} with invalid "
                        "string literal")
    return None


def validate_ips(ips: list[str]) -> list[str]:
    out = []
    for v in ips:
        if "/" in v:
            if not parse_prefix(v):
                out.append(f"bad CIDR range ({v}): netip.ParsePrefix({go_q(v)}): invalid prefix")
        elif parse_ip(v) is None or "%" in v:
            out.append(f"bad IP address ({v})")
    return out


def validate_ports(ports: list[str]) -> list[str]:
    out = []
    for p in ports:
        if not p.isdigit() or int(p) > 65535:
            out.append(f"bad port ({p}): strconv.ParseUint: parsing {go_q(p)}: invalid syntax" if not p.isdigit()
                       else f"bad port ({p}): <nil>")
    return out


def _map_key(key: str) -> str | None:
    open_ = key.find("[")
    if key.endswith("]") and 0 < open_ < len(key) - 2:
        return None
    return f"bad key ({key}): should have format a[b]"


def _multi(es: list[str]) -> str | None:
    """A multierror formatted into another error (%v): "N error(s) occurred: ..."."""
    return multierror_text(es) if es else None


def validate_attribute(key: str, values: list[str]) -> str | None:
    err = check_empty(key, values)
    if err:
        return err
    if key.startswith("request.headers"):
        return _map_key(key)
    if key in ("source.ip", "remote.ip", "destination.ip"):
        return _multi(validate_ips(values))
    if key in ("source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences",
               "request.auth.presenter", "connection.sni"):
        return None
    if key == "source.serviceAccount":
        return check_service_accounts(key, values)
    if key == "source.trustDomain":
        return check_wildcard(key, values)
    if key.startswith("request.auth.claims"):
        return _map_key(key)
    if key == "destination.port":
        return _multi(validate_ports(values))
    if key.startswith("experimental.envoy.filters."):
        return _map_key(key)
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"


_SOURCE_FIELDS = ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "notPrincipals",
                  "notRequestPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks", "serviceAccounts",
                  "notServiceAccounts", "trustDomains", "notTrustDomains")
_OP_FIELDS = ("ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts")


@with_metadata("AuthorizationPolicy")
def validate_authorization_policy(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    out: list[Any] = []
    warnings: list[Any] = []
    sel = validate_workload_selector(spec.get("selector"))
    out += errs(validate_one_of_selector(spec), sel, validate_target_ref(spec.get("targetRef")),
                validate_target_refs(spec.get("targetRefs")))
    warnings += sel.warnings
    action = s(spec.get("action")) or "ALLOW"
    rules = spec.get("rules")
    provider = spec.get("provider")
    if action == "CUSTOM":
        if rules is None:
            out.append("CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule "
                       "`{}` if you want it be triggered for every request")
        elif provider is None or not s(m(provider).get("name")):
            out.append("`provider.name` must not be empty")
        for rule in seq(rules):
            rule = m(rule)
            for frm in seq(rule.get("from")):
                src = m(frm).get("source")
                if isinstance(src, dict):
                    for field, label in (("namespaces", "From.Namespaces"), ("notNamespaces", "From.NotNamespaces"),
                                         ("serviceAccounts", "From.ServiceAccounts"),
                                         ("notServiceAccounts", "From.NotServiceAccounts"),
                                         ("trustDomains", "From.TrustDomains"),
                                         ("notTrustDomains", "From.NotTrustDomains"),
                                         ("principals", "From.Principals"), ("notPrincipals", "From.NotPrincipals"),
                                         ("requestPrincipals", "From.RequestPrincipals"),
                                         ("notRequestPrincipals", "From.NotRequestPrincipals")):
                        if seq(src.get(field)):
                            out.append(f"{label} is currently not supported with CUSTOM action")
            for when in seq(rule.get("when")):
                if when is None:
                    out.append("when field cannot be nil")
                    continue
                key = s(m(when).get("key"))
                for bad in (key == "source.namespace", key == "source.serviceAccount", key == "source.trustDomain",
                            key == "source.principal", key.startswith("request.auth.")):
                    if bad:
                        out.append(f"{key} is currently not supported with CUSTOM action")
    if provider is not None and action != "CUSTOM":
        out.append(f"`provider` must not be with non CUSTOM action, found {action}")
    if action == "DENY" and rules is None:
        out.append("DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` "
                   "if you want it be triggered for every request")
    for n, rule in enumerate(seq(rules)):
        if rule is None:
            out.append(f"`rule` must not be nil, found at rule {n}")
            continue
        rule = m(rule)
        if rule.get("from") is not None and not seq(rule.get("from")):
            out.append(f"`from` must not be empty, found at rule {n}")
        tcp_from = tcp_to = from_exist = to_exist = False
        for frm in seq(rule.get("from")):
            if frm is None:
                out.append(f"`from` must not be nil, found at rule {n}")
                continue
            src = m(frm).get("source")
            if src is None:
                out.append(f"`from.source` must not be nil, found at rule {n}")
                continue
            from_exist = True
            src = m(src)
            f = {k: _strs(src.get(k)) for k in _SOURCE_FIELDS}
            if (f["principals"] or f["notPrincipals"] or f["namespaces"] or f["notNamespaces"]) and \
                    (f["serviceAccounts"] or f["notServiceAccounts"]):
                out.append(f"cannot set serviceAccounts with namespaces or principals, found at rule {n}")
            if not any(f.values()):
                out.append(f"`from.source` must not be empty, found at rule {n}")
            for k in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
                out += validate_ips(f[k])
            out += errs(check_empty("Principals", f["principals"]),
                        check_empty("RequestPrincipals", f["requestPrincipals"]),
                        check_empty("Namespaces", f["namespaces"]),
                        check_service_accounts("ServiceAccounts", f["serviceAccounts"]),
                        check_trust_domains("TrustDomains", f["trustDomains"]),
                        check_empty("IpBlocks", f["ipBlocks"]), check_empty("RemoteIpBlocks", f["remoteIpBlocks"]),
                        check_empty("NotPrincipals", f["notPrincipals"]),
                        check_empty("NotRequestPrincipals", f["notRequestPrincipals"]),
                        check_empty("NotNamespaces", f["notNamespaces"]),
                        check_service_accounts("NotServiceAccounts", f["notServiceAccounts"]),
                        check_trust_domains("NotTrustDomains", f["notTrustDomains"]),
                        check_empty("NotIpBlocks", f["notIpBlocks"]),
                        check_empty("NotRemoteIpBlocks", f["notRemoteIpBlocks"]))
            if any(src.get(k) is not None for k in ("notPrincipals", "principals", "ipBlocks", "notIpBlocks",
                                                    "namespaces", "notNamespaces", "remoteIpBlocks",
                                                    "notRemoteIpBlocks", "serviceAccounts", "notServiceAccounts")):
                tcp_from = True
        if rule.get("to") is not None and not seq(rule.get("to")):
            out.append(f"`to` must not be empty, found at rule {n}")
        for to in seq(rule.get("to")):
            if to is None:
                out.append(f"`to` must not be nil, found at rule {n}")
                continue
            op = m(to).get("operation")
            if op is None:
                out.append(f"`to.operation` must not be nil, found at rule {n}")
                continue
            to_exist = True
            op = m(op)
            o = {k: _strs(op.get(k)) for k in _OP_FIELDS}
            if not any(o.values()):
                out.append(f"`to.operation` must not be empty, found at rule {n}")
            out += validate_ports(o["ports"]) + validate_ports(o["notPorts"])
            out += errs(*(check_empty(k[0].upper() + k[1:], o[k]) for k in _OP_FIELDS),
                        check_path_templates("Paths", o["paths"]), check_path_templates("NotPaths", o["notPaths"]))
            if op.get("ports") is not None or op.get("notPorts") is not None:
                tcp_to = True
        for cond in seq(rule.get("when")):
            cond = m(cond)
            key = s(cond.get("key"))
            if not key:
                out.append("`key` must not be empty")
                continue
            values, not_values = _strs(cond.get("values")), _strs(cond.get("notValues"))
            if not values and not not_values:
                out.append(f"at least one of `values` or `notValues` must be set for key {key}")
                continue
            err = validate_attribute(key, values)
            if err:
                out.append(f"invalid `value` for `key` {key}: {err}")
            err = validate_attribute(key, not_values)
            if err:
                out.append(f"invalid `notValue` for `key` {key}: {err}")
        if ((from_exist and not to_exist and not tcp_from) or (to_exist and not tcp_to)) and action == "DENY":
            warnings.append("configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to "
                            "the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify "
                            "the port")
    prefix = f"invalid policy {name}.{namespace}: "
    return Validation(errors=[f"{prefix}{e}" for e in out], warnings=warnings)


def _jwks_uri(uri: str) -> str | None:
    """security.ParseJwksURI: url.Parse, then an http or https scheme and a numeric port."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        return f"parse {go_q(uri)}: net/url: invalid control character in URL"
    scheme_match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", uri)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https"):
        return f"URI scheme {go_q(scheme)} is not supported"
    try:
        urlsplit(uri).port
    except ValueError:
        return f'parse {go_q(uri)}: invalid port'
    return None


def _jwks(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError as e:
        return f"jwks parse error: failed to unmarshal JWK set: {e}"
    if not isinstance(doc, dict):
        return "jwks parse error: failed to unmarshal JWK set"
    return None


def validate_jwt_rule(rule: Any) -> list[str]:
    out: list[str] = []
    if rule is None:
        return out
    rule = m(rule)
    for aud in _strs(rule.get("audiences")):
        if not aud:
            out.append("audience must be non-empty string")
    issuer, uri = s(rule.get("issuer")), s(rule.get("jwksUri"))
    if not issuer and not uri:
        out.append("issuer or jwksUri must be non-empty string")
    if uri:
        out += errs(_jwks_uri(uri))
    if s(rule.get("jwks")):
        out += errs(_jwks(s(rule.get("jwks"))))
    for loc in seq(rule.get("fromHeaders")):
        if loc is None:
            out.append("location header name must be non-null")
        elif not s(m(loc).get("name")):
            out.append("location header name must be non-empty string")
    for loc in _strs(rule.get("fromParams")):
        if not loc:
            out.append("location query must be non-empty string")
    for loc in _strs(rule.get("fromCookies")):
        if not loc:
            out.append("cookie name must be non-empty string")
    for ch in seq(rule.get("outputClaimToHeaders")):
        if ch is None:
            out.append("outputClaimToHeaders must not be null")
            continue
        claim, header = s(m(ch).get("claim")), s(m(ch).get("header"))
        if not claim or not header:
            out.append("outputClaimToHeaders header and claim value must be non-empty string")
            continue
        if not _STRICT_HEADER.match(header):
            out.append(f"header name {header} is not a valid header name")
    if rule.get("timeout") is not None:
        out += errs(validate_duration(rule.get("timeout")))
    return out


def _private_jwks(rule: Any) -> list[str]:
    """warnPrivateJwksKeys: inline JWKS keys with private material (d, or a symmetric k)."""
    text = s(m(rule).get("jwks"))
    if not text:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    out = []
    for n, key in enumerate(seq(m(doc).get("keys"))):
        key = m(key)
        if key.get("d") is not None or key.get("kty") == "oct":
            out.append(f"jwks key at index {n} contains private key material; only public keys are used for "
                       "verification")
    return out


@with_metadata("RequestAuthentication")
def validate_request_authentication(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation().add(validate_one_of_selector(spec), validate_workload_selector(spec.get("selector")),
                         validate_target_ref(spec.get("targetRef")), validate_target_refs(spec.get("targetRefs")))
    for rule in seq(spec.get("jwtRules")):
        v.add(validate_jwt_rule(rule))
        for w in _private_jwks(rule):
            v.warn(w)
    return v


@with_metadata("PeerAuthentication")
def validate_peer_authentication(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    out: list[str] = []
    sel = spec.get("selector")
    empty = sel is None or not m(m(sel).get("matchLabels"))
    plm = spec.get("portLevelMtls")
    if empty and m(plm):
        out.append("mesh/namespace peer authentication cannot have port level mTLS")
    # "port level mTLS, if defined, must have at least one element": an empty map decodes as no map, so
    # Istio's check never fires on a decoded object and is not ported
    for port in m(plm):
        if not 1 <= i(port) <= 65535:
            out.append("port must be in range 1..65535")
    wsv = validate_workload_selector(sel)
    return Validation(errors=out + wsv.errors, warnings=wsv.warnings)


VALIDATORS.update({"AuthorizationPolicy": validate_authorization_policy,
                   "RequestAuthentication": validate_request_authentication,
                   "PeerAuthentication": validate_peer_authentication})
