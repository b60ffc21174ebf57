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
