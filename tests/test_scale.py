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
