"""Where the tools get their data: a live cluster (kubeconfig context or in-cluster) or files.

One Runtime per process, configured by the surface (``serve``, the CLI, ``chat``).
The Kubernetes client is created on first use, so start-up never touches the
network and a missing cluster becomes a clear error from the tool, not a crash.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, MeshError, NotFound

#: the most characters of a caller's value an error message repeats
MAX_ECHO = 100
#: file arguments: longest path, and longest single name in it (Linux PATH_MAX / NAME_MAX)
MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255

TRUTHY = ("1", "true", "yes", "y", "on", "enabled")
FALSY = ("0", "false", "no", "n", "off", "disabled", "")


def clip_value(value: object, limit: int = MAX_ECHO) -> str:
    """A caller's value as an error message may show it: at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def clip_path(path: object, limit: int = MAX_ECHO) -> str:
    """A file path as an error message may show it: its last ``limit`` characters (the file name)."""
    text = path if isinstance(path, str) else str(path)
    return text if len(text) <= limit else f"...{text[-limit:]} ({len(text)} characters)"


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable: 1/true/yes/y/on/enabled or 0/false/no/n/off/disabled/empty (any case,
    surrounding blanks ignored); unset gives ``default``. Any other value is refused (InvalidInput): a
    switch such as read-only mode must never be silently ignored."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUTHY:
        return True
    if value in FALSY:
        return False
    raise InvalidInput(f"{name}={clip_value(raw)!r} is neither true nor false, so mesh-plugin does not start.",
                       hint=f"set {name} to one of {', '.join(TRUTHY)} (on) or {', '.join(FALSY[:-1])} "
                            "or empty (off), or unset it.")


