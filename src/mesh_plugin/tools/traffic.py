"""Traffic management: describe_routing, set_traffic_split, traffic_step, set_traffic_mirror, verify_routing,
canary_template. Writes go through the shared change path, or print manifests in offline mode."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field

from ..changes.path import ChangeResult, diff as object_diff, execute_all, kind_of_object
from ..errors import InvalidInput, MeshError, NotFound, Unreachable
from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import gatewayapi as GA
from ..mesh import routing as R
from ..mesh.workloads import is_running, sidecar_of
from ..models import Page
from ..render import render_changes, note, table
from ..runtime import RUNTIME
from .registry import (Apply, Confirm, Files, Force, Host, Limit, Namespace, Offset, OptNamespace, ShowDiff,
                       Weights, Window, op)

#: ConfigMap: the mesh config only (rootNamespace, defaultHttpRetryPolicy); Sidecar: what each client imports
ROUTING_KINDS = ("Service", "Pod", "VirtualService", "DestinationRule", "Gateway", "Namespace", "ServiceEntry",
                 "ConfigMap", "Sidecar",
                 GA.GATEWAY, GA.HTTPROUTE, GA.GRPCROUTE, GA.REFERENCE_GRANT, GA.GATEWAY_CLASS)
#: what the routing writes may change
ROUTE_WRITE_KINDS = {"VirtualService", "DestinationRule"}
HTTPROUTE_WRITE_KINDS = {GA.HTTPROUTE, GA.GRPCROUTE}


# -- the output models: mesh/routing.py and mesh/gatewayapi.py return plain records (dataclasses of the same
# fields), read with Model.model_validate(record, from_attributes=True) ----------------------------------------
class Destination(BaseModel):
    host: str
    subset: str | None = None
    port: int | None = None
    weight: int | None = None


class EnvoyCluster(BaseModel):
    host: str
    subset: str | None = None
    port: int | None = Field(default=None, description="null: the port of the listener the request came in on")
    weight: int | None = Field(default=None, description="relative weight; null for a single destination")


class EnvoyMirror(BaseModel):
    host: str
    subset: str | None = None
    port: int | None = None
    percent: float


class EnvoyRetry(BaseModel):
    attempts: int
    retry_on: str
    retriable_status_codes: list[int] = []
    per_try_timeout: str | None = None


class EnvoyRoute(BaseModel):
    """What istiod sends Envoy for one VirtualService route."""

    reachable: bool = Field(description="false: after a catch-all route, istiod does not send it")
    names: list[str] = Field(default=[], description=(
        "the Envoy routes istiod emits for it: one per match (name or name.matchName), none after a catch-all"))
    action: str = Field(description="route, redirect or direct_response; tcp_proxy for a TCP route")
    match_ports: list[int] = Field(default=[], description="TCP routes: the listener ports it applies to ([] = any)")
    clusters: list[EnvoyCluster] = []
    timeout: str = Field(default="0s", description="0s = no timeout")
    retry: EnvoyRetry | None = Field(default=None, description="null: retries off")
    mirrors: list[EnvoyMirror] = []


class RouteEntry(BaseModel):
    kind: str = Field(description="http, tcp or tls")
    index: int
    name: str | None = None
    match: list[str] = Field(default=[], description="each match as text; empty = every request")
    destinations: list[Destination] = []
    timeout: str | None = None
    retries: str | None = None
    fault: str | None = None
    mirror: str | None = None
    rewrite: str | None = None
    headers: str | None = None
    redirect: str | None = None
    envoy: EnvoyRoute | None = Field(default=None, description="http routes: what Envoy is sent for this route")


class VirtualServiceView(BaseModel):
    name: str = Field(description='"ns/name"')
    gateways: list[str]
    hosts: list[str]
    routes: list[RouteEntry]


class SubsetView(BaseModel):
    name: str
    labels: dict[str, str]
    pods: int = Field(description="running pods the subset selects")


class RoutingView(BaseModel):
    host: str
    service: str | None = Field(description='"ns/name" of the Service, or null')
    ports: list[str] = []
    virtual_services: list[VirtualServiceView]
    destination_rule: str | None = None
    subsets: list[SubsetView] = []
    gateways: list[str] = Field(default=[], description="gateways that expose the host")
    clients: dict[str, str] = Field(default={}, description=(
        "client namespace -> what its sidecars do for this host: the VirtualService, the default route, or not "
        "visible (Sidecar egress)"))
    findings: list[str] = Field(default=[], description="what will misroute, most severe first")


class GWBackend(BaseModel):
    name: str = Field(description='"ns/name" of the Service (or the hostname)')
    port: int | None = None
    weight: int = Field(description="as written (default 1); relative")
    share: float = Field(description="percent of the rule's requests it gets")
    problem: str = Field(default="", description="why its share fails (Istio answers 500)")


class GWRule(BaseModel):
    index: int
    name: str = Field(default="", description="the Envoy route name: rules[].name, else ns.route.index")
    match: list[str] = Field(default=[], description="each match as text; empty = every request")
    backends: list[GWBackend] = []
    action: str = Field(default="route", description="route, redirect ..., or 500 (no backend weight above 0)")
    timeout: str | None = None
    retries: str | None = None
    mirrors: list[str] = []
    filters: list[str] = []


class GWParent(BaseModel):
    ref: str = Field(description='e.g. "Service ns/name:port" (mesh) or "Gateway ns/name/listener"')
    mesh: bool
    accepted: bool
    reason: str = Field(description="Accepted, or why Istio refuses it (NotAllowedByListeners, ...)")
    message: str = ""
    hosts: list[str] = Field(default=[], description="gateway parents: the host:port the route serves there")
    waypoint: str = Field(default="", description="ambient: the ResolvedWaypoints message when a waypoint is missing")


class GWRoute(BaseModel):
    kind: str = Field(description="HTTPRoute or GRPCRoute")
    name: str = Field(description='"ns/name"')
    parents: list[GWParent]
    resolved_refs: str = Field(default="", description='"" when every reference resolved, else "Reason: message"')
    rules: list[GWRule]


class GatewayAPIRouting(BaseModel):
    routes: list[GWRoute] = Field(default=[], description="Gateway API routes that route the host or send to it")
    applies: dict[str, str] = Field(default={}, description=(
        'client namespace -> what routes the host for its sidecars ("*": every other namespace); '
        '"ambient": what its waypoint applies'))
    findings: list[str] = []
    note: str = Field(default="", description='"showing N of M routes" when cut')


#: most routes and rules an answer lists, and the JSON size the Gateway API part stays under (the whole answer
#: stays under 8 KB)
MAX_ROUTES = 8
MAX_RULES = 12
BUDGET = 4500


class RoutingAnswer(RoutingView):
    gateway_api: GatewayAPIRouting | None = Field(default=None, description=(
        "Gateway API: HTTPRoutes/GRPCRoutes that route the host (mesh) or send to it (ingress), as Istio accepts "
        "and translates them, and which VirtualService or HTTPRoute applies to which client"))


def _render_gateway_api(g: GatewayAPIRouting) -> list[str]:
    out = []
    for r in g.routes:
        parents = "; ".join(p.ref + ("" if p.accepted else f" [{p.reason}]") + (f" {', '.join(p.hosts)}" if p.hosts
                                                                              else "") for p in r.parents) or "none"
        out.append(f"\n{r.kind} {r.name}  parents: {parents}" + (f"\n  refs: {r.resolved_refs}" if r.resolved_refs
                                                                    else ""))
        rows = []
        for rule in r.rules:
            backends = ", ".join(f"{b.name.split('/')[-1]}" + (f":{b.port}" if b.port else "") + f" {b.share:g}%"
                                 + (" (500)" if b.problem else "") for b in rule.backends) or "-"
            extras = "; ".join(x for x in ([f"timeout {rule.timeout}"] if rule.timeout else []) +
                               ([f"retries {rule.retries}"] if rule.retries else []) +
                               [f"mirror {m}" for m in rule.mirrors] + rule.filters if x)
            rows.append([f"rules[{rule.index}]", " | ".join(rule.match) or "any",
                         backends if rule.action == "route" else rule.action, extras])
        out.append(table(["RULE", "MATCH", "BACKENDS", "POLICY"], rows))
    if g.applies:
        out.append("\nFor sidecar clients: " + "; ".join(
            f"{'other namespaces' if ns == '*' else ns} -> {a}" for ns, a in g.applies.items()))
    if g.note:
        out.append(f"({g.note})")
    return out


def render_routing(v: RoutingAnswer) -> str:
    out = [f"Host {v.host}" + (f" (Service {v.service}, ports {', '.join(v.ports)})" if v.service else " (no Service)")]
    for vs in v.virtual_services:
        out.append(f"\nVirtualService {vs.name}  gateways: {', '.join(vs.gateways)}  hosts: {', '.join(vs.hosts)}")
        rows = []
        for r in vs.routes:
            dests = ", ".join(f"{d.host.split('.')[0]}" + (f"/{d.subset}" if d.subset else "") +
                              (f":{d.port}" if d.port else "") + (f" {d.weight}%" if d.weight is not None else "")
                              for d in r.destinations) or (f"redirect {r.redirect}" if r.redirect else "-")
            extras = "; ".join(x for x in (f"timeout {r.timeout}" if r.timeout else "",
                                           f"retries {r.retries}" if r.retries else "",
                                           f"fault {r.fault}" if r.fault else "",
                                           f"mirror {r.mirror}" if r.mirror else "",
                                           f"rewrite {r.rewrite}" if r.rewrite else "") if x)
            rows.append([f"{r.kind}[{r.index}]", r.name or "", " | ".join(r.match) or "any", dests, extras])
        out.append(table(["ROUTE", "NAME", "MATCH", "DESTINATIONS", "POLICY"], rows))
    gapi = getattr(v, "gateway_api", None)
    if gapi is not None:
        out += _render_gateway_api(gapi)
    if not v.virtual_services and not (gapi and gapi.routes):
        out.append("\nNo VirtualService or HTTPRoute: traffic goes round-robin to every pod of the Service.")
    if v.destination_rule:
        out.append(f"\nDestinationRule {v.destination_rule}")
        out.append(table(["SUBSET", "LABELS", "PODS"], [[s.name, ",".join(f"{k}={x}" for k, x in s.labels.items()),
                                                          s.pods] for s in v.subsets]))
    if v.gateways:
        out.append(f"\nExposed by gateways: {', '.join(v.gateways)}")
    findings = list(v.findings) + (list(gapi.findings) if gapi else [])
    if findings:
        out.append("\nFindings:")
        out += [f"  - {f}" for f in findings]
    return "\n".join(out)


@op("traffic_status", "routing", cli="routing", args="host", render=render_routing)
def describe_routing(host: Host, namespace: OptNamespace = None, files: Files = None) -> RoutingAnswer:
    """Routes for a host: VirtualServices, HTTPRoutes, weights, subsets and their pods, findings.

    How requests to a host are routed: every VirtualService that routes it (mesh and gateways), each
    HTTP/TCP/TLS route in order (matches, destinations with subset and weight, retries, timeouts, fault
    injection, mirror and percentage, rewrites), the DestinationRule subsets with the running pods each
    selects, the gateways that expose it; the Gateway API HTTPRoutes/GRPCRoutes (mesh parentRefs to the
    Service, Gateway parentRefs with listener status) as Istio translates them, and which of a VirtualService
    and an HTTPRoute applies to which clients; findings that will misroute."""
    snap = RUNTIME.snapshot(ROUTING_KINDS, None, files, mesh_config=True)
    view = R.describe(snap, host, namespace)
    answer = RoutingAnswer.model_validate(view, from_attributes=True)
    full, svc = R.resolve_host(snap, host, namespace)
    if snap.of(GA.HTTPROUTE) or snap.of(GA.GRPCROUTE):
        clients = sorted({ns_of(p) for p in snap.of("Pod") if sidecar_of(p) == "istio" and is_running(p)})
        answer.gateway_api = fit_gateway_api(GatewayAPIRouting.model_validate(
            GA.describe(snap, full, svc, R.virtual_services_for(snap, full), clients), from_attributes=True))
    return answer


def fit_gateway_api(view: GatewayAPIRouting) -> GatewayAPIRouting:
    """The Gateway API part cut to its budget (fewer rules per route, then fewer routes), saying so in ``note``."""
    total, rules_total = len(view.routes), sum(len(r.rules) for r in view.routes)
    all_routes = view.routes
    max_routes, max_rules = MAX_ROUTES, MAX_RULES
    while True:  # cut to the budget: fewer rules per route, then fewer routes
        view.routes = [r.model_copy(update={"rules": r.rules[:max_rules]}) for r in all_routes[:max_routes]]
        if len(view.model_dump_json().encode()) <= BUDGET or (max_routes == 1 and max_rules == 1):
            break
        if max_rules > 3:
            max_rules -= 3
        elif max_routes > 1:
            max_routes -= 1
        else:
            max_rules = max(1, max_rules - 1)
    shown_rules = sum(len(r.rules) for r in view.routes)
    if len(view.routes) < total or shown_rules < rules_total:
        view.note = (f"showing {len(view.routes)} of {total} routes and {shown_rules} of {rules_total} rules; "
                     "describe a narrower host or read the routes for the rest")
    return view


class TrafficChange(BaseModel):
    host: str
    changes: list[ChangeResult] = Field(default=[], description="one per object, DestinationRule first")
    manifests: str | None = Field(default=None, description="offline mode: the changed manifests (or a diff)")
    warnings: list[str] = []
    note: str = ""


def _context(host: str, namespace: str | None, files: list[str] | None, *, fresh: bool = False
             ) -> tuple[Snapshot, str, dict, dict | None, dict | None]:
    """(snapshot, fqdn, Service, the one mesh VirtualService or None, DestinationRule or None) - validated.
    Writes pass ``fresh``: a change is computed from a fresh read, never from the session's cached LISTs."""
    snap = RUNTIME.snapshot(ROUTING_KINDS, None, files, fresh=fresh, mesh_config=True)
    full, svc = R.resolve_host(snap, host, namespace)
    if svc is None:
        raise NotFound(f"No Service for {full}.", hint="traffic splits need a Kubernetes Service for the host.")
    mesh_vs = [vs for vs in R.virtual_services_for(snap, full)
               if "mesh" in ((vs.get("spec") or {}).get("gateways") or ["mesh"])]
    if len(mesh_vs) > 1:
        raise InvalidInput(f"Several VirtualServices claim {full}: "
                           f"{', '.join(f'{ns_of(v)}/{name_of(v)}' for v in mesh_vs)}.",
                           hint="merge them into one first (traffic_status view=routing shows both).")
    return snap, full, svc, (mesh_vs[0] if mesh_vs else None), R.destination_rule_for(snap, full)


