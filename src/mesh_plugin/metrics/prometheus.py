"""A small Prometheus HTTP API client. PromQL is built from parameters: label values are escaped
with :func:`label_value`, never pasted raw.

Where it is: ``--prometheus-url`` / ``MESH_PLUGIN_PROMETHEUS_URL`` (direct), else the first of the
usual in-cluster Services (``istio-system/prometheus:9090``, ``linkerd-viz/prometheus:9090``)
through the API server's service proxy.
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
        try:
            if self.url:
                full = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
                with urllib.request.urlopen(full, timeout=self.timeout) as r:
                    body = r.read()
            else:
                ns, name, port = self.service  # type: ignore[misc]
                try:
                    body = self.client.service_proxy(ns, name, port, path, query=params, timeout=self.timeout)
                except ServerError as e:
                    if e.status in (502, 503):
                        raise Unreachable(f"Prometheus at {self.where} is unreachable ({e.status}).",
                                          hint="check its pods are running, or pass --prometheus-url.") from None
                    raise
        except urllib.error.HTTPError as e:
            raise ServerError(f"Prometheus at {self.where} answered {e.code}: {e.read()[:200]!r}", status=e.code,
                              hint="check the query and Prometheus' health.") from None
        except TimeoutError:
            raise Timeout(f"Prometheus at {self.where} did not answer within {self.timeout:.0f}s.",
                          hint="retry, or pass --prometheus-url.") from None
        except (urllib.error.URLError, OSError) as e:
            raise Unreachable(f"Prometheus at {self.where} is unreachable: {getattr(e, 'reason', e)}.",
                              hint="pass --prometheus-url (or set MESH_PLUGIN_PROMETHEUS_URL).") from None
        try:
            doc = json.loads(body)
        except ValueError:
            raise ServerError(f"Prometheus at {self.where} answered with something that is not JSON.") from None
        if doc.get("status") != "success":
            raise ServerError(f"Prometheus query failed: {doc.get('error', doc)}")
        return doc.get("data") or {}

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


def prometheus_for(runtime: Any, url: str | None = None, services: list[dict] | None = None) -> Prometheus:
    """Prometheus from an explicit URL, the environment, or the cluster's usual Services (looked up in
    ``services`` when the caller already listed them, else with one GET each)."""
    url = url or os.environ.get("MESH_PLUGIN_PROMETHEUS_URL")
    if url:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"Invalid Prometheus URL {url!r}.", hint="use http://host:port.")
        return Prometheus(url)
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
                   hint="pass --prometheus-url (or set MESH_PLUGIN_PROMETHEUS_URL).")


def service_traffic(prom: Prometheus, service: str, namespace: str, window_: str, by: str | None = None
                    ) -> dict[str, tuple[float, float]]:
    """Requests/s and 5xx requests/s to a Service (istio_requests_total, reporter=destination), optionally per
    label (e.g. destination_version); the key is "" without ``by``."""
    sel = (f'reporter="destination",destination_service_name={label_value(service)},'
           f'destination_service_namespace={label_value(namespace)}')
    w = window(window_)
    group = f" by ({by})" if by else ""
    total = prom.query(f"sum{group} (rate(istio_requests_total{{{sel}}}[{w}]))")
    bad = {(m.get(by, "") if by else ""): v for m, v in prom.query(
        f'sum{group} (rate(istio_requests_total{{{sel},response_code=~"5.."}}[{w}]))')}
    return {(m.get(by, "") if by else ""): (v, bad.get(m.get(by, "") if by else "", 0.0)) for m, v in total}
