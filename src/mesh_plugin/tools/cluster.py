"""Foundation tools: mesh overview, workloads, sidecar health."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..errors import InvalidInput
from ..mesh.overview import (OVERVIEW_KINDS, WORKLOAD_KINDS, list_workloads as _list_workloads, load_warnings,
                             mesh_overview as _overview)
from ..mesh.workloads import require_envoy
from ..models import MeshOverview, Page, Workload, WorkloadList, page
from ..render import note, table
from ..runtime import RUNTIME
from .registry import (Files, Limit, Namespace, ObjName, Offset, OptNamespace, ProxyFilter, ProxyFilterSpec, op,
                       parse_arg)


def render_overview(o: MeshOverview) -> str:
    out = [f"Source: {o.source}" + (f" (Kubernetes {o.kubernetes_version})" if o.kubernetes_version else "")]
    if o.meshes:
        out.append(table(["MESH", "VERSION", "NAMESPACE", "REVISIONS", "READY", "EXTENSIONS"],
                         [[m.mesh, m.version or "?", m.namespace, ",".join(m.revisions) or "-", m.components_ready,
                           ",".join(m.extensions) or "-"] for m in o.meshes]))
        out += [f"Ambient ({m.mesh}): {m.ambient}" for m in o.meshes if m.ambient]
    else:
        out.append("No mesh control plane found.")
    out.append("")
    out.append(table(["NAMESPACE", "INJECTION", "PODS", "MESHED", "COVERAGE"],
                     [[n.namespace, n.injection or n.ambient or "-", n.pods, n.meshed_pods, f"{n.coverage_pct}%"]
                      for n in o.namespaces]) + note(o.namespaces_page))
    if o.waypoints:
        out.append("")
        out.append(table(["WAYPOINT", "FOR", "PROGRAMMED", "SERVICES", "WORKLOADS"],
                         [[w.waypoint, w.traffic_type, "-" if w.programmed is None else str(w.programmed).lower(),
                           w.services, w.workloads] for w in o.waypoints]))
    if o.resources:
        out.append("")
        out.append("Mesh resources: " + ", ".join(f"{k} {v}" for k, v in o.resources.items()))
    if o.findings:
        out.append("")
        out.append("Findings:")
        out += [f"  - {f}" for f in o.findings]
    return "\n".join(out) + warnings(o.warnings)


def warnings(items: list[str]) -> str:
    return "".join(f"\nWarning: {w}" for w in items)


@op("mesh_overview", "overview", cli="overview", render=render_overview)
def mesh_overview(namespace: OptNamespace = None,
                  limit: Annotated[int, Field(ge=1, le=200, description="namespaces to list")] = 30,
                  files: Files = None) -> MeshOverview:
    """Meshes, control planes, namespaces with injection and sidecar coverage, findings.

    Start here. Which meshes run (Istio istiod: version, revisions, the ambient data plane: ztunnel and
    istio-cni; Linkerd control plane and viz), each namespace's injection or ambient label and mesh
    coverage (sidecars and ztunnel-captured pods), waypoints with what is bound to them, counts of mesh
    resources (VirtualService,
    DestinationRule, PeerAuthentication, AuthorizationPolicy, Linkerd policy...), and findings sorted by
    severity (e.g. pods without a sidecar in an injected namespace). One LIST per kind. Use view=workloads
    for per-workload detail; files= reads YAML instead of the cluster."""
    snap = RUNTIME.snapshot(OVERVIEW_KINDS, None, files)
    if namespace and files is None and namespace not in snap.namespaces():
        RUNTIME.require_namespace(namespace)
    version = None if files else RUNTIME.kubernetes_version()
    o = _overview(snap, namespace, version)
    shown, pg = page(o.namespaces, limit, 0, "namespaces", "namespace=")
    o.namespaces = shown
    return MeshOverview.model_validate({**o.__dict__, "namespaces_page": pg}, from_attributes=True)


def data_plane_cell(x: Workload) -> str:
    """The DATAPLANE column: the data plane, with the sidecar kind or the waypoint."""
    if x.data_plane == "sidecar":
        return x.sidecar
    if x.data_plane == "gateway":
        return "istio-gateway"
    if x.data_plane == "ambient+waypoint":
        return f"ambient+waypoint:{x.waypoint}"
    return x.data_plane


def render_workloads(w: WorkloadList) -> str:
    rows = [[x.namespace, x.name, x.kind, x.replicas, data_plane_cell(x), f"{x.meshed_pods}/{x.pods}",
             x.identity or "-", x.issue or ""] for x in w.workloads]
    return table(["NAMESPACE", "WORKLOAD", "KIND", "READY", "DATAPLANE", "MESHED", "IDENTITY", "ISSUE"],
                 rows) + note(w.page) + warnings(w.warnings)


@op("mesh_overview", "workloads", cli="workloads", render=render_workloads)
def list_workloads(namespace: OptNamespace = None,
                   sidecar: Annotated[Literal["istio", "linkerd", "istio-gateway", "ambient", "waypoint", "ztunnel",
                                              "none"] | None,
                                      Field(description="only this sidecar or data plane")] = None,
                   limit: Limit = 25, offset: Offset = 0, files: Files = None) -> WorkloadList:
    """Workloads with replicas, data plane, mesh identity and why one is not meshed.

    Workloads (Deployments, StatefulSets, DaemonSets, bare pods) per namespace: ready/desired replicas,
    the data plane (a sidecar: istio, linkerd; ambient: captured by ztunnel, with the waypoint its pods or
    Services are bound to; waypoint, ztunnel and gateway pods as such; none) and why, the mesh identity
    (SPIFFE ID or Linkerd identity) and an issue line when a workload should be in the mesh and is not.
    Workloads that need attention come first; the answer says 'showing N of M' with offset= for the next
    page."""
    snap = RUNTIME.snapshot(WORKLOAD_KINDS, namespace, files)
    shown, pg = page(_list_workloads(snap, namespace, sidecar), limit, offset, "workloads", "namespace= or sidecar=")
    return WorkloadList(source=snap.source, workloads=[Workload.model_validate(w, from_attributes=True) for w in shown],
                        page=pg, warnings=load_warnings(snap))


class EndpointHealth(BaseModel):
    endpoint: str
    pod: str = Field(default="-", description='"namespace/name" of the pod with that IP, or -')
    status: str = Field(description="HEALTHY or UNHEALTHY")
    outlier_check: Literal["OK", "FAILED"] = Field(description="FAILED: ejected by outlier detection")
    cluster: str


class ProxyHealth(BaseModel):
    namespace: str
    pod: str
    envoy_version: str | None
    state: str | None
    uptime: str | None
    clusters: int = Field(description="clusters with endpoints")
    ejected: int = Field(description="endpoints ejected by outlier detection right now")
    endpoints: list[EndpointHealth]
    page: Page


def render_proxy_health(p: ProxyHealth) -> str:
    head = (f"{p.namespace}/{p.pod}: Envoy {p.envoy_version} {p.state}, up {p.uptime}, "
            f"{p.clusters} clusters, {p.ejected} ejected endpoint(s)")
    return head + "\n" + table(["ENDPOINT", "POD", "STATUS", "OUTLIER CHECK", "CLUSTER"],
                               [[e.endpoint, e.pod, e.status, e.outlier_check, e.cluster] for e in p.endpoints]) + \
        note(p.page)


@op("proxy_inspect", "health", cli="proxy-health", args="pod.namespace", render=render_proxy_health,
    flags={"--cluster": "filter.cluster"})
def proxy_health(pod: ObjName, namespace: Namespace, filter: ProxyFilter = None,  # noqa: A002
                 limit: Limit = 40) -> ProxyHealth:
    """One sidecar's live Envoy: version, uptime, endpoints and ejections.

    Live health of one pod's Envoy sidecar, read from its admin port through the API server: Envoy
    version, state and uptime, and every upstream endpoint with its outlier-detection state (ejected
    endpoints first). Inbound and passthrough clusters are left out. Use mesh_overview view=workloads to find meshed
    pods."""
    from ..envoy.admin import fetch_admin
    from ..envoy.parse import parse_clusters_text, parse_server_info

    spec = parse_arg(ProxyFilterSpec, filter, "filter")
    if set(spec.model_dump(exclude_none=True)) - {"cluster"}:
        raise InvalidInput("view=health filters by cluster only.", hint='e.g. filter={"cluster": "reviews"}.')
    cluster = spec.cluster
    client = RUNTIME.client()
    info = parse_server_info(fetch_admin(client, namespace, pod, "server_info", check_sidecar=require_envoy))
    hosts = parse_clusters_text(fetch_admin(client, namespace, pod, "clusters", check_sidecar=False).decode())
    hosts = [h for h in hosts if h.cluster.startswith("outbound|") and (not cluster or cluster in h.cluster)]
    hosts.sort(key=lambda h: (not h.ejected, h.cluster, h.endpoint))
    from ..mesh.workloads import pods_by_ip

    by_ip = pods_by_ip(RUNTIME.snapshot(("Pod",), None, None).of("Pod")) if hosts else {}
    rows = [EndpointHealth(endpoint=h.endpoint, pod=by_ip.get(h.endpoint.rpartition(":")[0], "-"), status=h.status,
                           outlier_check="FAILED" if h.ejected else "OK", cluster=h.cluster) for h in hosts]
    shown, pg = page(rows, limit, 0, "endpoints", "filter cluster")
    return ProxyHealth(namespace=namespace, pod=pod, envoy_version=info.get("version"), state=info.get("state"),
                       uptime=info.get("uptime"), clusters=len({h.cluster for h in hosts}),
                       ejected=sum(h.ejected for h in hosts), endpoints=shown, page=pg)
