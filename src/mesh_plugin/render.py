"""Renderers: models to istioctl-style tables and short text. Pure."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by at least two spaces (istioctl's tabwriter look)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def note(page: Any) -> str:
    return f"\n({page.note})" if getattr(page, "note", None) else ""


def to_json(model: BaseModel) -> str:
    return model.model_dump_json(indent=2, exclude_none=False)


def to_yaml(model: BaseModel) -> str:
    import yaml

    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, width=120)


def render_change(r: Any) -> str:
    """One object's change: what, dry-run or applied, warnings, the diff, how to undo."""
    out = [f"{r.target}: {r.action} ({'APPLIED' if r.applied else 'dry-run'})"]
    out += [f"WARNING: {w}" for w in r.warnings]
    if r.diff:
        out.append(r.diff)
    out.append(r.note)
    if r.rollback_handle:
        out.append(f"rollback: mesh-plugin rollback {r.rollback_handle} --apply")
    return "\n".join(out)


def render_changes(r: Any) -> str:
    """A change of one or more objects (or, offline, the changed manifests or their diff)."""
    if getattr(r, "manifests", None) is not None:
        return r.manifests.rstrip("\n") + f"\n# {r.note}"
    out = [f"WARNING: {w}" for w in r.warnings]
    if getattr(r, "manifests_for_review", ""):
        out.append(r.manifests_for_review.rstrip("\n"))
    for i in getattr(r, "impact", []) or []:
        out.append(f"impact: {i.request}: {i.before} -> {i.after}")
    out += [render_change(c) for c in r.changes]
    if getattr(r, "note", ""):
        out.append(r.note)
    return "\n".join(out)


def istioctl_analysis(r: Any, fmt: str, failure_threshold: str) -> tuple[str, bool]:
    """istioctl analyze's output (log lines, or JSON/YAML rows) and whether a message is at or above
    ``failure_threshold`` (istioctl's exit code 79)."""
    import json

    levels = ("Error", "Warning", "Info")
    rows = [{"code": m.code, "documentationUrl": m.documentationUrl, "level": m.level, "message": m.message,
             "origin": m.origin} for m in r.messages]
    if fmt == "json":
        text = json.dumps(rows, indent=2)
    elif fmt == "yaml":
        import yaml

        text = yaml.safe_dump(rows, sort_keys=False, width=1000).rstrip("\n")
    elif not rows:
        where = f"namespace: {r.namespace}" if r.namespace else ("files" if r.source == "files" else "all namespaces")
        text = f"\u2714 No validation issues found when analyzing {where}."
    else:
        text = "\n".join(f"{m.level} [{m.code}] ({m.origin}) {m.message}" for m in r.messages)
    limit = levels.index(failure_threshold)
    return text, any(levels.index(m.level) <= limit for m in r.messages)
