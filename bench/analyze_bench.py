"""`analyze` with all analyzers over a generated 10,000-object snapshot. Target: under 2 s. Prints objects/s."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402

from mesh_plugin.analyzers import ALL, Context, run  # noqa: E402
from mesh_plugin.kube import Snapshot  # noqa: E402


def main() -> None:
    objs = generate(namespaces=500, pods=4000, services=1000, virtualservices=2000, destinationrules=1500,
                    peerauthentications=500, authorizationpolicies=450, gateways=50)
    t0 = time.perf_counter()
    snap = Snapshot(source="generated")
    for o in objs:
        snap.add(o)
    t1 = time.perf_counter()
    msgs = run(Context(snap), list(ALL))
    t2 = time.perf_counter()
    per = {}
    for a in ALL:
        s = time.perf_counter()
        run(Context(snap), [a])
        per[a.name] = time.perf_counter() - s
    slow = sorted(per.items(), key=lambda kv: -kv[1])[:5]
    print(f"objects: {len(objs)}; load {t1 - t0:.2f}s; analyze (all {len(ALL)} analyzers) {t2 - t1:.2f}s "
          f"-> {len(objs) / (t2 - t1):,.0f} objects/s (target: under 2 s); {len(msgs)} messages")
    print("slowest analyzers: " + ", ".join(f"{n} {s:.2f}s" for n, s in slow))


if __name__ == "__main__":
    main()
