"""The one change path for every write to the cluster.

    plan = plan_change(client, kind, desired)      # read current, build the diff (nothing sent yet)
    result = execute(client, plan, apply=False)     # validate with a server-side dry-run, return the diff
    result = execute(client, plan, apply=True)      # dry-run, then apply with the resourceVersion
                                                    # precondition, keep the prior version, audit
    rollback(client, result.rollback_handle)        # restore the prior version (same path)

A 409 on apply re-reads the object and reports what changed meanwhile: it never overwrites.
Writes to namespaces labelled as production (``MESH_PLUGIN_PRODUCTION_LABEL``, default
``environment=production``) need ``confirm="<namespace>"``.
"""
from __future__ import annotations

import copy
import difflib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, Field

from ..errors import Conflict, ConfirmationRequired, InvalidInput, NotFound
from ..kube.kinds import KINDS, Kind, kind_for
from .audit import audit

NOISE = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
MAX_DIFF = 6000


class ChangeResult(BaseModel):
    target: str = Field(description='"Kind ns/name"')
    action: str = Field(description="create, update, delete or none")
    applied: bool
    dry_run: bool = Field(description="true when nothing was changed")
    diff: str = Field(description="unified diff of the object (YAML), before -> after")
    warnings: list[str] = []
    rollback_handle: str | None = Field(default=None, description="pass to rollback_change to restore the prior "
                                                                   "version")
    note: str = ""


@dataclass
class Plan:
    kind: Kind
    namespace: str | None
    name: str
    before: dict | None
    after: dict | None          # None: delete
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"{self.kind.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind.kind} {self.name}"

    @property
    def action(self) -> str:
        if self.after is None:
            return "delete" if self.before is not None else "none"
        if self.before is None:
            return "create"
        return "none" if clean(self.before) == clean(self.after) else "update"


def clean(obj: dict | None) -> dict | None:
    """The object without server-managed noise, for diffs and comparisons."""
    if obj is None:
        return None
    o = copy.deepcopy(obj)
    meta = o.get("metadata") or {}
    for k in NOISE:
        meta.pop(k, None)
    ann = meta.get("annotations") or {}
    ann.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not ann:
        meta.pop("annotations", None)
    o.pop("status", None)
    return o


def _ordered(obj: dict | None) -> dict | None:
    """Canonical key order (apiVersion, kind, metadata, spec, rest) so diffs show only real changes."""
    if obj is None:
        return None
    head = ("apiVersion", "kind", "metadata", "spec")
    return {**{k: obj[k] for k in head if k in obj}, **{k: v for k, v in obj.items() if k not in head}}


def diff(before: dict | None, after: dict | None, name: str) -> str:
    a = yaml.safe_dump(_ordered(clean(before)), sort_keys=False).splitlines() if before is not None else []
    b = yaml.safe_dump(_ordered(clean(after)), sort_keys=False).splitlines() if after is not None else []
    text = "\n".join(difflib.unified_diff(a, b, f"{name} (current)", f"{name} (proposed)", lineterm="", n=3))
    if len(text) > MAX_DIFF:
        text = text[:MAX_DIFF] + f"\n... diff cut at {MAX_DIFF} characters"
    return text


def plan_change(client: Any, kind: Kind, desired: dict | None, *, namespace: str | None = None,
                name: str | None = None) -> Plan:
    """Read the current object and pair it with the desired one (None means delete)."""
    meta = (desired or {}).get("metadata") or {}
    ns = namespace or meta.get("namespace")
    nm = name or meta.get("name")
    if not nm:
        raise InvalidInput("The change names no object.")
    try:
        before = client.get(kind, nm, ns)
    except NotFound:
        before = None
    after = None
    if desired is not None:
        after = copy.deepcopy(desired)
        after.setdefault("apiVersion", kind.api_version)
        after.setdefault("kind", kind.kind)
        if before is not None:
            after.setdefault("metadata", {})["resourceVersion"] = before["metadata"].get("resourceVersion")
    return Plan(kind, ns, nm, before, after)


def production_label() -> tuple[str, str]:
    raw = os.environ.get("MESH_PLUGIN_PRODUCTION_LABEL", "environment=production")
    k, _, v = raw.partition("=")
    return k.strip(), v.strip()


def require_confirmation(client: Any, namespace: str | None, confirm: str | None, diff_text: str = "") -> None:
    if not namespace:
        return
    key, value = production_label()
    try:
        ns = client.get(KINDS["Namespace"], namespace)
    except NotFound:
        return
    labels = (ns.get("metadata") or {}).get("labels") or {}
    if labels.get(key) == value and confirm != namespace:
        raise ConfirmationRequired(
            f"Namespace {namespace!r} is labelled {key}={value}: applying needs an explicit confirmation.",
            hint=f'review the dry-run diff, then call again with apply=true and confirm="{namespace}".',
            namespace=namespace, diff=diff_text)


