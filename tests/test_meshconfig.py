"""The one mesh-config reader (mesh/meshconfig.py): analyze, mTLS and identities read the ConfigMap istio the
same way, bounded, preferring the root namespace's; a hostile mesh config is refused, not expanded."""
from __future__ import annotations

import json

import pytest

from mesh_plugin.errors import InvalidInput
from mesh_plugin.kube.snapshot import Snapshot
from mesh_plugin.mesh import meshconfig
from mesh_plugin.mesh.mtls import root_and_auto_mtls
from mesh_plugin.mesh.workloads import trust_domain


def cm(ns: str, mesh: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": ns},
            "data": {"mesh": mesh}}


def snap(*objs: dict) -> Snapshot:
    return Snapshot.from_text("\n---\n".join(json.dumps(o) for o in objs))


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join('*' + p for _ in range(10))}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_root_namespace_config_wins_for_every_reader():
    s = snap(cm("other", "trustDomain: other.td\nenableAutoMtls: false\n"),
             cm("istio-system", "trustDomain: example.org\nenableAutoMtls: true\n"))
    assert meshconfig.mesh_config_doc(s)["trustDomain"] == "example.org"
    assert trust_domain(s) == "example.org" and trust_domain(s, "other") == "other.td"
    assert root_and_auto_mtls(s) == ("istio-system", True)
    assert meshconfig.mesh_config_of(s).trust_domain == "example.org"


def test_a_hostile_mesh_config_is_refused_and_defaults_apply():
    s = snap(cm("istio-system", BOMB + "trustDomain: evil.td\n"))
    with pytest.raises(InvalidInput, match="mesh config in ConfigMap istio-system/istio cannot be read"):
        meshconfig.mesh_yaml(s.of("ConfigMap")[0], "ConfigMap istio-system/istio")
    assert meshconfig.mesh_config_doc(s) == {} and trust_domain(s) == "cluster.local"
    assert root_and_auto_mtls(s) == ("istio-system", True)
    with pytest.raises(InvalidInput, match="mesh config file m.yaml cannot be read") as e:
        meshconfig.mesh_config_from_text(BOMB, "m.yaml")
    assert e.value.hint and "MeshConfig" in e.value.hint


def test_files_give_a_mapping_or_a_configmap():
    assert meshconfig.mesh_config_from_text("trustDomain: a.b\n", "m.yaml").trust_domain == "a.b"
    assert meshconfig.mesh_config_from_text(json.dumps(cm("istio-system", "trustDomain: c.d")), "cm.yaml"
                                            ).trust_domain == "c.d"
    with pytest.raises(InvalidInput, match="is not a MeshConfig mapping"):
        meshconfig.mesh_config_from_text("- a\n- b\n", "l.yaml")
