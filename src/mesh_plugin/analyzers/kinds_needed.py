"""Kinds Istio's analyzers read that ``kube/kinds.py`` does not model yet (to be added there by its owner).

Until they are, the analysis context reads objects of these kinds from the snapshot's ``unknown`` list
(files), so offline analysis already covers them; a live cluster needs them in kinds.py to be LISTed.
Once a kind is in kinds.py, ``kind_for`` finds it there and the entry here is unused.
"""
from __future__ import annotations

from ..kube.kinds import NET, Kind, kind_for

NEEDED_KINDS: tuple[Kind, ...] = (
    # externalcontrolplane.ExternalControlPlaneAnalyzer
    Kind("ValidatingWebhookConfiguration", "ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
         "validatingwebhookconfigurations", namespaced=False),
    # injection.ImageAnalyzer (image type per namespace/workload), schema.ValidationAnalyzer.ProxyConfig
    Kind("ProxyConfig", "ProxyConfig", NET, "v1beta1", "proxyconfigs"),
    # schema.ValidationAnalyzer.WorkloadGroup
    Kind("WorkloadGroup", "WorkloadGroup", NET, "v1", "workloadgroups", fallback_versions=("v1beta1",)),
    # schema.ValidationAnalyzer.TrafficExtension
    Kind("TrafficExtension", "TrafficExtension", "extensions.istio.io", "v1alpha1", "trafficextensions"),
)

NEEDED: dict[str, Kind] = {k.key: k for k in NEEDED_KINDS}
_BY_GROUP_KIND = {(k.group, k.kind): k for k in NEEDED_KINDS}


def needed_kind_for(api_version: str, kind: str) -> Kind | None:
    """The Kind of a manifest among the needed kinds (None when kinds.py models it or it is not needed)."""
    if kind_for(api_version, kind) is not None:
        return None
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return _BY_GROUP_KIND.get((group, kind))


__all__ = ["NEEDED", "NEEDED_KINDS", "needed_kind_for"]
