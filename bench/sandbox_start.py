"""Sandbox start to ready (kube API seeded + real Envoy sidecars with their config), and stop. Target: 3 s.

Both config sources: istiod (the oracle's mesh-oracle serve, an Envoy per injected pod and the gateway, pods in
network namespaces) when it can run here, and the built-in generator (the fallback without Go); both variants: the
default mesh and the ambient one (+ ztunnel admin, the orders namespace's pods, the waypoint's Envoy with istiod).

Usage: python bench/sandbox_start.py [--runs 5] [--config auto|istiod|generator] [--variant default|ambient]
"""
from __future__ import annotations

import argparse
import statistics
import time

from mesh_plugin.sandbox import Sandbox


def bench(config: str, n: int, variant: str = "default") -> None:
    starts, stops = [], []
    sb = None
    envoys = 0
    for _ in range(n):
        t0 = time.perf_counter()
        sb = Sandbox(config=config, variant=variant).start()
        starts.append(time.perf_counter() - t0)
        envoys = len(sb.sidecars)
        t1 = time.perf_counter()
        sb.stop()
        stops.append(time.perf_counter() - t1)
    assert sb is not None
    print(f"{sb.config_source:9s} {variant:8s} start to ready: median {statistics.median(starts) * 1000:.0f} ms "
          f"(max {max(starts) * 1000:.0f}, n={n}; target 3000 ms), {envoys} Envoys; "
          f"stop: median {statistics.median(stops) * 1000:.0f} ms (max {max(stops) * 1000:.0f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", choices=("auto", "istiod", "generator"), default=None,
                    help="one config source (default: both, istiod only when the oracle is built)")
    ap.add_argument("--variant", choices=("default", "ambient"), default=None, help="one variant (default: both)")
    args = ap.parse_args()
    variants = [args.variant] if args.variant else ["default", "ambient"]
    if args.config:
        for v in variants:
            bench(args.config, args.runs, v)
        return
    from mesh_plugin.sandbox import istiod, netns

    binary, why = istiod.find_binary()
    ok, why2 = netns.available() if binary else (False, why)
    for v in variants:
        if ok:
            bench("istiod", args.runs, v)
        else:
            print(f"istiod    {v:8s} skipped: {why or why2}")
        bench("generator", args.runs, v)


if __name__ == "__main__":
    main()
