"""Hostile files and offline inputs (security sweep D9, D11, D12, D13, D15), each reproduced as the sweep
describes it: real files in a temporary folder, real symbolic links, generated deep YAML/JSON, wrong-typed
config dumps, a dump carrying the sweep's secret canaries. Each goes through the tool registry, the CLI as a
subprocess, and (symlinks, redaction, untyped errors, the read-only switch) MCP over stdio with a real
``mesh-plugin serve`` whose files root is the temporary folder.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcp
from mcp.client.stdio import StdioServerParameters, stdio_client
from mesh_plugin.envoy.admin import redact_config_dump
from mesh_plugin.errors import InvalidInput, NotFound
from mesh_plugin.kube import snapshot as snapshot_mod
from mesh_plugin.kube.snapshot import Snapshot, safe_load_all
from mesh_plugin.envoy.configdump import MAX_DUMP_BYTES, ConfigDump
from mesh_plugin.runtime import RUNTIME, configure, env_flag
from mesh_plugin.sandbox.certs import MeshCA
from mesh_plugin.tools.proxy import render_proxy_config
from mesh_plugin.tools.registry import get_tool, load_tools

BIN = str(Path(sys.executable).parent / "mesh-plugin")
KINDS = ("cluster", "listener", "route", "endpoint", "secret", "bootstrap", "all")


def call(operation: str, **kw):
    return get_tool(operation).call(**kw)


def write_tools() -> set[str]:
    return {t.name for t in load_tools() if not t.read_only}


def mcp_call(operation: str, args: dict) -> tuple[str, dict]:
    """The MCP tool and arguments that run ``operation`` (served as its own tool, or as a view/action of a
    grouped tool)."""
    spec = getattr(get_tool(operation), "spec", None)
    if spec is None:
        return operation, args
    key, view = getattr(spec, "key", None), getattr(get_tool(operation), "view", "")
    return spec.name, ({key: view, **args} if key and view else args)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: no MESH_PLUGIN_* from the caller, no reachable cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_PLUGIN_")}
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"
    env.update(extra)
    return env


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=clean_env(**env))


def assert_clean_error(r: subprocess.CompletedProcess, code: int = 2, *needles: str) -> None:
    """Exit ``code``, one line 'Error: ... Next: ...' on stderr, never a traceback."""
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Next:" in lines[0], r.stderr[-2000:]
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """A files root W (as `serve` sets it) with a sibling folder `outside` holding what must not leak."""
    w, outside = tmp_path / "W", tmp_path / "outside"
    w.mkdir()
    outside.mkdir()
    monkeypatch.setattr(RUNTIME, "files_root", str(w))
    monkeypatch.chdir(w)
    return w


# -- D9: keys in dumps -----------------------------------------------------------------------------------
CA = MeshCA()
KP = CA.issue("production", "frontend")
B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
CANARIES = {
    "INLINE-CLUSTER-KEY-LEAK", "GENERIC-SECRET-LEAK", "JWKS-SYMMETRIC-K-LEAK", "JWK-PRIVATE-D-LEAK",
    "LISTENER-PASSWORD-LEAK", "HMAC-SECRET-LEAK", "OAUTH-CLIENT-SECRET-LEAK", "BASIC-AUTH-LEAK",
    "BOOTSTRAP-PASSWORD-LEAK", "REDIS-PASSWORD-LEAK", B64(b"TICKET-KEY-LEAK-0123456789abcdef"),
    B64(KP.key_pem), "PRIVATE KEY",
}


def secret_dump() -> dict:
    """The sweep's D9 step 1 dump (a cluster's inline private key, a generic secret), plus every other kind
    of secret material a saved dump may carry, and real certificates the tables must still describe."""
    jwks = json.dumps({"keys": [{"kty": "oct", "kid": "hs256", "k": "JWKS-SYMMETRIC-K-LEAK"}]})
    hcm = {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "rds": {"route_config_name": "8080"},
        "http_filters": [
            {"name": "envoy.filters.http.jwt_authn", "typed_config": {"providers": {"p1": {
                "issuer": "https://issuer.example", "local_jwks": {"inline_string": jwks}}}}},
            {"name": "envoy.filters.http.oauth2", "typed_config": {"config": {"credentials": {
                "client_id": "app", "client_secret": "OAUTH-CLIENT-SECRET-LEAK",
                "hmac_secret": {"name": "hmac", "sds_config": {"ads": {}}}}}}},
            {"name": "custom.signing", "typed_config": {"signing_jwk": {
                "kty": "RSA", "n": "modulus", "e": "AQAB", "d": "JWK-PRIVATE-D-LEAK"}}},
        ]}}
    return {"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {
            "node": {"id": "sidecar~10.0.0.1~frontend.production~production.svc.cluster.local",
                     "metadata": {"ISTIO_VERSION": "1.28.1", "NAMESPACE": "production"}},
            "static_resources": {"clusters": [{"name": "xds-grpc", "transport_socket": {"typed_config": {
                "common_tls_context": {"tls_certificates": [{
                    "certificate_chain": {"filename": "/etc/certs/cert-chain.pem"},
                    "private_key": {"filename": "/etc/certs/key.pem"}}]}}},
                "metadata": {"password": "BOOTSTRAP-PASSWORD-LEAK"}}]}}},
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [
            {"cluster": {"name": "outbound|443||ext.example.com", "type": "STRICT_DNS", "transport_socket": {
                "name": "tls", "typed_config": {"common_tls_context": {"tls_certificates": [
                    {"private_key": {"inline_string": "INLINE-CLUSTER-KEY-LEAK"}}]},
                    "session_ticket_keys": {"keys": [{"inline_bytes": B64(b"TICKET-KEY-LEAK-0123456789abcdef")}]}}}}},
            {"cluster": {"name": "outbound|6379||redis.production.svc.cluster.local", "type": "EDS",
                         "typed_extension_protocol_options": {"envoy.filters.network.redis_proxy": {
                             "auth_password": {"inline_string": "REDIS-PASSWORD-LEAK"}}}}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [
            {"name": "0.0.0.0_8080", "active_state": {"listener": {
                "name": "0.0.0.0_8080", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 8080}},
                "filter_chains": [{"filters": [hcm]}],
                "metadata": {"filter_metadata": {"x": {"password": "LISTENER-PASSWORD-LEAK"}}}}}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [
            {"route_config": {"name": "8080", "virtual_hosts": [{"name": "reviews:8080", "domains": ["reviews"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "outbound|8080||reviews"},
                         "typed_per_filter_config": {"envoy.filters.http.basic_auth": {
                             "users": {"inline_string": "admin:{SHA}BASIC-AUTH-LEAK"}}}}]}]}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": [
            {"endpoint_config": {"cluster_name": "outbound|8080||reviews", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "10.1.0.7", "port_value": 9080}}},
                 "health_status": "HEALTHY", "metadata": {"hmac_secret": "HMAC-SECRET-LEAK"}}]}]}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [
            {"name": "hmac", "secret": {"name": "hmac", "generic_secret": {
                "secret": {"inline_string": "GENERIC-SECRET-LEAK"}}}},
            {"name": "default", "secret": {"name": "default", "tls_certificate": {
                "certificate_chain": {"inline_bytes": B64(KP.cert_pem)},
                "private_key": {"inline_bytes": B64(KP.key_pem)}}}},
            {"name": "ROOTCA", "secret": {"name": "ROOTCA", "validation_context": {
                "trusted_ca": {"inline_bytes": B64(CA.cert_pem)}}}}]},
    ]}


def leaks(text: str) -> set[str]:
    return {c for c in CANARIES if c in text}


@pytest.fixture()
def key_dump(root) -> str:
    text = json.dumps(secret_dump())
    raw = text + base64.b64decode(B64(KP.key_pem)).decode()
    assert leaks(raw) == CANARIES  # the input does carry every canary (so the tests below can fail)
    (root / "dump-key.json").write_text(text)
    return "dump-key.json"


def test_d9_file_dump_is_redacted_for_every_kind_and_output(key_dump):
    for kind in KINDS:
        for output in ("table", "json"):
            shown, offset = "", 0
            while True:  # every page of the raw JSON
                r = call("proxy_config", kind=kind, file=key_dump, output=output, limit=1000, offset=offset)
                shown += r.model_dump_json() + render_proxy_config(r)
                if not r.raw_page or r.raw_page.offset + r.raw_page.shown >= r.raw_page.total:
                    break
                offset = r.raw_page.offset + r.raw_page.shown
            assert not leaks(shown), (kind, output, leaks(shown))
    # the views still work: certificate metadata, names, SANs and validity stay; key file names too
    secrets = {row[0]: row for row in call("proxy_config", kind="secret", file=key_dump).tables[0].rows}
    assert secrets["default"][1:4] == ["Cert Chain", "ACTIVE", "true"] and secrets["default"][4]
    assert secrets["ROOTCA"][1:4] == ["CA", "ACTIVE", "true"]
    raw = json.loads(call("proxy_config", kind="secret", file=key_dump, output="json").raw)
    assert "spiffe://cluster.local/ns/production/sa/frontend" in raw[1]["certificate"]["sans"]
    clusters = call("proxy_config", kind="cluster", file=key_dump).tables[0].rows
    assert ["ext.example.com", "443", "-", "outbound", "STRICT_DNS", ""] in clusters
    everything, offset = "", 0
    while True:
        r = call("proxy_config", kind="all", file=key_dump, output="json", offset=offset)
        everything += r.raw + "\n"
        if r.raw_page.offset + r.raw_page.shown >= r.raw_page.total:
            break
        offset = r.raw_page.offset + r.raw_page.shown
    everything = json.dumps(json.loads(everything))
    assert "/etc/certs/key.pem" in everything and "[redacted]" in everything
    assert '"client_id": "app"' in everything  # SDS references stay:
    assert '"hmac_secret": {"name": "hmac", "sds_config": {"ads": {}}}' in everything


def test_d9_one_redaction_for_every_source():
    doc = secret_dump()
    before = json.dumps(doc)
    for source in (doc, before, before.encode()):  # a dict (tests, callers), text, bytes (a file, a live pod)
        dump = ConfigDump.load(source, "dump")
        assert not leaks(json.dumps(dump.doc)), type(source)
    assert json.dumps(doc) == before  # the caller's dict is not changed
    assert not leaks(redact_config_dump(before.encode()).decode())
    jwk = redact_config_dump({"keys": [{"kty": "RSA", "n": "N", "e": "AQAB", **{m: f"{m}-LEAK" for m in (
        "d", "p", "q", "dp", "dq", "qi")}}, {"kty": "oct", "k": "K-LEAK"}]})
    assert "LEAK" not in json.dumps(jwk) and jwk["keys"][0]["n"] == "N"


def test_d9_cli_never_prints_keys(key_dump, root):
    for kind in ("cluster", "listener", "secret", "bootstrap", "all"):
        for output in ("short", "json"):
            r = cli("pc", kind, "--file", key_dump, "-o", output, cwd=root)
            assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
            assert not leaks(r.stdout), (kind, output, leaks(r.stdout))
    assert "ext.example.com" in cli("pc", "cluster", "--file", key_dump, cwd=root).stdout


# -- D11: size and work bounds ---------------------------------------------------------------------------
def test_d11_dump_over_the_cap_is_refused_before_reading(root):
    big = root / "big.json"
    with open(big, "wb") as fh:  # sparse: 65 MiB on paper, nothing to read
        fh.truncate(MAX_DUMP_BYTES + 1024 * 1024)
    t = time.monotonic()
    with pytest.raises(InvalidInput, match=f"over the {MAX_DUMP_BYTES}-byte limit") as e:
        call("proxy_config", kind="cluster", file="big.json")
    assert time.monotonic() - t < 2 and "Next:" in str(e.value)
    assert_clean_error(cli("pc", "cluster", "--file", str(big)), 2, "byte limit")


def test_d11_manifest_over_the_cap_is_refused_before_reading(root):
    big = root / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(snapshot_mod.MAX_FILE_BYTES + 1)
    (root / "ok.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: fine}\n")
    snap = Snapshot.from_paths([str(root)])
    assert [Path(e.source).name for e in snap.errors] == ["big.yaml"] and "byte limit" in snap.errors[0].message
    assert snap.namespaces() == ["fine"]


def realistic_manifest(apps: int) -> str:
    """``apps`` Deployments and their Services, one document each, without a single alias."""
    parts = []
    for i in range(apps):
        args = ", ".join(f"--o{k}=1" for k in range(60))
        parts.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{i % 50}
  labels: {{app: app-{i}, version: v1, team: team-{i % 50}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}, version: v1}}
      annotations: {{sidecar.istio.io/inject: "true"}}
    spec:
      serviceAccountName: app-{i}
      containers:
      - name: app
        image: registry.example.com/app-{i}:1.0.{i}
        args: [{args}]
        ports: [{{containerPort: 8080, name: http}}]
        resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 256Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: team-{i % 50}}}
spec:
  selector: {{app: app-{i}}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
""")
    return "---\n".join(parts)


