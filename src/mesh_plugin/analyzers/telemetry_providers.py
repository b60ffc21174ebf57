"""telemetry.ProviderAnalyzer: access logging with no provider while the mesh has no default one: ignored
(IST0157)."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import mapping, seq, spec


class ProviderAnalyzer(Analyzer):
    name = "telemetry.ProviderAnalyzer"
    description = "Validates that providers in telemetry resource is valid"
    inputs = ("Telemetry", "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        if seq(ctx.mesh.default_providers.get("accessLogging")):
            return
        for t in ctx.of("Telemetry"):
            for log in seq(spec(t).get("accessLogging")):
                log = mapping(log)
                if log.get("disabled") is True:
                    continue
                if not seq(log.get("providers")):
                    ctx.report("IST0157", t, name_of(t), ns_of(t))
