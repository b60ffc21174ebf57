"""A small Prometheus HTTP API client. PromQL is built from parameters: label values are escaped
with :func:`label_value`, never pasted raw.

Where it is: ``--prometheus-url`` / ``MESH_PLUGIN_PROMETHEUS_URL`` (direct), else the first of the
usual in-cluster Services (``istio-system/prometheus:9090``, ``linkerd-viz/prometheus:9090``)
through the API server's service proxy.

No tool argument names a URL (that would be an SSRF hole over MCP): the operator configures it. Redirects
are not followed, answers are capped in size and time, and an answer that is not Prometheus API JSON is
refused without echoing it.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..errors import InvalidInput, MeshError, NotFound, ServerError, Timeout, Unreachable

#: the largest Prometheus answer read (bytes)
MAX_BODY = int(os.environ.get("MESH_PLUGIN_PROMETHEUS_MAX_BYTES", str(16 * 1024 * 1024)))

SERVICES = (("istio-system", "prometheus", "9090"), ("linkerd-viz", "prometheus", "9090"),
            ("monitoring", "prometheus-operated", "9090"))
_DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")


def label_value(v: str) -> str:
    """A PromQL string literal for a label value."""
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def window(w: str) -> str:
    if not _DURATION.match(w):
        raise InvalidInput(f"Invalid time window {w!r}.", hint="use a Prometheus duration such as 1m, 5m or 1h.")
    return w


class Prometheus:
    def __init__(self, url: str | None = None, *, client: Any = None, service: tuple[str, str, str] | None = None,
                 timeout: float = 5.0) -> None:
        self.url = url.rstrip("/") if url else None
        self.client = client
        self.service = service
        self.timeout = timeout

    @property
    def where(self) -> str:
        if self.url:
            return self.url
        ns, name, port = self.service or ("?", "?", "?")
        return f"service {ns}/{name}:{port} (through the API server)"

    def _get(self, path: str, params: list[tuple[str, str]]) -> dict:
        from .. import deadline

        try:
            if self.url:
                full = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
                req = urllib.request.Request(full, headers={"Accept": "application/json"})
                with _OPENER.open(req, timeout=deadline.bound(self.timeout)) as r:
                    body = deadline.read_body(r, self.timeout, MAX_BODY)
            else:
                ns, name, port = self.service  # type: ignore[misc]
                try:
                    body = self.client.service_proxy(ns, name, port, path, query=params, timeout=self.timeout)
                except ServerError as e:
                    if e.status in (502, 503):
                        raise Unreachable(f"Prometheus at {self.where} is unreachable ({e.status}).",
                                          hint="check its pods are running, or pass --prometheus-url.") from None
                    raise
                if len(body) > MAX_BODY:
                    raise deadline.BodyTooLarge(MAX_BODY)
        except urllib.error.HTTPError as e:  # the body is not echoed: it may be anything
            raise ServerError(f"Prometheus at {self.where} answered HTTP {e.code}.", status=e.code,
                              hint="check the URL points at Prometheus and the query is valid.") from None
        except deadline.BodyTooLarge as e:
            raise ServerError(f"Prometheus at {self.where} answered more than {e.limit} bytes: not read.",
                              hint="narrow the query's window, or check the URL points at Prometheus.") from None
        except TimeoutError:
            raise Timeout(f"Prometheus at {self.where} did not answer within {self.timeout:.0f}s.",
                          hint="retry, or pass --prometheus-url.") from None
        except (urllib.error.URLError, OSError) as e:
            raise Unreachable(f"Prometheus at {self.where} is unreachable: {type(getattr(e, 'reason', e)).__name__}.",
                              hint="pass --prometheus-url (or set MESH_PLUGIN_PROMETHEUS_URL).") from None
        return _api_data(body, self.where)

    def query(self, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        params = [("query", promql)]
        if at is not None:
            params.append(("time", f"{at:.3f}"))
        data = self._get("/api/v1/query", params)
        out = []
        for r in data.get("result") or []:
            value = r.get("value") or [0, "NaN"]
            try:
                v = float(value[1])
            except (TypeError, ValueError):
                v = float("nan")
            out.append((r.get("metric") or {}, v))
        return out


def _api_data(body: bytes, where: str) -> dict:
    """The ``data`` of a Prometheus HTTP API answer; anything else is refused without echoing it."""
    not_prom = ServerError(f"The answer from {where} is not Prometheus API JSON: refused (not shown).",
                           hint="check the URL points at a Prometheus server (the base URL, without /api/v1).")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise not_prom from None
    if not isinstance(doc, dict) or doc.get("status") not in ("success", "error"):
        raise not_prom
    if doc["status"] == "error":
        kind, err = doc.get("errorType"), doc.get("error")
        if not isinstance(kind, str) or not isinstance(err, str):
            raise not_prom
        raise ServerError(f"Prometheus query failed ({kind[:40]}): {err[:200]}",
                          hint="check the query window and that the metric exists.")
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("resultType"), str) or not isinstance(
            data.get("result"), list):
        raise not_prom
    return data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A configured Prometheus that redirects elsewhere is refused, not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(req.full_url, code, "redirects are not followed", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def normalize_url(url: str) -> str:
    """A Prometheus base URL: http(s)://host[:port][/path], no credentials, query or fragment."""
    u = url.strip()
    try:
        parts = urllib.parse.urlsplit(u)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.query or parts.fragment or "#" in u or "?" in u or any(
                c.isspace() or ord(c) < 32 for c in u)):
        raise InvalidInput(f"Invalid Prometheus URL {u[:100]!r}.",
                           hint="use the server's base URL, e.g. http://prometheus.istio-system:9090 (no query, "
                                "fragment or credentials).")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def prometheus_for(runtime: Any, services: list[dict] | None = None) -> Prometheus:
    """The operator's Prometheus (``--prometheus-url``, ``MESH_PLUGIN_PROMETHEUS_URL``), else the cluster's usual
    Services (looked up in ``services`` when the caller already listed them, else with one GET each). Callers
    never name a URL: where Prometheus is, is configuration, so nothing a tool argument says is fetched."""
    url = getattr(runtime, "prometheus_url", None) or os.environ.get("MESH_PLUGIN_PROMETHEUS_URL", "").strip()
    if url:
        return Prometheus(normalize_url(url))
    from ..kube.kinds import KINDS

    client = runtime.client()
    if services is not None:
        have = {((s.get("metadata") or {}).get("namespace"), (s.get("metadata") or {}).get("name")) for s in services}
        for ns, name, port in SERVICES:
            if (ns, name) in have:
                return Prometheus(client=client, service=(ns, name, port))
    for ns, name, port in SERVICES if services is None else ():
        try:
            client.get(KINDS["Service"], name, ns)
        except NotFound:
            continue
        except MeshError:
            break
        return Prometheus(client=client, service=(ns, name, port))
    raise NotFound("No Prometheus found (looked for " + ", ".join(f"{n}/{s}" for n, s, _ in SERVICES) + ").",
                   hint="start mesh-plugin with --prometheus-url URL (or set MESH_PLUGIN_PROMETHEUS_URL).")


def service_traffic(prom: Prometheus, service: str, namespace: str, window_: str, by: str | None = None
                    ) -> dict[str, tuple[float, float]]:
    """Requests/s and 5xx requests/s to a Service (istio_requests_total, reporter=destination), optionally per
    label (e.g. destination_version); the key is "" without ``by``."""
    sel = (f'reporter="destination",destination_service_name={label_value(service)},'
           f'destination_service_namespace={label_value(namespace)}')
    w = window(window_)
    # one query, one evaluation instant: the 5xx share of two queries run apart can exceed 100% (rate() moves)
    keys = f"{by}, response_code" if by else "response_code"
    out: dict[str, tuple[float, float]] = {}
    for m, v in prom.query(f"sum by ({keys}) (rate(istio_requests_total{{{sel}}}[{w}]))"):
        if v != v:  # NaN
            continue
        key = m.get(by, "") if by else ""
        total, bad = out.get(key, (0.0, 0.0))
        out[key] = (total + v, bad + (v if str(m.get("response_code", "")).startswith("5") else 0.0))
    return out
