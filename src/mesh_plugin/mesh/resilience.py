"""Circuit breaking: effective connectionPool / outlierDetection (Istio's merge rules), the Envoy values they
become, lint, and recommendations. Pure.

Merge (``pilot/pkg/networking/util/util.go`` GetPortLevelTrafficPolicy and MergeSubsetTrafficPolicy,
``pilot/pkg/model/destination_rule.go`` MergeTrafficPolicy, ``pilot/pkg/networking/core/cluster_builder.go``):

- the DestinationRule's trafficPolicy; when it has ``portLevelSettings`` for the port, those replace it whole:
  connectionPool, outlierDetection, loadBalancer and tls come from the port entry alone, a field it omits
  takes Envoy's default (it is not inherited from the top level);
- the mesh config's ``defaultTrafficPolicy`` fills connectionPool / outlierDetection left unset;
- a subset's trafficPolicy overrides field by field; when the subset has ``portLevelSettings`` for the port,
  all four fields come from that entry (omitted ones again fall back to defaults).

Envoy values (``pilot/pkg/networking/core/cluster_traffic_policy.go`` applyConnectionPool,
applyOutlierDetection): every outbound cluster has circuit breakers (4294967295 unless set above 0); with
``outlierDetection`` set (even ``{}``) the cluster gets ``healthy_panic_threshold`` = minHealthPercent
(default 0: panic mode off; 0 as well when the Service sets trafficDistribution); without it, the pinned Istio
still sets 0 (PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS, on by default: applyLoadBalancer), so Envoy's own 50% applies only
when that flag is off; fields Istio leaves unset take Envoy's defaults
(``envoy/config/cluster/v3/outlier_detection.proto``).
"""
from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import InvalidInput

FIELDS = ("connectionPool", "outlierDetection", "loadBalancer", "tls")
#: what MergeTrafficPolicy carries besides FIELDS (never replaced by port-level settings)
EXTRA_FIELDS = ("tunnel", "proxyProtocol", "retryBudget")
UNLIMITED = 4294967295
#: Envoy's panic threshold when nothing sets it (cluster.proto CommonLbConfig.healthy_panic_threshold)
ENVOY_PANIC_THRESHOLD = 50.0
#: istiod's PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS (pilot/pkg/features/experimental.go), true at the pinned Istio: every
#: Service then "supports unhealthy endpoints" and applyLoadBalancer sets an unset panic threshold to 0
AUTO_SEND_UNHEALTHY_ENDPOINTS = True
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def parse_duration(value: Any, what: str = "duration") -> float:
    """Seconds from a protobuf/Go duration like 30s, 1.5s, 500ms, 5m, 1h; clear errors otherwise."""
    m = _DURATION.match(str(value).strip())
    if not m:
        raise InvalidInput(f"{what}: {value!r} is not a duration.",
                           hint="use a number with a unit: 500ms, 30s, 5m, 1h (no sign, no bare numbers).")
    n, unit = float(m.group(1)), m.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def pb_duration(value: Any) -> str:
    """A duration as Envoy's config dump prints it (protobuf JSON: "60s", "0.500s"); unparsable values as given."""
    try:
        secs = parse_duration(value)
    except InvalidInput:
        return str(value)
    nanos = round(secs * 1e9)
    whole, frac = divmod(nanos, 10**9)
    if not frac:
        return f"{whole}s"
    digits = 3 if frac % 10**6 == 0 else (6 if frac % 10**3 == 0 else 9)
    return f"{whole}.{frac // 10**(9 - digits):0{digits}d}s"


def _port_level(policy: dict | None, port: int | None) -> tuple[dict | None, bool]:
    """GetPortLevelTrafficPolicy: the port's entry alone (its four fields) when there is one."""
    if policy is None or port is None:
        return policy, False
    for pls in policy.get("portLevelSettings") or []:
        number = (pls.get("port") or {}).get("number")
        if str(number).isdigit() and int(number) == int(port):
            return {f: copy.deepcopy(pls[f]) for f in FIELDS if pls.get(f) is not None}, True
    return policy, False


def _with_mesh_default(policy: dict | None, mesh_default: dict | None) -> dict | None:
    """applyDefaultTrafficPolicy: the mesh's defaultTrafficPolicy fills connectionPool/outlierDetection."""
    if not mesh_default:
        return policy
    out = dict(policy or {})
    for f in ("connectionPool", "outlierDetection"):
        if out.get(f) is None and mesh_default.get(f) is not None:
            out[f] = copy.deepcopy(mesh_default[f])
    return out if (policy is not None or out) else policy