def _subset_labels(snap: Snapshot, svc: dict, dr: dict | None, subsets: list[str]) -> tuple[dict[str, dict], list[str]]:
    """Labels for subsets the DestinationRule lacks, from the pods' ``version`` label; error if none."""
    have = {str(s.get("name")) for s in ((dr or {}).get("spec") or {}).get("subsets") or []}
    selector = (svc.get("spec") or {}).get("selector") or {}
    pods = [p for p in snap.of("Pod", ns_of(svc)) if is_running(p) and selector
            and all(labels_of(p).get(k) == v for k, v in selector.items())]
    versions = {labels_of(p).get("version") for p in pods if labels_of(p).get("version")}
    missing: dict[str, dict] = {}
    for s in subsets:
        if s in have:
            continue
        if s not in versions:
            raise InvalidInput(f"Unknown subset {s!r}: no DestinationRule subset and no running pod of "
                               f"{ns_of(svc)}/{name_of(svc)} with label version={s}.",
                               hint=f"use one of: {', '.join(sorted(have | versions)) or '(none)'}.")
        missing[s] = {"version": s}
    return missing, sorted(have)


def _apply_objects(objs: list[dict], files: list[str] | None, apply: bool, confirm: str | None, show_diff: bool,
                   snap: Snapshot, note_text: str, host: str, warnings: list[str], *, kinds: set[str],
                   namespace: str | None = None) -> TrafficChange:
    """Offline: the changed manifests (or a diff). Live: one change of several objects on the change path,
    limited to ``kinds`` (and to ``namespace``), each object keeping the resourceVersion of the (fresh)
    read it was computed from."""
    if files:
        texts = []
        for o in objs:
            kind = kind_of_object(o)
            before = snap.get(kind.key, name_of(o), ns_of(o))
            if show_diff:
                texts.append(object_diff(before, o, f"{o['kind']} {ns_of(o)}/{name_of(o)}"))
            else:
                texts.append(yaml.safe_dump(_manifest(o), sort_keys=False))
        joiner = "\n" if show_diff else "---\n"
        return TrafficChange(host=host, manifests=joiner.join(texts), warnings=warnings,
                             note="offline: nothing applied and the input files are unchanged; " + note_text)
    for o in objs:  # objects generated anew replace the ones the read found, at that read's version
        kind = kind_of_object(o)
        seen = snap.get(kind.key, name_of(o), ns_of(o))
        rv = ((seen or {}).get("metadata") or {}).get("resourceVersion")
        if seen is not None and rv and not (o.get("metadata") or {}).get("resourceVersion"):
            o.setdefault("metadata", {})["resourceVersion"] = rv
    results = execute_all(RUNTIME.client(), objs, apply=apply, confirm=confirm, kinds=kinds, namespace=namespace)
    return TrafficChange(host=host, changes=results, warnings=warnings, note=note_text)


