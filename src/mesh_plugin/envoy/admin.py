"""GET any Envoy admin path of a pod's sidecar, through the API server's pod proxy.

Two gotchas of the official client are avoided by the client's generic request
path: JSON bodies come back as bytes (never a Python repr), and query strings
(``stats?filter=x&format=json``) are passed as query parameters, not escaped into
the path.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidInput, NotFound, ServerError, Unreachable
from ..kube.kinds import KINDS
from ..mesh.workloads import sidecar_of

ADMIN_PORT = 15000
#: read-only admin endpoints (POST /logging is a write and goes through the change path)
READ_PATHS = ("config_dump", "clusters", "stats", "stats/prometheus", "certs", "server_info", "logging",
              "listeners", "ready", "memory", "runtime", "hot_restart_version")
_PATH_RE = re.compile(r"^[a-z_/]+$")


def fetch_admin(client: Any, namespace: str, pod: str, path: str,
                query: list[tuple[str, str]] | None = None, *, check_sidecar: bool = True,
                timeout: float | None = None, method: str = "GET") -> bytes:
    """The admin endpoint's body as bytes. Raises NotFound / InvalidInput / Unreachable with a next step.

    Only ``logging`` takes POST (Envoy lists loggers on a POST without parameters, and sets
    levels with parameters: callers that set levels go through the audited write tool).
    """
    path = path.lstrip("/")
    if not _PATH_RE.match(path) or ".." in path or path not in READ_PATHS:
        raise InvalidInput(f"Unsupported Envoy admin path {path!r}.", hint=f"use one of: {', '.join(READ_PATHS)}.")
    if path == "logging":
        method = "POST"
    elif method != "GET":
        raise InvalidInput(f"Envoy admin path {path!r} is read with GET only.")
    if check_sidecar:
        pod_obj = client.get(KINDS["Pod"], pod, namespace)
        kind = sidecar_of(pod_obj)
        if kind not in ("istio", "istio-gateway"):
            names = [c.get("name") for c in (pod_obj.get("spec") or {}).get("containers") or []]
            raise InvalidInput(
                f"Pod {namespace}/{pod} has no Envoy sidecar (containers: {', '.join(map(str, names))}"
                + (", it runs linkerd-proxy" if kind == "linkerd" else "") + ").",
                hint="pick a meshed pod (list_workloads shows which have sidecar=istio), or inject it "
                     "(label the namespace istio-injection=enabled and restart the workload).")
    try:
        body = client.pod_proxy(namespace, pod, ADMIN_PORT, path, query=query, timeout=timeout, method=method)
    except ServerError as e:
        if e.status in (502, 503):
            raise Unreachable(
                f"The sidecar admin port {ADMIN_PORT} of {namespace}/{pod} is not reachable through the API "
                f"server ({e.status}).",
                hint="check the pod is Running and istio-proxy is ready (kubectl describe pod), then retry.") from None
        raise
    except NotFound:
        raise NotFound(f"Pod {namespace}/{pod} not found.", hint="list pods with list_workloads namespace=...") from None
    if path == "config_dump":
        return redact_config_dump(body)
    return body


_SECRET_KEYS = {"private_key", "password", "hmac_secret", "session_ticket_keys", "client_secret"}


def redact_config_dump(body: bytes) -> bytes:
    """Replace private key material anywhere in a config dump (Envoy redacts most, not all)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body

    def walk(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: ("[redacted]" if k in _SECRET_KEYS and v not in ("[redacted]", None) else walk(v))
                    for k, v in o.items()}
        if isinstance(o, list):
            return [walk(x) for x in o]
        return o

    return json.dumps(walk(doc), indent=1).encode()
