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

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of
from . import ambient
from .workloads import WorkloadInfo, is_running, namespace_injection, sidecar_of, workloads

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
                   root_namespace: str = "istio-system", index: MtlsIndex | None = None) -> Effective:
    return compose_mode(pa_levels(snap, namespace, labels, root_namespace, index), port)


PALevels = tuple[dict | None, dict | None, dict | None]


def pa_levels(snap: Snapshot, namespace: str, labels: dict[str, str], root_namespace: str = "istio-system",
              index: MtlsIndex | None = None) -> PALevels:
    """The (mesh, namespace, workload) PeerAuthentication that apply, the oldest at each level."""
    if index is not None:
        mesh, ns_pol, selected = index.pa_candidates(namespace, root_namespace)
    else:
        mesh = _oldest([p for p in snap.of("PeerAuthentication", root_namespace) if not _selector(p)])
        local = snap.of("PeerAuthentication", namespace) if namespace != root_namespace else []
        ns_pol = _oldest([p for p in local if not _selector(p)])
        selected = [p for p in local if _selector(p)]
    wl = _oldest([p for p in selected if all(labels.get(k) == v for k, v in _selector(p).items())])
    return mesh, ns_pol, wl


def compose_mode(levels: PALevels, port: int | None = None) -> Effective:
    """Istio's precedence over the levels (UNSET inherits), then the workload policy's portLevelMtls for ``port``."""
    mesh, ns_pol, wl = levels
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
                         root_namespace: str = "istio-system", index: MtlsIndex | None = None) -> dict | None:
    """The DestinationRule that applies to ``host`` (pilot/pkg/model/push_context.go destinationRule): the client's
    namespace, then the host's, then the root namespace; in each, the most specific host wins (an exact host,
    else the longest wildcard), then the oldest. ``index``: the call's MtlsIndex (the rules grouped by host once)."""
    if index is not None:
        return index.destination_rule_for(host, client_ns, root_namespace)
    host_ns = host.split(".")[1] if host.count(".") >= 2 else None
    order = [n for n in (client_ns, host_ns, root_namespace) if n]
    for ns in dict.fromkeys(order):
        candidates = [dr for dr in snap.of("DestinationRule", ns)
                      if _host_match(_fqdn(str((dr.get("spec") or {}).get("host") or ""), ns), host)]
        if candidates:
            return _most_specific(candidates, host, ns)
    return None


def _most_specific(candidates: list[dict], host: str, ns: str) -> dict | None:
    if len(candidates) == 1:
        return candidates[0]
    def specificity(dr: dict) -> tuple:
        h = _fqdn(str((dr.get("spec") or {}).get("host") or ""), ns)
        return (h != host, -len(h))

    best = min(specificity(dr) for dr in candidates)
    return _oldest([dr for dr in candidates if specificity(dr) == best])


