"""mTLS: effective status per workload and port, the migration plan to STRICT, and set_mtls_mode."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from ..changes.path import ChangeResult, execute, plan_change
from ..errors import InvalidInput, MeshError, NotFound
from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import mtls as M
from ..mesh.overview import page
from ..mesh.workloads import WorkloadInfo, is_running, sidecar_of, workloads
from ..models import Page
from ..render import render_change, note, table
from ..runtime import RUNTIME
from .registry import Apply, Confirm, Files, Force, Limit, Namespace, Offset, OptNamespace, Window, op

MTLS_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "PeerAuthentication",
              "DestinationRule", "ConfigMap")


class WorkloadMTLS(BaseModel):
    namespace: str
    workload: str
    kind: str
    mode: str = Field(description="effective server mode for the workload: STRICT, PERMISSIVE or DISABLE")
    ports: dict[str, str] = Field(description="container port -> effective mode")
    policy: str = Field(description='the PeerAuthentication that decides it ("ns/name") or "default"')
    level: str = Field(description="mesh, namespace, workload, port or default")
    injected: bool
    clients: dict[str, str] = Field(default={}, description='"service:port" -> what clients send, and why')
    conflicts: list[str] = []
    plaintext_share: float | None = Field(default=None, description="share of requests without mTLS in the window")


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
    import yaml

    for cm in snap.of("ConfigMap"):
        if name_of(cm) == "istio":
            try:
                mesh = yaml.safe_load((cm.get("data") or {}).get("mesh") or "") or {}
            except yaml.YAMLError:
                continue
            return str(mesh.get("rootNamespace") or "istio-system"), bool(mesh.get("enableAutoMtls", True))
    return "istio-system", True


def _labels(w: WorkloadInfo) -> dict[str, str]:
    return labels_of(w.pods[0]) if w.pods else labels_of(w.template or {})


def _container_ports(w: WorkloadInfo) -> list[int]:
    src = (w.pods[0].get("spec") if w.pods else ((w.template or {}).get("spec"))) or {}
    ports = []
    for c in src.get("containers") or []:
        if c.get("name") in ("istio-proxy", "linkerd-proxy"):
            continue
        ports += [int(p["containerPort"]) for p in c.get("ports") or [] if p.get("containerPort")]
    return sorted(set(ports))


def _services_for(snap: Snapshot, ns: str, labels: dict[str, str]) -> list[dict]:
    out = []
    for svc in snap.of("Service", ns):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            out.append(svc)
    return out


def workload_mtls(snap: Snapshot, w: WorkloadInfo, root: str, auto_mtls: bool) -> WorkloadMTLS:
    labels = _labels(w)
    injected = w.sidecar == "istio"
    eff = M.effective_mode(snap, w.namespace, labels, None, root)
    ports: dict[str, str] = {}
    for p in _container_ports(w):
        ports[str(p)] = M.effective_mode(snap, w.namespace, labels, p, root).mode
    clients: dict[str, str] = {}
    conflicts: list[str] = []
    for svc in _services_for(snap, w.namespace, labels):
        host = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        dr = M.destination_rule_for(snap, host, None, root)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            port = int(sp.get("port") or 0)
            tp = sp.get("targetPort", port)
            target = int(tp) if str(tp).isdigit() else port
            mode, where = M.client_tls_mode(dr, port, None, labels)
            clients[f"{name_of(svc)}:{port}"] = f"{M.effective_client(mode, injected, auto_mtls)} ({where})"
            server = M.effective_mode(snap, w.namespace, labels, target, root).mode
            conflicts += M.conflicts_for(server, injected, mode, where, port)
    return WorkloadMTLS(namespace=w.namespace, workload=w.name, kind=w.kind, mode=eff.mode, ports=ports,
                        policy=eff.policy, level=eff.level, injected=injected, clients=clients,
                        conflicts=sorted(set(conflicts)))


def plaintext_shares(namespace: str | None, window: str, services: list[dict] | None = None
                     ) -> tuple[dict[tuple[str, str], float], str]:
    """(namespace, workload) -> share of requests that arrived without mTLS; and where that came from."""
    from ..metrics import label_value, prometheus_for
    from ..metrics.prometheus import window as check_window

    try:
        prom = prometheus_for(RUNTIME, services)
        sel = 'reporter="destination"' + (f",destination_workload_namespace={label_value(namespace)}"
                                          if namespace else "")
        q = (f"sum by (destination_workload_namespace, destination_workload, connection_security_policy) "
             f"(increase(istio_requests_total{{{sel}}}[{check_window(window)}]))")
        rows = prom.query(q)
    except InvalidInput:  # the configured Prometheus URL is malformed: say so, do not hide it
        raise
    except MeshError as e:
        return {}, f"metrics unavailable: {e}"
    totals: dict[tuple[str, str], list[float]] = {}
    for labels, v in rows:
        key = (labels.get("destination_workload_namespace", ""), labels.get("destination_workload", ""))
        t = totals.setdefault(key, [0.0, 0.0])
        t[0] += v
        if labels.get("connection_security_policy") == "none":
            t[1] += v
    shares = {k: (plain / total if total else 0.0) for k, (total, plain) in totals.items()}
    return shares, f"Prometheus at {prom.where}, istio_requests_total over {window}"


def _severity(w: WorkloadMTLS) -> tuple:
    return (not w.conflicts, w.injected, w.mode == "STRICT", -(w.plaintext_share or 0), w.namespace, w.workload)


def render_mtls(r: MTLSStatus) -> str:
    out = [f"Mesh: {r.mesh}"]
    out.append(table(["NAMESPACE", "STATUS"], [[n.namespace, n.status] for n in r.namespaces]))
    out.append("")
    rows = [[w.namespace, w.workload, w.mode, ",".join(f"{p}:{m}" for p, m in w.ports.items()) or "-", w.policy,
             "yes" if w.injected else "NO",
             "-" if w.plaintext_share is None else f"{w.plaintext_share:.0%}",
             "; ".join(w.conflicts) or ""] for w in r.workloads]
    out.append(table(["NAMESPACE", "WORKLOAD", "MODE", "PORTS", "POLICY", "SIDECAR", "PLAINTEXT", "CONFLICTS"],
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
    workload < port; oldest wins; UNSET inherits; default PERMISSIVE), whether a sidecar is injected, what
    clients send (auto-mTLS, or the DestinationRule TLS mode per port and subset), conflicts that break
    traffic, and, where Prometheus answers, the share of requests that arrived in plaintext. Namespace and
    mesh status as Kiali shows them. Use mtls_migration_plan before going STRICT."""
    snap = RUNTIME.snapshot(MTLS_KINDS, None, files)
    if namespace and namespace not in snap.namespaces():
        if files:
            raise NotFound(f"Namespace {namespace!r} is not in the files.", hint="check -n against the manifests.")
        RUNTIME.require_namespace(namespace)
    root, auto = _root(snap)
    wls = [w for w in workloads(snap, namespace) if w.namespace != root and w.sidecar != "istio-gateway"]
    if workload:
        wls = [w for w in wls if w.name == workload]
        if not wls:
            raise NotFound(f"No workload {workload!r}" + (f" in namespace {namespace!r}" if namespace else "") + ".",
                           hint="list workloads with list_workloads.")
    rows = [workload_mtls(snap, w, root, auto) for w in wls]
    if files:
        metrics = "metrics unavailable: offline mode (files)"
    else:
        shares, metrics = plaintext_shares(namespace, window, snap.of("Service"))
        for r in rows:
            r.plaintext_share = shares.get((r.namespace, r.workload))
    rows.sort(key=_severity)
    shown, pg = page(rows, limit, offset, "workloads", "namespace= or workload=")
    names = [namespace] if namespace else [n for n in snap.namespaces() if n != root and n not in (
        "kube-system", "kube-public", "kube-node-lease")]
    return MTLSStatus(source=snap.source, mesh=M.mesh_status(snap, root, auto),
                      namespaces=[NamespaceMTLS(namespace=n, status=M.namespace_status(snap, n, root, auto))  # type: ignore[arg-type]
                                  for n in names][:50],
                      workloads=shown, page=pg, metrics=metrics)


