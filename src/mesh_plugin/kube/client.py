"""One Kubernetes client for every call: kubeconfig context or in-cluster.

It drives the official ``kubernetes`` client's ApiClient generically (one
request path for core kinds and CRDs alike), with a timeout on every request,
paginated LISTs and typed errors (:mod:`mesh_plugin.errors`).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from .. import deadline
from ..errors import Conflict, Forbidden, InvalidInput, MeshError, NotFound, ServerError, Timeout, Unreachable
from .kinds import Kind

log = logging.getLogger("mesh_plugin.kube")

DEFAULT_TIMEOUT = 10.0
PAGE_SIZE = 500
#: the largest answer read from the API (a page of LIST, a config dump through the pod proxy)
MAX_BODY = int(os.environ.get("MESH_PLUGIN_MAX_API_BODY", str(64 * 1024 * 1024)))
#: requests in flight to the API at once, per client; callers beyond wait (within their deadline)
MAX_IN_FLIGHT = 8
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )


class KubeClient:
    """A thin, typed wrapper over ``kubernetes.client.ApiClient``.

    Create it with :meth:`connect`. Every method raises a :class:`MeshError`
    subclass on failure, never a raw client exception.
    """

    def __init__(self, api_client: Any, *, context: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.api = api_client
        self.context = context
        self.timeout = timeout
        self.host = api_client.configuration.host
        self.requests_made = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def connect(
        cls, kubeconfig: str | None = None, context: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> "KubeClient":
        """From a kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``) and context, or in-cluster."""
        from kubernetes import config as kconfig
        from kubernetes.client.api_client import ApiClient
        from kubernetes.client.configuration import Configuration

        cfg = Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser(
            "~/.kube/config"
        )
        if os.path.exists(path):
            try:
                contexts, current = kconfig.list_kube_config_contexts(config_file=path)
            except Exception as e:  # malformed kubeconfig
                raise InvalidInput(
                    f"Cannot read kubeconfig {path}: {e}.", hint="fix the file or pass --kubeconfig PATH."
                ) from None
            names = [c["name"] for c in contexts or []]
            if context and context not in names:
                raise NotFound(
                    f"Context {context!r} is not in kubeconfig {path}.",
                    hint=f"use --context with one of: {', '.join(names) or '(none)'}.",
                )
            try:
                kconfig.load_kube_config(config_file=path, context=context, client_configuration=cfg)
            except Exception as e:
                raise InvalidInput(
                    f"Cannot load context {context or (current or {}).get('name')!r} from {path}: {e}.",
                    hint="check the context's cluster and user entries, or pick another --context.",
                ) from None
            ctx_name = context or (current or {}).get("name")
        elif context:
            raise NotFound(f"Context {context!r} requested but no kubeconfig at {path}.",
                           hint="set KUBECONFIG or pass --kubeconfig PATH.")
        elif _in_cluster():
            kconfig.load_incluster_config(client_configuration=cfg)
            ctx_name = "in-cluster"
        else:
            raise NotFound(
                f"No cluster configured: no kubeconfig at {path} and not running in a pod.",
                hint="set KUBECONFIG / pass --kubeconfig and --context, or start the sandbox with --sandbox.",
            )
        cfg.retries = 0  # fail fast on connection errors; reads are retried here, not in urllib3
        return cls(ApiClient(cfg), context=ctx_name, timeout=timeout)

    # -- the one request path ------------------------------------------------------------------
    #: reads are retried on these statuses (honouring Retry-After), writes never are
    RETRY_STATUSES = (429, 500, 502, 503, 504)
    MAX_ATTEMPTS = 3
    MAX_RETRY_WAIT = 5.0

    def request_raw(self, method: str, path: str, *, no_retry: tuple[int, ...] = (), **kw: Any) -> bytes:
        """Send one request; reads (GET) are retried a bounded number of times on 429/5xx with backoff,
        except on the statuses in ``no_retry``."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._request_once(method, path, **kw)
            except ServerError as e:
                if (method != "GET" or e.status not in self.RETRY_STATUSES or e.status in no_retry
                        or attempt >= self.MAX_ATTEMPTS):
                    raise
                wait = min(self.MAX_RETRY_WAIT, getattr(e, "retry_after", None) or 0.2 * 2 ** (attempt - 1))
                left = deadline.remaining()
                if left is not None and left <= wait:
                    raise
                log.info("retrying %s %s after %s (%.1fs)", method, path, e.status, wait)
                time.sleep(wait)

    def _request_once(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        resource: str = "",
        namespace: str | None = None,
    ) -> bytes:
        """Send one request; return the body bytes or raise a typed error."""
        import urllib3.exceptions

        headers = {"Accept": "application/json, */*"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            m, url, hdrs, b, _ = self.api.param_serialize(
                method=method, resource_path=path, query_params=query or [], header_params=headers,
                body=body, auth_settings=["BearerToken"],
            )
        except Exception as e:  # pragma: no cover - serialization of our own dicts
            raise InvalidInput(f"Cannot build request {method} {path}: {e}") from None
        try:
            to = deadline.bound(timeout or self.timeout)
        except TimeoutError:
            raise Timeout(f"{method} {path} was not sent: the call's overall deadline passed.",
                          hint="narrow the question with a namespace, or raise --timeout.") from None
        if not self._slots.acquire(timeout=to):
            raise Timeout(f"{method} {path} was not sent: {MAX_IN_FLIGHT} requests to the API were still in flight "
                          f"after {to:.0f}s.", hint="the API server is slow: retry later, or raise --timeout.")
        with self._lock:
            self.requests_made += 1
        started = time.monotonic()
        raw = None
        complete = False
        try:
            resp = self.api.call_api(m, url, header_params=hdrs, body=b, _request_timeout=(min(to, 5.0), to))
            raw = resp.response
            data = deadline.read_body(raw, to - (time.monotonic() - started), MAX_BODY)
            complete = True
        except deadline.BodyTooLarge as e:
            raise ServerError(f"{method} {path} answered more than {e.limit} bytes: not read.",
                              hint="narrow the question (a namespace, one pod), or raise MESH_PLUGIN_MAX_API_BODY."
                              ) from None
        except Exception as e:  # map transport failures to typed errors
            reason = getattr(e, "reason", None) or e
            refused = isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionError)) or (
                isinstance(reason, OSError) and not isinstance(reason, TimeoutError))
            if not refused and isinstance(reason, (urllib3.exceptions.TimeoutError, TimeoutError)):
                raise Timeout(f"{method} {path} did not answer within {to:.0f}s.",
                              hint="retry, narrow the question with a namespace, or raise --timeout.") from None
            if refused or isinstance(e, (urllib3.exceptions.HTTPError, OSError)):
                raise Unreachable(
                    f"Cannot reach the Kubernetes API at {self.host}: {type(reason).__name__}.",
                    hint="check the cluster is up and the --context/KUBECONFIG points at it (kubectl cluster-info).",
                ) from None
            raise
        finally:
            self._slots.release()
            if raw is not None:
                if not complete:  # a body cut short: never hand its connection back to the pool
                    raw.close()
                raw.release_conn()
        log.debug("%s %s -> %s in %.0f ms", method, path, resp.status, (time.monotonic() - started) * 1000)
        if 200 <= resp.status < 300:
            return data
        try:
            self._raise_for_status(resp.status, data, method, path, resource, namespace)
        except ServerError as e:
            ra = resp.getheader("Retry-After") if hasattr(resp, "getheader") else None
            e.retry_after = float(ra) if ra and str(ra).replace(".", "", 1).isdigit() else None  # type: ignore[attr-defined]
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, path: str, **kw: Any) -> Any:
        data = self.request_raw(method, path, **kw)
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise ServerError(f"{method} {path} answered with a body that is not JSON.") from None

    @staticmethod
    def _raise_for_status(status: int, data: bytes, method: str, path: str, resource: str,
                          namespace: str | None) -> None:
        try:
            st = json.loads(data)
            message = st.get("message") or st.get("reason") or ""
        except ValueError:
            st, message = {}, data[:200].decode("utf-8", "replace")
        what = resource or path
        if status == 404:
            raise NotFound(f"Not found: {what}" + (f" in namespace {namespace!r}" if namespace else "") + ".",
                           hint="check the name and namespace (list them with mesh_overview view=workloads).")
        if status == 403:
            raise Forbidden(_VERBS.get(method, method.lower()), what, namespace, message)
        if status == 401:
            raise Forbidden(_VERBS.get(method, method.lower()), what, namespace,
                            "unauthenticated: the credentials were refused")
        if status == 409:
            raise Conflict(f"Conflict on {what}: {message}",
                           hint="the object changed since it was read; re-read it and retry the change.")
        if status == 410:
            raise ServerError(f"The list of {what} expired on the server (410 Gone) before all pages were read.",
                              status=410, hint="retry: the list restarts from the beginning.")
        if status == 429:
            raise ServerError(f"The API server is throttling requests for {what} (429).", status=429,
                              hint="retry in a few seconds, or narrow the question with a namespace.")
        if status == 422 or status == 400:
            raise InvalidInput(f"The API server rejected {what}: {message}", hint="fix the object and retry.")
        raise ServerError(f"The API server answered {status} to {method} {what}: {message}", status=status,
                          hint="retry later; if it persists, check the API server's health.")

    # -- typed helpers ---------------------------------------------------------------------------
    def list(self, kind: Kind, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[dict]:
        """Yield every object of a kind, page by page (limit/continue). 404 means the API is absent."""
        versions = (kind.version, *kind.fallback_versions)
        for i, version in enumerate(versions):
            try:
                yield from self._list_version(kind, version, namespace, label_selector, field_selector, page_size)
                return
            except NotFound:
                if i == len(versions) - 1:
                    raise

    def list_all(self, kind: Kind, namespace: str | None = None, **kw: Any) -> list[dict]:
        """Every object of a kind; when the continue token expires mid-way (410), the LIST restarts once."""
        try:
            return list(self.list(kind, namespace, **kw))
        except ServerError as e:
            if e.status != 410:
                raise
            log.info("continue token expired listing %s: restarting the list", kind.resource)
            return list(self.list(kind, namespace, **kw))

    def _list_version(self, kind: Kind, version: str, namespace: str | None, label_selector: str | None,
                      field_selector: str | None, page_size: int) -> Iterator[dict]:
        cont: str | None = None
        path = kind.path(namespace=namespace, version=version)
        api_version = f"{kind.group}/{version}" if kind.group else version
        while True:
            q: list[tuple[str, str]] = [("limit", str(page_size))]
            if cont:
                q.append(("continue", cont))
            if label_selector:
                q.append(("labelSelector", label_selector))
            if field_selector:
                q.append(("fieldSelector", field_selector))
            page = self.request("GET", path, query=q, resource=kind.resource, namespace=namespace)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind.kind)
                yield item
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> dict:
        obj = self.request("GET", kind.path(namespace, name), resource=f"{kind.resource}/{name}", namespace=namespace)
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        return obj

    def create(self, kind: Kind, obj: dict, *, dry_run: bool = False) -> dict:
        ns = (obj.get("metadata") or {}).get("namespace")
        q = [("dryRun", "All")] if dry_run else []
        return self.request("POST", kind.path(ns), query=q, body=obj, resource=kind.resource, namespace=ns)

    def replace(self, kind: Kind, obj: dict, *, dry_run: bool = False) -> dict:
        """PUT; the object's metadata.resourceVersion is the precondition (409 when stale)."""
        meta = obj.get("metadata") or {}
        q = [("dryRun", "All")] if dry_run else []
        return self.request("PUT", kind.path(meta.get("namespace"), meta["name"]), query=q, body=obj,
                            resource=kind.resource, namespace=meta.get("namespace"))

    def patch(self, kind: Kind, name: str, namespace: str | None, patch: dict, *, dry_run: bool = False) -> dict:
        q = [("dryRun", "All")] if dry_run else []
        return self.request("PATCH", kind.path(namespace, name), query=q, body=patch,
                            content_type="application/merge-patch+json", resource=kind.resource, namespace=namespace)

    def version(self) -> dict:
        return self.request("GET", "/version", resource="version")

    def pod_proxy(self, namespace: str, pod: str, port: int, path: str,
                  query: list[tuple[str, str]] | None = None, timeout: float | None = None,
                  method: str = "GET") -> bytes:
        """GET (or POST) through the API server's pod proxy; bytes, query string preserved.

        A 502/503 here is the pod's port not answering (a sidecar not ready, a pod going away): it is not
        retried, the caller says UNREACHABLE at once."""
        path = path.lstrip("/")
        return self.request_raw(
            method, f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/{path}", query=query, no_retry=(502, 503),
            timeout=timeout, resource="pods/proxy", namespace=namespace,
            body=b"" if method == "POST" else None, content_type="text/plain",
        )

    def service_proxy(self, namespace: str, service: str, port: int | str, path: str,
                      query: list[tuple[str, str]] | None = None, timeout: float | None = None) -> bytes:
        path = path.lstrip("/")
        return self.request_raw(
            "GET", f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path}", query=query,
            timeout=timeout, resource="services/proxy", namespace=namespace,
        )


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of a kubeconfig context (the current one by default), as kubectl would use it."""
    try:
        from kubernetes import config as kconfig

        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        contexts, current = kconfig.list_kube_config_contexts(config_file=path)
        ctx = next((c for c in contexts if c["name"] == context), current) if context else current
        return str((ctx or {}).get("context", {}).get("namespace") or "default")
    except Exception:  # noqa: BLE001 - no kubeconfig: kubectl's default
        return "default"


__all__ = ["KubeClient", "MeshError", "context_namespace"]
