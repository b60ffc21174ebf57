"""Envoy config dumps as istioctl proxy-config tables. Pure: bytes or dicts in, rows out.

Source layer: fetch (``envoy.admin``), parse (``ConfigDump``), render (row builders here, tables in
``render``): the three steps of istioctl's proxyconfig, kept apart so every renderer can be fed
from a saved dump (``-f``).
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput

T_BOOTSTRAP = "BootstrapConfigDump"
T_CLUSTERS = "ClustersConfigDump"
T_LISTENERS = "ListenersConfigDump"
T_ROUTES = "RoutesConfigDump"
T_ENDPOINTS = "EndpointsConfigDump"
T_SECRETS = "SecretsConfigDump"

Rows = list[list[str]]


@dataclass
class Filter:
    """istioctl's filters: ClusterFilter{FQDN, Port, Subset, Direction}, ListenerFilter, RouteFilter..."""

    fqdn: str | None = None
    port: int | None = None
    subset: str | None = None
    direction: str | None = None
    name: str | None = None
    address: str | None = None
    cluster: str | None = None
    status: str | None = None


@dataclass
class Table:
    headers: list[str]
    rows: Rows = field(default_factory=list)


#: a saved config dump larger than this is refused before it is read (a big mesh's dump is a few MB)
MAX_DUMP_BYTES = 64 * 1024 * 1024
#: errors raised by a row builder on a malformed entry (wrong types): the entry is skipped and flagged
MALFORMED = (AttributeError, TypeError, ValueError, KeyError, IndexError)
_MAX_FLAGS = 20
_NEXT = "pass the output of the admin endpoint /config_dump (kubectl exec POD -c istio-proxy -- pilot-agent " \
        "request GET config_dump > dump.json)."


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _type(x: Any) -> str:
    return {type(None): "null", str: "a string", bool: "a boolean", int: "a number", float: "a number",
            list: "a list", dict: "an object"}.get(type(x), type(x).__name__)


_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$")
_SNAKE_CACHE: dict[str, str] = {}


def snake_key(k: str) -> str:
    """A protobuf JSON field name (lowerCamelCase, as istiod's /debug/config_dump and protojson write it) as the
    proto field name Envoy's admin writes (snake_case); other keys unchanged."""
    if not _CAMEL.match(k):
        return k
    out = _SNAKE_CACHE.get(k)
    if out is None:
        out = _SNAKE_CACHE[k] = re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), k)
    return out


def snake_case_keys(doc: Any, max_depth: int = 1000) -> Any:
    """A copy of ``doc`` with lowerCamelCase keys turned into snake_case (both spellings are valid protobuf JSON;
    istioctl reads either). Iterative, so a deep input cannot overflow; deeper than ``max_depth`` is refused."""
    def fresh(o: Any) -> Any:
        return {} if isinstance(o, dict) else [] if isinstance(o, list) else o

    out = fresh(doc)
    todo: list[tuple[Any, Any, int]] = [(doc, out, 1)] if isinstance(doc, (dict, list)) else []
    while todo:
        src, dst, depth = todo.pop()
        if depth > max_depth:
            raise InvalidInput(f"not an Envoy config dump: nested more than {max_depth} levels deep.", hint=_NEXT)
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            c = fresh(v)
            if isinstance(dst, dict):
                dst[snake_key(k) if isinstance(k, str) else k] = c
            else:
                dst.append(c)
            if isinstance(v, (dict, list)):
                todo.append((v, c, depth + 1))
    return out


def _is_camel_dump(doc: dict) -> bool:
    return any(isinstance(c, dict) and any(isinstance(k, str) and _CAMEL.match(k) for k in c)
               for c in (doc.get("configs") if isinstance(doc.get("configs"), list) else []))


