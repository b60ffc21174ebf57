"""The foundation tools against the sandbox (live) and against YAML files (offline)."""
from __future__ import annotations

import pytest
import yaml


from mesh_plugin.errors import InvalidInput, NotFound
from mesh_plugin.sandbox import seed
from mesh_plugin.tools import get_tool


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifests")
    objs, _ = seed.production()
    (d / "istio.yaml").write_text(yaml.safe_dump_all(seed.istio_control_plane()))
    (d / "production.yaml").write_text(yaml.safe_dump_all(objs))
    return str(d)


def test_mesh_overview_live(runtime):
    o = get_tool("mesh_overview").call()
    assert [(m.mesh, m.version, m.revisions, m.components_ready) for m in o.meshes] == \
        [("istio", seed.ISTIO_VERSION, ["default"], "1/1")]
    assert o.kubernetes_version == "v1.33.4"
    prod = next(n for n in o.namespaces if n.namespace == "production")
    assert (prod.injection, prod.pods, prod.meshed_pods, prod.coverage_pct) == ("istio-injection=enabled", 8, 7, 88)
    assert o.namespaces[0].namespace == "production"  # injected namespaces first
    assert o.resources["VirtualService"] == 3 and o.resources["PeerAuthentication"] == 2
    assert any("legacy-batch" in f for f in o.findings)
    assert "Server" not in o.absent_kinds


def test_mesh_overview_missing_namespace_is_a_clear_error(runtime):
    with pytest.raises(NotFound) as e:
        get_tool("mesh_overview").call(namespace="staging")
    assert "'staging'" in str(e.value) and "mesh_overview" in str(e.value)


def test_list_workloads_severity_first_identity_and_paging(runtime):
    w = get_tool("list_workloads").call(namespace="production", limit=3)
    assert w.page.total == 6 and w.page.shown == 3
    assert w.page.note == "showing 3 of 6 workloads; next page: offset=3; narrow with namespace= or sidecar="
    first = w.workloads[0]
    assert (first.name, first.sidecar) == ("legacy-batch", "none")
    assert "sidecar.istio.io/inject=false" in first.issue
    fe = next(x for x in get_tool("list_workloads").call(namespace="production").workloads if x.name == "frontend")
    assert fe.identity == "spiffe://cluster.local/ns/production/sa/frontend" and fe.replicas == "2/2"
    rest = get_tool("list_workloads").call(namespace="production", limit=3, offset=3)
    assert rest.page.shown == 3 and not ({x.name for x in rest.workloads} & {x.name for x in w.workloads})


def test_list_workloads_filters_by_sidecar(runtime):
    gw = get_tool("list_workloads").call(sidecar="istio-gateway")
    assert [x.name for x in gw.workloads] == ["istio-ingressgateway"]


def test_tools_validate_names_before_any_request(runtime, sandbox):
    before = sandbox.api.requests_made
    for bad in ("Production", "-n", "a/b", "x" * 64, "../etc"):
        with pytest.raises(InvalidInput, match="Invalid arguments to"):
            get_tool("list_workloads").call(namespace=bad)
    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        get_tool("list_workloads").call(limit=0)
    assert sandbox.api.requests_made == before


def test_offline_mode_reads_files_and_never_the_cluster(manifests, sandbox, runtime):
    before = sandbox.api.requests_made
    o = get_tool("mesh_overview").call(files=[manifests])
    w = get_tool("list_workloads").call(files=[manifests], namespace="production")
    assert sandbox.api.requests_made == before
    assert o.source == "files" and o.meshes[0].version == seed.ISTIO_VERSION
    assert w.page.total == 6


def test_proxy_health_reports_the_ejected_endpoint_first(runtime, sandbox):
    assert sandbox.send("frontend", 8080, "payment-api", 5, lb=3) == {200: 5}     # v1: weights 0..89
    codes, h = sandbox.during_ejection("frontend", 8080, "payment-api", lambda: get_tool("proxy_health").call(
        pod=sandbox.pod_name("frontend"), namespace="production", filter={"cluster": "payment-api"}), lb=95)
    assert set(codes) == {503}
    assert h.envoy_version == "1.40.0" and h.state == "LIVE"
    assert h.ejected == 1
    first = h.endpoints[0]
    assert first.outlier_check == "FAILED" and "|v2|" in first.cluster
    assert first.endpoint == sandbox.endpoint(sandbox.pod_name("payment-api-v2"))
    assert first.pod in ("-" if first.endpoint.startswith("127.") else "",
                         f"production/{sandbox.pod_name('payment-api-v2')}")


def test_default_answers_are_small_and_never_carry_secrets(runtime, sandbox):
    for name, args in [("mesh_overview", {}), ("list_workloads", {}),
                       ("proxy_health", {"pod": sandbox.pod_name("frontend"), "namespace": "production"})]:
        t = get_tool(name)
        out = t.call(**args)
        text = out.model_dump_json()
        assert len(text.encode()) < 8192, (name, len(text))
        assert len(t.render(out).encode()) < 8192
        assert "PRIVATE KEY" not in text and "U0FOREJPWC1TRUNSRVQtS0VZ" not in text
