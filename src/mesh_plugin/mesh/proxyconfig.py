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


def _clip(text: Any, limit: int = 100) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class ConfigDump:
    """A parsed, redacted Envoy config dump. Accessors return only well-typed entries; the others are
    skipped and listed in ``skipped`` (the answer says so)."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc
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
        if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
            raise InvalidInput(f"{source} is JSON but not an Envoy config dump (no 'configs' list).",
                               hint="pass the output of the admin endpoint /config_dump.")
        try:
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

    def clusters(self) -> list[dict]:
        return self._entries(T_CLUSTERS, ("static_clusters", "dynamic_active_clusters", "dynamic_warming_clusters"),
                             "cluster")

    def listeners(self) -> list[dict]:
        out = self._entries(T_LISTENERS, ("static_listeners",), "listener")
        for x in self._entries(T_LISTENERS, ("dynamic_listeners",)):
            state = _d(x.get("active_state")) or _d(x.get("warming_state"))
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
        if f.fqdn and f.fqdn not in fqdn:
            return
        if f.port is not None and port != str(f.port):
            return
        if f.subset and subset != f.subset:
            return
        if f.direction and direction != f.direction:
            return
        ctype = (c.get("cluster_type") or {}).get("name") or c.get("type") or "STATIC"
        dr = render_config_path(_istio_config(c.get("metadata")))
        row = [fqdn, port, subset, direction, str(ctype), dr]
        yield [name, *row] if with_name else row

    t.rows = list(dump.guard("cluster", dump.clusters(), rows))
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
        if f.port is not None and port != f.port:
            return
        if f.address and f.address not in addr:
            return
        if f.name and f.name != lst.get("name"):
            return
        chains = list(lst.get("filter_chains") or [])
        if lst.get("default_filter_chain"):
            chains.append(lst["default_filter_chain"])
        for fc in chains:
            row = [addr, str(port), _match(fc), _destination(fc)]
            yield [f"listener/{lst.get('name') or ''}", *row] if with_name else row

    t.rows = list(dump.guard("listener", dump.listeners(), rows))
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

    t.rows = list(dump.guard("route config", dump.route_configs(), rows))
    return t


# -- endpoints --------------------------------------------------------------------------------------
def _endpoint_address(ep: dict) -> tuple[str, int | None]:
    addr = ((ep.get("endpoint") or {}).get("address")) or {}
    if addr.get("socket_address"):
        sa = addr["socket_address"]
        port = _port(sa.get("port_value") or 0)
        return f"{sa.get('address')}:{port}", port
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

    def rows(ec: dict) -> Any:
        cluster = str(ec.get("cluster_name") or "")
        if f.cluster and f.cluster not in cluster:
            return
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
                yield [f"endpoint/{addr}" if with_name else addr, status, loc, cluster]

    t.rows = list(dump.guard("endpoint config", dump.endpoint_configs(), rows))
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

    rows: list[tuple[list[str], str]] = list(dump.guard("secret", dump.secrets(), secret_rows))
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
    fqdn, port, subset, direction = parse_cluster_name(str(c.get("name") or ""))
    return ((not f.fqdn or f.fqdn in fqdn) and (f.port is None or port == str(f.port))
            and (not f.subset or subset == f.subset) and (not f.direction or direction == f.direction))