class MigrationStep(BaseModel):
    step: int
    name: str
    done: bool | None = Field(description="null when it cannot be verified (e.g. no metrics)")
    detail: str


class MigrationPlan(BaseModel):
    namespace: str
    current_step: int = Field(description="the first step not done (6 = finished)")
    steps: list[MigrationStep]
    blockers: list[str] = Field(description="what blocks the next step, by name")
    next_action: str
    metrics: str


def strict_blockers(snap: Snapshot, namespace: str, root: str, selector: dict[str, str] | None = None
                    ) -> tuple[list[str], list[str]]:
    """(uninjected pods, DestinationRules that send plaintext into the namespace), for the namespace or
    for the workload that ``selector`` picks."""
    pods = [p for p in snap.of("Pod", namespace)
            if selector is None or all(labels_of(p).get(k) == v for k, v in selector.items())]
    uninjected = [name_of(p) for p in pods if is_running(p) and sidecar_of(p) == "none"
                  and not (p.get("spec") or {}).get("hostNetwork")]
    hosts = None
    if selector is not None:
        hosts = {f"{name_of(svc)}.{namespace}.svc.cluster.local" for p in pods[:1]
                 for svc in _services_for(snap, namespace, labels_of(p))}
    disabling = []
    for dr in snap.of("DestinationRule"):
        host = M._fqdn(str((dr.get("spec") or {}).get("host") or ""), ns_of(dr))
        if hosts is not None and host not in hosts and host not in ("*", "*.local",
                                                                     f"*.{namespace}.svc.cluster.local"):
            continue
        if not (host.endswith(f".{namespace}.svc.cluster.local") or host in ("*", "*.local")
                or host == f"*.{namespace}.svc.cluster.local"):
            continue
        tp = (dr.get("spec") or {}).get("trafficPolicy") or {}
        modes = [(tp.get("tls") or {}).get("mode")] + [(p.get("tls") or {}).get("mode") for p in
                                                        tp.get("portLevelSettings") or []]
        modes += [((s.get("trafficPolicy") or {}).get("tls") or {}).get("mode") for s in
                  (dr.get("spec") or {}).get("subsets") or []]
        if "DISABLE" in modes:
            disabling.append(f"{ns_of(dr)}/{name_of(dr)}")
    return sorted(uninjected), sorted(disabling)


