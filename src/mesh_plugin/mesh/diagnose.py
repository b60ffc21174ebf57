"""Follow one call (client workload -> host:port path) through the mesh and name why it fails. Pure.

The route the request takes (the first matching HTTP route of the mesh VirtualService, as Envoy picks it),
each destination subset with its share, its pods, the client sidecar's endpoints for that subset's cluster
(health, outlier ejections) and counters (requests, 5xx, the counters behind response flags), then the
destination's mTLS and authorization. The cause is the first of these that explains a failure:
authorization (403), an mTLS mismatch (the connection is reset: 503 UF/URX), a route to a subset no
DestinationRule defines (503 NC), a subset with no running pods (503 UH), a subset whose endpoints fail
(5xx share, ejections). The fix, when it is a weight, is the split without that subset.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from .workloads import is_running

#: a subset fails when at least this share of its completed requests were 5xx
FAILING_SHARE = 0.2


@dataclass
class Dest:
    host: str
    subset: str | None
    port: int | None
    weight: int


@dataclass
class Route:
    virtual_service: str | None          # "ns/name", or None: the Service's default route
    index: int | None
    name: str | None
    dests: list[Dest]


@dataclass
class SubsetFacts:
    subset: str | None
    share: float                          # of the route's traffic, 0..1
    cluster: str
    defined: bool                         # a DestinationRule subset exists (or no subset is named)
    pods: list[str] = field(default_factory=list)
    endpoints: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # (address, pod, healthy, ejected)
    completed: float = 0
    errors_5xx: float = 0
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def error_share(self) -> float:
        return self.errors_5xx / self.completed if self.completed else 0.0

    @property
    def label(self) -> str:
        return f"subset {self.subset}" if self.subset else "the Service"


@dataclass
class Verdict:
    cause: str
    evidence: list[str]
    failing_subset: str | None = None     # a weight fix moves this subset's share to the others
    fix_text: str | None = None


def _uri_matches(cond: dict, path: str) -> bool:
    if "exact" in cond:
        return path == cond["exact"]
    if "prefix" in cond:
        return path.startswith(str(cond["prefix"]))
    if "regex" in cond:
        try:
            return re.fullmatch(str(cond["regex"]), path) is not None
        except re.error:
            return False
    return True


def _matches(match: dict, path: str, method: str) -> bool:
    """One HTTPMatchRequest against a request that carries only a path and a method (no headers)."""
    for key, cond in match.items():
        if key in ("name", "ignoreUriCase"):
            continue
        if key == "uri":
            if not _uri_matches(cond or {}, path.lower() if match.get("ignoreUriCase") else path):
                return False
        elif key == "method":
            if not _uri_matches(cond or {}, method):
                return False
        elif key in ("headers", "queryParams", "authority", "scheme", "sourceLabels", "gateways", "port",
                     "sourceNamespace", "withoutHeaders", "statPrefix"):
            if key == "port" or key == "gateways" or key == "statPrefix":
                continue  # the port was chosen already; mesh traffic; no effect on matching
            if key == "withoutHeaders":
                continue  # the request carries no headers, so "without" holds
            return False  # a condition this request (no headers, no labels known) cannot meet
    return True


def route_taken(vs: dict | None, full: str, svc_short: str, ns: str, path: str, method: str) -> Route:
    """The first HTTP route of the mesh VirtualService whose match the request meets (Envoy's order)."""
    if vs is not None:
        for i, r in enumerate((vs.get("spec") or {}).get("http") or []):
            matches = r.get("match") or []
            if matches and not any(_matches(m or {}, path, method) for m in matches):
                continue
            dests = []
            entries = r.get("route") or []
            for d in entries:
                dst = d.get("destination") or {}
                host = str(dst.get("host") or "")
                dests.append(Dest(host=host, subset=dst.get("subset"), port=(dst.get("port") or {}).get("number"),
                                  weight=int(d.get("weight", 100 if len(entries) == 1 else 0))))
            return Route(f"{ns_of(vs)}/{name_of(vs)}", i, r.get("name"), dests)
    return Route(None, None, None, [Dest(host=svc_short, subset=None, port=None, weight=100)])


def subset_pods(snap: Snapshot, svc: dict, dr: dict | None, subset: str | None) -> tuple[bool, list[dict]]:
    """(defined, running pods): the Service's pods, narrowed by the DestinationRule subset's labels."""
    selector = (svc.get("spec") or {}).get("selector") or {}
    labels: dict = {}
    defined = subset is None
    for s in ((dr or {}).get("spec") or {}).get("subsets") or []:
        if s.get("name") == subset:
            labels, defined = s.get("labels") or {}, True
    if not defined:
        return False, []
    pods = [p for p in snap.of("Pod", ns_of(svc)) if is_running(p) and selector
            and all(labels_of(p).get(k) == v for k, v in {**selector, **labels}.items())]
    return True, pods


def verdict(subsets: list[SubsetFacts], authz: tuple[str, str] | None, tls_conflict: str | None) -> Verdict:
    """The first explanation that holds, with its evidence. ``authz`` is (decision, reason)."""
    evidence = [f"{s.label}: {s.share:.0%} of the route, {len(s.pods)} running pod(s), "
                f"{sum(1 for e in s.endpoints if e[3])} of {len(s.endpoints)} endpoint(s) ejected, "
                f"{int(s.errors_5xx)} 5xx of {int(s.completed)} requests"
                + (f", flags {' '.join(f'{k}={v}' for k, v in sorted(s.flags.items()))}" if s.flags else "")
                for s in subsets]
    if authz and authz[0] == "DENY":
        return Verdict(f"authorization denies the call (403): {authz[1]}", evidence,
                       fix_text="change the AuthorizationPolicy named above (security_status view=authz_check "
                                "shows the nearest ALLOW rule and the condition that failed)")
    if tls_conflict:
        return Verdict(f"mTLS mismatch: {tls_conflict}; the server resets the connection (503 UF/URX, "
                       "'upstream connect error')", evidence,
                       fix_text="let the DestinationRule use tls mode ISTIO_MUTUAL (or drop its tls block: "
                                "auto mTLS) for this host")
    live = [s for s in subsets if s.share > 0]
    for s in live:
        if not s.defined:
            return Verdict(f"the route sends {s.share:.0%} to {s.label}, which no DestinationRule defines: Envoy "
                           "has no such cluster and answers 503 (NC)", evidence, failing_subset=s.subset)
    for s in live:
        if not s.pods:
            return Verdict(f"{s.label} has no running pods but gets {s.share:.0%} of the traffic: 503 "
                           "'no healthy upstream' (UH)", evidence, failing_subset=s.subset)
    failing = [s for s in live if (s.endpoints and all(not e[2] or e[3] for e in s.endpoints))
               or (s.completed and s.error_share >= FAILING_SHARE)]
    healthy = [s for s in live if s not in failing]
    if failing and healthy:
        s = max(failing, key=lambda x: (x.error_share, x.share))
        ejected = sum(1 for e in s.endpoints if e[3])
        what = (f"{int(s.errors_5xx)} of {int(s.completed)} requests to it were 5xx" if s.completed else
                "none of its endpoints is healthy")
        return Verdict(f"{s.label} fails: {what}" + (f", {ejected} endpoint(s) ejected" if ejected else "")
                       + f"; it gets {s.share:.0%} of the route, so about that share of calls fail. Outlier "
                       "detection cannot route around it: the subset is its own cluster", evidence,
                       failing_subset=s.subset)
    if failing:
        s = failing[0]
        return Verdict(f"every destination fails ({s.label}: {int(s.errors_5xx)} 5xx of {int(s.completed)}): "
                       "the application answers errors, not the mesh", evidence,
                       fix_text="look at the destination's own logs; the mesh routes as configured")
    return Verdict("no failure seen in the route, the endpoints, the sidecar's counters, mTLS or authorization",
                   evidence)


def weights_without(route: Route, subset: str | None) -> dict[str, int]:
    """The route's weights with ``subset`` at 0 (the others keep theirs: weights are relative)."""
    return {str(d.subset): (0 if d.subset == subset else d.weight) for d in route.dests if d.subset}