class MtlsIndex:
    """What the mTLS answers look up per workload, grouped once per call (issue 23: index once, look up many):
    Services by namespace with their selectors, DestinationRules by namespace and host (exact hosts in a map,
    wildcards in a list), and each (host, client namespace) answer. Same results as the plain functions."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        #: namespace -> (a selector's first label, value) -> [(selector, Service)], in the namespace's order
        self._services: dict[str, dict[tuple[str, str], list[tuple[int, dict[str, str], dict]]]] = {}
        self._rules: dict[str, tuple[dict[str, list[dict]], list[tuple[str, dict]]]] = {}
        self._answers: dict[tuple[str, str | None, str], dict | None] = {}
        self._pas: dict[tuple[str, str], tuple[dict | None, dict | None, list[dict]]] = {}

    def services_for(self, ns: str, labels: dict[str, str]) -> list[dict]:
        by_key = self._services.get(ns)
        if by_key is None:
            by_key = self._services[ns] = {}
            for n, svc in enumerate(self.snap.of("Service", ns)):
                sel = dict((svc.get("spec") or {}).get("selector") or {})
                if sel:  # a Service without a selector selects no pod
                    k = next(iter(sel.items()))
                    by_key.setdefault((str(k[0]), str(k[1])), []).append((n, sel, svc))
        found = [item for kv in labels.items() for item in by_key.get((str(kv[0]), str(kv[1])), ())
                 if all(labels.get(k) == v for k, v in item[1].items())]
        return [svc for _, _, svc in sorted(found, key=lambda x: x[0])]

    def pa_candidates(self, ns: str, root: str) -> tuple[dict | None, dict | None, list[dict]]:
        """(mesh policy, namespace policy, the namespace's selector policies), once per namespace."""
        got = self._pas.get((ns, root))
        if got is None:
            mesh = _oldest([p for p in self.snap.of("PeerAuthentication", root) if not _selector(p)])
            local = self.snap.of("PeerAuthentication", ns) if ns != root else []
            got = self._pas[(ns, root)] = (mesh, _oldest([p for p in local if not _selector(p)]),
                                           [p for p in local if _selector(p)])
        return got

    def _by_host(self, ns: str) -> tuple[dict[str, list[dict]], list[tuple[str, dict]]]:
        got = self._rules.get(ns)
        if got is None:
            exact: dict[str, list[dict]] = {}
            wild: list[tuple[str, dict]] = []
            for dr in self.snap.of("DestinationRule", ns):
                h = _fqdn(str((dr.get("spec") or {}).get("host") or ""), ns)
                if h == "*" or h.startswith("*"):
                    wild.append((h, dr))
                else:
                    exact.setdefault(h, []).append(dr)
            got = self._rules[ns] = (exact, wild)
        return got

    def destination_rule_for(self, host: str, client_ns: str | None, root: str) -> dict | None:
        key = (host, client_ns, root)
        if key in self._answers:
            return self._answers[key]
        host_ns = host.split(".")[1] if host.count(".") >= 2 else None
        found = None
        for ns in dict.fromkeys(n for n in (client_ns, host_ns, root) if n):
            exact, wild = self._by_host(ns)
            candidates = list(exact.get(host, [])) + [dr for h, dr in wild if _host_match(h, host)]
            if candidates:
                found = _most_specific(candidates, host, ns)
                break
        self._answers[key] = found
        return found


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
    or {} when there is none: Istio's defaults then apply (mesh/meshconfig.py reads it)."""
    from .meshconfig import mesh_config_doc

    return mesh_config_doc(snap)


def root_and_auto_mtls(snap: Snapshot) -> tuple[str, bool]:
    """Root namespace and enableAutoMtls from the mesh config."""
    from .meshconfig import root_namespace

    mesh = mesh_config(snap)
    return root_namespace(mesh), bool(mesh.get("enableAutoMtls", True))


def trust_domains(snap: Snapshot) -> list[str]:
    """The mesh's trust domain then its trustDomainAliases (trustdomain.NewBundle's order)."""
    mesh = mesh_config(snap)
    return [str(mesh.get("trustDomain") or "cluster.local")] + [str(a) for a in mesh.get("trustDomainAliases") or []]


# -- per workload ---------------------------------------------------------------------------------------
# a plain record; tools/mtls.py builds its output model from it (Model.model_validate(record, from_attributes=True))
@dataclass(kw_only=True)
class WorkloadMTLS:
    namespace: str
    workload: str
    kind: str
    #: effective server mode for the workload: STRICT, PERMISSIVE or DISABLE; for an ambient workload what ztunnel
    #: does with plaintext (DISABLE acts as PERMISSIVE)
    mode: str
    #: port -> effective mode, for every container port, service target port and portLevelMtls port of the workload
    ports: dict[str, str]
    policy: str  # the PeerAuthentication that decides it ("ns/name") or "default"
    level: str  # mesh, namespace, workload, port or default
    injected: bool
    #: what carries its traffic: sidecar, ambient (ztunnel: HBONE between mesh workloads), ambient-pending, linkerd
    #: or none
    data_plane: str = "none"
    clients: dict[str, str] = field(default_factory=dict)  # "service:port" -> what clients send, and why
    conflicts: list[str] = field(default_factory=list)
    plaintext_share: float | None = None  # share of requests without mTLS in the window
    notes: list[str] = field(default_factory=list)


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


def services_for(snap: Snapshot, ns: str, labels: dict[str, str], index: MtlsIndex | None = None) -> list[dict]:
    if index is not None:
        return index.services_for(ns, labels)
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


_UNSET: Any = object()


def workload_ports(snap: Snapshot, w: WorkloadInfo, root: str, index: MtlsIndex | None = None,
                   wl: dict | None = _UNSET) -> list[int]:
    """Container ports, service target ports and the portLevelMtls ports of the workload's policy (``wl``, when the
    caller has it): every port for which istiod builds an inbound filter chain or that a container declares."""
    labels = workload_labels(w)
    ports = set(container_ports(w))
    spec = _pod_spec(w)
    for svc in services_for(snap, w.namespace, labels, index):
        for sp in (svc.get("spec") or {}).get("ports") or []:
            t = target_port(sp, spec)
            if t:
                ports.add(t)
    if wl is _UNSET:
        wl = workload_policy(snap, w.namespace, labels, root)
    for key in ((wl or {}).get("spec") or {}).get("portLevelMtls") or {}:
        if str(key).isdigit():
            ports.add(int(key))
    return sorted(ports)


AMBIENT_MODES = ("ambient", "ambient-pending")


def data_plane_of(w: WorkloadInfo, ns_obj: dict | None, sidecar: str | None = None) -> str:
    """The data plane of most of the workload's running pods (mesh/ambient.py pod_data_plane): sidecar, ambient,
    ambient-pending, linkerd or none (infrastructure pods: waypoint, ztunnel, gateway). ``sidecar``: w.sidecar,
    when the caller has it."""
    sidecar = w.sidecar if sidecar is None else sidecar
    if sidecar == "istio":
        return "sidecar"
    if sidecar == "linkerd":
        return "linkerd"
    pods = w.running
    if not pods:
        return "none"
    modes = Counter(ambient.pod_data_plane(p, ns_obj).mode for p in pods)
    return max(modes, key=lambda m: (modes[m], m))


def ambient_namespaces(snap: Snapshot) -> list[str]:
    """Namespaces labelled istio.io/dataplane-mode=ambient (Namespace objects are read whole, scoped or not)."""
    return [name_of(n) for n in snap.of("Namespace") if labels_of(n).get(ambient.DATAPLANE_MODE) == ambient.AMBIENT]


def _ports_text(ports: list[str]) -> str:
    return ", ".join(ports[:5]) + (f" and {len(ports) - 5} more" if len(ports) > 5 else "")


def workload_mtls(snap: Snapshot, w: WorkloadInfo, root: str, auto_mtls: bool, index: MtlsIndex | None = None,
                  ns_obj: dict | None = None, ambient_mesh: bool | None = None, sidecar: str | None = None
                  ) -> WorkloadMTLS:
    """One workload's mTLS: a sidecar's PeerAuthentication precedence, or for an ambient workload what ztunnel does
    (HBONE between mesh workloads; PeerAuthentication as istiod converts it for ztunnel decides plaintext)."""
    index = index or MtlsIndex(snap)
    if ns_obj is None:
        ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == w.namespace), None)
    if ambient_mesh is None:
        ambient_mesh = bool(ambient_namespaces(snap))
    labels = workload_labels(w)
    sidecar = w.sidecar if sidecar is None else sidecar
    injected = sidecar == "istio"
    dp = data_plane_of(w, ns_obj, sidecar)
    levels = pa_levels(snap, w.namespace, labels, root, index)
    eff = compose_mode(levels)
    wports = workload_ports(snap, w, root, index, levels[2])
    if dp in AMBIENT_MODES:
        return _ambient_workload(snap, w, root, index, labels, dp, eff, wports)
    ports = {str(p): compose_mode(levels, p).mode for p in wports}
    clients: dict[str, str] = {}
    conflicts: list[str] = []
    notes: list[str] = []
    spec = _pod_spec(w)
    ns_mode = namespace_mode(snap, w.namespace, root)
    for svc in services_for(snap, w.namespace, labels, index):
        host = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        dr = destination_rule_for(snap, host, None, root, index)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            port = int(sp.get("port") or 0)
            target = target_port(sp, spec) or port
            mode, where = client_tls_mode(dr, port, None, labels)
            sent = effective_client(mode, injected, auto_mtls, ns_mode)
            clients[f"{name_of(svc)}:{port}"] = f"{sent} ({where})"
            server = compose_mode(levels, target).mode
            conflicts += conflicts_for(server, injected, mode, where, port)
    strict = [p for p, m in ports.items() if m == "STRICT"]
    if injected and ambient_mesh and strict and labels.get(ambient.TUNNEL_LABEL) != "http":
        # ztunnel sends HBONE only to workloads it lists as HBONE (captured pods, sidecars with
        # networking.istio.io/tunnel=http: pilot/pkg/serviceregistry/ambient/workloads.go setTunnelProtocol);
        # to this sidecar it sends plain TCP, which a STRICT port refuses
        clients["ambient pods (via ztunnel)"] = (f"plaintext: ztunnel sends HBONE only to pods with "
                                                  f"{ambient.TUNNEL_LABEL}=http; refused on STRICT port(s) "
                                                  f"{_ports_text(strict)}")
    if dp == "none" and ambient_mesh:
        notes.append("not in the mesh: ambient and sidecar clients send it plaintext")
    return WorkloadMTLS(namespace=w.namespace, workload=w.name, kind=w.kind, mode=eff.mode, ports=ports,
                        policy=eff.policy, level=eff.level, injected=injected, data_plane=dp, clients=clients,
                        conflicts=sorted(set(conflicts)), notes=notes)