def nodes_in(docs: list, keys: bool = True) -> int:
    """YAML nodes: every scalar, mapping and sequence, mapping keys included (or not, as the old check)."""
    n, todo = 0, list(docs)
    while todo:
        x = todo.pop()
        n += 1
        if isinstance(x, dict):
            n += len(x) if keys else 0
            todo.extend(x.values())
        elif isinstance(x, list):
            todo.extend(x)
    return n


def test_d11_big_manifest_without_aliases_is_not_an_alias_bomb(root):
    """The sweep's 11 MB case: more than a million nodes, no alias, refused as 'an alias bomb' before."""
    apps = 9_500
    text = realistic_manifest(apps)
    assert "*" not in text and "&" not in text and 10e6 < len(text) < 15e6
    (root / "mid.yaml").write_text(text)
    one = safe_load_all(realistic_manifest(1))
    assert apps * nodes_in(one, keys=False) > 1_050_000  # what the old check counted, over its limit
    r = call("list_workloads", files=["mid.yaml"], limit=1)
    assert r.page.total == apps


def test_d11_alias_bombs_and_other_bounds_are_still_refused(root):
    import yaml as pyyaml

    assert snapshot_mod._loader_class() is (pyyaml.CSafeLoader if pyyaml.__with_libyaml__ else pyyaml.SafeLoader)
    lol = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lol.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    cases = {
        "laughs.yaml": ("\n".join(lol) + "\n", "alias bomb"),
        "aliases.yaml": ("a: &a x\nb: [" + ", ".join(["*a"] * (snapshot_mod.MAX_ALIASES + 1)) + "]\n",
                         f"more than {snapshot_mod.MAX_ALIASES} aliases"),
        "recursive.yaml": ("a: &a [1, *a]\n", "recursive YAML alias"),
        "docs.yaml": ("---\n" * (snapshot_mod.MAX_DOCUMENTS + 1), f"more than {snapshot_mod.MAX_DOCUMENTS} documents"),
        "deep.yaml": ("a: " + "{a: " * (snapshot_mod.MAX_DEPTH + 5) + "1" + "}" * (snapshot_mod.MAX_DEPTH + 5) + "\n",
                      f"more than {snapshot_mod.MAX_DEPTH} levels"),
    }
    for name, (text, _) in cases.items():
        (root / name).write_text(text)
    snap = Snapshot.from_paths(list(cases))
    got = {Path(e.source).name: e.message for e in snap.errors}
    for name, (_, needle) in cases.items():
        assert needle in got[name], (name, got.get(name))
    # a shared anchor costs its size once per alias, no more: 900 aliases of 1000 nodes load
    ok = "base: &b [" + ", ".join(["x"] * 999) + "]\nuses: [" + ", ".join(["*b"] * 900) + "]\n"
    assert len(safe_load_all(ok)[0]["uses"]) == 900
    assert_clean_error(cli("workloads", "-f", "laughs.yaml", cwd=root), 2, "alias bomb")


