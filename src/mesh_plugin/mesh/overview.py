"""Mesh overview and workload listing over a Snapshot. Pure, no I/O. Plain records, every row, in order: the
tools layer pages them and builds its output models (tools/cluster.py)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..kube.kinds import ISTIO_KEYS, KINDS, LINKERD_KEYS
from ..kube.snapshot import Snapshot, labels_of, name_of
from . import ambient
from .detect import MeshInfo, detect_meshes
from .workloads import (WorkloadInfo, identity, is_running, namespace_injection, pod_opted_out, sidecar_of,
                        trust_domain, workloads)

#: the ambient kinds (Gateway API Gateways and GatewayClasses for waypoints, Services for their bindings) that
#: kube/kinds.py models
_AMBIENT = tuple(k for k in ("Service", "DaemonSet", ambient.GATEWAY_KEY, *ambient.GATEWAY_CLASS_KEYS) if k in KINDS)
#: kinds mesh_overview and list_workloads read (one LIST each)
OVERVIEW_KINDS = ("Namespace", "Pod", "ConfigMap", "CustomResourceDefinition", *ISTIO_KEYS, *LINKERD_KEYS,
                  *_AMBIENT)
WORKLOAD_KINDS = ("Namespace", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ConfigMap",
                  *(k for k in _AMBIENT if k != "DaemonSet"))
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


@dataclass
class NamespaceSummary:
    namespace: str
    injection: str | None
    pods: int
    meshed_pods: int
    coverage_pct: int
    ambient: str | None = None
    ambient_pods: int = 0
    waypoint: str | None = None


@dataclass
class WaypointSummary:
    waypoint: str
    traffic_type: str
    programmed: bool | None
    ready: bool
    services: int
    workloads: int
    problems: list[str] = field(default_factory=list)


@dataclass
class Workload:
    namespace: str
    name: str
    kind: str
    replicas: str
    sidecar: str
    data_plane: str
    waypoint: str | None
    data_plane_reason: str | None
    meshed_pods: int
    pods: int
    service_account: str
    identity: str | None
    labels: dict[str, str]
    issue: str | None


@dataclass
class Overview:
    """Every namespace (most mesh-relevant first), the meshes, waypoints, resource counts and findings."""
    source: str
    kubernetes_version: str | None
    meshes: list[MeshInfo]
    namespaces: list[NamespaceSummary]
    waypoints: list[WaypointSummary]
    resources: dict[str, int]
    absent_kinds: list[str]
    findings: list[str]
    warnings: list[str]


def _namespace_summaries(snap: Snapshot, namespace: str | None) -> list[NamespaceSummary]:
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    names = [namespace] if namespace else snap.namespaces()
    out = []
    for ns in names:
        _, label = namespace_injection(ns_objs.get(ns))
        amb = ambient.namespace_ambient(ns_objs.get(ns), ns)
        running = [p for p in snap.of("Pod", ns) if is_running(p)]
        sidecars = sum(1 for p in running if sidecar_of(p) in ("istio", "linkerd"))
        captured = sum(1 for p in running if sidecar_of(p) == "none" and ambient.in_ambient(p)
                       and not ambient.is_waypoint_pod(p))
        meshed = sidecars + captured
        out.append(NamespaceSummary(namespace=ns, injection=label, pods=len(running), meshed_pods=meshed,
                                    coverage_pct=round(100 * meshed / len(running)) if running else 0,
                                    ambient=f"{ambient.DATAPLANE_MODE}=ambient" if amb.labelled else None,
                                    ambient_pods=captured,
                                    waypoint=amb.use_waypoint if amb.use_waypoint != "none" else None))
    return out


@dataclass(frozen=True)
class DataPlaneRow:
    data_plane: str
    waypoint: str | None
    reason: str | None
    #: pods captured by ztunnel (meshed without a sidecar)
    captured: int
    #: severity 0..2 and text of an ambient issue, if any
    issue: tuple[int, str | None] = (0, None)


class AmbientContext:
    """What the data-plane answers share per snapshot: namespaces, the CNI's selectors, the waypoint index."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.ns_objs = {name_of(n): n for n in snap.of("Namespace")}
        comps = ambient.ambient_components(snap)
        self.cni = comps.cni
        self.components = comps
        self.index = ambient.waypoint_index(snap)


