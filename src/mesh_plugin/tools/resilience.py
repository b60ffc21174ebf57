"""Circuit breaking: resilience_status, recommend_outlier_detection, set_outlier_detection, set_connection_pool,
set_failure_accrual (Linkerd)."""
from __future__ import annotations

import copy
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..analyzers.linkerd_failure_accrual import PREFIX as FA, check_failure_accrual
from ..errors import InvalidInput, MeshError, Unreachable
from ..kube.snapshot import annotations_of, labels_of, name_of, ns_of
from ..mesh import resilience as RZ
from ..mesh.meshconfig import root_namespace
from ..mesh.mtls import destination_rule_for, mesh_config
from ..envoy.configdump import parse_cluster_name
from ..mesh.workloads import is_running, sidecar_of
from ..render import render_changes, table
from ..runtime import RUNTIME
from .registry import (Apply, Confirm, Files, Host, Namespace, OptNamespace, Settings, ShowDiff, Subset,
                       Window, op)
from .traffic import TrafficChange, _apply_objects, _context


class FailureAccrual(BaseModel):
    """Linkerd's consecutive failure accrual settings (balancer.linkerd.io/failure-accrual-consecutive-*)."""

    model_config = ConfigDict(extra="forbid")
    maxFailures: int = Field(default=7, ge=1, le=1000)  # noqa: N815 - the annotation's own spelling
    minPenalty: str = Field(default="1s", max_length=16)  # noqa: N815
    maxPenalty: str = Field(default="60s", max_length=16)  # noqa: N815
    jitterRatio: float = Field(default=0.5, ge=0, le=100)  # noqa: N815


class PolicyView(BaseModel):
    subset: str | None
    port: int | None
    replicas: int = Field(description="running pods this subset selects")
    outlier_detection: dict | None = Field(description="effective DestinationRule outlierDetection")
    envoy_outlier: dict | None = Field(description="what Envoy gets (defaults filled in)")
    connection_pool: dict | None
    envoy_circuit_breakers: dict
    envoy_panic_threshold: float = Field(default=50.0, description=(
        "the cluster's healthy_panic_threshold in percent: minHealthPercent (default 0) when outlierDetection is "
        "set, else Envoy's 50"))
    cluster: str | None = Field(default=None, description="the Envoy cluster: outbound|port|subset|host")
    live_envoy: dict | None = Field(default=None, description=(
        "live: the same values as a calling sidecar's Envoy holds them (config_dump), when read"))
    live_differs: list[str] = Field(default=[], description="live value vs the DestinationRule's, where they differ")


class LiveEndpoint(BaseModel):
    proxy: str
    cluster: str
    endpoint: str
    ejected: bool
    counters: dict[str, float] = {}


class ResilienceStatus(BaseModel):
    host: str
    destination_rule: str | None
    policies: list[PolicyView]
    live: list[LiveEndpoint] = Field(default=[], description="endpoints of this host seen by calling sidecars, "
                                                             "ejected first")
    live_note: str = ""
    failure_accrual: dict[str, str] = Field(default={}, description="Linkerd balancer.linkerd.io annotations")
    findings: list[str] = Field(default=[], description="lint, most severe first: [CODE] text")


def _pods_for(snap: Any, svc: dict, labels: dict | None = None) -> list[dict]:
    sel = (svc.get("spec") or {}).get("selector") or {}
    return [p for p in snap.of("Pod", ns_of(svc)) if sel and is_running(p)
            and all(labels_of(p).get(k) == v for k, v in {**sel, **(labels or {})}.items())]


