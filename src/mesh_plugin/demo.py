"""`make demo`: start the sandbox cluster, send some traffic, run the tools, print a mesh health report.

It diagnoses the seeded 503 canary (``traffic_status view=diagnose``), gates a canary step on the sandbox's
Prometheus (``traffic_step``, dry run: istio_requests_total recorded from the Envoys' counters, see
``sandbox/prometheus.py``; without the prometheus binary the gate reads the Envoys' counters itself), shows the
Gateway API routes the seed carries, and the ambient variant (``MESH_SANDBOX_VARIANT=ambient make demo``): the
ztunnel's view through its admin endpoint and the waypoint. It needs no Go: without the Istio oracle the sidecars
run the built-in generator's config.
"""
from __future__ import annotations

import json
import time
from typing import Any


def _tool(title: str, name: str, **args: Any) -> Any:
    from .tools.registry import get_tool

    tool = get_tool(name)
    result = tool.call(**args)
    print(f"== {title}  [tool {tool.tool} view={tool.view}]")
    print(tool.render(result) if tool.render else result.model_dump_json(indent=2))
    print()
    return result


def _gateway_api(sb: Any) -> None:
    """The seed's HTTPRoutes and what the proxies got from them."""
    from .sandbox import seed

    print("== Gateway API (HTTPRoutes in the seeded mesh; CRDs at bundle "
          f"{seed.GATEWAY_API_BUNDLE})")
    for (ns, name), r in sorted(sb.api.store[("gateway.networking.k8s.io", "httproutes")].items()):
        spec, parents = r.get("spec") or {}, (r.get("status") or {}).get("parents") or []
        refs = ", ".join(f"{p.get('kind', 'Gateway')} {p.get('namespace', ns)}/{p['name']}"
                         + (f":{p['port']}" if p.get("port") else "") for p in spec.get("parentRefs") or [])
        kind = "mesh (GAMMA)" if all(p.get("kind") == "Service" for p in spec.get("parentRefs") or []) else "ingress"
        backends = "; ".join(", ".join(f"{b['name']}:{b.get('port', '')} w{b.get('weight', 1)}"
                                       for b in rule.get("backendRefs") or []) for rule in spec.get("rules") or [])
        bad = [f"{c['type']}={c['status']} {c['reason']}: {c['message']}" for p in parents
               for c in p.get("conditions") or [] if c["status"] == "False"]
        print(f"  - HTTPRoute {ns}/{name}, {kind}, parent {refs}: {backends}" + (f"  [{'; '.join(bad)}]" if bad else ""))
    if sb.config_source == "istiod":
        pa = sb.sidecar("payment-api-v1")
        dump = json.loads(pa.admin("config_dump?resource=dynamic_route_configs"))
        for rc in dump.get("configs") or []:
            for vh in (rc.get("route_config") or {}).get("virtual_hosts") or []:
                if vh["name"] == f"frontend.{seed.NS}.svc.cluster.local:80":
                    wc = ((vh["routes"][0].get("route") or {}).get("weighted_clusters") or {}).get("clusters") or []
                    print(f"    istiod gave the payment-api sidecar route {vh['name']}: "
                          + ", ".join(f"{c['name']} {c['weight']}" for c in wc))
    else:
        print("    (the built-in generator models VirtualServices only: with the Istio oracle built, istiod gives the "
              "sidecars and the ingress gateway these routes)")
    print()


def _ambient(sb: Any) -> None:
    from .kube import KubeClient
    from .sandbox import seed

    zt = sb.ztunnel()
    raw = KubeClient.connect(sb.kubeconfig).pod_proxy(zt.namespace, zt.name, seed.ZTUNNEL_ADMIN_PORT, "/config_dump")
    dump = json.loads(raw)
    ns = seed.AMBIENT_NS
    print(f"== Ambient: ztunnel {zt.namespace}/{zt.name} admin /config_dump through the pod proxy (port 15000)")
    print(f"   source: {sb.describe_ambient()}")
    for w in dump["workloads"]:
        if w["namespace"] == ns:
            wp = (w.get("waypoint") or {}).get("destination", "None")
            print(f"  - workload {w['name']}: {w['protocol']}, waypoint {wp}, policies "
                  f"{', '.join(w.get('authorizationPolicies') or []) or '-'}")
    for s in dump["services"]:
        if s["namespace"] == ns and s.get("waypoint"):
            print(f"  - service {s['hostname']} goes through waypoint {s['waypoint']['destination']}")
    for p in dump["policies"]:
        if p["namespace"] == ns and p["action"] == "Allow" and not p["rules"]:
            print(f"  - policy {p['namespace']}/{p['name']}: an ALLOW with no rules at ztunnel, so every connection "
                  "to the pods it selects is refused (its HTTP-only rules need a waypoint and targetRefs)")
    print(f"  - certificates (metadata only): {', '.join(c['identity'] for c in dump['certificates'])}")
    print()


