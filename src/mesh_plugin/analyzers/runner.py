"""One analysis over a snapshot, as istioctl runs one: default resources, skipped analyzers, input problems.

``tools/analyze.py:run_analysis`` loads the snapshot and mesh config and calls ``analyze_snapshot``.
"""
from __future__ import annotations

from typing import Any

from ..kube.snapshot import Snapshot, name_of, ns_of
from .base import ISTIO_SYSTEM, Analyzer, Context, MeshConfig, Message
from .decode import KINDS as DECODED_KINDS, undecodable
from .kinds_needed import needed_kind_for
from .messages import CATALOG

#: kuberesource.DefaultExcludedSchemas: the kinds `istioctl analyze --use-kube=false` does not read from files
RUNTIME_KINDS = ("Service", "Namespace", "Node", "Pod", "Secret")


def default_resources(mesh: MeshConfig, istio_namespace: str = ISTIO_SYSTEM) -> list[dict]:
    """local.AddDefaultResources: the ingress gateway pod and Service istioctl assumes in offline analysis
    (none when the mesh's ingressControllerMode is OFF)."""
    if mesh.ingress_controller_mode == "OFF":
        return []
    svc = mesh.ingress_service
    return [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": f"{svc}-dummypod", "namespace": istio_namespace, "labels": {"istio": "ingressgateway"}},
         "spec": {"containers": [{"name": "istio-proxy", "args": None}]}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": svc, "namespace": istio_namespace},
         "spec": {"selector": {"istio": "ingressgateway"}, "ports": [
             {"name": "http2", "nodePort": 31380, "port": 80, "protocol": "TCP", "targetPort": 80},
             {"name": "https", "nodePort": 31390, "port": 443, "protocol": "TCP", "targetPort": 443},
             {"name": "tcp", "nodePort": 31400, "port": 31400, "protocol": "TCP", "targetPort": 31400},
             {"name": "tls", "nodePort": 31447, "port": 15443, "protocol": "TCP", "targetPort": 15443}]}},
    ]


def mesh_networks_from_configmap(snap: Snapshot, istio_namespace: str = ISTIO_SYSTEM) -> dict | None:
    """The ``meshNetworks`` key of ConfigMap istio (YAML in a string), parsed with the bounded loader."""
    from ..errors import MeshError
    from ..kube.snapshot import safe_load_all

    for cm in snap.of("ConfigMap", istio_namespace):
        if name_of(cm) != "istio":
            continue
        text = (cm.get("data") or {}).get("meshNetworks") if isinstance(cm.get("data"), dict) else None
        if not isinstance(text, str) or not text.strip():
            return None
        try:
            docs = safe_load_all(text)
        except MeshError:
            return None
        return docs[0] if docs and isinstance(docs[0], dict) else None
    return None


def _without(snap: Snapshot, kinds: tuple[str, ...]) -> Snapshot:
    view = Snapshot(objects={k: v for k, v in snap.objects.items() if k not in kinds}, absent=set(snap.absent),
                    errors=snap.errors, source=snap.source, namespace=snap.namespace, unknown=snap.unknown)
    return view