def _clip(text: Any, limit: int = 100) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class ConfigDump:
    """A parsed, redacted Envoy config dump. Accessors return only well-typed entries; the others are
    skipped and listed in ``skipped`` (the answer says so)."""

    def __init__(self, doc: dict, cluster_statuses: list | None = None) -> None:
        self.doc = doc
        #: a /clusters?format=json answer (the file istioctl proxy-config endpoint -f reads), when that was loaded
        self.cluster_statuses = cluster_statuses
        self.sections: dict[str, dict] = {}
        self.skipped: list[str] = []
        self._flagged: set[str] = set()
        for i, c in enumerate(_l(doc.get("configs"))):
            if isinstance(c, dict) and isinstance(c.get("@type"), str):
                self.sections[c["@type"].rsplit(".", 1)[-1]] = c
            else:
                self.flag(f"configs[{i}]", f"is {_type(c)}, not a config section with an @type")

    @classmethod
    def load(cls, data: bytes | str | dict, source: str = "the input") -> "ConfigDump":
        """Parse (JSON bytes or text, or a dict) and redact: every dump, live or saved, goes through here,
        so no output can show a private key (``envoy.admin.redact_config_dump``)."""
        from ..envoy.admin import redact_config_dump

        source = _clip(source)
        if isinstance(data, dict):
            doc: Any = data
        else:
            try:
                doc = json.loads(data)
            except RecursionError:
                raise InvalidInput(f"{source} is not an Envoy config dump: its JSON is nested too deeply to read.",
                                   hint=_NEXT) from None
            except (ValueError, UnicodeDecodeError):
                raise InvalidInput(f"{source} is not JSON, so not an Envoy config dump.",
                                   hint="save one with: kubectl exec POD -c istio-proxy -- pilot-agent request GET "
                                        "config_dump > dump.json (or use mesh-plugin proxy-config KIND POD.NS).") from None
        if isinstance(doc, dict) and isinstance(doc.get("cluster_statuses", doc.get("clusterStatuses")), list):
            statuses = snake_case_keys(doc).get("cluster_statuses")
            return cls({"configs": []}, cluster_statuses=statuses)
        if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
            raise InvalidInput(f"{source} is JSON but not an Envoy config dump (no 'configs' list).",
                               hint="pass the output of the admin endpoint /config_dump.")
        try:
            if _is_camel_dump(doc):  # istiod's debug dump / protojson: camelCase names (redaction reads snake_case)
                doc = snake_case_keys(doc)
            doc = redact_config_dump(doc)
        except InvalidInput as e:
            raise InvalidInput(f"{source} is {e.message}", hint=_NEXT) from None
        dump = cls(doc)
        if doc["configs"] and not dump.sections:
            raise InvalidInput(f"{source} is not an Envoy config dump: no entry of 'configs' is a config section "
                               f"({'; '.join(dump.skipped[:3])}).", hint=_NEXT)
        return dump

    def flag(self, where: str, why: str) -> None:
        """Record a malformed entry that was skipped (once, and at most ``_MAX_FLAGS`` of them)."""
        note = f"{_clip(where)} {why}"
        if note in self._flagged:
            return
        self._flagged.add(note)
        if len(self._flagged) <= _MAX_FLAGS:
            self.skipped.append(note)
        elif len(self._flagged) == _MAX_FLAGS + 1:
            self.skipped.append("... more malformed entries not listed")

    def guard(self, what: str, items: list[Any], rows: Any) -> Any:
        """``rows(item)`` for each item, skipping (and flagging) the items a builder cannot read."""
        for i, item in enumerate(items):
            try:
                out = list(rows(item))
            except MALFORMED as e:
                obj = _d(item[-1] if isinstance(item, tuple) else item)
                name = obj.get("name") or obj.get("cluster_name")
                why = str(e) if isinstance(e, Malformed) else f"a field has the wrong type ({type(e).__name__})"
                self.flag(f"{what} {_clip(name)!r}" if isinstance(name, str) else f"{what} #{i + 1}",
                          f"is malformed: {why}; skipped")
                continue
            yield from out

    def section(self, name: str) -> dict:
        return self.sections.get(name, {})

    def _entries(self, section: str, keys: tuple[str, ...], inner: str | None = None) -> list[dict]:
        s = self.section(section)
        out = []
        for key in keys:
            items = s.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.flag(f"{section}.{key}", f"is {_type(items)}, not a list")
                continue
            for i, x in enumerate(items):
                v = x.get(inner) if inner and isinstance(x, dict) else x
                if not isinstance(v, dict):
                    self.flag(f"{section}.{key}[{i}]" + (f".{inner}" if inner else ""), f"is {_type(v)}, not an object")
                    continue
                out.append(v)
        return out

    def clusters(self, warming: bool = True) -> list[dict]:
        """Static and active clusters, and warming ones unless ``warming`` is false (istioctl's tables show
        dynamic active and static clusters only)."""
        keys = ("static_clusters", "dynamic_active_clusters") + (("dynamic_warming_clusters",) if warming else ())
        return self._entries(T_CLUSTERS, keys, "cluster")

    def listeners(self, warming: bool = True) -> list[dict]:
        out = self._entries(T_LISTENERS, ("static_listeners",), "listener")
        for x in self._entries(T_LISTENERS, ("dynamic_listeners",)):
            state = _d(x.get("active_state")) or (_d(x.get("warming_state")) if warming else {})
            lst = state.get("listener")
            if isinstance(lst, dict) and lst:
                out.append(lst)
            elif lst is not None:
                self.flag(f"{T_LISTENERS} listener {_clip(x.get('name'))!r}", f"is {_type(lst)}, not an object")
        return out

    def route_configs(self) -> list[dict]:
        return self._entries(T_ROUTES, ("static_route_configs", "dynamic_route_configs"), "route_config")

    def endpoint_configs(self) -> list[dict]:
        return self._entries(T_ENDPOINTS, ("static_endpoint_configs", "dynamic_endpoint_configs"), "endpoint_config")

    def secrets(self) -> list[tuple[str, dict]]:
        """(status, secret entry): ACTIVE and WARMING secrets."""
        out = [("ACTIVE", x) for x in self._entries(T_SECRETS, ("static_secrets", "dynamic_active_secrets"))]
        out += [("WARMING", x) for x in self._entries(T_SECRETS, ("dynamic_warming_secrets",))]
        return out

    def bootstrap(self) -> dict:
        return _d(self.section(T_BOOTSTRAP).get("bootstrap"))

    def preamble(self) -> list[str]:
        node = _d(self.bootstrap().get("node"))
        meta = _d(node.get("metadata"))
        v = _d(_d(node.get("user_agent_build_version")).get("version"))
        envoy = ".".join(_clip(v.get(k, 0), 20) for k in ("major_number", "minor_number", "patch"))
        return [f"Istio Version:       {_clip(meta.get('ISTIO_VERSION', 'unknown'))}",
                f"Istio Proxy Version: {_clip(meta.get('ISTIO_PROXY_SHA', 'unknown'))}",
                f"Envoy Version:       {envoy}"]


