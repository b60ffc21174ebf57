"""rollback_change: restore the object a write changed, through the same change path."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..changes.path import ChangeResult, execute, plan_rollback
from ..render import render_change
from ..runtime import RUNTIME
from .registry import op


@op("rollback_change", cli="rollback", args="handle", render=render_change)
def rollback_change(handle: Annotated[str, Field(max_length=64, pattern=r"^[0-9A-Za-z-]+$", description=(
                        "the rollback_handle a write returned"))],
                    apply: Annotated[bool, Field(description="false (default): dry-run diff only")] = False,
                    confirm: Annotated[str | None, Field(max_length=63, description=(
                        "namespace name, to apply in a production namespace"))] = None
                    ) -> ChangeResult:
    """Restore the object a write changed, from its rollback handle.

    Restore the version of an object from before a change made by these tools (set_mtls_mode and the
    other writes return a rollback_handle). Dry-run diff by default; refuses when the object changed
    again since (someone else's edit is never overwritten)."""
    client = RUNTIME.client()
    plan = plan_rollback(client, handle)
    return execute(client, plan, apply=apply, confirm=confirm, note=f"rollback of {handle}")
