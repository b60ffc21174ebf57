"""Mesh-wide tools on a generated cluster served by the sandbox API (default: 500 namespaces, 5,000 pods,
1,000 services, 2,000 VirtualServices and DestinationRules, 500 PeerAuthentications, 500 AuthorizationPolicies).

For each tool: API requests (and the kinds it reads), wall time, peak RSS of this process, answer size.
Targets: requests <= kinds read (pagination aside); mtls_status -A under 2 s; answers under 8 KB with
"showing N of M"; peak RSS under 300 MB.

Usage: python bench/scale.py [--pods 5000] [--namespaces 500] ...
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402

from mesh_plugin.runtime import configure  # noqa: E402
from mesh_plugin.sandbox import Sandbox  # noqa: E402
from mesh_plugin.tools import get_tool  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    for k, v in (("namespaces", 500), ("pods", 5000), ("services", 1000), ("virtualservices", 2000),
                 ("destinationrules", 2000), ("peerauthentications", 500), ("authorizationpolicies", 500)):
        ap.add_argument(f"--{k}", type=int, default=v)
    args = ap.parse_args()
    objs = generate(**vars(args))
    sb = Sandbox(envoy=False, seed_cluster=False).start()
    try:
        t0 = time.perf_counter()
        for o in objs:
            sb.api.put_object(o)
        print(f"cluster: {len(objs)} objects loaded into the sandbox API in {time.perf_counter() - t0:.1f}s; "
              f"RSS {rss_mb():.0f} MB (server and client share this process)")
        rt = configure(sb.kubeconfig, "sandbox")
        cases = [("mesh_overview", {}), ("list_workloads", {}), ("mtls_status -A", {"prometheus_url": "http://127.0.0.1:9"}),
                 ("analyze -A", {}), ("resilience lint", {"only": ["destinationrule.ResilienceAnalyzer"]}),
                 ("authz lint", {"only": ["auth.*", "security.*"]})]
        for label, kw in cases:
            name = label.split()[0] if label.split()[0] in ("mesh_overview", "list_workloads", "mtls_status") \
                else "analyze"
            rt.reset()
            before = sb.api.requests_made
            log_before = len(sb.api.request_log)
            t = time.perf_counter()
            out = get_tool(name).call(**kw)
            dt = time.perf_counter() - t
            reqs = sb.api.requests_made - before
            log = sb.api.request_log[log_before:]
            lists = sum(1 for m, p in log if m == "GET" and "continue=" not in p and "limit=" in p)
            kinds = len({p.split("?")[0] for m, p in log if m == "GET" and "limit=" in p})
            size = len(out.model_dump_json().encode())
            pg = getattr(out, "page", None) or getattr(out, "namespaces_page", None)
            print(f"{label:16s} requests {reqs:3d} ({lists} LISTs of {kinds} kinds, {reqs - lists} pages/GETs)  wall {dt:5.2f}s  peak RSS {rss_mb():4.0f} MB  answer "
                  f"{size:5d} bytes  {pg.note if pg and pg.note else ''}")
        rt.reset()
        rt.snapshot_ttl = 5.0
        get_tool("mtls_status").call(prometheus_url="http://127.0.0.1:9")
        before = sb.api.requests_made
        get_tool("mtls_status").call(prometheus_url="http://127.0.0.1:9")
        print(f"repeat within the snapshot TTL: {sb.api.requests_made - before} requests")
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