# -- clusters --------------------------------------------------------------------------------------
def parse_cluster_name(name: str) -> tuple[str, str, str, str]:
    """(fqdn, port, subset, direction) from an Istio cluster name ``direction|port|subset|fqdn``."""
    parts = name.split("|")
    if len(parts) != 4:
        return name, "-", "-", "-"
    direction, port, subset, fqdn = parts
    return fqdn, port or "-", subset or "-", direction


def render_config_path(path: str) -> str:
    """istioctl's renderConfig: /apis/networking.istio.io/<v>/namespaces/<ns>/<kind>/<name> -> name.ns."""
    if path.startswith("/apis/networking.istio.io/"):
        pieces = path.split("/")
        return f"{pieces[7]}.{pieces[5]}" if len(pieces) == 8 else ""
    return "<unknown>" if path else ""


def _istio_config(meta: Any) -> str:
    try:
        return str(meta["filter_metadata"]["istio"]["config"])
    except (KeyError, TypeError):
        return ""


def cluster_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    headers = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    t = Table(["NAME", *headers] if with_name else headers)

    def rows(c: dict) -> Any:
        raw = str(c.get("name") or "")
        name = f"cluster/{raw}" if with_name else raw
        fqdn, port, subset, direction = parse_cluster_name(raw)
        if port == "-":  # istioctl shows unparsed names whole, prefix included
            fqdn = name
        if not cluster_filter_ok(raw, f):
            return
        ctype = c.get("type") or "STATIC"  # Cluster.GetType(): a cluster_type (custom) cluster is STATIC
        dr = render_config_path(_istio_config(c.get("metadata")))
        row = [fqdn, port, subset, direction, str(ctype), dr]
        yield [name, *row] if with_name else row

    clusters = dump.clusters(warming=False)
    if not clusters:
        raise InvalidInput("No clusters found in the config dump (istioctl: no clusters found).", hint=_NEXT)
    t.rows = list(dump.guard("cluster", clusters, rows))
    return t


