"""schema.ValidationAnalyzer.<Kind>: Istio's schema validation of each Istio kind, as an analyzer (IST0106 for
errors, IST0133 for warnings, IST0130/IST0131 for VirtualService rules that can never match).

One analyzer per kind of Istio's ``collections.Istio``, as istioctl lists them. Each runs the kind's
validator (``validation/``, a port of istio/istio ``pkg/config/validation``): every error is one message,
as istioctl reports each error of the multierror separately. Kinds Istio validates only through its CRD
schema (MeshConfig, MeshNetworks) have no checks here either.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .istio_schema import SCHEMA
from .util import spec
from .validation import VALIDATORS, AnalysisAware

#: collections.Istio: kind -> snapshot key
ISTIO_KINDS: dict[str, str] = {
    "AuthorizationPolicy": "AuthorizationPolicy",
    "DestinationRule": "DestinationRule",
    "EnvoyFilter": "EnvoyFilter",
    "Gateway": "Gateway",
    "MeshConfig": "MeshConfig",
    "MeshNetworks": "MeshNetworks",
    "PeerAuthentication": "PeerAuthentication",
    "ProxyConfig": "ProxyConfig",
    "RequestAuthentication": "RequestAuthentication",
    "ServiceEntry": "ServiceEntry",
    "Sidecar": "Sidecar",
    "Telemetry": "Telemetry",
    "TrafficExtension": "TrafficExtension",
    "VirtualService": "VirtualService",
    "WasmPlugin": "WasmPlugin",
    "WorkloadEntry": "WorkloadEntry",
    "WorkloadGroup": "WorkloadGroup",
}


#: what a null list item decodes to, by item type (a message when the type is not known)
_ZERO: dict[Any, Any] = {"s": "", "duration": "", "enum": "", "i": 0, "u": 0, "n": 0, "b": False}


def decoded(v: Any, schema: dict | None = None) -> Any:
    """The spec as the decoded protobuf has it: a null, an empty list or an empty map is an unset field; a null
    list item is its type's zero value (an empty message, an empty string); an enum given by number is the value
    of that name. The types come from the CRD schema (istio_schema.py)."""
    t = (schema or {}).get("t")
    if isinstance(v, dict):
        if t == "o":
            props = schema.get("p") or {}  # type: ignore[union-attr]
            out = {}
            for k, x in v.items():
                sub = props.get(str(k))
                kind = (sub or {}).get("t")
                if x is None or (x == [] and kind == "a") or (x == {} and kind == "m"):
                    continue  # null, an empty list or an empty map decode as an unset field
                out[k] = decoded(x, sub)
            return out
        if t == "m":
            return {k: decoded(x, schema.get("v")) for k, x in v.items()}  # type: ignore[union-attr]
        return {k: decoded(x) for k, x in v.items()}
    if isinstance(v, list):
        item = schema.get("i") if t == "a" else None  # type: ignore[union-attr]
        zero = _ZERO.get((item or {}).get("t"), {})
        return [zero if x is None else decoded(x, item) for x in v]
    if t == "enum" and isinstance(v, int) and not isinstance(v, bool):
        values = schema.get("v") or []  # type: ignore[union-attr]
        return values[v] if 0 <= v < len(values) else str(v)
    return v


class ValidationAnalyzer(Analyzer):
    kind: ClassVar[str] = ""

    def analyze(self, ctx: Context) -> None:
        validate = VALIDATORS.get(self.kind)
        if validate is None:
            return
        for obj in ctx.of(ISTIO_KINDS[self.kind]):
            result = validate(name_of(obj), ns_of(obj), decoded(spec(obj), SCHEMA.get(self.kind)), obj)
            for err in result.errors:
                self._report(ctx, obj, err, error=True)
            for warn in result.warnings:
                self._report(ctx, obj, warn, error=False)

    @staticmethod
    def _report(ctx: Context, obj: dict, issue: object, error: bool) -> None:
        if isinstance(issue, AnalysisAware):
            if issue.type == "VirtualServiceUnreachableRule":
                ctx.report("IST0130", obj, *issue.params[:2])
                return
            if issue.type == "VirtualServiceIneffectiveMatch":
                ctx.report("IST0131", obj, *issue.params[:3])
                return
        ctx.report("IST0106" if error else "IST0133", obj, str(issue))


def _make(kind: str) -> ValidationAnalyzer:
    cls = type(f"ValidationAnalyzer{kind}", (ValidationAnalyzer,), {
        "kind": kind, "name": f"schema.ValidationAnalyzer.{kind}",
        "description": f"Runs schema validation as an analyzer on '{kind}' resources",
        "inputs": (ISTIO_KINDS[kind],)})
    return cls()


ALL_VALIDATION_ANALYZERS: tuple[ValidationAnalyzer, ...] = tuple(_make(k) for k in ISTIO_KINDS)