def _canary_gate(sb: Any) -> None:
    """traffic_step on the 503 canary (dry run): the gate reads Prometheus first, else the sidecars' counters."""
    from .errors import MeshError
    from .tools.registry import get_tool
    from .tools.traffic import error_rates

    print("== Canary gate: traffic_step payment-api canary v2 (dry run)")
    if sb.prometheus_url:
        print(f"   Prometheus: {sb.describe_prometheus()}")
        rates, source = error_rates("payment-api", "production", "10m")
        print(f"   gate input, {source}: " + (", ".join(f"{v} {r:.1%} 5xx" for v, r in sorted(rates.items()))
                                            or "no requests yet"))
    else:
        print(f"   no Prometheus ({sb.prometheus_note}): the gate reads the sidecars' Envoy counters")
    try:
        step = get_tool("traffic_step").call(host="payment-api", canary="v2", namespace="production")
    except MeshError as e:
        print(f"   REFUSED: {e}")
    else:
        print(f"   allowed ({step.metrics}): v2 {step.from_weight}% -> {step.to_weight}%")
    print()


def _quietly(fn: Any) -> None:
    try:
        fn()
    except (RuntimeError, TimeoutError):  # said when the demo waits for the metrics again
        pass


def run_demo() -> int:
    import threading

    from .runtime import configure
    from .sandbox import Sandbox

    t0 = time.monotonic()
    with Sandbox().start() as sb:
        configure(sb.kubeconfig, "sandbox", prometheus_url=sb.prometheus_url)
        # Prometheus takes its targets 5-10 s after it starts: let that happen while the traffic and tools run
        first_scrape = threading.Thread(target=_quietly, args=(sb.wait_metrics,), daemon=True) \
            if sb.prometheus_url else None
        if first_scrape is not None:
            first_scrape.start()
        print(f"== Sandbox cluster ({sb.variant}) up in {sb.started_in:.2f}s: kube API {sb.url}, "
              f"{len(sb.sidecars)} real Envoy proxies (KUBECONFIG={sb.kubeconfig})")
        print(f"   config: {sb.describe_config_source()}")
        print(f"   prometheus: {sb.describe_prometheus()}\n")
        codes = sb.send("frontend", 8080, "payment-api:8080", 50)
        for _ in range(5):  # make sure a few land on the canary, whatever the random split did
            for code, n in sb.send("frontend", 8080, "payment-api:8080", 1, lb=95).items():
                codes[code] = codes.get(code, 0) + n
        print("== Sent 55 requests frontend -> payment-api through the frontend sidecar: "
              + ", ".join(f"{n} x {c}" for c, n in sorted(codes.items())) + "\n")
        _tool("Mesh overview", "mesh_overview")
        _tool("Workloads in production", "list_workloads", namespace="production")
        _tool("Frontend sidecar: payment-api endpoints", "proxy_health", pod=sb.pod_name("frontend"),
              namespace="production", filter={"cluster": "payment-api"})
        if first_scrape is not None:
            first_scrape.join(60)
            try:
                sb.wait_metrics()  # the requests above are in istio_requests_total
            except (RuntimeError, TimeoutError) as e:  # the gate then says the metrics are unavailable
                print(f"== (the sandbox's Prometheus: {e})\n")
        _canary_gate(sb)
        _tool("Diagnosis: frontend -> payment-api:8080 answers 503s", "diagnose", source="production/frontend",
              to="payment-api:8080", path="/api/pay")
        _gateway_api(sb)
        if sb.ambient:
            _ambient(sb)
        from .tools.registry import get_tool

        report = get_tool("proxy_health").call(pod=sb.pod_name("frontend"), namespace="production",
                                              filter={"cluster": "payment-api"})
        print("== Health report")
        ejected = [e for e in report.endpoints if e.outlier_check == "FAILED"]
        if ejected:
            print(f"  - payment-api: {len(ejected)} endpoint(s) ejected by outlier detection "
                  f"({', '.join(sorted({e.cluster.split('|')[2] or 'all' for e in ejected}))} subset): "
                  "the v2 canary answers 503.")
        overview = get_tool("mesh_overview").call()
        for f in overview.findings:
            print(f"  - {f}")
        if not sb.ambient:
            print("\nThe ambient variant (ztunnel and istio-cni DaemonSets, the orders namespace with a waypoint; the "
                  "ztunnel answers /config_dump through the pod proxy):\n  MESH_SANDBOX_VARIANT=ambient make demo, "
                  "or MESH_SANDBOX_VARIANT=ambient mesh-plugin sandbox")
    print(f"\nDone in {time.monotonic() - t0:.1f}s; the sandbox is stopped.")
    return 0