def _ambient_workload(snap: Snapshot, w: WorkloadInfo, root: str, index: MtlsIndex, labels: dict[str, str], dp: str,
                      eff: Effective, wports: list[int]) -> WorkloadMTLS:
    """An ambient workload: traffic from ambient pods, sidecars (pilot/pkg/xds/endpoints/endpoint_builder.go
    supportTunnel: an HBONE endpoint gets the tunnel whatever the DestinationRule's TLS mode,
    cluster_tls.go applyHBONETransportSocketMatches) and waypoints is HBONE (mTLS) to ztunnel; plaintext from
    outside the mesh arrives through ztunnel's 15006 and the PeerAuthentication-derived DENY policies decide it
    (ambient_mtls: STRICT refuses it, PERMISSIVE and DISABLE accept it)."""
    am = ambient.ambient_mtls(snap, w.namespace, labels, root)
    ports = {str(p): am.port_modes.get(p, am.mode) for p in wports}
    clients: dict[str, str] = {}
    for svc in services_for(snap, w.namespace, labels, index):
        host = f"{name_of(svc)}.{ns_of(svc)}.svc.cluster.local"
        dr = destination_rule_for(snap, host, None, root, index)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            port = int(sp.get("port") or 0)
            mode, where = client_tls_mode(dr, port, None, labels)
            text = "HBONE mTLS from ambient and sidecar clients"
            if mode in ("SIMPLE", "MUTUAL"):
                text += f"; {where} tls {mode} from sidecars goes inside the tunnel (the app must terminate it)"
            elif mode != "AUTO":
                text += f"; {where} tls {mode} does not apply (sidecars send HBONE to ambient pods)"
            clients[f"{name_of(svc)}:{port}"] = text
    other = [p for p, m in ports.items() if m != am.mode]
    outside = "plaintext through ztunnel: " + ("refused (STRICT)" if am.mode == "STRICT" else "accepted (PERMISSIVE)")
    if other:
        outside += f", except on port(s) {_ports_text(other)}: " + ("accepted" if am.mode == "STRICT" else "refused")
    clients["outside the mesh"] = outside
    notes = list(am.notes)
    if dp == "ambient-pending":
        notes.append("ambient.istio.io/redirection=pending: no ztunnel has taken the pods yet, their traffic is "
                     "blocked until one does")
    if eff.mode == "DISABLE":
        notes.append(f"{eff.policy} says DISABLE; ztunnel treats it as PERMISSIVE")
    return WorkloadMTLS(namespace=w.namespace, workload=w.name, kind=w.kind, mode=am.mode, ports=ports,
                        policy=eff.policy, level=eff.level, injected=False, data_plane=dp, clients=clients,
                        conflicts=[], notes=notes)


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
    return [w for w, _ in mesh_workload_sidecars(snap, namespace, root, workload)]


