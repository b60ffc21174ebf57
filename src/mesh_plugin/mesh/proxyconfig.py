"""Envoy config dumps as istioctl proxy-config tables. Pure: bytes or dicts in, rows out.

Fetch (``envoy.admin``), parse (``ConfigDump``), render (row builders here, tables in
``render``): the three steps of istioctl's proxyconfig, kept apart so every renderer can be fed
from a saved dump (``-f``).
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
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


class ConfigDump:
    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.sections: dict[str, dict] = {}
        for c in doc.get("configs") or []:
            if isinstance(c, dict):
                self.sections[str(c.get("@type", "")).rsplit(".", 1)[-1]] = c

    @classmethod
    def load(cls, data: bytes | str | dict, source: str = "the input") -> "ConfigDump":
        if isinstance(data, dict):
            doc = data
        else:
            try:
                doc = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                raise InvalidInput(f"{source} is not JSON, so not an Envoy config dump.",
                                   hint="save one with: kubectl exec POD -c istio-proxy -- pilot-agent request GET "
                                        "config_dump > dump.json (or use mesh-plugin proxy-config KIND POD.NS).") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
            raise InvalidInput(f"{source} is JSON but not an Envoy config dump (no 'configs' list).",
                               hint="pass the output of the admin endpoint /config_dump.")
        return cls(doc)

    def section(self, name: str) -> dict:
        return self.sections.get(name, {})

    def clusters(self) -> list[dict]:
        s = self.section(T_CLUSTERS)
        return [c.get("cluster") or {} for key in ("static_clusters", "dynamic_active_clusters",
                                                  "dynamic_warming_clusters") for c in s.get(key) or []]

    def listeners(self) -> list[dict]:
        s = self.section(T_LISTENERS)
        out = [x.get("listener") or {} for x in s.get("static_listeners") or []]
        for x in s.get("dynamic_listeners") or []:
            state = x.get("active_state") or x.get("warming_state") or {}
            if state.get("listener"):
                out.append(state["listener"])
        return out

    def route_configs(self) -> list[dict]:
        s = self.section(T_ROUTES)
        return [x.get("route_config") or {} for key in ("static_route_configs", "dynamic_route_configs")
                for x in s.get(key) or []]

    def endpoint_configs(self) -> list[dict]:
        s = self.section(T_ENDPOINTS)
        return [x.get("endpoint_config") or {} for key in ("static_endpoint_configs", "dynamic_endpoint_configs")
                for x in s.get(key) or []]

    def secrets(self) -> list[tuple[str, dict]]:
        """(status, secret entry): ACTIVE and WARMING secrets."""
        s = self.section(T_SECRETS)
        out = [("ACTIVE", x) for key in ("static_secrets", "dynamic_active_secrets") for x in s.get(key) or []]
        out += [("WARMING", x) for x in s.get("dynamic_warming_secrets") or []]
        return out

    def bootstrap(self) -> dict:
        return self.section(T_BOOTSTRAP).get("bootstrap") or {}

    def preamble(self) -> list[str]:
        node = self.bootstrap().get("node") or {}
        meta = node.get("metadata") or {}
        v = (node.get("user_agent_build_version") or {}).get("version") or {}
        envoy = f"{v.get('major_number', 0)}.{v.get('minor_number', 0)}.{v.get('patch', 0)}"
        return [f"Istio Version:       {meta.get('ISTIO_VERSION', 'unknown')}",
                f"Istio Proxy Version: {meta.get('ISTIO_PROXY_SHA', 'unknown')}",
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
    for c in dump.clusters():
        raw = str(c.get("name") or "")
        name = f"cluster/{raw}" if with_name else raw
        fqdn, port, subset, direction = parse_cluster_name(raw)
        if port == "-":  # istioctl shows unparsed names whole, prefix included
            fqdn = name
        if f.fqdn and f.fqdn not in fqdn:
            continue
        if f.port is not None and port != str(f.port):
            continue
        if f.subset and subset != f.subset:
            continue
        if f.direction and direction != f.direction:
            continue
        ctype = (c.get("cluster_type") or {}).get("name") or c.get("type") or "STATIC"
        dr = render_config_path(_istio_config(c.get("metadata")))
        row = [fqdn, port, subset, direction, str(ctype), dr]
        t.rows.append([name, *row] if with_name else row)
    return t


# -- listeners --------------------------------------------------------------------------------------
def _match(fc: dict) -> str:
    m = fc.get("filter_chain_match") or {}
    descrs = []
    if m.get("server_names"):
        descrs.append("SNI: " + ",".join(m["server_names"]))
    if m.get("transport_protocol"):
        descrs.append("Trans: " + m["transport_protocol"])
    if m.get("application_protocols"):
        descrs.append("App: " + ",".join(m["application_protocols"]))
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
            cluster = cfg.get("cluster")
            if cluster:
                return cluster if "Cluster" in cluster else f"Cluster: {cluster}"
            weighted = (cfg.get("weighted_clusters") or {}).get("clusters") or []
            return "WeightedCluster: " + ",".join(c.get("name", "") for c in weighted)
        if name in ("envoy.filters.network.mongo_proxy", "envoy.filters.network.redis_proxy",
                    "envoy.filters.network.mysql_proxy"):
            return name.rsplit(".", 1)[-1]
    return "Non-HTTP/Non-TCP"


def _address(lst: dict) -> tuple[str, int]:
    sa = ((lst.get("address") or {}).get("socket_address")) or {}
    addrs = [str(sa.get("address", ""))] if sa else []
    for extra in lst.get("additional_addresses") or []:
        esa = ((extra.get("address") or {}).get("socket_address")) or {}
        if esa.get("address"):
            addrs.append(str(esa["address"]))
    return ",".join(a for a in addrs if a), int(sa.get("port_value") or 0)


def listener_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    headers = ["ADDRESSES", "PORT", "MATCH", "DESTINATION"]
    t = Table(["NAME", *headers] if with_name else headers)
    for lst in dump.listeners():
        addr, port = _address(lst)
        if f.port is not None and port != f.port:
            continue
        if f.address and f.address not in addr:
            continue
        if f.name and f.name != lst.get("name"):
            continue
        chains = list(lst.get("filter_chains") or [])
        if lst.get("default_filter_chain"):
            chains.append(lst["default_filter_chain"])
        for fc in chains:
            row = [addr, str(port), _match(fc), _destination(fc)]
            t.rows.append([f"listener/{lst.get('name') or ''}", *row] if with_name else row)
    return t


# -- routes -----------------------------------------------------------------------------------------
def _route_domains(domains: list[str]) -> str:
    if not domains:
        return ""
    if len(domains) == 1:
        return domains[0]
    without_port = [d for d in domains if ":" not in d or "]" in d]
    visible = without_port[:2]
    out = ", ".join(visible)
    if len(without_port) > 2:
        out += f" + {len(without_port) - 2} more..."
    return out


def route_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    t = Table(["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"])
    for rc in dump.route_configs():
        name = str(rc.get("name") or "")
        if f.name and f.name != name:
            continue
        shown = f"route/{name}" if with_name else name
        for vh in rc.get("virtual_hosts") or []:
            for r in vh.get("routes") or []:
                if (r.get("route") or {}).get("cluster") == "PassthroughCluster":
                    continue
                t.rows.append([shown, str(vh.get("name", "")), _route_domains(vh.get("domains") or []),
                               _describe_match(r.get("match") or {}),
                               render_config_path(_istio_config(r.get("metadata")))])
            if not vh.get("routes"):
                t.rows.append([shown, str(vh.get("name", "")), _route_domains(vh.get("domains") or []), "/*", "404"])
    return t


# -- endpoints --------------------------------------------------------------------------------------
def _endpoint_address(ep: dict) -> tuple[str, int | None]:
    addr = ((ep.get("endpoint") or {}).get("address")) or {}
    if addr.get("socket_address"):
        sa = addr["socket_address"]
        return f"{sa.get('address')}:{sa.get('port_value', 0)}", int(sa.get("port_value") or 0)
    if addr.get("envoy_internal_address"):
        ia = addr["envoy_internal_address"]
        eid = str(ia.get("endpoint_id", ""))
        port = int(eid.rsplit(":", 1)[1]) if ":" in eid and eid.rsplit(":", 1)[1].isdigit() else None
        return f"envoy://{ia.get('server_listener_name', '')}/{eid}", port
    if addr.get("pipe"):
        return str(addr["pipe"].get("path", "")), None
    return "", None


def _locality(loc: dict) -> str:
    parts = [loc.get("region", ""), loc.get("zone", ""), loc.get("sub_zone", "")]
    return "/".join(parts) if any(parts) else ""


def endpoint_table(dump: ConfigDump, f: Filter, with_name: bool = False) -> Table:
    t = Table(["NAME", "STATUS", "LOCALITY", "CLUSTER"])
    for ec in dump.endpoint_configs():
        cluster = str(ec.get("cluster_name") or "")
        if f.cluster and f.cluster not in cluster:
            continue
        for group in ec.get("endpoints") or []:
            loc = _locality(group.get("locality") or {})
            for lb in group.get("lb_endpoints") or []:
                addr, port = _endpoint_address(lb)
                status = str(lb.get("health_status") or "HEALTHY")
                if f.port is not None and port != f.port:
                    continue
                if f.address and f.address not in addr:
                    continue
                if f.status and f.status.upper() != status:
                    continue
                t.rows.append([f"endpoint/{addr}" if with_name else addr, status, loc, cluster])
    return t


def endpoint_health_table(clusters_json: bytes | dict, f: Filter) -> Table:
    """Live ``/clusters?format=json``: ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER (ejected hosts first)."""
    doc = json.loads(clusters_json) if not isinstance(clusters_json, dict) else clusters_json
    t = Table(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])
    rows = []
    for cs in doc.get("cluster_statuses") or []:
        cluster = str(cs.get("name") or "")
        if f.cluster and f.cluster not in cluster:
            continue
        for hs in cs.get("host_statuses") or []:
            sa = ((hs.get("address") or {}).get("socket_address")) or {}
            addr = f"{sa.get('address')}:{sa.get('port_value', 0)}" if sa else "?"
            if f.port is not None and int(sa.get("port_value") or 0) != f.port:
                continue
            if f.address and f.address not in addr:
                continue
            health = hs.get("health_status") or {}
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
    raw = None
    if data.get("inline_bytes"):
        raw = base64.b64decode(data["inline_bytes"])
    elif data.get("inline_string"):
        raw = str(data["inline_string"]).encode()
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
    rows: list[tuple[list[str], str]] = []
    spiffe = False
    for status, entry in dump.secrets():
        name = str(entry.get("name") or "")
        if f.name and f.name != name:
            continue
        shown = f"secret/{name}" if with_name else name
        sec = entry.get("secret") or {}
        if sec.get("tls_certificate"):
            cert = _first_cert((sec["tls_certificate"] or {}).get("certificate_chain"))
            if cert is None:
                rows.append(([shown, "Cert Chain", status, "false", "", "", ""], ""))
                continue
            m = cert_metadata(cert)
            rows.append(([shown, "Cert Chain", status, str(m["valid"]).lower(), m["serial"], m["not_after"],
                          m["not_before"]], _trust_domain(m)))
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
                    rows.append(([shown, "CA", status, str(m["valid"]).lower(), m["serial"], m["not_after"],
                                  m["not_before"]], str(td.get("name", ""))))
                continue
            cert = _first_cert(vc.get("trusted_ca"))
            if cert is None:
                rows.append(([shown, "CA", status, "false", "", "", ""], ""))
                continue
            m = cert_metadata(cert)
            rows.append(([shown, "CA", status, str(m["valid"]).lower(), m["serial"], m["not_after"], m["not_before"]],
                         _trust_domain(m)))
        else:
            rows.append(([shown, "", status, "false", "", "", ""], ""))
    headers = ["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"]
    if spiffe:
        return Table([*headers, "TRUST DOMAIN"], [[*r, td] for r, td in rows])
    return Table(headers, [r for r, _ in rows])


KINDS = ("cluster", "listener", "route", "endpoint", "secret", "bootstrap", "log", "all")
BUILDERS = {"cluster": cluster_table, "listener": listener_table, "route": route_table,
            "endpoint": endpoint_table, "secret": secret_table}


def all_tables(dump: ConfigDump, f: Filter) -> list[Table]:
    return [cluster_table(dump, f, True), listener_table(dump, f, True), route_table(dump, f, True),
            secret_table(dump, f, True), endpoint_table(dump, f, True)]


def raw_items(dump: ConfigDump, kind: str, f: Filter) -> list[dict]:
    """The full (filtered) config objects for ``-o json``; secrets reduced to certificate metadata."""
    if kind == "cluster":
        return [c for c in dump.clusters() if _keep_cluster(c, f)]
    if kind == "listener":
        return [lst for lst in dump.listeners() if (f.port is None or _address(lst)[1] == f.port)
                and (not f.name or lst.get("name") == f.name) and (not f.address or f.address in _address(lst)[0])]
    if kind == "route":
        return [rc for rc in dump.route_configs() if not f.name or rc.get("name") == f.name]
    if kind == "endpoint":
        return [ec for ec in dump.endpoint_configs() if not f.cluster or f.cluster in str(ec.get("cluster_name"))]
    if kind == "secret":
        out = []
        for status, entry in dump.secrets():
            sec = entry.get("secret") or {}
            cert = _first_cert((sec.get("tls_certificate") or {}).get("certificate_chain")) or \
                _first_cert((sec.get("validation_context") or {}).get("trusted_ca"))
            out.append({"name": entry.get("name"), "status": status,
                        "certificate": cert_metadata(cert) if cert is not None else None})
        return out
    if kind == "bootstrap":
        return [dump.bootstrap()]
    return []


def _keep_cluster(c: dict, f: Filter) -> bool:
    fqdn, port, subset, direction = parse_cluster_name(str(c.get("name") or ""))
    return ((not f.fqdn or f.fqdn in fqdn) and (f.port is None or port == str(f.port))
            and (not f.subset or subset == f.subset) and (not f.direction or direction == f.direction))
