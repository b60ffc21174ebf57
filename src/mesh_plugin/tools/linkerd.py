"""Linkerd: linkerd_stat, linkerd_edges, linkerd_policies, linkerd_authz_check, linkerd_check, set_linkerd_split."""
from __future__ import annotations

import base64
import copy
import math
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from ..errors import InvalidInput, MeshError, NotFound
from ..kube.kinds import KINDS
from ..kube.snapshot import Snapshot, labels_of, name_of, ns_of
from ..mesh import linkerd as L
from ..mesh.detect import detect_meshes
from ..mesh.routing import shares, validate_weights
from ..mesh.workloads import is_ready, is_running, sidecar_of, workloads
from ..models import Page
from ..render import render_changes, note, table
from ..runtime import RUNTIME
from .registry import (Caller, CallerSpec, Files, Limit, Namespace, Offset, OptNamespace, Target, TargetPort, op,
                       parse_arg)
from .registry import Apply, Confirm, Host, Weights, Window, Workload
from .traffic import TrafficChange, _apply_objects

LINKERD_KINDS = ("Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ServiceAccount",
                 "Server", "ServerAuthorization", "policy.linkerd.io/AuthorizationPolicy", "MeshTLSAuthentication",
                 "NetworkAuthentication", "policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute",
                 "CustomResourceDefinition", "MutatingWebhookConfiguration", "ConfigMap")


def _require_linkerd(snap: Snapshot) -> None:
    if not any(m.mesh == "linkerd" for m in detect_meshes(snap)):
        raise NotFound("Linkerd is not installed in this cluster (no control plane, no Linkerd CRDs).",
                       hint="install it (linkerd install --crds | kubectl apply -f -; linkerd install | kubectl "
                            "apply -f -) or point --context at a cluster that runs Linkerd.")


class StatRow(BaseModel):
    namespace: str
    name: str
    meshed: str = Field(description="meshed/running pods")
    success: float | None = Field(description="success rate 0-1, null without traffic")
    rps: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    tcp_conn: int | None


class LinkerdStat(BaseModel):
    paged_field: ClassVar[str] = "rows"
    resource: str
    window: str
    rows: list[StatRow]
    page: Page
    metrics: str


def _window_seconds(w: str) -> float:
    return float(w[:-1]) * {"s": 1, "m": 60, "h": 3600}[w[-1]]


def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else v


def render_stat(r: LinkerdStat) -> str:
    fmt = lambda v, f: "-" if v is None else f.format(v)  # noqa: E731
    rows = [[x.namespace, x.name, x.meshed, fmt(x.success, "{:.2%}"), fmt(x.rps, "{:.1f}rps"),
             fmt(x.latency_p50_ms, "{:.0f}ms"), fmt(x.latency_p95_ms, "{:.0f}ms"), fmt(x.latency_p99_ms, "{:.0f}ms"),
             fmt(x.tcp_conn, "{}")] for x in r.rows]
    return table(["NAMESPACE", "NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99",
                  "TCP_CONN"], rows) + note(r.page) + f"\n({r.metrics})"


