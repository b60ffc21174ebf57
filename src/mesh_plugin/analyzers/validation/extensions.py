"""Telemetry (telemetry.istio.io), WasmPlugin and TrafficExtension (extensions.istio.io) validators
(pkg/config/validation/validation.go)."""
from __future__ import annotations

import re
from typing import Any

from ..messages import go_quote
from . import VALIDATORS
from .cel import parse_error
from .common import (Validation, Warn, f, i, m, s, seq, validate_one_of_selector, validate_target_ref,
                     validate_target_refs, validate_workload_selector, wrapped)
from .metadata import with_metadata


def _providers(providers: Any) -> str | None:
    for p in seq(providers):
        if p is None or not s(m(p).get("name")):
            return "providers.name may not be empty"
    return None


def _metrics(metrics: Any) -> Validation:
    v = Validation()
    for mt in seq(metrics):
        if mt is None:
            continue
        mt = m(mt)
        v.add(_providers(mt.get("providers")))
        for o in seq(mt.get("overrides")):
            if o is None:
                v.add("tagOverrides may not be null")
                continue
            o = m(o)
            for tag, to in m(o.get("tagOverrides")).items():
                if tag == "":
                    v.warn("tagOverrides.name may not be empty")
                if to is None:
                    v.add("tagOverrides may not be null")
                    continue
                op = s(m(to).get("operation")) or "UPSERT"
                value = s(m(to).get("value"))
                if op == "UPSERT" and not value:
                    v.add("tagOverrides.value must be set when operation is UPSERT")
                if op == "REMOVE" and value:
                    v.add("tagOverrides.value may only be set when operation is UPSERT")
            match = o.get("match")
            if isinstance(match, dict) and "customMetric" in match and not s(match.get("customMetric")):
                v.add("customMetric may not be empty")
    return v


def _tracing(tracing: Any) -> Validation:
    v = Validation()
    items = seq(tracing)
    if len(items) > 1:
        v.warn("multiple tracing is not currently supported")
    for t in items:
        if t is None:
            continue
        t = m(t)
        if len(seq(t.get("providers"))) > 1:
            v.warn("multiple providers is not currently supported")
        v.add(_providers(t.get("providers")))
        pct = f(wrapped(t.get("randomSamplingPercentage")))
        if pct < 0 or pct > 100:
            v.add("randomSamplingPercentage must be in range [0.0, 100.0]")
        for name, tag in m(t.get("customTags")).items():
            if name == "":
                v.add("tag name may not be empty")
            if tag is None:
                v.add(f"tag '{name}' may not have a nil value")
                continue
            tag = m(tag)
            if "literal" in tag and not s(m(tag.get("literal")).get("value")):
                v.add("literal tag value may not be empty")
            elif "header" in tag and not s(m(tag.get("header")).get("name")):
                v.add("header tag name may not be empty")
            elif "environment" in tag and not s(m(tag.get("environment")).get("name")):
                v.add("environment tag name may not be empty")
    return v


def _access_logging(logging: Any) -> Validation:
    v = Validation()
    for log in seq(logging):
        if log is None:
            continue
        log = m(log)
        if log.get("filter") is not None:
            v.add(_filter(log.get("filter")))
        v.add(_providers(log.get("providers")))
    return v


def _filter(flt: Any) -> str | None:
    """validateTelemetryFilter: the CEL expression must parse (cel.py)."""
    err = parse_error(s(m(flt).get("expression")))
    return f"must be a valid CEL expression, {err}" if err else None


@with_metadata("Telemetry")
def validate_telemetry(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    return Validation().add(validate_one_of_selector(spec), validate_workload_selector(spec.get("selector")),
                            validate_target_ref(spec.get("targetRef")), validate_target_refs(spec.get("targetRefs")),
                            _metrics(spec.get("metrics")), _tracing(spec.get("tracing")),
                            _access_logging(spec.get("accessLogging")))


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_USERINFO_OK = re.compile(r"^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$")
_HOST_OK = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:\[\]%]*$")


