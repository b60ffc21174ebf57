"""Cost that follows the question (issue 23): the tools against a floor, at 5k, 20k and 50k pods.

For each size a generated mesh (bench/generate.py; 100 namespaces; services, VirtualServices,
DestinationRules, PeerAuthentications, AuthorizationPolicies and Gateways scaled with the pods as
generate()'s defaults are: per 5,000 pods 1,000 services, 2,000 VS, 2,000 DR, 500 PA, 500 AP, 50 Gateways)
is served by the sandbox API in a SEPARATE process (this file run with --serve-child), bound to 127.0.0.1,
so the CPU measured here (time.process_time of this process) is the client's only.

Cases: mtls_status -A, mtls_status -n NS, analyze -A, authz_check (a workload of NS, the caller by
principal) and proxy_status -n NS. Each is measured against a FLOOR in the same run: a plain script
(http.client + json, no kubernetes client) that LISTs exactly the paths the tool LISTed (taken from the
API's request log), in pages of 500 with continue tokens, keeping every object in a list. Requests that
are not LISTs (a namespace GET, pod-proxy calls to sidecars) are the tool's extra and the floor makes none.

Printed per size: requests (tool vs floor), wall s, client CPU s, tool/floor ratios, peak RSS of this
process during the case (VmHWM, reset before each case). Each case and its floor run --repeat times
(default 3), alternating; the least wall and the least CPU are kept, as other load only adds to them.
Then across sizes: each case's CPU growth (20k/5k, 50k/5k) against the floor's growth (target: within
1.2x), and mtls -n NS and authz check time over mtls -A time (target <= 0.3x). Last, proxy_status on
the seeded sandbox with real Envoy sidecars, 2 of them down (target < 0.5 s).

Both sides run with the garbage collector on, as users do: the floor's own CPU grows faster than the
objects it keeps (the collector rescans the growing heap), so "within 1.2x of the floor's growth" is
measured against that. Wall times include the API process (one event loop) and whatever else runs on
the machine; the client CPU is the steadier figure.

Usage:
    python bench/scale.py                   # 5k, 20k and 50k pods, then the seeded proxy-status
    python bench/scale.py --quick           # 5k only
    python bench/scale.py --sizes 5000,20000 --namespace team-0007 --no-seeded
    python bench/scale.py --profile         # also cProfile (CPU time) any case over 2x its floor's CPU
    python bench/scale.py --json out.json   # keep the raw results; --replay out.json prints them again

MESH_PLUGIN_CALL_DEADLINE is raised to 900 s here (unless set) so a slow case is measured, not cut short.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT_SIZES = (5000, 20000, 50000)
NAMESPACES = 100
PER_5K = {"services": 1000, "virtualservices": 2000, "destinationrules": 2000, "peerauthentications": 500,
          "authorizationpolicies": 500, "gateways": 50}
PAGE = 500


def mesh_params(pods: int, namespaces: int = NAMESPACES) -> dict[str, int]:
    scale = pods / 5000
    return {"namespaces": namespaces, "pods": pods, **{k: max(1, round(v * scale)) for k, v in PER_5K.items()}}


# ------------------------------------------------------------------------------------------------
# the API process: started with --serve-child JSON; answers one JSON line per command line on stdin
# ------------------------------------------------------------------------------------------------
def serve_child(spec: dict) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # anything else the sandbox prints stays off the protocol channel

    def say(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")

    from mesh_plugin.sandbox import Sandbox

    t0 = time.perf_counter()
    downs = contextlib.ExitStack()
    if spec["mode"] == "generated":
        from generate import generate

        sb = Sandbox(envoy=False, seed_cluster=False).start()
        n = 0
        for o in generate(**spec["params"]):
            sb.api.put_object(o)
            n += 1
        counts = {plural: len(objs) for (_, plural), objs in sb.api.store.items() if objs}
        ready = {"objects": n, "counts": counts}
    else:
        sb = Sandbox().start()
        synced = "yes"
        try:
            sb.wait_synced(timeout=30)  # the sidecars hold the config they are compared with
        except Exception as e:  # noqa: BLE001 - reported, the measurement still runs
            synced = f"no ({type(e).__name__})"
        pods = {}
        for a in sb.apps:
            for i, p in enumerate(a.pods):
                if p["metadata"]["name"] in sb.sidecars and i == 0:
                    pods[a.deployment] = p["metadata"]["name"]
        ready = {"config_source": sb.config_source, "sidecars": sorted(sb.sidecars), "downable": pods,
                 "synced": synced}
    ready.update(kubeconfig=sb.kubeconfig, url=sb.url, load_s=time.perf_counter() - t0,
                 rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    say(ready)
    try:
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "clear":
                sb.api.request_log.clear()
                sb.api.requests_made = 0
                say({"ok": True})
            elif cmd == "log":
                say({"log": sb.api.request_log, "requests": sb.api.requests_made})
            elif cmd == "rss":
                say({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            elif cmd == "down":
                downs.enter_context(sb.sidecar_down(arg))
                say({"ok": True})
            elif cmd == "up":
                downs.close()
                downs = contextlib.ExitStack()
                say({"ok": True})
            else:
                say({"error": f"unknown command {cmd!r}"})
    finally:
        downs.close()
        sb.stop()


class APIProcess:
    """The sandbox API in a child process; commands over its stdin/stdout."""

    def __init__(self, spec: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-child", json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"the API process exited ({self.proc.wait()}) before it was ready")
        self.info = json.loads(line)
        self.kubeconfig: str = self.info["kubeconfig"]
        u = urllib.parse.urlsplit(self.info["url"])
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80

    def cmd(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        out = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not out:
            raise RuntimeError("the API process died")
        return json.loads(out)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------------------------------------
# the floor: LIST the same paths, pages of 500, keep every object
# ------------------------------------------------------------------------------------------------
def list_paths(log: list[list[str]]) -> list[str]:
    """The LISTs in a request log, as path?query without limit/continue (first pages only)."""
    out = []
    for method, path_qs in log:
        parts = urllib.parse.urlsplit(path_qs)
        q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        keys = {k for k, _ in q}
        if method != "GET" or "limit" not in keys or "continue" in keys:
            continue
        rest = urllib.parse.urlencode([(k, v) for k, v in q if k not in ("limit", "continue")])
        out.append(parts.path + ("?" + rest if rest else ""))
    return out


def floor(host: str, port: int, paths: list[str]) -> tuple[int, list[dict]]:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    kept: list[dict] = []
    requests = 0
    try:
        for p in paths:
            cont = None
            while True:
                q = [("limit", str(PAGE))] + ([("continue", cont)] if cont else [])
                conn.request("GET", p + ("&" if "?" in p else "?") + urllib.parse.urlencode(q),
                             headers={"Accept": "application/json", "Authorization": "Bearer sandbox-token"})
                resp = conn.getresponse()
                body = resp.read()
                requests += 1
                if resp.status != 200:
                    raise RuntimeError(f"floor: GET {p} answered {resp.status}")
                page = json.loads(body)
                kept.extend(page.get("items") or [])
                cont = (page.get("metadata") or {}).get("continue")
                if not cont:
                    break
    finally:
        conn.close()
    return requests, kept


# ------------------------------------------------------------------------------------------------
# measuring in this process
# ------------------------------------------------------------------------------------------------
def _status_kb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # Linux >= 4.0: VmHWM := VmRSS


def measure(fn: Callable[[], Any]) -> dict:
    gc.collect()
    reset_peak()
    before = _status_kb("VmRSS") / 1024
    w, c = time.perf_counter(), time.process_time()
    err = None
    result = None
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - reported in the table
        err = f"{type(e).__name__}: {getattr(e, 'message', e)}"
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    peak = _status_kb("VmHWM") / 1024
    del result
    return {"wall": wall, "cpu": cpu, "peak": peak, "rss_before": before, "error": err}


def best(runs: list[dict]) -> dict:
    """The least wall and the least CPU of the runs (the machine's other load only ever adds), the most RSS."""
    return {"wall": min(r["wall"] for r in runs), "cpu": min(r["cpu"] for r in runs),
            "peak": max(r["peak"] for r in runs), "rss_before": min(r["rss_before"] for r in runs),
            "error": next((r["error"] for r in runs if r["error"]), None), "runs": len(runs)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cases(ns: str) -> list[tuple[str, str, dict]]:
    svc = int(ns.rsplit("-", 1)[1])  # team-0007 holds svc-00007, whose AuthorizationPolicy allows its client
    return [("mtls -A", "mtls_status", {}),
            ("mtls -n NS", "mtls_status", {"namespace": ns}),
            ("analyze -A", "analyze", {}),
            ("authz check", "authz_check", {"to": f"{ns}/svc-{svc:05d}-v1", "port": 8080,
                                            "caller": {"principal": f"cluster.local/ns/{ns}/sa/client"},
                                            "request": {"method": "GET", "path": "/"}}),
            ("proxy-status NS", "proxy_status", {"namespace": ns})]


def run_size(pods: int, ns: str, warmup: bool, profile: bool, repeat: int, only: list[str] | None = None) -> dict:
    from mesh_plugin.runtime import configure
    from mesh_plugin.tools import get_tool

    params = mesh_params(pods)
    t_size = time.perf_counter()
    api = APIProcess({"mode": "generated", "params": params})
    res: dict[str, Any] = {"pods": pods, "params": params, "info": api.info, "cases": {}, "repeat": repeat,
                           "load": os.getloadavg()[0]}
    try:
        rt = configure(api.kubeconfig, "sandbox", prometheus_url=f"http://127.0.0.1:{free_port()}")
        todo = [c for c in cases(ns) if not only or any(o in c[0] for o in only)]
        if warmup:  # imports and first-use costs out of the measured calls
            for _, tool, kw in todo:
                rt.reset()
                with contextlib.suppress(Exception):
                    get_tool(tool).call(**kw)
        for label, tool, kw in todo:
            m_tools, m_floors = [], []
            box: dict[str, Any] = {}
            log: list = []
            paths: list[str] = []

            def run_floor() -> None:
                box["requests"], box["kept"] = floor(api.host, api.port, paths)
                box["objects"] = len(box["kept"])

            for rep in range(repeat):  # tool and floor alternate: both see the same machine
                rt.reset()
                api.cmd("clear")
                m_tools.append(measure(lambda: get_tool(tool).call(**kw)))
                if rep == 0:
                    log = api.cmd("log")["log"]
                    paths = list_paths(log)
                rt.reset()
                m_floors.append(measure(run_floor))
                box.pop("kept", None)
            m_tool, m_floor = best(m_tools), best(m_floors)
            first = len(paths)
            pages = sum(1 for m, p in log if m == "GET" and "continue=" in p)
            proxied = sum(1 for _, p in log if "/proxy/" in p)
            row = {"tool": m_tool, "floor": m_floor, "tool_requests": len(log), "lists": first, "pages": pages,
                   "proxied": proxied, "other": len(log) - first - pages - proxied,
                   "floor_requests": box.get("requests", 0), "floor_objects": box.get("objects", 0),
                   "paths": paths}
            if profile and not m_tool["error"] and m_tool["cpu"] > max(2 * m_floor["cpu"], 0.2):
                row["profile"] = profile_call(rt, get_tool(tool), kw)
            res["cases"][label] = row
        res["api_rss_mb"] = api.cmd("rss")["rss_mb"]
    finally:
        api.close()
    res["seconds"] = time.perf_counter() - t_size
    return res


def profile_call(rt: Any, op: Any, kw: dict, top: int = 12) -> str:
    import cProfile
    import io
    import pstats

    rt.reset()
    pr = cProfile.Profile(time.process_time)  # CPU, not time spent waiting on the API
    pr.enable()
    with contextlib.suppress(Exception):
        op.call(**kw)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:start + top + 1])


