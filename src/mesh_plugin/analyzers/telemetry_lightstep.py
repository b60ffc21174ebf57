"""telemetry.LightstepAnalyzer: Telemetry tracing through a Lightstep provider, which is deprecated (IST0002)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq, spec


class LightstepAnalyzer(Analyzer):
    name = "telemetry.LightstepAnalyzer"
    description = "Validates that lightstep provider is still used"
    inputs = ("Telemetry", "MeshConfig")

    def analyze(self, ctx: Context) -> None:
        providers = {str(p.get("name")) for p in ctx.mesh.extension_providers if "lightstep" in p}
        if not providers:
            return
        for t in ctx.of("Telemetry"):
            for tracing in seq(spec(t).get("tracing")):
                for p in seq(mapping(tracing).get("providers")):
                    name = str(mapping(p).get("name") or "")
                    if name in providers:
                        ctx.report("IST0002", t, f"The Lightstep provider {name} is deprecated, please migrate to "
                                                 "OpenTelemetry provider.")
