"""Soak: 10,000 tool calls against the sandbox (kube API + real Envoy); memory must not grow more than 20%
after warm-up. Prints calls/s and peak RSS.

Usage: python bench/soak.py [--calls 10000]
"""
from __future__ import annotations

import argparse
import gc
import itertools
import resource
import time

from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import Sandbox
from mesh_plugin.tools import get_tool


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=10_000)
    n = ap.parse_args().calls
    with Sandbox().start() as sb:
        rt = configure(sb.kubeconfig, "sandbox")
        rt.snapshot_ttl = 2.0  # as in an MCP session
        fe = sb.pod_name("frontend")
        calls = itertools.cycle([
            ("list_workloads", {"namespace": "production"}), ("mtls_status", {"namespace": "production",
                                                                                "prometheus_url": "http://127.0.0.1:9"}),
            ("describe_routing", {"host": "payment-api", "namespace": "production"}),
            ("authz_check", {"to": "production/payment-api-v1", "from_namespace": "production", "from_sa": "frontend"}),
            ("analyze", {"namespace": "production"}), ("mesh_overview", {}),
            ("proxy_config", {"kind": "cluster", "pod": fe, "namespace": "production"}),
            ("list_workloads", {"namespace": "nope-" + "x"}),  # an error path too
        ])
        warm = max(1, n // 10)
        t0 = time.perf_counter()
        base = 0.0
        errors = 0
        for i in range(n):
            name, kw = next(calls)
            try:
                get_tool(name).call(**kw)
            except Exception:  # noqa: BLE001 - counted, the soak goes on
                errors += 1
            if i % 1000 == 999:
                sb.api.request_log.clear()  # the sandbox's own bookkeeping, not the tools'
            if i == warm:
                gc.collect()
                base = rss_mb()
        dt = time.perf_counter() - t0
        gc.collect()
        end = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        growth = (end - base) / base * 100 if base else 0.0
        print(f"{n} calls in {dt:.1f}s: {n / dt:.0f} calls/s; errors (expected: the bad namespace) {errors}")
        print(f"RSS after warm-up {base:.0f} MB, at the end {end:.0f} MB: growth {growth:+.1f}% (target <= 20%); "
              f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
