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
    pas = snap.of("PeerAuthentication")
    mesh = _oldest([p for p in pas if ns_of(p) == root_namespace and not _selector(p)])
    ns_pol = _oldest([p for p in pas if ns_of(p) == namespace and not _selector(p)]) \
        if namespace != root_namespace else None
    wl = _oldest([p for p in pas if ns_of(p) == namespace and namespace != root_namespace and _selector(p)
                  and all(labels.get(k) == v for k, v in _selector(p).items())])
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
