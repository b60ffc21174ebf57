"""mesh.security.AuthzLintAnalyzer (MESH): policies that cannot do what they say.

principals/namespaces where mTLS is not STRICT (MESH0403), requestPrincipals without a
RequestAuthentication (MESH0405), methods that are not standard methods, case included (MESH0406),
principals naming service accounts that do not exist (MESH0407).
"""
from __future__ import annotations

import re

from ..kube.snapshot import labels_of, name_of, ns_of
from ..mesh.authz import HTTP_METHODS
from ..mesh.mtls import effective_mode
from .base import Analyzer, Context
from .util import spec

_PRINCIPAL = re.compile(r"^[^/*]+/ns/([a-z0-9-]+)/sa/([a-z0-9.-]+)$")


def method_problem(method: str) -> str | None:
    """Why a methods/notMethods value looks wrong, or None. Istio builds an exact, case-sensitive header match
    on :method (a prefix or suffix match with a trailing or leading *), so any string is valid."""
    if method == "*" or method.startswith("*") or method.endswith("*") or method in HTTP_METHODS:
        return None
    if method.upper() in HTTP_METHODS:
        return (f"is matched case-sensitively: clients send {method.upper()}, so the rule matches only requests "
                f"that send {method!r}")
    return "is not a standard HTTP method: the rule matches only requests that send exactly it"


def _selector(obj: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((spec(obj).get("selector") or {}).get("matchLabels") or {}).items()}


def _pods_under(ctx: Context, obj: dict, root: str) -> list[dict]:
    """mesh.authz.pods_under through the pod index: the pods a policy applies to."""
    s = spec(obj)
    if s.get("targetRef") or s.get("targetRefs"):
        return []
    sel = _selector(obj)
    if ns_of(obj) == root and not sel:
        return ctx.pods.in_namespace(None)
    return ctx.pods.select(ns_of(obj), sel)


def _any_request_authentication(ctx: Context, pods: list[dict], root: str) -> bool:
    """Whether some RequestAuthentication applies to one of ``pods`` (mesh.authz.applies semantics). The pods
    under any RequestAuthentication are collected once per analysis."""
    covered = ctx.memo("pods-under-request-authentication", lambda: {
        id(p) for ra in ctx.of("RequestAuthentication") for p in _pods_under(ctx, ra, root)})
    return any(id(p) in covered for p in pods)


class AuthzLintAnalyzer(Analyzer):
    name = "mesh.security.AuthzLintAnalyzer"
    aliases = ("security.AuthzLintAnalyzer",)
    description = "Checks AuthorizationPolicies for identities that need mTLS or JWT they do not get, bad methods " \
                  "and unknown service accounts"
    inputs = ("AuthorizationPolicy", "RequestAuthentication", "PeerAuthentication", "Pod", "ServiceAccount")

    def analyze(self, ctx: Context) -> None:
        root = ctx.mesh.root_namespace
        sas = {(ns_of(s), name_of(s)) for s in ctx.of("ServiceAccount")}
        check_sas = bool(ctx.of("ServiceAccount"))
        for ap in ctx.of("AuthorizationPolicy"):
            uses_peer, uses_rp, methods, principals = set(), False, set(), set()
            for rule in spec(ap).get("rules") or []:
                for f in rule.get("from") or []:
                    src = f.get("source") or {}
                    for k in ("principals", "notPrincipals", "namespaces", "notNamespaces"):
                        if src.get(k):
                            uses_peer.add(k)
                    principals.update(src.get("principals") or [])
                    uses_rp = uses_rp or bool(src.get("requestPrincipals") or src.get("notRequestPrincipals"))
                for t in rule.get("to") or []:
                    op = t.get("operation") or {}
                    methods.update(op.get("methods") or [])
                    methods.update(op.get("notMethods") or [])
                for w in rule.get("when") or []:
                    uses_rp = uses_rp or str(w.get("key", "")).startswith("request.auth.")
            pods = _pods_under(ctx, ap, root)
            if uses_peer:
                for p in pods[:50]:
                    eff = effective_mode(ctx.snap, ns_of(p), labels_of(p), None, root)
                    if eff.mode != "STRICT":
                        ctx.report("MESH0403", ap, "/".join(sorted(uses_peer)), f"pod {ns_of(p)}/{name_of(p)}",
                                   eff.mode, eff.policy)
                        break
            if uses_rp and pods and not _any_request_authentication(ctx, pods, root):
                ctx.report("MESH0405", ap)
            for m in sorted(str(x) for x in methods):
                problem = method_problem(m)
                if problem:
                    ctx.report("MESH0406", ap, m, problem)
            if check_sas:
                for pr in sorted(principals):
                    mm = _PRINCIPAL.match(str(pr))
                    if mm and (mm.group(1), mm.group(2)) not in sas:
                        ctx.report("MESH0407", ap, pr, mm.group(1), mm.group(2))