@op("traffic_status", "linkerd_stat", cli="linkerd stat", args="resource", render=render_stat)
def linkerd_stat(resource: Annotated[str, Field(max_length=300, pattern=r"^(deploy|deployment|pod|po|sts|statefulset|"
                                                                         r"ns|namespace|ds|daemonset)(/[a-z0-9-.]+)?$",
                                                description="TYPE[/NAME], e.g. deploy, deploy/web, ns")],
                 namespace: OptNamespace = None, window: Window = "1m",
                 limit: Limit = 25, offset: Offset = 0) -> LinkerdStat:
    """linkerd viz stat: success rate, RPS and latency per resource.

    What `linkerd viz stat` shows, with the same PromQL: MESHED (from the API), SUCCESS, RPS, LATENCY_P50/95/99,
    TCP_CONN per deployment, pod, statefulset or namespace, from the viz Prometheus (through the API server's
    service proxy) or the configured Prometheus. Workloads with the lowest success rate come first."""
    from ..metrics import label_value, prometheus_for

    rtype, _, rname = resource.partition("/")
    label = L.RESOURCE_LABELS[rtype]
    snap = RUNTIME.snapshot(LINKERD_KINDS, None, None)
    _require_linkerd(snap)
    if namespace and namespace not in snap.namespaces():
        RUNTIME.require_namespace(namespace)
    parts = [f"namespace={label_value(namespace)}"] if namespace and label != "namespace" else []
    if label == "namespace" and rname:
        parts = [f"namespace={label_value(rname)}"]
    elif rname:
        parts.append(f"{label}={label_value(rname)}")
    try:
        prom = prometheus_for(RUNTIME, snap.of("Service"))
    except InvalidInput:  # the configured Prometheus URL is malformed: say so, do not hide it
        raise
    except MeshError as e:
        raise NotFound(f"The viz Prometheus is not reachable: {e.message}",
                       hint="install linkerd-viz (linkerd viz install | kubectl apply -f -), or start mesh-plugin with "
                            "--prometheus-url URL (MESH_PLUGIN_PROMETHEUS_URL) pointing at a Prometheus that scrapes "
                            "the proxies.") from None
    q = L.stat_queries(label, ",".join(parts), window)
    data: dict[tuple[str, str], dict] = {}

    def key(m: dict) -> tuple[str, str]:
        return (m.get("namespace", ""), m.get("namespace", "") if label == "namespace" else m.get(label, ""))

    for m, v in prom.query(q["responses"]):
        d = data.setdefault(key(m), {"success": 0.0, "failure": 0.0})
        d["success" if m.get("classification") == "success" else "failure"] += v
    for name in ("p50", "p95", "p99"):
        for m, v in prom.query(q[name]):
            data.setdefault(key(m), {"success": 0.0, "failure": 0.0})[name] = _num(v)
    for m, v in prom.query(q["tcp"]):
        data.setdefault(key(m), {"success": 0.0, "failure": 0.0})["tcp"] = int(v)
    secs = _window_seconds(window)
    rows = []
    units = _units(snap, label, namespace, rname)
    for (ns, name), pods in units.items():
        d = data.get((ns, name), {})
        total = d.get("success", 0.0) + d.get("failure", 0.0)
        running = [p for p in pods if is_running(p)]
        rows.append(StatRow(namespace=ns, name=name,
                            meshed=f"{sum(1 for p in running if sidecar_of(p) == 'linkerd')}/{len(running)}",
                            success=(d["success"] / total) if total else None, rps=(total / secs) if d else None,
                            latency_p50_ms=d.get("p50"), latency_p95_ms=d.get("p95"), latency_p99_ms=d.get("p99"),
                            tcp_conn=d.get("tcp")))
    rows.sort(key=lambda r: (r.success is None, r.success if r.success is not None else 1.0, r.namespace, r.name))
    from ..models import page

    shown, pg = page(rows, limit, offset, f"{label}s", "namespace= or TYPE/NAME")
    return LinkerdStat(resource=resource, window=window, rows=shown, page=pg,
                       metrics=f"Prometheus at {prom.where}, response_total/response_latency_ms/tcp_open_connections")


def _units(snap: Snapshot, label: str, namespace: str | None, rname: str) -> dict[tuple[str, str], list[dict]]:
    units: dict[tuple[str, str], list[dict]] = {}
    if label == "namespace":
        for p in snap.of("Pod"):
            if not rname or ns_of(p) == rname:
                units.setdefault((ns_of(p), ns_of(p)), []).append(p)
        return units
    if label == "pod":
        for p in snap.of("Pod", namespace):
            if not rname or name_of(p) == rname:
                units[(ns_of(p), name_of(p))] = [p]
        return units
    kind = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}[label]
    for w in workloads(snap, namespace):
        if w.kind == kind and (not rname or w.name == rname):
            units[(w.namespace, w.name)] = w.pods
    return units


class Edge(BaseModel):
    src: str
    dst: str
    src_ns: str
    dst_ns: str
    client_id: str | None
    server_id: str | None
    secured: bool
    no_tls_reason: str | None = None


class LinkerdEdges(BaseModel):
    paged_field: ClassVar[str] = "edges"
    edges: list[Edge] = Field(description="unsecured edges first")
    page: Page
    metrics: str


@op("traffic_status", "linkerd_edges", cli="linkerd edges", render=lambda r: table(
    ["SRC", "DST", "SRC_NS", "DST_NS", "CLIENT_ID", "SERVER_ID", "SECURED"],
    [[e.src, e.dst, e.src_ns, e.dst_ns, e.client_id or "-", e.server_id or "-",
      "√" if e.secured else f"× ({e.no_tls_reason or 'no identity'})"] for e in r.edges]) + note(r.page))
