"""The analysis framework: analyzers declare name, description and inputs; a context collects messages.

The context is what Istio's ``analysis.Context`` is to its analyzers: the objects of each kind (objects in
the namespaces Istio never analyzes - kube-system, kube-public, kube-node-lease, local-path-storage - are
left out, as istioctl's sources leave them out), the mesh config and mesh networks, indexes for
selector lookups (``kube/index.py``), and ``report``.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..kube.index import LabelIndex, pod_index
from ..kube.kinds import KINDS, kind_for
from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of
from .kinds_needed import NEEDED, needed_kind_for
from .messages import CATALOG, LEVEL_ORDER

#: inject.IgnoredNamespaces: istioctl never reads objects in these namespaces.
IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
ISTIO_SYSTEM = "istio-system"


@dataclass
class Message:
    code: str
    level: str
    message: str
    kind: str
    namespace: str | None
    name: str
    analyzer: str = ""
    #: the field the message is about (Istio's line number), part of the identity used to dedupe
    path: str = field(default="", compare=False)
    cluster: str = field(default="", compare=False)

    @property
    def origin(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def documentation_url(self) -> str:
        return CATALOG[self.code].url

    def line(self) -> str:
        return f"{self.level} [{self.code}] ({self.origin}) {self.message}"


# -- mesh config ---------------------------------------------------------------------------------
DEFAULT_EXTENSION_PROVIDERS: tuple[dict[str, Any], ...] = (
    {"name": "prometheus", "prometheus": {}},
    {"name": "stackdriver", "stackdriver": {}},
    {"name": "envoy", "envoyFileAccessLog": {"path": "/dev/stdout"}},
)


def _mapping(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


@dataclass
class MeshConfig:
    """The fields of Istio's MeshConfig the analyzers read, with ``mesh.DefaultMeshConfig()``'s defaults and
    ``ApplyMeshConfig``'s merge rules (proxy config merged, extension providers merged by name)."""

    root_namespace: str = ISTIO_SYSTEM
    trust_domain: str = "cluster.local"
    proxy_metadata: dict[str, str] = field(default_factory=dict)
    image_type: str | None = None
    ingress_controller_mode: str = "STRICT"
    ingress_service: str = "istio-ingressgateway"
    extension_providers: list[dict[str, Any]] = field(
        default_factory=lambda: [dict(p) for p in DEFAULT_EXTENSION_PROVIDERS])
    default_providers: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, doc: dict | None) -> "MeshConfig":
        doc = _mapping(doc)
        dc = _mapping(doc.get("defaultConfig"))
        providers = [dict(p) for p in DEFAULT_EXTENSION_PROVIDERS]
        for p in doc.get("extensionProviders") or []:
            if not isinstance(p, dict):
                continue
            same = next((e for e in providers if e.get("name") == p.get("name")), None)
            if same is not None:
                same.clear()
                same.update(p)
            else:
                providers.append(dict(p))
        mode = str(doc.get("ingressControllerMode") or "STRICT").upper()
        return cls(root_namespace=str(doc.get("rootNamespace") or ISTIO_SYSTEM),
                   trust_domain=str(doc.get("trustDomain") or "cluster.local"),
                   proxy_metadata={str(k): str(v) for k, v in _mapping(dc.get("proxyMetadata")).items()},
                   image_type=_mapping(dc.get("image")).get("imageType"),
                   ingress_controller_mode=mode,
                   ingress_service=str(doc.get("ingressService") or "istio-ingressgateway"),
                   extension_providers=providers,
                   default_providers=_mapping(doc.get("defaultProviders")), raw=doc)


