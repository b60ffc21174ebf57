"""serviceentry.ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible together that give one host and
port different protocols (IST0177)."""
from __future__ import annotations

from .base import Analyzer, Context
from .util import EXPORT_ALL, EXPORT_LOCAL, full_name, is_export_to_all, mapping, seq, spec
from ..kube.snapshot import ns_of


def _scopes(export_to: list, namespace: str) -> list[str]:
    if is_export_to_all(export_to):
        return [EXPORT_ALL]
    return list(dict.fromkeys(namespace if str(e) == EXPORT_LOCAL else str(e) for e in export_to))


class ConflictingServiceEntryProtocolAnalyzer(Analyzer):
    name = "serviceentry.ConflictingServiceEntryProtocolAnalyzer"
    description = "Checks if multiple ServiceEntries define the same host and port with different protocols"
    inputs = ("ServiceEntry",)

    def analyze(self, ctx: Context) -> None:
        index: dict[tuple[str, str, int], list[tuple[str, dict]]] = {}
        for se in ctx.of("ServiceEntry"):
            s = spec(se)
            for scope in _scopes(seq(s.get("exportTo")), ns_of(se)):
                for h in seq(s.get("hosts")):
                    for p in seq(s.get("ports")):
                        p = mapping(p)
                        key = (scope, str(h), int(p.get("number") or 0))
                        index.setdefault(key, []).append((str(p.get("protocol") or ""), se))
        reported: set[str] = set()
        for (scope, host, port), entries in index.items():
            if scope != EXPORT_ALL:
                entries = entries + index.get((EXPORT_ALL, host, port), [])
            protocols = sorted({proto.upper() for proto, _ in entries})
            if len(protocols) < 2:
                continue
            names = sorted(dict.fromkeys(full_name(se) for _, se in entries))
            for _, se in entries:
                if full_name(se) in reported:
                    continue
                reported.add(full_name(se))
                ctx.report("IST0177", se, ", ".join(names), host, port, ", ".join(protocols),
                           path="{.metadata.name}")