def mesh_workload_sidecars(snap: Snapshot, namespace: str | None, root: str, workload: str | None = None
                           ) -> list[tuple[WorkloadInfo, str]]:
    """The workloads mtls_status shows (not in the root namespace, not gateways), with their sidecar kind."""
    out = []
    for w in workloads(snap, namespace):
        if w.namespace == root or (workload and w.name != workload):
            continue
        sidecar = w.sidecar
        if sidecar != "istio-gateway":
            out.append((w, sidecar))
    return out


def mtls_rows(snap: Snapshot, wls: list[WorkloadInfo] | list[tuple[WorkloadInfo, str]], root: str, auto_mtls: bool
              ) -> list[WorkloadMTLS]:
    """workload_mtls for many workloads (or (workload, sidecar kind) pairs), with the lookups (Services,
    DestinationRules, PeerAuthentications, namespaces) indexed once."""
    index = MtlsIndex(snap)
    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    amb = bool(ambient_namespaces(snap))
    pairs = [x if isinstance(x, tuple) else (x, None) for x in wls]
    return [workload_mtls(snap, w, root, auto_mtls, index, ns_objs.get(w.namespace), amb, sidecar)
            for w, sidecar in pairs]


# -- the migration plan to STRICT -------------------------------------------------------------------------
# plain records; tools/mtls.py builds its output models from them
@dataclass(kw_only=True)
class MigrationStep:
    step: int
    name: str
    done: bool | None  # null when it cannot be verified (e.g. no metrics)
    detail: str


@dataclass(kw_only=True)
class AmbientMigration:
    current_step: int  # the first step not done (7 = finished)
    steps: list[MigrationStep]
    blockers: list[str]  # what breaks or stops being enforced once the namespace is in ambient
    next_action: str


@dataclass(kw_only=True)
class MigrationPlan:
    namespace: str
    strict: str = ""  # whether STRICT is already in place, and by which policy
    current_step: int  # the first step not done (6 = finished)
    steps: list[MigrationStep]
    blockers: list[str]  # what blocks the next step, by name
    next_action: str
    metrics: str
    #: sidecars to ambient (istio.io docs/ambient/migrate): ztunnel and CNI, waypoints for L7 policy, policies moved
    #: to targetRefs, the namespace label, sidecars removed
    ambient: AmbientMigration | None = None


#: (source namespace, source workload, destination workload, plaintext requests in the window)
Sender = tuple[str, str, str, float]


