"""Effective server-side mTLS mode per workload and port, following Istio's PeerAuthentication precedence.

Levels: mesh (root namespace, no selector) < namespace (no selector) < workload (selector, not in
the root namespace) < port (``portLevelMtls`` of the workload policy). Several policies at one
level: the oldest wins. ``UNSET`` inherits from the level above; nothing set anywhere is PERMISSIVE.
Pure functions over a Snapshot.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of

MODES = ("STRICT", "PERMISSIVE", "DISABLE")


@dataclass(frozen=True)
class Effective:
    mode: str
    policy: str      # "ns/name" or "default"
    level: str       # mesh, namespace, workload, port, default


def _oldest(policies: list[dict]) -> dict | None:
    return min(policies, key=lambda p: (str((p.get("metadata") or {}).get("creationTimestamp") or ""),
                                        name_of(p))) if policies else None


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
    """The DestinationRule that applies to ``host``: client namespace, then the host's, then the root one;
    an exact host beats a wildcard."""
    host_ns = host.split(".")[1] if host.count(".") >= 2 else None
    order = [n for n in (client_ns, host_ns, root_namespace) if n]
    for ns in dict.fromkeys(order):
        candidates = [dr for dr in snap.of("DestinationRule", ns)
                      if _host_match(_fqdn(str((dr.get("spec") or {}).get("host") or ""), ns), host)]
        if candidates:
            exact = [dr for dr in candidates if _fqdn(str(dr["spec"].get("host")), ns) == host]
            return _oldest(exact or candidates)
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


def effective_client(mode: str, server_injected: bool, auto_mtls: bool = True) -> str:
    """What the client really sends: ISTIO_MUTUAL/MUTUAL/SIMPLE (TLS) or plaintext."""
    if mode == "AUTO":
        return "mTLS" if (auto_mtls and server_injected) else "plaintext"
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
