"""gateway.ConflictingGatewayAnalyzer: gateways on the same workloads and port that define the same host
(IST0145); a selector no gateway workload shares (IST0101).

A port of Istio's analyzer, including its use of ``model.CheckDuplicates``, which records a server's hosts
in the other gateway's host table when they do not clash (so a third gateway is compared against both).
Whether two different selectors share workloads is a lookup in the pod index (issue 23).
"""
from __future__ import annotations

from .base import Analyzer, Context
from .util import full_name, mapping, selector_string, seq, spec, str_map


def _parse_selector(s: str) -> dict[str, str]:
    out = {}
    for pair in s.split(","):
        kv = pair.split("=")
        if len(kv) == 2:
            out[kv[0]] = kv[1]
    return out


def check_duplicates(hosts: list[str], bind: str, known: dict[str, str]) -> list[str]:
    """model.CheckDuplicates: hosts already bound the same way; when there are none, ``known`` learns them."""
    dups = [h for h in hosts if h in known and known[h] == bind]
    if not dups:
        for h in hosts:
            known[h] = bind
    return dups


class ConflictingGatewayAnalyzer(Analyzer):
    name = "gateway.ConflictingGatewayAnalyzer"
    description = "Checks a gateway's selector, port number and hosts"
    inputs = ("Gateway", "Pod")

    def analyze(self, ctx: Context) -> None:
        table: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        for gw in ctx.of("Gateway"):
            sel = selector_string(str_map(spec(gw).get("selector")))
            for server in seq(spec(gw).get("servers")):
                server = mapping(server)
                port = str(int(mapping(server.get("port")).get("number") or 0))
                bind = str(server.get("bind") or "")
                table.setdefault((sel, port), {})[full_name(gw)] = {str(h): bind for h in seq(server.get("hosts"))}
        shared: dict[tuple[str, str], bool] = {}
        for gw in ctx.of("Gateway"):
            self._gateway(ctx, gw, table, shared)

    @staticmethod
    def _share_pods(ctx: Context, a: str, b: str, memo: dict[tuple[str, str], bool]) -> bool:
        key = (a, b) if a <= b else (b, a)
        if key not in memo:
            sa, sb = _parse_selector(a), _parse_selector(b)
            if any(k in sb and sb[k] != v for k, v in sa.items()):
                memo[key] = False
            else:
                memo[key] = ctx.pods.any(None, {**sa, **sb})
        return memo[key]

    def _gateway(self, ctx: Context, gw: dict, table: dict, shared: dict) -> None:
        name = full_name(gw)
        sel = selector_string(str_map(spec(gw).get("selector")))
        hits: list[tuple[tuple[str, str], dict[str, dict[str, str]]]] = []
        for key, gws in table.items():
            other = key[0]
            if other == sel or ((other in sel or sel in other) and self._share_pods(ctx, sel, other, shared)):
                hits.append((key, gws))
        if sel and not hits:
            ctx.report("IST0101", gw, "selector", sel)
            return
        for server in seq(spec(gw).get("servers")):
            server = mapping(server)
            port = str(int(mapping(server.get("port")).get("number") or 0))
            hosts = [str(h) for h in seq(server.get("hosts"))]
            bind = str(server.get("bind") or "")
            conflicting = []
            for key, gws in hits:
                if key[1] != port:
                    continue
                for other_name, known in gws.items():
                    if other_name != name and check_duplicates(hosts, bind, known):
                        conflicting.append(other_name)
            if conflicting:
                ctx.report("IST0145", gw, ",".join(sorted(conflicting)), sel, port, ",".join(hosts))
