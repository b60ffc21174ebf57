"""Audit lines for every applied change: who, what, when, the outcome, the rollback handle, the diff.

Always to stderr (so a container's log keeps them even when no file can be written), and, when
``MESH_PLUGIN_AUDIT_FILE`` is set, as JSON lines appended to that file.
"""
from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import sys


def audit(action: str, target: str, diff: str, *, context: str | None = None, dry_run: bool = False,
          handle: str | None = None, outcome: str = "applied") -> dict:
    entry = {
        "when": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "who": os.environ.get("MESH_PLUGIN_USER") or _user(),
        "context": context,
        "action": action,
        "target": target,
        "dry_run": dry_run,
        "outcome": outcome,
        "rollback_handle": handle,
        "diff": diff,
    }
    print(f"audit: {entry['when']} {entry['who']} {'DRY-RUN ' if dry_run else ''}{action} {target} "
          f"outcome={outcome}" + (f" handle={handle}" if handle else "") + f" context={context}",
          file=sys.stderr, flush=True)
    path = os.environ.get("MESH_PLUGIN_AUDIT_FILE")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        except OSError as e:  # checked writable before the write; never fail a write that landed
            print(f"audit: could not append to {path}: {type(e).__name__}", file=sys.stderr, flush=True)
    return entry


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"
