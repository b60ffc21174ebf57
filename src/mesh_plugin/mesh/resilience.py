"""Circuit breaking: effective connectionPool / outlierDetection (Istio's merge rules), the Envoy values they
become, lint, and recommendations. Pure.

Merge order (istio ``MergeTrafficPolicy``): the DestinationRule's trafficPolicy, then its portLevelSettings
for the port, then the subset's trafficPolicy, then the subset's portLevelSettings; each of connectionPool,
outlierDetection, loadBalancer and tls is replaced whole by the more specific level.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import InvalidInput

FIELDS = ("connectionPool", "outlierDetection", "loadBalancer", "tls")
UNLIMITED = 4294967295
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def parse_duration(value: Any, what: str = "duration") -> float:
    """Seconds from a protobuf/Go duration like 30s, 1.5s, 500ms, 5m, 1h; clear errors otherwise."""
    m = _DURATION.match(str(value).strip())
    if not m:
        raise InvalidInput(f"{what}: {value!r} is not a duration.",
                           hint="use a number with a unit: 500ms, 30s, 5m, 1h (no sign, no bare numbers).")
    n, unit = float(m.group(1)), m.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _apply(base: dict, policy: dict | None, port: int | None) -> dict:
    out = copy.deepcopy(base)
    if not policy:
        return out
    for f in FIELDS:
        if policy.get(f) is not None:
            out[f] = copy.deepcopy(policy[f])
    if port is not None:
        for pls in policy.get("portLevelSettings") or []:
            if int((pls.get("port") or {}).get("number") or -1) == int(port):
                for f in FIELDS:
                    if pls.get(f) is not None:
                        out[f] = copy.deepcopy(pls[f])
    return out


def effective_policy(dr: dict | None, subset: str | None = None, port: int | None = None) -> dict:
    """The traffic policy a client applies to (host, subset, port)."""
    if dr is None:
        return {}
    spec = dr.get("spec") or {}
    policy = _apply({}, spec.get("trafficPolicy"), port)
    if subset:
        for s in spec.get("subsets") or []:
            if s.get("name") == subset:
                policy = _apply(policy, s.get("trafficPolicy"), port)
    return policy


def envoy_outlier(od: dict | None) -> dict | None:
    """What istiod programs into the Envoy cluster's outlier_detection (defaults filled in)."""
    if not od:
        return None
    c5 = od.get("consecutive5xxErrors", od.get("consecutiveErrors"))
    out: dict[str, Any] = {
        "consecutive_5xx": 5 if c5 is None else int(c5),
        "enforcing_consecutive_5xx": 0 if c5 is not None and int(c5) == 0 else 100,
        "interval": od.get("interval", "10s"),
        "base_ejection_time": od.get("baseEjectionTime", "30s"),
        "max_ejection_time": "300s",
        "max_ejection_percent": int(od["maxEjectionPercent"]) if od.get("maxEjectionPercent") else 10,
        "enforcing_success_rate": 0,
    }
    if od.get("consecutiveGatewayErrors") is not None:
        out["consecutive_gateway_failure"] = int(od["consecutiveGatewayErrors"])
        out["enforcing_consecutive_gateway_failure"] = 100
    if od.get("splitExternalLocalOriginErrors"):
        out["split_external_local_origin_errors"] = True
        out["consecutive_local_origin_failure"] = int(od.get("consecutiveLocalOriginFailures", 5))
        out["enforcing_consecutive_local_origin_failure"] = 100
    out["healthy_panic_threshold"] = f"{od['minHealthPercent']}%" if od.get("minHealthPercent") is not None else "50%"
    return out


def envoy_circuit_breakers(cp: dict | None) -> dict:
    tcp = (cp or {}).get("tcp") or {}
    http = (cp or {}).get("http") or {}
    return {
        "max_connections": int(tcp.get("maxConnections", UNLIMITED)),
        "max_pending_requests": int(http.get("http1MaxPendingRequests", UNLIMITED)),
        "max_requests": int(http.get("http2MaxRequests", UNLIMITED)),
        "max_retries": int(http.get("maxRetries", UNLIMITED)),
        "max_requests_per_connection": int(http.get("maxRequestsPerConnection", 0)) or "unlimited",
        "connect_timeout": tcp.get("connectTimeout", "10s"),
        "idle_timeout": http.get("idleTimeout", "1h"),
    }


def lint(od: dict | None, cp: dict | None, replicas: int, what: str, has_dr: bool,
         concurrency: float | None = None) -> list[tuple[str, str, str]]:
    """(code, level, text) findings for one (host, subset) policy."""
    out: list[tuple[str, str, str]] = []
    if od:
        pct = od.get("maxEjectionPercent")
        if pct is not None and int(pct) >= 100:
            out.append(("MESH0301", "Warning", f"{what}: maxEjectionPercent {pct}% can eject all {replicas} "
                                                f"endpoint(s): one bad deploy removes every replica; use 50 or lower"))
        c5 = od.get("consecutive5xxErrors", od.get("consecutiveErrors"))
        if c5 is not None and 0 < int(c5) < 3:
            out.append(("MESH0302", "Warning", f"{what}: consecutive5xxErrors {c5} ejects on noise (a couple of "
                                                "failed requests); start at 10 and tighten from real error rates"))
        for field, lo, hi in (("interval", 1, 300), ("baseEjectionTime", 5, 600)):
            if od.get(field) is not None:
                try:
                    secs = parse_duration(od[field], field)
                except InvalidInput as e:
                    out.append(("IST0106", "Error", f"{what}: {e.message}"))
                    continue
                if not lo <= secs <= hi:
                    out.append(("MESH0303", "Warning", f"{what}: {field} {od[field]} is outside the sensible "
                                                        f"range {lo}s-{hi}s"))
    elif replicas > 1 and has_dr:
        out.append(("MESH0304", "Info", f"{what}: {replicas} replicas and no outlierDetection: a failing replica "
                                        "keeps getting its share of requests"))
    if cp and concurrency is not None:
        cb = envoy_circuit_breakers(cp)
        for key, label in (("max_requests", "http2MaxRequests"), ("max_pending_requests", "http1MaxPendingRequests"),
                           ("max_connections", "maxConnections")):
            limit = cb[key]
            if isinstance(limit, int) and limit < UNLIMITED and limit < concurrency:
                out.append(("MESH0305", "Warning", f"{what}: {label} {limit} is below the observed concurrency "
                                                    f"(~{concurrency:.0f} in flight): requests overflow with 503 UO"))
    return out


