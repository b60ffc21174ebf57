"""`analyze` with all analyzers, in process, on generated clusters of growing size: is the CPU linear?

For each size: objects, the CPU (process time) of the floor - decoding every object from JSON and keeping it
in a Snapshot, the in-process counterpart of a script that LISTs and keeps every object - and of the
analysis (on a loaded Snapshot), the slowest
analyzers, and the growth of both from the first size. Linear analysis grows like the floor (issue 23:
20k-pod CPU / 5k-pod CPU within 1.2x of the floor's ratio).

    python bench/analyze_bench.py                      # 5,000 and 20,000 pods, the rest as bench/generate.py
    python bench/analyze_bench.py --pods 5000 20000 --scale-all    # every kind grows with the pods
    python bench/analyze_bench.py --legacy-ten-k       # the former 10,000-object run (target: under 2 s)

Runs against whatever `mesh_plugin` is importable (PYTHONPATH=/other/checkout/src for a before/after).
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402

from mesh_plugin.analyzers import ALL, Context, run  # noqa: E402
from mesh_plugin.kube import Snapshot  # noqa: E402

DEFAULTS = {"namespaces": 500, "services": 1000, "virtualservices": 2000, "destinationrules": 2000,
            "peerauthentications": 500, "authorizationpolicies": 500, "gateways": 50}


def cpu(fn):
    gc.collect()
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def load(objs: list[dict]) -> Snapshot:
    snap = Snapshot(source="generated")
    for o in objs:
        snap.add(o)
    return snap


def floor_load(wire: str) -> Snapshot:
    return load(json.loads(wire))


def analyze(snap: Snapshot) -> list:
    """The whole in-process analysis (analyzers.runner: decoding checks, analyzers, sorting); run() on older
    checkouts that have no runner."""
    try:
        from mesh_plugin.analyzers import MeshConfig
        from mesh_plugin.analyzers.runner import analyze_snapshot
    except ImportError:
        return run(Context(snap), list(ALL))
    return analyze_snapshot(snap, list(ALL), MeshConfig(), files=False)


def measure(objs: list[dict], per_analyzer: bool) -> dict:
    floor, snap = cpu(lambda: floor_load(json.dumps(objs)))
    analysis, msgs = cpu(lambda: analyze(snap))
    slow: list[tuple[str, float]] = []
    if per_analyzer:
        for a in ALL:
            fresh = load(objs)
            dt, _ = cpu(lambda a=a, fresh=fresh: run(Context(fresh), [a]))
            slow.append((a.name, dt))
        slow.sort(key=lambda kv: -kv[1])
    return {"objects": len(objs), "floor": floor, "analysis": analysis, "messages": len(msgs), "slow": slow[:5]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--scale-all", action="store_true", help="grow every kind with the pods (first size = defaults)")
    ap.add_argument("--per-analyzer", action="store_true", help="also time each analyzer alone")
    ap.add_argument("--legacy-ten-k", action="store_true", help="the former single 10,000-object run")
    args = ap.parse_args()
    if args.legacy_ten_k:
        objs = generate(namespaces=500, pods=4000, services=1000, virtualservices=2000, destinationrules=1500,
                        peerauthentications=500, authorizationpolicies=450, gateways=50)
        r = measure(objs, True)
        print(f"objects: {r['objects']}; analyze (all {len(ALL)} analyzers) {r['analysis']:.2f}s CPU -> "
              f"{r['objects'] / r['analysis']:,.0f} objects/s (target: under 2 s); {r['messages']} messages")
        print("slowest analyzers: " + ", ".join(f"{n} {s:.2f}s" for n, s in r["slow"]))
        return
    print(f"{len(ALL)} analyzers; CPU seconds (process time)")
    print(f"{'pods':>7} {'objects':>8} {'floor':>7} {'analyze':>8} {'x floor':>8} {'x analyze':>10} {'ratio':>6}"
          "  messages")
    first = None
    for pods in args.pods:
        factor = pods / args.pods[0]
        counts = {k: (int(v * factor) if args.scale_all else v) for k, v in DEFAULTS.items()}
        r = measure(generate(pods=pods, **counts), args.per_analyzer)
        first = first or r
        gf, ga = r["floor"] / first["floor"], r["analysis"] / first["analysis"]
        print(f"{pods:7d} {r['objects']:8d} {r['floor']:7.2f} {r['analysis']:8.2f} {gf:7.2f}x {ga:9.2f}x "
              f"{ga / gf:6.2f}  {r['messages']}")
        if r["slow"]:
            print("        slowest: " + ", ".join(f"{n} {s:.2f}s" for n, s in r["slow"]))
    print("ratio = analysis growth / floor growth (linear: about 1; issue 23 target: within 1.2)")


if __name__ == "__main__":
    main()