def build_plan(snap: Snapshot, namespace: str, shares: dict[tuple[str, str], float], metrics: str,
               metrics_ok: bool) -> MigrationPlan:
    root, auto = _root(snap)
    wls = [w for w in workloads(snap, namespace) if w.sidecar != "istio-gateway"]
    modes = {w.name: workload_mtls(snap, w, root, auto) for w in wls}
    uninjected, disabling = strict_blockers(snap, namespace, root)
    plaintext = sorted(f"{wl} ({share:.0%} plaintext)" for (ns, wl), share in shares.items()
                       if ns == namespace and share > 0)
    not_strict = sorted(f"{w.workload} ({w.mode} by {w.policy})" for w in modes.values() if w.mode != "STRICT" or
                        any(m != "STRICT" for m in w.ports.values()))
    disabled = sorted(w.workload for w in modes.values() if w.mode == "DISABLE")
    steps = [
        MigrationStep(step=1, name="Deploy the workloads", done=bool(wls),
                      detail=f"{len(wls)} workload(s)" if wls else "no workloads in the namespace"),
        MigrationStep(step=2, name="Set PERMISSIVE (accept mTLS and plaintext)", done=not disabled,
                      detail="no workload has DISABLE" if not disabled else f"DISABLE on: {', '.join(disabled)}"),
        MigrationStep(step=3, name="Verify every pod has a sidecar", done=not uninjected,
                      detail="all running pods are injected" if not uninjected else
                      f"{len(uninjected)} pod(s) without a sidecar: {', '.join(uninjected[:10])}"),
        MigrationStep(step=4, name="Set STRICT (mTLS only)", done=not not_strict,
                      detail="every workload and port is STRICT" if not not_strict else
                      f"not STRICT yet: {', '.join(not_strict[:10])}"),
        MigrationStep(step=5, name="Verify no plaintext traffic arrives", done=(not plaintext) if metrics_ok else None,
                      detail=("no plaintext requests in the window" if not plaintext else
                              f"plaintext received by: {', '.join(plaintext[:10])}") if metrics_ok else metrics),
    ]
    current = next((s.step for s in steps if s.done is not True), 6)
    blockers: list[str] = []
    if current <= 2 and disabled:
        blockers += [f"workload {w} is DISABLE" for w in disabled]
    if current <= 4:
        blockers += [f"pod without sidecar: {p}" for p in uninjected]
        blockers += [f"DestinationRule {d} sets tls.mode DISABLE toward this namespace" for d in disabling]
        blockers += [f"plaintext clients: {p}" for p in plaintext]
    elif current == 5:
        blockers += [f"plaintext clients: {p}" for p in plaintext]
    actions = {1: "deploy the workloads", 2: f"set_mtls_mode namespace={namespace} mode=PERMISSIVE",
               3: "inject the listed pods (label the namespace istio-injection=enabled, then kubectl rollout restart)",
               4: f"set_mtls_mode namespace={namespace} mode=STRICT (after clearing the blockers)",
               5: "find and fix the plaintext clients (they have no sidecar or disable TLS)" if metrics_ok else
               "make Prometheus reachable (--prometheus-url) to verify there is no plaintext traffic",
               6: "done: the namespace is STRICT and no plaintext traffic arrives"}
    return MigrationPlan(namespace=namespace, current_step=current, steps=steps, blockers=blockers[:20],
                         next_action=actions[current], metrics=metrics)


