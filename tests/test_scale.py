"""Scale behaviour on a generated cluster served by the sandbox API: one LIST per kind (pages aside),
answers within budget, snapshot reuse within the TTL, invalidation on writes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from generate import generate  # noqa: E402

from mesh_plugin.runtime import configure  # noqa: E402
from mesh_plugin.sandbox import Sandbox  # noqa: E402
from mesh_plugin.tools import get_tool  # noqa: E402


@pytest.fixture(scope="module")
def big():
    sb = Sandbox(envoy=False, seed_cluster=False).start()
    for o in generate(namespaces=60, pods=1200, services=200, virtualservices=300, destinationrules=300,
                      peerauthentications=60, authorizationpolicies=80, gateways=5):
        sb.api.put_object(o)
    yield sb
    sb.stop()


def lists(sb, since):
    log = sb.api.request_log[since:]
    return ([p for m, p in log if m == "GET" and "limit=" in p and "continue=" not in p],
            [p for m, p in log if "continue=" in p])


@pytest.mark.parametrize("tool,kwargs", [("list_workloads", {}), ("mtls_status", {}), ("analyze", {}),
                                         ("mesh_overview", {})])
def test_one_list_per_kind_and_answers_within_budget(big, tool, kwargs):
    rt = configure(big.kubeconfig, "sandbox", prometheus_url="http://127.0.0.1:9")
    since = len(big.api.request_log)
    out = get_tool(tool).call(**kwargs)
    first_pages, continued = lists(big, since)
    kinds = [p.split("?")[0] for p in first_pages]
    assert len(kinds) == len(set(kinds)), "a kind was listed twice"
    assert continued, "1,200 pods take several pages of 500"
    others = [p for m, p in big.api.request_log[since:] if "limit=" not in p]
    assert len(others) <= 1, others  # at most GET /version (mesh_overview)
    assert len(out.model_dump_json().encode()) <= 8000
    page = getattr(out, "page", None) or out.namespaces_page
    assert page.note and page.note.startswith(f"showing {page.shown} of {page.total}")
    del rt


def test_snapshot_reused_within_ttl_and_cleared_by_writes(big, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path))
    rt = configure(big.kubeconfig, "sandbox")
    rt.snapshot_ttl = 60
    try:
        get_tool("list_workloads").call(namespace="team-0001")
        since = big.api.requests_made
        get_tool("list_workloads").call(namespace="team-0001")
        assert big.api.requests_made - since == 1  # only the namespace existence check
        get_tool("set_mtls_mode").call(namespace="team-0001", mode="PERMISSIVE", apply=True)
        since = big.api.requests_made
        get_tool("list_workloads").call(namespace="team-0001")
        assert big.api.requests_made - since > 1  # the write emptied the cache
    finally:
        rt.snapshot_ttl = 0


MTLS_KEYS = ("Namespace", "Pod", "Service", "Deployment", "PeerAuthentication", "DestinationRule", "ConfigMap")


def _ids(snap, key):
    return sorted((o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in snap.of(key))


def test_a_namespace_question_reads_that_namespace(big):
    """Per-workload kinds in the namespace, policies there and in the root namespace, the mesh config by name,
    routing kinds whole; and the objects are exactly the whole-cluster read's, for those namespaces."""
    from mesh_plugin.kube.snapshot import Snapshot

    rt = configure(big.kubeconfig, "sandbox")
    big.api.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "team-0003"},
                        "data": {"k": "v"}})
    big.api.put_object({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                        "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}})
    since = len(big.api.request_log)
    snap = rt.snapshot(MTLS_KEYS, None, None, scoped="team-0003")
    first, _ = lists(big, since)
    paths = sorted(p.split("&limit=")[0].split("?limit=")[0] for p in first)
    assert "/api/v1/namespaces/team-0003/pods" in paths and "/api/v1/pods" not in paths
    assert "/api/v1/namespaces/team-0003/services" in paths
    assert {"/apis/security.istio.io/v1/namespaces/team-0003/peerauthentications",
            "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications"} <= set(paths)
    assert "/apis/networking.istio.io/v1/destinationrules" in paths  # routing applies across namespaces
    assert any(p.startswith("/api/v1/configmaps?") and "fieldSelector=metadata.name%3Distio" in p for p in first)
    whole = Snapshot.from_cluster(rt.client(), MTLS_KEYS)
    for key, spaces in (("Pod", {"team-0003"}), ("Service", {"team-0003"}),
                        ("PeerAuthentication", {"team-0003", "istio-system"})):
        assert _ids(snap, key) == [i for i in _ids(whole, key) if i[0] in spaces] and _ids(snap, key)
    assert _ids(snap, "DestinationRule") == _ids(whole, "DestinationRule")
    assert ("team-0003", "other") not in _ids(snap, "ConfigMap")


def test_the_cache_drops_expired_entries(big):
    import time

    rt = configure(big.kubeconfig, "sandbox")
    rt.snapshot_ttl = 0.3
    try:
        rt.snapshot(("Pod", "Service"), "team-0001")
        assert {k[:2] for k in rt._cache} == {("Pod", "team-0001"), ("Service", "team-0001")}
        since = big.api.requests_made
        rt.snapshot(("Pod",), "team-0001")
        assert big.api.requests_made - since == 1  # the namespace check; the pods came from the cache
        time.sleep(0.35)
        rt.snapshot(("Namespace",))
        assert {k[0] for k in rt._cache} == {"Namespace"}  # expired entries are gone, not just ignored
        time.sleep(0.6)
        assert rt._cache == {}  # ... and an idle process does not keep them either
    finally:
        rt.snapshot_ttl = 0


@pytest.mark.parametrize("operation,args", [("mesh_overview", {}), ("list_workloads", {}), ("mtls_status", {}),
                                            ("analyze", {}), ("analyze", {"namespace": "team-0001"})])
def test_the_text_an_mcp_client_receives_fits_the_budget(big, operation, args):
    """Issue 20: the 8 KB budget holds for the text content actually sent over MCP, not a re-serialisation."""
    import asyncio

    import mcp

    from mcpproc import call_op
    from mesh_plugin.server import build_server

    configure(big.kubeconfig, "sandbox", prometheus_url="http://127.0.0.1:9")

    async def go():
        async with mcp.Client(build_server()) as c:
            return await call_op(c.session if hasattr(c, "session") else c, operation, args)
    r = asyncio.run(go())
    assert not r.is_error, r.content[0].text[:500]
    text = "".join(c.text for c in r.content if c.type == "text")
    assert len(text.encode()) <= 8000, len(text.encode())
    if not args:  # the whole mesh does not fit: the answer says what it shows and how to narrow
        assert len(text.encode()) > 4000 and "showing " in text and "narrow with" in text
