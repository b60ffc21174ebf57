"""Snapshot from files, folders and streams (offline mode)."""
from __future__ import annotations

import io

import pytest

from mesh_plugin.errors import NotFound
from mesh_plugin.kube import Snapshot

MULTI = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec: {hosts: [reviews]}
---
# a comment-only document is skipped
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: reviews, namespace: shop}
- apiVersion: gateway.networking.k8s.io/v1
  kind: Gateway
  metadata: {name: edge, namespace: shop}
- apiVersion: policy.linkerd.io/v1alpha1
  kind: AuthorizationPolicy
  metadata: {name: allow, namespace: shop}
"""


def test_multi_document_lists_and_group_qualified_keys(tmp_path):
    (tmp_path / "a.yaml").write_text(MULTI)
    snap = Snapshot.from_paths([str(tmp_path / "a.yaml")])
    assert [o["metadata"]["name"] for o in snap.of("VirtualService")] == ["reviews"]
    assert len(snap.of("Service", "shop")) == 1
    assert len(snap.of("gateway.networking.k8s.io/Gateway")) == 1
    assert snap.of("Gateway") == []  # the Istio Gateway key stays distinct
    assert len(snap.of("policy.linkerd.io/AuthorizationPolicy")) == 1 and snap.of("AuthorizationPolicy") == []
    assert snap.errors == []


def test_folders_are_walked_and_bad_files_recorded_not_fatal(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.yml").write_text(MULTI)
    (tmp_path / "broken.yaml").write_text("kind: Service\nmetadata: {name: [unclosed\n")
    (tmp_path / "scalar.yaml").write_text("just a string\n")
    (tmp_path / "nokind.yaml").write_text("metadata: {name: x}\n")
    (tmp_path / "notes.txt").write_text("ignored")
    snap = Snapshot.from_paths([str(tmp_path)])
    assert len(snap.of("VirtualService")) == 1
    msgs = {e.source.rsplit("/", 1)[-1]: e.message for e in snap.errors}
    assert set(msgs) == {"broken.yaml", "scalar.yaml", "nokind.yaml"}
    assert "not valid YAML at line" in msgs["broken.yaml"]


def test_unknown_kinds_are_kept_aside(tmp_path):
    (tmp_path / "x.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    snap = Snapshot.from_paths([str(tmp_path / "x.yaml")])
    assert snap.objects == {} and snap.unknown[0][1]["kind"] == "Widget"


def test_stdin_and_missing_path():
    snap = Snapshot.from_paths(["-"], stdin=io.StringIO(MULTI))
    assert len(snap.of("VirtualService")) == 1
    with pytest.raises(NotFound):
        Snapshot.from_paths(["/definitely/not/here.yaml"])


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    bomb = tmp_path / "bomb.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    bomb.write_text("\n".join(lines) + "\n")
    snap = Snapshot.from_paths([str(evil), str(bomb)])
    assert len(snap.errors) == 2
    assert "python/object" in snap.errors[0].message or "constructor" in snap.errors[0].message
    assert "aliases expand to more than" in snap.errors[1].message


def test_secret_values_are_dropped_offline(tmp_path):
    (tmp_path / "s.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\n"
                                     "data: {tls.key: U0VDUkVU}\nstringData: {token: hunter2}\n")
    snap = Snapshot.from_paths([str(tmp_path)])
    s = snap.get("Secret", "s", "a")
    assert s["dataKeys"] == ["tls.key", "token"] and "U0VDUkVU" not in str(s) and "hunter2" not in str(s)