def cluster_filter_ok(name: str, f: Filter) -> bool:
    """istioctl's ClusterFilter.Verify: FQDN, direction and subset are substrings of the whole cluster name, the
    port is "|PORT|" in it."""
    if f.fqdn and f.fqdn not in name:
        return False
    if f.direction and f.direction not in name:
        return False
    if f.subset and f.subset not in name:
        return False
    if f.port is not None and f.port != 0 and f"|{f.port}|" not in name:
        return False
    return True


# -- listeners --------------------------------------------------------------------------------------
#: istioctl's names for exact ALPN lists (istioctl/pkg/writer/envoy/configdump/listener.go protDescrs)
_APP_PROTOCOLS = {
    "App: HTTP TLS": ["http/1.0", "http/1.1", "h2c", "istio-http/1.0", "istio-http/1.1", "istio-h2"],
    "App: Istio HTTP Plain": ["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"],
    "App: TCP TLS": ["istio-peer-exchange", "istio"],
    "App: HTTP": ["http/1.0", "http/1.1", "h2c"],
}


def _match(fc: dict) -> str:
    m = fc.get("filter_chain_match") or {}
    descrs = []
    if m.get("server_names"):
        descrs.append("SNI: " + ",".join(m["server_names"]))
    if m.get("transport_protocol"):
        descrs.append("Trans: " + m["transport_protocol"])
    if m.get("application_protocols"):
        protos = list(m["application_protocols"])
        named = next((d for d, ps in _APP_PROTOCOLS.items() if ps == protos), None)
        descrs.append(named or "App: " + ",".join(protos))
    port = f":{m['destination_port']}" if m.get("destination_port") is not None else ""
    if m.get("prefix_ranges"):
        pf = [f"{p.get('address_prefix')}/{p.get('prefix_len', 0)}" for p in m["prefix_ranges"]]
        descrs.append(f"Addr: {','.join(pf)}{port}")
    elif port:
        descrs.append(f"Addr: *{port}")
    return "; ".join(descrs) or "ALL"


def _describe_match(m: dict) -> str:
    conds = []
    if m.get("prefix"):
        conds.append(f"{m['prefix']}*")
    if m.get("path_separated_prefix"):
        conds.append(f"PathPrefix:{m['path_separated_prefix']}")
    if m.get("path"):
        conds.append(m["path"])
    if (m.get("safe_regex") or {}).get("regex"):
        conds.append(f"regex {m['safe_regex']['regex']}")
    return " ".join(conds)


def _match_all_cluster(rc: dict) -> str:
    vhs = rc.get("virtual_hosts") or []
    if len(vhs) != 1 or vhs[0].get("domains") != ["*"] or len(vhs[0].get("routes") or []) != 1:
        return ""
    r = vhs[0]["routes"][0]
    if (r.get("match") or {}).get("prefix") != "/":
        return ""
    cluster = (r.get("route") or {}).get("cluster")
    if not cluster:
        return ""
    return cluster if "Cluster" in cluster else f"Cluster: {cluster}"


def _describe_route_config(rc: dict) -> str:
    cluster = _match_all_cluster(rc)
    if cluster:
        return cluster
    vhosts = []
    for vh in rc.get("virtual_hosts") or []:
        domains = "" if vh.get("domains") == ["*"] else "/".join(vh.get("domains") or [])
        routes = ", ".join(_describe_match(r.get("match") or {}) for r in vh.get("routes") or [])
        vhosts.append(f"{domains} {routes}" if domains else routes)
    return "Inline Route: " + "; ".join(vhosts)


def _destination(fc: dict) -> str:
    for flt in fc.get("filters") or []:
        name = flt.get("name")
        cfg = flt.get("typed_config") or {}
        if name == "envoy.filters.network.http_connection_manager":
            if cfg.get("rds"):
                return f"Route: {cfg['rds'].get('route_config_name', '')}"
            if cfg.get("route_config") is not None:
                return _describe_route_config(cfg["route_config"])
            return "HTTP"
        if name == "envoy.filters.network.tcp_proxy":
            if "BlackHoleCluster" in json.dumps(cfg):
                continue  # istioctl skips a TCP proxy to the BlackHoleCluster (getFilterType)
            cluster = str(cfg.get("cluster") or "")
            return cluster if "Cluster" in cluster else f"Cluster: {cluster}"
    return "Non-HTTP/Non-TCP"


class Malformed(ValueError):
    """A field of a dump entry with a value no Envoy writes (the entry is skipped and flagged)."""