def _manifest(o: dict) -> dict:
    from ..changes.path import clean

    return clean(o) or {}


def _route_notes(snap: Snapshot, target: GA.SplitTarget, svc: dict) -> list[str]:
    """What an HTTPRoute write does not change, or reaches only partly."""
    out = [f"edits {target.label}"]
    if target.mesh and ns_of(target.route) != ns_of(svc):
        out.append(f"{target.label} is a consumer route: it applies only to clients in {ns_of(target.route)}")
    if not target.mesh:
        out.append(f"{target.label} is a gateway route: traffic inside the mesh to the Service is not split")
    else:
        out += _ingress_notes(snap, f"{name_of(svc)}.{ns_of(svc)}.{R.DOMAIN}")
    return out


def _ingress_notes(snap: Snapshot, full: str) -> list[str]:
    """Gateway API routes that send to the host directly: a VirtualService change does not reach them."""
    if not (snap.of(GA.HTTPROUTE) or snap.of(GA.GRPCROUTE)):
        return []
    t = GA.translate(snap)
    out = []
    for i in t.routes:
        if any(not p.mesh and p.denied is None for p in i.parents) and any(
                (d.get("destination") or {}).get("host") == full
                for r in i.gateway_rules for d in r.get("route") or []):
            out.append(f"{i.key.rpartition('/')[2]} {ns_of(i.route)}/{name_of(i.route)} sends gateway traffic to "
                       f"{full} itself: this change does not reach it")
    return out


