"""Workloads from pods: owner, sidecar, identity, injection expectations. Pure, no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of

ISTIO_INJECT_LABELS = ("istio-injection", "istio.io/rev")


def containers_of(pod: dict) -> list[dict]:
    spec = pod.get("spec") or {}
    native = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + native


def sidecar_of(pod: dict) -> str:
    """istio, istio-gateway (gateways and waypoints: Envoy), ztunnel (a ztunnel pod: not Envoy), linkerd or none.
    An ambient pod has none: ztunnel carries its traffic (mesh/ambient.py pod_data_plane)."""
    from .ambient import is_ztunnel_pod

    names = {c.get("name") for c in containers_of(pod)}
    if "linkerd-proxy" in names:
        return "linkerd"
    if "istio-proxy" in names and is_ztunnel_pod(pod):
        return "ztunnel"
    if "istio-proxy" in names:
        labels = labels_of(pod)
        proxy = next(c for c in containers_of(pod) if c.get("name") == "istio-proxy")
        args = proxy.get("args") or []
        if "router" in args or "waypoint" in args or labels.get("istio") in ("ingressgateway", "egressgateway") or \
                labels.get("gateway.istio.io/managed"):
            return "istio-gateway"
        return "istio"
    return "none"


def is_running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def is_ready(pod: dict) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return is_running(pod) and any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def owner_of(pod: dict) -> tuple[str, str]:
    """(kind, name) of the workload that owns a pod; ReplicaSets resolve to their Deployment."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref:
        return "Pod", name_of(pod)
    kind, name = ref.get("kind", ""), ref.get("name", "")
    if kind == "ReplicaSet":
        h = labels_of(pod).get("pod-template-hash")
        if h and name.endswith("-" + h):
            return "Deployment", name[: -len(h) - 1]
        m = re.match(r"^(.*)-[a-z0-9]{5,10}$", name)
        return ("Deployment", m.group(1)) if m else ("ReplicaSet", name)
    if kind == "Job":
        m = re.match(r"^(.*)-\d{8,}$", name)
        return ("CronJob", m.group(1)) if m else ("Job", name)
    return kind, name


def namespace_injection(ns_obj: dict | None) -> tuple[str | None, str | None]:
    """(mesh, label) that makes new pods in this namespace get a sidecar, or (None, None)."""
    if not ns_obj:
        return None, None
    labels, ann = labels_of(ns_obj), annotations_of(ns_obj)
    if labels.get("istio-injection") == "enabled":
        return "istio", "istio-injection=enabled"
    if labels.get("istio-injection") != "disabled" and labels.get("istio.io/rev"):
        return "istio", f"istio.io/rev={labels['istio.io/rev']}"
    if ann.get("linkerd.io/inject") == "enabled":
        return "linkerd", "linkerd.io/inject=enabled"
    return None, None


def pod_opted_out(pod: dict) -> str | None:
    """The pod-level override that disables injection, if any."""
    for src in (labels_of(pod), annotations_of(pod)):
        if str(src.get("sidecar.istio.io/inject", "")).lower() == "false":
            return "sidecar.istio.io/inject=false"
        if str(src.get("linkerd.io/inject", "")).lower() == "disabled":
            return "linkerd.io/inject=disabled"
    return None


def trust_domain(snap: Snapshot, root_namespace: str | None = None) -> str:
    """From the mesh config (ConfigMap istio), default cluster.local."""
    from .meshconfig import trust_domain as from_mesh_config

    return from_mesh_config(snap, root_namespace)


def identity(mesh: str, namespace: str, service_account: str, td: str = "cluster.local") -> str | None:
    if mesh == "istio":
        return f"spiffe://{td}/ns/{namespace}/sa/{service_account}"
    if mesh == "linkerd":
        return f"{service_account}.{namespace}.serviceaccount.identity.linkerd.{td}"
    return None