def workload_data_plane(ctx: AmbientContext, w: WorkloadInfo) -> DataPlaneRow:
    """The data plane of a workload from its running pods (the most common one; a mix is an issue): a sidecar,
    ztunnel (ambient) and the waypoint its pod or its Services are bound to, infrastructure, or none."""
    pods = w.running
    ns_obj = ctx.ns_objs.get(w.namespace)
    if not pods:
        return DataPlaneRow("none", None, None, 0)
    dps = [ambient.pod_data_plane(p, ns_obj, ctx.cni) for p in pods]
    modes = Counter(d.mode for d in dps)
    mode = max(modes, key=lambda m: (modes[m], m))
    first = next(d for d in dps if d.mode == mode)
    pod = pods[[d.mode for d in dps].index(mode)]
    captured = modes.get("ambient", 0)
    reason = first.reason
    issue: tuple[int, str | None] = (0, None)
    waypoint = None
    if mode == "ambient":
        b = ambient.workload_waypoint(ctx.snap, pod, ctx.index)
        via = None
        if b.waypoint:
            waypoint, via = b.waypoint, f"{b.source} label, workload traffic"
        fails = [b] if b.reason else []
        for svc in ambient.services_of_pod(ctx.snap, pod):
            sb = ambient.service_waypoint(ctx.snap, svc, ctx.index)
            if sb.waypoint and waypoint is None:
                waypoint, via = sb.waypoint, f"for Service {name_of(svc)}"
            elif sb.reason:
                fails.append(sb)
        if waypoint:
            mode = "ambient+waypoint"
            reason += f"; waypoint {waypoint} ({via})"
        for f in fails:
            issue = (2, f"{f.source} asks for waypoint {f.requested}: {f.reason} ({f.message})")
            reason += f"; {f.source} asks for waypoint {f.requested} but istiod refuses it: {f.reason}"
            break
    elif mode == "ambient-pending":
        issue = (2, reason)
    elif mode == "waypoint":
        gw = labels_of(pod).get(ambient.GATEWAY_NAME)
        w_ = ctx.index.get(f"{w.namespace}/{gw}") if gw else None
        if w_ is not None:
            reason += f" (waypoint-for {w_.traffic_type})"
    elif mode == "none" and first.intended:
        issue = (2, reason)
    elif mode == "sidecar" and first.intended is False and ambient.namespace_ambient(ns_obj, w.namespace).labelled \
            and not namespace_injection(ns_obj)[0]:
        issue = (1, "sidecar in a namespace labelled istio.io/dataplane-mode=ambient: restart the workload "
                    "to move it to ambient (the sidecar wins while it is injected)")
    if len(modes) > 1 and mode not in ("waypoint", "ztunnel", "gateway"):
        mix = ", ".join(f"{n} {m}" for m, n in sorted(modes.items()))
        issue = max(issue, (1, f"pods differ in data plane ({mix}): a rollout restart makes them consistent"),
                    key=lambda i: i[0])
    return DataPlaneRow(mode, waypoint, reason, captured, issue)


def workload_issue(w: WorkloadInfo, ns_obj: dict | None) -> tuple[int, str | None]:
    """(severity 0..2, text): 2 = expected in the mesh but not, 1 = partially meshed, 0 = fine."""
    mesh, label = namespace_injection(ns_obj)
    running = w.running
    if not running:
        return (1, "no running pods") if (w.desired or 0) > 0 else (0, None)
    meshed = w.meshed()
    if w.sidecar in ("istio-gateway", "ztunnel"):
        return 0, None
    if mesh and meshed == 0 and all(ambient.in_ambient(p) for p in running):
        return 1, (f"captured by ztunnel although the namespace has {label}: new pods get sidecars (the sidecar "
                   "wins); remove the label to stay in ambient")
    if mesh and meshed == 0:
        opt = pod_opted_out(running[0]) or pod_opted_out(w.template or {})
        if opt:
            return 2, f"no sidecar: opted out with {opt} in a namespace labelled {label}"
        return 2, f"no sidecar although the namespace has {label}: restart the pods to inject"
    if 0 < meshed < len(running):
        return 1, f"{meshed}/{len(running)} pods have a sidecar: a rollout restart makes it consistent"
    return 0, None


#: the ``sidecar`` filter of list_workloads: a sidecar kind or a data plane
FILTERS = {"istio": lambda r: r.sidecar == "istio", "linkerd": lambda r: r.sidecar == "linkerd",
           "istio-gateway": lambda r: r.data_plane == "gateway", "none": lambda r: r.data_plane == "none",
           "ambient": lambda r: r.data_plane.startswith("ambient"), "waypoint": lambda r: r.data_plane == "waypoint",
           "ztunnel": lambda r: r.data_plane == "ztunnel"}


def list_workloads(snap: Snapshot, namespace: str | None = None, sidecar: str | None = None) -> list[Workload]:
    """Every workload (those that need attention first), with its data plane and issue."""
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    td = trust_domain(snap)
    ctx = AmbientContext(snap)
    rows: list[tuple[int, Workload]] = []
    for w in workloads(snap, namespace):
        sev, issue = workload_issue(w, ns_objs.get(w.namespace))
        dp = workload_data_plane(ctx, w)
        if dp.issue[0] > sev or (issue is None and dp.issue[1]):
            sev, issue = dp.issue
        mesh = w.sidecar if w.sidecar in ("istio", "linkerd") else "istio" if dp.data_plane.startswith("ambient") \
            else None
        row = Workload(
            namespace=w.namespace, name=w.name, kind=w.kind,
            replicas=f"{w.ready}/{w.desired if w.desired is not None else len(w.pods)}",
            sidecar=w.sidecar, data_plane=dp.data_plane, waypoint=dp.waypoint,  # type: ignore[arg-type]
            data_plane_reason=dp.reason, meshed_pods=w.meshed() + dp.captured, pods=len(w.running),
            service_account=w.service_account,
            identity=identity(mesh, w.namespace, w.service_account, td) if mesh else None,
            labels=w.labels, issue=issue)
        if sidecar and not FILTERS.get(sidecar, lambda r: r.sidecar == sidecar)(row):
            continue
        rows.append((sev, row))
    rows.sort(key=lambda r: (-r[0], r[1].namespace, r[1].name))
    return [r for _, r in rows]


