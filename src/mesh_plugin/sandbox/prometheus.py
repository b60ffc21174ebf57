"""The sandbox's Prometheus: it scrapes every sandbox Envoy and records Istio's standard request metric.

When the ``prometheus`` binary is on PATH (Debian's package; ``make prometheus``) and MESH_SANDBOX_PROMETHEUS is
not ``0``, ``Sandbox.start()`` starts one on a random 127.0.0.1 port, with its config and TSDB in a folder inside
the sandbox's temp dir (``Sandbox.prometheus_url``; ``Sandbox.prometheus_note`` says why there is none). It is
started in the background (a supervisor thread writes the config and runs the process), so the sandbox's start does
not wait for it; ``Sandbox.wait_metrics()`` waits until every Envoy has been scraped after the call and the rules
have turned that scrape into ``istio_requests_total``. ``Sandbox.stop()`` ends it and removes its folder.

**What is scraped.** Each sidecar's (and the ingress gateway's, and a waypoint's) Envoy admin ``/stats/prometheus``
through its 127.0.0.1 forward (``Sidecar.admin_port``), every second, filtered to the cluster counters the rules
read: ``upstream_rq_<code>``, ``upstream_rq_total``, ``upstream_rq_retry``, ``upstream_cx_none_healthy`` of the
``inbound|...`` and ``outbound|...`` clusters. Each target carries what the sandbox knows of its pod: ``namespace``,
``pod``, ``workload`` (the Deployment), ``app``, ``version``, ``principal`` (its SPIFFE ID), ``canonical_service``,
``canonical_revision``, ``proxy`` (sidecar, router or waypoint) and ``services`` (the Services selecting the pod).
Envoy's stat names are normalised on ingest (``metric_relabel_configs``): upstream Envoy has no Istio stats tags
here, so ``cluster.outbound|8080|v2|payment-api.production.svc.cluster.local;.upstream_rq_503`` arrives as
``envoy_cluster_production_svc_cluster_local__upstream_rq{envoy_cluster_name="outbound|8080|v2|payment-api"}``;
it is stored as ``envoy_cluster_upstream_rq`` with ``envoy_cluster_namespace="production"``,
``cluster_direction``, ``cluster_port``, ``cluster_subset`` and ``cluster_service``.

**What is derived: istio_requests_total, by recording rules from Envoy's own counters.** Upstream Envoy has no Istio
stats filter, so nothing here reports ``istio_requests_total`` itself: these series are what Istio's stats filter
would report, computed by Prometheus recording rules from the counters above (label ``sandbox_derived_from`` says
from which), so the product's unchanged queries (``metrics/prometheus.py``) work on the sandbox:

- ``reporter="destination"`` from each server proxy's **inbound** cluster (``inbound|PORT||``): one request per
  upstream answer the app gave (``response_code`` from ``upstream_rq_<code>``), with ``destination_workload``,
  ``destination_workload_namespace``, ``destination_app``, ``destination_version``, ``destination_principal`` and
  ``destination_canonical_*`` from the pod, ``destination_service_name``/``_namespace``/``destination_service``
  from the Service that selects the pod on that port (the first by name when several do), and
  ``connection_security_policy`` from the proxy's inbound listener: ``mutual_tls`` when every filter chain of that
  port requires a client certificate (STRICT), ``none`` when none uses TLS (DISABLE), ``unknown`` when both
  (PERMISSIVE: which chain a request took is not counted). Read from the live listener (config_dump) when the
  Prometheus config is written (at start and at each ``wait_metrics()``).
- ``reporter="source"`` from each proxy's **outbound** clusters (``outbound|PORT|SUBSET|HOST``): ``source_*`` from
  the calling pod; ``destination_service_name``/``_namespace`` from HOST; ``destination_version`` from the subset
  (the version label of the pods the subset selects, else the subset's name; ``unknown`` for the cluster without a
  subset); ``destination_workload``/``_app``/``_principal`` when the subset (or Service) selects the pods of one
  workload; ``connection_security_policy="unknown"`` (as Istio's source reporter says). Envoy's local answers count
  too (a 503 "no healthy upstream" of an ejected subset is a 503 here, as at Istio's source reporter).
- With the **built-in generator** (``config_source == "generator"``) the callers' clusters reach the apps directly:
  no server sidecar is on the path, so no inbound cluster sees the requests. There, ``reporter="destination"`` is
  derived from the callers' outbound subset clusters instead (``sandbox_derived_from="outbound_cluster"``): the
  answers the apps gave (``upstream_rq_503`` less ``upstream_cx_none_healthy``, Envoy's own "no healthy upstream"
  503s, which never reached an app), with the caller as ``source_workload`` and
  ``connection_security_policy="none"`` (those connections are plaintext).

A counter's first increments happen before Prometheus sees the series (Envoy creates ``upstream_rq_503`` at the first
503): the rules start every new Envoy series at 0 (``sandbox:envoy_cluster_upstream_rq:zero_filled``: a series with
no sample in the 10 minutes before the last 2 s is recorded as 0, then as its value), so ``rate()`` and
``increase()`` count the requests that created it, as Prometheus' created-timestamp handling would.

**Not derivable** from Envoy's counters, and so absent or ``unknown``: ``source_*`` at the destination reporter
(``unknown``: Envoy counts the inbound cluster's requests, not who sent them; with the generator the caller is
known); ``response_flags`` (absent: Envoy's counters are per code, not per flag); ``grpc_response_status``;
``request_protocol`` is ``http`` (only HTTP clusters count ``upstream_rq``); ``destination_version`` and workload at
the source reporter for a cluster without a subset whose Service spans workloads (``unknown``); requests an inbound
listener refused before its cluster (RBAC 403s, JWT 401s, failed mTLS handshakes) at the destination reporter;
``connection_security_policy`` of a PERMISSIVE port (``unknown``); hosts outside ``*.svc.cluster.local``;
``istio_request_duration_milliseconds``, ``istio_request_bytes``/``response_bytes`` and ``istio_tcp_*`` (not
recorded); Linkerd's ``response_total`` (the sandbox's Linkerd mesh runs no proxies).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import yaml

ENV = "MESH_SANDBOX_PROMETHEUS"
SCRAPE_INTERVAL = 1.0
EVAL_INTERVAL = 0.5
#: a series is new (recorded as 0 first) when it has no sample in the 10 minutes before this many seconds ago
ZERO_FILL_OFFSET = 2.0
JOB = "sandbox-envoy"
RULE_GROUP = "sandbox-istio-standard-metrics"
TRUST_DOMAIN = "cluster.local"
CLUSTER_ID = "Kubernetes"
#: the Envoy cluster counters the rules read (and the only ones scraped)
STATS = ("upstream_rq", "upstream_rq_total", "upstream_rq_retry", "upstream_cx_none_healthy")
STATS_FILTER = (r"^cluster\.(inbound|outbound)\|.+\.(upstream_rq_[0-9]{3}|upstream_rq_total|upstream_rq_retry"
                r"|upstream_cx_none_healthy)$")
#: the per-pod target labels, and their names on each side of a request
POD_KEYS = ("workload", "app", "version", "principal", "canonical_service", "canonical_revision")
#: istio_requests_total's labels (besides reporter and sandbox_derived_from, which the rules set)
ISTIO_LABELS = ("source_workload", "source_workload_namespace", "source_app", "source_version", "source_principal",
                "source_canonical_service", "source_canonical_revision", "source_cluster",
                "destination_workload", "destination_workload_namespace", "destination_app", "destination_version",
                "destination_principal", "destination_service", "destination_service_name",
                "destination_service_namespace", "destination_canonical_service", "destination_canonical_revision",
                "destination_cluster", "request_protocol", "response_code", "connection_security_policy")
#: the raw identity of a scraped Envoy series (target labels may change on a refresh; this does not)
RAW_KEY = "instance, envoy_cluster_name, envoy_cluster_namespace, envoy_response_code"


def find_binary(ignore_env: bool = False) -> tuple[str | None, str]:
    """The prometheus binary, or None and why not (turned off, or not installed)."""
    v = os.environ.get(ENV, "").strip().lower()
    if v in ("0", "false", "no", "off") and not ignore_env:
        return None, f"turned off ({ENV}={os.environ.get(ENV)})"
    found = shutil.which("prometheus")
    if not found:
        return None, "the prometheus binary is not on PATH (make prometheus installs Debian's package)"
    return found, ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """SIGTERM the child when the thread that started it ends (the supervisor lives as long as the process)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _duration(seconds: float) -> str:
    return f"{seconds:g}s" if seconds == int(seconds) else f"{int(seconds * 1000)}ms"


