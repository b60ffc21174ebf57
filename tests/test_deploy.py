"""Team deployment: the manifests and the Helm chart render, their RBAC is exactly what the tools call
(checked against the requests the tools make to the sandbox), and HTTP serving requires a bearer token."""
from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from mesh_plugin.rbac import WRITE_KEYS, allowed, read_rules, write_rules
from mesh_plugin.runtime import configure
from mesh_plugin.tools import get_tool

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy/helm/mesh-plugin"


def render_chart(values: dict, name: str = "mesh-plugin", namespace: str = "tools") -> list[dict]:
    """Enough of Helm's template language for this chart: values, release fields, if/else/end."""
    out = []
    for tpl in sorted((CHART / "templates").glob("*.yaml")):
        text = tpl.read_text()

        def cond(m: re.Match) -> str:
            neg, key, body, other = m.group(1), m.group(2), m.group(3), m.group(4) or ""
            on = bool(values.get(key))
            return body if on != bool(neg) else other

        text = re.sub(r"\{\{-? if (not )?\.Values\.(\w+) \}\}\n(.*?)(?:\{\{-? else \}\}\n(.*?))?\{\{-? end \}\}\n?",
                      cond, text, flags=re.S)
        text = re.sub(r"\{\{ \.Values\.(\w+) \}\}", lambda m: str(values[m.group(1)]), text)
        text = text.replace("{{ .Release.Name }}", name).replace("{{ .Release.Namespace }}", namespace)
        assert "{{" not in text, f"unrendered template in {tpl.name}"
        out += [d for d in yaml.safe_load_all(text) if d]
    return out