def render_resilience(r: ResilienceStatus) -> str:
    out = [f"{r.host}: DestinationRule {r.destination_rule or '(none)'}"]
    rows = []
    for p in r.policies:
        od = p.envoy_outlier
        odtxt = (f"5xx>={od['consecutive_5xx']} every {od['interval']}, eject {od['base_ejection_time']}, "
                 f"max {od['max_ejection_percent']}%, panic below {p.envoy_panic_threshold:g}%") if od else \
            f"off (panic below {p.envoy_panic_threshold:g}%)"
        cb = p.envoy_circuit_breakers
        cbtxt = ", ".join(f"{k}={v}" for k, v in cb.items() if v not in (RZ.UNLIMITED, "unlimited", "10s", "3600s"))
        live = "-" if p.live_envoy is None else ("= DR" if not p.live_differs else "; ".join(p.live_differs))
        rows.append([p.subset or "(all)", p.port or "-", p.replicas, odtxt, cbtxt or "defaults", live])
    out.append(table(["SUBSET", "PORT", "REPLICAS", "OUTLIER DETECTION (FROM DR)", "CONNECTION POOL", "LIVE ENVOY"],
                     rows))
    if r.live:
        out.append("")
        out.append(table(["PROXY", "ENDPOINT", "OUTLIER CHECK", "CLUSTER", "EJECTIONS"],
                         [[e.proxy, e.endpoint, "FAILED" if e.ejected else "OK", e.cluster,
                           ", ".join(f"{k}={v:g}" for k, v in e.counters.items())] for e in r.live]))
    if r.live_note:
        out.append(r.live_note)
    if r.failure_accrual:
        out.append("Linkerd failure accrual: " + ", ".join(f"{k}={v}" for k, v in r.failure_accrual.items()))
    if r.findings:
        out.append("Findings:")
        out += [f"  - {f}" for f in r.findings]
    return "\n".join(out)