def _sanitized(s: str) -> str:
    """What Envoy's Prometheus output makes of a stat name part."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", s)


def _re(s: str) -> str:
    return re.escape(s)


# -- what the sandbox knows --------------------------------------------------------------------------
@dataclass
class Target:
    address: str                          # 127.0.0.1:ADMIN_PORT
    labels: dict[str, str]
    #: inbound port -> {destination_service_name, destination_service_namespace, destination_service,
    #: connection_security_policy}
    ports: dict[int, dict[str, str]] = field(default_factory=dict)


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def workload_of(pod: dict) -> str:
    """The workload Istio names for a pod: the Deployment of its ReplicaSet, else its controller, else the pod."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") or len(pod["metadata"]["ownerReferences"]) == 1:
            name = str(ref.get("name") or "")
            if ref.get("kind") == "ReplicaSet" and "-" in name:
                return name.rsplit("-", 1)[0]
            if name:
                return name
    return str(pod["metadata"]["name"])


def pod_identity(pod: dict) -> dict[str, str]:
    """The per-pod labels Istio's stats filter reports for a workload (its node metadata)."""
    lb = _labels(pod)
    ns = pod["metadata"].get("namespace") or "default"
    sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    workload = workload_of(pod)
    app = lb.get("app") or lb.get("app.kubernetes.io/name") or "unknown"
    version = lb.get("version") or lb.get("app.kubernetes.io/version") or "unknown"
    return {"namespace": ns, "pod": pod["metadata"]["name"], "workload": workload, "app": app, "version": version,
            "principal": f"spiffe://{TRUST_DOMAIN}/ns/{ns}/sa/{sa}",
            "canonical_service": lb.get("service.istio.io/canonical-name") or (app if app != "unknown" else workload),
            "canonical_revision": lb.get("service.istio.io/canonical-revision") or (
                version if version != "unknown" else "latest")}


