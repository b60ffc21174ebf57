"""Effective server-side mTLS mode per workload and port, following Istio's PeerAuthentication precedence.

Levels: mesh (root namespace, no selector) < namespace (no selector) < workload (selector, not in
the root namespace) < port (``portLevelMtls`` of the workload policy). Several policies at one
level: the oldest wins (creation time, then name: ``pilot/pkg/model/config.go`` sortConfigByCreationTime).
``UNSET`` inherits from the level above; nothing set anywhere is PERMISSIVE
(``pilot/pkg/security/authn/policy_applier.go`` ComposePeerAuthentication). Every port of a workload gets the
mode of its ``portLevelMtls`` entry, else the workload's mode: service target ports through their filter
chains, other ports through the passthrough chains (``pilot/pkg/networking/plugin/authn`` ForPassthrough).

Also the per-workload view (:func:`workload_mtls`), the namespace migration plan (:func:`build_plan`) and the
mesh config (:func:`mesh_config`). Pure functions over a Snapshot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from .workloads import WorkloadInfo, is_running, sidecar_of, workloads

MODES = ("STRICT", "PERMISSIVE", "DISABLE")


@dataclass(frozen=True)
class Effective:
    mode: str
    policy: str      # "ns/name" or "default"
    level: str       # mesh, namespace, workload, port, default


def _created(p: dict) -> str:
    """The creation time as a sortable string; an object without one (a file not applied yet) is the newest."""
    return str((p.get("metadata") or {}).get("creationTimestamp") or "9999-12-31T23:59:59Z")


def _oldest(policies: list[dict]) -> dict | None:
    return min(policies, key=lambda p: (_created(p), name_of(p), ns_of(p))) if policies else None


def _mode(policy: dict | None) -> str | None:
    if policy is None:
        return None
    m = str((((policy.get("spec") or {}).get("mtls")) or {}).get("mode") or "UNSET").upper()
    return m if m in MODES else None


def _selector(policy: dict) -> dict[str, str]:
    return ((policy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def effective_mode(snap: Snapshot, namespace: str, labels: dict[str, str], port: int | None = None,
                   root_namespace: str = "istio-system") -> Effective:
    mesh = _oldest([p for p in snap.of("PeerAuthentication", root_namespace) if not _selector(p)])
    local = snap.of("PeerAuthentication", namespace) if namespace != root_namespace else []
    ns_pol = _oldest([p for p in local if not _selector(p)])
    wl = _oldest([p for p in local if _selector(p) and all(labels.get(k) == v for k, v in _selector(p).items())])
    result = Effective("PERMISSIVE", "default", "default")
    for level, pol in (("mesh", mesh), ("namespace", ns_pol), ("workload", wl)):
        m = _mode(pol)
        if m and pol is not None:
            result = Effective(m, f"{ns_of(pol)}/{name_of(pol)}", level)
    if wl is not None and port is not None:
        plm = ((wl.get("spec") or {}).get("portLevelMtls") or {})
        entry = plm.get(str(port)) if str(port) in plm else plm.get(port)  # type: ignore[call-overload]
        m = str((entry or {}).get("mode") or "UNSET").upper()
        if m in MODES:
            result = Effective(m, f"{ns_of(wl)}/{name_of(wl)}", "port")
    return result


def pod_effective_mode(snap: Snapshot, pod: dict, port: int | None = None,
                       root_namespace: str = "istio-system") -> Effective:
    return effective_mode(snap, ns_of(pod), labels_of(pod), port, root_namespace)


# -- client side: what callers send ------------------------------------------------------------
def _fqdn(host: str, ns: str) -> str:
    return host if (not host or "." in host or "*" in host) else f"{host}.{ns}.svc.cluster.local"


def _host_match(pattern: str, host: str) -> bool:
    return pattern == host or pattern == "*" or (pattern.startswith("*") and host.endswith(pattern[1:]))


def destination_rule_for(snap: Snapshot, host: str, client_ns: str | None = None,
                         root_namespace: str = "istio-system") -> dict | None:
    """The DestinationRule that applies to ``host`` (pilot/pkg/model/push_context.go destinationRule): the client's
    namespace, then the host's, then the root namespace; in each, the most specific host wins (an exact host,
    else the longest wildcard), then the oldest."""
    host_ns = host.split(".")[1] if host.count(".") >= 2 else None
    order = [n for n in (client_ns, host_ns, root_namespace) if n]
    for ns in dict.fromkeys(order):
        candidates = [dr for dr in snap.of("DestinationRule", ns)
                      if _host_match(_fqdn(str((dr.get("spec") or {}).get("host") or ""), ns), host)]
        if candidates:
            def specificity(dr: dict, ns: str = ns) -> tuple:
                h = _fqdn(str((dr.get("spec") or {}).get("host") or ""), ns)
                return (h != host, -len(h))

            best = min(specificity(dr) for dr in candidates)
            return _oldest([dr for dr in candidates if specificity(dr) == best])
    return None


def client_tls_mode(dr: dict | None, port: int | None, subset_labels: dict[str, str] | None = None,
                    pod_labels: dict[str, str] | None = None) -> tuple[str, str]:
    """(mode, where) a client uses toward a port: subset, port-level, DR-level setting, or auto."""
    if dr is None:
        return "AUTO", "auto-mTLS"
    spec = dr.get("spec") or {}

    def from_policy(tp: dict) -> str | None:
        for pls in tp.get("portLevelSettings") or []:
            if port is not None and int((pls.get("port") or {}).get("number") or -1) == int(port) \
                    and (pls.get("tls") or {}).get("mode"):
                return str(pls["tls"]["mode"])
        return (tp.get("tls") or {}).get("mode")

    name = f"{ns_of(dr)}/{name_of(dr)}"
    for s in spec.get("subsets") or []:
        labels = s.get("labels") or {}
        if pod_labels is not None and labels and all(pod_labels.get(k) == v for k, v in labels.items()):
            m = from_policy(s.get("trafficPolicy") or {})
            if m:
                return m, f"{name} subset {s.get('name')}"
    m = from_policy(spec.get("trafficPolicy") or {})
    return (m, name) if m else ("AUTO", "auto-mTLS")


def effective_client(mode: str, server_injected: bool, auto_mtls: bool = True, server_ns_mode: str | None = None) -> str:
    """What the client really sends: ISTIO_MUTUAL/MUTUAL/SIMPLE (TLS) or plaintext. Auto mTLS sends plaintext
    to a namespace (or mesh) whose PeerAuthentication is DISABLE (BestEffortInferServiceMTLSMode)."""
    if mode == "AUTO":
        return "mTLS" if (auto_mtls and server_injected and server_ns_mode != "DISABLE") else "plaintext"
    return {"ISTIO_MUTUAL": "mTLS", "MUTUAL": "TLS (MUTUAL)", "SIMPLE": "TLS (SIMPLE)", "DISABLE": "plaintext"}.get(
        mode, mode)


def conflicts_for(server_mode: str, injected: bool, client_mode: str, where: str, port: int | None) -> list[str]:
    at = f" on port {port}" if port is not None else ""
    out = []
    if client_mode == "DISABLE" and server_mode == "STRICT" and injected:
        out.append(f"{where} sends plaintext (tls DISABLE){at} but the server requires STRICT mTLS: requests fail")
    if client_mode == "ISTIO_MUTUAL" and not injected:
        out.append(f"{where} sends ISTIO_MUTUAL{at} to a workload without a sidecar: the TLS handshake fails")
    if client_mode in ("SIMPLE", "MUTUAL") and injected and server_mode == "STRICT":
        out.append(f"{where} originates its own TLS ({client_mode}){at} to a STRICT sidecar: the sidecar expects "
                   "Istio mTLS")
    return out


# -- namespace and mesh status (Kiali's states) --------------------------------------------------
def _level_pa_mode(snap: Snapshot, ns: str) -> str:
    pol = _oldest([p for p in snap.of("PeerAuthentication", ns) if not _selector(p)])
    return _mode(pol) or "" if pol else ""


def _level_dr_status(snap: Snapshot, ns: str, hosts: tuple[str, ...]) -> str:
    for dr in snap.of("DestinationRule", ns):
        host = str((dr.get("spec") or {}).get("host") or "")
        if host in hosts:
            mode = (((dr.get("spec") or {}).get("trafficPolicy") or {}).get("tls") or {}).get("mode")
            if mode == "ISTIO_MUTUAL":
                return "mTLS"
            if mode == "DISABLE":
                return "DISABLE"
    return ""


def kiali_status(pa_mode: str, dr_status: str, auto_mtls: bool = True) -> str:
    enabled = dr_status == "mTLS" or (dr_status == "" and auto_mtls)
    disabled = dr_status == "DISABLE" or (dr_status == "" and auto_mtls)
    if pa_mode == "STRICT" and enabled:
        return "MTLS_ENABLED"
    if pa_mode == "DISABLE" and disabled:
        return "MTLS_DISABLED"
    if pa_mode == "" and dr_status == "":
        return "MTLS_NOT_ENABLED"
    return "MTLS_PARTIALLY_ENABLED"


def namespace_status(snap: Snapshot, ns: str, root_namespace: str = "istio-system", auto_mtls: bool = True) -> str:
    pa = _level_pa_mode(snap, ns) if ns != root_namespace else ""
    dr = _level_dr_status(snap, ns, (f"*.{ns}.svc.cluster.local",))
    if not pa:
        pa = _level_pa_mode(snap, root_namespace)
    if not dr:
        dr = _level_dr_status(snap, root_namespace, ("*.local", "*"))
    return kiali_status(pa, dr, auto_mtls)


def mesh_status(snap: Snapshot, root_namespace: str = "istio-system", auto_mtls: bool = True) -> str:
    return kiali_status(_level_pa_mode(snap, root_namespace),
                        _level_dr_status(snap, root_namespace, ("*.local", "*")), auto_mtls)


# -- the mesh config ----------------------------------------------------------------------------------
def mesh_config(snap: Snapshot) -> dict[str, Any]:
    """The mesh config (``data.mesh`` of the ConfigMap ``istio``, in the root namespace when there are several),
    or {} when there is none: Istio's defaults then apply."""
    import yaml

    found: list[tuple[int, dict]] = []
    for cm in snap.of("ConfigMap"):
        if name_of(cm) != "istio":
            continue
        try:
            mesh = yaml.safe_load((cm.get("data") or {}).get("mesh") or "") or {}
        except yaml.YAMLError:
            continue
        if isinstance(mesh, dict):
            found.append((0 if ns_of(cm) == str(mesh.get("rootNamespace") or "istio-system") else 1, mesh))
    return min(found, key=lambda x: x[0])[1] if found else {}