@op("traffic_status", "resilience", cli="resilience", args="host", render=render_resilience)
def resilience_status(host: Host, namespace: OptNamespace = None, files: Files = None,
                      live: Annotated[bool, Field(description="also read the proxies' live state")] = True
                      ) -> ResilienceStatus:
    """Effective outlier detection and connection pool per subset and port, live ejections.

    Circuit breaking for a host: the effective connectionPool and outlierDetection per subset and port
    (DestinationRule policy merged with subset and port-level overrides, Istio's rules), the replicas each
    subset selects, the Envoy values they become (defaults filled in), and live state from the sidecars that
    call the host: which endpoints are ejected right now (/clusters failed_outlier_check) and ejection
    counters where stats are available. Lint findings with codes; Linkerd failure-accrual annotations too."""
    snap, full, svc, _, _ = _context(host, namespace, files)
    mesh = mesh_config(snap) if files else _live_mesh_config()
    dr = destination_rule_for(snap, full, None, root_namespace(mesh))
    mesh_default = mesh.get("defaultTrafficPolicy") if isinstance(mesh.get("defaultTrafficPolicy"), dict) else None
    subsets = [None] + [str(s.get("name")) for s in ((dr or {}).get("spec") or {}).get("subsets") or []]
    ports = [int(p.get("port")) for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port")] or [None]
    policies, findings = [], []
    own = {str(s.get("name")): bool((s.get("trafficPolicy") or {}).get("outlierDetection") or
                                    (s.get("trafficPolicy") or {}).get("connectionPool"))
           for s in ((dr or {}).get("spec") or {}).get("subsets") or []}
    for subset in subsets:
        labels = next((s.get("labels") or {} for s in ((dr or {}).get("spec") or {}).get("subsets") or []
                       if s.get("name") == subset), {}) if subset else {}
        replicas = len(_pods_for(snap, svc, labels))
        for port in ports:
            pol = RZ.effective_policy(dr, subset, port, mesh_default)
            od, cp = pol.get("outlierDetection"), pol.get("connectionPool")
            policies.append(PolicyView(subset=subset, port=port, replicas=replicas, outlier_detection=od,
                                       envoy_outlier=RZ.envoy_outlier(od, svc), connection_pool=cp,
                                       envoy_circuit_breakers=RZ.envoy_circuit_breakers(cp, mesh),
                                       envoy_panic_threshold=RZ.panic_threshold(od, svc),
                                       cluster=f"outbound|{port or ''}|{subset or ''}|{full}"))
            if subset and not own.get(subset):
                continue  # inherited from the top level: judged there once
            what = full + (f" subset {subset}" if subset else "") + (f" port {port}" if len(ports) > 1 else "")
            for code, level, text in RZ.lint(od, cp, replicas, what, dr is not None):
                findings.append(({"Error": 0, "Warning": 1, "Info": 2}[level], f"[{code}] {text}"))
    if dr is None and len(_pods_for(snap, svc)) > 1:
        findings.append((2, f"[MESH0304] {full}: {len(_pods_for(snap, svc))} replicas and no DestinationRule: no "
                            "outlier detection, a failing replica keeps getting requests"))
    fa = {k: v for k, v in annotations_of(svc).items() if k.startswith(FA)}
    for ann, problem in check_failure_accrual(fa):
        findings.append((0, f"[MESH0502] {ann}: {problem}"))
    result = ResilienceStatus(host=full, destination_rule=f"{ns_of(dr)}/{name_of(dr)}" if dr else None,
                              policies=policies[:24], failure_accrual=fa,
                              findings=[f for _, f in sorted(findings, key=lambda x: x[0])][:20])
    if live and not files:
        result.live, result.live_note, reader = _live(snap, full)
        if reader:
            _compare_live(result, reader, full)
    elif files:
        result.live_note = "live state: not read in offline mode"
    return result


def _live_mesh_config() -> dict:
    """The mesh config of a live cluster (connectTimeout, defaultTrafficPolicy, rootNamespace): one LIST of the
    ConfigMaps of istio-system; Istio's defaults when it cannot be read."""
    try:
        return mesh_config(RUNTIME.snapshot(("ConfigMap",), "istio-system", None))
    except MeshError:
        return {}


#: Envoy's own defaults for the outlier fields a config dump leaves out (outlier_detection.proto)
_ENVOY_OUTLIER_DEFAULTS = {"consecutive_5xx": 5, "interval": "10s", "base_ejection_time": "30s",
                           "max_ejection_percent": 10, "consecutive_gateway_failure": 5,
                           "enforcing_consecutive_gateway_failure": 0}
_LIVE_KEYS = ("consecutive_5xx", "interval", "base_ejection_time", "max_ejection_percent",
              "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure", "healthy_panic_threshold")


def _live_values(cluster: dict) -> dict:
    """The outlier and panic values of one cluster of a config dump, Envoy's defaults where it leaves them out."""
    od = cluster.get("outlier_detection")
    lb = cluster.get("common_lb_config")
    panic = "50%" if lb is None or "healthy_panic_threshold" not in lb else \
        f"{float((lb.get('healthy_panic_threshold') or {}).get('value') or 0):g}%"
    if od is None:
        return {"outlier_detection": "off", "healthy_panic_threshold": panic}
    out = {k: od.get(k, d) for k, d in _ENVOY_OUTLIER_DEFAULTS.items()}
    out["healthy_panic_threshold"] = panic
    return out


def _compare_live(result: ResilienceStatus, reader: str, host: str) -> None:
    """Fill each policy's live values from one calling sidecar's clusters for ``host`` and say where they differ
    from what the DestinationRule gives (a push that has not reached it, an EnvoyFilter, another version)."""
    import json
    import re

    from ..envoy.admin import fetch_admin

    ns, _, pod = reader.partition("/")
    try:
        body = fetch_admin(RUNTIME.client(), ns, pod, "config_dump", check_sidecar=False, timeout=5, query=[
            ("resource", "dynamic_active_clusters"), ("name_regex", rf"^outbound\|.*\|{re.escape(host)}$")])
        doc = json.loads(body)
    except (MeshError, ValueError):
        return
    clusters = {}
    for c in doc.get("configs") or []:
        cl = (c or {}).get("cluster") or {}
        if cl.get("name"):
            clusters[cl["name"]] = cl
    for p in result.policies:
        cl = clusters.get(p.cluster or "")
        if cl is None:
            continue
        p.live_envoy = _live_values(cl)
        want = {k: v for k, v in (p.envoy_outlier or {}).items() if k in _LIVE_KEYS} if p.envoy_outlier else {
            "outlier_detection": "off", "healthy_panic_threshold": f"{p.envoy_panic_threshold:g}%"}
        p.live_differs = [f"{k} {p.live_envoy.get(k)} live, {v} from the DestinationRule" for k, v in want.items()
                          if str(p.live_envoy.get(k)) != str(v)]
    if any(p.live_differs for p in result.policies):
        result.live_note += (f"; {reader}'s Envoy holds other values than the DestinationRule gives (a push not "
                             "applied yet, an EnvoyFilter, or another Istio version): see LIVE")
    else:
        result.live_note += f"; {reader}'s Envoy holds the DestinationRule's values"


def _live(snap: Any, host: str) -> tuple[list[LiveEndpoint], str, str | None]:
    import json

    from ..envoy.admin import fetch_admin

    client = RUNTIME.client()
    out: list[LiveEndpoint] = []
    unreachable = 0
    readers = 0
    first: str | None = None
    host_ns = host.split(".")[1] if host.count(".") >= 1 else ""
    # the live values are read from the first reader: an application sidecar in the host's namespace first
    pods = sorted(snap.of("Pod"), key=lambda p: (sidecar_of(p) != "istio", ns_of(p) != host_ns, ns_of(p), name_of(p)))
    for pod in pods:
        if sidecar_of(pod) not in ("istio", "istio-gateway") or not is_running(pod):
            continue
        try:
            body = fetch_admin(client, ns_of(pod), name_of(pod), "clusters", query=[("format", "json")],
                               check_sidecar=False, timeout=5)
        except (Unreachable, InvalidInput):
            unreachable += 1
            continue
        except MeshError:
            unreachable += 1
            continue
        doc = json.loads(body)
        mine = [cs for cs in doc.get("cluster_statuses") or [] if parse_cluster_name(cs.get("name", ""))[0] == host]
        if not mine:
            continue
        readers += 1
        first = first or f"{ns_of(pod)}/{name_of(pod)}"
        counters: dict[str, dict[str, float]] = {}
        try:
            stats = json.loads(fetch_admin(client, ns_of(pod), name_of(pod), "stats", check_sidecar=False,
                                           query=[("filter", "outlier_detection"), ("format", "json")]))
            for st in stats.get("stats") or []:
                n = str(st.get("name", ""))
                if "outlier_detection." in n and n.startswith("cluster."):
                    cl, _, metric = n[len("cluster."):].rpartition(".outlier_detection.")
                    cl = cl.rstrip(";")  # istiod's clusters count under alt_stat_name "outbound|...|host;"
                    if metric in ("ejections_active", "ejections_enforced_total",
                                  "ejections_detected_consecutive_5xx") and st.get("value"):
                        counters.setdefault(cl, {})[metric] = float(st["value"])
        except MeshError:
            pass
        for cs in mine:
            for hs in cs.get("host_statuses") or []:
                sa = ((hs.get("address") or {}).get("socket_address")) or {}
                ejected = bool((hs.get("health_status") or {}).get("failed_outlier_check"))
                out.append(LiveEndpoint(proxy=f"{ns_of(pod)}/{name_of(pod)}", cluster=cs["name"],
                                        endpoint=f"{sa.get('address')}:{sa.get('port_value')}", ejected=ejected,
                                        counters=counters.get(cs["name"], {})))
    out.sort(key=lambda e: (not e.ejected, e.proxy, e.cluster, e.endpoint))
    ejected = sum(e.ejected for e in out)
    note = f"live state from {readers} calling sidecar(s): {ejected} endpoint(s) ejected"
    if unreachable:
        note += f"; {unreachable} sidecar(s) did not answer"
    return out[:30], note, first


class Recommendation(BaseModel):
    host: str
    replicas: int
    rps: float | None
    error_rate: float | None
    current: dict | None = Field(description="the outlierDetection in force today")
    outlier_detection: dict
    reasons: list[str] = Field(description="one line per number")
    metrics: str
    yaml: str


@op("traffic_status", "recommend_outlier", cli="recommend-outlier", args="host", render=lambda r: "\n".join(r.reasons) + "\n\n" + r.yaml)
def recommend_outlier_detection(host: Host, namespace: OptNamespace = None,
                                window: Window = "1h") -> Recommendation:
    """A conservative outlierDetection for a host, with a reason per value.

    A conservative outlierDetection for a host (consecutive5xxErrors 10, interval 60s, baseEjectionTime 30s,
    maxEjectionPercent 50 or lower so at least one replica always stays), adjusted to the observed 5xx rate and
    request volume (Prometheus, when reachable) and the replica count, with one line explaining each number,
    and per subset (its own Envoy cluster) how many pods can be ejected and what its share of requests gets.
    Apply it with traffic_change action=outlier."""
    from ..metrics import prometheus_for
    from ..metrics.prometheus import service_traffic

    snap, full, svc, vs, dr = _context(host, namespace, None)
    replicas = len(_pods_for(snap, svc))
    weights = _subset_shares(vs)
    subsets = {str(s.get("name")): (len(_pods_for(snap, svc, s.get("labels") or {})), weights.get(str(s.get("name"))))
               for s in ((dr or {}).get("spec") or {}).get("subsets") or [] if s.get("name")}
    rps = err = None
    try:
        prom = prometheus_for(RUNTIME)
        rps, bad = service_traffic(prom, name_of(svc), ns_of(svc), window).get("", (0.0, 0.0))
        err = bad / rps if rps else 0.0
        metrics = f"Prometheus at {prom.where} over {window}"
    except InvalidInput:  # the configured Prometheus URL is malformed: say so, do not hide it
        raise
    except MeshError as e:
        metrics = f"metrics unavailable: {e}"
    od, why = RZ.recommend(replicas, rps, err, subsets)
    current = RZ.effective_policy(dr).get("outlierDetection")
    doc = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
           "metadata": {"name": name_of(dr) if dr else name_of(svc), "namespace": ns_of(dr) if dr else ns_of(svc)},
           "spec": {"host": name_of(svc), "trafficPolicy": {"outlierDetection": od}}}
    return Recommendation(host=full, replicas=replicas, rps=rps, error_rate=err, current=current,
                          outlier_detection=od, reasons=why, metrics=metrics,
                          yaml=yaml.safe_dump(doc, sort_keys=False))