def _selects(selector: dict | None, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _target_port(svc_port: dict, pod: dict) -> int | None:
    """The container port a Service port reaches on a pod (a number, or a named container port)."""
    tp = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(tp, int) or (isinstance(tp, str) and tp.isdigit()):
        return int(tp)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp:
                return int(p["containerPort"])
    return None


def inbound_security(listeners_dump: dict) -> dict[int, str]:
    """port -> connection_security_policy of a proxy's inbound listener (``virtualInbound``): ``mutual_tls`` when
    every filter chain of the port requires a client certificate, ``none`` when none uses TLS, else ``unknown``."""
    seen: dict[int, set[bool]] = {}
    for entry in listeners_dump.get("configs") or []:
        lst = (entry.get("active_state") or entry.get("warming_state") or {}).get("listener") or {}
        if lst.get("name") != "virtualInbound":
            continue
        for ch in lst.get("filter_chains") or []:
            port = (ch.get("filter_chain_match") or {}).get("destination_port")
            if port is None:
                for f in ch.get("filters") or []:
                    m = re.match(r"inbound_0\.0\.0\.0_(\d+)", str((f.get("typed_config") or {}).get("stat_prefix", "")))
                    if m:
                        port = int(m.group(1))
            if port is None or int(port) == 15006:
                continue
            ts = ch.get("transport_socket") or {}
            mutual = "tls" in str(ts.get("name", "")) and bool((ts.get("typed_config") or {}).get(
                "require_client_certificate"))
            seen.setdefault(int(port), set()).add(mutual)
    return {p: ("mutual_tls" if s == {True} else "none" if s == {False} else "unknown") for p, s in seen.items()}


def _fetch_listeners(admin_port: int) -> dict:
    url = f"http://127.0.0.1:{admin_port}/config_dump?resource=dynamic_listeners"
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def collect(objects: list[dict], proxies: dict[str, Any], security: dict[str, dict[int, str]]
            ) -> tuple[list[Target], list[dict[str, str]], list[str]]:
    """The scrape targets (one per running proxy), the outbound cluster map (namespace, service, subset -> the
    destination labels the sandbox can tell), and the namespaces, from the API's objects."""
    pods = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o.get("kind") == "Pod"}
    services = [o for o in objects if o.get("kind") == "Service"]
    drs = [o for o in objects if o.get("kind") == "DestinationRule"]
    namespaces = sorted({o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
                        | {ns for ns, _ in pods if ns})
    targets = []
    for name, px in sorted(proxies.items()):
        spec = px.spec
        pod = pods.get((spec.namespace, spec.pod))
        if pod is None or not getattr(px, "admin_port", 0):
            continue
        labels = pod_identity(pod)
        labels["proxy"] = getattr(spec, "kind", "sidecar")
        selecting = sorted((s for s in services if (s["metadata"].get("namespace") == spec.namespace
                                                    and _selects((s.get("spec") or {}).get("selector"), _labels(pod)))),
                           key=lambda s: s["metadata"]["name"])
        labels["services"] = ",".join(s["metadata"]["name"] for s in selecting)
        ports: dict[int, dict[str, str]] = {}
        sec = security.get(name, {})
        for s in selecting:
            for sp in (s.get("spec") or {}).get("ports") or []:
                tp = _target_port(sp, pod)
                if tp is None or tp in ports:
                    continue
                sname, sns = s["metadata"]["name"], spec.namespace
                ports[tp] = {"destination_service_name": sname, "destination_service_namespace": sns,
                             "destination_service": f"{sname}.{sns}.svc.{TRUST_DOMAIN}",
                             "connection_security_policy": sec.get(tp, "unknown")}
        for p, policy in sec.items():
            ports.setdefault(p, {"connection_security_policy": policy})
        targets.append(Target(f"127.0.0.1:{px.admin_port}", labels, ports))

    outbound: list[dict[str, str]] = []
    for s in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        ns, name = s["metadata"].get("namespace") or "default", s["metadata"]["name"]
        sel = (s.get("spec") or {}).get("selector")
        members = [p for (pns, _), p in sorted(pods.items()) if pns == ns and _selects(sel, _labels(p))]
        subsets: dict[str, dict] = {"": {}}
        for dr in drs:
            host = str((dr.get("spec") or {}).get("host") or "")
            dns = dr["metadata"].get("namespace") or "default"
            if host in (name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{TRUST_DOMAIN}") and (
                    "." in host or dns == ns):
                for sub in (dr.get("spec") or {}).get("subsets") or []:
                    subsets.setdefault(str(sub.get("name") or ""), sub.get("labels") or {})
        for subset, sub_labels in subsets.items():
            chosen = [pod_identity(p) for p in members if all(_labels(p).get(k) == v for k, v in sub_labels.items())]
            entry = {"namespace": ns, "service": name, "subset": subset, "destination_workload_namespace": ns}

            def one(key: str) -> str | None:
                vals = {c[key] for c in chosen}
                return vals.pop() if len(vals) == 1 else None
            for key in POD_KEYS:
                v = one(key)
                if v is not None:
                    entry[f"destination_{key}"] = v
            if subset and "destination_version" not in entry:
                entry["destination_version"] = str(sub_labels.get("version") or subset)
            outbound.append(entry)
    return targets, outbound, namespaces


# -- the Prometheus config and rules -----------------------------------------------------------------
def _rl(target: str, replacement: str, source: list[str] | None = None, regex: str | None = None) -> dict:
    r: dict[str, Any] = {"target_label": target, "replacement": replacement}
    if source is not None:
        r["source_labels"] = source
    if regex is not None:
        r["regex"] = regex
    return r


def metric_relabels(targets: list[Target], outbound: list[dict[str, str]], namespaces: list[str]) -> list[dict]:
    stats = "|".join(STATS)
    mangled = rf"envoy_cluster_(.+?)_svc_{_sanitized(TRUST_DOMAIN)}_+({stats})"
    out: list[dict] = [
        {"action": "labeldrop", "regex": "cluster_name|response_code"},   # the generator bootstrap's own tags
        # cluster.outbound|P|S|NAME.NS.svc.cluster.local;.upstream_rq_200 -> envoy_cluster_upstream_rq{...}
        _rl("envoy_cluster_namespace", "$1", ["__name__"], mangled),
    ]
    out += [_rl("envoy_cluster_namespace", ns, ["envoy_cluster_namespace"], _re(_sanitized(ns)))
            for ns in namespaces if _sanitized(ns) != ns]
    out += [
        _rl("__name__", "envoy_cluster_$2", ["__name__"], mangled),
        {"action": "keep", "source_labels": ["__name__"], "regex": f"envoy_cluster_({stats})"},
        _rl("envoy_cluster_name", "$1", ["envoy_cluster_name"], "(.*);"),
    ]
    parts = r"(inbound|outbound)\|([0-9]*)\|([^|]*)\|([^|]*)"
    for i, key in enumerate(("cluster_direction", "cluster_port", "cluster_subset", "cluster_service"), 1):
        out.append(_rl(key, f"${i}", ["envoy_cluster_name"], parts))
    out += [
        {"action": "keep", "source_labels": ["cluster_direction"], "regex": "inbound|outbound"},
        _rl("response_code", "$1", ["envoy_response_code"], "(.+)"),
        _rl("request_protocol", "http"),
        _rl("source_cluster", CLUSTER_ID),
        _rl("destination_cluster", CLUSTER_ID),
    ]
    # inbound: the scraped pod is the destination; who called is not counted
    for key in POD_KEYS:
        out.append(_rl(f"destination_{key}", "$1", ["cluster_direction", key], "inbound;(.*)"))
        out.append(_rl(f"source_{key}", "unknown", ["cluster_direction"], "inbound"))
    out += [_rl("destination_workload_namespace", "$1", ["cluster_direction", "namespace"], "inbound;(.*)"),
            _rl("source_workload_namespace", "unknown", ["cluster_direction"], "inbound"),
            _rl("destination_service_namespace", "$1", ["cluster_direction", "namespace"], "inbound;(.*)")]
    for key in ("destination_service_name", "destination_service", "connection_security_policy"):
        out.append(_rl(key, "unknown", ["cluster_direction"], "inbound"))
    for t in targets:
        for port, values in sorted(t.ports.items()):
            for key, value in values.items():
                out.append(_rl(key, value, ["cluster_direction", "pod", "cluster_port"],
                               f"inbound;{_re(t.labels['pod'])};{port}"))
    # outbound: the scraped pod is the source; the destination is the cluster's host and subset
    for key in POD_KEYS:
        out.append(_rl(f"source_{key}", "$1", ["cluster_direction", key], "outbound;(.*)"))
        out.append(_rl(f"destination_{key}", "unknown", ["cluster_direction"], "outbound"))
    out += [
        _rl("source_workload_namespace", "$1", ["cluster_direction", "namespace"], "outbound;(.*)"),
        _rl("destination_workload_namespace", "unknown", ["cluster_direction"], "outbound"),
        _rl("destination_service_name", "$1", ["cluster_direction", "cluster_service"], "outbound;(.*)"),
        _rl("destination_service_namespace", "$1", ["cluster_direction", "envoy_cluster_namespace"], "outbound;(.*)"),
        _rl("destination_service", f"$1.$2.svc.{TRUST_DOMAIN}",
            ["cluster_direction", "cluster_service", "envoy_cluster_namespace"], "outbound;(.*);(.*)"),
        _rl("destination_version", "$1", ["cluster_direction", "cluster_subset"], "outbound;(.+)"),
        _rl("connection_security_policy", "unknown", ["cluster_direction"], "outbound"),
    ]
    for e in outbound:
        key_re = f"outbound;{_re(e['namespace'])};{_re(e['service'])};{_re(e['subset'])}"
        for key, value in e.items():
            if key.startswith("destination_"):
                out.append(_rl(key, value, ["cluster_direction", "envoy_cluster_namespace", "cluster_service",
                                            "cluster_subset"], key_re))
    return out


def config(targets: list[Target], outbound: list[dict[str, str]], namespaces: list[str], rules_path: str) -> dict:
    return {
        "global": {"scrape_interval": _duration(SCRAPE_INTERVAL), "scrape_timeout": _duration(SCRAPE_INTERVAL),
                   "evaluation_interval": _duration(EVAL_INTERVAL)},
        "rule_files": [rules_path],
        "scrape_configs": [{
            "job_name": JOB,
            "metrics_path": "/stats/prometheus",
            "params": {"filter": [STATS_FILTER]},
            "static_configs": [{"targets": [t.address], "labels": {k: v for k, v in t.labels.items() if v}}
                               for t in targets],
            "metric_relabel_configs": metric_relabels(targets, outbound, namespaces),
        }],
    }


def _set(expr: str, **labels: str) -> str:
    for k, v in labels.items():
        expr = f'label_replace({expr}, "{k}", "{v}", "", "")'
    return expr


def rules(generator: bool) -> dict:
    """The recording rules: Envoy series that start at 0, then istio_requests_total per reporter."""
    by = ", ".join(ISTIO_LABELS)
    off = _duration(ZERO_FILL_OFFSET)

    def zero_filled(metric: str) -> dict:
        return {"record": f"sandbox:{metric}:zero_filled",
                "expr": f"({metric} unless on ({RAW_KEY}) present_over_time({metric}[10m] offset {off})) * 0 "
                        f"or {metric}"}

    zf = "sandbox:envoy_cluster_upstream_rq:zero_filled"
    out = [
        zero_filled("envoy_cluster_upstream_rq"),
        {"record": "istio_requests_total",
         "expr": _set(f'sum by ({by}) ({zf}{{cluster_direction="inbound"}})', reporter="destination",
                      sandbox_derived_from="inbound_cluster")},
        {"record": "istio_requests_total",
         "expr": _set(f'sum by ({by}) ({zf}{{cluster_direction="outbound"}})', reporter="source",
                      sandbox_derived_from="outbound_cluster")},
    ]
    if generator:
        # no server sidecar on the path: the destination's view from the callers' subset clusters, less Envoy's
        # own "no healthy upstream" 503s (they never reached an app)
        nh = "sandbox:envoy_cluster_upstream_cx_none_healthy:zero_filled"
        sel = 'cluster_direction="outbound",destination_workload_namespace!="unknown"'
        answered = (f'({zf}{{{sel},envoy_response_code!="503"}} or ({zf}{{{sel},envoy_response_code="503"}} '
                    f'- ignoring (envoy_response_code, response_code) group_left {nh}{{{sel}}}))')
        without_policy = ", ".join(x for x in ISTIO_LABELS if x != "connection_security_policy")
        out += [zero_filled("envoy_cluster_upstream_cx_none_healthy"),
                {"record": "istio_requests_total",
                 "expr": _set(f"sum by ({without_policy}) ({answered})", reporter="destination",
                              connection_security_policy="none", sandbox_derived_from="outbound_cluster")}]
    return {"groups": [{"name": RULE_GROUP, "interval": _duration(EVAL_INTERVAL), "rules": out}]}


# -- the process -------------------------------------------------------------------------------------
def _parse_time(s: str) -> float:
    """An RFC 3339 time from the Prometheus API (nanoseconds allowed) as a Unix time."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s or "")
    if not m:
        return 0.0
    base = _dt.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + (float("0." + m.group(2)) if m.group(2) else 0.0)


class SandboxPrometheus:
    """A Prometheus process for a sandbox (see the module docstring). ``start()`` returns at once."""

    def __init__(self, sandbox: Any, binary: str, workdir: str) -> None:
        self.sandbox = sandbox
        self.binary = binary
        self.dir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.error = ""
        self.generator = sandbox.config_source == "generator"
        self._lock = threading.Lock()
        self._launched = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._written = ""
        self._security: dict[str, dict[int, str]] = {}
        self.targets: list[Target] = []

    # paths
    @property
    def config_path(self) -> str:
        return os.path.join(self.dir, "prometheus.yml")

    @property
    def rules_path(self) -> str:
        return os.path.join(self.dir, "rules.yml")

    def start(self) -> "SandboxPrometheus":
        os.makedirs(self.dir, exist_ok=True)
        self._thread = threading.Thread(target=self._supervise, name="sandbox-prometheus", daemon=True)
        self._thread.start()
        return self

    def _supervise(self) -> None:
        """Write the config, run Prometheus, and live as long as it does (its PDEATHSIG is tied to this thread)."""
        try:
            self._write_config()
            with self._lock:
                if self._stopping:
                    return
                log = open(os.path.join(self.dir, "prometheus.log"), "wb")
                self.proc = subprocess.Popen(
                    [self.binary, f"--config.file={self.config_path}",
                     f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d",
                     "--log.level=warn"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                    cwd=self.dir)
                log.close()
        except Exception as e:  # noqa: BLE001 - said by wait_metrics and the sandbox's note
            self.error = f"{type(e).__name__}: {e}"
            return
        finally:
            self._launched.set()
        self.proc.wait()

    def _build(self) -> tuple[str, str]:
        sb = self.sandbox
        security: dict[str, dict[int, str]] = {}
        for name, px in list(sb.sidecars.items()):
            if self._stopping:
                raise RuntimeError("the sandbox is stopping")
            try:
                security[name] = self._security[name] = inbound_security(_fetch_listeners(px.admin_port))
            except (OSError, ValueError):  # a proxy that is down keeps what it said last
                security[name] = self._security.get(name, {})
        self.targets, outbound, namespaces = collect(sb._objects(), dict(sb.sidecars), security)  # noqa: SLF001
        cfg = yaml.safe_dump(config(self.targets, outbound, namespaces, self.rules_path), sort_keys=False)
        return cfg, yaml.safe_dump(rules(self.generator), sort_keys=False, width=1000)

    def _write_config(self) -> bool:
        """Write the config and rules as the sandbox is now; True when they changed."""
        cfg, rls = self._build()
        if cfg + rls == self._written:
            return False
        for path, text in ((self.rules_path, rls), (self.config_path, cfg)):
            tmp = path + ".tmp"
            with open(tmp, "w") as fh:
                fh.write(text)
            os.replace(tmp, path)
        self._written = cfg + rls
        return True

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as fh:
                return fh.read()[-1500:]
        except OSError:
            return ""

    def _api(self, path: str, timeout: float = 2.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read()) if path.startswith("/api/") else r.read()

    def _check_running(self) -> None:
        if self.error:
            raise RuntimeError(f"the sandbox's Prometheus did not start: {self.error}")
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the sandbox's Prometheus exited ({self.proc.returncode}): {self.log_tail()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        if not self._launched.wait(timeout):
            raise TimeoutError("the sandbox's Prometheus was not started in time")
        while True:
            self._check_running()
            try:
                self._api("/-/ready", timeout=1)
                return
            except OSError:
                if time.monotonic() > end:
                    raise TimeoutError(f"the sandbox's Prometheus not ready after {timeout}s: {self.log_tail()}")
                time.sleep(0.05)

    def refresh(self) -> bool:
        """Rewrite the config if what the sandbox knows changed (pods, Services, subsets, inbound mTLS) and have
        Prometheus reload it. True when it changed."""
        if not self._write_config():
            return False
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        return True

    def wait_metrics(self, timeout: float = 30.0) -> None:
        """Return once every target has been scraped after this call and the rules evaluated that scrape (a new
        series is recorded as 0 first, then its value: the wait covers that too). About 1 s, 3 s when a series is
        new; the first call after the start waits 5-10 s more (Prometheus applies its targets on 5 s ticks)."""
        end = time.monotonic() + timeout
        self.wait_ready(timeout)
        reloaded = self.refresh()
        since = time.time()
        want = {t.address for t in self.targets}
        last: dict[str, float] = {}
        while True:
            self._check_running()
            active = self._api("/api/v1/targets?state=active")["data"]["activeTargets"]
            last = {t["scrapeUrl"].split("/")[2]: _parse_time(t.get("lastScrape", ""))
                    for t in active if t.get("scrapePool") == JOB}
            if want <= set(last) and all(last[a] > since for a in want) and not (reloaded and set(last) - want):
                break
            if time.monotonic() > end:
                late = sorted(a for a in want if last.get(a, 0) <= since)
                raise TimeoutError(f"the sandbox's Prometheus did not scrape {', '.join(late)} in {timeout}s")
            time.sleep(0.1)
        scraped = max((last[a] for a in want), default=since)
        # a series first seen in that scrape is recorded as 0 for ZERO_FILL_OFFSET, then as its value: wait for that
        # only when there is one
        off = _duration(ZERO_FILL_OFFSET)
        fresh = self.query(f"count(envoy_cluster_upstream_rq unless on ({RAW_KEY}) "
                           f"present_over_time(envoy_cluster_upstream_rq[10m] offset {off}))")
        if fresh and fresh[0][1] > 0:
            scraped += ZERO_FILL_OFFSET
        while True:
            groups = self._api("/api/v1/rules?type=record")["data"]["groups"]
            evaluated = max((_parse_time(g.get("lastEvaluation", "")) for g in groups if g.get("name") == RULE_GROUP),
                            default=0.0)
            if evaluated > scraped + 0.1:
                return
            if time.monotonic() > end:
                raise TimeoutError(f"the sandbox's Prometheus did not evaluate its rules in {timeout}s")
            time.sleep(0.1)

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """An instant query (for tests and the demo); the product uses metrics/prometheus.py."""
        data = self._api("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))["data"]["result"]
        return [(r["metric"], float(r["value"][1])) for r in data]

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3)
        if self._thread is not None:
            self._thread.join(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> str:
        n = len(self.targets) or len(self.sandbox.sidecars)
        return (f"{self.url} (Prometheus scraping the {n} Envoys' /stats/prometheus every {SCRAPE_INTERVAL:g}s; "
                "istio_requests_total derived from their cluster counters by recording rules)")
