"""Envoy admin through the API server's pod proxy, against the sandbox's real sidecars."""
from __future__ import annotations

import json
import pytest

from mesh_plugin.envoy import fetch_admin
from mesh_plugin.mesh.workloads import require_envoy
from mesh_plugin.envoy.parse import parse_clusters_text
from mesh_plugin.errors import InvalidInput, NotFound, Unreachable

FQDN = "payment-api.production.svc.cluster.local"


def test_config_dump_has_dynamic_sections_istio_names_and_no_private_keys(client, sandbox):
    dump = json.loads(fetch_admin(client, "production", sandbox.pod_name("frontend"), "config_dump"))
    by_type = {c["@type"].rsplit(".", 1)[-1]: c for c in dump["configs"]}
    clusters = [c["cluster"]["name"] for c in by_type["ClustersConfigDump"]["dynamic_active_clusters"]]
    assert f"outbound|8080|v2|{FQDN}" in clusters and "inbound|8080||" in clusters
    listeners = [lst["name"] for lst in by_type["ListenersConfigDump"]["dynamic_listeners"]]
    assert {"virtualInbound", "virtualOutbound", "0.0.0.0_8080"} <= set(listeners)
    routes = by_type["RoutesConfigDump"]["dynamic_route_configs"]
    weights = {c["name"]: c["weight"] for rc in routes if rc["route_config"]["name"] == "8080"
               for c in rc["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["weighted_clusters"]["clusters"]}
    assert weights == {f"outbound|8080|v1|{FQDN}": 90, f"outbound|8080|v2|{FQDN}": 10}
    secrets = by_type["SecretsConfigDump"]["dynamic_active_secrets"]
    assert {s["name"] for s in secrets} == {"default", "ROOTCA"}
    text = json.dumps(dump)
    assert "BEGIN EC PRIVATE KEY" not in text and "BEGIN PRIVATE KEY" not in text


def test_query_strings_survive_the_pod_proxy(client, sandbox):
    body = fetch_admin(client, "production", sandbox.pod_name("frontend"), "stats",
                       query=[("filter", "outlier_detection.ejections_active"), ("format", "json")])
    stats = json.loads(body)["stats"]
    assert stats and all("ejections_active" in s["name"] for s in stats)


def test_outlier_ejection_is_visible_in_clusters(client, sandbox):
    codes = sandbox.send("frontend", 8080, "payment-api", 20)
    codes_v2, raw = sandbox.during_ejection(
        "frontend", 8080, "payment-api", lambda: fetch_admin(client, "production", sandbox.pod_name("frontend"),
                                                             "clusters"), lb=91)
    assert set(codes) <= {200, 503} and set(codes_v2) == {503}
    hosts = parse_clusters_text(raw.decode())
    ejected = {(h.cluster, h.endpoint) for h in hosts if h.ejected}
    assert (f"outbound|8080|v2|{FQDN}", sandbox.endpoint(sandbox.pod_name("payment-api-v2"))) in ejected
    assert not any(c == f"outbound|8080|v1|{FQDN}" for c, _ in ejected)


def test_pod_without_sidecar_and_unknown_pod_and_bad_path(client, sandbox):
    with pytest.raises(InvalidInput) as e:
        fetch_admin(client, "production", sandbox.pod_name("legacy-batch"), "server_info", check_sidecar=require_envoy)
    assert "no Envoy sidecar" in str(e.value) and "mesh_overview view=workloads" in str(e.value)
    with pytest.raises(NotFound):
        fetch_admin(client, "production", "ghost-pod", "server_info")
    with pytest.raises(InvalidInput):
        fetch_admin(client, "production", sandbox.pod_name("frontend"), "../../etc/passwd")
    with pytest.raises(InvalidInput):
        fetch_admin(client, "production", sandbox.pod_name("frontend"), "quitquitquit")


def test_admin_port_unreachable_is_a_clear_error(client, sandbox):
    # payment-api-v2 has an istio-proxy container in the pod spec, but no Envoy runs it
    with sandbox.sidecar_down("payment-api-v2"), pytest.raises(Unreachable) as e:
        fetch_admin(client, "production", sandbox.pod_name("payment-api-v2"), "server_info")
    assert "15000" in str(e.value) and "kubectl describe pod" in str(e.value)
