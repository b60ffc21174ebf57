"""Audit lines for every applied change: who, what, when, the diff. To stderr, and to a file when set.

Set ``MESH_PLUGIN_AUDIT_FILE`` to also append JSON lines to a file.
"""
from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import sys


def audit(action: str, target: str, diff: str, *, context: str | None = None, dry_run: bool = False) -> dict:
    entry = {
        "when": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "who": os.environ.get("MESH_PLUGIN_USER") or _user(),
        "context": context,
        "action": action,
        "target": target,
        "dry_run": dry_run,
        "diff": diff,
    }
    print(f"audit: {entry['when']} {entry['who']} {'DRY-RUN ' if dry_run else ''}{action} {target}: "
          f"{diff.splitlines()[0] if diff else ''}", file=sys.stderr)
    path = os.environ.get("MESH_PLUGIN_AUDIT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    return entry


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"
