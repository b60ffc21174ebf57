"""GET any Envoy admin path of a pod's sidecar, through the API server's pod proxy.

Two gotchas of the official client are avoided by the client's generic request
path: JSON bodies come back as bytes (never a Python repr), and query strings
(``stats?filter=x&format=json``) are passed as query parameters, not escaped into
the path.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput, NotFound, ServerError, Unreachable
from ..kube.kinds import KINDS

ADMIN_PORT = 15000
#: read-only admin endpoints (POST /logging is a write and goes through the change path)
READ_PATHS = ("config_dump", "clusters", "stats", "stats/prometheus", "certs", "server_info", "logging",
              "listeners", "ready", "memory", "runtime", "hot_restart_version")
_PATH_RE = re.compile(r"^[a-z_/]+$")


def fetch_admin(client: Any, namespace: str, pod: str, path: str,
                query: list[tuple[str, str]] | None = None, *, check_sidecar: Callable[[dict], None] | bool = False,
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
    if callable(check_sidecar):  # the caller's rule for "this pod runs Envoy" (mesh.workloads.require_envoy)
        check_sidecar(client.get(KINDS["Pod"], pod, namespace))
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
        raise NotFound(f"Pod {namespace}/{pod} not found.", hint="list pods with mesh_overview view=workloads namespace=...") from None
    if path == "config_dump":
        return redact_config_dump(body)
    return body


#: keys whose whole value is secret material: every string under them is replaced, except the names of
#: where it lives (a file, an environment variable, an SDS secret name), which stay for debugging
SECRET_KEYS = frozenset({
    "private_key", "password", "hmac_secret", "session_ticket_keys", "client_secret", "generic_secret",
    "local_jwks", "token_secret", "secret_access_key", "session_token", "inline_credential", "users",
})
#: ... and keys ending so (auth_password, downstream_auth_passwords, cookie_secret, ...)
SECRET_SUFFIXES = ("password", "passwords", "_secret")
#: inside a secret value, these keep their value (they say where the secret is, not what it is)
_KEEP_UNDER_SECRET = frozenset({"filename", "environment_variable", "name", "watched_directory", "path",
                                "sds_config", "@type", "type_url"})
#: private members of a JSON Web Key (RFC 7518: symmetric k; RSA/EC d, p, q, dp, dq, qi; oth)
_JWK_PRIVATE = frozenset({"k", "d", "p", "q", "dp", "dq", "qi", "oth"})
REDACTED = "[redacted]"
#: deeper than any Envoy config dump (a few dozen levels): refused rather than walked
MAX_DUMP_DEPTH = 200


def redact_config_dump(dump: Any) -> Any:
    """The config dump with its secret material replaced by ``[redacted]``: the one redaction function.

    Takes the parsed dump (a dict or list: returns a redacted copy) or its JSON bytes/text (returns
    JSON bytes; text that is not JSON comes back unchanged). Redacted: everything under ``private_key``
    (TLS certificates, SDS secrets), ``generic_secret`` (its ``secret`` inline values), ``local_jwks``
    (the inline JWKS, which may hold symmetric ``k`` keys), ``password``, ``hmac_secret``,
    ``session_ticket_keys``, ``client_secret``, the other keys of ``SECRET_KEYS`` and any key ending in
    ``password`` or ``_secret`` (their
    ``inline_string``/``inline_bytes``, any value but file names), and the private members of any JSON
    Web Key object. Certificates (``certificate_chain``, ``trusted_ca``), names, SANs and validity
    stay. Envoy redacts most of these itself in a live dump; a saved dump may be anything.

    Raises InvalidInput for a structure nested more than ``MAX_DUMP_DEPTH`` levels (no Envoy dump is).
    """
    if isinstance(dump, (bytes, bytearray, str)):
        try:
            doc = json.loads(dump)
        except (ValueError, RecursionError):
            return dump
        return json.dumps(_redacted(doc), indent=1).encode()
    return _redacted(dump)


def _redacted(doc: Any) -> Any:
    """A copy of ``doc`` with secrets replaced; iterative, so the depth of the input cannot overflow it."""
    def fresh(o: Any) -> Any:
        return {} if isinstance(o, dict) else [] if isinstance(o, list) else o

    out = fresh(doc)
    # (source container, copy, depth, under a secret key)
    todo: list[tuple[Any, Any, int, bool]] = [(doc, out, 1, False)] if isinstance(doc, (dict, list)) else []
    while todo:
        src, dst, depth, secret = todo.pop()
        if depth > MAX_DUMP_DEPTH:
            raise InvalidInput(f"not an Envoy config dump: nested more than {MAX_DUMP_DEPTH} levels deep.",
                               hint="pass the output of the admin endpoint /config_dump.")
        if isinstance(src, dict):
            jwk = "kty" in src
            for k, v in src.items():
                key_secret = secret or k in SECRET_KEYS or (isinstance(k, str) and k.endswith(SECRET_SUFFIXES))
                if (jwk and k in _JWK_PRIVATE) or (key_secret and k not in _KEEP_UNDER_SECRET
                                                    and not isinstance(v, (dict, list)) and v is not None):
                    dst[k] = REDACTED
                    continue
                if secret and k in _KEEP_UNDER_SECRET:
                    key_secret = False
                c = fresh(v)
                dst[k] = c
                if isinstance(v, (dict, list)):
                    todo.append((v, c, depth + 1, key_secret))
        else:
            for v in src:
                if secret and not isinstance(v, (dict, list)) and v is not None:
                    dst.append(REDACTED)
                    continue
                c = fresh(v)
                dst.append(c)
                if isinstance(v, (dict, list)):
                    todo.append((v, c, depth + 1, secret))
    return out


def fetch_many(client: Any, pods: list[tuple[str, str]], path: str, query: list[tuple[str, str]] | None = None,
               *, timeout: float = 5.0, workers: int = 8) -> dict[tuple[str, str], bytes | Exception]:
    """One admin read from many sidecars at once (bounded threads, each inside the caller's deadline): the
    answer, or the typed error, per (namespace, pod). An unreachable sidecar costs one timeout, in parallel."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    def one(target: tuple[str, str]) -> bytes | Exception:
        try:
            return fetch_admin(client, target[0], target[1], path, query=query, check_sidecar=False, timeout=timeout)
        except Exception as e:  # noqa: BLE001 - returned per pod, typed by fetch_admin
            return e

    if not pods:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(pods))) as pool:
        futures = {t: pool.submit(contextvars.copy_context().run, one, t) for t in pods}
        return {t: f.result() for t, f in futures.items()}
