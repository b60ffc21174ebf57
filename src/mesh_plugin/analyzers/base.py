"""The analysis framework: analyzers declare name, description and inputs; a context collects messages."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from .messages import CATALOG, LEVEL_ORDER


@dataclass
class Message:
    code: str
    level: str
    message: str
    kind: str
    namespace: str | None
    name: str
    analyzer: str = ""

    @property
    def origin(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def documentation_url(self) -> str:
        return CATALOG[self.code].url

    def line(self) -> str:
        return f"{self.level} [{self.code}] ({self.origin}) {self.message}"


@dataclass
class MeshConfig:
    root_namespace: str = "istio-system"
    trust_domain: str = "cluster.local"
    proxy_metadata: dict[str, str] = field(default_factory=dict)
    image_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, doc: dict | None) -> "MeshConfig":
        doc = doc or {}
        dc = doc.get("defaultConfig") or {}
        return cls(root_namespace=doc.get("rootNamespace") or "istio-system",
                   trust_domain=doc.get("trustDomain") or "cluster.local",
                   proxy_metadata={str(k): str(v) for k, v in (dc.get("proxyMetadata") or {}).items()},
                   image_type=((dc.get("image") or {}).get("imageType")), raw=doc)


class Context:
    """What an analyzer sees: the snapshot, mesh config and helpers; and where it reports."""

    def __init__(self, snap: Snapshot, mesh: MeshConfig | None = None) -> None:
        self.snap = snap
        self.mesh = mesh or MeshConfig()
        self.messages: list[Message] = []
        self.current = ""

    # -- reporting ------------------------------------------------------------------------------
    def report(self, code: str, obj: dict, *args: Any, kind: str | None = None) -> None:
        mt = CATALOG[code]
        try:
            text = mt.template.format(*args)
        except (IndexError, KeyError):
            text = mt.template
        k = kind or str(obj.get("kind") or "")
        key = self._key_for(obj)
        namespaced = KINDS[key].namespaced if key in KINDS else bool(ns_of(obj))
        self.messages.append(Message(code, mt.level, text, k, ns_of(obj) if namespaced and ns_of(obj) else None,
                                     name_of(obj), self.current))

    @staticmethod
    def _key_for(obj: dict) -> str:
        from ..kube.kinds import kind_for

        k = kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        return k.key if k else ""

    # -- lookups ---------------------------------------------------------------------------------
    def of(self, key: str, namespace: str | None = None) -> list[dict]:
        return self.snap.of(key, namespace)

    def namespaces(self) -> list[str]:
        return self.snap.namespaces()

    def pods_matching(self, namespace: str | None, selector: dict[str, str] | None) -> list[dict]:
        return [p for p in self.of("Pod", namespace) if matches(selector or {}, labels_of(p))]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Analyzer:
    """One check. Subclasses set ``name``, ``description`` and ``inputs`` and implement ``analyze``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()

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
    return sorted(msgs, key=lambda m: (LEVEL_ORDER.get(m.level, 9), m.code, m.kind, m.namespace or "", m.name))
