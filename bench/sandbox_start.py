"""Sandbox start to ready (kube API seeded + real Envoy sidecars with their config), and stop. Target: 3 s.

Both config sources: istiod (the oracle's mesh-oracle serve, an Envoy per injected pod and the gateway, pods in
network namespaces) when it can run here, and the built-in generator (the fallback without Go).

Usage: python bench/sandbox_start.py [--runs 5] [--config auto|istiod|generator]
"""
from __future__ import annotations

import argparse
import statistics
import time

from mesh_plugin.sandbox import Sandbox


def bench(config: str, n: int) -> None:
    starts, stops = [], []
    sb = None
    envoys = 0
    for _ in range(n):
        t0 = time.perf_counter()
        sb = Sandbox(config=config).start()
        starts.append(time.perf_counter() - t0)
        envoys = len(sb.sidecars)
        t1 = time.perf_counter()
        sb.stop()
        stops.append(time.perf_counter() - t1)
    assert sb is not None
    print(f"{sb.config_source:9s} start to ready: median {statistics.median(starts) * 1000:.0f} ms "
          f"(max {max(starts) * 1000:.0f}, n={n}; target 3000 ms), {envoys} Envoys; "
          f"stop: median {statistics.median(stops) * 1000:.0f} ms (max {max(stops) * 1000:.0f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", choices=("auto", "istiod", "generator"), default=None,
                    help="one config source (default: both, istiod only when the oracle is built)")
    args = ap.parse_args()
    if args.config:
        bench(args.config, args.runs)
        return
    from mesh_plugin.sandbox import istiod, netns

    binary, why = istiod.find_binary()
    ok, why2 = netns.available() if binary else (False, why)
    if ok:
        bench("istiod", args.runs)
    else:
        print(f"istiod    skipped: {why or why2}")
    bench("generator", args.runs)


if __name__ == "__main__":
    main()
