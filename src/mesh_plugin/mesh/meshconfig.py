"""The mesh config: the ``mesh`` key of the ConfigMap ``istio`` (istiod's MeshConfig), from a snapshot or from a
file's text. The one reader: every YAML load is the bounded ``safe_load_all``. Pure, no I/O (the tools layer
reads files, confined to the files root, and hands their text here)."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..kube.snapshot import Snapshot, name_of, ns_of, safe_load_all

HINT = "pass a MeshConfig YAML file (the 'mesh' key of ConfigMap istio)."


def mesh_yaml(configmap: dict, shown: str, hint: str = HINT) -> dict:
    """The MeshConfig in a ConfigMap's ``data.mesh`` (YAML in a string), {} when empty. InvalidInput when it is
    not YAML or not a mapping."""
    data = configmap.get("data")
    text = data.get("mesh") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        docs = safe_load_all(text)
    except InvalidInput as e:
        raise InvalidInput(f"The mesh config in {shown} cannot be read: {e.message}", hint=hint) from None
    doc = docs[0] if docs else None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidInput(f"The mesh config in {shown} is not a mapping.", hint=hint)
    return doc


def root_namespace(mesh: dict[str, Any] | None) -> str:
    """The mesh's root namespace from a mesh config mapping (``rootNamespace``, default istio-system)."""
    return str((mesh or {}).get("rootNamespace") or "istio-system")


def mesh_config_doc(snap: Snapshot, namespace: str | None = None) -> dict[str, Any]:
    """The mesh config of the snapshot as a mapping: the ConfigMap ``istio`` in the root namespace when there
    are several (only the one in ``namespace`` when given), {} when there is none or it cannot be read (Istio's
    defaults then apply)."""
    found: list[tuple[int, dict]] = []
    for cm in snap.of("ConfigMap"):
        if name_of(cm) != "istio" or (namespace is not None and ns_of(cm) != namespace):
            continue
        try:
            mesh = mesh_yaml(cm, f"ConfigMap {ns_of(cm)}/istio")
        except InvalidInput:
            continue
        found.append((0 if ns_of(cm) == root_namespace(mesh) else 1, mesh))
    return min(found, key=lambda x: x[0])[1] if found else {}


def mesh_config_of(snap: Snapshot) -> Any:
    """The snapshot's MeshConfig (analyzers.MeshConfig), defaults when there is none."""
    from ..analyzers import MeshConfig

    try:
        return MeshConfig.parse(mesh_config_doc(snap))
    except (AttributeError, TypeError, ValueError, KeyError):
        return MeshConfig()


def mesh_config_from_text(text: str, shown: str) -> Any:
    """A MeshConfig from a file's text: a MeshConfig mapping, or a ConfigMap ``istio`` holding one."""
    from ..analyzers import MeshConfig

    try:
        docs = safe_load_all(text)
    except InvalidInput as e:
        raise InvalidInput(f"The mesh config file {shown} cannot be read: {e.message}", hint=HINT) from None
    doc = docs[0] if docs else {}
    if not isinstance(doc, dict):
        raise InvalidInput(f"{shown} is not a MeshConfig mapping.", hint=HINT)
    if doc.get("kind") == "ConfigMap":
        doc = mesh_yaml(doc, shown)
    try:
        return MeshConfig.parse(doc)
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        raise InvalidInput(f"{shown} is not a valid MeshConfig ({type(e).__name__}).", hint=HINT) from None


def trust_domain(snap: Snapshot, root_namespace: str | None = None) -> str:
    """The mesh's trust domain (``trustDomain``), default cluster.local."""
    return str(mesh_config_doc(snap, root_namespace).get("trustDomain") or "cluster.local")
