"""Route destinations of a VirtualService, annotated with where they are (virtualservice/util.go)."""
from __future__ import annotations

from dataclasses import dataclass

from .util import mapping, seq, spec


@dataclass
class Dest:
    rule: str  # "tcp", "tls", "http", "http.mirror", "http.mirrors"
    index: int
    dest_index: int
    destination: dict


def route_destinations(vs: dict) -> list[Dest]:
    out = []
    for rule in ("tcp", "tls", "http"):
        for i, r in enumerate(seq(spec(vs).get(rule))):
            for j, rd in enumerate(seq(mapping(r).get("route"))):
                out.append(Dest(rule, i, j, mapping(mapping(rd).get("destination"))))
    return out


def mirror_destinations(vs: dict) -> list[Dest]:
    out = []
    for i, r in enumerate(seq(spec(vs).get("http"))):
        r = mapping(r)
        if isinstance(r.get("mirror"), dict):
            out.append(Dest("http.mirror", i, 0, r["mirror"]))
        for j, m in enumerate(seq(r.get("mirrors"))):
            out.append(Dest("http.mirrors", i, j, mapping(mapping(m).get("destination"))))
    return out


def dest_path(d: Dest) -> str:
    if d.rule == "http.mirror":
        return f"{{.spec.http[{d.index}].mirror.host}}"
    if d.rule == "http.mirrors":
        return f"{{.spec.http[{d.index}].mirrors[{d.dest_index}].host}}"
    return f"{{.spec.{d.rule}[{d.index}].route[{d.dest_index}].destination.host}}"
