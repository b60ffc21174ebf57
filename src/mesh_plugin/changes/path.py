"""The one change path for every write to the cluster.

    plan = plan_change(client, kind, desired)      # read current, build the diff (nothing sent yet)
    result = execute(client, plan, apply=False)     # validate with a server-side dry-run, return the diff
    result = execute(client, plan, apply=True)      # dry-run, then apply with the resourceVersion
                                                    # precondition, keep the prior version, audit
    rollback(client, result.rollback_handle)        # restore the prior version (same path)

The desired object is computed by the caller from a fresh read (never a cached one) and keeps that
read's ``metadata.resourceVersion``: the precondition protects the read the change was computed from.
A 409 (or a newer object at plan time) reports what changed meanwhile: it never overwrites.
Writes to namespaces labelled as production (``MESH_PLUGIN_PRODUCTION_LABEL``, default
``environment=production``) need ``confirm="<namespace>"``.

Bookkeeping (the rollback record and the audit file) is checked writable before anything is applied,
and never fails a write that landed; the audit line always goes to stderr. When the API takes a write
but its answer is lost, the object is read again to tell "applied" from "not applied"; when even that
fails, the answer says the change may have been applied and how to check.
"""
from __future__ import annotations

import copy
import difflib
import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, Field

from ..errors import Conflict, ConfirmationRequired, InvalidInput, MeshError, NotFound, OutcomeUnknown, Timeout, Unreachable
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
    """Pair the desired object (None: delete) with the object as the cluster has it now.

    ``desired`` carries the ``metadata.resourceVersion`` of the read it was computed from (a deep copy of
    the object from a fresh snapshot). If the object changed since that read, or was created since a
    read that did not find it, this raises a Conflict saying what changed: a change is never applied on
    top of an edit it did not see."""
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
        read_rv = (after.get("metadata") or {}).get("resourceVersion")
        now_rv = ((before or {}).get("metadata") or {}).get("resourceVersion")
        plan = Plan(kind, ns, nm, before, after)
        if before is None and read_rv:
            _raise_conflict(plan, None, f"{plan.target} was deleted since it was read")
        if before is not None and read_rv != now_rv:
            _raise_conflict(plan, before, f"{plan.target} " + (
                "was created since it was read" if not read_rv else
                f"changed since it was read (resourceVersion {read_rv} -> {now_rv})"), desired)
        return plan
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
    check_bookkeeping()  # before the write: a change that cannot be audited or undone is not made
    context = getattr(client, "context", None)
    try:
        applied = _send(client, plan)
    except Conflict:
        _report_conflict(client, plan)  # raises a Conflict that says what changed meanwhile
        raise  # pragma: no cover
    except (Unreachable, Timeout) as e:
        applied = _outcome_after_lost_answer(client, plan, e, text, context)
        result.warnings.append("the API server's answer was lost; reading the object again shows the change "
                               "in place")
    handle, why = save_rollback(plan, applied)
    if handle is None:
        result.warnings.append(f"applied, but the rollback record could not be saved ({why}): undo by hand from "
                               "the diff")
    audit(plan.action, plan.target, text, context=context, handle=handle)
    invalidate_snapshots()
    result.applied, result.dry_run, result.rollback_handle = True, False, handle
    result.note = (note + "; " if note else "") + (
        f"applied; undo with rollback_change handle={handle}" if handle else "applied")
    return result


def _send(client: Any, plan: Plan) -> dict | None:
    if plan.action == "create":
        return client.create(plan.kind, plan.after)  # type: ignore[no-any-return]
    if plan.action == "update":
        return client.replace(plan.kind, plan.after)  # type: ignore[no-any-return]
    client.request("DELETE", plan.kind.path(plan.namespace, plan.name), resource=plan.kind.resource,
                   namespace=plan.namespace)
    return None


