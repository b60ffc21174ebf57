"""Envoy proxy debugging: proxy_config, proxy_status, proxy_log_level."""
from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInput, MeshError, NotFound, ServerError, Timeout, Unreachable
from ..mesh.workloads import require_envoy
from ..models import Page
from ..render import table
from ..runtime import RUNTIME
from .registry import (Confirm, Limit, Namespace, ObjName, Offset, OptNamespace, ProxyFilter, ProxyFilterSpec, op,
                       parse_arg)

#: istioctl's filter flags, onto the ``filter`` argument
FILTER_FLAGS = {f"--{k}": f"filter.{k}" for k in ProxyFilterSpec.model_fields}
#: JSON text per raw page: what is left of the answer budget once the rest of the answer is counted
RAW_PAGE_BYTES = 6000

ProxyKind = Literal["cluster", "listener", "route", "endpoint", "secret", "bootstrap", "log", "all",
                    "workload", "service", "policy", "certificate", "connections"]
#: istioctl ztunnel-config's kinds: a ztunnel pod (or a workload pod: its node's ztunnel) or a ztunnel dump
ZTUNNEL_KINDS = ("workload", "service", "policy", "certificate", "connections")
#: istioctl ztunnel-config's flags, onto the ``filter`` argument (--address, --name and --direction are shared)
ZTUNNEL_FLAGS = {"--workload-namespace": "filter.namespace", "--node": "filter.node"}
LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical", "off")


class ProxyTable(BaseModel):
    title: str
    headers: list[str]
    rows: list[list[str]]
    page: Page


class ProxyConfigResult(BaseModel):
    kind: str
    source: str = Field(description='"pod ns/name" or the dump file')
    preamble: list[str] = []
    tables: list[ProxyTable] = Field(default=[], description="istioctl's columns and cell values")
    raw: str | None = Field(default=None, description="output=json: the filtered config as JSON text, paged by "
                                                      "lines (whole when it fits in one page)")
    raw_page: Page | None = Field(default=None, description="lines of the JSON text shown, and the next offset")
    skipped: list[str] = Field(default=[], description="malformed entries of the dump that were skipped")


def _page_rows(rows: list, limit: int, offset: int, what: str, narrow: str) -> tuple[list, Page]:
    from ..models import page

    if limit <= 0:
        return list(rows), Page(total=len(rows), shown=len(rows), offset=0)
    return page(rows, limit, offset, what, narrow)


def _page_text(text: str, offset: int, what: str, narrow: str) -> tuple[str, Page]:
    """A page of ``text``'s lines that fits RAW_PAGE_BYTES (at least one line, cut if it alone is larger):
    a single large object (a bootstrap, a whole dump) pages like a list does."""
    lines = text.splitlines()
    shown: list[str] = []
    size = 0
    for line in lines[offset:]:
        if size + len(line) + 1 > RAW_PAGE_BYTES:
            if not shown:
                shown.append(line[:RAW_PAGE_BYTES] + " ...[line cut]")
            break
        shown.append(line)
        size += len(line) + 1
    total, nxt = len(lines), offset + len(shown)
    note = None
    if len(shown) < total:
        note = f"showing lines {offset + 1}-{nxt} of {total} of the {what} JSON" + (
            f"; next page: offset={nxt}" if nxt < total else "") + f"; narrow with {narrow}"
    return "\n".join(shown), Page(total=total, shown=len(shown), offset=offset, note=note)


NARROW = {"cluster": "filter fqdn, port, subset or direction", "listener": "filter port, address or name",
          "route": "filter name", "endpoint": "filter cluster, port, address or status", "secret": "filter name",
          "log": "filter name", "all": "a single kind", "workload": "filter namespace, node, address or name",
          "service": "filter namespace", "policy": "filter namespace", "certificate": "output=json",
          "connections": "filter namespace, name or direction"}


def resolve_pod(pod: str, namespace: str | None) -> tuple[str, str]:
    if namespace:
        return pod, namespace
    if "." in pod:
        name, _, ns = pod.rpartition(".")
        return name, ns
    raise InvalidInput(f"No namespace for pod {pod!r}.", hint="pass namespace=, or POD.NAMESPACE.")


