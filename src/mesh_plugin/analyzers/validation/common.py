"""Shared pieces of the validation port: the result type and the checks many kinds use (pkg/config/validation
and pkg/config/validation/agent, pkg/config/labels, pkg/config/security)."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AnalysisAware:
    """validation.AnalysisAwareError: an error the analyzer turns into its own message type."""

    type: str
    text: str
    params: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Warn:
    """An error Istio wraps as a warning (WrapWarning)."""

    text: Any


@dataclass
class Validation:
    """agent.Validation: errors and warnings, each a flat list (multierror flattened)."""

    errors: list[Any] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)

    def add(self, *items: Any) -> "Validation":
        """AppendValidation: a Validation merges errors and warnings; a Warn is a warning; a list is errors."""
        for x in items:
            if x is None:
                continue
            if isinstance(x, Validation):
                self.errors += x.errors
                self.warnings += x.warnings
            elif isinstance(x, Warn):
                if isinstance(x.text, list):
                    self.warnings += x.text
                elif x.text:
                    self.warnings.append(x.text)
            elif isinstance(x, list):
                self.errors += [e for e in x if e]
            elif x:
                self.errors.append(x)
        return self

    def warn(self, text: Any) -> "Validation":
        if text:
            self.warnings.append(text)
        return self


def errs(*items: Any) -> list[Any]:
    """agent.AppendErrors: a flat list of errors; a Validation contributes its errors only (warnings dropped)."""
    out: list[Any] = []
    for x in items:
        if x is None or isinstance(x, Warn):
            continue
        if isinstance(x, Validation):
            out += x.errors
        elif isinstance(x, list):
            out += [e for e in x if e]
        elif x:
            out.append(x)
    return out


def multierror_text(es: list[Any]) -> str:
    """The text of a Go multierror (when formatted into another error with %v)."""
    if len(es) == 1:
        return f"1 error occurred:\n\t* {es[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in es)
    return f"{len(es)} errors occurred:\n\t{points}\n\n"


def m(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def seq(v: Any) -> list:
    return v if isinstance(v, list) else []


def s(v: Any) -> str:
    return "" if v is None else str(v)


def i(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return 0


def f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def wrapped(v: Any) -> Any:
    """A protobuf wrapper (UInt32Value...) in YAML: the bare value, or {"value": x}."""
    if isinstance(v, dict):
        return v.get("value")
    return v


def go_q(text: str) -> str:
    from ..messages import go_quote

    return go_quote(text)


# -- labels and DNS (pkg/config/labels) -----------------------------------------------------------------
_DNS1123 = r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?"
_DNS1123_LABEL = re.compile(f"^{_DNS1123}$")
_WILDCARD_LABEL = re.compile(rf"^(\*|(\*|\*-)?{_DNS1123})$")
_QUALIFIED = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_TAG = re.compile(rf"^({_DNS1123}(?:\.{_DNS1123})*/)?({_QUALIFIED})$")
_LABEL_VALUE = re.compile(rf"^({_QUALIFIED})?$")


def is_dns1123_label(v: str) -> bool:
    return len(v) <= 63 and bool(_DNS1123_LABEL.match(v))


def is_wildcard_dns1123_label(v: str) -> bool:
    return len(v) <= 63 and bool(_WILDCARD_LABEL.match(v))


def validate_labels(labels: Any) -> list[str]:
    """labels.Instance.Validate."""
    out = []
    for k, v in m(labels).items():
        k, v = s(k), s(v)
        mt = _TAG.match(k)
        if mt is None:
            out.append(f"invalid tag key: {go_q(k)}")
        elif mt.group(1) and len(mt.group(1)) - 1 > 253:
            out.append(f"invalid tag key: {go_q(k)} (DNS prefix is too long)")
        if not _LABEL_VALUE.match(v):
            out.append(f"invalid tag value: {go_q(v)}")
    return out


def check_dns1123_preconditions(name: str) -> str | None:
    if len(name) > 255:
        return f"domain name {go_q(name)} too long (max 255)"
    if not name:
        return "empty domain name not allowed"
    return None


def validate_dns1123_labels(domain: str) -> str | None:
    parts = domain.split(".")
    top = parts[-1]
    if re.fullmatch(r"[+-]?\d+", top):
        return f"domain name {go_q(domain)} invalid (top level domain {go_q(top)} cannot be all-numeric)"
    for n, label in enumerate(parts):
        if n == len(parts) - 1 and label == "":
            return None
        if not is_dns1123_label(label):
            return f"domain name {go_q(domain)} invalid (label {go_q(label)} invalid)"
    return None


def validate_fqdn(fqdn: str) -> str | None:
    return check_dns1123_preconditions(fqdn) or validate_dns1123_labels(fqdn)


def validate_wildcard_domain(domain: str) -> str | None:
    err = check_dns1123_preconditions(domain)
    if err:
        return err
    first, dot, rest = domain.partition(".")
    if not is_wildcard_dns1123_label(first):
        return f"domain name {go_q(domain)} invalid (label {go_q(first)} invalid)"
    if dot:
        return validate_dns1123_labels(rest)
    return None


def validate_wildcard_domain_for_gateway_vs(sni: bool, domain: str) -> str | None:
    err = check_dns1123_preconditions(domain)
    if err:
        return err
    if sni and domain.startswith("outbound_"):
        parts = domain.split("_")
        if len(parts) < 4:
            return f"domain name {domain} invalid, should follow 'outbound_.<port>_._.<hostname>' format"
        prefix, port, hostname = parts[0], parts[1].strip("."), parts[3].strip(".")
        if prefix != "outbound":
            return f"domain name {go_q(domain)} invalid (label {go_q(prefix)} invalid)"
        if not re.search(r"[0-9]", port):
            return (f"domain name {go_q(domain)} invalid (label {go_q(port)} invalid). should follow "
                    "outbound_.<port>_._.<hostname> format")
        if not re.search(r"[a-zA-Z]", hostname):
            return (f"domain name {go_q(domain)} invalid (label {go_q(hostname)} invalid). should follow "
                    "outbound_.<port>_._.<hostname> format")
        return None
    return validate_wildcard_domain(domain)


def validate_partial_wildcard(host: str) -> str | None:
    if "*" in host and len(host) != 1 and not host.startswith("*."):
        return f"partial wildcard {go_q(host)} not allowed"
    return None


# -- numbers, addresses, durations ----------------------------------------------------------------------
def validate_port(port: int) -> str | None:
    return None if 1 <= port <= 65535 else f"port number {port} must be in the range 1..65535"


def parse_ip(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netip.ParseAddr (zones allowed on IPv6, no leading zeros in IPv4)."""
    try:
        return ipaddress.ip_address(addr.split("%", 1)[0] if ":" in addr else addr)
    except ValueError:
        return None


