"""`make demo`: start the sandbox cluster, send some traffic, run the tools, print a mesh health report."""
from __future__ import annotations

import time


def run_demo() -> int:
    from .runtime import configure
    from .sandbox import Sandbox
    from .tools.registry import get_tool

    t0 = time.monotonic()
    with Sandbox().start() as sb:
        configure(sb.kubeconfig, "sandbox")
        print(f"== Sandbox cluster up in {sb.started_in:.2f}s: kube API {sb.url}, "
              f"{len(sb.sidecars)} real Envoy sidecars (KUBECONFIG={sb.kubeconfig})")
        print(f"   sidecar config: {sb.describe_config_source()}\n")
        codes = sb.send("frontend", 8080, "payment-api:8080", 50)
        for i in range(5):  # make sure a few land on the canary, whatever the random split did
            for code, n in sb.send("frontend", 8080, "payment-api:8080", 1, lb=95).items():
                codes[code] = codes.get(code, 0) + n
        print(f"== Sent 55 requests frontend -> payment-api through the frontend sidecar: "
              + ", ".join(f"{n} x {c}" for c, n in sorted(codes.items())) + "\n")
        for title, name, args in [
            ("Mesh overview", "mesh_overview", {}),
            ("Workloads in production", "list_workloads", {"namespace": "production"}),
            ("Frontend sidecar: payment-api endpoints", "proxy_health",
             {"pod": sb.pod_name("frontend"), "namespace": "production", "cluster": "payment-api"}),
        ]:
            tool = get_tool(name)
            result = tool.call(**args)
            print(f"== {title}  [tool {name}]")
            print(tool.render(result) if tool.render else result.model_dump_json(indent=2))
            print()
        report = get_tool("proxy_health").call(pod=sb.pod_name("frontend"), namespace="production",
                                              cluster="payment-api")
        print("== Health report")
        ejected = [e for e in report.endpoints if e.outlier_check == "FAILED"]
        if ejected:
            print(f"  - payment-api: {len(ejected)} endpoint(s) ejected by outlier detection "
                  f"({', '.join(sorted({e.cluster.split('|')[2] or 'all' for e in ejected}))} subset): "
                  "the v2 canary answers 503.")
        overview = get_tool("mesh_overview").call()
        for f in overview.findings:
            print(f"  - {f}")
    print(f"\nDone in {time.monotonic() - t0:.1f}s; the sandbox is stopped.")
    return 0