def _port(value: Any) -> int:
    """A port_value (a number, or its decimal string as protobuf JSON allows); Malformed otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or len(str(value)) > 5 or int(value) > 65535:
        raise Malformed(f"port_value {_clip(value, 40)!r} is not a port")
    return int(value)


def _address(lst: dict) -> tuple[str, int]:
    sa = ((lst.get("address") or {}).get("socket_address")) or {}
    addrs = [str(sa.get("address", ""))] if sa else []
    for extra in lst.get("additional_addresses") or []:
        esa = ((extra.get("address") or {}).get("socket_address")) or {}
        if esa.get("address"):
            addrs.append(str(esa["address"]))
    return ",".join(a for a in addrs if a), _port(sa.get("port_value") or 0)


def listener_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    headers = ["ADDRESSES", "PORT", "MATCH", "DESTINATION"]
    t = Table(["NAME", *headers] if with_name else headers)

    def rows(lst: dict) -> Any:
        addr, port = _address(lst)
        if f.port is not None and f.port != 0 and port != f.port:
            return
        if f.address and f.address.lower() not in addr.lower().split(","):
            return  # istioctl: equal (case-insensitive) to the address or an additional address
        if f.name and f.name != lst.get("name"):
            return
        chains = list(lst.get("filter_chains") or [])
        if lst.get("default_filter_chain"):
            chains.append(lst["default_filter_chain"])
        for fc in chains:
            row = [addr, str(port), _match(fc), _destination(fc)]
            yield [f"listener/{lst.get('name') or ''}", *row] if with_name else row

    listeners = dump.listeners(warming=False)
    if not listeners:
        raise InvalidInput("No listeners found in the config dump (istioctl: no listeners found).", hint=_NEXT)
    t.rows = list(dump.guard("listener", listeners, rows))
    return t


# -- routes -----------------------------------------------------------------------------------------
def _unexpand_domains(domains: list[str]) -> list[str]:
    """istioctl's unexpandDomains: drop a domain whose short form (without .svc.cluster.local or .svc) is listed."""
    unique = set(domains)
    drop = set()
    for h in domains:
        for suffix in (".svc.cluster.local", ".svc"):
            short = h[: -len(suffix)] if h.endswith(suffix) else h
            if short != h and short in unique:
                drop.add(h)
    return [h for h in domains if h not in drop]


def _route_domains(domains: list[str]) -> str:
    """istioctl's describeRouteDomains: the domains without a port, short forms only, two of them and a count."""
    if not domains:
        return ""
    if len(domains) == 1:
        return domains[0]
    without_port = [d for d in domains if ":" not in d or (d.count(":") > 2 and d.endswith("]"))]
    without_port = _unexpand_domains(without_port)
    visible = without_port[:2]
    out = ", ".join(visible)
    if len(without_port) > 2:
        out += f" + {len(without_port) - 2} more..."
    return out


def route_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    t = Table(["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"])

    def rows(rc: dict) -> Any:
        name = str(rc.get("name") or "")
        if f.name and f.name != name:
            return
        shown = f"route/{name}" if with_name else name
        for vh in rc.get("virtual_hosts") or []:
            for r in vh.get("routes") or []:
                if (r.get("route") or {}).get("cluster") == "PassthroughCluster":
                    continue
                yield [shown, str(vh.get("name", "")), _route_domains(vh.get("domains") or []),
                       _describe_match(r.get("match") or {}), render_config_path(_istio_config(r.get("metadata")))]
            if not vh.get("routes"):
                yield [shown, str(vh.get("name", "")), _route_domains(vh.get("domains") or []), "/*", "404"]

    configs = dump.route_configs()
    if not configs:
        raise InvalidInput("No routes found in the config dump (istioctl: no routes found).", hint=_NEXT)
    t.rows = list(dump.guard("route config", configs, rows))
    return t


# -- endpoints --------------------------------------------------------------------------------------
def _locality(loc: dict) -> str:
    parts = [loc.get("region", ""), loc.get("zone", ""), loc.get("sub_zone", "")]
    return "/".join(parts) if any(parts) else ""