def _request_uri(u: str) -> tuple[str, str] | None:
    """Go's url.ParseRequestURI: an absolute URI or an absolute path, no fragment split. (scheme, error)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in u):
        return "", "invalid control character in URL"
    mt = _SCHEME.match(u)
    if mt is None:
        return ("", "") if u.startswith("/") else ("", "invalid URI for request")
    scheme, rest = mt.group(1).lower(), u[mt.end():]
    if rest.startswith("//"):
        authority = re.split(r"[/?]", rest[2:], maxsplit=1)[0]
        userinfo, _, host = authority.rpartition("@")
        if userinfo and not _USERINFO_OK.match(userinfo):
            return scheme, "net/url: invalid userinfo"
        if not _HOST_OK.match(host) or re.search(r"%(?![0-9A-Fa-f]{2})", host):
            return scheme, "invalid character in host name"
        if not host.startswith("["):
            name, colon, port = host.rpartition(":")
            if colon and (":" in name or not port.isdigit() and port != ""):
                return scheme, f"invalid port \":{port}\" after host"
    elif not rest.startswith("/"):
        return ("", "invalid URI for request") if False else (scheme, "")
    return scheme, ""


def _url(plugin_url: str) -> str | None:
    """validateWasmPluginURL with strictParseURL: as given, else with http:// in front."""
    if not plugin_url:
        return "url field needs to be set"
    scheme, err = _request_uri(plugin_url)
    if err:
        s2, err2 = _request_uri("http://" + plugin_url)
        if err2:
            return f"failed to parse url: parse {go_quote(plugin_url)}: {err}"
        scheme = s2
    if scheme not in ("", "file", "http", "https", "oci"):
        return f"url contains unsupported scheme: {scheme}"
    return None


def _sha(sha: str) -> str | None:
    if not sha:
        return None
    if len(sha) != 64:
        return "sha256 field must be 64 characters long"
    if not re.fullmatch(r"[a-f0-9]{64}", sha):
        return "sha256 field must match [a-f0-9]{64} pattern"
    return None


def _vm_config(vm: Any) -> str | None:
    env = seq(m(vm).get("env"))
    keys: set[str] = set()
    for e in env:
        if e is None:
            continue
        e = m(e)
        n = s(e.get("name"))
        if not n:
            return "spec.vmConfig.env invalid"
        if len(n) > 256:
            return "env.name field must be less than 255 characters long"
        if n in keys:
            return "duplicate env"
        keys.add(n)
        if (s(e.get("valueFrom")) or "INLINE") != "INLINE" and s(e.get("value")):
            return "value may only be set when valueFrom is INLINE"
    return None


def _match(selectors: Any) -> str | None:
    for n, sel in enumerate(seq(selectors)):
        if sel is None:
            return f"spec.Match[{n}] is nil"
        for pn, port in enumerate(seq(m(sel).get("ports"))):
            if port is None:
                return f"spec.Match[{n}].Ports[{pn}] is nil"
            number = i(m(port).get("number"))
            if number <= 0 or number > 65535:
                return f"spec.Match[{n}].Ports[{pn}] is out of range: {number}"
    return None


@with_metadata("WasmPlugin")
def validate_wasm_plugin(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation().add(validate_one_of_selector(spec), validate_workload_selector(spec.get("selector")),
                         validate_target_ref(spec.get("targetRef")), validate_target_refs(spec.get("targetRefs")))
    v.add(_url(s(spec.get("url"))), _sha(s(spec.get("sha256"))))
    if len(s(spec.get("imagePullSecret"))) > 253:
        v.add("imagePullSecret field must be less than 253 characters long")
    if len(s(spec.get("pluginName"))) > 256:
        v.add("pluginName field must be less than 255 characters long")
    return v.add(_vm_config(spec.get("vmConfig")), _match(spec.get("match")))


@with_metadata("TrafficExtension")
def validate_traffic_extension(name: str, namespace: str, spec: dict, obj: dict) -> Validation:
    v = Validation()
    wasm, lua = spec.get("wasm"), spec.get("lua")
    if (wasm is None) == (lua is None):
        v.add("exactly one of wasm or lua must be set")
    v.add(validate_one_of_selector(spec, target_ref=False), validate_workload_selector(spec.get("selector")),
          validate_target_refs(spec.get("targetRefs")))
    if lua is not None:
        code = s(m(lua).get("inlineCode"))
        if not code:
            v.add("lua.inlineCode cannot be empty")
        elif len(code) > 65536:
            v.add("lua.inlineCode exceeds maximum size of 64KB")
    if wasm is not None:
        wasm = m(wasm)
        v.add(_url(s(wasm.get("url"))), _sha(s(wasm.get("sha256"))))
        if len(s(wasm.get("imagePullSecret"))) > 253:
            v.add("imagePullSecret field must be less than 253 characters long")
        if len(s(wasm.get("pluginName"))) > 256:
            v.add("pluginName field must be less than 256 characters long")
        v.add(_vm_config(wasm.get("vmConfig")))
    return v.add(_match(spec.get("match")))


VALIDATORS.update({"Telemetry": validate_telemetry, "WasmPlugin": validate_wasm_plugin,
                   "TrafficExtension": validate_traffic_extension})
_ = Warn
