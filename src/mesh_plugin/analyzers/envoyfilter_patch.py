"""envoyfilter.EnvoyPatchAnalyzer: EnvoyFilter patch operations that are ignored or fragile
(IST0151 relative operation without priority, IST0152/0153/0154 operations invalid for their applyTo,
IST0155 relative operation with a proxyVersion match)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import mapping, seq, spec

ROUTE_LEVEL = ("ROUTE_CONFIGURATION", "HTTP_ROUTE")
REPLACEABLE = ("NETWORK_FILTER", "HTTP_FILTER", "VIRTUAL_HOST")


def _go_struct_string(v: object) -> str:
    """What Istio compares filter names by (structpb.Value.String()); only equality between them matters."""
    return repr(v)


class EnvoyPatchAnalyzer(Analyzer):
    name = "envoyfilter.EnvoyPatchAnalyzer"
    description = "Checks an envoyFilters "
    inputs = ("EnvoyFilter",)

    def analyze(self, ctx: Context) -> None:
        names_with_version: list[str] = []  # shared across EnvoyFilters, in order, as in Istio
        for ef in ctx.of("EnvoyFilter"):
            s = spec(ef)
            priority = s.get("priority") or 0
            for index, cp in enumerate(seq(s.get("configPatches"))):
                cp = mapping(cp)
                patch = cp.get("patch")
                if not isinstance(patch, dict):
                    break
                match = cp.get("match")
                instance = ""
                value = patch.get("value")
                if isinstance(value, dict) and value:
                    if value.get("name") is not None:
                        instance = _go_struct_string(value.get("name"))
                    elif isinstance(match, dict):
                        listener = mapping(match.get("listener"))
                        if listener.get("filterChain") is not None:
                            instance = str(mapping(mapping(listener.get("filterChain")).get("filter")).get("name")
                                           or "")
                op = str(patch.get("operation") or "INVALID")
                apply_to = str(cp.get("applyTo") or "INVALID")
                path = f"{{.spec.configPatches[{index}].patch.value}}"
                relative = False
                if op == "ADD":
                    if apply_to in ROUTE_LEVEL:
                        ctx.report("IST0153", ef, path=path)
                elif op == "REMOVE":
                    if apply_to in ROUTE_LEVEL:
                        ctx.report("IST0154", ef, path=path)
                    else:
                        relative = True
                elif op == "REPLACE":
                    if apply_to not in REPLACEABLE:
                        ctx.report("IST0152", ef, path=path)
                    else:
                        relative = True
                elif op in ("INSERT_BEFORE", "INSERT_AFTER"):
                    relative = True
                if relative and not priority:
                    code = "IST0155" if instance in names_with_version else "IST0151"
                    ctx.report(code, ef, path=path)
                if isinstance(match, dict) and mapping(match.get("proxy")).get("proxyVersion"):
                    names_with_version.append(instance)