def test_d11_node_bound(root):
    """More than MAX_NODES nodes is refused with a typed error, after bounded work."""
    text = "[" + "a," * (snapshot_mod.MAX_NODES + 1) + "]"
    t = time.monotonic()
    with pytest.raises(InvalidInput, match=f"more than {snapshot_mod.MAX_NODES} nodes"):
        safe_load_all(text)
    assert time.monotonic() - t < 60


shared = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**20) | st.text(max_size=8) | st.floats(allow_nan=False),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(shared, min_size=1, max_size=3), reuse=st.booleans())
def test_d11_bounded_loader_reads_what_pyyaml_reads(docs, reuse):
    if reuse:  # the same object twice: yaml.safe_dump writes an anchor and an alias
        docs = [{"first": d, "again": d, "<<": {"merged": 1}} if isinstance(d, (dict, list)) else d for d in docs]
    text = yaml.safe_dump_all(docs)
    assert safe_load_all(text) == list(yaml.safe_load_all(text))


# -- D12: symbolic links out of the files root -----------------------------------------------------------
LEAK = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: leaked-outside-ns\n  labels: {canary: LEAKME}\n"
LEGIT = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legit-ns\n"


@pytest.fixture()
def links(root):
    outside = root.parent / "outside"
    (outside / "secret.yaml").write_text(LEAK)
    (outside / "dump.json").write_text(json.dumps(secret_dump()).replace("ext.example.com", "LEAKME.example.com"))
    (outside / "mesh.yaml").write_text("rootNamespace: LEAKME\n")
    (root / "linkdir").mkdir()
    os.symlink("../../outside/secret.yaml", root / "linkdir" / "inner.yaml")  # the sweep's step 1
    (root / "tree").mkdir()
    (root / "tree" / "ok.yaml").write_text(LEGIT)
    os.symlink("ok.yaml", root / "tree" / "alias.yaml")  # inside the root: fine
    os.symlink("../../outside", root / "tree" / "escape")  # a folder outside: never entered
    os.symlink("../outside/secret.yaml", root / "tree-file.yaml")
    (root / "dumps").mkdir()
    os.symlink("../../outside/dump.json", root / "dumps" / "d.json")
    os.symlink("../outside/mesh.yaml", root / "mesh-link.yaml")
    return root