def execute(client: Any, plan: Plan, *, apply: bool, confirm: str | None = None,
            note: str = "") -> ChangeResult:
    """Dry-run (always) and, when asked, apply with the resourceVersion precondition."""
    text = diff(plan.before, plan.after, plan.target)
    result = ChangeResult(target=plan.target, action=plan.action, applied=False, dry_run=True, diff=text,
                          warnings=list(plan.warnings), note=note)
    if plan.action == "none":
        result.note = (note + "; " if note else "") + "already as requested: nothing to change"
        return result
    # server-side validation first, every time (a stale resourceVersion already fails here)
    try:
        if plan.action == "create":
            client.create(plan.kind, plan.after, dry_run=True)
        elif plan.action == "update":
            client.replace(plan.kind, plan.after, dry_run=True)
    except Conflict:
        _report_conflict(client, plan)
    if not apply:
        result.note = (note + "; " if note else "") + "dry-run: validated by the API server, nothing changed; " \
                                                      "call again with apply=true to make the change"
        return result
    require_confirmation(client, plan.namespace, confirm, text)
    try:
        if plan.action == "create":
            applied = client.create(plan.kind, plan.after)
        elif plan.action == "update":
            applied = client.replace(plan.kind, plan.after)
        else:
            applied = None
            client.request("DELETE", plan.kind.path(plan.namespace, plan.name), resource=plan.kind.resource,
                           namespace=plan.namespace)
    except Conflict:
        _report_conflict(client, plan)  # raises a Conflict that says what changed meanwhile
    handle = save_rollback(plan, applied)
    audit(plan.action, plan.target, text, context=getattr(client, "context", None))
    invalidate_snapshots()
    result.applied, result.dry_run, result.rollback_handle = True, False, handle
    result.note = (note + "; " if note else "") + f"applied; undo with rollback_change handle={handle}"
    return result


def _report_conflict(client: Any, plan: Plan) -> None:
    try:
        now = client.get(plan.kind, plan.name, plan.namespace)
    except NotFound:
        now = None
    changed = diff(plan.before, now, plan.target)
    raise Conflict(
        f"{plan.target} changed since it was read (resourceVersion "
        f"{(plan.before or {}).get('metadata', {}).get('resourceVersion')} -> "
        f"{(now or {}).get('metadata', {}).get('resourceVersion')}); nothing was written. "
        f"What changed meanwhile:\n{changed or '(deleted)'}",
        hint="re-run the tool to plan against the current version, and review its diff.") from None


# -- rollback handles ---------------------------------------------------------------------------
def state_dir() -> str:
    d = os.environ.get("MESH_PLUGIN_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "mesh-plugin", "changes")
    os.makedirs(d, exist_ok=True)
    return d


def save_rollback(plan: Plan, applied: dict | None) -> str:
    handle = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    record = {"kind": plan.kind.key, "namespace": plan.namespace, "name": plan.name, "before": clean(plan.before),
              "after_rv": ((applied or {}).get("metadata") or {}).get("resourceVersion"), "target": plan.target}
    with open(os.path.join(state_dir(), f"{handle}.json"), "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return handle


def load_rollback(handle: str) -> dict:
    if not handle or "/" in handle or handle.startswith(".") or len(handle) > 64:
        raise InvalidInput(f"Invalid rollback handle {handle!r}.", hint="use the handle a write returned.")
    path = os.path.join(state_dir(), f"{handle}.json")
    if not os.path.exists(path):
        raise NotFound(f"No change with rollback handle {handle!r}.", hint="use the handle a write returned.")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def plan_rollback(client: Any, handle: str) -> Plan:
    rec = load_rollback(handle)
    kind = KINDS[rec["kind"]]
    try:
        current = client.get(kind, rec["name"], rec["namespace"])
    except NotFound:
        current = None
    cur_rv = ((current or {}).get("metadata") or {}).get("resourceVersion")
    if rec.get("after_rv") and cur_rv != rec["after_rv"]:
        raise Conflict(f"{rec['target']} changed after this change was applied (resourceVersion "
                       f"{rec['after_rv']} -> {cur_rv}): rolling back would overwrite someone else's edit.",
                       hint="review the object and change it through the tools instead.")
    before = rec.get("before")
    plan = Plan(kind, rec["namespace"], rec["name"], current, None)
    if before is not None:
        after = copy.deepcopy(before)
        if current is not None:
            after.setdefault("metadata", {})["resourceVersion"] = cur_rv
        plan.after = after
    return plan


# -- snapshot cache hook (the runtime registers its cache here) ------------------------------------
_invalidators: list[Any] = []


def on_change(fn: Any) -> None:
    _invalidators.append(fn)


def invalidate_snapshots() -> None:
    for fn in _invalidators:
        fn()


def kind_of_object(obj: dict) -> Kind:
    k = kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if k is None:
        raise InvalidInput(f"Unsupported kind {obj.get('apiVersion')} {obj.get('kind')}.")
    return k
