"""Which Istio objects istioctl cannot decode, so never analyzes.

istioctl decodes each file document into the Istio API's protobuf types before analysis; a document with
an enum value the API does not define (``mtls.mode: STRICTEST``) fails to decode, is skipped with a parse
error, and no analyzer sees it. ``undecodable(obj)`` says why an object would fail, for the enums of the
Istio kinds (the usual mistake); other type errors are not detected (KNOWN-DIFFERENCES.md).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_CLIENT_TLS = ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")
_SERVER_TLS = ("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
_TLS_PROTOCOL = ("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
_CAPTURE = ("DEFAULT", "IPTABLES", "NONE")
NET = "istio.networking.v1alpha3"

#: kind -> [(path suffix (keys, list indexes skipped), enum type name, values)]
ENUMS: dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...]]]] = {
    "PeerAuthentication": [
        (("spec", "mtls", "mode"), "istio.security.v1beta1.PeerAuthentication.MutualTLS.Mode",
         ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")),
        (("portLevelMtls", "*", "mode"), "istio.security.v1beta1.PeerAuthentication.MutualTLS.Mode",
         ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")),
    ],
    "AuthorizationPolicy": [
        (("spec", "action"), "istio.security.v1beta1.AuthorizationPolicy.Action", ("ALLOW", "DENY", "AUDIT", "CUSTOM")),
    ],
    "DestinationRule": [
        (("tls", "mode"), f"{NET}.ClientTLSSettings.TLSmode", _CLIENT_TLS),
        (("loadBalancer", "simple"), f"{NET}.LoadBalancerSettings.SimpleLB",
         ("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST")),
        (("http", "h2UpgradePolicy"), f"{NET}.ConnectionPoolSettings.HTTPSettings.H2UpgradePolicy",
         ("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE")),
        (("proxyProtocol", "version"), f"{NET}.TrafficPolicy.ProxyProtocol.VERSION", ("V1", "V2")),
    ],
    "Gateway": [
        (("tls", "mode"), f"{NET}.ServerTLSSettings.TLSmode", _SERVER_TLS),
        (("tls", "minProtocolVersion"), f"{NET}.ServerTLSSettings.TLSProtocol", _TLS_PROTOCOL),
        (("tls", "maxProtocolVersion"), f"{NET}.ServerTLSSettings.TLSProtocol", _TLS_PROTOCOL),
    ],
    "ServiceEntry": [
        (("spec", "location"), f"{NET}.ServiceEntry.Location", ("MESH_EXTERNAL", "MESH_INTERNAL")),
        (("spec", "resolution"), f"{NET}.ServiceEntry.Resolution",
         ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")),
    ],
    "Sidecar": [
        (("captureMode",), f"{NET}.CaptureMode", _CAPTURE),
        (("outboundTrafficPolicy", "mode"), f"{NET}.OutboundTrafficPolicy.Mode", ("REGISTRY_ONLY", "ALLOW_ANY")),
        (("ingress", "tls", "mode"), f"{NET}.ServerTLSSettings.TLSmode", _SERVER_TLS),
    ],
    "VirtualService": [
        (("redirect", "derivePort"), f"{NET}.HTTPRedirect.RedirectPortSelection",
         ("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT")),
        (("corsPolicy", "unmatchedPreflights"), f"{NET}.CorsPolicy.UnmatchedPreflights",
         ("UNSPECIFIED", "FORWARD", "IGNORE")),
    ],
    "EnvoyFilter": [
        (("configPatches", "applyTo"), f"{NET}.EnvoyFilter.ApplyTo",
         ("INVALID", "LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "ROUTE_CONFIGURATION",
          "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER", "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER")),
        (("patch", "operation"), f"{NET}.EnvoyFilter.Patch.Operation",
         ("INVALID", "MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE",
          "MERGE_AND_REPLACE_LIST")),
        (("patch", "filterClass"), f"{NET}.EnvoyFilter.Patch.FilterClass", ("UNSPECIFIED", "AUTHN", "AUTHZ", "STATS")),
        (("match", "context"), f"{NET}.EnvoyFilter.PatchContext",
         ("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "WAYPOINT")),
    ],
}


#: kind -> path suffixes whose values must be strings (hosts and names: numbers there are a common slip)
STRINGS: dict[str, list[tuple[str, ...]]] = {
    "DestinationRule": [("spec", "host"), ("subsets", "name")],
    "VirtualService": [("spec", "hosts"), ("spec", "gateways"), ("destination", "host"), ("destination", "subset")],
    "ServiceEntry": [("spec", "hosts"), ("spec", "addresses")],
    "Gateway": [("servers", "hosts")],
    "Sidecar": [("egress", "hosts")],
}


#: fields that hold a protobuf Duration (Go syntax such as 1.5s, 100ms, 1h2m); any kind, by field name
DURATIONS = frozenset({"timeout", "perTryTimeout", "backoff", "interval", "baseEjectionTime", "connectTimeout",
                       "idleTimeout", "maxConnectionDuration", "maxAge", "fixedDelay", "exponentialDelay",
                       "drainDuration", "reportingInterval"})
#: (parent, field) pairs that hold a Duration where the field name alone is ambiguous
DURATION_PAIRS = frozenset({("tcpKeepalive", "time"), ("warmup", "duration")})


def _leaves(v: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _leaves(x, path + (str(k),))
    elif isinstance(v, list):
        for x in v:
            yield from _leaves(x, path)
    else:
        yield path, v


def _suffix(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if len(path) < len(pattern):
        return False
    tail = path[-len(pattern):]
    return all(p == "*" or p == t for p, t in zip(pattern, tail))


def undecodable(kind: str, obj: dict) -> str | None:
    """Why istioctl could not decode ``obj`` (an Istio kind), or None."""
    rules = ENUMS.get(kind, [])
    strings = STRINGS.get(kind, [])
    spec = obj.get("spec")
    if kind not in KINDS or not isinstance(spec, dict):
        return None
    if kind == "PeerAuthentication" and isinstance(spec.get("portLevelMtls"), dict):
        for port in spec["portLevelMtls"]:
            if not str(port).isdigit() or int(str(port)) >= 2 ** 32:
                return f"failed parsing JSON for built-in type: invalid value for uint32 key: \"{port}\""
    for path, value in _leaves(spec, ("spec",)):
        if kind != "EnvoyFilter" and isinstance(value, str) and (path[-1] in DURATIONS or
                                                                 path[-2:] in DURATION_PAIRS):
            from .validation.common import parse_duration

            if parse_duration(value) is None:
                return f'failed parsing JSON for built-in type: bad Duration: time: invalid duration "{value}"'
        if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                any(_suffix(path, p) for p in strings):
            return (f"failed parsing JSON for built-in type: json: cannot unmarshal number into Go struct field "
                    f"{kind}.{'.'.join(path)} of type string")
        for pattern, enum, values in rules:
            if not _suffix(path, pattern):
                continue
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int):
                if 0 <= value < len(values):
                    continue
                return f"failed parsing JSON for built-in type: invalid value for enum field {path[-1]}: {value}"
            if str(value) not in values:
                return f'failed parsing JSON for built-in type: unknown value "\\"{value}\\"" for enum {enum}'
    return None


__all__ = ["undecodable", "ENUMS", "STRINGS", "KINDS"]

KINDS = frozenset(ENUMS) | frozenset(STRINGS) | frozenset(
    {"RequestAuthentication", "Telemetry", "WasmPlugin", "WorkloadEntry", "WorkloadGroup", "ProxyConfig"})