def _subset_shares(vs: dict | None) -> dict[str, float]:
    """subset -> percent of the first weighted HTTP route of the mesh VirtualService (relative weights)."""
    for r in ((vs or {}).get("spec") or {}).get("http") or []:
        dests = [d for d in r.get("route") or [] if (d.get("destination") or {}).get("subset")]
        if dests:
            ws = {str(d["destination"]["subset"]): float(d.get("weight") if d.get("weight") is not None
                                                         else (100 if len(dests) == 1 else 0)) for d in dests}
            total = sum(ws.values())
            return {k: round(100 * v / total, 1) for k, v in ws.items()} if total else {}
    return {}


def _merged(dr: dict | None, field: str, settings: dict, subset: str | None) -> tuple[dict, str]:
    """The block after the change: ``settings`` over what applies today at that level (for a subset without a
    block of its own, the host-level block it inherits: a subset's block replaces the host's in Istio, so the
    inherited fields are copied rather than lost). Returns (block, where the base came from)."""
    spec = (dr or {}).get("spec") or {}
    if subset:
        own = ((next((x for x in spec.get("subsets") or [] if x.get("name") == subset), None) or {})
               .get("trafficPolicy") or {}).get(field)
        if own is not None:
            return RZ.merge_settings(own, settings), f"subset {subset}'s {field}"
    top = (spec.get("trafficPolicy") or {}).get(field)
    if top is not None:
        return RZ.merge_settings(top, settings), (f"the host-level {field} subset {subset} inherits (copied: a "
                                                  f"subset's block replaces the host's)" if subset else
                                                  f"the host-level {field}")
    return RZ.merge_settings(None, settings), "nothing (new)"


