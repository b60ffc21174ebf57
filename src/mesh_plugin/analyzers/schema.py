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


def decoded(v: Any) -> Any:
    """The spec as the decoded protobuf has it: a null list item is an empty message, not a missing one."""
    if isinstance(v, dict):
        return {k: decoded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [{} if x is None else decoded(x) for x in v]
    return v


class ValidationAnalyzer(Analyzer):
    kind: ClassVar[str] = ""

    def analyze(self, ctx: Context) -> None:
        validate = VALIDATORS.get(self.kind)
        if validate is None:
            return
        for obj in ctx.of(ISTIO_KINDS[self.kind]):
            result = validate(name_of(obj), ns_of(obj), decoded(spec(obj)), obj)
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