@op("traffic_change", "split", cli="traffic split", args="host weights=K=V...", render=render_changes)
def set_traffic_split(host: Host, weights: Weights,
                      namespace: OptNamespace = None, files: Files = None, apply: Apply = False,
                      confirm: Confirm = None, show_diff: ShowDiff = False) -> TrafficChange:
    """Route a host by weights of subsets or HTTPRoute backends (relative, as Istio does).

    Route a host's traffic by weight (canary). Validates first (whole weights >= 0, not all 0; a Service
    exists; one VirtualService or HTTPRoute routes the host, not both). With a VirtualService: subsets known
    or creatable from pods' version label; edits its main route (and adds missing DestinationRule subsets).
    When an HTTPRoute routes the host (GAMMA parentRef to the Service, else the one gateway route sending to
    it) and no VirtualService does: the weights name backend Services, set on the route's main rule
    (gateway routes: every rule sending to the host). Server-side dry-run and diff by default; apply=true
    applies with a resourceVersion precondition and returns rollback handles (rollback_change). With files=,
    prints the changed manifests (or a diff) for a GitOps repo."""
    w = R.validate_weights(weights)
    snap, full, svc, vs, dr = _context(host, namespace, files, fresh=True)
    target = GA.split_target(snap, full, svc, R.virtual_services_for(snap, full))
    if target is not None:
        new = GA.with_backend_weights(snap, target, w, svc)
        warnings = [] if sum(w.values()) == 100 else [f"weights are relative (total {sum(w.values())}): {R.shares(w)}"]
        warnings += _route_notes(snap, target, svc)
        split = " ".join(f"{k}={v}" for k, v in w.items())
        return _apply_objects([new], files, apply, confirm, show_diff, snap,
                              f"split {full}: {split} on {target.label} rules {target.rules}", full, warnings,
                              kinds=HTTPROUTE_WRITE_KINDS, namespace=ns_of(target.route))
    missing, _ = _subset_labels(snap, svc, dr, list(w))
    short, ns = name_of(svc), ns_of(svc)
    objs = []
    if missing:
        objs.append(R.with_subsets(dr, short, ns, missing))
    port = None
    ports = (svc.get("spec") or {}).get("ports") or []
    if len(ports) > 1:
        port = int(ports[0].get("port"))
    objs.append(R.with_split(vs, short, ns, full, w, port))
    warnings = [f"DestinationRule subsets added from pod labels: {', '.join(missing)}"] if missing else []
    split = " ".join(f"{k}={v}" for k, v in w.items())
    if sum(w.values()) != 100:
        warnings.append(f"weights are relative (total {sum(w.values())}): {R.shares(w)}")
    warnings += _ingress_notes(snap, full)
    edited = f"VirtualService {ns}/{name_of(objs[-1])}"
    return _apply_objects(objs, files, apply, confirm, show_diff, snap, f"split {full}: {split} on {edited}", full,
                          warnings, kinds=ROUTE_WRITE_KINDS, namespace=ns)


@op("traffic_change", "mirror", cli="traffic mirror", args="host subset percent", render=render_changes)
def set_traffic_mirror(host: Host, subset: Annotated[str, Field(min_length=1, max_length=63, description=(
                           "subset: mirror (the copy's target), outlier/pool (one subset only)"))],
                       percent: Annotated[float, Field(ge=0, le=100, description="share to mirror; 0 removes it")],
                       namespace: OptNamespace = None, files: Files = None, apply: Apply = False,
                       confirm: Confirm = None, show_diff: ShowDiff = False) -> TrafficChange:
    """Mirror a share of a host's requests to a subset or Service (0 removes it).

    Mirror (shadow) a share of a host's requests: a VirtualService mirror with mirrorPercentage to a subset,
    or, when an HTTPRoute routes the host, a RequestMirror filter (percent, or fraction when not whole) to
    the Service named by subset; responses from the mirror are discarded. Same write path as
    traffic_change action=split (dry-run diff by default, rollback handle)."""
    snap, full, svc, vs, dr = _context(host, namespace, files, fresh=True)
    target = GA.split_target(snap, full, svc, R.virtual_services_for(snap, full))
    if target is not None:
        new = GA.with_request_mirror(snap, target, subset, percent, svc)
        return _apply_objects([new], files, apply, confirm, show_diff, snap,
                              f"mirror {percent}% of {full} to Service {subset} on {target.label} rules "
                              f"{target.rules}", full, _route_notes(snap, target, svc),
                              kinds=HTTPROUTE_WRITE_KINDS, namespace=ns_of(target.route))
    missing, _ = _subset_labels(snap, svc, dr, [subset])
    if vs is None:
        raise InvalidInput(f"No VirtualService or HTTPRoute routes {full}.",
                           hint="create one first with traffic_change action=split.")
    objs = []
    if missing:
        objs.append(R.with_subsets(dr, name_of(svc), ns_of(svc), missing))
    objs.append(R.with_mirror(vs, name_of(svc), subset, percent))
    return _apply_objects(objs, files, apply, confirm, show_diff, snap, f"mirror {percent}% of {full} to {subset}",
                          full, [], kinds=ROUTE_WRITE_KINDS, namespace=ns_of(svc))


def current_weights(vs: dict | None) -> dict[str, int]:
    if vs is None:
        return {}
    i = R.main_http_route(vs)
    if i is None:
        return {}
    dests = ((vs.get("spec") or {}).get("http") or [])[i].get("route") or []
    return {str((d.get("destination") or {}).get("subset") or "-"): int(d.get("weight", 100 if len(dests) == 1 else 0))
            for d in dests}


def error_rates(service: str, namespace: str, window: str) -> tuple[dict[str, float], str]:
    """destination_version -> 5xx share, from istio_requests_total."""
    from ..metrics import prometheus_for
    from ..metrics.prometheus import service_traffic

    try:
        prom = prometheus_for(RUNTIME)
        traffic = service_traffic(prom, service, namespace, window, by="destination_version")
    except InvalidInput:  # the configured Prometheus URL is malformed: say so, do not hide it
        raise
    except MeshError as e:
        return {}, f"metrics unavailable: {e}"
    return ({v: (bad / total if total else 0.0) for v, (total, bad) in traffic.items()},
            f"Prometheus at {prom.where}, istio_requests_total over {window}")


def envoy_error_rates(snap: Snapshot, full: str, port: int, subsets: list[str]) -> tuple[dict[str, float], str,
                                                                                         set[str]]:
    """subset -> 5xx share from the calling sidecars' Envoy counters (upstream_rq_5xx over the requests answered
    (the response-class counters, see envoy.live.answered) of each subset's cluster, summed over every sidecar that has the cluster), and the subsets with an endpoint
    ejected right now. Counters run since each proxy started: a fallback when Prometheus is absent."""
    from ..envoy.admin import fetch_many
    from ..envoy.live import answered, cluster_counters, endpoints

    pods = [(ns_of(p), name_of(p)) for p in snap.of("Pod") if sidecar_of(p) in ("istio", "istio-gateway")
            and is_running(p)][:50]
    client = RUNTIME.client()
    stats = fetch_many(client, pods, "stats", [("filter", f"^cluster\\.outbound\\|{port}\\|.*\\|{full};?\\."),
                                               ("format", "json")])
    live = fetch_many(client, pods, "clusters", [("format", "json")])
    totals: dict[str, list[float]] = {}
    readers = 0
    for body in stats.values():
        if isinstance(body, Exception):
            continue
        for cluster, c in cluster_counters(body).items():
            subset = cluster.split("|")[2] if cluster.count("|") == 3 else ""
            if subset in subsets and cluster.endswith("|" + full):
                t = totals.setdefault(subset, [0.0, 0.0])
                t[0] += answered(c)
                t[1] += c.get("upstream_rq_5xx", 0)
                readers += 1
    ejected = {e.cluster.split("|")[2] for body in live.values() if not isinstance(body, Exception)
               for e in endpoints(body) if e.ejected and e.cluster.endswith("|" + full)}
    rates = {s: (bad / done) for s, (done, bad) in totals.items() if done}
    answered = sum(1 for b in stats.values() if not isinstance(b, Exception))
    return rates, (f"Envoy counters of {answered} calling sidecar(s) (since each started)" if rates else
                   f"no Envoy counters for {full}:{port} in {answered} of {len(pods)} sidecars"), ejected