# ------------------------------------------------------------------------------------------------
# printing
# ------------------------------------------------------------------------------------------------
def k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}x" if b > 0 else "   - "


def print_size(r: dict) -> None:
    p, info = r["params"], r["info"]
    c = info["counts"]
    print(f"\n=== {k(r['pods'])} pods: {p['namespaces']} namespaces, {c.get('services', 0)} services, "
          f"{c.get('virtualservices', 0)} VS, {c.get('destinationrules', 0)} DR, "
          f"{c.get('peerauthentications', 0)} PA ({p['peerauthentications']} generated, one 'default' per "
          f"namespace), {c.get('authorizationpolicies', 0)} AP, {c.get('gateways', 0)} Gateways; "
          f"{info['objects']} objects loaded in {info['load_s']:.1f}s; API process peak RSS "
          f"{r.get('api_rss_mb', info['rss_mb']):.0f} MB; size run {r['seconds']:.0f}s; best of {r['repeat']}; "
          f"load average {r['load']:.1f} on {os.cpu_count()} CPUs at its start")
    hdr = (f"{'case':16s} {'requests':>16s}  {'wall s':>16s} {'x':>6s}  {'client CPU s':>16s} {'x':>6s}  "
           f"{'peak RSS MB (+before)':>26s}")
    sub = (f"{'':16s} {'tool':>7s} {'floor':>8s}  {'tool':>7s} {'floor':>8s} {'':6s}  {'tool':>7s} {'floor':>8s} "
           f"{'':6s}  {'tool':>12s} {'floor':>13s}")
    print(hdr)
    print(sub)
    for label, row in r["cases"].items():
        t, f = row["tool"], row["floor"]
        print(f"{label:16s} {row['tool_requests']:7d} {row['floor_requests']:8d}  {t['wall']:7.2f} {f['wall']:8.2f} "
              f"{ratio(t['wall'], f['wall']):>6s}  {t['cpu']:7.2f} {f['cpu']:8.2f} {ratio(t['cpu'], f['cpu']):>6s}  "
              f"{t['peak']:5.0f} (+{t['peak'] - t['rss_before']:4.0f}) {f['peak']:5.0f} (+{f['peak'] - f['rss_before']:4.0f})")
    print("tool requests = LIST first pages + continued pages + pod-proxy + other GETs; what each LISTed:")
    for label, row in r["cases"].items():
        scoped = sum(1 for p in row["paths"] if "/namespaces/" in p)
        print(f"  {label:16s} {row['lists']} LISTs ({scoped} in one namespace) + {row['pages']} pages + "
              f"{row['proxied']} pod-proxy + {row['other']} other; floor kept {row['floor_objects']} objects"
              + (f"; TOOL ERROR {row['tool']['error']}" if row["tool"]["error"] else "")
              + (f"; FLOOR ERROR {row['floor']['error']}" if row["floor"]["error"] else ""))
    for label, row in r["cases"].items():
        if row.get("profile"):
            print(f"  cProfile of {label} (tool CPU {row['tool']['cpu']:.2f}s > 2x floor {row['floor']['cpu']:.2f}s), "
                  f"by own time:\n    " + row["profile"].replace("\n", "\n    "))


