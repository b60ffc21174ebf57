"""proxy_config on a 5 MB config dump with 1,000 clusters: default answer size and time (target < 8 KB, < 1 s)."""
from __future__ import annotations

import json
import os
import tempfile
import time

from mesh_plugin.tools import get_tool


def make_dump(n: int = 1000) -> dict:
    clusters, eds, routes = [], [], []
    for i in range(n):
        fqdn = f"svc-{i:04d}.team-{i % 50:02d}.svc.cluster.local"
        name = f"outbound|8080|{'v1' if i % 3 else ''}|{fqdn}"
        clusters.append({"cluster": {
            "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": name, "type": "EDS",
            "eds_cluster_config": {"eds_config": {"ads": {}, "initial_fetch_timeout": "0s",
                                                  "resource_api_version": "V3"}, "service_name": name},
            "connect_timeout": "10s", "lb_policy": "LEAST_REQUEST",
            "circuit_breakers": {"thresholds": [{"max_connections": 4294967295, "max_pending_requests": 4294967295,
                                                 "max_requests": 4294967295, "max_retries": 4294967295,
                                                 "track_remaining": True}]},
            "outlier_detection": {"consecutive_5xx": 10, "interval": "60s", "base_ejection_time": "30s",
                                  "max_ejection_percent": 50, "enforcing_consecutive_5xx": 100},
            "metadata": {"filter_metadata": {"istio": {
                "config": f"/apis/networking.istio.io/v1alpha3/namespaces/team-{i % 50:02d}/destination-rule/svc-{i:04d}",
                "services": [{"host": fqdn, "name": f"svc-{i:04d}", "namespace": f"team-{i % 50:02d}"}]}}},
            "transport_socket_matches": [{"name": f"tlsMode-istio-{j}", "match": {"tlsMode": "istio"},
                                          "transport_socket": {"name": "envoy.transport_sockets.tls",
                                                               "typed_config": {"sni": f"outbound_.8080_.v1_.{fqdn}",
                                                                                "alpn": ["istio-peer-exchange"]}}}
                                         for j in range(15)],
        }, "last_updated": "2026-11-25T10:00:00Z"})
        eds.append({"endpoint_config": {"cluster_name": name, "endpoints": [{"locality": {}, "lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": f"10.1.{i // 250}.{i % 250}", "port_value": 8080}}},
             "health_status": "HEALTHY", "load_balancing_weight": 1}]}]}})
        routes.append({"name": f"{fqdn}:8080", "domains": [fqdn, f"svc-{i:04d}", f"{fqdn}:8080"],
                       "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": name}}]})
    return {"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
         "bootstrap": {"node": {"id": "sidecar~10.0.0.1~bench.default~default.svc.cluster.local",
                                "metadata": {"ISTIO_VERSION": "1.28.1"}}}},
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": clusters},
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
         "dynamic_route_configs": [{"route_config": {"name": "8080", "virtual_hosts": routes}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": eds},
    ]}


def main() -> None:
    path = os.path.join(tempfile.mkdtemp(), "dump.json")
    with open(path, "w") as fh:
        json.dump(make_dump(), fh)
    size = os.path.getsize(path)
    tool = get_tool("proxy_config")
    for kind, extra in (("cluster", {}), ("route", {}), ("endpoint", {}), ("all", {}),
                        ("cluster", {"output": "json"}), ("cluster", {"fqdn": "svc-0042"})):
        t0 = time.perf_counter()
        result = tool.call(kind=kind, file=path, **extra)
        dt = time.perf_counter() - t0
        answer = result.model_dump_json()
        notes = [t.page.note for t in result.tables if t.page.note] or ([result.raw_page.note] if result.raw_page and
                                                                        result.raw_page.note else [])
        print(f"{kind:8s} {str(extra):22s} dump {size / 1e6:.1f} MB -> answer {len(answer.encode()):6d} bytes "
              f"(target < 8192) in {dt * 1000:4.0f} ms (target < 1000); {notes[0] if notes else 'complete'}")


if __name__ == "__main__":
    main()