def linkerd_edges(namespace: OptNamespace = None, limit: Limit = 30,
                  offset: Offset = 0) -> LinkerdEdges:
    """linkerd viz edges: who talks to whom, and whether mTLS secures it.

    Who talks to whom (deployments), from tcp_open_connections{direction="outbound"}, and whether each edge
    is secured by mTLS: the server's identity, or the no_tls_reason when it is not."""
    from ..metrics import label_value, prometheus_for
    from ..models import page

    snap = RUNTIME.snapshot(LINKERD_KINDS, None, None)
    _require_linkerd(snap)
    try:
        prom = prometheus_for(RUNTIME, snap.of("Service"))
    except NotFound as e:
        raise NotFound(f"The viz Prometheus is not reachable: {e.message}",
                       hint="install linkerd-viz, or start mesh-plugin with --prometheus-url URL "
                            "(MESH_PLUGIN_PROMETHEUS_URL).") from None
    sel = 'direction="outbound"' + (f",namespace={label_value(namespace)}" if namespace else "")
    q = (f"sum(tcp_open_connections{{{sel}}}) by (namespace, deployment, dst_namespace, dst_deployment, "
         f"server_id, no_tls_reason)")
    td = "cluster.local"
    sas = {(w.namespace, w.name): w.service_account for w in workloads(snap)}
    edges = []
    for m, v in prom.query(q):
        if v <= 0 or not m.get("dst_deployment"):
            continue
        ns, src = m.get("namespace", ""), m.get("deployment", "")
        sa = sas.get((ns, src))
        edges.append(Edge(src=src, dst=m["dst_deployment"], src_ns=ns, dst_ns=m.get("dst_namespace", ""),
                          client_id=L.identity(sa, ns, td) if sa else None, server_id=m.get("server_id") or None,
                          secured=bool(m.get("server_id")), no_tls_reason=m.get("no_tls_reason") or None))
    edges.sort(key=lambda e: (e.secured, e.src_ns, e.src, e.dst))
    shown, pg = page(edges, limit, offset, "edges", "namespace=")
    return LinkerdEdges(edges=shown, page=pg, metrics=f"Prometheus at {prom.where}")


class LinkerdPolicies(BaseModel):
    workload: str
    servers: list[str] = Field(description='"ns/name port accessPolicy"')
    authorization_policies: list[str]
    authentications: list[str]
    server_authorizations: list[str]
    http_routes: list[str]
    traffic_splits: list[str] = Field(description="HTTPRoutes with weighted backends for the workload's Services")


@op("security_status", "linkerd_policies", cli="linkerd policies", args="workload", render=lambda r: "\n".join(
    [f"{r.workload}"] + [f"{k}: {', '.join(v) or '-'}" for k, v in r.model_dump().items() if isinstance(v, list)]))