def render_plan(p: MigrationPlan) -> str:
    mark = {True: "done", False: "TODO", None: "unknown"}
    rows = [[s.step, s.name, mark[s.done], s.detail] for s in p.steps]
    out = [f"mTLS migration of namespace {p.namespace}: at step {min(p.current_step, 5)}"
           + (" (finished)" if p.current_step == 6 else ""), table(["STEP", "WHAT", "STATE", "DETAIL"], rows)]
    if p.blockers:
        out.append("Blockers:")
        out += [f"  - {b}" for b in p.blockers]
    out.append(f"Next: {p.next_action}")
    return "\n".join(out)


@op("security_status", "mtls_plan", cli="mtls-plan", args="namespace", render=render_plan)
def mtls_migration_plan(namespace: Namespace, files: Files = None,
                        window: Window = "1h") -> MigrationPlan:
    """Steps from PERMISSIVE to STRICT for a namespace, and what blocks the next one.

    Where a namespace is on the path to STRICT mTLS, as the plugin teaches it: 1 deploy, 2 PERMISSIVE,
    3 every pod injected, 4 STRICT, 5 no plaintext traffic. Says the current step and what blocks the
    next one by name: pods without a sidecar, DestinationRules that disable TLS toward the namespace,
    plaintext clients (from istio_requests_total when Prometheus answers, else 'unknown')."""
    snap = RUNTIME.snapshot(MTLS_KINDS, None, files)
    if namespace not in snap.namespaces():
        if files:
            raise NotFound(f"Namespace {namespace!r} is not in the files.")
        RUNTIME.require_namespace(namespace)
    if files:
        shares, metrics, ok = {}, "metrics unavailable: offline mode (files)", False
    else:
        shares, metrics = plaintext_shares(namespace, window)
        ok = not metrics.startswith("metrics unavailable")
    return build_plan(snap, namespace, shares, metrics, ok)


def _workload_selector(snap: Snapshot, namespace: str, workload: str) -> tuple[dict[str, str], list[int]]:
    for w in workloads(snap, namespace):
        if w.name == workload:
            sel = None
            for kind in ("Deployment", "StatefulSet", "DaemonSet"):
                obj = snap.get(kind, workload, namespace)
                if obj is not None:
                    sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
            if not sel:
                labels = _labels(w)
                sel = {k: labels[k] for k in ("app", "app.kubernetes.io/name") if k in labels} or labels
            return dict(sel), _container_ports(w)
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
        shares, metrics = plaintext_shares(namespace, "1h")
        plain = [f"{wl} ({s:.0%})" for (ns, wl), s in shares.items() if ns == namespace and s > 0
                 and (not workload or wl == workload)]
        blockers = [f"pod without sidecar: {p}" for p in uninjected] + \
                   [f"DestinationRule {d} disables TLS toward {namespace}" for d in disabling] + \
                   [f"plaintext clients: {p}" for p in plain]
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