def _with_policy_field(dr: dict | None, svc: dict, field: str, value: dict, subset: str | None) -> dict:
    if dr is None:
        if subset:
            raise InvalidInput(f"Unknown subset {subset!r}: {ns_of(svc)}/{name_of(svc)} has no DestinationRule.",
                               hint="create subsets first (set_traffic_split) or omit subset=.")
        return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": name_of(svc), "namespace": ns_of(svc)},
                "spec": {"host": name_of(svc), "trafficPolicy": {field: value}}}
    new = copy.deepcopy(dr)
    spec = new.setdefault("spec", {})
    if subset:
        target = next((s for s in spec.get("subsets") or [] if s.get("name") == subset), None)
        if target is None:
            names = [s.get("name") for s in spec.get("subsets") or []]
            raise InvalidInput(f"Unknown subset {subset!r} in {ns_of(dr)}/{name_of(dr)}.",
                               hint=f"use one of: {', '.join(map(str, names)) or '(none)'}.")
        target.setdefault("trafficPolicy", {})[field] = value
    else:
        spec.setdefault("trafficPolicy", {})[field] = value
    return new




@op("traffic_change", "outlier", cli="set-outlier", args="host settings=K=V...", render=render_changes)
def set_outlier_detection(host: Host, settings: Settings,
                          subset: Subset = None, namespace: OptNamespace = None, files: Files = None,
                          apply: Apply = False, confirm: Confirm = None, show_diff: ShowDiff = False) -> TrafficChange:
    """Set a host's (or subset's) outlierDetection on its DestinationRule.

    Set a host's (or one subset's) outlierDetection on its DestinationRule (created when missing): only the
    fields given change, the result is shown. Validates first (durations with units, percentages 0-100, known
    subset), lints the result, then the shared change
    path: dry-run diff by default; apply=true with a resourceVersion precondition and a rollback handle."""
    RZ.validate_outlier(settings)
    snap, full, svc, _, dr = _context(host, namespace, files, fresh=True)
    od, base = _merged(dr, "outlierDetection", settings, subset)
    new = _with_policy_field(dr, svc, "outlierDetection", od, subset)
    labels = next((s.get("labels") or {} for s in (new.get("spec") or {}).get("subsets") or []
                   if s.get("name") == subset), {}) if subset else {}
    warnings = [f"[{c}] {t}" for c, _, t in RZ.lint(od, None, len(_pods_for(snap, svc, labels)),
                                                    full + (f" subset {subset}" if subset else ""), True)]
    r = _apply_objects([new], files, apply, confirm, show_diff, snap, f"outlierDetection for {full}", full,
                       warnings, kinds={"DestinationRule"}, namespace=ns_of(svc))
    r.note = _result_note("outlierDetection", od, base, r.note)
    return r


