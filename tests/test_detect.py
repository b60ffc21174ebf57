"""Mesh detection from a Snapshot: Istio, Linkerd, leftovers, none."""
from __future__ import annotations

from mesh_plugin.kube import Snapshot
from mesh_plugin.mesh.detect import detect_meshes

LINKERD = """
apiVersion: v1
kind: Pod
metadata:
  name: linkerd-destination-abc
  namespace: linkerd
  labels: {linkerd.io/control-plane-component: destination, linkerd.io/control-plane-ns: linkerd,
           linkerd.io/proxy-version: edge-25.10.3}
spec: {containers: [{name: destination, image: cr.l5d.io/linkerd/controller:edge-25.10.3}]}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: linkerd-identity-abc
  namespace: linkerd
  labels: {linkerd.io/control-plane-component: identity, linkerd.io/control-plane-ns: linkerd,
           linkerd.io/proxy-version: edge-25.10.3}
spec: {containers: [{name: identity, image: cr.l5d.io/linkerd/controller:edge-25.10.3}]}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-abc
  namespace: linkerd-viz
  labels: {linkerd.io/extension: viz, component: web}
spec: {containers: [{name: web, image: cr.l5d.io/linkerd/web:edge-25.10.3}]}
status: {phase: Running}
"""

ISTIO_LEFTOVER = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: virtualservices.networking.istio.io}
spec: {group: networking.istio.io, names: {kind: VirtualService, plural: virtualservices}, scope: Namespaced}
"""


def test_linkerd_control_plane_version_readiness_and_viz():
    [m] = detect_meshes(Snapshot.from_text(LINKERD))
    assert (m.mesh, m.namespace, m.version, m.components_ready) == ("linkerd", "linkerd", "edge-25.10.3", "1/2")
    assert m.extensions == ["linkerd viz"]
    assert m.problems == ["control-plane components missing: proxy-injector"]


def test_istio_crds_without_istiod_is_a_half_removed_install():
    [m] = detect_meshes(Snapshot.from_text(ISTIO_LEFTOVER))
    assert m.mesh == "istio" and m.components_ready == "0/0" and "half-removed" in m.problems[0]


def test_no_mesh():
    assert detect_meshes(Snapshot.from_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")) == []