def _lb_addresses(lb: dict) -> list[str]:
    """istioctl's retrieveEndpointAddresses: "ip:port" (or pipe path, envoy:// internal address) for the address
    and each additional address of an lb endpoint."""
    ep = _d(lb.get("endpoint"))
    addrs = [_d(ep.get("address"))] + [_d(_d(a).get("address")) for a in _l(ep.get("additional_addresses"))]
    out = []
    for a in addrs:
        if a.get("socket_address"):
            sa = _d(a["socket_address"])
            out.append(f"{sa.get('address', '')}:{_port(sa.get('port_value') or 0)}")
        elif a.get("pipe"):
            out.append(str(_d(a["pipe"]).get("path", "")))
        elif _d(a.get("envoy_internal_address")).get("server_listener_name") is not None:
            ia = _d(a["envoy_internal_address"])
            out.append(f"envoy://{ia.get('server_listener_name', '')}/{ia.get('endpoint_id', '')}")
        else:
            out.append("unknown")
    return out


def endpoint_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    """The EDS endpoints of a config dump (istioctl/pkg/writer/envoy/configdump/endpoint.go): NAME (the addresses),
    STATUS (the health status, UNKNOWN when unset), LOCALITY, CLUSTER; the filter's address equals one "ip:port",
    port, cluster (case-insensitive) and status (the name, case-insensitive) as istioctl's EndpointFilter."""
    if dump.cluster_statuses is not None and not with_name:
        return clusters_endpoint_table(dump.cluster_statuses, f)
    t = Table(["NAME", "STATUS", "LOCALITY", "CLUSTER"])

    def rows(ec: dict) -> Any:
        cluster = str(ec.get("cluster_name") or "")
        for group in ec.get("endpoints") or []:
            loc = _locality(group.get("locality") or {})
            for lb in group.get("lb_endpoints") or []:
                addrs = _lb_addresses(lb)
                sa = _d(_d(_d(lb.get("endpoint")).get("address")).get("socket_address"))
                port = _port(sa.get("port_value") or 0) if sa else 0
                status = str(lb.get("health_status") or "UNKNOWN")  # the enum's zero value, as istioctl prints it
                if f.address and not any(a.lower() == f.address.lower() for a in addrs):
                    continue
                if f.port is not None and f.port != 0 and port != f.port:
                    continue
                if f.cluster and f.cluster.lower() != cluster.lower():
                    continue
                if f.status and f.status.upper() != status.upper():
                    continue
                addr = ",".join(addrs)
                yield [f"endpoint/{addr}" if with_name else addr, status, loc, cluster]

    t.rows = list(dump.guard("endpoint config", dump.endpoint_configs(), rows))
    return t


_HEALTH = ("UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING", "TIMEOUT", "DEGRADED")


def clusters_endpoint_table(statuses: list, f: Filter) -> Table:
    """``istioctl proxy-config endpoint -f CLUSTERS.json``: ENDPOINT, STATUS (the EDS health status), OUTLIER
    CHECK, CLUSTER; filters as istioctl's EndpointFilter.Verify: address and cluster equal (case-insensitive),
    port equal, status the health status name (case-insensitive) (istioctl/pkg/writer/envoy/clusters)."""
    t = Table(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])
    rows = []
    for cs in _l(statuses):
        if not isinstance(cs, dict):
            continue
        cluster = str(cs.get("name") or "")
        for hs in _l(cs.get("host_statuses")):
            if not isinstance(hs, dict):
                continue
            a = _d(hs.get("address"))
            sa = _d(a.get("socket_address"))
            if sa:
                addr, port = str(sa.get("address", "")), int(sa.get("port_value") or 0)
            elif a.get("pipe"):
                addr, port = "unix://" + str(_d(a["pipe"]).get("path", "")), 0
            elif a.get("envoy_internal_address"):
                ia = _d(a["envoy_internal_address"])
                addr, port = f"envoy://{ia.get('server_listener_name', '')}/{ia.get('endpoint_id', '')}", 0
            else:
                addr, port = "unknown", 0
            health = _d(hs.get("health_status"))
            status = health.get("eds_health_status", "UNKNOWN")
            status = _HEALTH[status] if isinstance(status, int) and 0 <= status < len(_HEALTH) else str(status)
            if f.address and f.address.lower() != addr.lower():
                continue
            if f.port is not None and port != f.port:
                continue
            if f.cluster and f.cluster.lower() != cluster.lower():
                continue
            if f.status and f.status.lower() != status.lower():
                continue
            endpoint = f"{addr}:{port}" if port else addr
            rows.append([endpoint, status, "FAILED" if health.get("failed_outlier_check") else "OK", cluster])
    t.rows = rows
    return t