def linkerd_policies(workload: Workload, namespace: Namespace, files: Files = None) -> LinkerdPolicies:
    """Linkerd Servers, authorizations and routes around a workload.

    The Linkerd policy objects around a workload: Servers that select its pods, AuthorizationPolicies and
    ServerAuthorizations for them, the MeshTLS/NetworkAuthentications they require, HTTPRoutes, and traffic
    splits (HTTPRoute backendRefs weights) on its Services."""
    snap = RUNTIME.snapshot(LINKERD_KINDS, None, files)
    if not files:
        _require_linkerd(snap)  # on a cluster without Linkerd there is no policy to answer from
    pods = next((w.pods for w in workloads(snap, namespace) if w.name == workload), None)
    if not pods:
        raise NotFound(f"No workload {workload!r} with pods in {namespace!r}.", hint="mesh_overview view=workloads namespace=...")
    pod = pods[0]
    servers = [s for s in snap.of("Server", namespace)
               if L._match_selector((s.get("spec") or {}).get("podSelector") or {}, labels_of(pod))]
    snames = {name_of(s) for s in servers}
    aps = [a for a in snap.of("policy.linkerd.io/AuthorizationPolicy", namespace)
           if ((a.get("spec") or {}).get("targetRef") or {}).get("name") in snames | {namespace}]
    refs = {(r.get("kind"), r.get("name")) for a in aps for r in (a.get("spec") or {}).get("requiredAuthenticationRefs")
            or []}
    auths = [f"{k} {namespace}/{n}" for k, n in sorted(refs)]
    sazs = [f"{namespace}/{name_of(s)}" for s in snap.of("ServerAuthorization", namespace)
            if ((s.get("spec") or {}).get("server") or {}).get("name") in snames]
    routes = [r for key in ("policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute")
              for r in snap.of(key, namespace)]
    svcs = {name_of(s) for s in snap.of("Service", namespace)
            if (s.get("spec") or {}).get("selector") and all(labels_of(pod).get(k) == v for k, v in
                                                              (s["spec"]["selector"]).items())}
    splits = []
    for r in routes:
        parents = {p.get("name") for p in (r.get("spec") or {}).get("parentRefs") or [] if p.get("kind") == "Service"}
        if parents & svcs:
            for rule in (r.get("spec") or {}).get("rules") or []:
                backs = rule.get("backendRefs") or []
                if len(backs) > 1 or any("weight" in b for b in backs):
                    splits.append(f"{namespace}/{name_of(r)}: " + " ".join(f"{b.get('name')}={b.get('weight', 1)}"
                                                                          for b in backs))
    return LinkerdPolicies(
        workload=f"{namespace}/{workload}",
        servers=[f"{namespace}/{name_of(s)} port {(s.get('spec') or {}).get('port')} accessPolicy "
                 f"{(s.get('spec') or {}).get('accessPolicy', 'deny')}" for s in servers],
        authorization_policies=[f"{namespace}/{name_of(a)}" for a in aps], authentications=auths,
        server_authorizations=sazs,
        http_routes=[f"{namespace}/{name_of(r)}" for r in routes if any(
            p.get("name") in snames | svcs for p in (r.get("spec") or {}).get("parentRefs") or [])],
        traffic_splits=splits)


class LinkerdAuthz(BaseModel):
    allowed: bool
    reason: str
    server: str | None
    policy: str | None
    client_identity: str | None


@op("security_status", "linkerd_authz", cli="linkerd authz",
    render=lambda r: f"{'ALLOWED' if r.allowed else 'DENIED'}: {r.reason}",
    flags={"--from-identity": "caller.identity", "--from-namespace": "caller.namespace", "--from-sa": "caller.sa",
           "--from-ip": "caller.ip"})
def linkerd_authz_check(to: Target, port: TargetPort = None, caller: Caller = None,
                        route: Annotated[str | None, Field(max_length=253, description="Linkerd HTTPRoute name")] = None,
                        files: Files = None) -> LinkerdAuthz:
    """May this client reach the workload and port under Linkerd's policy?

    May identity X (or an unmeshed client at an IP) reach workload Y on port P (and route R) under Linkerd's
    policy: Servers, AuthorizationPolicies with MeshTLS/NetworkAuthentications, ServerAuthorizations, the
    Server's accessPolicy, or the default inbound policy when no Server selects the port."""
    who: CallerSpec = parse_arg(CallerSpec, caller, "caller")
    if who.principal or who.plaintext:
        raise InvalidInput("caller.principal and caller.plaintext are Istio's.",
                           hint="for Linkerd pass identity, or namespace and sa (or ip for an unmeshed client).")
    from_identity, from_namespace, from_sa, from_ip = who.identity, who.namespace, who.sa, who.ip
    from ..mesh.authz import validate_ip

    snap = RUNTIME.snapshot(LINKERD_KINDS, None, files)
    if not files:
        _require_linkerd(snap)  # on a cluster without Linkerd there is no policy to answer from
    ns, wl = to.split("/", 1)
    pods = next((w.pods for w in workloads(snap, ns) if w.name == wl), None)
    if not pods:
        raise NotFound(f"No workload {wl!r} with pods in {ns!r}.", hint="mesh_overview view=workloads namespace=...")
    if from_ip:
        validate_ip(from_ip)
    if from_identity and (from_namespace or from_sa):
        raise InvalidInput("Give either from_identity or from_namespace + from_sa.")
    client = from_identity or (L.identity(from_sa, from_namespace) if from_namespace and from_sa else None)
    d = L.decide(snap, pods[0], port, client, from_ip, route)
    return LinkerdAuthz(allowed=d.allowed, reason=d.reason, server=d.server, policy=d.policy, client_identity=client)