def test_plain_manifests_and_chart_agree_with_the_code():
    plain = [d for f in ("mesh-plugin.yaml", "writer.yaml") for d in yaml.safe_load_all((ROOT / "deploy" / f).read_text())
             if d]
    roles = {d["metadata"]["name"]: d["rules"] for d in plain if d["kind"] == "ClusterRole"}
    assert roles == {"mesh-plugin-read": read_rules(), "mesh-plugin-write": write_rules()}
    dep = next(d for d in plain if d["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "--read-only" and "streamable-http" in args
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    ro = render_chart(values)
    assert {d["kind"] for d in ro} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"}
    ro_roles = {d["metadata"]["name"]: d["rules"] for d in ro if d["kind"] == "ClusterRole"}
    assert ro_roles == {"mesh-plugin-read": read_rules()}
    rw = render_chart({**values, "readOnly": False})
    rw_roles = {d["metadata"]["name"]: d["rules"] for d in rw if d["kind"] == "ClusterRole"}
    assert rw_roles == {"mesh-plugin-read": read_rules(), "mesh-plugin-write": write_rules()}
    rw_args = next(d for d in rw if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--read-only" not in rw_args
    for role in write_rules():
        for r in role.get("resources", []):
            assert r in ("pods/proxy",) or any(r == __import__("mesh_plugin.kube.kinds", fromlist=["KINDS"]).KINDS[k].plural
                                               for k in WRITE_KEYS)


def test_deployments_keep_rollback_records_on_a_writable_volume():
    """readOnlyRootFilesystem: the state dir (rollback records) and the tools/list cache must be on a mounted
    volume, or every applied write would be refused for want of bookkeeping (issue 17, D5)."""
    plain = [d for d in yaml.safe_load_all((ROOT / "deploy/mesh-plugin.yaml").read_text()) if d]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rendered = [plain, render_chart(values), render_chart({**values, "readOnly": False}),
                render_chart({**values, "stateClaim": "mesh-plugin-state"})]
    for docs in rendered:
        dep = next(d for d in docs if d["kind"] == "Deployment")
        pod = dep["spec"]["template"]["spec"]
        [c] = pod["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e.get("value") for e in c["env"]}
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for var in ("MESH_PLUGIN_STATE_DIR", "MESH_PLUGIN_CACHE_DIR"):
            assert any(env[var].startswith(path + "/") and name in volumes for name, path in mounts.items()), var
    claim = next(d for d in rendered[3] if d["kind"] == "Deployment")["spec"]["template"]["spec"]["volumes"][0]
    assert claim["persistentVolumeClaim"] == {"claimName": "mesh-plugin-state"}


def _calls(api, since: int) -> list[tuple[str, str, str]]:
    """(verb, group, resource) of the requests since a point in the sandbox's log."""
    out = []
    for method, path in api.request_log[since:]:
        p, _, q = path.partition("?")
        if p == "/version":
            out.append(("get", "", "/version"))
            continue
        segs = p.strip("/").split("/")
        group, rest = ("", segs[2:]) if segs[0] == "api" else (segs[1], segs[3:])
        if rest and rest[0] == "namespaces" and len(rest) > 2:
            rest = rest[2:]
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        if len(rest) > 2 and rest[2] == "proxy":
            resource += "/proxy"
        elif name and ":" in name and len(rest) > 2:
            resource += "/" + rest[2]
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}[method]
        if resource.endswith("/proxy"):
            verb = "get" if method == "GET" else "create"
        out.append((verb, group, resource))
    return out


def test_rbac_covers_exactly_what_the_tools_call(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    configure(sandbox.kubeconfig, "sandbox", prometheus_url="http://127.0.0.1:9")
    api = sandbox.api
    since = len(api.request_log)
    for name, kw in [("mesh_overview", {}), ("list_workloads", {}), ("analyze", {}),
                     ("mtls_status", {}),
                     ("describe_routing", {"host": "payment-api", "namespace": "production"}),
                     ("resilience_status", {"host": "payment-api", "namespace": "production"}),
                     ("proxy_status", {"namespace": "production"}),
                     ("proxy_config", {"kind": "log", "pod": sandbox.pod_name("frontend"), "namespace": "production"}),
                     ("authz_check", {"to": "production/payment-api-v1"})]:
        get_tool(name).call(**kw)
    reads = _calls(api, since)
    rules = read_rules()
    missing = [c for c in reads if c[2] != "/version" and not allowed(rules, c[0], c[1], c[2])]
    # reading log levels is a POST (Envoy lists loggers on POST /logging): that one needs the writer role
    assert [c for c in missing if c != ("create", "", "pods/proxy")] == []
    used = {(g, r) for _, g, r in reads}
    granted = {(g, r) for rule in rules for g in rule.get("apiGroups", []) for r in rule.get("resources", [])}
    assert {("", "pods"), ("", "pods/proxy"), ("networking.istio.io", "virtualservices")} <= used <= granted | {
        ("", "/version")}
    since = len(api.request_log)
    done = get_tool("set_outlier_detection").call(host="reviews", namespace="production",
                                                  settings={"consecutive5xxErrors": 10}, apply=True,
                                                  confirm="production")
    get_tool("rollback_change").call(handle=done.changes[0].rollback_handle, apply=True, confirm="production")
    # every other write, as a server-side dry-run (the same verbs as applying it)
    for name, kw in [("set_traffic_split", {"host": "payment-api", "weights": {"v1": 50, "v2": 50}}),
                     ("set_traffic_mirror", {"host": "payment-api", "subset": "v2", "percent": 10}),
                     ("set_connection_pool", {"host": "reviews", "settings": {"tcp": {"maxConnections": 10}}}),
                     ("set_mtls_mode", {"mode": "PERMISSIVE"}),
                     ("generate_jwt_policy", {"workload": "payment-api-v1",
                                              "jwt": {"issuer": "https://idp.example.com",
                                                      "jwks_uri": "https://idp.example.com/jwks"}}),
                     ("set_linkerd_split", {"host": "payment-api", "weights": {"payment-api": 90, "reviews": 10}})]:
        r = get_tool(name).call(namespace="production", **kw)
        assert r.changes if hasattr(r, "changes") else r, name
    both = rules + write_rules()
    writes = [c for c in _calls(api, since) if c[0] in ("create", "update", "patch", "delete")]
    assert writes and all(allowed(both, *c) for c in writes), writes
    assert not any(allowed(rules, *c) for c in writes)  # the read role alone cannot write


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_serving_needs_the_bearer_token(sandbox):
    port = _port()
    env = {**os.environ, "KUBECONFIG": sandbox.kubeconfig, "MESH_PLUGIN_AUTH_TOKEN": "s3cret"}
    r = subprocess.run([str(Path(sys.executable).parent / "mesh-plugin"), "serve", "--transport", "streamable-http",
                        "--host", "0.0.0.0", "--port", str(port)],
                       env={k: v for k, v in env.items() if k != "MESH_PLUGIN_AUTH_TOKEN"}, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "bearer token" in r.stderr
    proc = subprocess.Popen([str(Path(sys.executable).parent / "mesh-plugin"), "--read-only", "serve", "--transport",
                             "streamable-http", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 401

        import httpx2
        import mcp
        from mcp.client.streamable_http import streamable_http_client

        async def go():
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}) as http:
                async with streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (rd, wr):
                    async with mcp.ClientSession(rd, wr) as s:
                        await s.initialize()
                        return {t.name for t in (await s.list_tools()).tools}

        names = asyncio.run(go())
        assert "mesh_overview" in names and "set_mtls_mode" not in names
    finally:
        proc.terminate()
        proc.wait(10)


def test_file_inputs_stay_inside_the_root(tmp_path, runtime):
    from mesh_plugin.errors import InvalidInput
    from mesh_plugin.runtime import RUNTIME

    RUNTIME.files_root = str(tmp_path)
    try:
        (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
        assert get_tool("mesh_overview").call(files=["ok.yaml"]).namespaces_page.total == 1
        for bad in ("../../etc/passwd", "/etc/hostname", "-"):
            with pytest.raises(InvalidInput, match="outside the allowed folder"):
                get_tool("mesh_overview").call(files=[bad])
        with pytest.raises(InvalidInput, match="outside the allowed folder"):
            get_tool("proxy_config").call(kind="cluster", file="/etc/hostname")
    finally:
        RUNTIME.files_root = None


def test_the_image_installs_from_the_lock():
    """deploy/Dockerfile installs what `make wheel` builds: the lock's runtime closure with hashes (no resolver),
    then the wheel without dependencies; the commands it copies are the names the wheel target writes."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    docker = (root / "deploy/Dockerfile").read_text()
    run = " ".join(line.strip().rstrip("\\") for line in docker.split("RUN ", 1)[1].split("\nUSER")[0].splitlines())
    assert "pip install --no-cache-dir --require-hashes -r /tmp/dist/requirements.txt" in run
    assert "pip install --no-cache-dir --no-deps /tmp/dist/mesh_plugin-*-py3-none-any.whl" in run
    make = (root / "Makefile").read_text()
    assert "-o $(DIST)/requirements.txt" in make and "build -q --wheel --out-dir $(DIST)" in make
    assert "COPY src" not in docker and "pip install --no-cache-dir ." not in docker