def _decodable(snap: Snapshot, files: bool) -> tuple[Snapshot, list[tuple[dict, str]]]:
    """The snapshot as istioctl reads it: without the Istio objects it could not decode (decode.py), which
    come back with their reason, and, for files, one object per kind and name (a later document with the
    same kind, namespace and name replaces the earlier one, as it would in the cluster)."""
    refused: list[tuple[dict, str]] = []
    objects = dict(snap.objects)
    changed = False
    for _, obj in snap.unknown:  # kinds kube/kinds.py does not model yet (kinds_needed.py)
        kind = needed_kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        meta = obj.get("metadata")
        if kind is None or not isinstance(meta, dict):
            continue
        if kind.namespaced and not meta.get("namespace") and files:
            obj = {**obj, "metadata": {**meta, "namespace": getattr(snap, "_default_ns", None) or "default"}}
        objects[kind.key] = [*objects.get(kind.key, []), obj]
        changed = True
    if files:
        for key, items in list(objects.items()):
            last: dict[tuple[str, str], int] = {}
            for n, o in enumerate(items):
                last[(ns_of(o), name_of(o))] = n
            if len(last) != len(items):
                keep = set(last.values())
                objects[key] = [o for n, o in enumerate(items) if n in keep]
                changed = True
    for key, items in list(objects.items()):
        if key not in DECODED_KINDS:
            continue
        bad = [(o, why) for o in items if (why := undecodable(key, o))]
        if bad:
            refused += bad
            ids = {id(o) for o, _ in bad}
            objects[key] = [o for o in items if id(o) not in ids]
    if not refused and not changed:
        return snap, refused
    view = Snapshot(objects=objects, absent=set(snap.absent), errors=snap.errors, source=snap.source,
                    namespace=snap.namespace, unknown=snap.unknown)
    return view, refused


def analyze_snapshot(snap: Snapshot, analyzers: list[Analyzer], mesh: MeshConfig, *, files: bool,
                     runtime_kinds: bool = True, mesh_networks: dict | None = None,
                     istio_namespace: str = ISTIO_SYSTEM, report_unknown: bool = True) -> list[Message]:
    """Run ``analyzers`` over ``snap`` and add the input problems (MESH0001 unreadable, MESH0002 unknown kind).

    For files (``files=True``) istioctl's default ingress gateway Pod and Service are added, unless the files
    define objects with the same names, as Istio's analyzer tests add them. ``runtime_kinds=False`` reads
    files as ``istioctl analyze --use-kube=false`` does instead: Pods, Services, Namespaces, Nodes and Secrets
    in files are ignored (so no default resources either) and the analyzers that need those kinds are skipped,
    as istioctl skips analyzers whose inputs are not in the source.
    """
    from . import run

    if files and not runtime_kinds:
        snap = _without(snap, RUNTIME_KINDS)
        analyzers = [a for a in analyzers if not any(k in RUNTIME_KINDS for k in a.inputs)]
    elif files:
        existing = {(o.get("kind"), ns_of(o), name_of(o)) for k in ("Pod", "Service") for o in snap.of(k)}
        for obj in default_resources(mesh, istio_namespace):
            if (obj["kind"], ns_of(obj), name_of(obj)) not in existing:
                snap.add(obj)
    if mesh_networks is None:
        mesh_networks = mesh_networks_from_configmap(snap, istio_namespace)
    snap, refused = _decodable(snap, files)
    ctx = Context(snap, mesh, mesh_networks=mesh_networks, istio_namespace=istio_namespace)
    msgs = run(ctx, analyzers)
    for obj, why in refused:
        msgs.insert(0, Message("MESH0001", "Error", CATALOG["MESH0001"].render(
            f"{obj.get('kind')} {ns_of(obj) + '/' if ns_of(obj) else ''}{name_of(obj)}",
            f"{why} (istioctl skips this object)"), str(obj.get("kind") or ""), ns_of(obj) or None, name_of(obj),
            "input"))
    for e in snap.errors:
        msgs.insert(0, Message("MESH0001", "Error", CATALOG["MESH0001"].render(e.source, e.message), "File", None,
                               e.source, "input"))
    if report_unknown:
        shown = 0
        for source, obj in snap.unknown:
            if needed_kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))) is not None:
                continue  # analyzed (kinds_needed.py)
            meta: Any = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            msgs.append(Message("MESH0002", "Info", CATALOG["MESH0002"].render(obj.get("kind"), obj.get("apiVersion")),
                                str(obj.get("kind") or "?"), meta.get("namespace"),
                                str(meta.get("name") or source), "input"))
            shown += 1
            if shown >= 20:
                break
    return msgs
