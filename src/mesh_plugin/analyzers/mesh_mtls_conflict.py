"""mesh.mtls.ConflictAnalyzer (MESH): client TLS settings that break traffic given the server's mTLS mode.

The check istioctl retired (IST0113) and Kiali still makes (KIA0207/0208): a DestinationRule that
disables TLS toward workloads that require STRICT mTLS; and ISTIO_MUTUAL toward pods without a sidecar.
"""
from __future__ import annotations

from ..kube.snapshot import labels_of, name_of, ns_of
from ..mesh.mtls import pod_effective_mode
from ..mesh.workloads import sidecar_of
from .base import Analyzer, Context, matches
from .util import fqdn, service_fqdn, spec


def _tls_settings(dr: dict) -> list[tuple[str, int | None, str | None]]:
    """(mode, port or None, subset or None) for every tls block in a DestinationRule."""
    out = []

    def from_policy(tp: dict, subset: str | None) -> None:
        if (tp.get("tls") or {}).get("mode"):
            out.append((str(tp["tls"]["mode"]), None, subset))
        for pls in tp.get("portLevelSettings") or []:
            if (pls.get("tls") or {}).get("mode"):
                out.append((str(pls["tls"]["mode"]), (pls.get("port") or {}).get("number"), subset))

    from_policy(spec(dr).get("trafficPolicy") or {}, None)
    for s in spec(dr).get("subsets") or []:
        from_policy(s.get("trafficPolicy") or {}, str(s.get("name")))
    return out


class MTLSConflictAnalyzer(Analyzer):
    name = "mesh.mtls.ConflictAnalyzer"
    aliases = ("mtls.ConflictAnalyzer",)
    description = ("Checks DestinationRule TLS modes against the PeerAuthentication of the target workloads: "
                   "DISABLE toward STRICT, ISTIO_MUTUAL toward pods without a sidecar")
    inputs = ("DestinationRule", "PeerAuthentication", "Service", "Pod")

    def analyze(self, ctx: Context) -> None:
        services = {service_fqdn(s): s for s in ctx.of("Service")}
        root = ctx.mesh.root_namespace
        for dr in ctx.of("DestinationRule"):
            host = fqdn(str(spec(dr).get("host") or ""), ns_of(dr))
            svc = services.get(host)
            if svc is None:
                continue
            sel = spec(svc).get("selector") or {}
            pods = ctx.pods.select(ns_of(svc), sel) if sel else []
            subsets = {str(s.get("name")): s.get("labels") or {} for s in spec(dr).get("subsets") or []}
            svc_ports = spec(svc).get("ports") or []
            for mode, port, subset in _tls_settings(dr):
                targets = [p for p in pods if not subset or matches(subsets.get(subset, {}), labels_of(p))]
                where = (f" on port {port}" if port else "") + (f" for subset {subset}" if subset else "")
                if mode == "DISABLE":
                    strict = []
                    for p in targets:
                        for sp in svc_ports:
                            if port and int(sp.get("port") or 0) != int(port):
                                continue
                            tp = sp.get("targetPort", sp.get("port"))
                            target_port = int(tp) if str(tp).isdigit() else None
                            eff = pod_effective_mode(ctx.snap, p, target_port, root)
                            if eff.mode == "STRICT" and sidecar_of(p) == "istio":
                                strict.append(f"{name_of(p)} by {eff.policy}")
                                break
                    if strict:
                        ctx.report("MESH0101", dr, where, host, ", ".join(sorted(strict)[:3]))
                elif mode == "ISTIO_MUTUAL":
                    bare = [name_of(p) for p in targets if sidecar_of(p) not in ("istio", "istio-gateway")]
                    if bare and len(bare) == len(targets):
                        ctx.report("MESH0102", dr, where, host, ", ".join(sorted(bare)[:3]))