def backend_error_rates(services: list[str], namespace: str, window: str) -> tuple[dict[str, float], str]:
    """backend Service -> 5xx share, from istio_requests_total (destination_service_name is the backend)."""
    from ..metrics import prometheus_for
    from ..metrics.prometheus import service_traffic

    try:
        prom = prometheus_for(RUNTIME)
        rates = {}
        for name in dict.fromkeys(services):
            total, bad = service_traffic(prom, name, namespace, window).get("", (0.0, 0.0))
            if total:
                rates[name] = bad / total
    except InvalidInput:
        raise
    except MeshError as e:
        return {}, f"metrics unavailable: {e}"
    return rates, f"Prometheus at {prom.where}, istio_requests_total over {window}"


def backend_envoy_error_rates(snap: Snapshot, target: GA.SplitTarget, svc: dict, services: list[str]
                              ) -> tuple[dict[str, float], str, set[str]]:
    """backend Service -> 5xx share from the calling proxies' Envoy counters of each backend's cluster
    (``outbound|PORT||NAME.NS.svc.cluster.local``), and the backends with an endpoint ejected right now."""
    from ..envoy.admin import fetch_many
    from ..envoy.live import answered, cluster_counters, endpoints

    rule = ((target.route.get("spec") or {}).get("rules") or [{}])[target.rules[0]]
    clusters = {}
    for name in dict.fromkeys(services):
        try:
            port = GA.backend_port(snap, target, rule, name, ns_of(svc), svc)
        except InvalidInput:
            continue
        clusters[f"outbound|{port}||{name}.{ns_of(svc)}.{R.DOMAIN}"] = name
    pods = [(ns_of(p), name_of(p)) for p in snap.of("Pod") if sidecar_of(p) in ("istio", "istio-gateway")
            and is_running(p)][:50]
    client = RUNTIME.client()
    pattern = "|".join(c.replace("|", "\\|").replace(".", "\\.") for c in clusters)
    stats = fetch_many(client, pods, "stats", [("filter", f"^cluster\\.({pattern});?\\."), ("format", "json")])
    live = fetch_many(client, pods, "clusters", [("format", "json")])
    totals: dict[str, list[float]] = {}
    for body in stats.values():
        if isinstance(body, Exception):
            continue
        for cluster, c in cluster_counters(body).items():
            if cluster in clusters:
                t = totals.setdefault(clusters[cluster], [0.0, 0.0])
                t[0] += answered(c)
                t[1] += c.get("upstream_rq_5xx", 0)
    ejected = {clusters[e.cluster] for body in live.values() if not isinstance(body, Exception)
               for e in endpoints(body) if e.ejected and e.cluster in clusters}
    rates = {s: (bad / done) for s, (done, bad) in totals.items() if done}
    answered = sum(1 for b in stats.values() if not isinstance(b, Exception))
    return rates, (f"Envoy counters of {answered} calling proxies (since each started)" if rates else
                   f"no Envoy counters for {', '.join(clusters) or 'the backends'} ({answered} proxies answered)"
                   ), ejected


def subset_version(dr: dict | None, subset: str) -> str:
    """The version label a subset selects (Istio's destination_version), else the subset's name."""
    for s in ((dr or {}).get("spec") or {}).get("subsets") or []:
        if s.get("name") == subset and (s.get("labels") or {}).get("version"):
            return str(s["labels"]["version"])
    return subset


class StepResult(TrafficChange):
    canary: str
    from_weight: int
    to_weight: int
    error_rates: dict[str, float] = Field(default={}, description="5xx share per version in the window")
    metrics: str = ""


@op("traffic_change", "step", cli="traffic step", args="host canary", render=render_changes)
def traffic_step(host: Host, canary: Annotated[str, Field(min_length=1, max_length=63, description="canary subset")],
                 namespace: OptNamespace = None,
                 steps: Annotated[list[int], Field(min_length=1, max_length=10, description=(
                     "canary weight ladder"))] = [10, 25, 50, 100],  # noqa: B006
                 max_error_increase: Annotated[float, Field(ge=0, le=1, description=(
                     "most the canary's 5xx share may exceed stable's"))] = 0.01,
                 window: Window = "10m",
                 force: Force = False, apply: Apply = False, confirm: Confirm = None) -> StepResult:
    """Move a canary to the next weight only if its error rate allows (fails closed).

    Move a canary to the next weight on a ladder (default 10 -> 25 -> 50 -> 100), the rest to the stable
    subset (or, when an HTTPRoute routes the host, the stable backend Service). Refuses (unless force=true)
    when the canary's 5xx share is worse than the stable one by more than
    max_error_increase, when one of its endpoints is ejected right now, or when there are no metrics at all:
    Prometheus first, else the calling sidecars' Envoy counters (upstream_rq_5xx per answered
    request of each subset cluster). Dry-run diff by default."""
    if any(s < 1 or s > 100 for s in steps) or steps != sorted(steps):
        raise InvalidInput("steps must be increasing weights between 1 and 100.", hint="e.g. [10, 25, 50, 100].")
    snap, full, svc, vs, dr = _context(host, namespace, None, fresh=True)
    target = GA.split_target(snap, full, svc, R.virtual_services_for(snap, full))
    if target is not None:  # an HTTPRoute routes the host: the canary and stable are backend Services
        raw = GA.current_backend_weights(target)
        total = sum(raw.values()) or 1
        weights = {k: round(100 * v / total) for k, v in raw.items()}
        if snap.get("Service", canary, ns_of(svc)) is None:
            raise InvalidInput(f"No Service {canary} in {ns_of(svc)}: with {target.label} the canary is a backend "
                               "Service.", hint="create the canary's Service first (selecting its pods).")
    else:
        weights = current_weights(vs)
        if canary not in weights and canary not in {str(s.get("name")) for s in ((dr or {}).get("spec") or {}).get(
                "subsets") or []}:
            _subset_labels(snap, svc, dr, [canary])  # raises for an unknown subset
    cur = weights.get(canary, 0)
    nxt = next((s for s in steps if s > cur), None)
    if nxt is None:
        raise InvalidInput(f"{canary} already gets {cur}%: the ladder {steps} is done.",
                           hint="to finish, remove the other subsets from the route, or pick a new ladder.")
    stable = max((s for s in weights if s != canary), key=lambda s: weights[s], default=None)
    if stable is None and target is not None:
        if canary == name_of(svc):
            raise InvalidInput(f"No stable backend to shift traffic from for {full}.")
        stable = name_of(svc)
    elif stable is None:
        versions = sorted({labels_of(p).get("version") for p in snap.of("Pod", ns_of(svc))
                           if labels_of(p).get("version") and labels_of(p).get("version") != canary})
        if not versions:
            raise InvalidInput(f"No stable subset to shift traffic from for {full}.")
        stable = versions[0]
    new = {stable: 100 - nxt, canary: nxt} if nxt < 100 else {canary: 100}
    port = int(((svc.get("spec") or {}).get("ports") or [{"port": 80}])[0].get("port"))
    if target is not None:
        rates, metrics = backend_error_rates([canary, stable], ns_of(svc), window)
        c_rate, s_rate = rates.get(canary), rates.get(stable)
        e_rates, e_source, ejected = backend_envoy_error_rates(snap, target, svc, [canary, stable])
    else:
        rates, metrics = error_rates(name_of(svc), ns_of(svc), window)
        c_rate, s_rate = rates.get(subset_version(dr, canary)), rates.get(subset_version(dr, stable))
        e_rates, e_source, ejected = envoy_error_rates(snap, full, port, [canary, stable])
    if c_rate is None or s_rate is None:  # no Prometheus answer: the sidecars' own counters decide
        rates = {**rates, **e_rates}
        c_rate, s_rate = e_rates.get(canary), e_rates.get(stable, 0.0 if canary in e_rates else None)
        metrics = f"{metrics}; {e_source}" if metrics.startswith("metrics unavailable") else e_source
    warnings = []
    problems = []
    if canary in ejected:
        problems.append(f"an endpoint of {canary} is ejected by outlier detection right now")
    if c_rate is None:
        problems.append(f"no metrics for {canary} ({metrics}): the step would not be backed by evidence")
    elif s_rate is not None and c_rate > s_rate + max_error_increase:
        problems.append(f"canary {canary} fails {c_rate:.1%} of requests vs {s_rate:.1%} for {stable}")
    if problems:  # the gate fails closed
        if not force:
            raise InvalidInput(f"Refusing to move {canary} from {cur}% to {nxt}%: " + "; ".join(problems) + ".",
                               hint="fix the canary (or send its weight to 0 with traffic_change action=split), "
                                    "point --prometheus-url at Prometheus, or force=true to step anyway.")
        warnings.append("forced: " + "; ".join(problems))
    change = set_traffic_split(host, new, namespace, None, apply, confirm, False)
    return StepResult(host=change.host, changes=change.changes, warnings=warnings + change.warnings,
                      note=change.note, canary=canary, from_weight=cur, to_weight=nxt, error_rates=rates,
                      metrics=metrics)