def outside_mesh_reason(pod: dict, ns_obj: dict | None) -> tuple[str, str]:
    """(why a running pod has neither a sidecar nor ztunnel, what to do about it): an opt-out on the pod (label or
    annotation), an ambient opt-out, a capture that did not happen, or the namespace's labels."""
    ns = ns_of(pod)
    for where, src in (("label", labels_of(pod)), ("annotation", annotations_of(pod))):
        if str(src.get("sidecar.istio.io/inject", "")).lower() == "false":
            return (f"opted out with the {where} sidecar.istio.io/inject=false",
                    f"remove the sidecar.istio.io/inject=false {where} from {name_of(pod)}'s pod template (or move "
                    "it to ambient) and restart it")
    dp = ambient.pod_data_plane(pod, ns_obj)
    if dp.mode == "ambient-pending":
        return dp.reason, "check the ztunnel pod on its node (mesh_overview)"
    amb = ambient.namespace_ambient(ns_obj, ns)
    if labels_of(pod).get(ambient.DATAPLANE_MODE) == ambient.NONE and amb.labelled:
        return (f"opted out of ambient with the label {ambient.DATAPLANE_MODE}=none",
                f"remove the {ambient.DATAPLANE_MODE}=none label from {name_of(pod)}'s pod template")
    if dp.intended:
        return (f"meant for ambient ({dp.reason.split(' but ')[0]}) but not captured by ztunnel",
                "check istio-cni on its node (mesh_overview), then restart the pod")
    mesh, label = namespace_injection(ns_obj)
    if mesh == "istio":
        return (f"the namespace has {label} but the pod has no sidecar: it started before the label (or the "
                "injector did not run)", "kubectl rollout restart its workload")
    return (f"namespace {ns} has no istio-injection=enabled, istio.io/rev or {ambient.DATAPLANE_MODE}=ambient label",
            f"label namespace {ns} istio-injection=enabled (sidecars) or {ambient.DATAPLANE_MODE}=ambient (ambient), "
            "then kubectl rollout restart its workloads")


def outside_mesh(snap: Snapshot, namespace: str, selector: dict[str, str] | None = None
                 ) -> list[tuple[str, str, str]]:
    """(pod, reason, action) for the running pods that neither a sidecar nor ztunnel serves (ambient pods are in
    the mesh; waypoints, ztunnel and gateways are its infrastructure)."""
    ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == namespace), None)
    out = []
    for p in snap.of("Pod", namespace):
        if selector is not None and not all(labels_of(p).get(k) == v for k, v in selector.items()):
            continue
        if not is_running(p) or sidecar_of(p) != "none" or (p.get("spec") or {}).get("hostNetwork") or \
                ambient.in_ambient(p):
            continue
        reason, action = outside_mesh_reason(p, ns_obj)
        out.append((name_of(p), reason, action))
    return sorted(out)


def strict_blockers(snap: Snapshot, namespace: str, root: str, selector: dict[str, str] | None = None
                    ) -> tuple[list[str], list[str]]:
    """(pods outside the mesh, "name (why)"; DestinationRules that send plaintext into the namespace), for the
    namespace or for the workload that ``selector`` picks."""
    pods = [p for p in snap.of("Pod", namespace)
            if selector is None or all(labels_of(p).get(k) == v for k, v in selector.items())]
    uninjected = [f"{name} ({why})" for name, why, _ in outside_mesh(snap, namespace, selector)]
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


def sender_text(s: Sender) -> str:
    src_ns, src, dst, n = s
    who = f"{src_ns}/{src}" if src and src != "unknown" else \
        "an unidentified client (source_workload unknown: it has no sidecar, so it sends no peer metadata)"
    return f"{who} -> {dst} ({n:.0f} plaintext requests)"


def _loose_text(w: WorkloadMTLS) -> str:
    ports = [f"{p} {m}" for p, m in w.ports.items() if m != "STRICT"]
    return f"{w.workload} ({w.mode} by {w.policy}" + (f"; port {', '.join(ports[:4])}" if ports else "") + ")"


def strict_state(rows: list[WorkloadMTLS], snap: Snapshot, namespace: str, root: str,
                 outside: list[tuple[str, str, str]]) -> str:
    """Whether STRICT is already in place for the namespace, and by which PeerAuthentication."""
    ns_eff = effective_mode(snap, namespace, {}, None, root)
    meshed = [w for w in rows if w.injected or w.data_plane in AMBIENT_MODES]
    loose = [w for w in meshed if w.mode != "STRICT" or any(m != "STRICT" for m in w.ports.values())]
    left = f"; pods outside the mesh still take plaintext: {', '.join(p for p, _, _ in outside[:5])}" if outside \
        else ""
    if meshed and not loose:
        by = sorted({w.policy for w in meshed})
        return f"STRICT is already in place for every meshed workload ({', '.join(by[:3])}){left}"
    if ns_eff.mode == "STRICT":
        return (f"STRICT at the {ns_eff.level} level ({ns_eff.policy}), but not for: "
                + ", ".join(_loose_text(w) for w in loose[:5]) + left)
    return f"not STRICT: the namespace is {ns_eff.mode} ({ns_eff.policy})" + left