def endpoint_health_table(clusters_json: bytes | dict, f: Filter) -> Table:
    """Live ``/clusters?format=json``: ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER (ejected hosts first)."""
    try:
        doc = json.loads(clusters_json) if not isinstance(clusters_json, dict) else clusters_json
    except (ValueError, RecursionError):
        raise InvalidInput("The sidecar's /clusters answer is not JSON.", hint="retry; check the pod's istio-proxy.") \
            from None
    t = Table(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])
    rows = []
    for cs in _l(_d(doc).get("cluster_statuses")):
        if not isinstance(cs, dict):
            continue
        cluster = str(cs.get("name") or "")
        if f.cluster and f.cluster not in cluster:
            continue
        for hs in _l(cs.get("host_statuses")):
            if not isinstance(hs, dict):
                continue
            sa = _d(_d(hs.get("address")).get("socket_address"))
            port = sa.get("port_value") or 0
            addr = f"{sa.get('address')}:{port}" if sa else "?"
            if f.port is not None and str(port) != str(f.port):
                continue
            if f.address and f.address not in addr:
                continue
            health = _d(hs.get("health_status"))
            ejected = bool(health.get("failed_outlier_check"))
            unhealthy = any(health.get(k) for k in ("failed_active_health_check", "failed_active_degraded_check",
                                                     "pending_dynamic_removal", "pending_active_hc"))
            status = "UNHEALTHY" if unhealthy or health.get("eds_health_status") in ("UNHEALTHY", "DRAINING",
                                                                                     "TIMEOUT") else "HEALTHY"
            if f.status and f.status.upper() not in (status, "EJECTED" if ejected else ""):
                continue
            rows.append((not ejected, cluster, addr, [addr, status, "FAILED" if ejected else "OK", cluster]))
    t.rows = [r[3] for r in sorted(rows, key=lambda r: r[:3])]
    return t


# -- secrets ------------------------------------------------------------------------------------------
def _first_cert(data: dict | None) -> Any:
    if not data:
        return None
    if not isinstance(data, dict):
        return None
    raw = None
    try:
        if data.get("inline_bytes"):
            raw = base64.b64decode(str(data["inline_bytes"]))
        elif data.get("inline_string"):
            raw = str(data["inline_string"]).encode()
    except ValueError:  # not base64
        return None
    if not raw or b"BEGIN CERTIFICATE" not in raw:
        return None
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(raw)[0]
    except ValueError:
        return None