@dataclass
class WorkloadInfo:
    namespace: str
    name: str
    kind: str
    desired: int | None = None
    pods: list[dict] = field(default_factory=list)
    template: dict | None = None

    @property
    def running(self) -> list[dict]:
        return [p for p in self.pods if is_running(p)]

    @property
    def ready(self) -> int:
        return sum(1 for p in self.pods if is_ready(p))

    def meshed(self, mesh: str | None = None) -> int:
        return sum(1 for p in self.running if sidecar_of(p) != "none" and (mesh is None or sidecar_of(p) == mesh))

    @property
    def sidecar(self) -> str:
        kinds = [sidecar_of(p) for p in self.running] or ["none"]
        return max(set(kinds), key=kinds.count)

    @property
    def service_account(self) -> str:
        src = self.pods[0].get("spec", {}) if self.pods else ((self.template or {}).get("spec") or {})
        return str(src.get("serviceAccountName") or src.get("serviceAccount") or "default")

    @property
    def labels(self) -> dict[str, str]:
        src = labels_of(self.pods[0]) if self.pods else labels_of(self.template or {})
        return {k: v for k, v in src.items() if k in ("app", "version", "app.kubernetes.io/name")}


def workloads(snap: Snapshot, namespace: str | None = None) -> list[WorkloadInfo]:
    """Pods grouped by owning workload, plus controllers that have no pods (scaled to zero)."""
    out: dict[tuple[str, str, str], WorkloadInfo] = {}
    for pod in snap.of("Pod", namespace):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        kind, name = owner_of(pod)
        key = (ns_of(pod), kind, name)
        w = out.setdefault(key, WorkloadInfo(ns_of(pod), name, kind))
        w.pods.append(pod)
    for kind in ("Deployment", "StatefulSet", "DaemonSet"):
        for obj in snap.of(kind, namespace):
            key = (ns_of(obj), kind, name_of(obj))
            w = out.setdefault(key, WorkloadInfo(ns_of(obj), name_of(obj), kind))
            spec = obj.get("spec") or {}
            w.desired = spec.get("replicas", 1) if kind != "DaemonSet" else (obj.get("status") or {}).get(
                "desiredNumberScheduled")
            w.template = spec.get("template")
    return sorted(out.values(), key=lambda w: (w.namespace, w.name, w.kind))


def pods_by_ip(pods: list[dict]) -> dict[str, str]:
    """podIP -> "namespace/name", to name the pod behind an Envoy endpoint (running pods only)."""
    out = {}
    for p in pods:
        ip = (p.get("status") or {}).get("podIP")
        if ip and is_running(p):
            out[str(ip)] = f"{ns_of(p)}/{name_of(p)}"
    return out


def require_envoy(pod_obj: dict) -> None:
    """Raise InvalidInput with the next step unless the pod runs an Envoy (an Istio sidecar or gateway):
    linkerd-proxy, ztunnel and ambient pods say what to use instead."""
    from ..errors import InvalidInput

    namespace, pod = ns_of(pod_obj), name_of(pod_obj)
    kind = sidecar_of(pod_obj)
    if kind not in ("istio", "istio-gateway"):
        names = [c.get("name") for c in (pod_obj.get("spec") or {}).get("containers") or []]
        hint = ("pick a meshed pod (mesh_overview view=workloads shows which have sidecar=istio), or inject it "
                "(label the namespace istio-injection=enabled and restart the workload).")
        if kind == "ztunnel":
            hint = ("it is a ztunnel pod, not Envoy: use proxy_inspect view=config with kind=workload, service, "
                    "policy, certificate or connections (istioctl ztunnel-config); mesh_overview view=workloads shows "
                    "Envoy pods.")
        elif ((pod_obj.get("metadata") or {}).get("annotations") or {}).get(
                "ambient.istio.io/redirection") == "enabled":
            hint = ("the pod is in ambient mode: ztunnel carries its traffic (proxy_inspect view=config "
                    "kind=workload with this pod reads its node's ztunnel); its waypoint, if any, is an Envoy "
                    "(mesh_overview view=workloads shows it).")
        raise InvalidInput(
            f"Pod {namespace}/{pod} has no Envoy sidecar (containers: {', '.join(map(str, names))}"
            + (", it runs linkerd-proxy" if kind == "linkerd" else ", it is ztunnel" if kind == "ztunnel" else "")
            + ").", hint=hint)
