"""serviceentry.ConflictingServiceEntryProtocolAnalyzer: one host and port, several protocols."""
from __future__ import annotations

from ..kube.snapshot import name_of, ns_of
from .base import Analyzer, Context
from .util import export_namespaces, spec


def _overlap(a: set[str] | None, b: set[str] | None) -> bool:
    return a is None or b is None or bool(a & b)


class ConflictingServiceEntryProtocolAnalyzer(Analyzer):
    name = "serviceentry.ConflictingServiceEntryProtocolAnalyzer"
    description = "Checks ServiceEntries visible together do not give one host and port different protocols"
    inputs = ("ServiceEntry",)

    def analyze(self, ctx: Context) -> None:
        entries = []
        for se in ctx.of("ServiceEntry"):
            s = spec(se)
            vis = export_namespaces(s.get("exportTo"), ns_of(se))
            for h in s.get("hosts") or []:
                for p in s.get("ports") or []:
                    entries.append((se, vis, h, int(p.get("number") or 0), str(p.get("protocol") or "").upper()))
        flagged: dict[int, tuple[dict, set[str], str, int, set[str]]] = {}
        for i, (se, vis, h, port, proto) in enumerate(entries):
            for se2, vis2, h2, port2, proto2 in entries[i + 1:]:
                if se2 is se or h != h2 or port != port2 or proto == proto2 or not _overlap(vis, vis2):
                    continue
                for a, b in ((se, se2), (se2, se)):
                    f = flagged.setdefault(id(a), (a, set(), h, port, set()))
                    f[1].add(f"{ns_of(b)}/{name_of(b)}")
                    f[4].update({proto, proto2})
        for se, others, host, port, protos in flagged.values():
            ctx.report("IST0177", se, ", ".join([f"{ns_of(se)}/{name_of(se)}", *sorted(others)]), host, port,
                       ", ".join(sorted(protos)))
