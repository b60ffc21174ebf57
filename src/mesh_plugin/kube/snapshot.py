"""A Snapshot: the objects one question needs, loaded once.

From a cluster: one LIST per kind (paginated), kinds whose API is absent are
empty and recorded in ``absent``. From files: YAML/JSON files, folders and
multi-document streams (offline mode), loaded safely; a file that does not
parse is recorded in ``errors`` and the others still load.

Secret values never enter a Snapshot: ``data`` and ``stringData`` are replaced
by the list of their keys on load.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, MeshError, NotFound
from .kinds import KINDS, Kind, get_kind, kind_for

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_ALIASES = 1000
MAX_EXPANDED_NODES = 1_000_000
YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class LoadError:
    source: str
    message: str


@dataclass
class Snapshot:
    objects: dict[str, list[dict]] = field(default_factory=dict)
    #: kinds whose API the cluster does not serve (CRD not installed)
    absent: set[str] = field(default_factory=set)
    #: files or kinds that could not be read (offline parse errors, forbidden kinds)
    errors: list[LoadError] = field(default_factory=list)
    #: "cluster <context>" or "files"
    source: str = ""
    namespace: str | None = None
    #: objects whose apiVersion/kind we do not model (offline only), as (source, obj)
    unknown: list[tuple[str, dict]] = field(default_factory=list)
    _default_ns: str | None = field(default=None, repr=False)
    _index: dict[str, tuple[int, dict[str, list[dict]]]] = field(default_factory=dict, repr=False)

    # -- access ------------------------------------------------------------------------------
    def of(self, key: str, namespace: str | None = None) -> list[dict]:
        items = self.objects.get(key, [])
        if namespace is None:
            return items
        index = self._index.get(key)
        if index is None or index[0] != len(items):  # built on first use, rebuilt when objects were added
            by_ns: dict[str, list[dict]] = {}
            for o in items:
                by_ns.setdefault(ns_of(o), []).append(o)
            index = self._index[key] = (len(items), by_ns)
        return index[1].get(namespace, [])

    def get(self, key: str, name: str, namespace: str | None = None) -> dict | None:
        for o in self.objects.get(key, []):
            m = o.get("metadata") or {}
            if m.get("name") == name and (namespace is None or m.get("namespace") == namespace):
                return o
        return None

    def namespaces(self) -> list[str]:
        """Namespace names: from Namespace objects, else from what the objects live in."""
        names = {name_of(n) for n in self.of("Namespace")}
        for items in self.objects.values():
            names.update(ns_of(o) for o in items if ns_of(o))
        return sorted(n for n in names if n)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in sorted(self.objects.items()) if v}

    def add(self, obj: dict, kind: Kind | None = None, source: str = "", default_namespace: str | None = None) -> None:
        kind = kind or kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if kind is None:
            self.unknown.append((source, obj))
            return
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if default_namespace and kind.namespaced and not meta.get("namespace"):
            meta["namespace"] = default_namespace  # as kubectl apply would place it
        self.objects.setdefault(kind.key, []).append(_scrub(kind, obj))

    # -- loading from a cluster ----------------------------------------------------------------
    @classmethod
    def from_cluster(cls, client: Any, keys: Iterable[str], namespace: str | None = None) -> "Snapshot":
        """One LIST per kind. Cluster-scoped kinds are listed whole; the rest in ``namespace`` or all."""
        snap = cls(source=f"cluster {client.context or client.host}", namespace=namespace)
        for key in dict.fromkeys(keys):
            kind = get_kind(key)
            ns = namespace if kind.namespaced else None
            try:
                snap.objects[key] = [_scrub(kind, o) for o in client.list_all(kind, ns)]
            except NotFound:
                if not kind.group or kind.group in ("apps",):
                    if ns and key != "Namespace":
                        # core kinds always exist: a 404 here means the namespace is missing
                        snap.objects[key] = []
                        continue
                    raise
                snap.objects[key] = []
                snap.absent.add(key)
        return snap

    # -- loading from files -----------------------------------------------------------------
    @classmethod
    def from_paths(cls, paths: Iterable[str], *, stdin: Any = None, default_namespace: str | None = "default"
                   ) -> "Snapshot":
        """Load files, folders (recursively, .yaml/.yml/.json) and ``-`` for stdin.

        Namespaced objects without a namespace land in ``default_namespace``, as ``kubectl apply`` would.
        Every path, given or found in a folder, is checked by the runtime (``Runtime.check_path`` and
        ``Runtime.read_file``): with a files root set, a file whose real path is outside it (a symbolic
        link out of the folder) is skipped and recorded in ``errors``, by name only; symbolic links to
        folders are not followed.
        """
        from ..runtime import RUNTIME

        snap = cls(source="files")
        snap._default_ns = default_namespace
        for p in paths:
            if p == "-" and RUNTIME.files_root is None:
                text = (stdin or sys.stdin).read(MAX_FILE_BYTES + 1)
                if len(text) > MAX_FILE_BYTES:
                    snap.errors.append(LoadError("<stdin>", f"over the {MAX_FILE_BYTES} limit"))
                    continue
                snap._load_text(text, "<stdin>")
                continue
            p = RUNTIME.check_path(p)
            if not os.path.lexists(p):
                raise NotFound(f"No such file or folder: {_clip_path(p)}.", hint="pass existing YAML files or folders.")
            if os.path.isdir(p):
                for root, dirs, files in os.walk(p):  # followlinks=False: symlinked folders are not entered
                    for d in dirs:
                        full = os.path.join(root, d)
                        if os.path.islink(full) and not RUNTIME.inside_root(os.path.realpath(full)):
                            snap.errors.append(LoadError(full, "skipped: a symbolic link to a folder outside the "
                                                               "allowed folder"))
                    dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                     and not os.path.islink(os.path.join(root, d)))
                    for f in sorted(files):
                        if f.endswith(YAML_SUFFIXES):
                            snap._load_file(os.path.join(root, f))
            else:
                snap._load_file(p)
        return snap

    @classmethod
    def from_text(cls, text: str, source: str = "<text>", default_namespace: str | None = "default") -> "Snapshot":
        snap = cls(source="files")
        snap._default_ns = default_namespace
        snap._load_text(text, source)
        return snap

    def _load_file(self, path: str) -> None:
        from ..runtime import RUNTIME

        try:
            data = RUNTIME.read_file(path, max_bytes=MAX_FILE_BYTES, what="manifest")
            text = data.decode("utf-8")
        except MeshError as e:
            self.errors.append(LoadError(path, e.message))
            return
        except UnicodeDecodeError as e:
            self.errors.append(LoadError(path, f"cannot read: not UTF-8 text (byte {e.start})"))
            return
        self._load_text(text, path)

    def _load_text(self, text: str, source: str) -> None:
        try:
            docs = safe_load_all(text)
        except MeshError as e:
            self.errors.append(LoadError(source, e.message))
            return
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                self.errors.append(LoadError(source, f"document {i + 1} is not a mapping (a Kubernetes object)"))
                continue
            if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                for item in doc["items"]:
                    if isinstance(item, dict):
                        self.add(item, source=source, default_namespace=self._default_ns)
                continue
            if not doc.get("kind") or not doc.get("apiVersion"):
                self.errors.append(LoadError(source, f"document {i + 1} has no apiVersion/kind"))
                continue
            self.add(doc, source=source, default_namespace=self._default_ns)


def safe_load_all(text: str) -> list[Any]:
    """yaml.safe_load_all with a cap on aliases (no billion-laughs) and typed errors."""
    import yaml

    class _Limited(yaml.SafeLoader):
        _aliases = 0

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_ALIASES} YAML aliases")
            return super().compose_node(parent, index)

    try:
        docs = list(yaml.load_all(text, Loader=_Limited))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InvalidInput(f"not valid YAML{where}: {problem}", hint="fix the YAML syntax.") from None
    memo: dict[int, int] = {}
    if sum(_expanded_size(d, memo) for d in docs) > MAX_EXPANDED_NODES:
        raise InvalidInput(f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes (an alias bomb?)",
                           hint="remove the repeated aliases.")
    return docs


def _expanded_size(node: Any, memo: dict[int, int]) -> int:
    """Nodes the document has once aliases are expanded (shared nodes counted each time)."""
    if not isinstance(node, (dict, list)):
        return 1
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # guards recursive aliases
    children = node.values() if isinstance(node, dict) else node
    total = 1
    for child in children:
        total += _expanded_size(child, memo)
        if total > MAX_EXPANDED_NODES:
            break
    memo[id(node)] = total
    return total


def _clip(text: str, limit: int = 100) -> str:
    from ..runtime import clip_value

    return clip_value(text, limit)


def _clip_path(path: str) -> str:
    from ..runtime import clip_path

    return clip_path(path)


def _scrub(kind: Kind, obj: dict) -> dict:
    """Drop what must never reach a model: Secret values, managedFields noise."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = dict(meta)
        meta.pop("managedFields", None)
        obj = {**obj, "metadata": meta}
    if kind.key == "Secret":
        keys = sorted(set((obj.get("data") or {}).keys()) | set((obj.get("stringData") or {}).keys()))
        obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        obj["dataKeys"] = keys
    return obj


def name_of(o: dict) -> str:
    return str((o.get("metadata") or {}).get("name") or "")


def ns_of(o: dict) -> str:
    return str((o.get("metadata") or {}).get("namespace") or "")


def labels_of(o: dict) -> dict[str, str]:
    return (o.get("metadata") or {}).get("labels") or {}


def annotations_of(o: dict) -> dict[str, str]:
    return (o.get("metadata") or {}).get("annotations") or {}


__all__ = ["Snapshot", "LoadError", "KINDS", "safe_load_all", "name_of", "ns_of", "labels_of", "annotations_of"]