@op("traffic_change", "pool", cli="set-pool", args="host settings=K=V...", render=render_changes)
def set_connection_pool(host: Host, settings: Settings,
                        subset: Subset = None, namespace: OptNamespace = None, files: Files = None,
                        apply: Apply = False, confirm: Confirm = None, show_diff: ShowDiff = False) -> TrafficChange:
    """Set a host's (or subset's) connectionPool on its DestinationRule.

    Set a host's (or one subset's) connectionPool (Envoy circuit breakers) on its DestinationRule. Validated
    first, then the shared change path: dry-run diff by default; apply=true with a precondition and rollback."""
    RZ.validate_pool(settings)
    snap, full, svc, _, dr = _context(host, namespace, files, fresh=True)
    cp, base = _merged(dr, "connectionPool", settings, subset)
    new = _with_policy_field(dr, svc, "connectionPool", cp, subset)
    r = _apply_objects([new], files, apply, confirm, show_diff, snap, f"connectionPool for {full}", full, [],
                       kinds={"DestinationRule"}, namespace=ns_of(svc))
    r.note = _result_note("connectionPool", cp, base, r.note)
    return r


def _result_note(field: str, block: dict, base: str, note: str) -> str:
    import json

    return (f"{field} after the change: {json.dumps(block, separators=(', ', ': '))} (the fields given, over "
            f"{base}; other fields kept)" + (f". {note}" if note else ""))