def is_valid_ip(addr: str) -> bool:
    return parse_ip(addr) is not None


def validate_ip_address(addr: str) -> str | None:
    return None if is_valid_ip(addr) else f"{addr} is not a valid IP"


def parse_prefix(v: str) -> bool:
    """netip.ParsePrefix: an address and a decimal prefix length within its size (host bits allowed)."""
    addr, _, bits = v.partition("/")
    ip = parse_ip(addr) if "%" not in addr else None
    if ip is None or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        return False
    return int(bits) <= (32 if ip.version == 4 else 128)


def validate_ip_subnet(subnet: str) -> str | None:
    if subnet.count("/") == 1:
        return None if parse_prefix(subnet) else f"{subnet} is not a valid CIDR block"
    return validate_ip_address(subnet)


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(v: Any) -> int | None:
    """A duration in nanoseconds, as the Istio API accepts it (Go time.ParseDuration syntax, or seconds)."""
    if v is None:
        return None
    if isinstance(v, dict):  # {seconds, nanos}
        return i(v.get("seconds")) * 1_000_000_000 + i(v.get("nanos"))
    text = str(v).strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(text):
        mt = _DURATION_PART.match(text, pos)
        if mt is None:
            return None
        total += float(mt.group(1)) * _DURATION_UNITS[mt.group(2)]
        pos = mt.end()
    if pos == 0:
        return None
    return sign * int(round(total))


def validate_duration(v: Any) -> str | None:
    """agent.ValidateDuration."""
    d = parse_duration(v)
    if d is None:
        return None  # istioctl refuses the whole document before validation (a parse error)
    if d < 1_000_000:
        return "duration must be greater than 1ms"
    if d % 1_000_000:
        return "only durations to ms precision are supported"
    return None


def validate_percent(v: int) -> str | None:
    return None if 0 <= v <= 100 else f"percentage {v} is not in range 0..100"


# -- shared API pieces ----------------------------------------------------------------------------------
def validate_workload_selector(selector: Any) -> Validation:
    """validateWorkloadSelector (type.v1beta1.WorkloadSelector, matchLabels)."""
    v = Validation()
    if selector is None:
        return v
    labels = m(m(selector).get("matchLabels"))
    for k, val in labels.items():
        k, val = s(k), s(val)
        if k == "":
            v.add(f"empty key is not supported in selector: {go_q(f'{k}={val}')}")
        if "*" in k or "*" in val:
            v.add(f"wildcard is not supported in selector: {go_q(f'{k}={val}')}")
    if not labels:
        v.add(Warn("workload selector specified without labels"))
    return v


