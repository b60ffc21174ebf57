"""Authorization: Istio's semantics rule by rule (offline), the tools, lint, and the simulator checked against
a real Envoy configured as istiod would (RBAC + jwt_authn filters), with tokens minted here."""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mesh_plugin.errors import InvalidInput, NotFound
from mesh_plugin.kube import Snapshot
from mesh_plugin.mesh import authz as A
from mesh_plugin.mesh.authz_envoy import jwt_filter, rbac_filters
from mesh_plugin.sandbox.certs import MeshCA
from mesh_plugin.sandbox.envoy import Sidecar, SidecarSpec
from mesh_plugin.tools import get_tool

from tlshelper import client_context

ISS = "https://issuer.test"
BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
spec: {containers: [{name: api, image: api}, {name: istio-proxy, image: proxyv2}]}
status: {phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{name: http, port: 8080}, {name: tcp-db, port: 5432}]}
---
"""


def snap_of(policies: str) -> Snapshot:
    return Snapshot.from_text(BASE + policies)


def ap(name, spec, ns="shop", dry=False):
    meta = {"name": name, "namespace": ns}
    if dry:
        meta["annotations"] = {"istio.io/dry-run": "true"}
    return yaml.safe_dump({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta,
                           "spec": spec}) + "---\n"


FRONT = "cluster.local/ns/shop/sa/frontend"
LABELS = {"app": "api"}

SEMANTICS = [
    ("no ALLOW policy means allow", "", {}, "ALLOW"),
    ("ALLOW with no rules denies everything", ap("nothing", {"selector": {"matchLabels": LABELS}}), {}, "DENY"),
    ("rules: [{}] allows everything", ap("all", {"rules": [{}]}), {"mtls": False}, "ALLOW"),
    ("DENY beats ALLOW", ap("all", {"rules": [{}]}) + ap("no", {"action": "DENY", "rules": [
        {"to": [{"operation": {"methods": ["DELETE"]}}]}]}), {"method": "DELETE"}, "DENY"),
    ("exact path", ap("p", {"rules": [{"to": [{"operation": {"paths": ["/a"]}}]}]}), {"path": "/a/b"}, "DENY"),
    ("prefix path", ap("p", {"rules": [{"to": [{"operation": {"paths": ["/a/*"]}}]}]}), {"path": "/a/b"}, "ALLOW"),
    ("suffix path", ap("p", {"rules": [{"to": [{"operation": {"paths": ["*.png"]}}]}]}), {"path": "/x.png"}, "ALLOW"),
    ("presence", ap("p", {"rules": [{"when": [{"key": "request.headers[x-id]", "values": ["*"]}]}]}),
     {"headers": {"x-id": "7"}}, "ALLOW"),
    ("notValues", ap("p", {"rules": [{"when": [{"key": "request.headers[x-env]", "notValues": ["prod"]}]}]}),
     {"headers": {"x-env": "prod"}}, "DENY"),
    ("notMethods", ap("p", {"rules": [{"to": [{"operation": {"notMethods": ["DELETE"]}}]}]}), {"method": "GET"},
     "ALLOW"),
    ("fields AND inside one operation", ap("p", {"rules": [{"to": [{"operation": {"methods": ["GET"],
                                                                                   "paths": ["/a"]}}]}]}),
     {"method": "POST", "path": "/a"}, "DENY"),
    ("operations OR", ap("p", {"rules": [{"to": [{"operation": {"methods": ["POST"]}},
                                                 {"operation": {"paths": ["/a"]}}]}]}), {"path": "/a"}, "ALLOW"),
    ("principals need mTLS", ap("p", {"rules": [{"from": [{"source": {"principals": [FRONT]}}]}]}),
     {"mtls": False, "principal": FRONT}, "DENY"),
    ("principals with mTLS", ap("p", {"rules": [{"from": [{"source": {"principals": [FRONT]}}]}]}),
     {"principal": FRONT}, "ALLOW"),
    ("namespaces need mTLS", ap("p", {"rules": [{"from": [{"source": {"namespaces": ["shop"]}}]}]}),
     {"mtls": False, "principal": FRONT}, "DENY"),
    ("principal prefix", ap("p", {"rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/*"]}}]}]}),
     {"principal": FRONT}, "ALLOW"),
    ("trust domain must match", ap("p", {"rules": [{"from": [{"source": {"principals": [
        "other.domain/ns/shop/sa/frontend"]}}]}]}), {"principal": FRONT}, "DENY"),
    ("requestPrincipals need a token", ap("p", {"rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]}),
     {}, "DENY"),
    ("HTTP-only field on TCP drops the ALLOW rule", ap("p", {"rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}),
     {"port": 5432, "http": False}, "DENY"),
    ("HTTP-only field on TCP: DENY keeps the rest", ap("p", {"action": "DENY", "rules": [{"to": [{"operation": {
        "methods": ["GET"], "ports": ["5432"]}}]}]}), {"port": 5432, "http": False}, "DENY"),
    ("ipBlocks", ap("p", {"rules": [{"from": [{"source": {"ipBlocks": ["10.1.0.0/16"]}}]}]}),
     {"source_ip": "10.1.2.3"}, "ALLOW"),
    ("notIpBlocks", ap("p", {"rules": [{"from": [{"source": {"notIpBlocks": ["10.1.0.0/16"]}}]}]}),
     {"source_ip": "10.1.2.3"}, "DENY"),
    ("path template {*}", ap("p", {"rules": [{"to": [{"operation": {"paths": ["/users/{*}/profile"]}}]}]}),
     {"path": "/users/42/profile"}, "ALLOW"),
    ("path template {**}", ap("p", {"rules": [{"to": [{"operation": {"paths": ["/files/{**}/raw"]}}]}]}),
     {"path": "/files/a/b/c/raw"}, "ALLOW"),
    ("dry-run DENY never decides", ap("d", {"action": "DENY", "rules": [{}]}, dry=True), {}, "ALLOW"),
    ("hosts match case-insensitively", ap("p", {"rules": [{"to": [{"operation": {"hosts": ["API.shop"]}}]}]}),
     {"host": "api.SHOP"}, "ALLOW"),
    ("root namespace policy applies mesh-wide", ap("mesh", {"action": "DENY", "rules": [{}]}, ns="istio-system"), {},
     "DENY"),
    ("policy in another namespace does not apply", ap("x", {"action": "DENY", "rules": [{}]}, ns="other"), {},
     "ALLOW"),
]


@pytest.mark.parametrize("name,policies,req,want", SEMANTICS, ids=[s[0] for s in SEMANTICS])
def test_istio_semantics(name, policies, req, want):
    d = A.decide(snap_of(policies), "shop", LABELS, A.Request(**req))
    assert d.decision == want, d.reason


def test_nearest_allow_rule_and_failed_condition():
    pol = ap("p", {"rules": [{"from": [{"source": {"principals": [FRONT]}}],
                              "to": [{"operation": {"methods": ["GET"], "paths": ["/api/*"]}}]}]})
    d = A.decide(snap_of(pol), "shop", LABELS, A.Request(principal=FRONT, method="DELETE", path="/api/x"))
    assert (d.decision, d.nearest) == ("DENY", "shop/p rule 0")
    assert d.failed == ["to: methods ['GET']"]


def test_jwt_answers_before_rbac():
    ra = yaml.safe_dump({"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
                         "metadata": {"name": "jwt", "namespace": "shop"},
                         "spec": {"jwtRules": [{"issuer": ISS, "audiences": ["shop"]}]}}) + "---\n"
    s = snap_of(ra)
    bad_iss = A.decide(s, "shop", LABELS, A.Request(token=True, issuer="https://evil", subject="x"))
    assert (bad_iss.status, bad_iss.reason) == (401, "JWT rejected: Jwt issuer is not configured")
    bad_aud = A.decide(s, "shop", LABELS, A.Request(token=True, issuer=ISS, subject="x", claims={"aud": "other"}))
    assert bad_aud.status == 403 and "Audiences" in bad_aud.reason
    expired = A.decide(s, "shop", LABELS, A.Request(token=True, issuer=ISS, subject="x",
                                                    claims={"aud": "shop", "exp": 1000}))
    assert expired.status == 401 and "expired" in expired.reason
    assert A.decide(s, "shop", LABELS, A.Request()).decision == "ALLOW"  # no token passes


def test_tools_on_the_sandbox(runtime):
    p = get_tool("authz_policies").call(workload="payment-api-v1", namespace="production")
    assert [x.name for x in p.evaluation["ALLOW"]] == ["production/payment-api-allow"]
    check = get_tool("authz_check")
    ok = check.call(to="production/payment-api-v1", port=8080, caller={"namespace": "production", "sa": "frontend"},
                    request={"method": "POST", "path": "/api/charge"})
    assert (ok.decision, ok.policy, ok.rule, ok.status) == ("ALLOW", "production/payment-api-allow", 0, 200)
    no = check.call(to="production/payment-api-v1", port=8080, caller={"namespace": "production", "sa": "reviews"},
                    request={"path": "/api/charge"})
    assert (no.decision, no.policy, no.nearest_allow) == ("DENY", None, "production/payment-api-allow rule 0")
    assert "principals" in no.failed_conditions[0]
    for kw, err in (({"caller": {"principal": "front end"}}, "Malformed principal"),
                    ({"caller": {"ip": "300.1.1.1"}}, "Invalid IP"), ({"request": {"method": "FETCH"}}, "not an HTTP method"),
                    ({"caller": {"nmespace": "x"}}, "Invalid caller: nmespace: Extra inputs"),
                    ({"port": "http"}, "takes a port number")):
        with pytest.raises(InvalidInput, match=err):
            check.call(to="production/payment-api-v1", **kw)
    with pytest.raises(NotFound):
        check.call(to="production/ghost")


def test_lint(tmp_path):
    objs = BASE + ap("uses-ns", {"rules": [{"from": [{"source": {"namespaces": ["shop"]}}],
                                            "to": [{"operation": {"methods": ["FETCH"]}}]}]}) + \
        ap("needs-jwt", {"rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]}) + \
        ap("ghost-sa", {"rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/ghost"]}}]}]}) + \
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: frontend, namespace: shop}\n"
    (tmp_path / "p.yaml").write_text(objs)
    r = get_tool("analyze").call(files=[str(tmp_path)], only=["security.*"])
    got = {(m.code, m.origin) for m in r.messages}
    assert {("MESH0403", "AuthorizationPolicy shop/uses-ns"), ("MESH0406", "AuthorizationPolicy shop/uses-ns"),
            ("MESH0405", "AuthorizationPolicy shop/needs-jwt"), ("MESH0407", "AuthorizationPolicy shop/ghost-sa")} <= got


def test_generate_jwt_policy_offline_is_clean(tmp_path, runtime):
    (tmp_path / "base.yaml").write_text(BASE)
    r = get_tool("generate_jwt_policy").call(workload="api-0", namespace="shop", files=[str(tmp_path)],
                                             jwt={"issuer": ISS, "jwks_uri": "https://issuer.test/jwks",
                                                  "audiences": ["shop"]})
    docs = [d for d in yaml.safe_load_all(r.manifests) if d]
    assert [d["kind"] for d in docs] == ["RequestAuthentication", "AuthorizationPolicy"]
    # the DENY is scoped to the HTTP port (8080, Service port "http"), not the TCP one ("tcp-db" 5432)
    assert docs[1]["spec"]["rules"][0]["to"] == [{"operation": {"ports": ["8080"]}}]
    (tmp_path / "jwt.yaml").write_text(r.manifests)
    msgs = get_tool("analyze").call(files=[str(tmp_path)]).messages  # every analyzer, IST0133 included
    assert msgs == [], [(m.code, m.message) for m in msgs]
    # the impact: without a token 403 on the HTTP port; a valid token (with the audience) passes
    assert {(i.request, i.after) for i in r.impact} == {("GET * / without a token", "DENY (403)"),
                                                         ("GET * /other without a token", "DENY (403)")}
    # the same policy without the ports is what istiod warns about (the analyzer would have caught the old shape)
    del docs[1]["spec"]["rules"][0]["to"]
    (tmp_path / "jwt.yaml").write_text(yaml.safe_dump_all(docs))
    assert "IST0133" in {m.code for m in get_tool("analyze").call(files=[str(tmp_path)]).messages}


def test_jwt_policy_needs_an_http_port(tmp_path, runtime):
    tcp_only = BASE.replace("{name: http, port: 8080}, ", "")
    (tmp_path / "base.yaml").write_text(tcp_only)
    with pytest.raises(InvalidInput, match="no HTTP port"):
        get_tool("generate_jwt_policy").call(workload="api-0", namespace="shop", files=[str(tmp_path)],
                                             jwt={"issuer": ISS, "jwks_uri": "https://issuer.test/jwks"})


@pytest.mark.oracle
@pytest.mark.parametrize("scope", [{}, {"paths": ["/api/*"]}, {"methods": ["POST"], "hosts": ["api.example.com"]}])
def test_generated_jwt_policies_pass_istioctl_analyze(tmp_path, runtime, scope):
    """The pinned istioctl (its schema validation: pkg/config/validation ValidateAuthorizationPolicy) finds no
    IST0133 in what generate_jwt_policy writes; the unscoped shape without ports gets it."""
    import oracle

    oracle.require_oracle()
    (tmp_path / "base.yaml").write_text(BASE)
    r = get_tool("generate_jwt_policy").call(workload="api-0", namespace="shop", files=[str(tmp_path)],
                                             jwt={"issuer": ISS, "jwks_uri": "https://issuer.test/jwks", **scope})
    (tmp_path / "jwt.yaml").write_text(r.manifests)
    out = oracle.istioctl("analyze", "--use-kube=false", "-A", str(tmp_path / "base.yaml"), str(tmp_path / "jwt.yaml"))
    assert "No validation issues found" in out.stdout + out.stderr, out.stdout + out.stderr
    docs = [d for d in yaml.safe_load_all(r.manifests) if d]
    del docs[1]["spec"]["rules"][0]["to"]
    (tmp_path / "jwt.yaml").write_text(yaml.safe_dump_all(docs))
    out = oracle.istioctl("analyze", "--use-kube=false", "-A", str(tmp_path / "base.yaml"), str(tmp_path / "jwt.yaml"))
    assert "IST0133" in out.stdout + out.stderr


# -- the simulator against a real Envoy --------------------------------------------------------------------
def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Issuer:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        n = self.key.public_key().public_numbers()
        self.jwks = json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                          "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                                          "e": b64url(n.e.to_bytes(3, "big"))}]})

    def token(self, **claims) -> str:
        head = b64url(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        sig = self.key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64url(sig)}"


POLICIES = (
    "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\n"
    f"spec: {{selector: {{matchLabels: {{app: api}}}}, jwtRules: [{{issuer: '{ISS}', audiences: [shop]}}]}}\n---\n"
    + ap("deny-admin", {"action": "DENY", "selector": {"matchLabels": LABELS}, "rules": [
        {"from": [{"source": {"notPrincipals": ["cluster.local/ns/shop/sa/admin"]}}],
         "to": [{"operation": {"paths": ["/admin/*"]}}],
         "when": [{"key": "request.headers[x-break-glass]", "notValues": ["yes"]}]}]})
    + ap("allow", {"selector": {"matchLabels": LABELS}, "rules": [
        {"from": [{"source": {"principals": [FRONT]}}], "to": [{"operation": {"methods": ["GET", "POST"],
                                                                             "paths": ["/api/*"]}}]},
        {"from": [{"source": {"namespaces": ["ops"]}}], "to": [{"operation": {"paths": ["/metrics"]}}]},
        {"from": [{"source": {"requestPrincipals": [f"{ISS}/*"]}}],
         "when": [{"key": "request.auth.claims[groups]", "values": ["admins"]}],
         "to": [{"operation": {"paths": ["/reports/*"]}}]},
        {"to": [{"operation": {"paths": ["/public/*"], "notMethods": ["DELETE"]}}]},
        {"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/admin"]}}]},
        {"when": [{"key": "request.headers[x-canary]", "values": ["true"]}],
         "to": [{"operation": {"paths": ["/canary"]}}]}]})
    + ap("shadow", {"action": "DENY", "selector": {"matchLabels": LABELS}, "rules": [{}]}, dry=True)
)


class _App(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _ok(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_DELETE = do_PUT = _ok


@pytest.fixture(scope="module")
def authz_envoy():
    issuer = Issuer()
    snap = snap_of(POLICIES)
    pols = A.policies_for(snap, "shop", LABELS)
    ras = A.request_authentications(snap, "shop", LABELS)
    app = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    ca = MeshCA()
    spec = SidecarSpec(namespace="shop", pod="api-0", pod_ip="10.9.0.1", service_account="api", app_port=8080,
                       app_real_port=app.server_address[1], certs=ca.issue("shop", "api"), root_pem=ca.cert_pem,
                       mtls_mode="PERMISSIVE",
                       inbound_http_filters=[jwt_filter(ras, {ISS: issuer.jwks}), *rbac_filters(pols)])
    sc = Sidecar(spec).start()
    try:
        sc.wait_ready()
        yield sc, ca, issuer, snap
    finally:
        sc.stop()
        app.shutdown()


def test_simulator_agrees_with_envoy(authz_envoy):
    sc, ca, issuer, snap = authz_envoy
    now = int(time.time())
    good_admin = issuer.token(iss=ISS, sub="alice", aud="shop", exp=now + 600, groups=["admins"])
    good_user = issuer.token(iss=ISS, sub="bob", aud="shop", exp=now + 600, groups=["users"])
    tokens = {"admin": (good_admin, {"iss": ISS, "sub": "alice", "aud": "shop", "exp": now + 600,
                                     "groups": ["admins"]}),
              "user": (good_user, {"iss": ISS, "sub": "bob", "aud": "shop", "exp": now + 600, "groups": ["users"]}),
              "wrong-aud": (issuer.token(iss=ISS, sub="c", aud="other", exp=now + 600),
                            {"iss": ISS, "sub": "c", "aud": "other", "exp": now + 600}),
              "expired": (issuer.token(iss=ISS, sub="d", aud="shop", exp=now - 600),
                          {"iss": ISS, "sub": "d", "aud": "shop", "exp": now - 600}),
              "evil": (Issuer().token(iss="https://evil.test", sub="e", aud="shop", exp=now + 600),
                       {"iss": "https://evil.test", "sub": "e", "aud": "shop", "exp": now + 600})}
    cases = [  # (identity "ns/sa" or None for plaintext, method, path, headers, token)
        ("shop/frontend", "GET", "/api/items", {}, None), ("shop/frontend", "POST", "/api/items", {}, None),
        ("shop/frontend", "DELETE", "/api/items", {}, None), ("shop/frontend", "GET", "/other", {}, None),
        (None, "GET", "/api/items", {}, None), ("shop/reviews", "GET", "/api/items", {}, None),
        ("ops/prom", "GET", "/metrics", {}, None), (None, "GET", "/metrics", {}, None),
        ("shop/frontend", "GET", "/metrics", {}, None), (None, "GET", "/public/a", {}, None),
        (None, "DELETE", "/public/a", {}, None), ("shop/admin", "DELETE", "/anything", {}, None),
        ("shop/admin", "GET", "/admin/users", {}, None), ("shop/frontend", "GET", "/admin/users", {}, None),
        ("shop/frontend", "GET", "/admin/users", {"x-break-glass": "yes"}, None),
        (None, "GET", "/canary", {"x-canary": "true"}, None), (None, "GET", "/canary", {"x-canary": "no"}, None),
        (None, "GET", "/reports/q1", {}, "admin"), (None, "GET", "/reports/q1", {}, "user"),
        (None, "GET", "/reports/q1", {}, None), (None, "GET", "/reports/q1", {}, "wrong-aud"),
        (None, "GET", "/reports/q1", {}, "expired"), (None, "GET", "/public/x", {}, "evil"),
        ("shop/frontend", "GET", "/api/x", {}, "admin"),
    ]
    results = []
    for ident, method, path, headers, tok in cases:
        hdrs = dict(headers)
        claims, token = {}, None
        if tok:
            token, claims = tokens[tok]
            hdrs["Authorization"] = f"Bearer {token}"
        scheme = "https" if ident else "http"
        req = urllib.request.Request(f"{scheme}://127.0.0.1:{sc.inbound_port}{path}", method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=5, context=client_context(ca, *ident.split("/")) if ident else None) as r:
                got = r.status
        except urllib.error.HTTPError as e:
            got = e.code
        sim = A.decide(snap, "shop", LABELS, A.Request(
            port=8080, mtls=bool(ident), principal=f"cluster.local/ns/{ident.split('/')[0]}/sa/{ident.split('/')[1]}"
            if ident else None, method=method, path=path, headers=headers, token=bool(tok),
            issuer=claims.get("iss"), subject=claims.get("sub"), claims=claims))
        results.append((ident, method, path, tok, got, sim.status, sim.decision))
    mismatches = [r for r in results if r[4] != r[5]]
    assert not mismatches, mismatches
    assert len(results) >= 20
    statuses = {r[4] for r in results}
    assert {200, 401, 403} <= statuses


# -- Istio's own matching (pilot/pkg/security/authz/model/generator.go, matcher/*.go, builder/builder.go) ----------
ISTIO = [
    # principals are strings on spiffe:// URIs, whatever their shape (StringMatcherWithPrefix)
    ("a non-SPIFFE principal matches the URI spiffe://allow", {"principals": ["allow"]}, {"principal": "allow"},
     "ALLOW"),
    ("* is any authenticated peer", {"principals": ["*"]}, {"principal": "allow"}, "ALLOW"),
    ("* needs a peer certificate", {"principals": ["*"]}, {"mtls": False}, "DENY"),
    ("*suffix matches the end of the URI", {"principals": ["*sa/frontend"]}, {"principal": FRONT}, "ALLOW"),
    ("prefix* matches after spiffe://", {"principals": ["cluster.local/ns/sh*"]}, {"principal": FRONT}, "ALLOW"),
    ("namespaces are a regex on the URI", {"namespaces": ["s*p"]}, {"principal": FRONT}, "ALLOW"),
    ("serviceAccounts default to the policy's namespace", {"serviceAccounts": ["frontend"]}, {"principal": FRONT},
     "ALLOW"),
    ("serviceAccounts with another namespace", {"serviceAccounts": ["ops/frontend"]}, {"principal": FRONT}, "DENY"),
    ("trustDomains match the URI's trust domain", {"trustDomains": ["cluster.local"]}, {"principal": FRONT},
     "ALLOW"),
    ("notTrustDomains", {"notTrustDomains": ["clu*"]}, {"principal": FRONT}, "DENY"),
    # requestPrincipals split at the last "/": "https://issuer.test*" is issuer "https:" + subject prefix
    ("request principal split at the last /", {"requestPrincipals": [ISS + "*"]},
     {"token": True, "issuer": ISS, "subject": "alice"}, "DENY"),
    ("request principal with a subject prefix", {"requestPrincipals": [ISS + "/ali*"]},
     {"token": True, "issuer": ISS, "subject": "alice"}, "ALLOW"),
    ("remoteIpBlocks use the last X-Forwarded-For address", {"remoteIpBlocks": ["203.0.113.0/24"]},
     {"source_ip": "10.0.0.1", "headers": {"x-forwarded-for": "1.2.3.4, 203.0.113.9"}}, "ALLOW"),
    ("a TCP connection has no X-Forwarded-For", {"remoteIpBlocks": ["203.0.113.0/24"]},
     {"port": 5432, "http": False, "source_ip": "10.0.0.1", "headers": {"x-forwarded-for": "203.0.113.9"}}, "DENY"),
]


@pytest.mark.parametrize("name,source,req,want", ISTIO, ids=[c[0] for c in ISTIO])
def test_matching_as_istio_generates_it(name, source, req, want):
    """One rule, matched as Envoy's RBAC matches istiod's translation (the connection checks aside: a sidecar's
    TLS handshake refuses a certificate outside the mesh's trust domains, see the next tests)."""
    res = A.evaluate_rule({"from": [{"source": source}]}, A.Request(**req), "ALLOW", "cluster.local", "shop")
    assert ("ALLOW" if res.matched else "DENY") == want, res.failed


def test_methods_are_case_sensitive_and_take_wildcards():
    s = snap_of(ap("p", {"rules": [{"to": [{"operation": {"methods": ["get", "P*"]}}]}]}))
    assert A.decide(s, "shop", LABELS, A.Request(method="GET"), mtls_mode="PERMISSIVE").decision == "DENY"
    assert A.decide(s, "shop", LABELS, A.Request(method="PATCH"), mtls_mode="PERMISSIVE").decision == "ALLOW"


def test_trust_domain_aliases_expand_principals():
    s = snap_of(ap("p", {"rules": [{"from": [{"source": {"principals": [FRONT]}}]}]}))
    alias = "old.td/ns/shop/sa/frontend"
    mesh = {"trustDomain": "cluster.local", "trustDomainAliases": ["old.td"]}
    assert A.decide(s, "shop", LABELS, A.Request(principal=alias), mesh=mesh, mtls_mode="STRICT").decision == "ALLOW"
    assert A.decide(s, "shop", LABELS, A.Request(principal=alias), mtls_mode="STRICT").refused  # not in the bundle


def test_the_port_mode_decides_the_connection_first():
    s = snap_of(ap("all", {"rules": [{}]}))
    plain = A.decide(s, "shop", LABELS, A.Request(port=8080, mtls=False), mtls_mode="STRICT")
    assert (plain.decision, plain.status, plain.refused) == ("DENY", 0, True) and "STRICT" in plain.reason
    tls = A.decide(s, "shop", LABELS, A.Request(port=8080, principal=FRONT), mtls_mode="DISABLE")
    assert tls.refused and "DISABLE" in tls.reason
    foreign = A.decide(s, "shop", LABELS, A.Request(port=8080, principal="evil.td/ns/x/sa/y"), mtls_mode="STRICT")
    assert foreign.refused and "trust domains" in foreign.reason
    assert A.decide(s, "shop", LABELS, A.Request(port=8080, mtls=False), mtls_mode="PERMISSIVE").decision == "ALLOW"
    assert A.decide(s, "shop", LABELS, A.Request(mtls=False), injected=False).decision == "ALLOW"


def test_custom_policies_as_istio_builds_them():
    custom = ap("c", {"action": "CUSTOM", "provider": {"name": "authz"}, "rules": [{"to": [{"operation": {
        "paths": ["/admin"]}}]}]})
    provider = {"extensionProviders": [{"name": "authz", "envoyExtAuthzHttp": {
        "service": "api.shop.svc.cluster.local", "port": 8080}}]}
    s = snap_of(custom)
    unknown = A.decide(s, "shop", LABELS, A.Request(path="/admin"), mtls_mode="PERMISSIVE")
    assert (unknown.decision, unknown.action) == ("DENY", "CUSTOM") and "not in the mesh config" in unknown.reason
    known = A.decide(s, "shop", LABELS, A.Request(path="/admin"), mesh=provider, mtls_mode="PERMISSIVE")
    assert known.decision == "ALLOW" and "cannot be simulated" in known.notes[0]
    missing_svc = {"extensionProviders": [{"name": "authz", "envoyExtAuthzHttp": {"service": "no.where", "port": 1}}]}
    assert A.decide(s, "shop", LABELS, A.Request(path="/admin"), mesh=missing_svc,
                    mtls_mode="PERMISSIVE").decision == "DENY"
    two = snap_of(custom + ap("d", {"action": "CUSTOM", "provider": {"name": "other"}, "rules": [{"to": [
        {"operation": {"paths": ["/x"]}}]}]}))
    assert A.decide(two, "shop", LABELS, A.Request(path="/admin"), mesh=provider,
                    mtls_mode="PERMISSIVE").decision == "DENY"  # several providers need a feature flag


def test_rules_istio_drops():
    unknown_key = ap("p", {"rules": [{"when": [{"key": "request.nope", "values": ["x"]}]}]})
    assert A.decide(snap_of(unknown_key), "shop", LABELS, A.Request(), mtls_mode="PERMISSIVE").decision == "DENY"
    deny_http_only = ap("p", {"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/x"]}}]}]})
    tcp = A.decide(snap_of(deny_http_only), "shop", LABELS, A.Request(port=5432, http=False),
                   mtls_mode="PERMISSIVE")
    assert (tcp.decision, tcp.status) == ("DENY", 0)  # the field is dropped: the DENY takes every TCP connection