def effective_policy(dr: dict | None, subset: str | None = None, port: int | None = None,
                     mesh_default: dict | None = None) -> dict:
    """The traffic policy a client applies to (host, subset, service port): only the non-null fields among
    connectionPool, outlierDetection, loadBalancer and tls (and tunnel, proxyProtocol, retryBudget)."""
    spec = (dr or {}).get("spec") or {}
    top, _ = _port_level(spec.get("trafficPolicy"), port)
    top = _with_mesh_default(top, mesh_default)
    policy = top
    if subset:
        sub = next((s.get("trafficPolicy") for s in spec.get("subsets") or [] if s.get("name") == subset), None)
        if sub is not None:
            sub_pol, has_port = _port_level(sub, port)
            if top is None:
                policy = sub_pol
            else:
                merged = {f: top.get(f) for f in FIELDS + EXTRA_FIELDS}
                for f in FIELDS:
                    if (sub_pol or {}).get(f) is not None or has_port:
                        merged[f] = (sub_pol or {}).get(f)
                for f in EXTRA_FIELDS:
                    if (sub_pol or {}).get(f) is not None:
                        merged[f] = sub_pol[f]  # type: ignore[index]
                policy = merged
    return {f: copy.deepcopy(v) for f, v in (policy or {}).items() if f in FIELDS + EXTRA_FIELDS and v is not None}


