"""Sandbox start to ready (kube API seeded + real Envoy sidecars LIVE), and stop. Target: 3 s.

Usage: python bench/sandbox_start.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

from mesh_plugin.sandbox import Sandbox


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    n = ap.parse_args().runs
    starts, stops = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        sb = Sandbox().start()
        starts.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        sb.stop()
        stops.append(time.perf_counter() - t1)
    print(f"sandbox start to ready: median {statistics.median(starts) * 1000:.0f} ms (max {max(starts) * 1000:.0f}, "
          f"n={n}; target 3000 ms); {len(sb.sidecars) or 2} Envoy sidecars")
    print(f"sandbox stop: median {statistics.median(stops) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