def load_dump(pod: str | None, namespace: str | None, file: str | None, kind: str):
    """The config dump (from the pod's sidecar or a file) and a description of the source. Either way it is
    parsed and redacted by ``ConfigDump.load``; a file is read by ``Runtime.read_file`` (confined to the
    files root, at most ``MAX_DUMP_BYTES``)."""
    from ..envoy.admin import fetch_admin
    from ..envoy.configdump import MAX_DUMP_BYTES, ConfigDump
    from ..runtime import clip_path

    if file is not None:
        data = RUNTIME.read_file(file, max_bytes=MAX_DUMP_BYTES, what="config dump file",
                                 hint="pass a JSON file saved from the admin endpoint /config_dump "
                                      "(or a live pod instead of file=).")
        return ConfigDump.load(data, clip_path(file)), clip_path(file)
    if not pod:
        raise InvalidInput("Give a pod (POD.NS or pod= and namespace=) or a dump file (file=).",
                           hint="find meshed pods with mesh_overview view=workloads sidecar=istio.")
    name, ns = resolve_pod(pod, namespace)
    query = [("include_eds", "true")] if kind in ("endpoint", "all") else None
    body = fetch_admin(RUNTIME.client(), ns, name, "config_dump", query=query, check_sidecar=require_envoy)
    return ConfigDump.load(body, f"the config dump of {ns}/{name}"), f"pod {ns}/{name}"


def render_proxy_config(r: ProxyConfigResult) -> str:
    skipped = f"\n(skipped malformed entries: {'; '.join(r.skipped)})" if r.skipped else ""
    if r.raw is not None:
        return r.raw + (f"\n({r.raw_page.note})" if r.raw_page and r.raw_page.note else "") + skipped
    parts = ["\n".join(r.preamble)] if r.preamble else []
    for t in r.tables:
        parts.append(table(t.headers, t.rows) + (f"\n({t.page.note})" if t.page.note else ""))
    return "\n\n".join(parts) + skipped


@op("proxy_inspect", "config", cli=("proxy-config", "pc", "ztunnel-config", "zc"), args="kind pod.namespace?",
    render=render_proxy_config, flags={**FILTER_FLAGS, **ZTUNNEL_FLAGS}, limit=100_000)
