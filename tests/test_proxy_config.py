"""proxy-config, proxy_status and proxy_log_level: istioctl's goldens, and the sandbox's real Envoy sidecars."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_plugin.errors import ConfirmationRequired, InvalidInput, NotFound, Unreachable
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool

ROOT = Path(__file__).resolve().parent
CASES_DIR = ROOT / "data/istio-proxy-config"
BIN = str(Path(sys.executable).parent / "mesh-plugin")
FQDN = "payment-api.production.svc.cluster.local"


def test_istioctl_goldens_cell_by_cell():
    r = subprocess.run([sys.executable, str(ROOT / "conformance/run_proxy_config.py"), str(CASES_DIR),
                        "--cmd", f"{BIN} proxy-config"], capture_output=True, text=True, timeout=300)
    n = len(json.loads((CASES_DIR / "cases.json").read_text()))
    assert r.stdout.strip().splitlines()[-1] == f"{n} passed, 0 failed", r.stdout[-3000:]


def pc(**kw):
    return get_tool("proxy_config").call(**kw)


def raw_json(**kw):
    """output=json, every page read (the raw config is paged by lines of JSON text), parsed."""
    text, offset = [], 0
    while True:
        r = pc(output="json", offset=offset, **kw)
        text.append(r.raw)
        if r.raw_page.shown + r.raw_page.offset >= r.raw_page.total:
            return json.loads("\n".join(text))
        offset = r.raw_page.offset + r.raw_page.shown


def test_live_clusters_listeners_routes(runtime, sandbox):
    pod = sandbox.pod_name("frontend")
    t = pc(kind="cluster", pod=pod, namespace="production", filter={"fqdn": "payment-api"}).tables[0]
    assert t.headers == ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    assert sorted(r[2] for r in t.rows) == ["-", "v1", "v2"]
    assert all(r[0] == FQDN and r[1] == "8080" and r[3] == "outbound" and r[4] == "EDS" for r in t.rows)
    t = pc(kind="listener", pod=pod, namespace="production").tables[0]
    dests = {r[3] for r in t.rows}
    assert "Route: 8080" in dests and "PassthroughCluster" in dests
    assert {"Trans: tls", "ALL"} <= {r[2] for r in t.rows}
    t = pc(kind="route", pod=pod, namespace="production", filter={"name": "8080"}).tables[0]
    # istiod's domains (the FQDN, with a dot, the short names, the ClusterIP; no :port variants) as the pinned
    # istioctl proxy-config route renders them for this dump
    assert ["8080", f"{FQDN}:8080", f"{FQDN}., payment-api + 2 more...", "/*", "payment-api.production"] in t.rows


def test_live_secrets_are_metadata_only(runtime, sandbox):
    r = pc(kind="secret", pod=sandbox.pod_name("frontend"), namespace="production")
    rows = {row[0]: row for row in r.tables[0].rows}
    assert rows["default"][1:4] == ["Cert Chain", "ACTIVE", "true"] and rows["ROOTCA"][1] == "CA"
    text = json.dumps(raw_json(kind="secret", pod=sandbox.pod_name("frontend"), namespace="production"))
    assert "spiffe://cluster.local/ns/production/sa/frontend" in text
    assert "PRIVATE KEY" not in text and "inline_bytes" not in text
    dump = raw_json(kind="all", pod=sandbox.pod_name("frontend"), namespace="production")[0]
    assert dump["configs"] and "PRIVATE KEY" not in json.dumps(dump)


def test_live_endpoints_show_the_ejected_host(runtime, sandbox):
    codes, r = sandbox.during_ejection("frontend", 8080, "payment-api", lambda: pc(
        kind="endpoint", pod=sandbox.pod_name("frontend"), namespace="production", filter={"cluster": "payment-api"}),
        lb=99)
    assert set(codes) == {503}
    t = r.tables[0]
    assert t.headers == ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER", "POD"]  # live: the pod behind each
    v2 = sandbox.endpoint(sandbox.pod_name("payment-api-v2"))
    pod = "-" if v2.startswith("127.") else f"production/{sandbox.pod_name('payment-api-v2')}"  # pod IPs only
    assert t.rows[0] == [v2, "HEALTHY", "FAILED", f"outbound|8080|v2|{FQDN}", pod]
    assert all(r[2] == "OK" for r in t.rows[1:])


def test_json_output_is_filtered_and_paged(runtime, sandbox):
    """output=json pages the JSON text by lines under the budget, whatever the size of one object: a
    bootstrap alone was 79 KB (issue 20)."""
    for kind in ("cluster", "bootstrap", "all"):
        r = pc(kind=kind, pod=sandbox.pod_name("frontend"), namespace="production", output="json")
        assert len(r.model_dump_json()) < 8000 and r.raw_page.total > r.raw_page.shown, kind
        assert f"showing lines 1-{r.raw_page.shown} of {r.raw_page.total}" in r.raw_page.note
        assert f"next page: offset={r.raw_page.shown}" in r.raw_page.note
    clusters = raw_json(kind="cluster", pod=sandbox.pod_name("frontend"), namespace="production",
                        filter={"subset": "v2", "fqdn": "payment-api"})
    assert [c["name"] for c in clusters] == [f"outbound|8080|v2|{FQDN}"]
    assert clusters[0]["outlier_detection"]["consecutive_5xx"] == 2
    with pytest.raises(InvalidInput, match="Invalid filter: fqnd"):
        pc(kind="cluster", pod=sandbox.pod_name("frontend"), namespace="production", filter={"fqnd": "x"})


def test_bad_input(runtime, sandbox, tmp_path):
    with pytest.raises(InvalidInput, match="no Envoy sidecar"):
        pc(kind="cluster", pod=sandbox.pod_name("legacy-batch"), namespace="production")
    with pytest.raises(NotFound):
        pc(kind="cluster", pod="ghost", namespace="production")
    with sandbox.sidecar_down("reviews-v1"), pytest.raises(Unreachable):
        pc(kind="cluster", pod=sandbox.pod_name("reviews-v1"), namespace="production")
    bad = tmp_path / "dump.json"
    bad.write_text('{"hello": "world"}')
    with pytest.raises(InvalidInput, match="not an Envoy config dump"):
        pc(kind="cluster", file=str(bad))
    bad.write_text("not json at all")
    with pytest.raises(InvalidInput, match="is not JSON"):
        pc(kind="cluster", file=str(bad))
    with pytest.raises(InvalidInput, match="No namespace"):
        pc(kind="cluster", pod="frontend")
    r = subprocess.run([BIN, "proxy-config", "cluster", "-f", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_log_level_dry_run_then_apply(runtime, sandbox, capfd):
    pod = sandbox.pod_name("payment-api-v1")
    before = dict(pc(kind="log", pod=pod, namespace="production", filter={"name": "upstream"}).tables[0].rows)
    assert before == {"upstream": "warning"}
    dry = get_tool("proxy_log_level").call(pod=pod, namespace="production", level="debug", logger="upstream")
    assert not dry.applied and dry.changes == ["upstream: warning -> debug"]
    assert dict(pc(kind="log", pod=pod, namespace="production", filter={"name": "upstream"}).tables[0].rows) == before
    with pytest.raises(ConfirmationRequired):  # production: at debug and trace Envoy may log tokens (D14)
        get_tool("proxy_log_level").call(pod=pod, namespace="production", level="debug", logger="upstream",
                                         apply=True)
    done = get_tool("proxy_log_level").call(pod=pod, namespace="production", level="debug", logger="upstream",
                                            apply=True, confirm="production")
    assert done.applied and "level=warning logger=upstream" in done.rollback
    assert "audit:" in capfd.readouterr().err
    assert dict(pc(kind="log", pod=pod, namespace="production", filter={"name": "upstream"}).tables[0].rows) == {
        "upstream": "debug"}
    get_tool("proxy_log_level").call(pod=pod, namespace="production", level="warning", logger="upstream", apply=True,
                                     confirm="production")
    with pytest.raises(InvalidInput, match="no logger"):
        get_tool("proxy_log_level").call(pod=pod, namespace="production", level="debug", logger="nosuchlogger")


def test_proxy_status_flags_a_diverging_sidecar(runtime, sandbox):
    r = get_tool("proxy_status").call(namespace="production")
    by = {s.pod: s for s in r.sidecars}
    fe = by[sandbox.pod_name("frontend")]
    assert fe.status == "SYNCED" and fe.envoy_version == "1.40.0" and fe.istio_version == seed.ISTIO_VERSION
    down = sandbox.pod_name("reviews-v1")
    with sandbox.sidecar_down("reviews-v1"):
        since = len(sandbox.api.request_log)
        r = get_tool("proxy_status").call(namespace="production")
        asked = [p for m, p in sandbox.api.request_log[since:] if f"/pods/{down}:15000/" in p]
    down_row = {s.pod: s for s in r.sidecars}[down]
    assert down_row.status == "UNREACHABLE" and "not reachable" in down_row.detail
    # the pod proxy's 503 is an answer, not retried; and no config_dump is asked of a sidecar that is down
    assert asked == [f"/api/v1/namespaces/production/pods/{down}:15000/proxy/server_info"]
    assert {s.pod: s for s in r.sidecars}[fe.pod].status == "SYNCED"

    def weights(v1: int, v2: int):
        def change(vs):
            vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = v1, v2
        return change

    try:  # a control-plane push that did not reach this proxy: it still applies 90/10, the config says 50/50
        with sandbox.hold_pushes("frontend"):
            sandbox.edit("networking.istio.io", "virtualservices", "production", "payment-api", weights(50, 50))
            sandbox.push_routes()
            import time

            for _ in range(100):
                r = get_tool("proxy_status").call(namespace="production")
                fe = next(s for s in r.sidecars if s.pod == sandbox.pod_name("frontend"))
                if fe.status == "DIVERGED":
                    break
                time.sleep(0.05)
            assert fe.status == "DIVERGED" and r.sidecars[0].pod == fe.pod
            assert "v1=50 v2=50" in fe.detail and "v1=90 v2=10" in fe.detail
    finally:
        sandbox.edit("networking.istio.io", "virtualservices", "production", "payment-api", weights(90, 10))
        sandbox.push_routes()