def mesh_overview(snap: Snapshot, namespace: str | None = None, kubernetes_version: str | None = None
                  ) -> Overview:
    meshes = detect_meshes(snap)
    summaries = _namespace_summaries(snap, namespace)
    findings: list[tuple[int, str]] = []
    for m in meshes:
        for p in m.problems:
            findings.append((3, f"{m.mesh}: {p}"))
    if not meshes:
        findings.append((1, "no service mesh control plane found (Istio or Linkerd): see /service-mesh install"))
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    ctx: AmbientContext | None = None
    for s in summaries:
        if s.injection and s.pods and s.meshed_pods < s.pods:
            missing = []
            for w in workloads(snap, s.namespace):
                sev, issue = workload_issue(w, ns_objs.get(s.namespace))
                if sev == 2:
                    missing.append(w.name)
            findings.append((2, f"{s.namespace}: {s.pods - s.meshed_pods} of {s.pods} running pods have no sidecar"
                                + (f" ({', '.join(missing[:5])})" if missing else "")))
        if not s.injection and not s.ambient and s.meshed_pods == 0 and s.pods \
                and s.namespace not in SYSTEM_NAMESPACES and not any(m.namespace == s.namespace for m in meshes):
            findings.append((0, f"{s.namespace}: not in the mesh (no injection or ambient label)"))
        if s.ambient and s.pods and s.meshed_pods < s.pods:
            ctx = ctx or AmbientContext(snap)
            dps = [(w.name, workload_data_plane(ctx, w)) for w in workloads(snap, s.namespace)]
            left = [n for n, dp in dps if dp.data_plane in ("none", "ambient-pending") and dp.issue[0] == 2]
            if left:
                findings.append((2, f"{s.namespace}: labelled {s.ambient} but {', '.join(left[:5])} "
                                    f"{'is' if len(left) == 1 else 'are'} not captured by ztunnel"))
    waypoints, wfindings = _waypoints(snap, namespace)
    findings += wfindings
    # the most meshed-relevant namespaces first: labelled, then by pods
    summaries.sort(key=lambda s: (s.injection is None and s.ambient is None, s.namespace in SYSTEM_NAMESPACES,
                                  -s.pods, s.namespace))
    findings.sort(key=lambda f: -f[0])
    resources = {k: len(v) for k, v in snap.objects.items()
                 if v and k in (*ISTIO_KEYS, *LINKERD_KEYS)}
    return Overview(source=snap.source, kubernetes_version=kubernetes_version, meshes=meshes, namespaces=summaries,
                    waypoints=waypoints, resources=dict(sorted(resources.items())), absent_kinds=sorted(snap.absent),
                    findings=[f for _, f in findings[:15]], warnings=load_warnings(snap))


def _waypoints(snap: Snapshot, namespace: str | None, limit: int = 10
               ) -> tuple[list[WaypointSummary], list[tuple[int, str]]]:
    """The waypoints with their bindings, and findings: waypoints istiod cannot use, objects it refuses."""
    out, findings = [], []
    for st in ambient.waypoint_status(snap, namespace):
        w = st.waypoint
        out.append(WaypointSummary(waypoint=w.key, traffic_type=w.traffic_type, programmed=w.programmed, ready=w.ready,
                                   services=len(st.services), workloads=len(st.workloads),
                                   problems=list(st.problems)))
        for p in st.problems:
            findings.append((2, f"waypoint {w.key}: {p}"))
        for who, reason in st.refused[:3]:
            findings.append((2, f"{who} asks for waypoint {w.key}: refused ({reason})"))
    known = {w.waypoint for w in out}
    for key in ("Namespace", "Service"):
        for o in snap.of(key) if namespace is None or key == "Namespace" else snap.of(key, namespace):
            ns = name_of(o) if key == "Namespace" else o.get("metadata", {}).get("namespace", "")
            if namespace and ns != namespace:
                continue
            wanted, _ = ambient.use_waypoint(labels_of(o), ns)
            if wanted and wanted not in known and not any(g for g in snap.of(ambient.GATEWAY_KEY)
                                                           if f"{g['metadata'].get('namespace')}/"
                                                              f"{g['metadata'].get('name')}" == wanted):
                findings.append((2, f"{key} {ns if key == 'Namespace' else ns + '/' + name_of(o)} uses waypoint "
                                    f"{wanted}, which does not exist (WaypointIsNotReady: its traffic skips L7 "
                                    "policy and routes)"))
    return out[:limit], findings


def load_warnings(snap: Snapshot, limit: int = 10) -> list[str]:
    out = [f"{e.source}: {e.message}" for e in snap.errors[:limit]]
    if len(snap.errors) > limit:
        out.append(f"... and {len(snap.errors) - limit} more unreadable inputs")
    return out