class Check(BaseModel):
    group: str
    check: str
    ok: bool
    severity: Literal["error", "warning"] = Field(default="error", description="as linkerd check: a failed warning "
                                                                                "(‼) does not fail the run")
    detail: str
    hint: str | None = None


class LinkerdCheck(BaseModel):
    ok: bool = Field(description="no check of severity error failed")
    checks: list[Check]


def _mark(c: Check) -> str:
    return "√" if c.ok else ("‼" if c.severity == "warning" else "×")


@op("install_plan", "linkerd_check", cli="linkerd check", render=lambda r: "\n".join(
    f"{_mark(c)} [{c.group}] {c.check}: {c.detail}" + (f"\n    hint: {c.hint}" if c.hint else "")
    for c in r.checks) + f"\nStatus check results are {'√' if r.ok else '×'}")
def linkerd_check() -> LinkerdCheck:
    """linkerd check: control plane, CRDs, webhook, issuer expiry, proxy versions.

    The checks of `linkerd check` that the API can answer: control plane pods ready, CRDs present, the
    injector webhook configured, the identity issuer certificate's expiry (from the certificate, never the key),
    data plane proxy versions vs the control plane, viz present. Each pass/fail with a hint."""
    from datetime import datetime, timezone

    snap = RUNTIME.snapshot(LINKERD_KINDS + ("Secret",), None, None)
    checks: list[Check] = []
    meshes = [m for m in detect_meshes(snap) if m.mesh == "linkerd"]
    if not meshes:
        raise NotFound("Linkerd is not installed in this cluster.",
                       hint="install it first: linkerd install --crds | kubectl apply -f -; linkerd install | kubectl "
                            "apply -f -; then linkerd check.")
    m = meshes[0]
    ready, total = (int(x) for x in m.components_ready.split("/"))
    checks.append(Check(group="linkerd-existence", check="control plane pods are ready", ok=ready == total and total > 0,
                        detail=f"{m.components_ready} ready in {m.namespace}" + (f"; {'; '.join(m.problems)}"
                                                                                   if m.problems else ""),
                        hint=None if ready == total else f"kubectl -n {m.namespace} get pods; describe the failing ones"))
    crds = {name_of(c) for c in snap.of("CustomResourceDefinition")}
    want = {f"{p}.policy.linkerd.io" for p in ("servers", "authorizationpolicies", "meshtlsauthentications",
                                               "networkauthentications", "httproutes", "serverauthorizations")}
    missing = sorted(want - crds)
    checks.append(Check(group="linkerd-config", check="control plane CustomResourceDefinitions exist", ok=not missing,
                        detail="all present" if not missing else f"missing: {', '.join(missing)}",
                        hint="linkerd install --crds | kubectl apply -f -" if missing else None))
    hooks = [w for w in snap.of("MutatingWebhookConfiguration") if "linkerd-proxy-injector" in name_of(w)]
    checks.append(Check(group="linkerd-webhooks-and-apisvc-tls", check="proxy-injector webhook is configured",
                        ok=bool(hooks), detail=name_of(hooks[0]) if hooks else "not found",
                        hint=None if hooks else "reinstall the control plane (linkerd upgrade | kubectl apply -f -)"))
    issuer = None
    try:
        sec = RUNTIME.client().get(KINDS["Secret"], "linkerd-identity-issuer", m.namespace)
        crt = (sec.get("data") or {}).get("tls.crt") or (sec.get("data") or {}).get("crt.pem")
        issuer = L.issuer_expiry(base64.b64decode(crt)) if crt else None
    except (MeshError, ValueError):
        issuer = None
    if issuer:
        not_after = datetime.strptime(issuer["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        days = (not_after - datetime.now(timezone.utc)).days
        checks.append(Check(group="linkerd-identity", check="issuer cert is valid and not expiring soon",
                            ok=issuer["valid"] and days >= 60,
                            severity="warning" if issuer["valid"] and days >= 0 else "error",
                            detail=f"valid until {issuer['not_after']} ({days} days), subject {issuer['subject']}",
                            hint=None if days >= 60 else "rotate the issuer certificate: "
                                                        "https://linkerd.io/2/tasks/manually-rotating-control-plane-tls-credentials/"))
    else:
        checks.append(Check(group="linkerd-identity", check="issuer cert is readable", ok=False,
                            detail=f"no readable certificate in {m.namespace}/linkerd-identity-issuer",
                            hint="check the Secret exists and this identity may get it (or the cert is external)"))
    skew = []
    for p in snap.of("Pod"):
        for c in (p.get("spec") or {}).get("containers") or []:
            if c.get("name") == "linkerd-proxy":
                v = str(c.get("image", "")).rsplit(":", 1)[-1]
                if m.version and v != m.version:
                    skew.append(f"{ns_of(p)}/{name_of(p)} ({v})")
    checks.append(Check(group="linkerd-data-plane", check="data plane proxies match the control plane version",
                        ok=not skew, severity="warning",  # linkerd check --proxy: version skew is a warning
                        detail=f"control plane {m.version}" + (f"; outdated: {', '.join(skew[:10])}"
                                                               if skew else ": all match"),
                        hint="kubectl rollout restart the listed workloads" if skew else None))
    viz = [p for p in snap.of("Pod") if labels_of(p).get("linkerd.io/extension") == "viz"]
    checks.append(Check(group="linkerd-viz", check="viz extension pods are ready",
                        ok=bool(viz) and all(is_ready(p) for p in viz), severity="warning",
                        detail=f"{sum(is_ready(p) for p in viz)}/{len(viz)} ready" if viz else "viz not installed",
                        hint=None if viz else "linkerd viz install | kubectl apply -f -"))
    return LinkerdCheck(ok=all(c.ok or c.severity == "warning" for c in checks), checks=checks)


@op("traffic_change", "linkerd_split", cli="linkerd split", args="host weights=K=V...", render=render_changes)
def set_linkerd_split(host: Host, namespace: Namespace, weights: Weights, files: Files = None, apply: Apply = False,
                      confirm: Confirm = None) -> TrafficChange:
    """Split a Service's traffic with HTTPRoute backend weights (Linkerd).

    Linkerd traffic split: the weights of an HTTPRoute's backendRefs whose parent is the Service (created when
    missing). Same validation as the Istio split (whole numbers >= 0, relative, not all 0; backends must be Services), then
    the shared change path: dry-run diff by default; apply=true with a precondition and a rollback handle."""
    w = validate_weights(weights)
    service = host.split(".")[0]
    warnings = [] if sum(w.values()) == 100 else [f"weights are relative (total {sum(w.values())}): {shares(w)}"]
    snap = RUNTIME.snapshot(LINKERD_KINDS, None, files, fresh=True)
    svc = snap.get("Service", service, namespace)
    if svc is None:
        raise NotFound(f"No Service {namespace}/{service}.", hint="the split's parent must be an existing Service.")
    missing = [b for b in w if snap.get("Service", b, namespace) is None]
    if missing:
        raise InvalidInput(f"Backend Service(s) not found in {namespace}: {', '.join(missing)}.",
                           hint="create the canary Service first; backends are Services, not Deployments.")
    port = int(((svc.get("spec") or {}).get("ports") or [{}])[0].get("port") or 80)
    key = next((k for k in ("policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute")
                for r in snap.of(k, namespace) if any(
                    p.get("kind") == "Service" and p.get("name") == service
                    for p in (r.get("spec") or {}).get("parentRefs") or [])), None)
    route = next((r for r in snap.of(key, namespace) if any(
        p.get("kind") == "Service" and p.get("name") == service
        for p in (r.get("spec") or {}).get("parentRefs") or [])), None) if key else None
    backends = [{"name": b, "port": port, "weight": wt} for b, wt in w.items()]
    if route is None:
        new = {"apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute",
               "metadata": {"name": f"{service}-split", "namespace": namespace},
               "spec": {"parentRefs": [{"group": "core", "kind": "Service", "name": service, "port": port}],
                        "rules": [{"backendRefs": backends}]}}
    else:
        new = copy.deepcopy(route)
        rules = new.setdefault("spec", {}).setdefault("rules", [{}])
        rules[-1]["backendRefs"] = backends
    return _apply_objects([new], files, apply, confirm, False, snap, f"split {namespace}/{service}: " +
                          " ".join(f"{k}={v}" for k, v in w.items()), f"{service}.{namespace}", warnings,
                          kinds={"policy.linkerd.io/HTTPRoute", "gateway.networking.k8s.io/HTTPRoute"},
                          namespace=namespace)