def _outcome_after_lost_answer(client: Any, plan: Plan, error: MeshError, text: str, context: str | None
                               ) -> dict | None:
    """The write was sent but no answer came back: read the object again to learn what happened.

    Returns the object as applied (the change is in place), or raises: the original error when the
    object is unchanged (nothing was applied), OutcomeUnknown when it cannot be told."""
    check = f"kubectl get {plan.kind.resource}" + (f" -n {plan.namespace}" if plan.namespace else "") + \
            f" {plan.name} -o yaml"
    before_rv = ((plan.before or {}).get("metadata") or {}).get("resourceVersion")
    try:
        now: dict | None = client.get(plan.kind, plan.name, plan.namespace)
    except NotFound:
        now = None
    except MeshError:
        audit(plan.action, plan.target, text, context=context, outcome="unknown")
        raise OutcomeUnknown(
            f"{plan.target}: the change was sent but the API server's answer was lost ({error.message}), and the "
            "object could not be read again: it MAY HAVE BEEN APPLIED.",
            hint=f"check with `{check}` (resourceVersion was {before_rv or 'none: the object did not exist'} "
                 "before the change; compare it with the diff), then re-run the tool: its dry-run shows what is "
                 "still to change.") from None
    now_rv = ((now or {}).get("metadata") or {}).get("resourceVersion")
    landed = (now is None) if plan.after is None else (
        now is not None and now_rv != before_rv and _same_content(now, plan.after))
    if landed:
        return now
    if now_rv == before_rv:
        error.message += " Nothing was applied: reading the object again shows it unchanged."
        raise error
    audit(plan.action, plan.target, text, context=context, outcome="unknown")
    raise OutcomeUnknown(
        f"{plan.target}: the change was sent but the answer was lost, and the object has changed since "
        f"(resourceVersion {before_rv} -> {now_rv}) to something other than the change: it may have been "
        "applied and then edited by someone else.",
        hint=f"review it with `{check}` before changing it again.")


def _same_content(a: dict | None, b: dict | None) -> bool:
    """Equal once server-managed metadata is ignored (what a rollback and an outcome check compare)."""
    def body(o: dict | None) -> Any:
        c = clean(o)
        if c is None:
            return None
        c.pop("apiVersion", None)
        return c

    return body(a) == body(b)


def _raise_conflict(plan: Plan, now: dict | None, what: str, read: dict | None = None) -> None:
    changed = diff(read if read is not None else plan.before, now, plan.target)
    raise Conflict(f"{what}; nothing was written. What changed meanwhile:\n{changed or '(deleted)'}",
                   hint="re-run the tool to plan against the current version, and review its diff.")


def _report_conflict(client: Any, plan: Plan) -> None:
    try:
        now = client.get(plan.kind, plan.name, plan.namespace)
    except NotFound:
        now = None
    _raise_conflict(plan, now, f"{plan.target} changed since it was read (resourceVersion "
                                f"{(plan.before or {}).get('metadata', {}).get('resourceVersion')} -> "
                                f"{(now or {}).get('metadata', {}).get('resourceVersion')})")


def execute_all(client: Any, objs: list[dict], *, apply: bool, confirm: str | None, kinds: set[str],
                namespace: str | None = None, note: str = "") -> list[ChangeResult]:
    """Several objects as one change: every object is planned (and checked) before the first is sent, and
    when a later one fails, the ones already applied are rolled back, newest first: no half-applied write.

    ``kinds`` are the kinds this write exists for, and ``namespace`` (when given) the one namespace it may
    touch: anything else is refused before a request is sent."""
    for o in objs:
        kind = kind_of_object(o)
        if kind.key not in kinds:
            raise InvalidInput(f"This change may only write {', '.join(sorted(kinds))}, not {kind.kind}: nothing "
                               "was applied.", hint="check the inputs; this tool writes only the kinds above.")
        ns = (o.get("metadata") or {}).get("namespace")
        if namespace is not None and kind.namespaced and ns != namespace:
            raise InvalidInput(f"This change may only write in namespace {namespace!r}, not {str(ns)[:63]!r}: "
                               "nothing was applied.", hint="check the inputs.")
    plans = [plan_change(client, kind_of_object(o), o) for o in objs]
    results: list[ChangeResult] = []
    for plan in plans:
        try:
            results.append(execute(client, plan, apply=apply, confirm=confirm, note=note))
        except Exception as e:
            undone = _undo(client, [r for r in results if r.applied], confirm)
            if undone and isinstance(e, MeshError):
                e.message += f" The changes already applied were rolled back: {', '.join(undone)}."
            raise
    return results