def test_d12_walked_symlinks_outside_the_root_are_skipped_by_name(links):
    with pytest.raises(InvalidInput) as e:  # the sweep's `mesh_overview {"files":["linkdir"]}`
        call("mesh_overview", files=["linkdir"])
    assert "inner.yaml" in str(e.value) and "outside the allowed folder" in str(e.value)
    assert "LEAKME" not in str(e.value) and "leaked-outside-ns" not in str(e.value)
    r = call("mesh_overview", files=["tree"])
    assert "legit-ns" in r.model_dump_json() and "leaked" not in r.model_dump_json()
    snap = Snapshot.from_paths(["tree", "linkdir"])
    assert snap.namespaces() == ["legit-ns"] and len(snap.of("Namespace")) == 2  # ok.yaml and alias.yaml
    assert {Path(e.source).name for e in snap.errors} == {"escape", "inner.yaml"}
    assert all("LEAKME" not in e.message for e in snap.errors)
    r = call("analyze", files=["linkdir", "tree"])
    assert "leaked-outside-ns" not in r.model_dump_json()


def test_d12_every_file_argument_is_confined(links):
    for kw in ({"files": ["tree-file.yaml"]}, {"files": ["dumps/../linkdir/inner.yaml"]}):
        with pytest.raises(InvalidInput, match="outside the allowed folder"):
            call("list_workloads", **kw)
    with pytest.raises(InvalidInput, match="outside the allowed folder"):
        call("proxy_config", kind="cluster", file="dumps/d.json")
    with pytest.raises(InvalidInput, match="outside the allowed folder"):
        call("analyze", files=["tree"], mesh_config_file="mesh-link.yaml")
    with pytest.raises(InvalidInput, match="outside the allowed folder"):
        call("list_workloads", files=["-"])  # stdin is the operator's, not a remote caller's