def print_across(results: list[dict]) -> None:
    base = results[0]
    if not base["cases"]:
        return
    print(f"\n=== growth against the floor (CPU of the client; target: tool growth / floor growth <= 1.2x)")
    print(f"{'case':16s} " + "  ".join(f"{k(r['pods']) + '/' + k(base['pods']):>8s} tool  floor  tool/floor"
                                         for r in results[1:]))
    for label in base["cases"]:
        cells = []
        for r in results[1:]:
            t = r["cases"][label]["tool"]["cpu"] / max(base["cases"][label]["tool"]["cpu"], 1e-9)
            f = r["cases"][label]["floor"]["cpu"] / max(base["cases"][label]["floor"]["cpu"], 1e-9)
            cells.append(f"{'':8s} {t:4.1f}x {f:5.1f}x {t / f:8.2f}x")
        print(f"{label:16s} " + "  ".join(cells))


def print_scoped(results: list[dict]) -> None:
    print("\n=== one-namespace questions over mtls -A (target <= 0.3x the time; wall is the target, client CPU "
          "beside it as wall is noisy on a loaded machine)")
    print(f"{'size':6s} {'mtls -A s':>10s} {'CPU s':>6s}   {'mtls -n NS wall':>15s} {'CPU':>6s}   "
          f"{'authz check wall':>16s} {'CPU':>6s}   requests -A / -n NS / authz")
    for r in results:
        c = r["cases"]
        if not {"mtls -A", "mtls -n NS", "authz check"} <= set(c):
            print(f"{k(r['pods']):6s} (needs the mtls -A, mtls -n NS and authz check cases)")
            continue
        a, ac = c["mtls -A"]["tool"]["wall"], c["mtls -A"]["tool"]["cpu"]
        n, z = c["mtls -n NS"]["tool"], c["authz check"]["tool"]
        print(f"{k(r['pods']):6s} {a:10.2f} {ac:6.2f}   {n['wall'] / a:14.2f}x {n['cpu'] / ac:5.2f}x   "
              f"{z['wall'] / a:15.2f}x {z['cpu'] / ac:5.2f}x   {c['mtls -A']['tool_requests']} / "
              f"{c['mtls -n NS']['tool_requests']} / {c['authz check']['tool_requests']}")