def _uint(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def panic_threshold(od: dict | None, service: dict | None = None) -> float:
    """The cluster's healthy_panic_threshold in percent: minHealthPercent (default 0) whenever outlierDetection is
    set (0 too when the Service sets trafficDistribution: applyOutlierDetection); otherwise applyLoadBalancer sets 0
    when the Service supports unhealthy endpoints (every Service at the pinned Istio, PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS,
    or one with trafficDistribution), else Envoy's default 50 applies."""
    if od is None:
        if AUTO_SEND_UNHEALTHY_ENDPOINTS or ((service or {}).get("spec") or {}).get("trafficDistribution"):
            return 0.0
        return ENVOY_PANIC_THRESHOLD
    if ((service or {}).get("spec") or {}).get("trafficDistribution"):
        return 0.0
    return float(_uint(od.get("minHealthPercent")) or 0)


def envoy_outlier(od: dict | None, service: dict | None = None) -> dict | None:
    """What Envoy's cluster outlier_detection holds, Envoy's defaults filled in where Istio sets nothing; None
    when there is no outlierDetection (no outlier detection at all). ``consecutiveErrors`` (deprecated) is
    ignored by Istio."""
    if od is None:
        return None
    c5 = _uint(od.get("consecutive5xxErrors"))
    gw = _uint(od.get("consecutiveGatewayErrors"))
    mep = _uint(od.get("maxEjectionPercent")) or 0
    split = bool(od.get("splitExternalLocalOriginErrors"))
    local = _uint(od.get("consecutiveLocalOriginFailures")) or 0
    out: dict[str, Any] = {
        "consecutive_5xx": 5 if c5 is None else c5,
        "enforcing_consecutive_5xx": 100 if c5 is None else (100 if c5 > 0 else 0),
        "consecutive_gateway_failure": 5 if gw is None else gw,
        "enforcing_consecutive_gateway_failure": 0 if gw is None else (100 if gw > 0 else 0),
        "interval": pb_duration(od["interval"]) if od.get("interval") is not None else "10s",
        "base_ejection_time": pb_duration(od["baseEjectionTime"]) if od.get("baseEjectionTime") is not None else "30s",
        "max_ejection_time": "300s",
        "max_ejection_percent": mep if mep > 0 else 10,
        "enforcing_success_rate": 0,
        "split_external_local_origin_errors": split,
        "consecutive_local_origin_failure": local if split and local > 0 else 5,
        "enforcing_consecutive_local_origin_failure": 100,
        "enforcing_local_origin_success_rate": 0 if split else 100,
        "healthy_panic_threshold": f"{panic_threshold(od, service):g}%",
    }
    return out


def envoy_circuit_breakers(cp: dict | None, mesh: dict | None = None) -> dict:
    """The cluster's circuit breaker thresholds and connection settings (Istio: 4294967295 unless set above 0;
    connect timeout from the pool, else the mesh's connectTimeout, 10s; idle timeout from http, else tcp,
    else Envoy's 1h)."""
    tcp = (cp or {}).get("tcp") or {}
    http = (cp or {}).get("http") or {}

    def limit(v: Any) -> int:
        n = _uint(v)
        return n if n and n > 0 else UNLIMITED

    idle = http.get("idleTimeout") if http.get("idleTimeout") is not None else tcp.get("idleTimeout")
    return {
        "max_connections": limit(tcp.get("maxConnections")),
        "max_pending_requests": limit(http.get("http1MaxPendingRequests")),
        "max_requests": limit(http.get("http2MaxRequests")),
        "max_retries": limit(http.get("maxRetries")),
        "max_requests_per_connection": (_uint(http.get("maxRequestsPerConnection")) or 0) or "unlimited",
        "connect_timeout": pb_duration(tcp.get("connectTimeout") or (mesh or {}).get("connectTimeout") or "10s"),
        "idle_timeout": pb_duration(idle) if idle is not None else "3600s",
        "max_connection_duration": pb_duration(tcp["maxConnectionDuration"]) if tcp.get("maxConnectionDuration")
        else "unlimited",
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


def max_ejectable(hosts: int, max_ejection_percent: int) -> int:
    """How many of a cluster's hosts Envoy's outlier detection may eject at once: it ejects one more only while
    100 * (ejected + 1) / hosts <= max_ejection_percent (outlier_detection_impl.cc; always_eject_one_host is off
    in what Istio sends). Istio never sends 0, so 0 means Envoy's 10."""
    pct = max_ejection_percent if max_ejection_percent > 0 else 10
    return (hosts * min(pct, 100)) // 100 if hosts > 0 else 0


def merge_settings(base: dict | None, settings: dict) -> dict:
    """``settings`` over ``base``: mappings merged key by key (connectionPool's tcp/http too), values replaced;
    fields not given keep their value."""
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for k, v in settings.items():
        out[k] = merge_settings(out.get(k), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else \
            copy.deepcopy(v)
    return out


def recommend(replicas: int, rps: float | None, error_rate: float | None,
              subsets: dict[str, tuple[int, float | None]] | None = None) -> tuple[dict, list[str]]:
    """A conservative outlierDetection and one line of reasoning per number, then one line per subset: each
    subset is its own Envoy cluster (outbound|port|subset|host), so the ejection limit applies to its pods
    alone, and its share of requests stays with it (``subsets``: name -> (running pods, weight % or None))."""
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
        why.append("maxEjectionPercent 50: with one replica Envoy ejects nothing (1 of 1 is 100%, over 50%); "
                   "ejecting the only endpoint would only turn its errors into 503 UH, as Istio's panic threshold "
                   "is 0; scale to 2 or more for outlier detection to act (0 is no 'off': Istio then sends "
                   "nothing and Envoy's 10% applies)")
    else:
        pct = min(50, (100 * (replicas - 1)) // replicas)
        od["maxEjectionPercent"] = pct
        why.append(f"maxEjectionPercent {pct}: with {replicas} replicas at most {max_ejectable(replicas, pct)} "
                   "can be ejected at once, so at least one always serves")
    pct = int(od["maxEjectionPercent"])
    for name, (pods, weight) in sorted((subsets or {}).items()):
        share = f"{weight:g}% of requests" if weight is not None else "the requests routed to it"
        n = max_ejectable(pods, pct)
        if pods == 0:
            why.append(f"subset {name}: no running pod; {share} get 503 UH (no healthy upstream) whatever the "
                       "outlier settings")
        elif n == 0:
            why.append(f"subset {name} ({pods} pod{'s' if pods != 1 else ''}, {share}): its own Envoy cluster, "
                       f"and {pods} x {pct}% is under one host, so Envoy never ejects it: a failing {name} keeps "
                       f"{share}. Gate it with traffic_change action=step (fails closed) or set its weight to 0 "
                       "(traffic_status view=diagnose proposes it)")
        else:
            why.append(f"subset {name} ({pods} pods, {share}): at most {n} ejected at once; if all of a subset's "
                       f"endpoints are ejected, {share} get 503 UH (panic threshold 0): they do not move to "
                       "another subset")
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