def proxy_config(kind: Annotated[ProxyKind, Field(description=(
        "config: istioctl proxy-config KIND, or ztunnel-config KIND (workload..connections; filter namespace, node)"))],
                 pod: Annotated[str | None, Field(max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                                                  description="pod name")] = None,
                 namespace: OptNamespace = None,
                 file: Annotated[str | None, Field(max_length=4096, description=(
                     "config: a saved config dump instead of a pod"))] = None,
                 filter: ProxyFilter = None,  # noqa: A002 - istioctl's word
                 output: Annotated[Literal["table", "json"], Field(description=(
                     "config: json gives the filtered raw config, paged by lines"))] = "table",
                 limit: Annotated[int, Field(ge=1, le=100_000, description="rows per table")] = 30,
                 offset: Offset = 0) -> ProxyConfigResult:
    """istioctl proxy-config / ztunnel-config tables of a pod (Envoy, ztunnel) or a saved dump.

    What istioctl proxy-config shows, from a pod's Envoy sidecar (through the API server) or a saved
    dump: clusters (SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE), listeners, routes
    (with the VirtualService behind each), endpoints, secrets (certificate metadata only, never keys),
    bootstrap, log levels, or all. Live endpoint rows come from /clusters with OUTLIER CHECK (FAILED =
    ejected). Tables are cut to limit rows with 'showing N of M'; output=json gives the filtered raw
    config as JSON text, paged by lines. Use proxy_status for a namespace-wide view. On a ztunnel pod or a
    ztunnel dump, or with a ztunnel kind, the answer is istioctl ztunnel-config's (certificate metadata only);
    waypoint pods are Envoys and take the Envoy kinds."""
    from ..envoy.configdump import BUILDERS, Filter, all_tables, endpoint_health_table, raw_items

    if kind in ZTUNNEL_KINDS or kind == "all":
        zt = _ztunnel_config(kind, pod, namespace, file, filter, output, limit, offset)
        if zt is not None:
            return zt
    f = Filter(**parse_arg(ProxyFilterSpec, filter, "filter").model_dump())
    name = f.name
    if kind == "log":
        if file is not None:
            raise InvalidInput("Log levels are live state, not in a config dump.", hint="pass a pod instead of file=.")
        return _log_levels(pod, namespace, name, limit, offset)
    if kind == "endpoint" and file is None and output == "table":
        from ..envoy.admin import fetch_admin

        pname, ns = resolve_pod(pod or "", namespace) if pod else (None, None)
        if pname is None:
            raise InvalidInput("Give a pod or a dump file.", hint="find meshed pods with mesh_overview view=workloads.")
        body = fetch_admin(RUNTIME.client(), ns, pname, "clusters", query=[("format", "json")],
                           check_sidecar=require_envoy)
        t = endpoint_health_table(body, f)
        from ..mesh.workloads import pods_by_ip

        # live: the pod behind each endpoint (a dump from a file has no cluster to ask, istioctl's columns stay)
        by_ip = pods_by_ip(RUNTIME.snapshot(("Pod",), None, None).of("Pod"))
        t.headers = [*t.headers, "POD"]
        t.rows = [[*r, by_ip.get(str(r[0]).rpartition(":")[0], "-")] for r in t.rows]
        rows, pg = _page_rows(t.rows, limit, offset, "endpoints", NARROW["endpoint"])
        return ProxyConfigResult(kind=kind, source=f"pod {ns}/{pname}",
                                 tables=[ProxyTable(title="endpoints", headers=t.headers, rows=rows, page=pg)])
    dump, source = load_dump(pod, namespace, file, kind)
    if output == "json":  # the dump was redacted when it was loaded (ConfigDump.load)
        items = [dump.doc] if kind == "all" else raw_items(dump, kind, f)
        text, pg = _page_text(json.dumps(items, indent=1), offset, kind, NARROW.get(kind, "filter="))
        return ProxyConfigResult(kind=kind, source=source, raw=text, raw_page=pg, skipped=dump.skipped)
    if kind == "bootstrap":
        return ProxyConfigResult(kind=kind, source=source, preamble=dump.preamble(),
                                 tables=[_bootstrap_table(dump)], skipped=dump.skipped)
    tables = all_tables(dump, f) if kind == "all" else [BUILDERS[kind](dump, f)]
    titles = ["clusters", "listeners", "routes", "secrets", "endpoints"] if kind == "all" else [kind + "s"]
    out = []
    per_table = limit if kind != "all" else max(1, limit // 3)  # five tables share the budget
    for title, t in zip(titles, tables):
        rows, pg = _page_rows(t.rows, per_table, offset, title, NARROW.get(kind, "filters"))
        out.append(ProxyTable(title=title, headers=t.headers, rows=rows, page=pg))
    return ProxyConfigResult(kind=kind, source=source, preamble=dump.preamble() if kind == "all" else [],
                             tables=out, skipped=dump.skipped)


class ZtunnelFilterSpec(BaseModel):
    """The ``filter`` argument for ztunnel kinds (istioctl ztunnel-config's filter flags)."""

    model_config = ConfigDict(extra="forbid")
    namespace: str | None = Field(default=None, max_length=63)
    node: str | None = Field(default=None, max_length=253)
    address: str | None = Field(default=None, max_length=253)
    name: str | None = Field(default=None, max_length=253)
    direction: Literal["inbound", "outbound"] | None = None


def _ztunnel_source(pod: str | None, namespace: str | None, file: str | None, want: bool
                    ) -> tuple[object, str, tuple[str, str] | None] | None:
    """(ZtunnelDump, source, targeted workload) for a ztunnel pod, a workload pod (the ztunnel on its node, as
    istioctl resolves it) or a ztunnel dump file. ``want``: a ztunnel kind was asked for; else (kind=all)
    None when the pod or file is not ztunnel's."""
    from ..envoy.admin import fetch_admin
    from ..envoy.ztunnel import ZtunnelDump, is_ztunnel_dump
    from ..kube.kinds import KINDS
    from ..kube.snapshot import name_of, ns_of
    from ..mesh.ambient import is_ztunnel_pod
    from ..envoy.configdump import MAX_DUMP_BYTES
    from ..runtime import clip_path

    if file is not None:
        data = RUNTIME.read_file(file, max_bytes=MAX_DUMP_BYTES, what="config dump file",
                                 hint="pass a JSON file saved from ztunnel's admin endpoint /config_dump "
                                      "(or a live pod instead of file=).")
        if not want:
            try:
                if not is_ztunnel_dump(json.loads(data)):
                    return None
            except (ValueError, RecursionError):
                return None
        return ZtunnelDump.load(data, clip_path(file)), clip_path(file), None
    if not pod:
        if not want:
            return None
        raise InvalidInput("Give a pod (a ztunnel pod, or a workload pod for its node's ztunnel) or a ztunnel dump "
                           "file (file=).", hint="mesh_overview shows whether ztunnel runs; mesh_overview view=workloads "
                           "sidecar=ztunnel lists its pods.")
    name, ns = resolve_pod(pod, namespace)
    client = RUNTIME.client()
    try:
        obj = client.get(KINDS["Pod"], name, ns)
    except NotFound:
        raise NotFound(f"Pod {ns}/{name} not found.", hint="list pods with mesh_overview view=workloads namespace=...") from None
    target = None
    if not is_ztunnel_pod(obj):
        if not want:
            return None
        node = str((obj.get("spec") or {}).get("nodeName") or "")
        if not node:
            raise InvalidInput(f"Pod {ns}/{name} is not scheduled to a node: no ztunnel serves it yet.",
                               hint="wait until it is scheduled, or pass a ztunnel pod.")
        zpods = [p for p in client.list_all(KINDS["Pod"], None, label_selector="app=ztunnel",
                                            field_selector=f"spec.nodeName={node}") if is_ztunnel_pod(p)]
        zpods.sort(key=lambda p: ((p.get("status") or {}).get("phase") != "Running", name_of(p)))
        if not zpods:
            raise InvalidInput(f"No ztunnel pod runs on node {node} (where {ns}/{name} runs).",
                               hint="ambient needs the ztunnel DaemonSet: mesh_overview says whether it is installed.")
        target = (name, ns)
        name, ns = name_of(zpods[0]), ns_of(zpods[0])
    try:
        body = fetch_admin(client, ns, name, "config_dump", check_sidecar=False)
    except Unreachable as e:
        raise Unreachable(e.message, hint="ztunnel's admin listens on localhost:15000 only: save it with `kubectl "
                          f"exec -n {ns} {name} -- curl -s localhost:15000/config_dump > zt.json` (or a "
                          "port-forward) and pass file=zt.json.") from None
    return ZtunnelDump.load(body, f"the config dump of ztunnel {ns}/{name}"), f"ztunnel {ns}/{name}", target


def _ztunnel_config(kind: str, pod: str | None, namespace: str | None, file: str | None,
                    filter: dict | None,  # noqa: A002 - istioctl's word
                    output: str, limit: int, offset: int) -> ProxyConfigResult | None:
    from ..envoy import ztunnel as zt

    src = _ztunnel_source(pod, namespace, file, kind != "all")
    if src is None:
        return None
    dump, source, target = src
    assert isinstance(dump, zt.ZtunnelDump)
    spec = parse_arg(ZtunnelFilterSpec, filter, "filter")
    f = zt.ZtunnelFilter(**spec.model_dump())
    preamble = []
    if target is not None:
        preamble.append(f"{target[1]}/{target[0]} runs on the node of {source}: workload and connections rows are "
                        "this pod's")
    kinds = list(zt.KINDS) if kind == "all" else [kind]
    if output == "json":
        items = {k: zt.raw_items(dump, k, _targeted(f, target, k)) for k in kinds}
        doc = items[kind] if kind != "all" else items
        text, pg = _page_text(json.dumps(doc, indent=1), offset, kind, NARROW.get(kind, "filter="))
        return ProxyConfigResult(kind=kind, source=source, preamble=preamble, raw=text, raw_page=pg,
                                 skipped=dump.skipped)
    per_table = limit if kind != "all" else max(1, limit // 3)
    tables = []
    for k in kinds:
        t = zt.table(dump, k, _targeted(f, target, k))
        rows, pg = _page_rows(t.rows, per_table, offset, k + ("" if k.endswith("s") else "s"),
                              NARROW.get(k, "filter="))
        tables.append(ProxyTable(title=k, headers=t.headers, rows=rows, page=pg))
    return ProxyConfigResult(kind=kind, source=source, preamble=preamble, tables=tables, skipped=dump.skipped)


def _targeted(f, target: tuple[str, str] | None, kind: str):  # type: ignore[no-untyped-def]
    """istioctl's TargetWorkload: a workload pod's name and namespace filter the workload and connections views."""
    from dataclasses import replace

    if target is None or kind not in ("workload", "connections"):
        return f
    return replace(f, name=target[0], namespace=target[1])


def _bootstrap_table(dump) -> ProxyTable:  # type: ignore[no-untyped-def]
    def d(x: object) -> dict:
        return x if isinstance(x, dict) else {}

    b = dump.bootstrap()
    node = d(b.get("node"))
    meta = d(node.get("metadata"))
    admin = d(d(d(b.get("admin")).get("address")).get("socket_address"))
    clusters = d(b.get("static_resources")).get("clusters")
    rows = [["node id", str(node.get("id", ""))], ["cluster", str(node.get("cluster", ""))],
            ["istio version", str(meta.get("ISTIO_VERSION", ""))], ["namespace", str(meta.get("NAMESPACE", ""))],
            ["service account", str(meta.get("SERVICE_ACCOUNT", ""))],
            ["admin", f"{admin.get('address', '')}:{admin.get('port_value', '')}"],
            ["static clusters", ", ".join(str(d(c).get("name", "")) for c in
                                          (clusters if isinstance(clusters, list) else []))],
            ["dynamic resources", ", ".join(sorted(map(str, d(b.get("dynamic_resources")).keys())))]]
    return ProxyTable(title="bootstrap", headers=["FIELD", "VALUE"], rows=rows,
                      page=Page(total=len(rows), shown=len(rows)))


def parse_logging(body: bytes) -> dict[str, str]:
    levels = {}
    for line in body.decode(errors="replace").splitlines():
        line = line.strip()
        if ":" in line and not line.startswith("active loggers"):
            k, _, v = line.partition(":")
            levels[k.strip()] = v.strip()
    return levels


def _log_levels(pod: str | None, namespace: str | None, name: str | None, limit: int, offset: int
                ) -> ProxyConfigResult:
    from ..envoy.admin import fetch_admin

    pname, ns = resolve_pod(pod or "", namespace) if pod else (None, None)
    if pname is None:
        raise InvalidInput("Give a pod to read log levels from.", hint="find meshed pods with mesh_overview view=workloads.")
    levels = parse_logging(fetch_admin(RUNTIME.client(), ns, pname, "logging", check_sidecar=require_envoy))
    rows = [[k, v] for k, v in sorted(levels.items()) if not name or name in k]
    # loggers away from the common level first: those are the ones someone changed
    common = max(set(levels.values()), key=list(levels.values()).count) if levels else ""
    rows.sort(key=lambda r: (r[1] == common, r[0]))
    shown, pg = _page_rows(rows, limit, offset, "loggers", "name=")
    return ProxyConfigResult(kind="log", source=f"pod {ns}/{pname}",
                             preamble=[f"most loggers at: {common}"] if common else [],
                             tables=[ProxyTable(title="log levels", headers=["LOGGER", "LEVEL"], rows=shown, page=pg)])


class LogLevelChange(BaseModel):
    pod: str
    applied: bool
    changes: list[str] = Field(description='"logger: old -> new"')
    rollback: str | None = Field(description="how to restore the previous levels")
    note: str


@op("proxy_log_level", cli="proxy-log-level", args="pod.namespace level", render=lambda r: "\n".join(
    [f"{r.pod}: {'APPLIED' if r.applied else 'dry-run'}", *r.changes, r.note] + ([f"rollback: {r.rollback}"]
                                                                                 if r.rollback else [])))
def proxy_log_level(pod: ObjName, namespace: Namespace,
                    level: Annotated[Literal["trace", "debug", "info", "warning", "error", "critical", "off"],
                                     Field(description="the new level")],
                    logger: Annotated[str | None, Field(max_length=64, pattern=r"^[a-z0-9_]+$", description=(
                        "one logger (e.g. upstream, http, rbac, jwt); omit for all"))] = None,
                    apply: Annotated[bool, Field(description="true: set it; default: show current -> new")] = False,
                    confirm: Confirm = None) -> LogLevelChange:
    """Set a sidecar's Envoy log levels.

    Set a sidecar's Envoy log level (all loggers or one). A write, so dry-run by default: the answer shows
    current -> new for each logger; apply=true changes it (audited; in a production-labelled namespace only
    with confirm, since at debug and trace Envoy can log request headers and tokens) and returns how to
    restore the previous levels. Read levels without changing them with proxy_inspect view=config kind=log."""
    from ..changes import audit
    from ..envoy.admin import fetch_admin

    client = RUNTIME.client()
    current = parse_logging(fetch_admin(client, namespace, pod, "logging", check_sidecar=require_envoy))
    if logger and logger not in current:
        raise InvalidInput(f"Envoy in {namespace}/{pod} has no logger {logger!r}.",
                           hint="list loggers with proxy_inspect view=config kind=log.")
    targets = [logger] if logger else sorted(current)
    changes = [f"{t}: {current[t]} -> {level}" for t in targets if current.get(t) != level]
    previous = sorted({current[t] for t in targets})
    rollback = (f"proxy_log_level pod={pod} namespace={namespace} level={previous[0]}"
                + (f" logger={logger}" if logger else "")) if len(previous) == 1 else \
        "restore per logger: " + ", ".join(f"{t}={current[t]}" for t in targets[:20])
    if not changes:
        return LogLevelChange(pod=f"{namespace}/{pod}", applied=False, changes=[], rollback=None,
                              note=f"already at {level}: nothing to do")
    summary = changes if len(changes) <= 10 else changes[:10] + [f"... and {len(changes) - 10} more loggers"]
    if not apply:
        return LogLevelChange(pod=f"{namespace}/{pod}", applied=False, changes=summary, rollback=rollback,
                              note="dry-run: nothing changed; call again with apply=true to set it")
    from ..changes.path import check_bookkeeping, require_confirmation

    require_confirmation(client, namespace, confirm, "\n".join(summary))
    check_bookkeeping()
    query = [(logger, level)] if logger else [("level", level)]
    fetch_admin(client, namespace, pod, "logging", query=query, check_sidecar=False)
    after = parse_logging(fetch_admin(client, namespace, pod, "logging", check_sidecar=False))
    failed = [t for t in targets if after.get(t) != level]
    audit("envoy-log-level", f"pod {namespace}/{pod}", "\n".join(changes), context=RUNTIME.context)
    return LogLevelChange(pod=f"{namespace}/{pod}", applied=True, changes=summary, rollback=rollback,
                          note="applied" + (f"; not changed: {', '.join(failed)}" if failed else ""))


class SidecarStatus(BaseModel):
    pod: str
    envoy_version: str | None = None
    istio_version: str | None = None
    uptime: str | None = None
    last_update: str | None = Field(default=None, description="newest last_updated in the config dump")
    clusters: int = 0
    routes: int = 0
    status: Literal["SYNCED", "DIVERGED", "UNREACHABLE"]
    detail: str | None = Field(default=None, description="why DIVERGED or UNREACHABLE")


class ProxyStatusResult(BaseModel):
    paged_field: ClassVar[str] = "sidecars"
    namespace: str
    sidecars: list[SidecarStatus] = Field(description="diverging and unreachable sidecars first")
    page: Page


def _last_update(dump) -> str | None:  # type: ignore[no-untyped-def]
    stamps = []

    def walk(o: object) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "last_updated" and isinstance(v, str):
                    stamps.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for x in o:
                walk(x)

    walk(dump.doc)
    return max(stamps) if stamps else None


def route_divergence(dump, snap) -> list[str]:  # type: ignore[no-untyped-def]
    """Weighted routes whose Envoy weights differ from every route of the VirtualService they came from."""
    from ..kube.snapshot import ns_of
    from ..envoy.configdump import parse_cluster_name

    out = []
    for rc in dump.route_configs():
        for vh in rc.get("virtual_hosts") or []:
            for r in vh.get("routes") or []:
                wc = ((r.get("route") or {}).get("weighted_clusters") or {}).get("clusters")
                path = (((r.get("metadata") or {}).get("filter_metadata") or {}).get("istio") or {}).get("config", "")
                if not wc or not path.startswith("/apis/networking.istio.io/"):
                    continue
                pieces = path.split("/")
                if len(pieces) != 8 or "~" in pieces[7]:
                    continue  # "~": istiod's internal VirtualService for a Gateway API route (never an API object)
                vs = snap.get("VirtualService", pieces[7], pieces[5])
                envoy = sorted((parse_cluster_name(c["name"])[2], int(c.get("weight", 0))) for c in wc)
                if vs is None:
                    out.append(f"route {rc.get('name')}: VirtualService {pieces[5]}/{pieces[7]} no longer exists")
                    continue
                wanted = []
                for http in (vs.get("spec") or {}).get("http") or []:
                    dests = http.get("route") or []
                    wanted.append(sorted(((d.get("destination") or {}).get("subset") or "-", int(d.get("weight", 0)
                                          if len(dests) > 1 else 100)) for d in dests))
                if envoy not in wanted:
                    show = lambda ws: " ".join(f"{s}={w}" for s, w in ws)  # noqa: E731
                    out.append(f"route {rc.get('name')} applies {show(envoy)} but VirtualService "
                               f"{ns_of(vs)}/{pieces[7]} says {' | '.join(show(w) for w in wanted) or 'nothing'}")
    return out


def render_proxy_status(r: ProxyStatusResult) -> str:
    rows = [[s.pod, s.status, s.envoy_version or "-", s.istio_version or "-", s.uptime or "-", s.last_update or "-",
             s.clusters, s.routes, s.detail or ""] for s in r.sidecars]
    out = table(["POD", "STATUS", "ENVOY", "ISTIO", "UPTIME", "LAST UPDATE", "CLUSTERS", "ROUTES", "DETAIL"], rows)
    return out + (f"\n({r.page.note})" if r.page.note else "")


@op("proxy_inspect", "status", cli=("proxy-status", "ps"), render=render_proxy_status)
def proxy_status(namespace: Namespace, limit: Limit = 30, offset: Offset = 0) -> ProxyStatusResult:
    """Every sidecar of a namespace: versions, uptime, and whether its routes match the config.

    For each Envoy sidecar in a namespace: Envoy and Istio versions, uptime, last config update, cluster
    and route counts, and whether its routes agree with the mesh config (the weights each route really
    applies vs the VirtualService it came from). DIVERGED and UNREACHABLE sidecars come first. One admin
    call per sidecar through the API server; use proxy_inspect view=config for one sidecar's detail."""
    from ..envoy.admin import fetch_many
    from ..envoy.parse import parse_server_info
    from ..envoy.configdump import ConfigDump
    from ..mesh.workloads import sidecar_of
    from ..kube.snapshot import name_of

    snap = RUNTIME.snapshot(("Pod", "VirtualService"), namespace)
    client = RUNTIME.client()
    targets = [(namespace, name_of(p)) for p in snap.of("Pod", namespace)
               if sidecar_of(p) in ("istio", "istio-gateway")]
    # every sidecar at once (bounded threads, inside the call's deadline); an unreachable one costs one
    # answer from the API server, not retries; config_dump only from the sidecars that answered
    infos = fetch_many(client, targets, "server_info")
    live = [t for t in targets if not isinstance(infos[t], Exception)]
    dumps = fetch_many(client, live, "config_dump")
    rows: list[SidecarStatus] = []
    for t in targets:
        name = t[1]
        got = dumps.get(t, infos[t])
        if isinstance(got, Exception):
            if not isinstance(got, (Unreachable, InvalidInput, NotFound, Timeout, ServerError)):
                raise got
            rows.append(SidecarStatus(pod=name, status="UNREACHABLE", detail=got.message))
            continue
        info = parse_server_info(infos[t])  # type: ignore[arg-type]
        dump = ConfigDump.load(got)
        issues = route_divergence(dump, snap)
        meta = ((dump.bootstrap().get("node") or {}).get("metadata") or {})
        rows.append(SidecarStatus(pod=name, envoy_version=info.get("version"), istio_version=meta.get("ISTIO_VERSION"),
                                  uptime=info.get("uptime"), last_update=_last_update(dump),
                                  clusters=len(dump.clusters()), routes=len(dump.route_configs()),
                                  status="DIVERGED" if issues else "SYNCED", detail="; ".join(issues) or None))
    order = {"DIVERGED": 0, "UNREACHABLE": 1, "SYNCED": 2}
    rows.sort(key=lambda s: (order[s.status], s.pod))
    shown, pg = _page_rows(rows, limit, offset, "sidecars", "offset=")
    return ProxyStatusResult(namespace=namespace, sidecars=shown, page=pg)