@op("traffic_change", "failure_accrual", cli="failure-accrual", args="host", render=render_changes,
    flags={"--max-failures": "settings.maxFailures", "--min-penalty": "settings.minPenalty",
           "--max-penalty": "settings.maxPenalty", "--jitter-ratio": "settings.jitterRatio"})
def set_failure_accrual(host: Host, namespace: Namespace, settings: Settings | None = None,
                        disable: Annotated[bool, Field(description="failure_accrual: remove it")] = False,
                        apply: Apply = False, confirm: Confirm = None) -> TrafficChange:
    """Set or remove Linkerd failure accrual on a Service.

    Linkerd circuit breaking: set (or remove) the balancer.linkerd.io/failure-accrual annotations on a
    Service (consecutive mode: maxFailures, minPenalty, maxPenalty, jitterRatio; defaults 7, 1s, 60s, 0.5).
    Validated with the same lint as analyze, then the shared change path (dry-run diff by default, rollback
    handle)."""
    service = host.split(".")[0]
    try:
        fa = FailureAccrual.model_validate(settings or {})
    except ValidationError as e:
        from .registry import schema_errors

        raise InvalidInput(f"Invalid failure accrual settings: {schema_errors(e)}.",
                           hint="keys: maxFailures, minPenalty, maxPenalty, jitterRatio.") from None
    max_failures, min_penalty, max_penalty, jitter_ratio = fa.maxFailures, fa.minPenalty, fa.maxPenalty, fa.jitterRatio
    snap = RUNTIME.snapshot(("Service",), namespace, None, fresh=True)
    svc = snap.get("Service", service, namespace)
    if svc is None:
        from ..errors import NotFound

        raise NotFound(f"No Service {namespace}/{service}.", hint="check the name with describe_routing.")
    for label, v in (("min_penalty", min_penalty), ("max_penalty", max_penalty)):
        RZ.parse_duration(v, label)
    if RZ.parse_duration(min_penalty) > RZ.parse_duration(max_penalty):
        raise InvalidInput("min_penalty is longer than max_penalty.", hint="e.g. min 1s, max 60s.")
    new = copy.deepcopy(svc)
    ann = new.setdefault("metadata", {}).setdefault("annotations", {})
    for k in [k for k in ann if k.startswith(FA)]:
        del ann[k]
    if not disable:
        ann.update({FA: "consecutive", f"{FA}-consecutive-max-failures": str(max_failures),
                    f"{FA}-consecutive-min-penalty": min_penalty, f"{FA}-consecutive-max-penalty": max_penalty,
                    f"{FA}-consecutive-jitter-ratio": str(jitter_ratio)})
        problems = check_failure_accrual({k: v for k, v in ann.items() if k.startswith(FA)})
        if problems:
            raise InvalidInput("Invalid failure accrual: " + "; ".join(f"{a}: {p}" for a, p in problems))
    if not ann:
        new["metadata"].pop("annotations", None)
    return _apply_objects([new], None, apply, confirm, False, snap,
                          ("remove" if disable else "set") + f" failure accrual on {namespace}/{service}",
                          f"{service}.{namespace}.svc.cluster.local", [], kinds={"Service"}, namespace=namespace)
