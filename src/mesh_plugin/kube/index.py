"""Indexes over a Snapshot, built once and looked up many times (issue 23: analysis linear in objects).

``pod_index(snap)`` indexes the snapshot's Pods by namespace and by label; it is cached on the
snapshot object and rebuilt only when Pods were added since. ``LabelIndex`` indexes any list of
objects (or label sets) the same way, for callers that need a filtered or augmented view.

Lookups answer "which objects in namespace N (or anywhere) carry every label of selector S": the
smallest posting list among S's ``key=value`` pairs is scanned and the rest of S checked on it, so a
selector costs the size of its rarest label, not the number of pods. Results are memoized per
(namespace, selector) for the life of the index.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .snapshot import Snapshot, labels_of, ns_of

ANY_NAMESPACE = None
_CACHE_ATTR = "_mesh_plugin_indexes"


def _frozen(selector: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (selector or {}).items()))


class LabelIndex:
    """Objects by namespace and by (namespace, label key, label value).

    ``labels`` gives the labels an item is matched on (the object's own by default), ``namespace`` its
    namespace.
    """

    def __init__(self, items: Iterable[Any], labels: Callable[[Any], Mapping[str, Any]] = labels_of,
                 namespace: Callable[[Any], str] = ns_of) -> None:
        self.items: list[Any] = list(items)
        self._labels: list[dict[str, str]] = []
        self.by_namespace: dict[str, list[int]] = {}
        self._postings: dict[tuple[str | None, str, str], list[int]] = {}
        for i, item in enumerate(self.items):
            lbls = {str(k): str(v) for k, v in (labels(item) or {}).items()}
            self._labels.append(lbls)
            ns = namespace(item)
            self.by_namespace.setdefault(ns, []).append(i)
            for k, v in lbls.items():
                self._postings.setdefault((ns, k, v), []).append(i)
                self._postings.setdefault((None, k, v), []).append(i)
        self._memo: dict[tuple[str | None, tuple[tuple[str, str], ...]], list[Any]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def labels(self, i: int) -> dict[str, str]:
        return self._labels[i]

    def in_namespace(self, namespace: str | None) -> list[Any]:
        if namespace is None:
            return self.items
        return [self.items[i] for i in self.by_namespace.get(namespace, ())]

    def namespaces(self) -> list[str]:
        return list(self.by_namespace)

    def _candidates(self, namespace: str | None, sel: tuple[tuple[str, str], ...]) -> list[int]:
        if not sel:
            return list(range(len(self.items))) if namespace is None else list(self.by_namespace.get(namespace, ()))
        best: list[int] | None = None
        for k, v in sel:
            posting = self._postings.get((namespace, k, v))
            if not posting:
                return []
            if best is None or len(posting) < len(best):
                best = posting
        return best or []

    def select(self, namespace: str | None, selector: Mapping[str, Any] | None) -> list[Any]:
        """Items in ``namespace`` (None: every namespace) whose labels include every pair of ``selector``.

        An empty selector selects every item of the namespace (as a Kubernetes label selector does)."""
        sel = _frozen(selector)
        key = (namespace, sel)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        out = []
        for i in self._candidates(namespace, sel):
            lbls = self._labels[i]
            if all(lbls.get(k) == v for k, v in sel):
                out.append(self.items[i])
        if len(self._memo) < 100_000:
            self._memo[key] = out
        return out

    def any(self, namespace: str | None, selector: Mapping[str, Any] | None) -> bool:
        return bool(self.select(namespace, selector))

    def first(self, namespace: str | None, selector: Mapping[str, Any] | None) -> Any | None:
        found = self.select(namespace, selector)
        return found[0] if found else None


def _cache(snap: Snapshot) -> dict[str, tuple[tuple[int, int], LabelIndex]]:
    cache = snap.__dict__.get(_CACHE_ATTR)
    if cache is None:
        cache = {}
        snap.__dict__[_CACHE_ATTR] = cache
    return cache


def kind_index(snap: Snapshot, key: str) -> LabelIndex:
    """A LabelIndex of the snapshot's objects of kind ``key``, cached on the snapshot; rebuilt when objects
    of that kind were added (or the list replaced) since it was built."""
    items = snap.objects.get(key, [])
    token = (id(items), len(items))
    cache = _cache(snap)
    hit = cache.get(key)
    if hit is not None and hit[0] == token:
        return hit[1]
    index = LabelIndex(items)
    cache[key] = (token, index)
    return index


def pod_index(snap: Snapshot) -> LabelIndex:
    """The snapshot's Pods by namespace and label (see ``kind_index``)."""
    return kind_index(snap, "Pod")


__all__ = ["LabelIndex", "kind_index", "pod_index", "ANY_NAMESPACE"]