def seeded_proxy_status(runs: int = 3) -> None:
    from mesh_plugin.runtime import configure
    from mesh_plugin.tools import get_tool

    t0 = time.perf_counter()
    api = APIProcess({"mode": "seeded"})
    try:
        info = api.info
        rt = configure(api.kubeconfig, "sandbox")
        op = get_tool("proxy_status")
        in_prod = [p for p in info["sidecars"] if not p.startswith("istio-")]
        print(f"\n=== proxy-status on the seeded sandbox ({info['config_source']} config; started in "
              f"{info['load_s']:.1f}s; synced: {info['synced']}): {len(info['sidecars'])} Envoy sidecars in the mesh, {len(in_prod)} in "
              f"namespace production" + (" (fewer than the 10 the target names)" if len(info["sidecars"]) < 10 else ""))
        down = list(info["downable"])[:2]

        def timed(label: str) -> None:
            walls, statuses, detail = [], "", ""
            for _ in range(runs):
                rt.reset()
                w = time.perf_counter()
                out = op.call(namespace="production")
                walls.append(time.perf_counter() - w)
                statuses = ", ".join(f"{s}: {sum(1 for x in out.sidecars if x.status == s)}"
                                     for s in ("SYNCED", "DIVERGED", "UNREACHABLE")
                                     if any(x.status == s for x in out.sidecars))
                detail = next((f"{x.pod}: {x.detail}" for x in out.sidecars if x.status == "DIVERGED"), "")
            print(f"{label:34s} wall {' '.join(f'{x:.3f}' for x in walls)} s (median {statistics.median(walls):.3f}; "
                  f"target < 0.5 s)  [{statuses}]" + (f"\n{'':34s} first DIVERGED: {detail[:200]}" if detail else ""))

        timed("all sidecars up")
        for d in down:
            api.cmd(f"down {d}")
        timed(f"{len(down)} down ({', '.join(down)})")
        api.cmd("up")
    finally:
        api.close()
    print(f"(section run {time.perf_counter() - t0:.0f}s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve-child", metavar="JSON", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                    help="pod counts, comma-separated (default 5000,20000,50000)")
    ap.add_argument("--quick", action="store_true", help="5,000 pods only")
    ap.add_argument("--namespace", default="team-0007", help="the namespace of the one-namespace cases")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each case and its floor; the least time is "
                    "kept (default 3)")
    ap.add_argument("--only", metavar="CASES", help="comma-separated case names (or parts: 'analyze,authz')")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed first call of each case")
    ap.add_argument("--no-seeded", action="store_true", help="skip proxy-status on the seeded sandbox")
    ap.add_argument("--profile", action="store_true", help="cProfile (CPU time) cases whose CPU is over 2x the floor's (and 0.2 s)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results there")
    ap.add_argument("--replay", metavar="FILE", help="print the tables of a --json file again (no run)")
    args = ap.parse_args()
    if args.serve_child:
        serve_child(json.loads(args.serve_child))
        return
    if args.replay:
        results = json.loads(Path(args.replay).read_text())
        for r in results:
            print_size(r)
        if len(results) > 1:
            print_across(results)
        print_scoped(results)
        return
    os.environ.setdefault("MESH_PLUGIN_CALL_DEADLINE", "900")
    sizes = [5000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for i, pods in enumerate(sizes):
        r = run_size(pods, args.namespace, warmup=not args.no_warmup and i == 0, profile=args.profile,
                     repeat=max(1, args.repeat), only=args.only.split(",") if args.only else None)
        results.append(r)
        print_size(r)
        sys.stdout.flush()
    if len(results) > 1:
        print_across(results)
    print_scoped(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    if not args.no_seeded:
        seeded_proxy_status()


if __name__ == "__main__":
    main()
