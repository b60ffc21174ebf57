"""Cold start of `mesh-plugin serve` to a tools/list answer over stdio, beside a minimal one-tool server.

Prints the median of N runs for each, and the ratio (target: within 1.2x of the minimal server).
Usage: python bench/cold_start.py [--runs 7]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import mcp
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent


async def one(command: str, args: list[str]) -> float:
    t0 = time.perf_counter()
    params = StdioServerParameters(command=command, args=args, env={**os.environ, "KUBECONFIG": "/nonexistent"})
    async with stdio_client(params) as (r, w):
        async with mcp.ClientSession(r, w) as s:
            await s.initialize()
            tools = await s.list_tools()
            assert tools.tools
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    n = ap.parse_args().runs
    py = sys.executable
    ours = [ROOT / "scripts/mcp-server", []]
    cases = {"minimal one-tool server": (py, [str(ROOT / "bench/_minimal_server.py")]),
             "mesh-plugin serve (.mcp.json launcher)": (str(ours[0]), []),
             "mesh-plugin serve (direct)": (str(Path(py).parent / "mesh-plugin"), ["serve"])}
    os.environ.setdefault("MESH_PLUGIN_VENV", str(Path(py).parent.parent))
    results = {}
    for name, (cmd, args) in cases.items():
        asyncio.run(one(cmd, args))  # warm the page cache
        times = [asyncio.run(one(cmd, args)) for _ in range(n)]
        results[name] = statistics.median(times)
        print(f"{name:42s} median {results[name] * 1000:7.0f} ms  (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, n={n})")
    base = results["minimal one-tool server"]
    for name in list(cases)[1:]:
        print(f"ratio {name}: {results[name] / base:.2f}x (target <= 1.20x)")


if __name__ == "__main__":
    main()
