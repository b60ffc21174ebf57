"""Installing a mesh: install_preflight, install_plan, install_apply, install_verify, uninstall_plan."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..errors import InvalidInput, MeshError
from ..kube.kinds import KINDS
from ..mesh import install as I
from ..render import table
from ..runtime import RUNTIME
from .registry import op

Mesh = Annotated[Literal["istio", "linkerd"], Field(description="which mesh")]
Profile = Annotated[Literal["default", "minimal", "demo", "ambient", "ha"], Field(description=(
    "ha: Linkerd only; minimal, demo, ambient: Istio only"))]
Version = Annotated[str | None, Field(default=None, max_length=32, description="mesh version (default: newest)")]
Revision = Annotated[str | None, Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=30,
                                       description="Istio revision (canary upgrade)")]
INSTALL_KINDS = ("Namespace", "Pod", "Service", "CustomResourceDefinition", "MutatingWebhookConfiguration", "ConfigMap")


class CheckRow(BaseModel):
    check: str
    status: Literal["pass", "warn", "fail"]
    detail: str
    fix: str | None = None


class Preflight(BaseModel):
    mesh: str
    version: str
    ok: bool = Field(description="no check failed")
    checks: list[CheckRow]


def render_checks(r: BaseModel) -> str:
    rows = [[c.status.upper(), c.check, c.detail, c.fix or ""] for c in r.checks]  # type: ignore[attr-defined]
    return table(["STATUS", "CHECK", "DETAIL", "FIX"], rows)


def _denied(client) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for verb, group, resource in I.RBAC_NEEDED:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}}}
        try:
            r = client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review,
                               resource="selfsubjectaccessreviews")
        except MeshError:
            continue
        if not (r.get("status") or {}).get("allowed"):
            out.append(f"{verb} {resource}" + (f".{group}" if group else ""))
    return out


@op("install_plan", "preflight", cli="install preflight", args="mesh", render=render_checks)
def install_preflight(mesh: Mesh, version: Version = None) -> Preflight:
    """Checks before installing Istio or Linkerd, each with a fix.

    Before installing Istio or Linkerd: the Kubernetes version against the mesh version's supported range,
    an existing mesh or leftover CRDs (the other mesh running is a stop), namespaces that would be injected,
    Pod Security levels that block the init container (suggests the CNI plugin), conflicting injector webhooks,
    and enough RBAC (SelfSubjectAccessReview). Each check pass/warn/fail with a fix."""
    version = version or I.DEFAULT_VERSION[mesh]
    I.validate(mesh, "default", version)
    snap = RUNTIME.snapshot(INSTALL_KINDS, None, None)
    checks = I.preflight(snap, mesh, version, RUNTIME.kubernetes_version(), _denied(RUNTIME.client()))
    rows = [CheckRow(**c.__dict__) for c in checks]
    return Preflight(mesh=mesh, version=version, ok=all(c.status != "fail" for c in rows), checks=rows)


class PlanStep(BaseModel):
    step: int
    title: str
    command: str
    undo: str | None = None


class InstallPlan(BaseModel):
    mesh: str
    profile: str
    version: str
    revision: str | None
    steps: list[PlanStep]
    files: dict[str, str] = Field(description="values files the steps use (YAML dumped from data)")
    namespace_labels: list[str] = Field(description="labels/annotations that turn injection on")
    notes: list[str] = []


def _plan(mesh: str, profile: str, version: str | None, revision: str | None, values: dict, gateway: bool,
          viz: bool) -> tuple[InstallPlan, list[I.Step]]:
    version = version or I.DEFAULT_VERSION[mesh]
    I.validate(mesh, profile, version)
    if revision and mesh != "istio":
        raise InvalidInput("Revisions are an Istio feature.", hint="omit revision for Linkerd.")
    text = I.render_values(mesh, profile, revision, values)
    steps = I.istio_steps(profile, version, revision, text, gateway) if mesh == "istio" else \
        I.linkerd_steps(profile, version, text, viz)
    if mesh == "istio":
        label = ("istio.io/rev=" + revision) if revision else "istio-injection=enabled"
        labels = [f"kubectl label namespace <ns> {label}" + (" --overwrite" if revision else "")]
        if profile == "ambient":
            labels = ["kubectl label namespace <ns> istio.io/dataplane-mode=ambient"]
    else:
        labels = ["kubectl annotate namespace <ns> linkerd.io/inject=enabled"]
    notes = ["ambient: labelled namespaces join the mesh at once, no pod restarts (ztunnel redirects their "
             "traffic)" if profile == "ambient" else
             "pods get their proxy when they restart: kubectl rollout restart deployment -n <ns>"]
    check = I.support_check(mesh, version)
    if check.status != "pass":
        notes.insert(0, f"{check.status.upper()}: {check.detail}; {check.fix}")
    if revision:
        notes.append(f"canary upgrade: relabel one namespace to istio.io/rev={revision} (remove istio-injection), "
                     "restart it, verify with proxy_status and analyze, then move the others and uninstall the old "
                     "revision")
        if gateway and profile != "minimal":
            notes.append("on a cluster already running Istio, run the gateway step last, once the namespaces have "
                         "moved: it restarts the gateway pods onto the new revision (a fresh install needs it at once: "
                         "without revision= the gateway's image: auto is never injected)")
    files: dict[str, str] = {}
    for s in steps:
        files.update(s.files)
    plan = InstallPlan(mesh=mesh, profile=profile, version=version, revision=revision,
                       steps=[PlanStep(step=i + 1, title=s.title, command=shlex.join(s.command),
                                       undo=shlex.join(s.undo) if s.undo else None) for i, s in enumerate(steps)],
                       files=files, namespace_labels=labels, notes=notes)
    return plan, steps


def render_plan(p: InstallPlan) -> str:
    out = [f"Install {p.mesh} {p.version} (profile {p.profile}" + (f", revision {p.revision}" if p.revision else "")
           + ")"]
    out += [f"{s.step}. {s.title}\n   $ {s.command}" for s in p.steps]
    for name, text in p.files.items():
        out.append(f"--- {name}\n{text}")
    out.append("Then: " + "; ".join(p.namespace_labels))
    out += [f"Note: {n}" for n in p.notes]
    return "\n".join(out)


Values = Annotated[dict[str, str | int | bool | float] | None, Field(default=None, max_length=50, description=(
    "control-plane Helm values: dotted key -> scalar"))]
Gateway = Annotated[bool, Field(description="Istio: also the ingress gateway")]
Viz = Annotated[bool, Field(description="Linkerd: also viz")]


@op("install_plan", "plan", cli="install plan", args="mesh", render=render_plan)
def install_plan(mesh: Mesh, profile: Profile = "default", version: Version = None, revision: Revision = None,
                 values: Values = None, gateway: Gateway = True, viz: Viz = True) -> InstallPlan:
    """The exact Helm steps and values to install Istio or Linkerd.

    The exact Helm steps to install Istio (base, istiod, optional ingress gateway; CNI and ztunnel for
    ambient; revisions for canary upgrades) or Linkerd (CRDs, control plane with identity certificates,
    optional viz, HA profile), with the values files (YAML dumped from data) and the namespace labels to add.
    For review: nothing runs. install_apply runs it."""
    return _plan(mesh, profile, version, revision, values or {}, gateway, viz)[0]


class ApplyResult(BaseModel):
    ran: bool = Field(description="false: helm is not on PATH, or dry-run; the commands are printed instead")
    completed: list[str] = []
    failed: str | None = None
    output: str = ""
    way_back: list[str] = Field(default=[], description="undo commands for the steps that completed, newest first")
    commands: list[str] = Field(default=[], description="the commands, when they were not run")


@op("install_apply", cli="install apply", args="mesh", render=lambda r: "\n".join(r.commands or [f"done: {c}" for c in r.completed]
                                 + ([f"FAILED: {r.failed}\n{r.output}"] if r.failed else [])
                                 + ([f"way back: {w}" for w in r.way_back] if r.failed else [])))
def install_apply(mesh: Mesh, profile: Profile = "default", version: Version = None, revision: Revision = None,
                  values: Values = None, gateway: Gateway = True, viz: Viz = True,
                  apply: Annotated[bool, Field(description="true: run them; default: print the commands")] = False
                  ) -> ApplyResult:
    """Run an install plan step by step with helm.

    Run an install plan step by step with helm (when helm is on PATH and apply=true), stopping at the first
    failure with the way back (the undo commands of the steps that completed). Refuses when the pre-flight
    fails. Without helm, or as a dry-run, returns the commands for the user to run."""
    plan, steps = _plan(mesh, profile, version, revision, values or {}, gateway, viz)
    pre = install_preflight(mesh, plan.version)
    failed = [c for c in pre.checks if c.status == "fail"]
    if failed:
        raise InvalidInput("Pre-flight failed: " + "; ".join(f"{c.check}: {c.detail}" for c in failed) + ".",
                           hint="; ".join(c.fix for c in failed if c.fix) or "fix the failed checks first.")
    cmds = [s.command for s in plan.steps]
    if not apply or not shutil.which("helm"):
        return ApplyResult(ran=False, commands=cmds + [f"# then: {x}" for x in plan.namespace_labels])
    from ..changes import audit

    work = tempfile.mkdtemp(prefix="mesh-install-")
    for name, text in plan.files.items():
        with open(os.path.join(work, name), "w") as fh:
            fh.write(text)
    done: list[I.Step] = []
    for s in steps:
        r = subprocess.run(s.command, cwd=work, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            return ApplyResult(ran=True, completed=[d.title for d in done], failed=s.title,
                               output=(r.stderr or r.stdout)[-2000:],
                               way_back=[shlex.join(d.undo) for d in reversed(done) if d.undo])
        done.append(s)
        audit("install-step", f"{mesh} {plan.version}", s.title, context=RUNTIME.context)
    return ApplyResult(ran=True, completed=[d.title for d in done])


class Verification(BaseModel):
    mesh: str
    ok: bool
    checks: list[CheckRow]


@op("install_plan", "verify", cli="install verify", args="mesh", render=render_checks)
def install_verify(mesh: Mesh) -> Verification:
    """Check an installed mesh: control plane, webhooks, CRDs, injection.

    After installing (and for /service-mesh status): control plane ready, injector webhooks backed by ready
    pods, CRDs established, and a server-side dry-run pod in an injected namespace really gets a sidecar."""
    snap = RUNTIME.snapshot(INSTALL_KINDS, None, None)
    probe = None
    client = RUNTIME.client()
    ns = next((n for n in snap.of("Namespace") if (mesh == "istio" and (n.get("metadata") or {}).get("labels", {}).get(
        "istio-injection") == "enabled") or (mesh == "linkerd" and ((n.get("metadata") or {}).get("annotations") or {})
        .get("linkerd.io/inject") == "enabled")), None)
    if ns is not None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "mesh-verify-",
                                                               "namespace": ns["metadata"]["name"]},
               "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}
        try:
            created = client.create(KINDS["Pod"], pod, dry_run=True)
            names = {c.get("name") for c in (created.get("spec") or {}).get("containers") or []} | {
                c.get("name") for c in (created.get("spec") or {}).get("initContainers") or []}
            probe = ("istio-proxy" if mesh == "istio" else "linkerd-proxy") in names
        except MeshError:
            probe = False
    rows = [CheckRow(**c.__dict__) for c in I.verify(snap, mesh, probe)]
    return Verification(mesh=mesh, ok=all(c.status == "pass" for c in rows), checks=rows)


class UninstallPlan(BaseModel):
    mesh: str
    steps: list[PlanStep]
    warnings: list[str]


@op("install_plan", "uninstall", cli="uninstall-plan", args="mesh", render=lambda p: "\n".join([f"{s.step}. {s.title}\n   $ {s.command}" for s in p.steps]
                                                   + [f"Warning: {w}" for w in p.warnings]))
def uninstall_plan(mesh: Mesh, revision: Revision = None) -> UninstallPlan:
    """Steps to remove Istio (or one revision) or Linkerd, and what stays.

    The steps to remove Istio (or one revision) or Linkerd, in order, for review; with what stays behind
    (pods keep their proxies until restarted; deleting CRDs deletes every mesh resource)."""
    steps = I.uninstall_steps(mesh, revision)
    warnings = ["pods keep their sidecar until restarted: kubectl rollout restart the meshed namespaces",
                "remove the injection labels first so restarted pods come back without a proxy"]
    if not revision:
        warnings.append("deleting the CRDs deletes every " + ("VirtualService, DestinationRule, PeerAuthentication..."
                                                               if mesh == "istio" else "Server and policy resource")
                        + ": export them first (kubectl get ... -A -o yaml)")
    return UninstallPlan(mesh=mesh, steps=[PlanStep(step=i + 1, title=s.title, command=" ".join(s.command))
                                           for i, s in enumerate(steps)], warnings=warnings)
