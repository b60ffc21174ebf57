"""telemetry.DefaultSelectorAnalyzer: several selector-less Telemetry resources in one namespace (IST0160)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import spec


class DefaultSelectorAnalyzer(Analyzer):
    name = "telemetry.DefaultSelectorAnalyzer"
    description = "Validates that there aren't multiple telemetry resources that have no selector"
    inputs = ("Telemetry",)

    def analyze(self, ctx: Context) -> None:
        by_ns: dict[str, list[dict]] = {}
        for t in ctx.of("Telemetry"):
            if spec(t).get("selector") is None:
                by_ns.setdefault(ns_of(t), []).append(t)
        for ns, items in by_ns.items():
            if len(items) > 1:
                names = sorted(name_of(t) for t in items)
                for t in items:
                    ctx.report("IST0160", t, names, ns)