def test_root_namespace_selector_policy_applies_in_every_namespace():
    s = snap_of(ap("root", {"action": "DENY", "selector": {"matchLabels": LABELS}, "rules": [{}]}, ns="istio-system"))
    assert A.decide(s, "shop", LABELS, A.Request(), mtls_mode="PERMISSIVE").decision == "DENY"
    assert A.decide(s, "shop", {"app": "other"}, A.Request(), mtls_mode="PERMISSIVE").decision == "ALLOW"


def test_jwt_with_several_providers_of_one_issuer():
    ras = ("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: a, namespace: istio-system}\n"
           f"spec: {{jwtRules: [{{issuer: '{ISS}', audiences: [api]}}]}}\n---\n"
           "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: b, namespace: shop}\n"
           f"spec: {{jwtRules: [{{issuer: '{ISS}'}}]}}\n---\n")
    s = snap_of(ras)
    d = A.decide(s, "shop", LABELS, A.Request(token=True, issuer=ISS, subject="x", claims={"aud": "shop"}),
                 mtls_mode="PERMISSIVE")
    assert d.decision == "ALLOW"  # the second provider accepts any audience
    only = snap_of(ras.split("---\n")[0] + "---\n")
    d = A.decide(only, "shop", LABELS, A.Request(token=True, issuer=ISS, subject="x", claims={"aud": "shop"}),
                 mtls_mode="PERMISSIVE")
    assert (d.decision, d.status) == ("DENY", 403)


