"""mTLS: effective status per workload and port, the migration plan to STRICT, and set_mtls_mode."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from ..changes.path import ChangeResult, execute, plan_change
from ..errors import InvalidInput, MeshError, NotFound
from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, name_of
from ..mesh import mtls as M
from ..models import page
from ..mesh.workloads import workloads
from ..models import Page
from ..render import render_change, note, table
from ..runtime import RUNTIME
from .registry import Apply, Confirm, Files, Force, Limit, Namespace, Offset, OptNamespace, Window, op

MTLS_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "PeerAuthentication",
              "DestinationRule", "ConfigMap")
#: what the plan reads besides: the policies and routes a move to ambient touches, waypoints (Gateways)
PLAN_KINDS = MTLS_KINDS + tuple(k for k in ("AuthorizationPolicy", "RequestAuthentication", "EnvoyFilter",
                                            "VirtualService", "gateway.networking.k8s.io/Gateway", "GatewayClass")
                                if k in KINDS)


workload_mtls = M.workload_mtls
strict_blockers = M.strict_blockers
build_plan = M.build_plan


# the output models: mesh/mtls.py returns plain records (dataclasses of the same fields), read with
# Model.model_validate(record, from_attributes=True)
class WorkloadMTLS(BaseModel):
    namespace: str
    workload: str
    kind: str
    mode: str = Field(description="effective server mode for the workload: STRICT, PERMISSIVE or DISABLE; for an "
                                  "ambient workload what ztunnel does with plaintext (DISABLE acts as PERMISSIVE)")
    ports: dict[str, str] = Field(description="port -> effective mode, for every container port, service target "
                                              "port and portLevelMtls port of the workload")
    policy: str = Field(description='the PeerAuthentication that decides it ("ns/name") or "default"')
    level: str = Field(description="mesh, namespace, workload, port or default")
    injected: bool
    data_plane: str = Field(default="none", description="what carries its traffic: sidecar, ambient (ztunnel: HBONE "
                                                        "between mesh workloads), ambient-pending, linkerd or none")
    clients: dict[str, str] = Field(default={}, description='"service:port" -> what clients send, and why')
    conflicts: list[str] = []
    plaintext_share: float | None = Field(default=None, description="share of requests without mTLS in the window")
    notes: list[str] = []


class MigrationStep(BaseModel):
    step: int
    name: str
    done: bool | None = Field(description="null when it cannot be verified (e.g. no metrics)")
    detail: str


class AmbientMigration(BaseModel):
    current_step: int = Field(description="the first step not done (7 = finished)")
    steps: list[MigrationStep]
    blockers: list[str] = Field(description="what breaks or stops being enforced once the namespace is in ambient")
    next_action: str


class MigrationPlan(BaseModel):
    namespace: str
    strict: str = Field(default="", description="whether STRICT is already in place, and by which policy")
    current_step: int = Field(description="the first step not done (6 = finished)")
    steps: list[MigrationStep]
    blockers: list[str] = Field(description="what blocks the next step, by name")
    next_action: str
    metrics: str
    ambient: AmbientMigration | None = Field(default=None, description=(
        "sidecars to ambient (istio.io docs/ambient/migrate): ztunnel and CNI, waypoints for L7 policy, policies "
        "moved to targetRefs, the namespace label, sidecars removed"))


class NamespaceMTLS(BaseModel):
    namespace: str
    status: Literal["MTLS_ENABLED", "MTLS_PARTIALLY_ENABLED", "MTLS_NOT_ENABLED", "MTLS_DISABLED"]


class MTLSStatus(BaseModel):
    paged_field: ClassVar[str] = "workloads"
    source: str
    mesh: str = Field(description="mesh-wide status, as Kiali computes it")
    namespaces: list[NamespaceMTLS]
    workloads: list[WorkloadMTLS] = Field(description="conflicts first, then uninjected, then not STRICT")
    page: Page
    metrics: str = Field(description="where plaintext shares come from, or why they are unavailable")


def _root(snap: Snapshot) -> tuple[str, bool]:
    """Root namespace and enableAutoMtls from the mesh config."""
    return M.root_and_auto_mtls(snap)


def _prometheus(services: list[dict] | None):  # type: ignore[no-untyped-def]
    from ..metrics import prometheus_for

    return prometheus_for(RUNTIME, services)


def plaintext_shares(namespace: str | None, window: str, services: list[dict] | None = None
                     ) -> tuple[dict[tuple[str, str], float], str]:
    """(namespace, workload) -> share of requests that arrived without mTLS; and where that came from."""
    shares, _, metrics = plaintext_traffic(namespace, window, services, senders=False)
    return shares, metrics


def plaintext_traffic(namespace: str | None, window: str, services: list[dict] | None = None, *, senders: bool = True
                      ) -> tuple[dict[tuple[str, str], float], list[M.Sender], str]:
    """The shares of plaintext per destination workload and, with ``senders``, who sent it: istio_requests_total
    reported by the destination with connection_security_policy="none", by source_workload_namespace and
    source_workload (a sender without a sidecar shows as source_workload "unknown")."""
    from ..metrics import label_value
    from ..metrics.prometheus import window as check_window

    try:
        prom = _prometheus(services)
        sel = 'reporter="destination"' + (f",destination_workload_namespace={label_value(namespace)}"
                                          if namespace else "")
        w = check_window(window)
        q = (f"sum by (destination_workload_namespace, destination_workload, connection_security_policy) "
             f"(increase(istio_requests_total{{{sel}}}[{w}]))")
        rows = prom.query(q)
        sent = prom.query(f"sum by (source_workload_namespace, source_workload, destination_workload) "
                          f'(increase(istio_requests_total{{{sel},connection_security_policy="none"}}[{w}]))') \
            if senders else []
    except InvalidInput:  # the configured Prometheus URL is malformed: say so, do not hide it
        raise
    except MeshError as e:
        return {}, [], f"metrics unavailable: {e}"
    totals: dict[tuple[str, str], list[float]] = {}
    for labels, v in rows:
        key = (labels.get("destination_workload_namespace", ""), labels.get("destination_workload", ""))
        t = totals.setdefault(key, [0.0, 0.0])
        t[0] += v
        if labels.get("connection_security_policy") == "none":
            t[1] += v
    shares = {k: (plain / total if total else 0.0) for k, (total, plain) in totals.items()}
    who = [(labels.get("source_workload_namespace", ""), labels.get("source_workload", ""),
            labels.get("destination_workload", ""), v) for labels, v in sent if v > 0]
    return shares, who, f"Prometheus at {prom.where}, istio_requests_total over {window}"


def _severity(w: M.WorkloadMTLS) -> tuple:
    meshed = w.injected or w.data_plane in M.AMBIENT_MODES
    return (not w.conflicts, meshed, w.mode == "STRICT", -(w.plaintext_share or 0), w.namespace, w.workload)


def render_mtls(r: MTLSStatus) -> str:
    out = [f"Mesh: {r.mesh}"]
    out.append(table(["NAMESPACE", "STATUS"], [[n.namespace, n.status] for n in r.namespaces]))
    out.append("")
    rows = [[w.namespace, w.workload, w.mode, ",".join(f"{p}:{m}" for p, m in w.ports.items()) or "-", w.policy,
             "NONE" if w.data_plane == "none" else w.data_plane,
             "-" if w.plaintext_share is None else f"{w.plaintext_share:.0%}",
             "; ".join(w.conflicts) or ""] for w in r.workloads]
    out.append(table(["NAMESPACE", "WORKLOAD", "MODE", "PORTS", "POLICY", "DATA PLANE", "PLAINTEXT", "CONFLICTS"],
                     rows) + note(r.page))
    out.append(f"Metrics: {r.metrics}")
    return "\n".join(out)


@op("security_status", "mtls", cli="mtls", render=render_mtls)
def mtls_status(namespace: OptNamespace = None,
                workload: Annotated[str | None, Field(max_length=253, description="one workload only")] = None,
                files: Files = None, window: Window = "1h",
                limit: Limit = 25, offset: Offset = 0) -> MTLSStatus:
    """Effective mTLS per workload and port, the deciding policy, client TLS, conflicts.

    What is actually encrypted: for every workload and port, the effective server mTLS mode (STRICT,
    PERMISSIVE, DISABLE) and the PeerAuthentication that decides it (Istio's precedence: mesh < namespace <
    workload < port; oldest wins; UNSET inherits; default PERMISSIVE), the data plane (sidecar, or ambient:
    HBONE through ztunnel, with PeerAuthentication as istiod converts it for ztunnel deciding plaintext), what
    clients send (auto-mTLS, or the DestinationRule TLS mode per port and subset; HBONE to ambient pods),
    conflicts that break traffic, and, where Prometheus answers, the share of requests that arrived in
    plaintext. Namespace and mesh status as Kiali shows them. Use mtls_migration_plan before going STRICT."""
    scoped = namespace if namespace and not files else None  # a namespace question reads that namespace (issue 23)
    snap = RUNTIME.snapshot(MTLS_KINDS, None, files, scoped=scoped)
    if namespace and namespace not in snap.namespaces():
        if files:
            raise NotFound(f"Namespace {namespace!r} is not in the files.", hint="check -n against the manifests.")
        RUNTIME.require_namespace(namespace)
    root, auto = _root(snap)
    wls = M.mesh_workload_sidecars(snap, namespace, root, workload)
    if workload:
        if not wls:
            raise NotFound(f"No workload {workload!r}" + (f" in namespace {namespace!r}" if namespace else "") + ".",
                           hint="list workloads with list_workloads.")
    rows = M.mtls_rows(snap, wls, root, auto)
    if files:
        metrics = "metrics unavailable: offline mode (files)"
    else:
        shares, metrics = plaintext_shares(namespace, window, None if scoped else snap.of("Service"))
        for r in rows:
            r.plaintext_share = shares.get((r.namespace, r.workload))
    rows.sort(key=_severity)
    shown, pg = page(rows, limit, offset, "workloads", "namespace= or workload=")
    names = [namespace] if namespace else [n for n in snap.namespaces() if n != root and n not in (
        "kube-system", "kube-public", "kube-node-lease")]
    return MTLSStatus(source=snap.source, mesh=M.mesh_status(snap, root, auto),
                      namespaces=[NamespaceMTLS(namespace=n, status=M.namespace_status(snap, n, root, auto))  # type: ignore[arg-type]
                                  for n in names][:50],
                      workloads=[WorkloadMTLS.model_validate(w, from_attributes=True) for w in shown], page=pg,
                      metrics=metrics)


def render_plan(p: MigrationPlan) -> str:
    mark = {True: "done", False: "TODO", None: "unknown"}
    rows = [[s.step, s.name, mark[s.done], s.detail] for s in p.steps]
    out = [f"mTLS migration of namespace {p.namespace}: at step {min(p.current_step, 5)}"
           + (" (finished)" if p.current_step == 6 else ""), p.strict,
           table(["STEP", "WHAT", "STATE", "DETAIL"], rows)]
    if p.blockers:
        out.append("Blockers:")
        out += [f"  - {b}" for b in p.blockers]
    out.append(f"Next: {p.next_action}")
    a = p.ambient
    if a is not None:
        out += ["", f"Sidecars to ambient: at step {min(a.current_step, 6)}" + (" (finished)" if a.current_step == 7
                                                                                else ""),
                table(["STEP", "WHAT", "STATE", "DETAIL"], [[s.step, s.name, mark[s.done], s.detail] for s in a.steps])]
        if a.blockers:
            out.append("Blockers:")
            out += [f"  - {b}" for b in a.blockers]
        out.append(f"Next: {a.next_action}")
    return "\n".join(out)


@op("security_status", "mtls_plan", cli="mtls-plan", args="namespace", render=render_plan)
def mtls_migration_plan(namespace: Namespace, files: Files = None,
                        window: Window = "1h") -> MigrationPlan:
    """Steps to STRICT, and from sidecars to ambient, for a namespace; what blocks the next one.

    Where a namespace is on the path to STRICT mTLS, as the plugin teaches it: 1 deploy, 2 PERMISSIVE,
    3 every pod in the mesh (sidecar or ambient), 4 STRICT, 5 no plaintext traffic; and whether STRICT is
    already in place. Says the current step and what blocks the next one by name: pods outside the mesh and
    why (an opt-out, a missing namespace label), DestinationRules that disable TLS toward the namespace,
    plaintext senders by source workload (istio_requests_total when Prometheus answers, else 'unknown').
    For Istio, also the move from sidecars to ambient (istio.io docs/ambient/migrate): ztunnel and istio-cni,
    waypoints where L7 policy needs one, L7 policies moved to targetRefs, the namespace label, sidecars
    removed; its blockers are what the mesh.ambient analyzers find on the namespace as it will be after the
    move (e.g. a selector ALLOW with only HTTP rules that would deny every connection at ztunnel)."""
    snap = _plan_snapshot(namespace, files)
    if namespace not in snap.namespaces():
        if files:
            raise NotFound(f"Namespace {namespace!r} is not in the files.")
        RUNTIME.require_namespace(namespace)
    if files:
        shares, senders, metrics, ok = {}, [], "metrics unavailable: offline mode (files)", False
    else:
        shares, senders, metrics = plaintext_traffic(namespace, window)
        ok = not metrics.startswith("metrics unavailable")
    from ..mesh.detect import detect_meshes

    istio = files is not None or any(m.mesh == "istio" for m in detect_meshes(snap))
    return MigrationPlan.model_validate(build_plan(snap, namespace, shares, metrics, ok, senders, ambient_plan=istio),
                                        from_attributes=True)


def _plan_snapshot(namespace: str, files: list[str] | None) -> Snapshot:
    """What the plan reads: the namespace (issue 23: its pods, Services and controllers; policies there and in the
    root namespace; routes and Gateways whole), plus the root namespace's pods, DaemonSets and ConfigMaps, where
    istiod, ztunnel and istio-cni (and its ConfigMap) live."""
    if files:
        return RUNTIME.snapshot(PLAN_KINDS, None, files)
    snap = RUNTIME.snapshot(PLAN_KINDS, None, None, scoped=namespace)
    root = M.root_and_auto_mtls(snap)[0]
    if root == namespace:
        return snap
    extra = RUNTIME.snapshot(("Pod", "DaemonSet", "ConfigMap"), root)
    objects = dict(snap.objects)
    for key in ("Pod", "DaemonSet", "ConfigMap"):
        have = {(o.get("metadata") or {}).get("namespace", "") + "/" + name_of(o) for o in snap.of(key)}
        objects[key] = [*snap.of(key), *(o for o in extra.of(key)
                                         if (o.get("metadata") or {}).get("namespace", "") + "/" + name_of(o)
                                         not in have)]
    return Snapshot(objects=objects, absent=snap.absent | extra.absent, source=snap.source, namespace=snap.namespace)


def _workload_selector(snap: Snapshot, namespace: str, workload: str) -> tuple[dict[str, str], list[int]]:
    found = M.workload_selector(snap, namespace, workload)
    if found is not None:
        return found
    names = sorted({w.name for w in workloads(snap, namespace)})
    raise NotFound(f"No workload {workload!r} in namespace {namespace!r}.",
                   hint=f"use one of: {', '.join(names[:20]) or '(none)'}.")


@op("security_change", "mtls_mode", cli="mtls-set", args="namespace mode", render=render_change)
def set_mtls_mode(namespace: Namespace,
                  mode: Annotated[Literal["STRICT", "PERMISSIVE", "DISABLE", "UNSET"], Field(
                      description="PeerAuthentication mode")],
                  workload: Annotated[str | None, Field(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                                                        description="one workload only")] = None,
                  port: Annotated[int | None, Field(ge=1, le=65535, description=(
                      "one container port of the workload"))] = None,
                  apply: Apply = False, force: Force = False, confirm: Confirm = None,
                  ) -> ChangeResult:
    """Set PeerAuthentication mode for a namespace, workload or port (refuses STRICT with blockers).

    Set the PeerAuthentication mode of a namespace, a workload, or one port of a workload. A write on the
    shared change path: validated, server-side dry-run and diff by default; apply=true applies with a
    resourceVersion precondition and returns a rollback handle (rollback_change). Refuses STRICT while the
    migration plan shows blockers (pods without sidecar, DestinationRules disabling TLS, plaintext
    clients) unless force=true; warns loudly on DISABLE."""
    if port is not None and not workload:
        raise InvalidInput("portLevelMtls needs a workload selector.", hint="pass workload= with port=.")
    snap = RUNTIME.snapshot(MTLS_KINDS, None, None, fresh=True)
    if namespace not in snap.namespaces():
        RUNTIME.require_namespace(namespace)
    root, _ = _root(snap)
    warnings: list[str] = []
    pas = snap.of("PeerAuthentication", namespace)
    if workload:
        selector, ports = _workload_selector(snap, namespace, workload)
        if port is not None and port not in ports:
            raise InvalidInput(f"Workload {namespace}/{workload} does not expose port {port}.",
                               hint=f"use one of its container ports: {', '.join(map(str, ports)) or '(none)'}.")
        existing = next((p for p in pas if ((p.get("spec") or {}).get("selector") or {}).get("matchLabels") == selector),
                        None)
        name = name_of(existing) if existing else f"{workload}-mtls"
        desired = _desired(existing, name, namespace)
        desired["spec"]["selector"] = {"matchLabels": selector}
        if port is not None:
            desired["spec"].setdefault("portLevelMtls", {})[str(port)] = {"mode": mode}
            desired["spec"].setdefault("mtls", {"mode": "UNSET"})
        else:
            desired["spec"]["mtls"] = {"mode": mode}
        scope = f"workload {namespace}/{workload}" + (f" port {port}" if port else "")
    else:
        existing = M._oldest([p for p in pas if not ((p.get("spec") or {}).get("selector") or {})])
        desired = _desired(existing, name_of(existing) if existing else "default", namespace)
        desired["spec"]["mtls"] = {"mode": mode}
        scope = "the whole mesh" if namespace == root else f"namespace {namespace}"
    if mode == "STRICT":
        uninjected, disabling = strict_blockers(snap, namespace, root,
                                                desired["spec"]["selector"]["matchLabels"] if workload else None)
        shares, senders, metrics = plaintext_traffic(namespace, "1h")
        plain = [M.sender_text(x) for x in senders if not workload or x[2] == workload] or \
            [f"{wl} ({s:.0%})" for (ns, wl), s in shares.items() if ns == namespace and s > 0
             and (not workload or wl == workload)]
        blockers = [f"pod outside the mesh: {p}" for p in uninjected] + \
                   [f"DestinationRule {d} disables TLS toward {namespace}" for d in disabling] + \
                   [f"plaintext client: {p}" for p in plain]
        if metrics.startswith("metrics unavailable"):
            warnings.append(f"could not check for plaintext traffic ({metrics})")
        if blockers and not force:
            raise InvalidInput("Refusing STRICT for " + scope + ": " + "; ".join(blockers[:10]) + ".",
                               hint="clear the blockers (mtls_migration_plan lists them), or pass force=true to "
                                    "accept that these clients will fail.")
        if blockers:
            warnings.append("forced despite blockers: " + "; ".join(blockers[:10]))
    if mode == "DISABLE":
        warnings.append(f"DISABLE turns mTLS OFF for {scope}: traffic is plaintext and unauthenticated, and "
                        "AuthorizationPolicies that use principals or namespaces will deny it")
    client = RUNTIME.client()
    plan = plan_change(client, KINDS["PeerAuthentication"], desired)
    plan.warnings = warnings
    return execute(client, plan, apply=apply, confirm=confirm, note=f"set mTLS {mode} for {scope}")


def _desired(existing: dict | None, name: str, namespace: str) -> dict:
    import copy

    if existing is not None:
        d = copy.deepcopy(existing)
        d.setdefault("spec", {})
        return d
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace}, "spec": {}}
