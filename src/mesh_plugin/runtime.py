"""Where the tools get their data: a live cluster (kubeconfig context or in-cluster) or files.

One Runtime per process, configured by the surface (``serve``, the CLI, ``chat``).
The Kubernetes client is created on first use, so start-up never touches the
network and a missing cluster becomes a clear error from the tool, not a crash.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, MeshError, NotFound


@dataclass
class Runtime:
    kubeconfig: str | None = None
    context: str | None = None
    timeout: float = 10.0
    read_only: bool = False
    _client: Any = field(default=None, repr=False)

    def client(self) -> Any:
        if self._client is None:
            from .kube.client import KubeClient

            self._client = KubeClient.connect(self.kubeconfig, self.context, timeout=self.timeout)
        return self._client

    def reset(self) -> None:
        self._client = None

    def snapshot(self, keys: Iterable[str], namespace: str | None = None, paths: list[str] | None = None) -> Any:
        """One LIST per kind from the cluster, or the objects in ``paths`` (offline)."""
        from .kube.snapshot import Snapshot

        if paths:
            snap = Snapshot.from_paths(paths)
            if not snap.objects and not snap.unknown:
                why = "; ".join(f"{e.source}: {e.message}" for e in snap.errors[:5]) or "no YAML objects found"
                raise InvalidInput(f"No Kubernetes objects could be read from {', '.join(paths)} ({why}).",
                                   hint="pass YAML/JSON manifests (files, folders or - for stdin).")
            return snap
        client = self.client()
        if namespace:
            self.require_namespace(namespace)
        return Snapshot.from_cluster(client, keys, namespace)

    def require_namespace(self, namespace: str) -> None:
        from .kube.kinds import KINDS

        try:
            self.client().get(KINDS["Namespace"], namespace)
        except NotFound:
            raise NotFound(f"Namespace {namespace!r} does not exist in {self.describe()}.",
                           hint="list namespaces with mesh_overview, or check the --context.") from None

    def kubernetes_version(self) -> str | None:
        try:
            v = self.client().version()
        except MeshError:
            return None
        return str(v.get("gitVersion") or f"v{v.get('major')}.{v.get('minor')}")

    def describe(self) -> str:
        c = self._client
        return f"cluster {c.context or c.host}" if c is not None else "the cluster"


RUNTIME = Runtime()


def configure(kubeconfig: str | None = None, context: str | None = None, timeout: float | None = None,
              read_only: bool | None = None) -> Runtime:
    RUNTIME.kubeconfig = kubeconfig or os.environ.get("MESH_PLUGIN_KUBECONFIG") or None
    RUNTIME.context = context or os.environ.get("MESH_PLUGIN_CONTEXT") or None
    if timeout is not None:
        RUNTIME.timeout = timeout
    if read_only is not None:
        RUNTIME.read_only = read_only
    if os.environ.get("MESH_PLUGIN_READ_ONLY", "").lower() in ("1", "true", "yes"):
        RUNTIME.read_only = True
    RUNTIME.reset()
    return RUNTIME