def recommend(replicas: int, rps: float | None, error_rate: float | None) -> tuple[dict, list[str]]:
    """A conservative outlierDetection and one line of reasoning per number."""
    why: list[str] = []
    od: dict[str, Any] = {"consecutive5xxErrors": 10, "interval": "60s", "baseEjectionTime": "30s",
                          "maxEjectionPercent": 50}
    if error_rate is not None and error_rate > 0.01:
        od["consecutive5xxErrors"] = 20
        why.append(f"consecutive5xxErrors 20: the host already fails {error_rate:.1%} of requests, so 10 in a row "
                   "would eject healthy replicas on background noise")
    else:
        why.append("consecutive5xxErrors 10: conservative start; tighten (e.g. 5) once error rates prove stable"
                   + (f" (observed {error_rate:.2%} 5xx)" if error_rate is not None else ""))
    if rps is not None and replicas and rps / max(replicas, 1) >= 50:
        od["interval"] = "10s"
        why.append(f"interval 10s: ~{rps:.0f} req/s ({rps / replicas:.0f} per replica) gives enough signal to "
                   "decide every 10s, so a bad replica is removed sooner")
    else:
        why.append("interval 60s: evaluate once a minute; with little traffic, shorter windows decide on too few "
                   "requests" + (f" (observed ~{rps:.1f} req/s)" if rps is not None else ""))
    why.append("baseEjectionTime 30s: a short first ejection; Envoy multiplies it each time the host is ejected "
               "again (capped at 300s)")
    if replicas <= 1:
        od["maxEjectionPercent"] = 0
        why.append("maxEjectionPercent 0 (no ejection): with one replica there is nothing to fail over to; scale to "
                   "2 or more first")
    else:
        pct = min(50, (100 * (replicas - 1)) // replicas)
        od["maxEjectionPercent"] = pct
        why.append(f"maxEjectionPercent {pct}: with {replicas} replicas at most "
                   f"{replicas * pct // 100 or 1} can be ejected, so at least one always serves")
    return od, why


def validate_outlier(settings: dict) -> dict:
    allowed = {"consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime",
               "maxEjectionPercent", "minHealthPercent", "splitExternalLocalOriginErrors",
               "consecutiveLocalOriginFailures"}
    unknown = set(settings) - allowed
    if unknown:
        raise InvalidInput(f"Unknown outlierDetection fields: {', '.join(sorted(unknown))}.",
                           hint=f"use: {', '.join(sorted(allowed))}.")
    out = dict(settings)
    for f in ("interval", "baseEjectionTime"):
        if f in out:
            parse_duration(out[f], f)
    for f in ("maxEjectionPercent", "minHealthPercent"):
        if f in out:
            v = out[f]
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
                raise InvalidInput(f"{f} must be a whole number from 0 to 100, got {v!r}.")
    for f in ("consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveLocalOriginFailures"):
        if f in out and (isinstance(out[f], bool) or not isinstance(out[f], int) or out[f] < 0):
            raise InvalidInput(f"{f} must be a whole number >= 0, got {out[f]!r}.")
    return out


def validate_pool(settings: dict) -> dict:
    tcp_fields = {"maxConnections", "connectTimeout", "tcpKeepalive", "idleTimeout", "maxConnectionDuration"}
    http_fields = {"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries",
                   "idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"}
    for part, allowed in (("tcp", tcp_fields), ("http", http_fields)):
        sub = settings.get(part) or {}
        if not isinstance(sub, dict):
            raise InvalidInput(f"connectionPool.{part} must be a mapping.")
        unknown = set(sub) - allowed
        if unknown:
            raise InvalidInput(f"Unknown connectionPool.{part} fields: {', '.join(sorted(unknown))}.",
                               hint=f"use: {', '.join(sorted(allowed))}.")
        for k, v in sub.items():
            if k in ("connectTimeout", "idleTimeout", "maxConnectionDuration"):
                parse_duration(v, f"connectionPool.{part}.{k}")
            elif k not in ("tcpKeepalive", "h2UpgradePolicy", "useClientProtocol") and (
                    isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise InvalidInput(f"connectionPool.{part}.{k} must be a whole number >= 1, got {v!r}.")
    extra = set(settings) - {"tcp", "http"}
    if extra:
        raise InvalidInput(f"Unknown connectionPool sections: {', '.join(sorted(extra))}.", hint="use tcp and http.")
    return settings