class ProxyRouteCheck(BaseModel):
    pod: str
    status: Literal["SYNCED", "STALE", "UNREACHABLE", "NO ROUTE"]
    envoy: dict[str, int] = Field(default={}, description="subset -> weight the proxy applies")
    detail: str | None = Field(default=None, description="what differs (weights, mirror, retries, timeout)")


class RoutingVerification(BaseModel):
    paged_field: ClassVar[str] = "proxies"
    host: str
    routed_by: str = Field(default="", description="what declares the route checked (VirtualService or HTTPRoute)")
    expected: dict[str, int] = Field(description="subset (VirtualService) or backend (HTTPRoute) -> weight")
    expected_policy: dict[str, str] = Field(default={}, description="mirror, retries and timeout the route sets")
    proxies: list[ProxyRouteCheck] = Field(description="stale and unreachable proxies first")
    page: Page


def render_verification(r: RoutingVerification) -> str:
    exp = " ".join(f"{k}={v}" for k, v in r.expected.items()) or "(no weighted route)"
    pol = "; ".join(f"{k} {v}" for k, v in r.expected_policy.items())
    rows = [[p.pod, p.status, " ".join(f"{k}={v}" for k, v in p.envoy.items()) or "-", p.detail or ""]
            for p in r.proxies]
    return f"{r.host}: {r.routed_by or 'VirtualService'} says {exp}" + (f"; {pol}" if pol else "") + "\n" + table(
        ["PROXY", "STATUS", "ENVOY WEIGHTS", "DETAIL"], rows) + note(r.page)


def _envoy_route(dump, host: str) -> dict | None:  # type: ignore[no-untyped-def]
    """The proxy's route for the host that carries the split (weighted clusters), else its first route."""
    first = None
    for rc in dump.route_configs():
        for vh in rc.get("virtual_hosts") or []:
            if host not in (vh.get("domains") or []) and not any(d.startswith(host + ":") for d in vh.get(
                    "domains") or []):
                continue
            for r in vh.get("routes") or []:
                action = r.get("route") or {}
                if action.get("weighted_clusters"):
                    return r
                if first is None and action.get("cluster"):
                    first = r
    return first


def envoy_weights(dump, host: str) -> dict[str, int] | None:  # type: ignore[no-untyped-def]
    from ..envoy.configdump import parse_cluster_name

    r = _envoy_route(dump, host)
    if r is None:
        return None
    action = r.get("route") or {}
    if action.get("weighted_clusters"):
        return {parse_cluster_name(c["name"])[2]: int(c.get("weight", 0))
                for c in action["weighted_clusters"].get("clusters") or []}
    return {parse_cluster_name(action["cluster"])[2]: 100}


def _seconds(v: object) -> float | None:
    """A duration as Envoy ("5s", "0.250s") or Istio ("250ms", "1m") writes it, in seconds."""
    try:
        from ..mesh.resilience import parse_duration

        return float(parse_duration(str(v)))
    except (MeshError, ValueError, TypeError):
        return None


def _route_policy_diff(vs_route: dict, envoy_route: dict) -> list[str]:
    """What the proxy's route does differently from the VirtualService route: mirror, retries, timeout (only
    what the VirtualService sets: Istio fills in defaults for the rest)."""
    from ..envoy.configdump import parse_cluster_name

    action = envoy_route.get("route") or {}
    out = []
    mirrors = ([vs_route["mirror"]] if vs_route.get("mirror") else []) + [
        m.get("destination") or {} for m in vs_route.get("mirrors") or []]
    got = []
    for m in action.get("request_mirror_policies") or []:
        frac = ((m.get("runtime_fraction") or {}).get("default_value") or {})
        num, den = frac.get("numerator", 100), {"HUNDRED": 100, "TEN_THOUSAND": 10_000,
                                                 "MILLION": 1_000_000}.get(frac.get("denominator", "HUNDRED"), 100)
        got.append((parse_cluster_name(str(m.get("cluster", "")))[2], round(100 * num / den, 3)))
    want = [(m.get("subset") or "-", float((vs_route.get("mirrorPercentage") or {}).get("value", 100)))
            for m in mirrors]
    if sorted(got) != sorted(want):
        out.append(f"mirror: proxy {got or 'none'}, VirtualService {want or 'none'}")
    rt = vs_route.get("retries")
    if rt:
        policy = action.get("retry_policy") or {}
        if int(rt.get("attempts", 0)) != int(policy.get("num_retries", 0)):
            out.append(f"retries: proxy {policy.get('num_retries', 0)}, VirtualService {rt.get('attempts', 0)}")
        if rt.get("perTryTimeout") and _seconds(rt["perTryTimeout"]) != _seconds(policy.get("per_try_timeout")):
            out.append(f"perTryTimeout: proxy {policy.get('per_try_timeout')}, VirtualService {rt['perTryTimeout']}")
    if vs_route.get("timeout") and _seconds(vs_route["timeout"]) != _seconds(action.get("timeout")):
        out.append(f"timeout: proxy {action.get('timeout')}, VirtualService {vs_route['timeout']}")
    return out