def root_and_auto_mtls(snap: Snapshot) -> tuple[str, bool]:
    """Root namespace and enableAutoMtls from the mesh config."""
    mesh = mesh_config(snap)
    return str(mesh.get("rootNamespace") or "istio-system"), bool(mesh.get("enableAutoMtls", True))


def trust_domains(snap: Snapshot) -> list[str]:
    """The mesh's trust domain then its trustDomainAliases (trustdomain.NewBundle's order)."""
    mesh = mesh_config(snap)
    return [str(mesh.get("trustDomain") or "cluster.local")] + [str(a) for a in mesh.get("trustDomainAliases") or []]


# -- per workload ---------------------------------------------------------------------------------------
class WorkloadMTLS(BaseModel):
    namespace: str
    workload: str
    kind: str
    mode: str = Field(description="effective server mode for the workload: STRICT, PERMISSIVE or DISABLE")
    ports: dict[str, str] = Field(description="port -> effective mode, for every container port, service target "
                                              "port and portLevelMtls port of the workload")
    policy: str = Field(description='the PeerAuthentication that decides it ("ns/name") or "default"')
    level: str = Field(description="mesh, namespace, workload, port or default")
    injected: bool
    clients: dict[str, str] = Field(default={}, description='"service:port" -> what clients send, and why')
    conflicts: list[str] = []
    plaintext_share: float | None = Field(default=None, description="share of requests without mTLS in the window")


