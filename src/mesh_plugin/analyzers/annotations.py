"""annotations.K8sAnalyzer: unknown, misplaced, deprecated and invalid Istio annotations (IST0107/0108/0125/0135).

A port of Istio's ``analyzers/annotations``; the annotation table is istio.io/api's (istio_annotations.py)
and the value checks are ``pkg/kube/inject.AnnotationValidation``'s.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import yaml

from ..kube.snapshot import annotations_of, labels_of
from .base import Analyzer, Context
from .istio_annotations import ANNOTATIONS

#: maturity.AlwaysIgnoredAnnotations: set by Istio itself, never reported
ALWAYS_IGNORED = frozenset({"sidecar.istio.io/status", "gateway.istio.io/controller-version", "istio.io/rev"})
DEPRECATION_EXTRA = {"sidecar.istio.io/inject": ' in favor of the "sidecar.istio.io/inject" label'}
_INTERFACE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.\-]*$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_UINT = re.compile(r"^\d+$")


def istio_annotation(ann: str) -> bool:
    if ann == "kubernetes.io/ingress.class":
        return True
    return ann.split("/")[0].endswith("istio.io")


def _uint(value: str, bits: int) -> str | None:
    if not _UINT.match(value) or int(value) >= 2 ** bits:
        return f'strconv.ParseUint: parsing "{value}": invalid syntax' if not _UINT.match(value) else \
            f'strconv.ParseUint: parsing "{value}": value out of range'
    return None


def _port(p: str) -> str | None:
    err = _uint(p.strip(), 16)
    return f"failed parsing port '{p}': {err}" if err else None


def _port_list(what: str, ports: str) -> str | None:
    ports = ports.strip()
    if not ports:
        return None
    for p in ports.split(","):
        err = _port(p)
        if err:
            return f"{what} invalid: failed parsing port '{p}': {err}"
    return None


def _cidr_list(what: str, value: str) -> str | None:
    if not value:
        return None
    for cidr in value.split(","):
        if "/" not in cidr:
            return f"{what} invalid: failed parsing cidr '{cidr}': netip.ParsePrefix(\"{cidr}\"): no '/'"
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as e:
            return f"{what} invalid: failed parsing cidr '{cidr}': {e}"
    return None


def _interfaces(value: str) -> str | None:
    if not value:
        return None
    for iface in value.split(","):
        iface = iface.strip()
        if not iface:
            return "empty interface name"
        if len(iface) > 15:
            return f'interface name "{iface}" too long (max 15 chars)'
        if not _INTERFACE.match(iface):
            return f'interface name "{iface}" contains invalid characters'
    return None


def _bool(value: str) -> str | None:
    ok = value in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
    return None if ok else f'strconv.ParseBool: parsing "{value}": invalid syntax'


def _quantity(value: str) -> str | None:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "value contains control characters"
    return None if _QUANTITY.match(value) else "quantities must match the regular expression " \
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def _proxy_config(value: str) -> str | None:
    try:
        doc = yaml.safe_load(value)
    except yaml.YAMLError:
        return "failed to convert to apply proxy config: invalid YAML"
    if doc is None:
        return None
    if not isinstance(doc, dict):
        return "failed to convert to apply proxy config: not a mapping"
    return None


def _interception(mode: str) -> str | None:
    return None if mode in ("REDIRECT", "TPROXY", "NONE") else \
        f"interceptionMode invalid, use REDIRECT,TPROXY,NONE: {mode}"


VALIDATION: dict[str, Callable[[str], str | None]] = {
    "sidecar.istio.io/interceptionMode": _interception,
    "status.sidecar.istio.io/port": lambda v: ("excludeInboundPorts invalid: " + e) if (e := _port(v)) else None,
    "readiness.status.sidecar.istio.io/initialDelaySeconds": lambda v: _uint(v, 32),
    "readiness.status.sidecar.istio.io/periodSeconds": lambda v: _uint(v, 32),
    "readiness.status.sidecar.istio.io/failureThreshold": lambda v: _uint(v, 32),
    "traffic.sidecar.istio.io/includeOutboundIPRanges":
        lambda v: None if v == "*" else _cidr_list("includeIPRanges", v),
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": lambda v: _cidr_list("excludeIPRanges", v),
    "traffic.sidecar.istio.io/includeInboundPorts":
        lambda v: None if v == "*" else _port_list("includeInboundPorts", v),
    "traffic.sidecar.istio.io/excludeInboundPorts": lambda v: _port_list("excludeInboundPorts", v),
    "traffic.sidecar.istio.io/excludeOutboundPorts": lambda v: _port_list("excludeOutboundPorts", v),
    "traffic.sidecar.istio.io/excludeInterfaces": _interfaces,
    "traffic.sidecar.istio.io/kubevirtInterfaces": _interfaces,
    "istio.io/reroute-virtual-interfaces": _interfaces,
    "prometheus.istio.io/merge-metrics": _bool,
    "proxy.istio.io/config": _proxy_config,
    "sidecar.istio.io/proxyCPU": _quantity,
    "sidecar.istio.io/proxyMemory": _quantity,
    "sidecar.istio.io/proxyCPULimit": _quantity,
    "sidecar.istio.io/proxyMemoryLimit": _quantity,
}


class K8sAnalyzer(Analyzer):
    name = "annotations.K8sAnalyzer"
    description = "Checks for misplaced and invalid Istio annotations in Kubernetes resources"
    inputs = ("Namespace", "Service", "Pod", "Deployment")

    def analyze(self, ctx: Context) -> None:
        for kind in ("Namespace", "Service", "Pod", "Deployment"):
            for obj in ctx.of(kind):
                self._check(ctx, obj, kind)

    @staticmethod
    def _check(ctx: Context, obj: dict, kind: str) -> None:
        for ann, value in annotations_of(obj).items():
            ann = str(ann)
            if not istio_annotation(ann) or ann in ALWAYS_IGNORED:
                continue
            path = "{.metadata.annotations.%s}" % ann
            known = ANNOTATIONS.get(ann)
            if known is None:
                ctx.report("IST0108", obj, ann, kind=kind, path=path)
                continue
            _, deprecated, resources = known
            if deprecated and not (ann == "sidecar.istio.io/inject" and "sidecar.istio.io/inject" in labels_of(obj)):
                ctx.report("IST0135", obj, ann, DEPRECATION_EXTRA.get(ann, ""), kind=kind, path=path)
            if "Any" in resources:
                continue
            attaches = [r for r in resources if r != "Unknown"]
            if kind not in attaches:
                ctx.report("IST0107", obj, ann, ", ".join(attaches), kind=kind, path=path)
                continue
            check = VALIDATION.get(ann)
            problem = check("" if value is None else str(value)) if check else None
            if problem:
                ctx.report("IST0125", obj, ann, problem, kind=kind, path=path)
