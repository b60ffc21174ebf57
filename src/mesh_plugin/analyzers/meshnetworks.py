"""meshnetworks.MeshNetworksAnalyzer: MeshNetworks endpoints fromRegistry naming an unknown registry (IST0126).

Known registries: Mock, Kubernetes, External, and the cluster names of remote secrets (keys of Secrets
labelled istio/multiCluster=true). The MeshNetworks come from --meshNetworksFile or the ``meshNetworks`` key
of ConfigMap istio, as a resource ``MeshNetworks <istio namespace>/meshnetworks``.
"""
from __future__ import annotations

from ..kube.snapshot import labels_of
from .base import Analyzer, Context
from .util import mapping, seq

REGISTRIES = ("Mock", "Kubernetes", "External")
MULTICLUSTER_SECRET_LABEL = "istio/multiCluster"


def mesh_networks_resource(ctx: Context) -> dict:
    return {"apiVersion": "v1alpha1", "kind": "MeshNetworks",
            "metadata": {"name": "meshnetworks", "namespace": ctx.istio_namespace}}


class MeshNetworksAnalyzer(Analyzer):
    name = "meshnetworks.MeshNetworksAnalyzer"
    description = "Check the validity of MeshNetworks in the cluster"
    inputs = ("MeshNetworks", "Secret")

    def analyze(self, ctx: Context) -> None:
        registries = set(REGISTRIES)
        for secret in ctx.of("Secret"):
            if labels_of(secret).get(MULTICLUSTER_SECRET_LABEL) == "true":
                registries.update(str(k) for k in seq(secret.get("dataKeys")) or mapping(secret.get("data")))
        resource = mesh_networks_resource(ctx)
        for network, spec in mapping(ctx.mesh_networks.get("networks")).items():
            for j, ep in enumerate(seq(mapping(spec).get("endpoints"))):
                ep = mapping(ep)
                if "fromRegistry" in ep and str(ep.get("fromRegistry")) not in registries:
                    ctx.report("IST0126", resource, str(ep.get("fromRegistry")), str(network),
                               path=f"{{.networks.{network}.endpoints[{j}]}}")