def cert_metadata(cert: Any) -> dict[str, Any]:
    """Subject, SANs, serial and validity: all a tool may say about a certificate."""
    from cryptography import x509

    serial = int(cert.serial_number)
    serial_hex = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big").hex()
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san_list = [str(v) for v in sans.get_values_for_type(x509.UniformResourceIdentifier)] + \
                   [str(v) for v in sans.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        san_list = []
    nb = cert.not_valid_before_utc
    na = cert.not_valid_after_utc
    now = _dt.datetime.now(_dt.timezone.utc)
    return {"subject": cert.subject.rfc4514_string(), "sans": san_list, "serial": serial_hex,
            "not_before": nb.strftime("%Y-%m-%dT%H:%M:%SZ"), "not_after": na.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "valid": nb <= now <= na}


def _trust_domain(meta: dict) -> str:
    for san in meta.get("sans") or []:
        if san.startswith("spiffe://"):
            return san[len("spiffe://"):].split("/", 1)[0]
    return ""


def secret_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    spiffe = False

    def secret_rows(item: tuple[str, dict]) -> Any:
        nonlocal spiffe
        status, entry = item
        name = str(entry.get("name") or "")
        if f.name and f.name != name:
            return
        shown = f"secret/{name}" if with_name else name
        sec = entry.get("secret") or {}
        if sec.get("tls_certificate"):
            cert = _first_cert((sec["tls_certificate"] or {}).get("certificate_chain"))
            if cert is None:
                yield [shown, "Cert Chain", status, "false", "", "", ""], ""
                return
            m = cert_metadata(cert)
            yield ([shown, "Cert Chain", status, str(m["valid"]).lower(), m["serial"], m["not_after"],
                    m["not_before"]], _trust_domain(m))
        elif sec.get("validation_context"):
            vc = sec["validation_context"]
            tds = ((vc.get("custom_validator_config") or {}).get("typed_config") or {}).get("trust_domains")
            if tds:
                spiffe = True
                for td in tds:
                    cert = _first_cert(td.get("trust_bundle"))
                    if cert is None:
                        continue
                    m = cert_metadata(cert)
                    yield ([shown, "CA", status, str(m["valid"]).lower(), m["serial"], m["not_after"],
                            m["not_before"]], str(td.get("name", "")))
                return
            cert = _first_cert(vc.get("trusted_ca"))
            if cert is None:
                yield [shown, "CA", status, "false", "", "", ""], ""
                return
            m = cert_metadata(cert)
            yield ([shown, "CA", status, str(m["valid"]).lower(), m["serial"], m["not_after"], m["not_before"]],
                   _trust_domain(m))
        else:
            yield [shown, "", status, "false", "", "", ""], ""

    s = dump.section(T_SECRETS)
    if not _l(s.get("dynamic_active_secrets")) and not _l(s.get("dynamic_warming_secrets")):
        # istioctl/pkg/writer/envoy/configdump/configdump.go PrintSecretSummary: a line, no table
        return Table([NO_SECRETS], [])
    rows: list[tuple[list[str], str]] = list(dump.guard("secret", dump.secrets(), secret_rows))
    headers = ["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"]
    if spiffe:
        return Table([*headers, "TRUST DOMAIN"], [[*r, td] for r, td in rows])
    return Table(headers, [r for r, _ in rows])


NO_SECRETS = "No active or warming secrets found."
KINDS = ("cluster", "listener", "route", "endpoint", "secret", "bootstrap", "log", "all")
BUILDERS = {"cluster": cluster_table, "listener": listener_table, "route": route_table,
            "endpoint": endpoint_table, "secret": secret_table}


def all_tables(dump: ConfigDump, f: Filter) -> list[Table]:
    """istioctl proxy-config all: clusters (fqdn, port, subset, direction), listeners (address, port), routes (name),
    secrets, EDS endpoints (address, port) (istioctl/pkg/proxyconfig allConfigCmd)."""
    from dataclasses import replace

    builders = [lambda: cluster_table(dump, replace(f, name=None, address=None, cluster=None, status=None), True),
                lambda: listener_table(dump, Filter(port=f.port, address=f.address), True),
                lambda: route_table(dump, Filter(name=f.name), True), lambda: secret_table(dump, f, True),
                lambda: endpoint_table(dump, Filter(port=f.port, address=f.address), True)]
    out: list[Table] = []
    for build in builders:
        try:
            out.append(build())
        except InvalidInput as e:  # istioctl prints the tables before the one it cannot build, then fails
            dump.flag("config dump:", f"{e.message} The tables after it are not shown, as istioctl stops there.")
            break
    return out


def raw_items(dump: ConfigDump, kind: str, f: Filter) -> list[dict]:
    """The full (filtered) config objects for ``-o json``; secrets reduced to certificate metadata."""
    def keep(ok: Any) -> Any:
        return lambda item: [item] if ok(item) else []

    if kind == "cluster":
        return list(dump.guard("cluster", dump.clusters(), keep(lambda c: _keep_cluster(c, f))))
    if kind == "listener":
        return list(dump.guard("listener", dump.listeners(), keep(
            lambda lst: (f.port is None or _address(lst)[1] == f.port) and (not f.name or lst.get("name") == f.name)
            and (not f.address or f.address in _address(lst)[0]))))
    if kind == "route":
        return [rc for rc in dump.route_configs() if not f.name or rc.get("name") == f.name]
    if kind == "endpoint":
        return [ec for ec in dump.endpoint_configs() if not f.cluster or f.cluster in str(ec.get("cluster_name"))]
    if kind == "secret":
        def secret(item: tuple[str, dict]) -> Any:
            status, entry = item
            sec = _d(entry.get("secret"))
            cert = _first_cert(_d(sec.get("tls_certificate")).get("certificate_chain")) or \
                _first_cert(_d(sec.get("validation_context")).get("trusted_ca"))
            yield {"name": entry.get("name"), "status": status,
                   "certificate": cert_metadata(cert) if cert is not None else None}

        return list(dump.guard("secret", dump.secrets(), secret))
    if kind == "bootstrap":
        return [dump.bootstrap()]
    return []


def _keep_cluster(c: dict, f: Filter) -> bool:
    return cluster_filter_ok(str(c.get("name") or ""), f)