def build_plan(snap: Snapshot, namespace: str, shares: dict[tuple[str, str], float], metrics: str,
               metrics_ok: bool, senders: list[Sender] | None = None, ambient_plan: bool = False) -> MigrationPlan:
    root, auto = root_and_auto_mtls(snap)
    wls = [w for w in workloads(snap, namespace) if w.sidecar != "istio-gateway"]
    rows = mtls_rows(snap, wls, root, auto)
    modes = {w.workload: w for w in rows}
    outside = outside_mesh(snap, namespace)
    uninjected, disabling = strict_blockers(snap, namespace, root)
    senders = sorted(senders or [], key=lambda s: -s[3])
    plaintext = sorted(f"{wl} ({share:.0%} plaintext)" for (ns, wl), share in shares.items()
                       if ns == namespace and share > 0)
    not_strict = sorted(_loose_text(w) for w in modes.values() if w.mode != "STRICT" or
                        any(m != "STRICT" for m in w.ports.values()))
    disabled = sorted(w.workload for w in modes.values() if w.mode == "DISABLE")
    received = ", ".join(plaintext[:10])
    steps = [
        MigrationStep(step=1, name="Deploy the workloads", done=bool(wls),
                      detail=f"{len(wls)} workload(s)" if wls else "no workloads in the namespace"),
        MigrationStep(step=2, name="Set PERMISSIVE (accept mTLS and plaintext)", done=not disabled,
                      detail="no workload has DISABLE" if not disabled else f"DISABLE on: {', '.join(disabled)}"),
        MigrationStep(step=3, name="Verify every pod is in the mesh (sidecar or ambient)", done=not uninjected,
                      detail="all running pods have a sidecar or are captured by ztunnel" if not uninjected else
                      f"{len(uninjected)} pod(s) outside the mesh: {', '.join(uninjected[:10])}"),
        MigrationStep(step=4, name="Set STRICT (mTLS only)", done=not not_strict,
                      detail="every workload and port is STRICT" if not not_strict else
                      f"not STRICT yet: {', '.join(not_strict[:10])}"),
        MigrationStep(step=5, name="Verify no plaintext traffic arrives", done=(not plaintext) if metrics_ok else None,
                      detail=("no plaintext requests in the window" if not plaintext else
                              f"plaintext received by: {received}"
                              + (f"; sent by: {'; '.join(sender_text(s) for s in senders[:5])}" if senders else ""))
                      if metrics_ok else metrics),
    ]
    current = next((s.step for s in steps if s.done is not True), 6)
    blockers: list[str] = []
    plain_blockers = [f"plaintext client: {sender_text(s)}" for s in senders] or \
        [f"plaintext received by: {p}" for p in plaintext]
    if current <= 2 and disabled:
        blockers += [f"workload {w} is DISABLE" for w in disabled]
    if current <= 4:
        blockers += [f"pod outside the mesh: {p}" for p in uninjected]
        blockers += [f"DestinationRule {d} sets tls.mode DISABLE toward this namespace" for d in disabling]
        blockers += plain_blockers
    elif current == 5:
        blockers += plain_blockers
    inject = "; ".join(dict.fromkeys(action for _, _, action in outside)) or "move the listed pods into the mesh"
    actions = {1: "deploy the workloads", 2: f"set_mtls_mode namespace={namespace} mode=PERMISSIVE",
               3: inject,
               4: f"set_mtls_mode namespace={namespace} mode=STRICT (after clearing the blockers)",
               5: ("fix the plaintext clients named above (give them a sidecar or ambient, or stop disabling TLS)"
                   if senders else "find and fix the plaintext clients (they have no sidecar or disable TLS)")
               if metrics_ok else
               "make Prometheus reachable (--prometheus-url) to verify there is no plaintext traffic",
               6: "done: the namespace is STRICT and no plaintext traffic arrives"}
    return MigrationPlan(namespace=namespace, strict=strict_state(rows, snap, namespace, root, outside),
                         current_step=current, steps=steps, blockers=blockers[:20], next_action=actions[current],
                         metrics=metrics, ambient=ambient_migration(snap, namespace, root) if ambient_plan else None)


# -- sidecars to ambient (istio.io docs/ambient/migrate; reference ambient-and-gateway-api.md section 7) ------------
_SIDECAR_ANNOTATIONS = ("sidecar.istio.io/status",)
_SIDECAR_CONTAINERS = ("istio-proxy", "istio-init", "istio-validation")


def _moved_pod(pod: dict) -> dict:
    """A pod as it is after ``kubectl rollout restart`` in an ambient namespace: no sidecar, captured by ztunnel."""
    meta = dict(pod.get("metadata") or {})
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _SIDECAR_ANNOTATIONS}
    ann[ambient.REDIRECTION] = "enabled"
    meta["annotations"] = ann
    spec = dict(pod.get("spec") or {})
    for key in ("containers", "initContainers"):
        if key in spec:
            spec[key] = [c for c in spec.get(key) or [] if c.get("name") not in _SIDECAR_CONTAINERS]
    return {**pod, "metadata": meta, "spec": spec}


