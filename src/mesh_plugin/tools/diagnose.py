"""diagnose: follow one failing call through routes, subsets, endpoints, the client sidecar's counters, mTLS
and authorization, and answer cause, evidence and fix (a dry-run change on the change path)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from ..changes.path import ChangeResult
from ..errors import InvalidInput, MeshError, NotFound
from ..kube.snapshot import name_of, ns_of
from ..envoy.live import answered, response_flags
from ..mesh import diagnose as D
from ..mesh import routing as R
from ..mesh.workloads import is_running, sidecar_of, workloads
from ..render import table
from ..runtime import RUNTIME
from .registry import Target, op

DIAGNOSE_KINDS = ("Namespace", "Pod", "Service", "VirtualService", "DestinationRule", "PeerAuthentication",
                  "AuthorizationPolicy", "RequestAuthentication", "Deployment", "StatefulSet", "DaemonSet",
                  "ConfigMap")
HostPort = Annotated[str, Field(min_length=1, max_length=260, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?$",
                                description="diagnose: called host[:port]")]
Path = Annotated[str, Field(max_length=2048, pattern=r"^/[^\s]*$", description="diagnose: request path")]


class EndpointRow(BaseModel):
    endpoint: str
    pod: str = Field(description="the pod with that IP, or - when none matches")
    healthy: bool
    ejected: bool


class SubsetRow(BaseModel):
    subset: str | None
    share_pct: float = Field(description="share of the route's traffic")
    cluster: str
    pods: list[str]
    endpoints: list[EndpointRow]
    requests: int = Field(description="completed requests the client sidecar(s) sent, since they started")
    errors_5xx: int
    response_flags: dict[str, int] = Field(default={}, description="Envoy response flags seen, from counters")


class Diagnosis(BaseModel):
    call: str = Field(description="from -> to, path")
    cause: str
    evidence: list[str]
    fix: str | None = Field(default=None, description="what to change")
    fix_change: list[ChangeResult] = Field(default=[], description="the fix as a dry-run on the change path")
    route: str = Field(description="the route the request takes")
    subsets: list[SubsetRow]
    mtls: str | None = None
    authz: str | None = None
    notes: list[str] = []


def render_diagnosis(d: Diagnosis) -> str:
    out = [f"{d.call}", f"route: {d.route}", "", f"CAUSE: {d.cause}"]
    out += ["EVIDENCE:"] + [f"  - {e}" for e in d.evidence]
    if d.mtls:
        out.append(f"  - mTLS: {d.mtls}")
    if d.authz:
        out.append(f"  - authorization: {d.authz}")
    rows = [[s.subset or "-", f"{s.share_pct:g}%", e.endpoint, e.pod, "HEALTHY" if e.healthy else "UNHEALTHY",
             "FAILED" if e.ejected else "OK", s.requests, s.errors_5xx] for s in d.subsets for e in s.endpoints]
    if rows:
        out += ["", table(["SUBSET", "SHARE", "ENDPOINT", "POD", "STATUS", "OUTLIER CHECK", "REQUESTS", "5XX"], rows)]
    if d.fix:
        out += ["", f"FIX: {d.fix}"]
    for c in d.fix_change:
        out.append(c.diff)
    out += [f"note: {n}" for n in d.notes]
    return "\n".join(out)


@op("traffic_status", "diagnose", cli="diagnose", render=render_diagnosis)
def diagnose(source: Annotated[Target, Field(description="diagnose: calling workload NAMESPACE/WORKLOAD")],
             to: HostPort, path: Path = "/") -> Diagnosis:
    """Why a call fails (503s): cause, evidence and a dry-run fix, following one call.

    Follows one call from a workload to host[:port] path: the route it takes (weights, subsets), each
    subset's pods and the client sidecar's endpoints for it (health, ejections), the sidecar's request, 5xx and
    response-flag counters, then mTLS and authorization at the destination. Answers the cause, the evidence
    and the fix; a weight fix comes as a traffic_change dry-run."""
    cns, cwl = source.split("/", 1)
    host, _, port_text = to.partition(":")
    snap = RUNTIME.snapshot(DIAGNOSE_KINDS, None, None)
    client = next((w for w in workloads(snap, cns) if w.name == cwl), None)
    if client is None or not client.running:
        raise NotFound(f"No running workload {cwl!r} in {cns!r}.", hint="list them with mesh_overview view=workloads.")
    full, svc = R.resolve_host(snap, host, cns)
    if svc is None:
        raise NotFound(f"No Service for {full}: the call has nowhere to go (DNS would fail first).",
                       hint="check the host name, or traffic_status view=routing for what exists.")
    ports = (svc.get("spec") or {}).get("ports") or []
    sport = next((p for p in ports if str(p.get("port")) == port_text), None) if port_text else (ports[0] if ports
                                                                                                 else None)
    if sport is None:
        raise InvalidInput(f"{full} has no port {port_text}.",
                           hint=f"its ports: {', '.join(str(p.get('port')) for p in ports) or 'none'}.")
    port = int(sport.get("port"))
    mesh_vs = [v for v in R.virtual_services_for(snap, full) if "mesh" in ((v.get("spec") or {}).get("gateways")
                                                                           or ["mesh"])]
    dr = R.destination_rule_for(snap, full)
    route = D.route_taken(mesh_vs[0] if mesh_vs else None, full, name_of(svc), ns_of(svc), path, "GET")
    notes: list[str] = []
    if len(mesh_vs) > 1:
        notes.append(f"{len(mesh_vs)} VirtualServices claim {full}: Istio uses the oldest; this follows "
                     f"{route.virtual_service}")
    live_eps, counters, readers = _live(client.running, port, full, notes)
    pod_by_ip = {str((p.get("status") or {}).get("podIP")): name_of(p) for p in snap.of("Pod", ns_of(svc))}
    total = sum(d.weight for d in route.dests) or 1
    facts: list[D.SubsetFacts] = []
    for d in route.dests:
        dhost = R.fqdn(d.host, ns_of(svc))
        cluster = f"outbound|{d.port or port}|{d.subset or ''}|{dhost}"
        defined, pods = D.subset_pods(snap, svc, dr, d.subset) if dhost == full else (True, [])
        f = D.SubsetFacts(subset=d.subset, share=d.weight / total, cluster=cluster, defined=defined,
                          pods=[name_of(p) for p in pods])
        for e in live_eps.get(cluster, []):
            f.endpoints.append((e.address, pod_by_ip.get(e.address.rpartition(":")[0], "-"), e.healthy, e.ejected))
        c = counters.get(cluster, {})
        f.completed, f.errors_5xx, f.flags = answered(c), c.get("upstream_rq_5xx", 0), \
            response_flags(c)
        facts.append(f)
    if not readers:
        notes.append("no client sidecar answered: endpoints and counters are unknown, the verdict uses the config")
    dest_pods = [p for f in facts for p in f.pods] or [name_of(p) for p in D.subset_pods(snap, svc, None, None)[1]]
    mtls, tls_conflict = _mtls_at(ns_of(svc), dest_pods, snap, port)
    authz = _authz_at(snap, ns_of(svc), dest_pods, sport, client, path)
    v = D.verdict(facts, authz, tls_conflict)
    answer = Diagnosis(call=f"{source} -> {full}:{port} {path}", cause=v.cause, evidence=v.evidence, fix=v.fix_text,
                       route=(f"{route.virtual_service} http[{route.index}]" + (f" ({route.name})" if route.name
                                                                                else "")
                              if route.virtual_service else "no VirtualService: round-robin over the Service's pods"),
                       subsets=[SubsetRow(subset=f.subset, share_pct=round(100 * f.share, 1), cluster=f.cluster,
                                          pods=f.pods, requests=int(f.completed), errors_5xx=int(f.errors_5xx),
                                          response_flags=f.flags,
                                          endpoints=[EndpointRow(endpoint=a, pod=p, healthy=h, ejected=e)
                                                     for a, p, h, e in f.endpoints][:10]) for f in facts],
                       mtls=mtls, authz=authz[1] if authz else None, notes=notes)
    weights = D.weights_without(route, v.failing_subset) if v.failing_subset is not None else {}
    if weights and any(weights.values()) and route.virtual_service:
        from .registry import get_tool

        change = get_tool("set_traffic_split").call(host=full, weights=weights, namespace=ns_of(svc))
        answer.fix = (f"send {v.failing_subset}'s share to the other subsets: weights "
                      + " ".join(f"{k}={w}" for k, w in weights.items())
                      + f" (the dry-run below; apply with traffic_change action=split host={full} apply=true)")
        answer.fix_change = change.changes
    elif v.failing_subset is not None and not answer.fix:
        answer.fix = f"remove subset {v.failing_subset} from the route, or give it running pods"
    return answer


def _live(pods: list[dict], port: int, full: str, notes: list[str]) -> tuple[dict, dict, int]:
    """The client sidecars' endpoints and counters for the host's clusters (at most 3 sidecars)."""
    from ..envoy.admin import fetch_admin
    from ..envoy.live import cluster_counters, endpoints

    eps: dict[str, list] = {}
    counters: dict[str, dict[str, float]] = {}
    readers = 0
    for pod in [p for p in pods if sidecar_of(p) in ("istio", "istio-gateway") and is_running(p)][:3]:
        try:
            body = fetch_admin(RUNTIME.client(), ns_of(pod), name_of(pod), "clusters", query=[("format", "json")],
                               check_sidecar=False, timeout=5)
            stats = fetch_admin(RUNTIME.client(), ns_of(pod), name_of(pod), "stats", check_sidecar=False, timeout=5,
                                query=[("filter", f"^cluster\\.outbound\\|{port}\\|"), ("format", "json")])
        except MeshError as e:
            notes.append(f"sidecar {ns_of(pod)}/{name_of(pod)}: {e.message}")
            continue
        readers += 1
        for e in endpoints(body):
            if e.cluster.endswith(f"|{full}"):
                eps.setdefault(e.cluster, []).append(e)
        for cluster, c in cluster_counters(stats).items():
            into = counters.setdefault(cluster, {})
            for k, val in c.items():
                into[k] = into.get(k, 0) + val
    if not pods:
        notes.append("the client has no running pods")
    return eps, counters, readers


def _mtls_at(ns: str, dest_pods: list[str], snap: object, port: int) -> tuple[str | None, str | None]:
    """The destination's effective mTLS, and a client/server TLS conflict when there is one."""
    from .registry import get_tool

    try:
        report = get_tool("mtls_status").call(namespace=ns)
    except MeshError as e:
        return f"unknown ({e.message})", None
    owners = {w.workload for w in report.workloads}
    mine = [w for w in report.workloads if any(p.startswith(w.workload) for p in dest_pods)] or [
        w for w in report.workloads if w.workload in owners and any(p.startswith(w.workload) for p in dest_pods)]
    if not mine:
        return None, None
    w = mine[0]
    conflict = next((c for x in mine for c in x.conflicts), None)
    return f"{w.workload}: {w.mode}" + (f" ({w.decided_by})" if getattr(w, "decided_by", None) else ""), conflict


def _authz_at(snap: object, ns: str, dest_pods: list[str], sport: dict, client: object, path: str
              ) -> tuple[str, str] | None:
    """Istio's decision for this call at the destination workload (simulated)."""
    from .registry import get_tool

    owner = next((w.name for w in workloads(snap, ns) if any(name_of(p) in dest_pods for p in w.pods)), None)  # type: ignore[arg-type]
    if owner is None:
        return None
    target = sport.get("targetPort", sport.get("port"))
    sa = next((str((p.get("spec") or {}).get("serviceAccountName") or "default") for p in client.running), "default")  # type: ignore[attr-defined]
    try:
        d = get_tool("authz_check").call(to=f"{ns}/{owner}", port=int(target) if str(target).isdigit() else None,
                                         caller={"namespace": client.namespace, "sa": sa},  # type: ignore[attr-defined]
                                         request={"path": path})
    except MeshError:
        return None
    return d.decision, f"{d.decision} ({d.status})" + (f" by {d.policy}" if d.policy else "") + f": {d.reason}"

