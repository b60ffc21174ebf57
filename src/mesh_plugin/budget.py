"""Keep every default answer under the model's budget (8 KB): trim the paged list and say so."""
from __future__ import annotations

import re
from typing import Any

BUDGET = 8000


def fit(result: Any, budget: int = BUDGET) -> Any:
    """Trim the model's paged list (``paged_field``) until its JSON fits; the page note keeps it honest."""
    field = getattr(type(result), "paged_field", None)
    if not field:
        return result
    page_attr = getattr(type(result), "page_field", "page")
    rows = getattr(result, field)
    if len(result.model_dump_json().encode()) <= budget or len(rows) <= 1:
        return result
    page = getattr(result, page_attr)
    keep = len(rows)
    while keep > 1:
        keep = max(1, int(keep * 0.8))
        setattr(result, field, rows[:keep])
        if len(result.model_dump_json().encode()) <= budget - 200:
            break
    nxt = page.offset + keep
    what = re.search(r"showing \d+ of \d+ (\w+)", page.note or "")
    narrow = re.search(r"narrow with (.*)$", page.note or "")
    page.note = (f"showing {keep} of {page.total} {what.group(1) if what else 'rows'}"
                 + (f" (from {page.offset})" if page.offset else "")
                 + (f"; next page: offset={nxt}" if nxt < page.total else "")
                 + (f"; narrow with {narrow.group(1)}" if narrow else "")
                 + " (cut to stay under 8 KB)")
    page.shown = keep
    return result