def after_ambient_move(snap: Snapshot, namespace: str) -> Snapshot:
    """The snapshot as it will be once ``namespace`` is labelled istio.io/dataplane-mode=ambient, its injection
    labels removed and its workloads restarted: application pods (not opted out with dataplane-mode=none, not
    host-network, not gateways or waypoints) lose their sidecar and are captured."""
    objects = dict(snap.objects)
    ns_list = []
    for n in snap.of("Namespace"):
        if name_of(n) == namespace:
            meta = dict(n.get("metadata") or {})
            labels = {k: v for k, v in (meta.get("labels") or {}).items()
                      if k not in ("istio-injection", ambient.REV_LABEL)}
            labels[ambient.DATAPLANE_MODE] = ambient.AMBIENT
            n = {**n, "metadata": {**meta, "labels": labels}}
        ns_list.append(n)
    objects["Namespace"] = ns_list
    pods = []
    for p in snap.of("Pod"):
        if ns_of(p) == namespace and sidecar_of(p) in ("istio", "none") and \
                not (p.get("spec") or {}).get("hostNetwork") and \
                labels_of(p).get(ambient.DATAPLANE_MODE) != ambient.NONE:
            p = _moved_pod(p)
        pods.append(p)
    objects["Pod"] = pods
    return Snapshot(objects=objects, absent=set(snap.absent), source=snap.source, namespace=snap.namespace)


def _namespace_policies(snap: Snapshot, namespace: str, root: str, kind: str) -> list[dict]:
    """Policies of ``kind`` that reach the namespace's pods without targetRefs (its own, and the root namespace's
    mesh-wide ones and those whose selector matches one of its pods)."""
    pods = [labels_of(p) for p in snap.of("Pod", namespace)]
    out = []
    for ap in snap.of(kind, namespace) + ([] if namespace == root else snap.of(kind, root)):
        spec = ap.get("spec") or {}
        if spec.get("targetRef") or spec.get("targetRefs"):
            continue
        sel = _selector(ap)
        if ns_of(ap) == root and namespace != root and sel and not any(
                all(lbl.get(k) == v for k, v in sel.items()) for lbl in pods):
            continue
        out.append(ap)
    return out


