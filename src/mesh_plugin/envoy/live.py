"""Envoy's live state as data: ``/clusters?format=json`` (endpoints, health, outlier ejections) and ``/stats``
counters per cluster (requests, 5xx, and the counters behind the response flags). Pure parsers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

#: cluster counters read for a diagnosis, and the Envoy response flag each one stands for
FLAG_COUNTERS = {
    "upstream_cx_none_healthy": "UH",           # no healthy upstream
    "upstream_cx_connect_fail": "UF",           # upstream connection failure
    "upstream_rq_pending_overflow": "UO",       # circuit breaker overflow
    "upstream_rq_timeout": "UT",                # upstream request timeout
    "upstream_rq_retry_limit_exceeded": "URX",  # retries exhausted
    "upstream_cx_connect_timeout": "UF",
}
REQUEST_COUNTERS = ("upstream_rq_completed", "upstream_rq_1xx", "upstream_rq_2xx", "upstream_rq_3xx",
                    "upstream_rq_4xx", "upstream_rq_5xx", "upstream_rq_503", "outlier_detection.ejections_active",
                    "outlier_detection.ejections_enforced_total")
#: the response-class counters: Envoy's router charges one of them per request's final answer (local replies such
#: as "no healthy upstream" included), while ``upstream_rq_completed`` also counts attempts that were retried
RESPONSE_CLASSES = ("upstream_rq_1xx", "upstream_rq_2xx", "upstream_rq_3xx", "upstream_rq_4xx", "upstream_rq_5xx")


@dataclass
class Endpoint:
    cluster: str
    address: str
    healthy: bool
    ejected: bool
    flags: list[str] = field(default_factory=list)


def endpoints(body: bytes | str) -> list[Endpoint]:
    """Every host of ``/clusters?format=json``, with its health and whether outlier detection ejected it."""
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    out = []
    for cs in doc.get("cluster_statuses") or [] if isinstance(doc, dict) else []:
        if not isinstance(cs, dict):
            continue
        for hs in cs.get("host_statuses") or []:
            if not isinstance(hs, dict):
                continue
            sa = ((hs.get("address") or {}).get("socket_address")) or {}
            health = hs.get("health_status") or {}
            flags = sorted(k for k, v in health.items() if v is True or (k == "eds_health_status" and v != "HEALTHY"))
            ejected = bool(health.get("failed_outlier_check"))
            bad = ejected or any(f.startswith("failed") for f in flags) or health.get("eds_health_status") not in (
                None, "HEALTHY")
            out.append(Endpoint(cluster=str(cs.get("name", "")), address=f"{sa.get('address')}:{sa.get('port_value')}",
                                healthy=not bad, ejected=ejected, flags=flags))
    return out


def cluster_counters(body: bytes | str) -> dict[str, dict[str, float]]:
    """``/stats?format=json`` counters per cluster: {cluster name: {counter: value}} for the request and
    response-flag counters a diagnosis reads (cluster names contain dots: split at the known counter). Istio
    gives each cluster the stat name ``<cluster name>;`` (alt_stat_name, for tag extraction): the ``;`` goes."""
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    wanted = tuple(REQUEST_COUNTERS) + tuple(FLAG_COUNTERS)
    out: dict[str, dict[str, float]] = {}
    for st in doc.get("stats") or [] if isinstance(doc, dict) else []:
        if not isinstance(st, dict):
            continue
        name, value = str(st.get("name", "")), st.get("value")
        if not name.startswith("cluster.") or not isinstance(value, (int, float)):
            continue
        for counter in wanted:
            if name.endswith("." + counter):
                out.setdefault(name[len("cluster."):-len(counter) - 1].rstrip(";"), {})[counter] = float(value)
                break
    return out


def answered(counters: dict[str, float]) -> float:
    """Requests a cluster answered: the sum of its response-class counters (the denominator of a 5xx share).
    ``upstream_rq_completed`` is not it: with Istio's default retry on 503 it also counts the attempts that were
    retried (seen on the sandbox: 5 completed, 3 final answers, all 503). Falls back to completed when an Envoy
    reports no class counter."""
    n = sum(counters.get(c, 0) for c in RESPONSE_CLASSES)
    return n if n else counters.get("upstream_rq_completed", 0)


def response_flags(counters: dict[str, float]) -> dict[str, int]:
    """The Envoy response flags a cluster's counters show, e.g. {"UH": 12}."""
    flags: dict[str, int] = {}
    for counter, flag in FLAG_COUNTERS.items():
        n = int(counters.get(counter, 0))
        if n:
            flags[flag] = flags.get(flag, 0) + n
    return flags