def test_jwt_where_the_provider_reads_it():
    """fromHeaders/fromParams: a provider reads its token only there; a token elsewhere is missing for it
    (pilot/pkg/security/authn/policy_applier.go convertToEnvoyJwtConfig; Envoy's extractor)."""
    ra = ("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: j, namespace: shop}\n"
          f"spec: {{jwtRules: [{{issuer: '{ISS}', fromHeaders: [{{name: x-jwt}}]}}]}}\n---\n")
    need = ap("p", {"rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]})
    s = snap_of(ra + need)
    req = lambda: A.Request(token=True, issuer=ISS, subject="alice")  # noqa: E731
    assert A.decide(s, "shop", LABELS, req(), mtls_mode="PERMISSIVE",
                    token_location=("header", "x-jwt")).decision == "ALLOW"
    missing = A.decide(s, "shop", LABELS, req(), mtls_mode="PERMISSIVE")  # sent as Authorization: Bearer
    assert (missing.decision, missing.status) == ("DENY", 403) and "treated as missing" in " ".join(missing.notes)


def test_scoped_check_still_finds_a_provider_in_another_namespace(fresh_sandbox, tmp_path):
    """authz_check reads the destination's namespace (issue 23); a CUSTOM policy's ext_authz provider Service in
    istio-system is read too (istiod turns a provider whose Service is missing into a DENY), so the scoped answer
    is the whole-cluster one."""
    from mesh_plugin.runtime import configure

    sb = fresh_sandbox

    def add_provider(cm):
        mesh = yaml.safe_load(cm["data"]["mesh"]) or {}
        mesh["extensionProviders"] = [{"name": "ext", "envoyExtAuthzHttp": {
            "service": "ext-authz.istio-system.svc.cluster.local", "port": 8000}}]
        cm["data"]["mesh"] = yaml.safe_dump(mesh)

    sb.edit("", "configmaps", "istio-system", "istio", add_provider)
    sb.apply([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext-authz", "namespace": "istio-system"},
               "spec": {"selector": {"app": "ext-authz"}, "ports": [{"name": "http", "port": 8000}]}},
              yaml.safe_load(ap("ext", {"action": "CUSTOM", "provider": {"name": "ext"},
                                        "selector": {"matchLabels": {"app": "payment-api"}},
                                        "rules": [{"to": [{"operation": {"paths": ["/admin/*"]}}]}]},
                                ns="production").split("---")[0])])
    configure(sb.kubeconfig, "sandbox")
    since = len(sb.api.request_log)
    args = dict(to="production/payment-api-v1", port=8080, caller={"namespace": "production", "sa": "frontend"},
                request={"path": "/admin/x"})
    live = get_tool("authz_check").call(**args)
    lists = [p.split("?")[0] for m, p in sb.api.request_log[since:] if "limit=" in p]
    assert "/api/v1/pods" not in lists and "/api/v1/namespaces/istio-system/services" in lists, lists
    assert any("external authorizer 'ext'" in n for n in live.notes), (live.reason, live.notes)
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all([o for items in sb.api.store.values()
                                                           for o in items.values()]))
    assert get_tool("authz_check").call(**args, files=[str(tmp_path / "all.yaml")]) == live