def validate_alpha_workload_selector(selector: Any) -> tuple[str | None, list[str]]:
    """ValidateAlphaWorkloadSelector (networking WorkloadSelector, labels): (warning, errors)."""
    out: list[str] = []
    if selector is None:
        return None, out
    labels = m(m(selector).get("labels"))
    for k, val in labels.items():
        k, val = s(k), s(val)
        if k == "":
            out.append(f"empty key is not supported in selector: {go_q(f'{k}={val}')}")
        if "*" in k or "*" in val:
            out.append(f"wildcard is not supported in selector: {go_q(f'{k}={val}')}")
    return ("workload selector specified without labels" if not labels else None), out


ALLOWED_TARGET_REFS = (("core", "Service"), ("networking.istio.io", "ServiceEntry"),
                       ("gateway.networking.k8s.io", "Gateway"), ("gateway.networking.k8s.io", "GatewayClass"))
_ALLOWED_TEXT = ("[core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway "
                 "gateway.networking.k8s.io/v1/GatewayClass]")


def validate_target_ref(ref: Any) -> Validation:
    v = Validation()
    if ref is None:
        return v
    ref = m(ref)
    if not s(ref.get("name")):
        v.add("targetRef name must be set")
    if s(ref.get("namespace")):
        v.add("targetRef namespace must not be set; cross namespace referencing is not supported")
    group = s(ref.get("group")) or "core"
    if (group, s(ref.get("kind"))) not in ALLOWED_TARGET_REFS:
        v.add(f"targetRef must be to one of {_ALLOWED_TEXT} but was {s(ref.get('group'))}/{s(ref.get('kind'))}")
    return v


def validate_target_refs(refs: Any) -> Validation:
    v = Validation()
    for r in seq(refs):
        v.add(validate_target_ref(r))
    return v


def validate_one_of_selector(spec: dict, target_ref: bool = True) -> Validation:
    n = (spec.get("selector") is not None) + (target_ref and spec.get("targetRef") is not None) + \
        bool(seq(spec.get("targetRefs")))
    return Validation().add("only one of targetRefs or workloadSelector can be set" if n > 1 else None)


def validate_port_name(name: str) -> str | None:
    return None if is_dns1123_label(name) else f"invalid port name: {name}"


PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
             "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS", "mongo": "Mongo",
             "redis": "Redis", "mysql": "MySQL"}


def parse_protocol(p: str) -> str:
    return PROTOCOLS.get(p.lower(), "UnsupportedProtocol")


def is_http(p: str) -> bool:
    return p in ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web")


def is_tls(p: str) -> bool:
    return p in ("HTTPS", "TLS")


def is_tcp(p: str) -> bool:
    return p in ("TCP", "HTTPS", "TLS", "Mongo", "Redis", "MySQL")


def validate_protocol(p: str) -> str | None:
    if p and parse_protocol(p) == "UnsupportedProtocol":
        return f"unsupported protocol: {p}"
    return None


def validate_export_to(namespace: str, export_to: list, service_entry: bool, dr_with_selector: bool) -> list[str]:
    out: list[str] = []
    if not export_to:
        return out
    seen: list[str] = []
    for e in (s(x) for x in export_to):
        key = namespace if e == "." else e
        if key in seen:
            out.append(f"duplicate entries in exportTo: . and current namespace {namespace}" if key != e
                       else f"duplicate entries in exportTo for entry {e}")
        elif service_entry and e == "~":
            seen.append(key)
        elif key in (".", "*") or (key != "~" and is_dns1123_label(key)):
            seen.append(key)
        elif key == "~":
            out.append("exportTo ~ (none) is not allowed for Istio configuration objects")
        else:
            out.append("only .,*, or a valid DNS 1123 label is allowed as exportTo entry")
    if dr_with_selector and seen:
        if namespace in seen:
            if len(seen) > 1:
                out.append("destination rule with workload selector cannot have multiple entries in exportTo")
        else:
            out.append("destination rule with workload selector cannot have exportTo beyond current namespace")
    if "*" in seen and len(export_to) > 1:
        out.append("cannot have both public (*) and non-public exportTo values for a resource")
    if "~" in seen and len(export_to) > 1:
        out.append("cannot export service entry to no one (~) and someone")
    return out