def _undo(client: Any, applied: list[ChangeResult], confirm: str | None) -> list[str]:
    done = []
    for r in reversed(applied):
        if r.rollback_handle:
            execute(client, plan_rollback(client, r.rollback_handle), apply=True, confirm=confirm)
            done.append(r.target)
    return done


# -- rollback handles ---------------------------------------------------------------------------
def state_dir(create: bool = True) -> str:
    d = os.environ.get("MESH_PLUGIN_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "mesh-plugin", "changes")
    if create:
        os.makedirs(d, exist_ok=True)
    return d


def check_bookkeeping() -> None:
    """Refuse a write whose rollback record or audit line could not be kept (nothing is applied)."""
    where = ""
    try:
        where = state_dir(create=False)
        os.makedirs(where, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=where, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
        path = os.environ.get("MESH_PLUGIN_AUDIT_FILE")
        if path:
            where = path
            with open(path, "a", encoding="utf-8"):
                pass
    except (OSError, ValueError) as e:
        raise InvalidInput(
            f"Nothing was applied: the change could not be recorded ({type(e).__name__} on {where[:200]}).",
            hint="make MESH_PLUGIN_STATE_DIR (rollback records) and MESH_PLUGIN_AUDIT_FILE writable, e.g. a "
                 "writable volume in the Deployment, then call again.") from None


def save_rollback(plan: Plan, applied: dict | None) -> tuple[str | None, str]:
    """(handle, "") once the record is written, or (None, why) when it could not be (never raises: the
    write already landed)."""
    handle = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    record = {"kind": plan.kind.key, "namespace": plan.namespace, "name": plan.name, "before": clean(plan.before),
              "after": clean(applied) if applied is not None else None,
              "after_rv": ((applied or {}).get("metadata") or {}).get("resourceVersion"), "target": plan.target}
    try:
        path = os.path.join(state_dir(), f"{handle}.json")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except (OSError, ValueError) as e:
        return None, f"{type(e).__name__}: {str(e)[:200]}"
    return handle, ""


def load_rollback(handle: str) -> dict:
    if not handle or "/" in handle or handle.startswith(".") or len(handle) > 64:
        raise InvalidInput(f"Invalid rollback handle {handle[:64]!r}.", hint="use the handle a write returned.")
    try:
        path = os.path.join(state_dir(create=False), f"{handle}.json")
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise NotFound(f"No change with rollback handle {handle!r}.", hint="use the handle a write returned.") from None
    except (OSError, ValueError) as e:
        raise InvalidInput(f"The rollback record {handle!r} cannot be read ({type(e).__name__}).",
                           hint="check MESH_PLUGIN_STATE_DIR.") from None


def plan_rollback(client: Any, handle: str) -> Plan:
    """Restore the object as it was before the change. Refused when the object is no longer what the change
    left (compared by content, so a later change that was itself rolled back does not block this one)."""
    rec = load_rollback(handle)
    kind = KINDS[rec["kind"]]
    try:
        current = client.get(kind, rec["name"], rec["namespace"])
    except NotFound:
        current = None
    cur_rv = ((current or {}).get("metadata") or {}).get("resourceVersion")
    if "after" in rec:
        unchanged = _same_content(current, rec["after"])
    else:  # records written before content was kept
        unchanged = not rec.get("after_rv") or cur_rv == rec["after_rv"]
    if not unchanged:
        raise Conflict(f"{rec['target']} changed after this change was applied (resourceVersion "
                       f"{rec.get('after_rv')} -> {cur_rv}, and the content differs): rolling back would "
                       "overwrite someone else's edit.",
                       hint="review the object and change it through the tools instead; roll back later changes "
                            "first, newest first.")
    before = rec.get("before")
    plan = Plan(kind, rec["namespace"], rec["name"], current, None)
    if before is not None:
        after = copy.deepcopy(before)
        meta = after.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        if current is not None:
            meta["resourceVersion"] = cur_rv
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
