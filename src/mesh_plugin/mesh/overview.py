"""Mesh overview and workload listing over a Snapshot. Pure, no I/O."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ..kube.kinds import ISTIO_KEYS, LINKERD_KEYS
from ..kube.snapshot import Snapshot, name_of
from ..models import MeshOverview, NamespaceSummary, Page, Workload, WorkloadList
from .detect import detect_meshes
from .workloads import (WorkloadInfo, identity, is_running, namespace_injection, pod_opted_out, sidecar_of,
                        trust_domain, workloads)

T = TypeVar("T")

#: kinds mesh_overview and list_workloads read (one LIST each)
OVERVIEW_KINDS = ("Namespace", "Pod", "ConfigMap", "CustomResourceDefinition", *ISTIO_KEYS, *LINKERD_KEYS)
WORKLOAD_KINDS = ("Namespace", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ConfigMap")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def page(rows: Sequence[T], limit: int, offset: int, what: str, narrow: str) -> tuple[list[T], Page]:
    shown = list(rows[offset: offset + limit])
    total = len(rows)
    note = None
    if len(shown) < total:
        nxt = offset + len(shown)
        note = f"showing {len(shown)} of {total} {what}"
        if offset:
            note += f" (from {offset})"
        if nxt < total:
            note += f"; next page: offset={nxt}"
        note += f"; narrow with {narrow}"
    return shown, Page(total=total, shown=len(shown), offset=offset, note=note)


def _namespace_summaries(snap: Snapshot, namespace: str | None) -> list[NamespaceSummary]:
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    names = [namespace] if namespace else snap.namespaces()
    out = []
    for ns in names:
        _, label = namespace_injection(ns_objs.get(ns))
        running = [p for p in snap.of("Pod", ns) if is_running(p)]
        meshed = sum(1 for p in running if sidecar_of(p) in ("istio", "linkerd"))
        out.append(NamespaceSummary(namespace=ns, injection=label, pods=len(running), meshed_pods=meshed,
                                    coverage_pct=round(100 * meshed / len(running)) if running else 0))
    return out


def workload_issue(w: WorkloadInfo, ns_obj: dict | None) -> tuple[int, str | None]:
    """(severity 0..2, text): 2 = expected in the mesh but not, 1 = partially meshed, 0 = fine."""
    mesh, label = namespace_injection(ns_obj)
    running = w.running
    if not running:
        return (1, "no running pods") if (w.desired or 0) > 0 else (0, None)
    meshed = w.meshed()
    if w.sidecar == "istio-gateway":
        return 0, None
    if mesh and meshed == 0:
        opt = pod_opted_out(running[0]) or pod_opted_out(w.template or {})
        if opt:
            return 2, f"no sidecar: opted out with {opt} in a namespace labelled {label}"
        return 2, f"no sidecar although the namespace has {label}: restart the pods to inject"
    if 0 < meshed < len(running):
        return 1, f"{meshed}/{len(running)} pods have a sidecar: a rollout restart makes it consistent"
    return 0, None


def list_workloads(snap: Snapshot, namespace: str | None = None, sidecar: str | None = None,
                   limit: int = 25, offset: int = 0) -> WorkloadList:
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    td = trust_domain(snap)
    rows: list[tuple[int, Workload]] = []
    for w in workloads(snap, namespace):
        sev, issue = workload_issue(w, ns_objs.get(w.namespace))
        mesh = w.sidecar if w.sidecar in ("istio", "linkerd") else None
        row = Workload(
            namespace=w.namespace, name=w.name, kind=w.kind,
            replicas=f"{w.ready}/{w.desired if w.desired is not None else len(w.pods)}",
            sidecar=w.sidecar, meshed_pods=w.meshed(), pods=len(w.running), service_account=w.service_account,
            identity=identity(mesh, w.namespace, w.service_account, td) if mesh else None,
            labels=w.labels, issue=issue)
        if sidecar and row.sidecar != sidecar:
            continue
        rows.append((sev, row))
    rows.sort(key=lambda r: (-r[0], r[1].namespace, r[1].name))
    shown, pg = page([r for _, r in rows], limit, offset, "workloads", "namespace= or sidecar=")
    return WorkloadList(source=snap.source, workloads=shown, page=pg, warnings=load_warnings(snap))


def mesh_overview(snap: Snapshot, namespace: str | None = None, kubernetes_version: str | None = None,
                  limit: int = 30) -> MeshOverview:
    meshes = detect_meshes(snap)
    summaries = _namespace_summaries(snap, namespace)
    findings: list[tuple[int, str]] = []
    for m in meshes:
        for p in m.problems:
            findings.append((3, f"{m.mesh}: {p}"))
    if not meshes:
        findings.append((1, "no service mesh control plane found (Istio or Linkerd): see /service-mesh install"))
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    for s in summaries:
        if s.injection and s.pods and s.meshed_pods < s.pods:
            missing = []
            for w in workloads(snap, s.namespace):
                sev, issue = workload_issue(w, ns_objs.get(s.namespace))
                if sev == 2:
                    missing.append(w.name)
            findings.append((2, f"{s.namespace}: {s.pods - s.meshed_pods} of {s.pods} running pods have no sidecar"
                                + (f" ({', '.join(missing[:5])})" if missing else "")))
        if not s.injection and s.meshed_pods == 0 and s.pods and s.namespace not in SYSTEM_NAMESPACES \
                and not any(m.namespace == s.namespace for m in meshes):
            findings.append((0, f"{s.namespace}: not in the mesh (no injection label)"))
    # the most meshed-relevant namespaces first: labelled, then by pods
    summaries.sort(key=lambda s: (s.injection is None, s.namespace in SYSTEM_NAMESPACES, -s.pods, s.namespace))
    shown, pg = page(summaries, limit, 0, "namespaces", "namespace=")
    findings.sort(key=lambda f: -f[0])
    resources = {k: len(v) for k, v in snap.objects.items()
                 if v and k in (*ISTIO_KEYS, *LINKERD_KEYS)}
    return MeshOverview(source=snap.source, kubernetes_version=kubernetes_version, meshes=meshes, namespaces=shown,
                        namespaces_page=pg, resources=dict(sorted(resources.items())),
                        absent_kinds=sorted(snap.absent), findings=[f for _, f in findings[:15]],
                        warnings=load_warnings(snap))


def load_warnings(snap: Snapshot, limit: int = 10) -> list[str]:
    out = [f"{e.source}: {e.message}" for e in snap.errors[:limit]]
    if len(snap.errors) > limit:
        out.append(f"... and {len(snap.errors) - limit} more unreadable inputs")
    return out