class Context:
    """What an analyzer sees: the objects, mesh config, mesh networks and indexes; and where it reports.

    ``clusters`` (optional) maps a cluster name to its own Snapshot, for the multi-cluster analyzers.
    """

    def __init__(self, snap: Snapshot, mesh: MeshConfig | None = None, *, mesh_networks: dict | None = None,
                 istio_namespace: str = ISTIO_SYSTEM, clusters: dict[str, Snapshot] | None = None) -> None:
        self.snap = snap
        self.mesh = mesh or MeshConfig()
        self.mesh_networks = mesh_networks if isinstance(mesh_networks, dict) else {"networks": {}}
        self.istio_namespace = istio_namespace
        self.clusters = clusters or {}
        self.messages: list[Message] = []
        self.current = ""
        self._filtered: dict[str, list[dict]] = {}
        self._extra: dict[str, list[dict]] | None = None
        self._pods: LabelIndex | None = None
        self._memo: dict[str, Any] = {}

    # -- reporting ------------------------------------------------------------------------------
    def report(self, code: str, obj: dict, *args: Any, kind: str | None = None, path: str = "") -> None:
        """Report ``code`` about ``obj``, the message rendered from the catalog template with ``args``."""
        mt = CATALOG[code]
        k = kind or str(obj.get("kind") or "")
        namespace = ns_of(obj) if self._namespaced(obj) else ""
        if path and not field_exists(obj, path):
            path = ""  # Istio sets a line only when the field is in the file
        self.messages.append(Message(code, mt.level, mt.render(*args), k, namespace or None, name_of(obj),
                                     self.current, path, str(obj.get("_cluster") or "")))

    @staticmethod
    def _namespaced(obj: dict) -> bool:
        api, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        k = kind_for(api, kind) or needed_kind_for(api, kind)
        if k is not None:
            return k.namespaced
        return bool(ns_of(obj))

    # -- lookups ---------------------------------------------------------------------------------
    def _all(self, key: str) -> list[dict]:
        items = self._filtered.get(key)
        if items is None:
            raw = self.snap.objects.get(key)
            if raw is None and key in NEEDED and key not in KINDS:
                raw = self._unknown_of(key)
            raw = raw or []
            if key == "Namespace":
                items = [o for o in raw if name_of(o) not in IGNORED_NAMESPACES]
            else:
                items = [o for o in raw if ns_of(o) not in IGNORED_NAMESPACES]
            if len(items) == len(raw):
                items = raw
            self._filtered[key] = items
        return items

    def _unknown_of(self, key: str) -> list[dict]:
        """Objects of a kind kube/kinds.py does not model yet (kinds_needed.py), from the snapshot's unknowns."""
        if self._extra is None:
            self._extra = {}
            for _, obj in self.snap.unknown:
                k = needed_kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
                if k is None:
                    continue
                meta = obj.get("metadata")
                if not isinstance(meta, dict):
                    continue
                if k.namespaced and not meta.get("namespace") and self.snap.source == "files":
                    obj = {**obj, "metadata": {**meta, "namespace": getattr(self.snap, "_default_ns", None)
                                               or "default"}}
                self._extra.setdefault(k.key, []).append(obj)
        return self._extra.get(key, [])

    def of(self, key: str, namespace: str | None = None) -> list[dict]:
        if namespace is None:
            return self._all(key)
        if namespace in IGNORED_NAMESPACES:
            return []
        if key in self.snap.objects:
            return self.snap.of(key, namespace)
        return [o for o in self._all(key) if ns_of(o) == namespace]

    def find(self, key: str, name: str, namespace: str | None = None) -> dict | None:
        """The object ``namespace/name`` of kind ``key`` (cluster-scoped kinds: namespace None)."""
        index = self._memo.get(f"find:{key}")
        if index is None:
            index = {}
            for o in self._all(key):
                index.setdefault((ns_of(o), name_of(o)), o)
            self._memo[f"find:{key}"] = index
        return index.get((namespace or "", name))

    def namespaces(self) -> list[str]:
        return [n for n in self.snap.namespaces() if n not in IGNORED_NAMESPACES]

    @property
    def pods(self) -> LabelIndex:
        """Every analyzed Pod, indexed by namespace and label."""
        if self._pods is None:
            items = self._all("Pod")
            self._pods = pod_index(self.snap) if items is self.snap.objects.get("Pod") else LabelIndex(items)
        return self._pods

    def pods_matching(self, namespace: str | None, selector: dict[str, str] | None) -> list[dict]:
        return self.pods.select(namespace, selector)

    def memo(self, key: str, build: Any) -> Any:
        """A value computed once per analysis (shared by analyzers), e.g. an index of ServiceEntry hosts."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_exists(obj: dict, path: str) -> bool:
    """Whether a JSONPath-like ``{.spec.http[0].route[1].destination.host}`` names a scalar field of ``obj``:
    Istio's field map (file.BuildFieldPathMap) has a line for scalars only, so a message about a mapping or a
    list has no line. ``{.metadata.annotations.<name>}`` takes the rest as one annotation name."""
    inner = path.strip("{}").lstrip(".")
    if inner.startswith("metadata.annotations."):
        return inner[len("metadata.annotations."):] in (annotations_of(obj) or {})
    if inner.startswith("metadata.labels."):
        return inner[len("metadata.labels."):] in (labels_of(obj) or {})
    cur: Any = obj
    for name, index in _PATH_TOKEN.findall(inner):
        if name:
            if not isinstance(cur, dict) or name not in cur:
                return False
            cur = cur[name]
        else:
            i = int(index)
            if not isinstance(cur, list) or i >= len(cur):
                return False
            cur = cur[i]
    return not isinstance(cur, (dict, list))


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Analyzer:
    """One check. Subclasses set ``name``, ``description`` and ``inputs`` and implement ``analyze``.

    ``inputs`` are snapshot kind keys (plus ``MeshConfig`` / ``MeshNetworks``), as Istio's Metadata.Inputs;
    ``aliases`` are former names still accepted by ``--only``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()

    def analyze(self, ctx: Context) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def suppressed(msg: Message, rules: Iterable[str]) -> bool:
    """``CODE=Kind ns/name`` rules with globs, as istioctl's --suppress."""
    for rule in rules:
        code, _, resource = rule.partition("=")
        if fnmatch.fnmatchcase(msg.code, code.strip()) and fnmatch.fnmatchcase(msg.origin, resource.strip()):
            return True
    return False


def sort_messages(msgs: list[Message]) -> list[Message]:
    """Istio's order (diag.Messages.Sort): level, code, then Kind/name/namespace, then the text."""
    return sorted(msgs, key=lambda m: (LEVEL_ORDER.get(m.level, 9), m.code,
                                       f"{m.kind}/{m.name}/{m.namespace or ''}", m.message))


def dedupe(msgs: list[Message]) -> list[Message]:
    """Istio's SortedDedupedCopy: two messages are one when level, code, resource, field and text agree."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for m in msgs:
        key = (m.cluster, m.level, m.code, m.origin, m.path, m.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out


__all__ = ["Analyzer", "Context", "MeshConfig", "Message", "matches", "suppressed", "sort_messages", "dedupe",
           "IGNORED_NAMESPACES", "labels_of"]
