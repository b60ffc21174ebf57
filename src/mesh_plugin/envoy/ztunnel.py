"""ztunnel's admin ``/config_dump``: parse it, and render ``istioctl ztunnel-config``'s tables.

Followed from istioctl at the pin (``istioctl/pkg/writer/ztunnel/configdump``: ``configdump.go`` ``Prime`` /
``unmarshalListOrMap``, ``workload.go``, ``services.go``, ``policies.go``, ``certificates.go``,
``connections.go``): same columns, same cell values, same row order. ``workloads``, ``services``,
``policies`` and ``certificates`` may be lists (current ztunnel) or maps keyed by address (older ztunnel),
as istioctl accepts. Certificates keep only metadata: the ``pem`` of every certificate is dropped when the
dump is loaded, so no certificate bytes reach an answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidInput

#: ztunnel's admin port (localhost inside the ztunnel pod; istioctl --proxy-admin-port)
ZTUNNEL_ADMIN_PORT = 15000
KINDS = ("workload", "service", "policy", "certificate", "connections")
_TOP = ("workloads", "services", "policies", "certificates")


def _map(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _seq(v: Any) -> list:
    return v if isinstance(v, list) else []


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def is_ztunnel_dump(doc: Any) -> bool:
    """A ztunnel config dump (workloads/services/policies/certificates), not Envoy's (``configs``)."""
    return isinstance(doc, dict) and "configs" not in doc and any(k in doc for k in ("workloads", "services"))


@dataclass
class ZtunnelDump:
    workloads: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    policies: list[dict] = field(default_factory=list)
    certificates: list[dict] = field(default_factory=list)
    #: uid -> {state, info {name, namespace, ...}, connections {inbound, outbound}}
    workload_state: dict[str, dict] = field(default_factory=dict)
    #: malformed entries that were left out
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, data: bytes | str | dict, source: str = "the dump") -> "ZtunnelDump":
        """Parse a ztunnel /config_dump (bytes, text or the parsed document). Raises InvalidInput for text that
        is not JSON or not a ztunnel dump."""
        doc: Any = data
        if isinstance(data, (bytes, bytearray, str)):
            try:
                doc = json.loads(data)
            except (ValueError, RecursionError):
                raise InvalidInput(f"{source} is not JSON.", hint="pass the output of ztunnel's admin endpoint "
                                   "/config_dump (kubectl exec ZTUNNEL -- curl localhost:15000/config_dump).") from None
        if not is_ztunnel_dump(doc):
            what = "an Envoy config dump" if isinstance(doc, dict) and "configs" in doc else "not a ztunnel dump"
            raise InvalidInput(f"{source} is {what} (no workloads or services).",
                               hint="ztunnel-config kinds (workload, service, policy, certificate, connections) read "
                                    "a ztunnel /config_dump; Envoy kinds (cluster, listener...) read an Envoy one.")
        out = cls()
        for key in _TOP:
            raw = doc.get(key)
            if raw is None:
                continue
            items = list(raw.values()) if isinstance(raw, dict) else raw if isinstance(raw, list) else None
            if items is None:
                out.skipped.append(f"{key}: neither a list nor a map")
                continue
            good = []
            for i, x in enumerate(items):
                if isinstance(x, dict):
                    good.append(x)
                else:
                    out.skipped.append(f"{key}[{i}]: not an object")
            setattr(out, key, good)
        out.certificates = [_cert_metadata(c) for c in out.certificates]
        # Go's json matches keys case-insensitively: istioctl's tag "workloadstate" reads "workloadState"
        state = next((v for k, v in doc.items() if isinstance(k, str) and k.lower() == "workloadstate"), None)
        if isinstance(state, dict):
            out.workload_state = {str(k): v for k, v in state.items() if isinstance(v, dict)}
        return out


def _cert_metadata(c: dict) -> dict:
    """A certificate entry without certificate bytes: identity, state, and per certificate its serial number
    and validity."""
    def strip(certs: Any) -> list[dict]:
        return [{k: v for k, v in _map(x).items() if k != "pem"} for x in _seq(certs)]

    return {"identity": c.get("identity"), "state": c.get("state"), "certChain": strip(c.get("certChain")),
            "rootCerts": strip(c.get("rootCerts"))}


@dataclass(frozen=True)
class ZtunnelFilter:
    """istioctl's filters: --address, --workload-node / --node, --workload-namespace (also --service-namespace
    and --policy-namespace), the targeted workload's name, --direction."""

    address: str | None = None
    node: str | None = None
    namespace: str | None = None
    name: str | None = None
    direction: str | None = None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


def _eq(a: Any, b: str) -> bool:
    return _s(a).lower() == b.lower()


def workload_keep(w: dict, f: ZtunnelFilter) -> bool:
    """WorkloadFilter.Verify (case-insensitive)."""
    if f.name and not _eq(w.get("name"), f.name):
        return False
    if f.namespace and not _eq(w.get("namespace"), f.namespace):
        return False
    if f.address and not any(_eq(ip, f.address) for ip in _seq(w.get("workloadIps"))):
        return False
    if f.node and not _eq(w.get("node"), f.node):
        return False
    return True