def workload_labels(w: WorkloadInfo) -> dict[str, str]:
    return labels_of(w.pods[0]) if w.pods else labels_of(w.template or {})


def _pod_spec(w: WorkloadInfo) -> dict:
    return ((w.pods[0].get("spec") if w.pods else ((w.template or {}).get("spec"))) or {})


def container_ports(w: WorkloadInfo) -> list[int]:
    ports = []
    for c in _pod_spec(w).get("containers") or []:
        if c.get("name") in ("istio-proxy", "linkerd-proxy"):
            continue
        ports += [int(p["containerPort"]) for p in c.get("ports") or [] if str(p.get("containerPort", "")).isdigit()]
    return sorted(set(ports))


def services_for(snap: Snapshot, ns: str, labels: dict[str, str]) -> list[dict]:
    out = []
    for svc in snap.of("Service", ns):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            out.append(svc)
    return out


def target_port(sp: dict, pod_spec: dict) -> int | None:
    """The workload port a Service port sends to: a number, or a named container port resolved on the pod
    (None when the name matches no container port: Istio builds no chain for it)."""
    tp = sp.get("targetPort", sp.get("port"))
    if tp is None:
        return None
    if isinstance(tp, int) or str(tp).isdigit():
        return int(tp)
    for c in pod_spec.get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp and str(p.get("containerPort", "")).isdigit() and \
                    str(p.get("protocol") or "TCP") == str(sp.get("protocol") or "TCP"):
                return int(p["containerPort"])
    return None