def ambient_migration(snap: Snapshot, namespace: str, root: str) -> AmbientMigration:
    """Where a namespace is on the way from sidecars to ambient, one reversible step at a time (istio.io
    docs/ambient/migrate): 1 ztunnel and istio-cni installed, 2 a waypoint where L7 policy needs one, 3 L7 policies
    and RequestAuthentications moved to targetRefs, 4 the namespace labelled istio.io/dataplane-mode=ambient, 5
    injection labels removed and workloads restarted (no sidecar left), 6 every pod captured. Blockers: what the
    mesh.ambient analyzers (MESH06xx) and policy_enforcement find on the namespace as it will be after the move."""
    from ..analyzers import MeshConfig, select
    from ..analyzers.runner import analyze_snapshot

    ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == namespace), None)
    amb = ambient.namespace_ambient(ns_obj, namespace)
    comps = ambient.ambient_components(snap)
    after = after_ambient_move(snap, namespace)
    index = ambient.waypoint_index(snap)
    # 1. components
    zt, cni = comps.ztunnel, comps.cni
    installed = zt is not None and bool(cni and cni.ambient_enabled) and bool(zt.ready)
    detail = "; ".join(filter(None, [
        f"ztunnel {zt.namespace}/{zt.name} {zt.ready}/{zt.desired} ready" if zt else "no ztunnel DaemonSet",
        (f"istio-cni {cni.ready}/{cni.desired} ready, ambient " + ("enabled" if cni.ambient_enabled else "NOT enabled")
         if cni.daemonset else "istio-cni ConfigMap without its DaemonSet") if cni else "no istio-cni",
        "istiod has PILOT_ENABLE_AMBIENT=false" if comps.istiod_ambient is False else None, *comps.problems[:2]]))
    # 2./3. policies as they will be enforced after the move
    needing: list[str] = []
    l7_selector: list[str] = []
    for ap in _namespace_policies(snap, namespace, root, "AuthorizationPolicy"):
        e = ambient.policy_enforcement(after, ap, root)
        if not e.needs_waypoint or (ns_of(ap) != namespace and
                                    not any(p.startswith(namespace + "/") for p in e.ztunnel)):
            continue
        key = f"{ns_of(ap)}/{name_of(ap)}"
        needing.append(key)
        if ns_of(ap) == namespace:
            l7_selector.append(key)
    ras = [f"{ns_of(r)}/{name_of(r)}" for r in _namespace_policies(snap, namespace, root, "RequestAuthentication")
           if ns_of(r) == namespace]
    filters = [f"{ns_of(f)}/{name_of(f)}" for f in _namespace_policies(snap, namespace, root, "EnvoyFilter")]
    wps = [w for w in index.values() if w.namespace == namespace or (amb.use_waypoint and w.key == amb.use_waypoint)]
    ready = [w for w in wps if w.ready]
    gw_api = "gateway.networking.k8s.io/Gateway" not in snap.absent
    if not needing:
        wp_done, wp_detail = True, "no policy of the namespace needs L7 enforcement"
    elif ready:
        wp_done, wp_detail = True, f"waypoint {', '.join(w.key for w in ready)} for: {', '.join(needing[:5])}"
    else:
        wp_done = False
        wp_detail = (f"{len(needing)} policy(ies) with HTTP rules or CUSTOM/AUDIT need a waypoint: "
                     f"{', '.join(needing[:5])}" + ("" if gw_api else "; the Gateway API CRDs are not installed"))
    move = l7_selector + [f"RequestAuthentication {r}" for r in ras]
    vss = [f"{ns_of(v)}/{name_of(v)}" for v in snap.of("VirtualService", namespace)]
    pol_detail = ("selector policies with HTTP rules to rewrite with targetRefs (Service or waypoint Gateway): "
                  + ", ".join(move[:6]) if move else "no selector-bound L7 policy or RequestAuthentication")
    if vss:
        pol_detail += f"; VirtualServices to convert to HTTPRoutes (VirtualService is alpha with waypoints): " \
                      f"{', '.join(vss[:5])}"
    # 4./5./6. the namespace and its pods
    pods = [p for p in snap.of("Pod", namespace) if is_running(p)]
    with_sidecar = sorted(name_of(p) for p in pods if sidecar_of(p) == "istio")
    apps = [p for p in pods if sidecar_of(p) in ("istio", "none") and not (p.get("spec") or {}).get("hostNetwork")]
    opted = sorted(name_of(p) for p in apps if labels_of(p).get(ambient.DATAPLANE_MODE) == ambient.NONE)
    not_captured = sorted(name_of(p) for p in apps if not ambient.in_ambient(p) and name_of(p) not in opted)
    label_done = amb.labelled
    inj = amb.sidecar_injection
    steps = [
        MigrationStep(step=1, name="Install ztunnel and istio-cni (ambient profile)", done=installed, detail=detail),
        MigrationStep(step=2, name="Deploy a waypoint where L7 policy is needed", done=wp_done, detail=wp_detail),
        MigrationStep(step=3, name="Move L7 policies to targetRefs", done=not move, detail=pol_detail),
        MigrationStep(step=4, name=f"Label the namespace {ambient.DATAPLANE_MODE}=ambient", done=label_done,
                      detail=f"labelled{' (' + amb.use_waypoint + ' as its waypoint)' if amb.use_waypoint else ''}"
                      if label_done else "not labelled"),
        MigrationStep(step=5, name="Remove the sidecars (drop the injection label, restart)",
                      done=not with_sidecar and not inj,
                      detail="no sidecar left" if not with_sidecar and not inj else
                      "; ".join(filter(None, [f"the namespace still has {inj}" if inj else None,
                                              f"{len(with_sidecar)} pod(s) with a sidecar: "
                                              f"{', '.join(with_sidecar[:8])}" if with_sidecar else None]))),
        MigrationStep(step=6, name="Verify every pod is captured by ztunnel", done=not not_captured,
                      detail=("every application pod is captured" if not not_captured else
                              f"not captured: {', '.join(not_captured[:8])}")
                      + (f"; opted out ({ambient.DATAPLANE_MODE}=none): {', '.join(opted[:5])}" if opted else "")),
    ]
    current = next((s.step for s in steps if s.done is not True), 7)
    blockers = [f"EnvoyFilter {f} selects this namespace's pods: waypoints and ztunnel do not run EnvoyFilters"
                for f in filters]
    mesh = MeshConfig.parse(mesh_config(snap))
    seen = set()
    for m in analyze_snapshot(after, select(["mesh.ambient.*"]), mesh, files=False):
        if m.namespace != namespace or not m.code.startswith("MESH06"):
            continue
        text = f"{m.code} {m.kind} {m.namespace}/{m.name}: {m.message}"
        if text not in seen:
            seen.add(text)
            blockers.append(("after the move, " if not label_done or with_sidecar else "") + text)
    wp_cmd = (f"istioctl waypoint apply -n {namespace} --enroll-namespace --wait"
              + ("" if gw_api else " (install the Gateway API CRDs first)"))
    actions = {
        1: "install the ambient components: istioctl install --set profile=ambient, or Helm: istiod and cni with "
           "profile=ambient, and the ztunnel chart (sidecars keep working)",
        2: wp_cmd,
        3: f"rewrite {', '.join(move[:3])} with targetRefs to the Service (or the waypoint Gateway); delete the "
           "selector versions once the namespace is in ambient",
        4: (f"kubectl label namespace {namespace} {ambient.DATAPLANE_MODE}=ambient"
            + (f" (after istio.io/use-waypoint={ready[0].name} on the namespace or its Services)"
               if needing and ready and not amb.use_waypoint else "")),
        5: f"kubectl label namespace {namespace} {(inj or 'istio-injection=x').split('=')[0]}- then kubectl rollout "
           f"restart the workloads of namespace {namespace}" if inj else
           f"kubectl rollout restart the workloads of namespace {namespace} (their pods still have sidecars)",
        6: "check istio-cni and ztunnel on the pods' nodes (mesh_overview), then restart the pods not captured",
        7: "done: the namespace is in ambient; remove the selector-based L7 policies and VirtualServices it no "
           "longer uses",
    }
    return AmbientMigration(current_step=current, steps=steps, blockers=blockers[:20], next_action=actions[current])


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