@dataclass
class Runtime:
    kubeconfig: str | None = None
    context: str | None = None
    timeout: float = 10.0
    read_only: bool = False
    #: the operator's Prometheus (--prometheus-url / MESH_PLUGIN_PROMETHEUS_URL); tools never take a URL
    prometheus_url: str | None = None
    #: seconds a LIST result is reused by later questions (0: never). The MCP server sets it; writes clear it.
    snapshot_ttl: float = 0.0
    #: when set (the MCP server sets it), file inputs must resolve inside this folder
    files_root: str | None = None
    _client: Any = field(default=None, repr=False)
    _sweeper: Any = field(default=None, repr=False)
    #: kinds the cluster does not serve, as last read
    _absent: set[str] = field(default_factory=set, repr=False)
    #: (kind, namespace or None for all, fieldSelector) -> (read at, objects); expired entries are dropped
    _cache: dict[tuple[str, str | None, str | None], tuple[float, list[dict]]] = field(default_factory=dict,
                                                                                      repr=False)

    def client(self) -> Any:
        if self._client is None:
            from .kube.client import KubeClient

            self._client = KubeClient.connect(self.kubeconfig, self.context, timeout=self.timeout)
        return self._client

    def reset(self) -> None:
        self._client = None
        self._cache.clear()

    def invalidate(self) -> None:
        self._cache.clear()

    def snapshot(self, keys: Iterable[str], namespace: str | None = None, paths: list[str] | None = None,
                 fresh: bool = False, *, scoped: str | None = None, mesh_config: bool = False) -> Any:
        """One LIST per kind from the cluster (reused for ``snapshot_ttl`` seconds), or the objects in
        ``paths`` (offline).

        ``fresh``: read every kind from the cluster now, whatever the cache holds, and keep the result in
        the cache (a write is computed from a fresh read, never a cached one).
        ``scoped``: a question about this one namespace: what it reads grows with the namespace, not the
        mesh (see :meth:`scope_plan`). Offline, files are read whole either way.
        ``mesh_config``: the ConfigMap kind is read as the mesh config only (every ConfigMap named istio).
        """
        from .kube.snapshot import Snapshot

        if paths:
            memo = _CALL.get()
            key = tuple(paths)
            if memo is not None and key in memo["files"]:
                return memo["files"][key]  # the same files, read once per call
            paths = [self.check_path(p) for p in paths]
            snap = Snapshot.from_paths(paths)
            if not snap.objects and not snap.unknown and snap.errors:  # unreadable; an empty file is no error
                why = "; ".join(f"{clip_path(e.source)}: {clip_value(e.message, 300)}" for e in snap.errors[:3])
                shown = ", ".join(clip_path(p) for p in paths[:3]) + (f" and {len(paths) - 3} more"
                                                                       if len(paths) > 3 else "")
                raise InvalidInput(f"No Kubernetes objects could be read from {shown} "
                                   f"({why or 'no YAML objects found'}).",
                                   hint="pass YAML/JSON manifests (files, folders or - for stdin).")
            if memo is not None:
                memo["files"][key] = snap
            return snap
        client = self.client()
        if namespace:
            self.require_namespace(namespace)
        if scoped:
            self.require_namespace(scoped)
        keys = list(dict.fromkeys(keys))
        from .kube.kinds import get_kind

        plan: dict[str, tuple[str | None, ...]] = {k: (namespace,) if get_kind(k).namespaced else (None,)
                                                   for k in keys}
        selectors: dict[str, str] = {}
        if scoped:
            plan, selectors = self.scope_plan(keys, scoped, fresh)
        elif mesh_config and "ConfigMap" in plan:
            from .kube.kinds import MESH_CONFIG_SELECTOR

            plan["ConfigMap"], selectors = (None,), {"ConfigMap": MESH_CONFIG_SELECTOR}
        snap = Snapshot(source=f"cluster {client.context or client.host}", namespace=namespace)
        for key in keys:
            snap.objects[key] = []
        todo: dict[str, tuple[str | None, ...]] = {}
        for key in keys:
            hit = self._cached(key, plan[key], selectors.get(key), fresh)
            if hit is None:
                todo[key] = plan[key]
            else:
                snap.objects[key] = hit
                if key in self._absent:
                    snap.absent.add(key)
        if todo:
            got = Snapshot.from_cluster(client, todo, None, scope=todo, field_selectors=selectors)
            snap.absent |= got.absent
            self._absent = (self._absent - set(todo)) | got.absent
            for key, spaces in todo.items():
                snap.objects[key] = got.objects.get(key, [])
                self._remember(key, spaces, selectors.get(key), got.objects.get(key, []))
        return snap

    #: how many (kind, namespace, selector) LIST results the cache keeps at most
    CACHE_ENTRIES = 256

    def scope_plan(self, keys: list[str], namespace: str, fresh: bool = False
                   ) -> tuple[dict[str, tuple[str | None, ...]], dict[str, str]]:
        """What a question about one namespace LISTs, per kind: per-workload kinds (pods, services,
        controllers, ...) in that namespace; policies in it and the mesh's root namespace (from the mesh
        config, default istio-system); ConfigMaps as the mesh config only (fieldSelector metadata.name=istio,
        every namespace); routing kinds and cluster-scoped kinds whole, as they apply across namespaces."""
        from .kube.kinds import KINDS, LOCAL_KEYS, MESH_CONFIG_SELECTOR, POLICY_KEYS

        selectors = {"ConfigMap": MESH_CONFIG_SELECTOR}
        root = "istio-system"
        if any(k in POLICY_KEYS for k in keys):
            root = self._root_namespace(fresh)
        plan: dict[str, tuple[str | None, ...]] = {}
        for k in keys:
            if not KINDS[k].namespaced or k == "ConfigMap":
                plan[k] = (None,)
            elif k in LOCAL_KEYS:
                plan[k] = (namespace,)
            elif k in POLICY_KEYS:
                plan[k] = (namespace, root)
            else:
                plan[k] = (None,)
        return plan, selectors

    def _root_namespace(self, fresh: bool) -> str:
        from .kube.kinds import MESH_CONFIG_SELECTOR
        from .kube.snapshot import Snapshot
        from .mesh.mtls import root_and_auto_mtls

        items = self._cached("ConfigMap", (None,), MESH_CONFIG_SELECTOR, fresh)
        if items is None:
            items = Snapshot.from_cluster(self.client(), ["ConfigMap"], None,
                                          field_selectors={"ConfigMap": MESH_CONFIG_SELECTOR}).objects["ConfigMap"]
            self._remember("ConfigMap", (None,), MESH_CONFIG_SELECTOR, items)
        return root_and_auto_mtls(Snapshot(objects={"ConfigMap": items}))[0]

    def _expire(self, now: float) -> None:
        """Drop the cache's expired entries, then the oldest beyond CACHE_ENTRIES (memory stays bounded)."""
        entries = list(self._cache.items())  # one atomic copy: tool calls run in threads
        for k, v in entries:
            if now - v[0] >= self.snapshot_ttl:
                self._cache.pop(k, None)
        if len(self._cache) > self.CACHE_ENTRIES:
            entries = sorted(self._cache.items(), key=lambda kv: kv[1][0])
            for k, _ in entries[:len(entries) - self.CACHE_ENTRIES]:
                self._cache.pop(k, None)

    def _cached(self, key: str, spaces: tuple[str | None, ...], selector: str | None, fresh: bool
                ) -> list[dict] | None:
        """The objects of ``key`` in ``spaces`` from unexpired cache entries (a whole-cluster entry answers for
        any namespace), or None when any is missing."""
        if self.snapshot_ttl <= 0 or fresh:
            return None
        import time

        self._expire(time.monotonic())
        out: list[dict] = []
        for ns in dict.fromkeys(spaces):
            hit = self._cache.get((key, ns, selector))
            if hit is not None:
                out += hit[1]
                continue
            whole = self._cache.get((key, None, selector)) or (self._cache.get((key, None, None)) if selector
                                                                  is None else None)
            if whole is None or ns is None:
                return None
            out += [o for o in whole[1] if (o.get("metadata") or {}).get("namespace") == ns]
        return out

    def _remember(self, key: str, spaces: tuple[str | None, ...], selector: str | None, items: list[dict]) -> None:
        if self.snapshot_ttl <= 0:
            return
        import time

        now = time.monotonic()
        if None in spaces:
            self._cache[(key, None, selector)] = (now, items)
        else:
            by_ns: dict[str | None, list[dict]] = {ns: [] for ns in spaces}
            for o in items:
                ns = (o.get("metadata") or {}).get("namespace")
                if ns in by_ns:
                    by_ns[ns].append(o)
            for ns, objs in by_ns.items():
                self._cache[(key, ns, selector)] = (now, objs)
        self._expire(now)
        self._schedule_sweep(now + self.snapshot_ttl)

    def _schedule_sweep(self, due: float) -> None:
        """Expire entries at ``due`` (monotonic) even when no call comes: an idle server holds no stale LISTs."""
        import threading
        import time

        current = self._sweeper
        if current is not None and current[1] <= due and current[0].is_alive():
            return
        if current is not None:
            current[0].cancel()
        timer = threading.Timer(max(0.0, due - time.monotonic()) + 0.05, self._sweep)
        timer.daemon = True
        self._sweeper = (timer, due)
        timer.start()

    def _sweep(self) -> None:
        import time

        self._sweeper = None
        try:
            self._expire(time.monotonic())
            if self._cache:
                self._schedule_sweep(min(v[0] for v in list(self._cache.values())) + self.snapshot_ttl)
        except (RuntimeError, ValueError):  # the cache changed under us (a concurrent call): it sweeps then
            return

    def check_path(self, path: str) -> str:
        """A file argument, checked: the path to open (its real path inside ``files_root`` when one is set).

        Refuses, with InvalidInput and a next step: an empty path (it would mean the whole folder), a NUL
        byte, an over-long path or name, ``-`` (stdin) for a remote caller, and anything whose real path,
        symbolic links resolved, is outside ``files_root``. Every file a tool opens goes through here,
        by :meth:`read_file`.
        """
        if not isinstance(path, str) or not path.strip():
            raise InvalidInput("An empty file path was given.",
                               hint="name a file or folder (. for the whole current folder).")
        if "\0" in path:
            raise InvalidInput(f"The file path {clip_path(path)!r} contains a NUL byte.",
                               hint="pass the path of an existing file or folder.")
        if len(path) > MAX_PATH_CHARS or any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in path.split(os.sep)):
            raise InvalidInput(f"The file path {clip_path(path)!r} is too long ({len(path)} characters; at most "
                               f"{MAX_PATH_CHARS}, and {MAX_NAME_BYTES} bytes per name).",
                               hint="pass the path of an existing file or folder.")
        if path == "-" and self.files_root is None:
            return path
        if self.files_root is None:
            return path
        root = os.path.realpath(self.files_root)
        real = os.path.realpath(os.path.join(root, path))
        if path == "-" or not self.inside_root(real):
            raise InvalidInput(f"File input {clip_path(path)!r} is outside the allowed folder {clip_path(root)}"
                               + (" (through a symbolic link)." if path != "-" and self.inside_root(
                                   os.path.abspath(os.path.join(root, path))) else "."),
                               hint="pass paths inside that folder (MESH_PLUGIN_FILES_ROOT sets it).")
        return real

    def inside_root(self, real: str) -> bool:
        """Whether the real path ``real`` is inside ``files_root`` (always, when no root is set)."""
        if self.files_root is None:
            return True
        root = os.path.realpath(self.files_root)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def read_file(self, path: str, *, max_bytes: int, what: str = "file", hint: str | None = None) -> bytes:
        """The bytes of one input file: checked by :meth:`check_path` (so its real path is inside
        ``files_root``), a regular file (not a folder, FIFO or device), and at most ``max_bytes`` long,
        which is checked before reading. Every failure is typed, its message naming the file, never its
        content."""
        path = self.check_path(path)
        if path == "-":
            raise InvalidInput(f"A {what} cannot be read from stdin here.", hint="pass a file path.")
        real = os.path.realpath(path)
        if not self.inside_root(real):  # belt and braces: check_path resolved it already
            raise InvalidInput(f"{clip_path(path)} is outside the allowed folder.",
                               hint="pass paths inside that folder (MESH_PLUGIN_FILES_ROOT sets it).")
        shown = clip_path(path)
        next_step = hint or f"pass an existing {what}."
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(real, flags)
        except FileNotFoundError:
            raise NotFound(f"No such {what}: {shown}.", hint=next_step) from None
        except IsADirectoryError:
            raise InvalidInput(f"{shown} is a folder, not a {what}.", hint=next_step) from None
        except PermissionError:
            raise InvalidInput(f"The {what} {shown} cannot be read: permission denied.", hint=next_step) from None
        except OSError as e:
            raise InvalidInput(f"The {what} {shown} cannot be opened: {e.strerror or type(e).__name__}.",
                               hint=next_step) from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise InvalidInput(f"{shown} is a folder, not a {what}.", hint=next_step)
            if not stat.S_ISREG(st.st_mode):
                raise InvalidInput(f"{shown} is not a regular file (a device, pipe or socket), so it is not read.",
                                   hint=next_step)
            if st.st_size > max_bytes:
                raise InvalidInput(f"The {what} {shown} is {st.st_size} bytes, over the {max_bytes}-byte limit.",
                                   hint=hint or f"pass a smaller {what}.")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > max_bytes:  # it grew while being read
                raise InvalidInput(f"The {what} {shown} is over the {max_bytes}-byte limit.",
                                   hint=hint or f"pass a smaller {what}.")
            return b"".join(chunks)
        except OSError as e:
            raise InvalidInput(f"The {what} {shown} cannot be read: {e.strerror or type(e).__name__}.",
                               hint=next_step) from None
        finally:
            os.close(fd)

    def require_namespace(self, namespace: str) -> None:
        from .kube.kinds import KINDS

        memo = _CALL.get()
        if memo is not None and namespace in memo["namespaces"]:
            return
        try:
            self.client().get(KINDS["Namespace"], namespace)
        except NotFound:
            raise NotFound(f"Namespace {namespace!r} does not exist in {self.describe()}.",
                           hint="list namespaces with mesh_overview, or check the --context.") from None
        if memo is not None:
            memo["namespaces"].add(namespace)

    def resolve_scope(self, namespace: str, files: list[str] | None) -> None:
        """The one existence rule, live and offline: a namespace a question names must exist, in the cluster
        or in the files (read once per call: the answer reuses them)."""
        if not files:
            self.require_namespace(namespace)
            return
        snap = self.snapshot((), None, files)
        if namespace not in snap.namespaces():
            raise NotFound(f"Namespace {namespace!r} does not appear in the files.",
                           hint=f"namespaces there: {', '.join(snap.namespaces()[:10]) or '(none)'}.")

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
#: what one call has already resolved: namespaces known to exist, file sets read (see :func:`call_scope`)
_CALL: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mesh_plugin_call", default=None)