def workload_policy(snap: Snapshot, namespace: str, labels: dict[str, str], root: str) -> dict | None:
    """The workload-level PeerAuthentication that applies (the oldest), or None."""
    if namespace == root:
        return None
    return _oldest([p for p in snap.of("PeerAuthentication", namespace)
                    if _selector(p) and all(labels.get(k) == v for k, v in _selector(p).items())])


def workload_ports(snap: Snapshot, w: WorkloadInfo, root: str) -> list[int]:
    """Container ports, service target ports and the portLevelMtls ports of the workload's policy: every port
    for which istiod builds an inbound filter chain or that a container declares."""
    labels = workload_labels(w)
    ports = set(container_ports(w))
    spec = _pod_spec(w)
    for svc in services_for(snap, w.namespace, labels):
        for sp in (svc.get("spec") or {}).get("ports") or []:
            t = target_port(sp, spec)
            if t:
                ports.add(t)
    wl = workload_policy(snap, w.namespace, labels, root)
    for key in ((wl or {}).get("spec") or {}).get("portLevelMtls") or {}:
        if str(key).isdigit():
            ports.add(int(key))
    return sorted(ports)


def workload_mtls(snap: Snapshot, w: WorkloadInfo, root: str, auto_mtls: bool) -> WorkloadMTLS:
    labels = workload_labels(w)
    injected = w.sidecar == "istio"
    eff = effective_mode(snap, w.namespace, labels, None, root)
    ports = {str(p): effective_mode(snap, w.namespace, labels, p, root).mode for p in workload_ports(snap, w, root)}
    clients: dict[str, str] = {}
    conflicts: list[str] = []
    spec = _pod_spec(w)
    ns_mode = namespace_mode(snap, w.namespace, root)
    for svc in services_for(snap, w.namespace, labels):
        host = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        dr = destination_rule_for(snap, host, None, root)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            port = int(sp.get("port") or 0)
            target = target_port(sp, spec) or port
            mode, where = client_tls_mode(dr, port, None, labels)
            sent = effective_client(mode, injected, auto_mtls, ns_mode)
            clients[f"{name_of(svc)}:{port}"] = f"{sent} ({where})"
            server = effective_mode(snap, w.namespace, labels, target, root).mode
            conflicts += conflicts_for(server, injected, mode, where, port)
    return WorkloadMTLS(namespace=w.namespace, workload=w.name, kind=w.kind, mode=eff.mode, ports=ports,
                        policy=eff.policy, level=eff.level, injected=injected, clients=clients,
                        conflicts=sorted(set(conflicts)))


def namespace_mode(snap: Snapshot, namespace: str, root: str) -> str | None:
    """The namespace-level mode, else the mesh-level one (UNSET and none: None), as auto mTLS reads it
    (pilot/pkg/model/push_context.go BestEffortInferServiceMTLSMode)."""
    for ns in ([namespace] if namespace != root else []) + [root]:
        m = _mode(_oldest([p for p in snap.of("PeerAuthentication", ns) if not _selector(p)]))
        if m:
            return m
    return None


def mesh_workloads(snap: Snapshot, namespace: str | None, root: str, workload: str | None = None
                   ) -> list[WorkloadInfo]:
    wls = [w for w in workloads(snap, namespace) if w.namespace != root and w.sidecar != "istio-gateway"]
    if workload:
        wls = [w for w in wls if w.name == workload]
    return wls


# -- the migration plan to STRICT -------------------------------------------------------------------------
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
                 for svc in services_for(snap, namespace, labels_of(p))}
    disabling = []
    for dr in snap.of("DestinationRule"):
        host = _fqdn(str((dr.get("spec") or {}).get("host") or ""), ns_of(dr))
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
    root, auto = root_and_auto_mtls(snap)
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


def workload_selector(snap: Snapshot, namespace: str, workload: str) -> tuple[dict[str, str], list[int]] | None:
    """(the selector a workload-level PeerAuthentication uses, its container ports), or None when unknown."""
    for w in workloads(snap, namespace):
        if w.name == workload:
            sel = None
            for kind in ("Deployment", "StatefulSet", "DaemonSet"):
                obj = snap.get(kind, workload, namespace)
                if obj is not None:
                    sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
            if not sel:
                labels = workload_labels(w)
                sel = {k: labels[k] for k in ("app", "app.kubernetes.io/name") if k in labels} or labels
            return dict(sel), container_ports(w)
    return None