@op("traffic_status", "verify", cli="traffic verify", args="host", render=render_verification)
def verify_routing(host: Host, namespace: OptNamespace = None, limit: Limit = 30, offset: Offset = 0
                   ) -> RoutingVerification:
    """Whether each proxy applies the route its VirtualService or HTTPRoute declares.

    Check that the sidecars (and gateways) of the host's namespace apply what its VirtualService's main
    route declares (weights, mirror and its percentage, retries, timeout) or, when HTTPRoutes route the host
    (GAMMA) or send to it (Gateway API gateways' proxies), every route Istio translates from them (names,
    paths, backends and weights, 500s, timeouts, mirrors): reads each proxy's route config through the API
    server and reports STALE proxies (a push that has not landed, with what differs), UNREACHABLE ones, and
    those with NO ROUTE for the host."""
    from ..envoy.admin import fetch_admin
    from ..models import page
    from ..envoy.configdump import ConfigDump

    snap, full, svc, vs, _ = _context(host, namespace, None)
    gateway_api = _verify_gateway_api(snap, full, svc, limit, offset)
    if gateway_api is not None:
        return gateway_api
    expected = current_weights(vs) or {"-": 100}
    i = R.main_http_route(vs) if vs is not None else None
    vs_route = ((vs or {}).get("spec") or {}).get("http", [])[i] if i is not None else {}
    policy = {k: str(v) for k, v in (("mirror", (vs_route.get("mirror") or {}).get("subset")),
                                     ("mirror %", (vs_route.get("mirrorPercentage") or {}).get("value")),
                                     ("retries", (vs_route.get("retries") or {}).get("attempts")),
                                     ("timeout", vs_route.get("timeout"))) if v is not None}
    client = RUNTIME.client()
    rows = []
    for pod in snap.of("Pod", ns_of(svc)):
        if sidecar_of(pod) not in ("istio", "istio-gateway") or not is_running(pod):
            continue
        try:
            dump = ConfigDump.load(fetch_admin(client, ns_of(pod), name_of(pod), "config_dump", check_sidecar=False))
        except (Unreachable, InvalidInput) as e:
            rows.append(ProxyRouteCheck(pod=name_of(pod), status="UNREACHABLE", detail=e.message))
            continue
        route = _envoy_route(dump, full)
        got = envoy_weights(dump, full)
        if route is None or got is None:
            rows.append(ProxyRouteCheck(pod=name_of(pod), status="NO ROUTE", detail=f"no route for {full}"))
            continue
        diffs = ([f"weights: proxy {got}, VirtualService {expected}"] if got != expected else []) + \
            _route_policy_diff(vs_route, route)
        if diffs:
            rows.append(ProxyRouteCheck(pod=name_of(pod), status="STALE", envoy=got,
                                        detail="the proxy has not received the current VirtualService: "
                                               + "; ".join(diffs)))
        else:
            rows.append(ProxyRouteCheck(pod=name_of(pod), status="SYNCED", envoy=got))
    order = {"STALE": 0, "UNREACHABLE": 1, "NO ROUTE": 2, "SYNCED": 3}
    rows.sort(key=lambda r: (order[r.status], r.pod))
    shown, pg = page(rows, limit, offset, "proxies", "offset=")
    return RoutingVerification(host=full, expected=expected, expected_policy=policy, proxies=shown, page=pg)


def _short(cluster: str) -> str:
    return cluster.split("|")[-1].split(".")[0] if cluster else "-"


def _main_weights(routes: list[dict]) -> dict[str, int]:
    """backend -> weight of the last route that forwards (the catch-all a split edits)."""
    main = next((r for r in reversed(routes) if r.get("action") == "route"), None)
    if main is None:
        return {}
    return {_short(c): (100 if w is None else w) for c, w in (main.get("clusters") or {}).items()}


def _routes_diff(want: list[dict], have: list[dict]) -> list[str]:
    out = []
    names_w, names_h = [r["name"] for r in want], [r["name"] for r in have]
    if names_w != names_h:
        out.append(f"routes: proxy {names_h}, expected {names_w}")
    for w in want:
        h = next((x for x in have if x["name"] == w["name"] and x["match"] == w["match"]), None)
        if h is None or h == w:
            continue
        for k in ("match", "action", "clusters", "timeout", "retries", "mirrors"):
            if w.get(k) != h.get(k):
                out.append(f"{w['name']} {k}: proxy {h.get(k)}, expected {w.get(k)}")
    return out[:4]


def _gateway_pods(snap: Snapshot, gw: tuple[str, str]) -> list[dict]:
    """The running pods of a Gateway API gateway: those its Service selects (``<gw>-istio`` when istiod deploys
    it, else the Services its Hostname addresses name), else those labelled with its name."""
    obj = snap.get(GA.GATEWAY, gw[1], gw[0])
    pods: dict[tuple[str, str], dict] = {}
    for fqdn in GA.gateway_services(obj, "cluster.local") if obj else []:
        parts = fqdn.split(".")
        svc = snap.get("Service", parts[0], parts[1]) if fqdn.endswith("." + R.DOMAIN) and len(parts) > 2 else None
        selector = ((svc or {}).get("spec") or {}).get("selector") or {}
        for p in snap.of("Pod", parts[1]) if selector else []:
            if is_running(p) and all(labels_of(p).get(k) == v for k, v in selector.items()):
                pods[(ns_of(p), name_of(p))] = p
    for p in snap.of("Pod", gw[0]):
        if labels_of(p).get("gateway.networking.k8s.io/gateway-name") == gw[1] and is_running(p):
            pods[(ns_of(p), name_of(p))] = p
    return list(pods.values())