@contextlib.contextmanager
def call_scope() -> Iterator[None]:
    """One tool call: a namespace is checked once and a file set read once, however often the call asks."""
    token = _CALL.set({"namespaces": set(), "files": {}})
    try:
        yield
    finally:
        _CALL.reset(token)


def _register_invalidation() -> None:
    from .changes.path import on_change

    on_change(RUNTIME.invalidate)


_register_invalidation()


def configure(kubeconfig: str | None = None, context: str | None = None, timeout: float | None = None,
              read_only: bool | None = None, prometheus_url: str | None = None) -> Runtime:
    from .metrics.prometheus import normalize_url

    env_read_only = env_flag("MESH_PLUGIN_READ_ONLY")  # refuses an unknown value before anything changes
    prom = prometheus_url or os.environ.get("MESH_PLUGIN_PROMETHEUS_URL", "").strip() or None
    RUNTIME.prometheus_url = normalize_url(prom) if prom else None
    RUNTIME.kubeconfig = kubeconfig or os.environ.get("MESH_PLUGIN_KUBECONFIG") or None
    RUNTIME.context = context or os.environ.get("MESH_PLUGIN_CONTEXT") or None
    if timeout is not None:
        RUNTIME.timeout = timeout
    if read_only is not None:
        RUNTIME.read_only = read_only
    if env_read_only:
        RUNTIME.read_only = True
    ttl = os.environ.get("MESH_PLUGIN_SNAPSHOT_TTL")
    if ttl is not None:
        try:
            RUNTIME.snapshot_ttl = max(0.0, float(ttl))
        except ValueError:
            pass
    RUNTIME.reset()
    return RUNTIME
