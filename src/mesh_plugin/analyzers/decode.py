"""Which Istio objects istioctl cannot decode, so never analyzes.

istioctl decodes each file document into the Istio API's protobuf types before analysis (protobuf JSON
rules; unknown fields are ignored). A document where a value has the wrong type - a number where a host
goes, a list where an object goes, an enum value the API does not define (``mtls.mode: STRICTEST``), a
duration that does not parse - fails to decode, is skipped with a parse error, and no analyzer sees it.
``undecodable(kind, obj)`` says why an object would fail, checking its spec against the types of the Istio
CRD schemas at the pin (istio_schema.py).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .istio_schema import SCHEMA

#: enum type names for the messages (the CRD schema has the values, not the protobuf type names)
NET = "istio.networking.v1alpha3"
ENUM_NAMES = {
    ("PeerAuthentication", "mode"): "istio.security.v1beta1.PeerAuthentication.MutualTLS.Mode",
    ("AuthorizationPolicy", "action"): "istio.security.v1beta1.AuthorizationPolicy.Action",
    ("DestinationRule", "mode"): f"{NET}.ClientTLSSettings.TLSmode",
    ("Gateway", "mode"): f"{NET}.ServerTLSSettings.TLSmode",
    ("ServiceEntry", "resolution"): f"{NET}.ServiceEntry.Resolution",
    ("ServiceEntry", "location"): f"{NET}.ServiceEntry.Location",
    ("EnvoyFilter", "applyTo"): f"{NET}.EnvoyFilter.ApplyTo",
    ("EnvoyFilter", "operation"): f"{NET}.EnvoyFilter.Patch.Operation",
    ("EnvoyFilter", "context"): f"{NET}.EnvoyFilter.PatchContext",
}
KINDS = frozenset(SCHEMA)
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_JSON_TYPE = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def compact_schema(s: Any) -> dict:
    """One OpenAPI v3 schema (a CRD's) compacted to the types decoding needs (the form of istio_schema.py)."""
    if not isinstance(s, dict):
        return {"t": "any"}
    if s.get("x-kubernetes-preserve-unknown-fields"):
        return {"t": "any"}
    if s.get("x-kubernetes-int-or-string"):
        return {"t": "intstr"}
    t = s.get("type")
    if "enum" in s:
        return {"t": "enum", "v": list(s["enum"])}
    if t == "string":
        rules = " ".join(str(r.get("rule", "")) for r in s.get("x-kubernetes-validations") or [])
        return {"t": "duration"} if "duration(self)" in rules else {"t": "s"}
    if t == "integer":
        # uint32/uint64 fields carry a minimum of 0 or more and no int32 format: negative values do not decode
        unsigned = s.get("format") is None and isinstance(s.get("minimum"), int) and s["minimum"] >= 0
        return {"t": "u" if unsigned else "i"}
    if t in ("number", "boolean"):
        return {"t": {"number": "n", "boolean": "b"}[t]}
    if t == "array":
        return {"t": "a", "i": compact_schema(s.get("items") or {})}
    if t == "object" or "properties" in s:
        if "properties" in s:
            return {"t": "o", "p": {k: compact_schema(v) for k, v in s["properties"].items()}}
        if isinstance(s.get("additionalProperties"), dict):
            return {"t": "m", "v": compact_schema(s["additionalProperties"])}
    return {"t": "any"}


def _field(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _check(kind: str, value: Any, schema: dict, path: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()  # YAML timestamps reach Istio as JSON strings
    t = schema.get("t")
    got = _JSON_TYPE.get(type(value), "value")
    if t == "any":
        return None
    if t == "o":
        if not isinstance(value, dict):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type object"
        props = schema.get("p") or {}
        for k, v in value.items():
            sub = props.get(str(k))
            if sub is not None:
                err = _check(kind, v, sub, path + (str(k),))
                if err:
                    return err
        return None
    if t == "m":
        if not isinstance(value, dict):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type map"
        for k, v in value.items():
            err = _check(kind, v, schema.get("v") or {"t": "any"}, path + (str(k),))
            if err:
                return err
        return None
    if t == "a":
        if not isinstance(value, list):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type array"
        for item in value:
            err = _check(kind, item, schema.get("i") or {"t": "any"}, path)
            if err:
                return err
        return None
    if t in ("s", "duration"):
        if not isinstance(value, str):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type string"
        if t == "duration":
            from .validation.common import parse_duration

            if parse_duration(value) is None:
                return f'bad Duration: time: invalid duration "{value}"'
        return None
    if t == "enum":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type enum"
        values = schema.get("v") or []
        if isinstance(value, int):
            return None  # proto3 enums are open: any number decodes
        if value not in values:
            name = ENUM_NAMES.get((kind, path[-1]), f"{kind}.{_field(path)}")
            return f'unknown value "\\"{value}\\"" for enum {name}'
        return None
    if t in ("i", "u"):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())
                                           or (isinstance(value, str) and _INT.match(value))):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type integer"
        if t == "u" and float(value) < 0:
            return f"json: cannot unmarshal number {value} into Go struct field {kind}.{_field(path)} of type uint32"
        return None
    if t == "n":
        if isinstance(value, bool) or not (isinstance(value, (int, float)) or
                                           (isinstance(value, str) and _NUMBER.match(value))):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type number"
        return None
    if t == "b":
        if not isinstance(value, bool):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type bool"
        return None
    if t == "intstr":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{_field(path)} of type int-or-string"
    return None


def undecodable(kind: str, obj: dict) -> str | None:
    """Why istioctl could not decode ``obj`` (an Istio kind's spec), or None."""
    schema = SCHEMA.get(kind)
    spec = obj.get("spec")
    if schema is None or spec is None:
        return None
    if kind == "PeerAuthentication" and isinstance(spec, dict) and isinstance(spec.get("portLevelMtls"), dict):
        for port in spec["portLevelMtls"]:
            if not str(port).isdigit() or int(str(port)) >= 2 ** 32:
                return f"failed parsing JSON for built-in type: invalid value for uint32 key: \"{port}\""
    if kind == "EnvoyFilter" and isinstance(spec, dict) and isinstance(spec.get("configPatches"), list):
        for cp in spec["configPatches"]:
            value = (cp.get("patch") or {}).get("value") if isinstance(cp, dict) and \
                isinstance(cp.get("patch"), dict) else None
            if value is not None and not isinstance(value, dict):  # a protobuf Struct is a JSON object
                got = _JSON_TYPE.get(type(value), "value")
                return ("failed parsing JSON for built-in type: bad StructValue: json: cannot unmarshal "
                        f"{got} into Go value of type map[string]json.RawMessage")
    err = _check(kind, spec, schema, ("spec",))
    return f"failed parsing JSON for built-in type: {err}" if err else None


__all__ = ["undecodable", "compact_schema", "KINDS"]
