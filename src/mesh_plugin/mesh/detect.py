"""Which meshes run in the cluster: Istio (istiod, revisions, version), Linkerd (control plane, viz). Pure."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..kube.snapshot import Snapshot, labels_of, ns_of
from .workloads import is_ready

ISTIO_CRD_SUFFIX = ".istio.io"
LINKERD_CRD_SUFFIX = ".linkerd.io"


@dataclass
class MeshInfo:
    """A mesh found in the cluster (the tools' models.MeshInfo has the same fields)."""
    mesh: str
    namespace: str
    version: str | None = None
    revisions: list[str] = field(default_factory=list)
    components_ready: str = "0/0"
    extensions: list[str] = field(default_factory=list)
    ambient: str | None = None
    problems: list[str] = field(default_factory=list)


def _image_tag(pod: dict, container: str | None = None) -> str | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if container is None or c.get("name") == container:
            image = str(c.get("image") or "")
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
            if tag:
                return tag.split("@")[0]
    return None


def detect_meshes(snap: Snapshot) -> list[MeshInfo]:
    meshes: list[MeshInfo] = []
    pods = snap.of("Pod")
    crds = [str((c.get("metadata") or {}).get("name", "")) for c in snap.of("CustomResourceDefinition")]

    istiod = [p for p in pods if labels_of(p).get("app") == "istiod"]
    if istiod:
        ns = ns_of(istiod[0])
        revisions = sorted({labels_of(p).get("istio.io/rev", "default") for p in istiod})
        versions = sorted({v for p in istiod if (v := _image_tag(p, "discovery") or _image_tag(p))})
        info = MeshInfo(mesh="istio", namespace=ns, version=versions[-1] if versions else None, revisions=revisions,
                        components_ready=f"{sum(is_ready(p) for p in istiod)}/{len(istiod)}")
        if len(versions) > 1:
            info.problems.append(f"istiod runs several versions: {', '.join(versions)} (canary upgrade in progress?)")
        if not any(is_ready(p) for p in istiod):
            info.problems.append("no istiod pod is ready: sidecars get no config updates and new pods no injection")
        _ambient(snap, info)
        meshes.append(info)
    elif any(c.endswith(ISTIO_CRD_SUFFIX) for c in crds):
        meshes.append(MeshInfo(mesh="istio", namespace="istio-system", components_ready="0/0",
                               problems=["Istio CRDs are installed but no istiod runs (a half-removed install?)"]))

    cp = [p for p in pods if labels_of(p).get("linkerd.io/control-plane-component")]
    if cp:
        ns = labels_of(cp[0]).get("linkerd.io/control-plane-ns") or ns_of(cp[0])
        versions = sorted({v for p in cp if (v := labels_of(p).get("linkerd.io/proxy-version") or _image_tag(p))})
        ext = sorted({f"linkerd {labels_of(p)['linkerd.io/extension']}" for p in pods
                      if labels_of(p).get("linkerd.io/extension")})
        info = MeshInfo(mesh="linkerd", namespace=ns, version=versions[-1] if versions else None,
                        components_ready=f"{sum(is_ready(p) for p in cp)}/{len(cp)}", extensions=ext)
        want = {"destination", "identity", "proxy-injector"}
        missing = want - {labels_of(p).get("linkerd.io/control-plane-component") for p in cp}
        if missing:
            info.problems.append(f"control-plane components missing: {', '.join(sorted(missing))}")
        meshes.append(info)
    elif any(c.endswith(LINKERD_CRD_SUFFIX) for c in crds):
        meshes.append(MeshInfo(mesh="linkerd", namespace="linkerd", components_ready="0/0",
                               problems=["Linkerd CRDs are installed but no control plane runs"]))
    return meshes


def _ambient(snap: Snapshot, info: MeshInfo) -> None:
    """Istio's ambient data plane: the ztunnel DaemonSet, istio-cni, istiod's PILOT_ENABLE_AMBIENT."""
    from .ambient import ambient_components

    comps = ambient_components(snap)
    parts = []
    if comps.ztunnel:
        z = comps.ztunnel
        ready = f" {z.ready}/{z.desired} ready" if z.desired is not None else ""
        parts.append(f"ztunnel {z.namespace}/{z.name}{ready}" + (f" ({z.version})" if z.version else "")
                     + (f" revision {z.revision}" if z.revision != "default" else ""))
    if comps.cni:
        c = comps.cni
        ready = f" {c.ready}/{c.desired} ready" if c.desired is not None else ""
        state = "" if c.ambient_enabled else " (AMBIENT_ENABLED false)" if c.ambient_enabled is False else ""
        parts.append(f"istio-cni{ready}{state}")
    if parts:
        info.ambient = ", ".join(parts)
    info.problems += list(comps.problems)