def _verify_gateway_api(snap: Snapshot, full: str, svc: dict, limit: int, offset: int) -> RoutingVerification | None:
    """verify_routing when Gateway API routes route the host or send to it; None otherwise."""
    from ..envoy.admin import fetch_admin
    from ..mesh.meshconfig import root_namespace
    from ..mesh.mtls import mesh_config
    from ..models import page
    from ..envoy.configdump import ConfigDump

    if not (snap.of(GA.HTTPROUTE) or snap.of(GA.GRPCROUTE)):
        return None
    t = GA.translate(snap)
    mesh = mesh_config(snap)
    root = root_namespace(mesh)
    user = R.virtual_services_for(snap, full)
    ports = [int(p["port"]) for p in (svc.get("spec") or {}).get("ports") or [] if str(p.get("port", "")).isdigit()]
    owners: set[str] = set()
    expect: dict[tuple[str, str], dict[tuple[str, str], tuple[str, list[dict] | None]]] = {}
    namespaces = {ns_of(svc)} | {ns_of(v) for v in t.mesh_virtual_services(full)}
    for pod in snap.of("Pod"):
        if ns_of(pod) not in namespaces or sidecar_of(pod) != "istio" or not is_running(pod):
            continue
        for port in ports:
            owner, routes = GA.sidecar_vhost(t, user, full, ns_of(svc), ns_of(pod), port, mesh,
                                             R.sidecar_for(snap, ns_of(pod), labels_of(pod), root))
            if owner != "default":
                owners.add(owner)
            expect.setdefault((ns_of(pod), name_of(pod)), {})[(str(port), f"{full}:{port}")] = (owner, routes)
    for gw, _ in t.listeners.items():
        vhosts = {k: v for k, v in GA.gateway_vhosts(t, gw, mesh).items()
                  if any(c.endswith("|" + full) for r in v[1] for c in (r.get("clusters") or {}))}
        if not vhosts:
            continue
        for pod in _gateway_pods(snap, gw):
            for key, (who, routes) in vhosts.items():
                owners.update(who)
                expect.setdefault((ns_of(pod), name_of(pod)), {})[key] = (" + ".join(who), routes)
    sidecar_routes = any(routes is not None for (ns, _), per in expect.items() for k, (_, routes) in per.items()
                         if not k[0].startswith("http."))
    mesh_user = [v for v in user if "mesh" in ((v.get("spec") or {}).get("gateways") or ["mesh"])]
    if not sidecar_routes and (mesh_user or not any(routes is not None for per in expect.values()
                                               for _, routes in per.values())):
        return None  # a VirtualService (or nothing) routes the host for sidecars: the VirtualService check
    client = RUNTIME.client()
    rows = []
    # what the header shows: the main route a sidecar gets (the mesh route), else a gateway's
    wanted = sorted(((k[0].startswith("http."), routes) for per in expect.values() for k, (_, routes) in per.items()
                     if routes), key=lambda x: x[0])
    main: dict[str, int] = _main_weights(wanted[0][1]) if wanted else {}
    for (ns, name), per in sorted(expect.items()):
        try:
            dump = ConfigDump.load(fetch_admin(client, ns, name, "config_dump", check_sidecar=False))
        except (Unreachable, InvalidInput) as e:
            rows.append(ProxyRouteCheck(pod=name, status="UNREACHABLE", detail=e.message))
            continue
        have = {(str(rc.get("name")), str(vh.get("name"))): [GA.summarize_envoy_route(r)
                                                              for r in vh.get("routes") or []]
                for rc in dump.route_configs() for vh in rc.get("virtual_hosts") or rc.get("virtualHosts") or []}
        diffs, got, missing = [], {}, []
        for key, (owner, want) in per.items():
            if key not in have:  # a gateway's route config is named by its pod's (target) port
                key = next((k for k in have if k[1] == key[1] and k[0].startswith("http.")), key)
            if key not in have:
                missing.append(key[1])
                continue
            if want is None:  # a VirtualService (or nothing) routes it for this proxy
                continue
            if not got or not key[0].startswith("http."):
                got = _main_weights(have[key])
            diffs += [f"{key[1]}: {d}" for d in _routes_diff(want, have[key])]
        label = f"{ns}/{name}" if ns != ns_of(svc) else name
        if missing and len(missing) == len(per):
            rows.append(ProxyRouteCheck(pod=label, status="NO ROUTE", detail=f"no route for {', '.join(missing)}"))
        elif diffs:
            rows.append(ProxyRouteCheck(pod=label, status="STALE", envoy=got, detail=(
                "the proxy has not received the current routes: " + "; ".join(diffs))[:600]))
        else:
            who = {o for o, _ in per.values()}
            rows.append(ProxyRouteCheck(pod=label, status="SYNCED", envoy=got, detail=(
                f"routed by {', '.join(sorted(who))}" if len(owners) > 1 else None)))
    order = {"STALE": 0, "UNREACHABLE": 1, "NO ROUTE": 2, "SYNCED": 3}
    rows.sort(key=lambda r: (order[r.status], r.pod))
    shown, pg = page(rows, limit, offset, "proxies", "offset=")
    return RoutingVerification(host=full, routed_by=", ".join(sorted(owners)), expected=main,
                               expected_policy={}, proxies=shown, page=pg)


class CanaryTemplate(BaseModel):
    host: str
    manifests: str = Field(description="VirtualService + DestinationRule YAML, for review")
    note: str


@op("traffic_status", "template", cli="traffic template", args="host", render=lambda t: t.manifests)
def canary_template(host: Host, namespace: OptNamespace = None,
                    canary: Annotated[str | None, Field(max_length=63, description="canary subset/version")] = None,
                    weight: Annotated[int, Field(ge=1, le=99, description="canary weight")] = 10,
                    files: Files = None) -> CanaryTemplate:
    """A canary VirtualService and DestinationRule, as YAML to review.

    A ready-to-review VirtualService + DestinationRule for a canary of a Service, from its pods' version
    labels: conservative outlier detection and a stable/canary split. Shown, not applied; apply with
    traffic_change action=split or commit the YAML."""
    snap, full, svc, _, _ = _context(host, namespace, files)
    selector = (svc.get("spec") or {}).get("selector") or {}
    versions = sorted({labels_of(p).get("version") for p in snap.of("Pod", ns_of(svc)) if selector and all(
        labels_of(p).get(k) == v for k, v in selector.items()) and labels_of(p).get("version")})
    if len(versions) < 2 and not canary:
        raise InvalidInput(f"{full} has pods of {len(versions)} version(s) ({', '.join(versions) or 'none'}): a canary "
                           "needs two.", hint="deploy the new version with a version label first.")
    canary = canary or versions[-1]
    stable = next((v for v in versions if v != canary), None)
    if stable is None:
        raise InvalidInput(f"No stable version besides {canary}.")
    out = "\n---\n".join(yaml.safe_dump(o, sort_keys=False) for o in R.canary_objects(
        name_of(svc), ns_of(svc), stable, canary, weight, "version", versions))
    return CanaryTemplate(host=full, manifests=out, note="review, then apply with traffic_change action=split or commit it")

