"""EnvoyFilter validator (pkg/config/validation/envoyfilter).

Istio also decodes each patch value into the Envoy message its applyTo names (go-control-plane protos) and
warns on unknown fields, deprecated type URLs and filters without typed_config. Here the patch value is
checked against the top-level fields of that message (envoy_fields.py) and for a missing typed_config on
filters; nested messages and Any type URLs are not (KNOWN-DIFFERENCES.md).
"""
from __future__ import annotations

import re
from typing import Any

from . import VALIDATORS
from .common import Validation, m, s, seq, validate_alpha_workload_selector
from .envoy_fields import ENVOY_FIELDS
from .metadata import with_metadata

HCM = "envoy.filters.network.http_connection_manager"
#: xds.ReverseDeprecatedFilterNames: deprecated name -> canonical name
DEPRECATED_NAMES = {
    "envoy.buffer": "envoy.filters.http.buffer", "envoy.cors": "envoy.filters.http.cors",
    "envoy.csrf": "envoy.filters.http.csrf", "envoy.http_dynamo_filter": "envoy.filters.http.dynamo",
    "envoy.ext_authz": "envoy.filters.network.ext_authz", "envoy.fault": "envoy.filters.http.fault",
    "envoy.grpc_http1_bridge": "envoy.filters.http.grpc_http1_bridge",
    "envoy.grpc_json_transcoder": "envoy.filters.http.grpc_json_transcoder",
    "envoy.grpc_web": "envoy.filters.http.grpc_web", "envoy.gzip": "envoy.filters.http.gzip",
    "envoy.health_check": "envoy.filters.http.health_check", "envoy.ip_tagging": "envoy.filters.http.ip_tagging",
    "envoy.lua": "envoy.filters.http.lua", "envoy.rate_limit": "envoy.filters.http.ratelimit",
    "envoy.router": "envoy.filters.http.router", "envoy.squash": "envoy.filters.http.squash",
    "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
    "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
    "envoy.listener.original_src": "envoy.filters.listener.original_src",
    "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
    "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
    "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth", "envoy.http_connection_manager": HCM,
    "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy", "envoy.ratelimit": "envoy.filters.network.ratelimit",
    "envoy.redis_proxy": "envoy.filters.network.redis_proxy", "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
}
LISTENER_CLASS = ("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER")
ROUTE_CLASS = ("ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE")
FILTER_KINDS = ("HTTP_FILTER", "NETWORK_FILTER", "LISTENER_FILTER")


def _deprecated_name(name: str) -> str | None:
    new = DEPRECATED_NAMES.get(name)
    return f"using deprecated filter name {name!r} ; use {new!r} instead".replace(" ;", ";").replace("'", '"') \
        if new else None


def _xds_checks(apply_to: str, value: Any) -> Validation:
    """xds.BuildXDSObjectFromStruct(strict) on the top level: unknown fields, filters without typed_config."""
    v = Validation()
    if not isinstance(value, dict):  # none (remove), or not an object: refused when decoding (decode.py)
        return v
    known = ENVOY_FIELDS.get(apply_to)
    if known is None:
        return v.add(f"Envoy filter: unknown object type for applyTo {apply_to}")
    type_name, fields = known
    unknown = [k for k in value if k not in fields]  # in document order, as the decoder meets them
    if unknown:
        return v.warn(f'Envoy filter: unknown field "{unknown[0]}" in {type_name}')
    if apply_to in FILTER_KINDS and not any(k in value for k in ("typed_config", "typedConfig", "config_discovery",
                                                                 "configDiscovery")):
        v.warn(f"using deprecated types by name without typed_config; {s(value.get('name'))}")
    return v


@with_metadata("EnvoyFilter")
def validate_envoy_filter(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    v.warn("EnvoyFilter exposes internal implementation details that may change at any time. Prefer other APIs if "
           "possible, and exercise extreme caution, especially around upgrades.")
    warning, sel_errs = validate_alpha_workload_selector(spec.get("workloadSelector"))
    if sel_errs:
        return Validation(errors=sel_errs)
    if warning:
        v.warn(f"Envoy filter: {warning}, will be applied to all services in namespace")
    for cp in seq(spec.get("configPatches")):
        if cp is None:
            v.add("Envoy filter: null config patch")
            continue
        cp = m(cp)
        match = cp.get("match")
        match = match if isinstance(match, dict) else None
        if match is not None and s(match.get("context")) == "WAYPOINT":
            continue
        apply_to = s(cp.get("applyTo")) or "INVALID"
        if apply_to == "INVALID":
            v.add("Envoy filter: missing applyTo")
            continue
        patch = cp.get("patch")
        if not isinstance(patch, dict):
            v.add("Envoy filter: missing patch")
            continue
        op = s(patch.get("operation")) or "INVALID"
        if op == "INVALID":
            v.add("Envoy filter: missing patch operation")
            continue
        if op != "REMOVE" and patch.get("value") is None:
            v.add("Envoy filter: missing patch value for non-remove operation")
            continue
        version = s(m(m(match).get("proxy")).get("proxyVersion")) if match else ""
        if version:
            if len(version) > 1024:
                v.warn("Envoy filter: proxyVersion match exceeds 1024 characters and will be ignored")
            else:
                try:
                    re.compile(version)
                except re.error as e:
                    v.add(f"Envoy filter: invalid regex for proxy version, [error parsing regexp: {e}]")
                    continue
        object_types = match is not None and any(k in match for k in ("listener", "routeConfiguration", "cluster"))
        if apply_to in LISTENER_CLASS and object_types:
            listener = match.get("listener")
            if not isinstance(listener, dict):
                v.add("Envoy filter: applyTo for listener class objects cannot have non listener match")
                continue
            chain = listener.get("filterChain")
            flt = m(chain).get("filter") if isinstance(chain, dict) else None
            if isinstance(flt, dict):
                if apply_to in ("LISTENER", "FILTER_CHAIN"):
                    v.warn(f"Envoy filter: filter match has no effect when used with {apply_to}")
                fname = s(flt.get("name"))
                if not fname:
                    v.add("Envoy filter: filter match has no name to match on")
                    continue
                sub = flt.get("subFilter")
                if isinstance(sub, dict):
                    if apply_to != "HTTP_FILTER":
                        v.add("Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only")
                        continue
                    if fname not in (HCM, "envoy.http_connection_manager"):
                        v.add(f"Envoy filter: subfilter match requires filter match with {HCM}")
                        continue
                    if not s(sub.get("name")):
                        v.add("Envoy filter: subfilter match has no name to match on")
                        continue
                for n in (fname, s(m(sub).get("name"))):
                    dep = _deprecated_name(n)
                    if dep:
                        v.warn(dep)
        elif apply_to in ROUTE_CLASS and object_types:
            if not isinstance(match.get("routeConfiguration"), dict):
                v.add("Envoy filter: applyTo for http route class objects cannot have non route configuration match")
        elif apply_to == "CLUSTER" and object_types:
            if not isinstance(match.get("cluster"), dict):
                v.add("Envoy filter: applyTo for cluster class objects cannot have non cluster match")
        v.add(_xds_checks(apply_to, patch.get("value")))
    return v


VALIDATORS["EnvoyFilter"] = validate_envoy_filter
