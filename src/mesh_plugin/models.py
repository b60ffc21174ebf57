"""Pydantic models: the typed outputs of the tools (outputSchema + structuredContent)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

Sidecar = Literal["istio", "linkerd", "istio-gateway", "ztunnel", "none"]
#: what carries a workload's traffic (mesh/ambient.py): a sidecar, ztunnel (ambient), ztunnel + a waypoint, or
#: nothing; mesh infrastructure (waypoint, ztunnel, gateway pods) is named as what it is
DataPlane = Literal["sidecar", "ambient", "ambient+waypoint", "ambient-pending", "waypoint", "ztunnel", "gateway",
                    "none"]


class Page(BaseModel):
    """How much of the answer is shown, and how to see the rest."""

    total: int = Field(description="rows in the full answer")
    shown: int = Field(description="rows returned in this answer")
    offset: int = 0
    note: str | None = Field(default=None, description='"showing N of M" and how to narrow or page')


def page(rows: Sequence[T], limit: int, offset: int, what: str, narrow: str) -> tuple[list[T], Page]:
    """One page of an answer's rows, and its Page: "showing N of M", the next offset, and how to narrow."""
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


class MeshInfo(BaseModel):
    mesh: Literal["istio", "linkerd"]
    namespace: str
    version: str | None = None
    revisions: list[str] = []
    components_ready: str = Field(description='ready/total control-plane pods, e.g. "1/1"')
    extensions: list[str] = Field(default=[], description="e.g. linkerd viz")
    ambient: str | None = Field(default=None, description="Istio ambient data plane: ztunnel and istio-cni readiness")
    problems: list[str] = []


class NamespaceSummary(BaseModel):
    namespace: str
    injection: str | None = Field(description='the label/annotation that enables injection, e.g. "istio-injection=enabled"')
    pods: int
    meshed_pods: int
    coverage_pct: int = Field(description="meshed pods / running pods, percent")
    ambient: str | None = Field(default=None, description='"istio.io/dataplane-mode=ambient" when the namespace is '
                                                          "labelled for ambient")
    ambient_pods: int = Field(default=0, description="running pods captured by ztunnel (counted in meshed_pods)")
    waypoint: str | None = Field(default=None, description="the namespace's istio.io/use-waypoint (ns/name)")


class WaypointSummary(BaseModel):
    waypoint: str = Field(description="namespace/name of the Gateway (class istio-waypoint)")
    traffic_type: str = Field(description="istio.io/waypoint-for in effect: service, workload, all or none")
    programmed: bool | None = Field(description="the Gateway's Programmed condition (None: no status)")
    ready: bool = Field(description="has status.addresses: istiod uses it only then")
    services: int = Field(description="Services bound to it")
    workloads: int = Field(description="pods bound to it for workload traffic")
    problems: list[str] = []


class MeshOverview(BaseModel):
    paged_field: ClassVar[str] = "namespaces"
    page_field: ClassVar[str] = "namespaces_page"
    source: str = Field(description="where the data came from: cluster context or files")
    kubernetes_version: str | None = None
    meshes: list[MeshInfo]
    namespaces: list[NamespaceSummary]
    namespaces_page: Page
    waypoints: list[WaypointSummary] = Field(default=[], description="ambient waypoints and what is bound to them")
    resources: dict[str, int] = Field(description="counts of mesh resources by kind")
    absent_kinds: list[str] = Field(default=[], description="kinds whose CRDs are not installed")
    findings: list[str] = Field(default=[], description="what needs attention, most severe first")
    warnings: list[str] = Field(default=[], description="inputs that could not be read (offline files)")


class Workload(BaseModel):
    namespace: str
    name: str
    kind: str = Field(description="Deployment, StatefulSet, DaemonSet, Job, Pod...")
    replicas: str = Field(description='ready/desired, e.g. "2/2"')
    sidecar: Sidecar
    data_plane: DataPlane = Field(default="none", description="what carries its traffic")
    waypoint: str | None = Field(default=None, description="ambient+waypoint: the waypoint (ns/name)")
    data_plane_reason: str | None = Field(default=None, description="why this data plane (labels, annotation, binding)")
    meshed_pods: int
    pods: int
    service_account: str
    identity: str | None = Field(description="mesh identity: SPIFFE ID (Istio) or Linkerd identity")
    labels: dict[str, str] = Field(default={}, description="app and version labels")
    issue: str | None = Field(default=None, description="why this workload needs attention, if it does")


class WorkloadList(BaseModel):
    paged_field: ClassVar[str] = "workloads"
    source: str
    workloads: list[Workload]
    page: Page
    warnings: list[str] = Field(default=[], description="inputs that could not be read (offline files)")