# -- D13: typed errors -----------------------------------------------------------------------------------
WRONG_TYPES = {
    "configs-null-1": {"configs": [None, 1, "x", []]},
    "cluster-str": {"configs": [{"@type": "t.ClustersConfigDump", "dynamic_active_clusters": [
        {"cluster": "x"}, {"cluster": {"name": "outbound|80||ok.example.com"}}]}]},
    "port-notaport": {"configs": [
        {"@type": "t.ListenersConfigDump", "dynamic_listeners": [{"name": "l", "active_state": {"listener": {
            "name": "l", "address": {"socket_address": {"address": "0.0.0.0", "port_value": "notaport"}},
            "filter_chains": [{}]}}}]},
        {"@type": "t.EndpointsConfigDump", "dynamic_endpoint_configs": [{"endpoint_config": {
            "cluster_name": "c", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": "1.2.3.4", "port_value": "notaport"}}}}]}]}}]}]},
    "list-for-dict": {"configs": [
        {"@type": "t.ClustersConfigDump", "dynamic_active_clusters": {"cluster": {"name": "x"}}},
        {"@type": "t.ListenersConfigDump", "dynamic_listeners": [{"active_state": {"listener": {
            "name": "l", "address": [], "filter_chains": {"a": 1}}}}]},
        {"@type": "t.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {
            "name": "r", "virtual_hosts": [{"routes": [[]], "domains": "x"}]}}]},
        {"@type": "t.SecretsConfigDump", "dynamic_active_secrets": [
            {"name": "s", "secret": {"tls_certificate": {"certificate_chain": {"inline_bytes": "%%%not-base64"}}}},
            {"name": ["x"], "secret": []}]},
        {"@type": "t.BootstrapConfigDump", "bootstrap": {"node": [], "static_resources": {"clusters": "x"},
                                                          "admin": "x", "dynamic_resources": [1]}}]},
    "type-not-str": {"configs": [{"@type": 7}, {"@type": ["t.ClustersConfigDump"]}]},
    "configs-dict": {"configs": {"@type": "t.ClustersConfigDump"}},
    "not-object": [1, 2, 3],
    "huge-int": None,  # written by hand below
}


def write_wrong_types(root: Path) -> list[str]:
    names = []
    for name, doc in WRONG_TYPES.items():
        text = json.dumps(doc) if doc is not None else '{"configs": [' + "9" * 5000 + "]}"
        (root / f"{name}.json").write_text(text)
        names.append(f"{name}.json")
    return names


def test_d13_wrong_typed_dumps_are_skipped_or_refused_never_crash(root):
    for name in write_wrong_types(root):
        for kind in KINDS:
            for output in ("table", "json"):
                try:
                    r = call("proxy_config", kind=kind, file=name, output=output)
                except InvalidInput as e:
                    # refused as no config dump, or with istioctl's own sentence when nothing usable is left
                    assert "Next:" in str(e) and any(w in str(e) for w in (
                        "not an Envoy config dump", "not JSON", "found in the config dump (istioctl: no ")), str(e)
                    continue
                render_proxy_config(r)
    with pytest.raises(InvalidInput, match="not an Envoy config dump"):
        call("proxy_config", kind="cluster", file="configs-null-1.json")
    r = call("proxy_config", kind="cluster", file="cluster-str.json")
    assert [row[0] for row in r.tables[0].rows] == ["ok.example.com"]
    assert any("is a string, not an object" in s for s in r.skipped)
    r = call("proxy_config", kind="listener", file="port-notaport.json")
    assert r.tables[0].rows == [] and any("'notaport' is not a port" in s for s in r.skipped)
    assert "notaport" in render_proxy_config(r)
    r = call("proxy_config", kind="endpoint", file="port-notaport.json")
    assert r.tables[0].rows == [] and r.skipped


def test_d13_cli_wrong_typed_dumps_exit_cleanly(root):
    write_wrong_types(root)
    r = cli("pc", "cluster", "--file", "cluster-str.json", cwd=root)  # the sweep's `pc cluster -f dump-wrongtypes.json`
    assert r.returncode == 0 and "Traceback" not in r.stderr and "ok.example.com" in r.stdout
    assert "skipped malformed entries" in r.stdout
    for name, kind in (("configs-null-1.json", "all"), ("huge-int.json", "cluster")):
        assert_clean_error(cli("pc", kind, "--file", name, cwd=root), 2)
    r = cli("pc", "all", "--file", "list-for-dict.json", "-o", "json", cwd=root)
    assert r.returncode == 0 and "Traceback" not in r.stderr


def deep_files(root: Path) -> dict[str, str]:
    n = 50_000
    files = {
        "deep-seq.yaml": "a: " + "[" * n + "]" * n + "\n",  # the sweep's 50k-deep flow YAML
        "deep-map.yaml": "a: " + "{a: " * n + "1" + "}" * n + "\n",
        "deep-block.yaml": "".join(" " * i + "a:\n" for i in range(900)) + " " * 900 + "b: 1\n",
        "deep.json": '{"configs": ' + "[" * 100_000 + "]" * 100_000 + "}",  # the sweep's 100k-deep dump
        "deep-inside.json": '{"configs": [{"@type": "t.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": '
                            '{"name": "a", "x": ' + "[" * 900 + "]" * 900 + "}}]}]}",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return files


def test_d13_deep_nesting_is_a_typed_error(root):
    deep_files(root)
    for name in ("deep-seq.yaml", "deep-map.yaml", "deep-block.yaml"):
        with pytest.raises(InvalidInput, match="nest") as e:
            call("list_workloads", files=[name])
        assert "Next:" in str(e.value)
    for name in ("deep.json", "deep-inside.json"):
        with pytest.raises(InvalidInput, match="not an Envoy config dump.*nested") as e:
            call("proxy_config", kind="cluster", file=name)
    for args in (("workloads", "-f", "deep-seq.yaml"), ("workloads", "-f", "deep-block.yaml"),
                 ("overview", "-f", "deep-map.yaml"), ("pc", "cluster", "--file", "deep.json"),
                 ("pc", "all", "--file", "deep-inside.json", "-o", "json")):
        assert_clean_error(cli(*args, cwd=root), 2, "nested")


def test_d13_bad_paths_are_typed_errors_that_echo_little(root):
    deep_files(root)  # so that walking the whole root would hit the deep files
    (root / "ok.yaml").write_text(LEGIT)
    (root / "folder").mkdir()
    os.mkfifo(root / "fifo.json")  # a pipe never answers: it must be refused, not read
    long_name = "n" * 4096
    cases = [
        ("list_workloads", {"files": [""]}, "empty file path"),  # must not walk the whole root
        ("list_workloads", {"files": ["ok\x00.yaml"]}, "NUL"),
        ("list_workloads", {"files": [long_name]}, "too long"),
        ("list_workloads", {"files": ["a" * 3_000_000]}, "too long"),
        ("proxy_config", {"kind": "cluster", "file": ""}, "empty file path"),
        ("proxy_config", {"kind": "cluster", "file": "x\x00.json"}, "NUL"),
        ("proxy_config", {"kind": "cluster", "file": "folder"}, "is a folder"),
        ("proxy_config", {"kind": "cluster", "file": long_name[:4000]}, "too long"),
        ("proxy_config", {"kind": "cluster", "file": "fifo.json"}, "not a regular file"),
        ("analyze", {"files": ["ok.yaml"], "mesh_config_file": "folder"}, "is a folder"),
        ("analyze", {"files": ["ok.yaml"], "mesh_config_file": "m\x00.yaml"}, "NUL"),
        ("analyze", {"files": ["ok.yaml"], "mesh_config_file": long_name[:4000]}, "too long"),
        ("analyze", {"files": ["ok.yaml"], "mesh_config_file": ""}, "empty file path"),
        ("analyze", {"files": ["ok.yaml"], "mesh_config_file": "deep-map.yaml"}, "nested"),
    ]
    for tool, kw, needle in cases:
        with pytest.raises(InvalidInput) as e:
            call(tool, **kw)
        text = str(e.value)
        assert needle in text and "Next:" in text and len(text) < 700, (tool, needle, text[:300])
    with pytest.raises(NotFound):
        call("proxy_config", kind="cluster", file="missing.json")
    (root / "walk").mkdir()
    os.mkfifo(root / "walk" / "pipe.yaml")
    (root / "walk" / "ok.yaml").write_text(LEGIT)
    assert call("mesh_overview", files=["walk"]).model_dump_json().count("legit-ns") >= 1


def test_d13_cli_bad_paths(root):
    (root / "ok.yaml").write_text(LEGIT)
    (root / "folder").mkdir()
    assert_clean_error(cli("workloads", "-f", "", cwd=root), 2, "empty file path")
    assert_clean_error(cli("analyze", "ok.yaml", "--mesh-config-file", "folder", cwd=root), 2, "is a folder")
    assert_clean_error(cli("analyze", "ok.yaml", "--mesh-config-file", "m" * 4096, cwd=root), 2, "too long")
    assert_clean_error(cli("pc", "cluster", "--file", "folder", cwd=root), 2, "is a folder")
    r = cli("workloads", "-f", "x" * 4096, cwd=root)
    assert_clean_error(r, 2, "too long")
    assert len(r.stderr) < 700


# -- D15: MESH_PLUGIN_READ_ONLY --------------------------------------------------------------------------
def test_d15_env_flag_values(monkeypatch):
    for value, want in [("1", True), ("true", True), ("yes", True), ("y", True), ("on", True), ("enabled", True),
                        (" 1", True), ("ON", True), (" Enabled\n", True), ("0", False), ("false", False),
                        ("no", False), ("n", False), ("off", False), ("disabled", False), ("", False),
                        ("  ", False), ("OFF", False)]:
        monkeypatch.setenv("MESH_PLUGIN_READ_ONLY", value)
        assert env_flag("MESH_PLUGIN_READ_ONLY") is want, repr(value)
    monkeypatch.delenv("MESH_PLUGIN_READ_ONLY")
    assert env_flag("MESH_PLUGIN_READ_ONLY") is False and env_flag("MESH_PLUGIN_READ_ONLY", True) is True
    kubeconfig, read_only = RUNTIME.kubeconfig, RUNTIME.read_only
    for bad in ("maybe", "2", "tru", "x" * 5000):
        monkeypatch.setenv("MESH_PLUGIN_READ_ONLY", bad)
        with pytest.raises(InvalidInput, match="MESH_PLUGIN_READ_ONLY") as e:
            configure("/somewhere/else")
        assert len(str(e.value)) < 500 and "Next:" in str(e.value)
        assert (RUNTIME.kubeconfig, RUNTIME.read_only) == (kubeconfig, read_only)  # refused before any change
    monkeypatch.setenv("MESH_PLUGIN_READ_ONLY", "on")
    try:
        assert configure(kubeconfig).read_only is True
        monkeypatch.setenv("MESH_PLUGIN_READ_ONLY", "off")
        assert configure(kubeconfig, read_only=False).read_only is False
        assert configure(kubeconfig, read_only=True).read_only is True  # the flag wins over an 'off' env
    finally:
        monkeypatch.delenv("MESH_PLUGIN_READ_ONLY")
        configure(kubeconfig, read_only=read_only)


def test_d15_cli_read_only_values():
    writes = write_tools()
    assert writes
    for value in ("on", "y", "enabled", " 1"):  # the sweep's four values that failed open
        r = cli("tools", MESH_PLUGIN_READ_ONLY=value)
        assert r.returncode == 0 and "mesh_overview" in r.stdout, r.stderr
        assert not [w for w in writes if w in r.stdout], value
    r = cli("tools", MESH_PLUGIN_READ_ONLY="off")
    assert r.returncode == 0 and all(w in r.stdout for w in writes)
    assert_clean_error(cli("tools", MESH_PLUGIN_READ_ONLY="maybe"), 2, "MESH_PLUGIN_READ_ONLY")


# -- fresh snapshots (for writes) ------------------------------------------------------------------------
def test_snapshot_fresh_bypasses_and_refreshes_the_cache(fresh_sandbox, monkeypatch):
    from mesh_plugin.kube import KINDS, KubeClient

    rt = configure(fresh_sandbox.kubeconfig, "sandbox")
    monkeypatch.setattr(rt, "snapshot_ttl", 300.0)

    def label(snap):
        return (snap.get("VirtualService", "reviews", "production")["metadata"].get("labels") or {}).get("edited-by")

    assert label(rt.snapshot(["VirtualService"], "production")) is None
    KubeClient.connect(fresh_sandbox.kubeconfig).patch(KINDS["VirtualService"], "reviews", "production",
                                                        {"metadata": {"labels": {"edited-by": "oncall-human"}}})
    assert label(rt.snapshot(["VirtualService"], "production")) is None  # cached
    assert label(rt.snapshot(["VirtualService"], "production", fresh=True)) == "oncall-human"
    assert label(rt.snapshot(["VirtualService"], "production")) == "oncall-human"  # the cache was refreshed


# -- MCP over stdio: a real `mesh-plugin serve` with the temporary folder as its files root -----------------
async def test_mcp_stdio_symlinks_redaction_typed_errors_and_read_only(links, key_dump):
    write_wrong_types(links)
    deep_files(links)
    env = clean_env(MESH_PLUGIN_FILES_ROOT=str(links), MESH_PLUGIN_READ_ONLY=" Enabled ")
    params = StdioServerParameters(command=BIN, args=["serve"], env=env, cwd=str(links))
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params, errlog=devnull) as (read, write):
            async with mcp.ClientSession(read, write) as session:
                await session.initialize()

                async def run(operation: str, args: dict) -> tuple[bool, str]:
                    r = await session.call_tool(*mcp_call(operation, args))
                    text = "".join(getattr(c, "text", "") for c in r.content) + json.dumps(r.structured_content)
                    return r.is_error, text

                names = {t.name for t in (await session.list_tools()).tools}
                assert "mesh_overview" in names and not names & write_tools()  # D15: " Enabled " means read-only
                # D12: the sweep's calls, and the dump and mesh config behind symlinks
                for tool, args in (("mesh_overview", {"files": ["linkdir"]}), ("analyze", {"files": ["linkdir"]}),
                                   ("mesh_overview", {"files": ["tree"]}), ("list_workloads", {"files": ["."]}),
                                   ("proxy_config", {"kind": "all", "file": "dumps/d.json", "output": "json"}),
                                   ("analyze", {"files": ["tree"], "mesh_config_file": "mesh-link.yaml"})):
                    _, text = await run(tool, args)
                    assert "LEAKME" not in text and "leaked-outside-ns" not in text, (tool, args, text[:500])
                err, text = await run("mesh_overview", {"files": ["linkdir"]})
                assert err and "outside the allowed folder" in text and "Next:" in text
                # D9
                for kind in KINDS:
                    for output in ("table", "json"):
                        err, text = await run("proxy_config", {"kind": kind, "file": key_dump, "output": output})
                        assert not err and not leaks(text), (kind, output, leaks(text), text[:300])
                # D13: a typed error with a next step, never a bare "Error executing tool"
                for tool, args, needle in (
                        ("list_workloads", {"files": ["deep-seq.yaml"]}, "nest"),
                        ("proxy_config", {"kind": "cluster", "file": "deep.json"}, "nested"),
                        ("proxy_config", {"kind": "cluster", "file": "configs-null-1.json"}, "not an Envoy config"),
                        ("proxy_config", {"kind": "all", "file": "list-for-dict.json"}, None),
                        ("list_workloads", {"files": ["a\u0000b.yaml"]}, "NUL"),
                        ("list_workloads", {"files": [""]}, "empty file path"),
                        ("analyze", {"files": ["tree"], "mesh_config_file": "tree"}, "is a folder"),
                        ("list_workloads", {"files": ["a" * 3_000_000]}, "too long")):
                    err, text = await run(tool, args)
                    if needle is None:  # wrong types inside: rows skipped and said so
                        assert not err and ("malformed" in text or "not a list" in text), text[:500]
                        continue
                    assert err and needle in text and "Next:" in text, (tool, needle, text[:500])
                    assert len(text) < 2000, (tool, len(text))