def _waypoint_name(dest: Any, services: list[dict]) -> str:
    """waypointName: the service whose "ns/hostname" or one of whose VIPs is the waypoint's destination."""
    if not isinstance(dest, dict):
        return "None"
    d = _s(dest.get("destination"))
    for s in services:
        if f"{_s(s.get('namespace'))}/{_s(s.get('hostname'))}" == d:
            return _s(s.get("name"))
        if d in [_s(a) for a in _seq(s.get("vips"))]:
            return _s(s.get("name"))
    return "NA"


def workloads_of(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> list[dict]:
    ws = [w for w in dump.workloads if workload_keep(w, f)]
    ws.sort(key=lambda w: (f"{_s(w.get('namespace'))}.{_s(w.get('name'))}", _s(w.get("node"))))
    return ws


def workload_table(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> Table:
    rows = []
    for w in workloads_of(dump, f):
        address = ",".join(_s(ip) for ip in _seq(w.get("workloadIps"))) or _s(w.get("hostname"))
        rows.append([_s(w.get("namespace")), _s(w.get("name")), address, _s(w.get("node")),
                     _waypoint_name(w.get("waypoint"), dump.services), _s(w.get("protocol"))])
    return Table(["NAMESPACE", "POD NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"], rows)


def services_of(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> list[dict]:
    ss = [s for s in dump.services if not f.namespace or _eq(s.get("namespace"), f.namespace)]
    ss.sort(key=lambda s: (_s(s.get("namespace")), _s(s.get("name")), _s(s.get("hostname"))))
    return ss


def service_table(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> Table:
    by_uid: dict[str, dict] = {}
    for w in dump.workloads:
        by_uid.setdefault(_s(w.get("uid")), w)
    rows = []
    for s in services_of(dump, f):
        ips = [_s(a).partition("/")[2] for a in _seq(s.get("vips"))]
        eps = _map(s.get("endpoints"))
        healthy = sum(1 for ep in eps.values() if _s(_map(by_uid.get(_s(_map(ep).get("workloadUid"))))
                                                     .get("status")) == "Healthy")
        rows.append([_s(s.get("namespace")), _s(s.get("name")), ",".join(ips),
                     _waypoint_name(s.get("waypoint"), dump.services), f"{healthy}/{len(eps)}"])
    return Table(["NAMESPACE", "SERVICE NAME", "SERVICE VIP", "WAYPOINT", "ENDPOINTS"], rows)


def policies_of(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> list[dict]:
    ps = [p for p in dump.policies if not f.namespace or _eq(p.get("namespace"), f.namespace)]
    ps.sort(key=lambda p: (_s(p.get("namespace")), _s(p.get("name"))))
    return ps


def policy_table(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> Table:
    rows = [[_s(p.get("namespace")), _s(p.get("name")), _s(p.get("action")), _s(p.get("scope"))]
            for p in policies_of(dump, f)]
    return Table(["NAMESPACE", "POLICY NAME", "ACTION", "SCOPE"], rows)


def _rfc3339(v: str) -> datetime | None:
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def _valid(cert: dict, now: datetime) -> bool:
    """certNotExpired: now strictly within [validFrom, expirationTime]."""
    exp, frm = _s(cert.get("expirationTime")), _s(cert.get("validFrom"))
    if not exp and not frm:
        return False
    e, b = _rfc3339(exp), _rfc3339(frm)
    if e is None or b is None:
        return False
    return b < now < e


def _serial_hex(v: Any) -> str:
    """%x of the decimal serial number (Go prints a nil big.Int as <nil>)."""
    s = _s(v)
    return format(int(s), "x") if s.isdigit() else "<nil>"


def _na(v: Any) -> str:
    return _s(v) or "NA"


def certificate_table(dump: ZtunnelDump, now: datetime | None = None) -> Table:
    now = now or datetime.now(timezone.utc)
    rows = []
    for c in dump.certificates:
        state = _s(c.get("state"))
        if "Unavailable" in state:
            state = "Unavailable"
        chain, roots = _seq(c.get("certChain")), _seq(c.get("rootCerts"))
        ident = _s(c.get("identity"))
        if not chain:
            rows.append([ident, "NA", state, "false", "NA", "NA", "NA"])
            continue
        legacy = not roots
        for i, ca in enumerate(chain):
            ca = _map(ca)
            t = "Leaf" if i == 0 else "Root" if i == len(chain) - 1 and legacy else "Intermediate"
            rows.append([ident, t, state, str(_valid(ca, now)).lower(), _serial_hex(ca.get("serialNumber")),
                         _na(ca.get("expirationTime")), _na(ca.get("validFrom"))])
        for ca in roots:
            ca = _map(ca)
            rows.append([ident, "Root", state, str(_valid(ca, now)).lower(), _serial_hex(ca.get("serialNumber")),
                         _na(ca.get("expirationTime")), _na(ca.get("validFrom"))])
    return Table(["CERTIFICATE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"],
                 rows)


def _split_host_port(addr: str) -> tuple[str, str] | None:
    if addr.startswith("["):
        host, sep, port = addr[1:].partition("]:")
        return (host, port) if sep else None
    host, sep, port = addr.rpartition(":")
    if not sep or ":" in host:
        return None
    return host, port


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def states_of(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter()) -> list[dict]:
    name, ns = f.name, f.namespace
    if name and not ns and "." in name:
        name, _, ns = name.partition(".")
    out = [s for s in dump.workload_state.values()
           if (not ns or _s(_map(s.get("info")).get("namespace")) == ns)
           and (not name or _eq(_map(s.get("info")).get("name"), name))]
    out.sort(key=lambda s: (_s(_map(s.get("info")).get("namespace")), _s(_map(s.get("info")).get("name"))))
    return out


def connections_table(dump: ZtunnelDump, f: ZtunnelFilter = ZtunnelFilter(), raw: bool = False) -> Table:
    """PrintConnectionsSummary: addresses resolved to service hostnames (first VIP) or workload name.namespace
    (first IP) unless raw."""
    services: dict[str, str] = {}
    for s in dump.services:
        vips = _seq(s.get("vips"))
        ip = _s(vips[0]).partition("/")[2] if vips else ""
        services[ip or "None"] = _s(s.get("hostname"))
    workloads: dict[str, str] = {}
    for w in dump.workloads:
        ips = _seq(w.get("workloadIps"))
        workloads[_s(ips[0]) if ips else "None"] = f"{_s(w.get('name'))}.{_s(w.get('namespace'))}"

    def look(addr: Any) -> str:
        a = _s(addr)
        if raw:
            return a
        hp = _split_host_port(a)
        if hp is None:
            return a  # net.SplitHostPort failed: ip "" and port "" -> not found
        ip, port = hp
        if ip in services:
            return _join_host_port(services[ip], port)
        if ip in workloads:
            return _join_host_port(workloads[ip], port)
        return a

    rows = []
    for st in states_of(dump, f):
        info = _map(st.get("info"))
        name = f"{_s(info.get('name'))}.{_s(info.get('namespace'))}"
        conns = _map(st.get("connections"))
        if f.direction != "outbound":
            for c in _seq(conns.get("inbound")):
                c = _map(c)
                rows.append([name, "Inbound", look(c.get("actualDst")), look(c.get("src")), _s(c.get("originalDst")),
                             _s(c.get("protocol"))])
        if f.direction != "inbound":
            for c in _seq(conns.get("outbound")):
                c = _map(c)
                rows.append([name, "Outbound", look(c.get("src")), look(c.get("actualDst")),
                             look(c.get("originalDst")), _s(c.get("protocol"))])
    return Table(["WORKLOAD", "DIRECTION", "LOCAL", "REMOTE", "REMOTE TARGET", "PROTOCOL"], rows)


def table(dump: ZtunnelDump, kind: str, f: ZtunnelFilter = ZtunnelFilter(), now: datetime | None = None) -> Table:
    if kind == "workload":
        return workload_table(dump, f)
    if kind == "service":
        return service_table(dump, f)
    if kind == "policy":
        return policy_table(dump, f)
    if kind == "certificate":
        return certificate_table(dump, now)
    if kind == "connections":
        return connections_table(dump, f)
    raise InvalidInput(f"Unknown ztunnel-config kind {kind!r}.", hint=f"use one of: {', '.join(KINDS)}.")


def raw_items(dump: ZtunnelDump, kind: str, f: ZtunnelFilter = ZtunnelFilter()) -> list[dict]:
    """The entries behind a table, as istioctl's ``-o json`` prints them (certificates without pem)."""
    if kind == "workload":
        return [w for w in dump.workloads if workload_keep(w, f)]
    if kind == "service":
        return services_of(dump, f)
    if kind == "policy":
        return policies_of(dump, f)
    if kind == "certificate":
        return list(dump.certificates)
    if kind == "connections":
        return states_of(dump, f)
    raise InvalidInput(f"Unknown ztunnel-config kind {kind!r}.", hint=f"use one of: {', '.join(KINDS)}.")


def tabwriter(t: Table, padding: int = 1) -> str:
    """Go's text/tabwriter as istioctl uses it (minwidth 0, padding ``padding``, spaces, no flags): every column
    but the last padded to its widest cell."""
    lines = [t.headers, *t.rows]
    if not lines:
        return ""
    n = max(len(r) for r in lines)
    widths = [max(len(r[i]) for r in lines if i < len(r)) + padding for i in range(n - 1)]
    out = []
    for r in lines:
        cells = [c.ljust(widths[i]) if i < n - 1 else c for i, c in enumerate(r)]
        out.append("".join(cells))
    return "\n".join(out) + "\n"


__all__ = ["KINDS", "ZTUNNEL_ADMIN_PORT", "Table", "ZtunnelDump", "ZtunnelFilter", "certificate_table",
           "connections_table", "is_ztunnel_dump", "policy_table", "raw_items", "service_table", "table", "tabwriter",
           "workload_table"]
