"""Installing a mesh: pre-flight checks, plans (Helm), verification, uninstall. Pure over a Snapshot."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of
from .detect import detect_meshes
from .workloads import is_ready

@dataclass(frozen=True)
class Release:
    """One supported minor's latest patch: when it was published, when its support ends, and the Kubernetes
    minors it supports (inclusive)."""

    version: str
    published: str          # YYYY-MM-DD, or YYYY-MM when only the month is known
    end_of_life: str | None  # the same; None: not announced (the newest minors)
    kubernetes: tuple[str, str]


#: As of TABLE_DATE. Istio: the latest patch of each minor that the Go module proxy lists for istio.io/api and
#: istio.io/client-go (they are tagged with every Istio release); end of life is Istio's policy (a minor is
#: supported until six weeks after the second next minor), estimated where the release date is known only to
#: the month. The default follows the oracle's pin (istio.io/istio 1.31-dev, oracle/README.md): the 1.31 line.
#: Linkerd: edge releases are supported until the next one; stable 2.18 by Buoyant.
TABLE_DATE = "2026-11-25"
RELEASES: dict[str, tuple[Release, ...]] = {
    "istio": (Release("1.32.0", "2026-11", None, ("1.32", "1.36")),
              Release("1.31.4", "2026-11", None, ("1.31", "1.35")),
              Release("1.30.8", "2026-10", "2027-01-15", ("1.31", "1.35")),
              Release("1.29.6", "2026-07-13", "2026-10-15", ("1.30", "1.34")),
              Release("1.28.10", "2026-06-29", "2026-07-15", ("1.30", "1.34"))),
    "linkerd": (Release("edge-25.10.3", "2025-10", None, ("1.29", "1.34")),
                Release("2.18.0", "2025-04", "2026-04-30", ("1.27", "1.32"))),
}
SUPPORTED = {mesh: {r.version: r.kubernetes for r in rels} for mesh, rels in RELEASES.items()}
DEFAULT_VERSION = {"istio": "1.31.4", "linkerd": "edge-25.10.3"}


def release(mesh: str, version: str) -> Release:
    return next(r for r in RELEASES[mesh] if r.version == version)


def support_check(mesh: str, version: str, today: str | None = None) -> CheckResult:
    """Whether ``version`` is still supported on ``today`` (default: now), and the newest patch of its line."""
    import datetime as dt

    r = release(mesh, version)
    today = today or dt.date.today().isoformat()
    newest = [x.version for x in RELEASES[mesh] if x.end_of_life is None or x.end_of_life >= today]
    if r.end_of_life and r.end_of_life < today:
        return CheckResult("version-support", "fail", f"{mesh} {version} reached end of life on {r.end_of_life} (table "
                                                      f"of {TABLE_DATE})",
                           f"install a supported version: {', '.join(newest)}")
    if r.end_of_life:
        days = (dt.date.fromisoformat(r.end_of_life) - dt.date.fromisoformat(today)).days
        if days <= 60:
            return CheckResult("version-support", "warn", f"{mesh} {version} is supported until {r.end_of_life} "
                                                          f"({days} days)", f"plan the upgrade to {newest[0]}")
    return CheckResult("version-support", "pass", f"{mesh} {version} (published {r.published}) is supported"
                       + (f" until {r.end_of_life}" if r.end_of_life else ""))
PROFILES = {"istio": ("default", "minimal", "demo", "ambient"), "linkerd": ("default", "ha")}


@dataclass
class CheckResult:
    check: str
    status: str          # pass, warn, fail
    detail: str
    fix: str | None = None


def _minor(v: str) -> tuple[int, int]:
    parts = v.lstrip("v").split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def preflight(snap: Snapshot, mesh: str, version: str, kube_version: str | None,
              denied: list[str] | None = None) -> list[CheckResult]:
    out: list[CheckResult] = [support_check(mesh, version)]
    lo, hi = SUPPORTED[mesh][version]
    if kube_version:
        ok = _minor(lo) <= _minor(kube_version) <= _minor(hi)
        out.append(CheckResult("kubernetes-version", "pass" if ok else "fail",
                               f"Kubernetes {kube_version}; {mesh} {version} supports {lo} to {hi}",
                               None if ok else f"pick a {mesh} version that supports {kube_version}, or upgrade the "
                                               "cluster"))
    else:
        out.append(CheckResult("kubernetes-version", "warn", "could not read the Kubernetes version"))
    meshes = {m.mesh: m for m in detect_meshes(snap)}
    other = "linkerd" if mesh == "istio" else "istio"
    if other in meshes and meshes[other].components_ready != "0/0":
        out.append(CheckResult("existing-mesh", "fail", f"the cluster already runs {other} "
                                                        f"{meshes[other].version or ''} in {meshes[other].namespace}",
                               f"running two meshes is not supported: migrate off {other} first"))
    elif other in meshes:
        out.append(CheckResult("existing-mesh", "warn", f"{other} CRDs are left over without a control plane",
                               f"remove them (kubectl get crd -o name | grep {other}) before installing"))
    if mesh in meshes:
        m = meshes[mesh]
        if m.components_ready == "0/0":
            out.append(CheckResult("existing-install", "warn", f"{mesh} CRDs exist but no control plane (a half-removed "
                                                               "install)", "the plan reinstalls over them; check the "
                                                                           "CRD versions match"))
        else:
            out.append(CheckResult("existing-install", "warn", f"{mesh} {m.version} already runs in {m.namespace}",
                                   "use a revision (canary upgrade) instead of a second install"
                                   if mesh == "istio" else "use linkerd upgrade"))
    else:
        out.append(CheckResult("existing-install", "pass", f"no {mesh} control plane or CRDs found"))
    injected = []
    for ns in snap.of("Namespace"):
        lb, an = labels_of(ns), annotations_of(ns)
        if (mesh == "istio" and (lb.get("istio-injection") == "enabled" or lb.get("istio.io/rev"))) or \
                (mesh == "linkerd" and an.get("linkerd.io/inject") == "enabled"):
            pods = [p for p in snap.of("Pod", name_of(ns))]
            injected.append(f"{name_of(ns)} ({len(pods)} pods to restart)")
    out.append(CheckResult("injected-namespaces", "warn" if injected else "pass",
                           "namespaces that will be injected: " + (", ".join(injected) if injected else "none yet"),
                           "restart their workloads after the install (kubectl rollout restart)" if injected else
                           "label namespaces after the install (the plan lists the label)"))
    restricted = [name_of(ns) for ns in snap.of("Namespace")
                  if labels_of(ns).get("pod-security.kubernetes.io/enforce") in ("restricted", "baseline")]
    if restricted:
        cni = "the Istio CNI plugin (or ambient mode)" if mesh == "istio" else "the linkerd-cni plugin"
        out.append(CheckResult("pod-security", "fail", "Pod Security admission blocks the init container that "
                                                      f"needs NET_ADMIN in: {', '.join(sorted(restricted))}",
                               f"install {cni}, which needs no privileged init container"))
    else:
        out.append(CheckResult("pod-security", "pass", "no namespace enforces baseline/restricted Pod Security"))
    mine = "istio" if mesh == "istio" else "linkerd"
    conflicts = [name_of(w) for w in snap.of("MutatingWebhookConfiguration")
                 if mine not in name_of(w) and any(
                     "pods" in (r.get("resources") or []) for wh in w.get("webhooks") or [] for r in wh.get("rules") or [])
                 and any(k in name_of(w) for k in ("inject", "sidecar", "proxy"))]
    out.append(CheckResult("webhooks", "warn" if conflicts else "pass",
                           "other pod-injecting webhooks: " + (", ".join(conflicts) if conflicts else "none"),
                           "make sure their namespace selectors do not overlap the mesh's" if conflicts else None))
    if denied:
        out.append(CheckResult("rbac", "fail", "the current identity may not: " + ", ".join(denied),
                               "run the install as a cluster admin (ClusterRoleBinding to cluster-admin)"))
    else:
        out.append(CheckResult("rbac", "pass", "can create CRDs, ClusterRoles, webhooks, namespaces and deployments"))
    return out


RBAC_NEEDED = [("create", "apiextensions.k8s.io", "customresourcedefinitions"),
               ("create", "rbac.authorization.k8s.io", "clusterroles"),
               ("create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
               ("create", "", "namespaces"), ("create", "apps", "deployments")]


@dataclass
class Step:
    title: str
    command: list[str]
    undo: list[str] | None = None
    files: dict[str, str] = field(default_factory=dict)


def istio_steps(profile: str, version: str, revision: str | None, values_text: str, gateway: bool) -> list[Step]:
    rev = f"-{revision}" if revision else ""
    steps = [Step("add the Istio Helm repository",
                  ["helm", "repo", "add", "istio", "https://istio-release.storage.googleapis.com/charts"]),
             Step("refresh the repository", ["helm", "repo", "update", "istio"])]
    # istio/base always: it installs (or, before a canary, upgrades) the CRDs. With a revision its default
    # validator must name that revision's Service (istiod-REV): with the chart's "default" it calls a Service
    # istiod that a revision-only install never creates (base/templates/defaultrevision-validatingwebhook...)
    steps.append(Step("install or upgrade the CRDs and cluster-wide resources (istio/base)",
                      ["helm", "upgrade", "--install", "istio-base", "istio/base", "-n", "istio-system",
                       "--create-namespace", "--version", version]
                      + (["--set", f"defaultRevision={revision}"] if revision else []) + ["--wait"],
                      ["helm", "uninstall", "istio-base", "-n", "istio-system"]))
    if profile == "ambient":
        steps.append(Step("install the CNI node agent (istio/cni, ambient)",
                          ["helm", "upgrade", "--install", "istio-cni", "istio/cni", "-n", "istio-system",
                           "--version", version, "--set", "profile=ambient", "--wait"],
                          ["helm", "uninstall", "istio-cni", "-n", "istio-system"]))
    steps.append(Step(f"install istiod{' revision ' + revision if revision else ''} (profile {profile})",
                      ["helm", "upgrade", "--install", f"istiod{rev}", "istio/istiod", "-n", "istio-system",
                       "--version", version, "-f", "istiod-values.yaml", "--wait"],
                      ["helm", "uninstall", f"istiod{rev}", "-n", "istio-system"], {"istiod-values.yaml": values_text}))
    if profile == "ambient":
        steps.append(Step("install ztunnel (ambient)",
                          ["helm", "upgrade", "--install", "ztunnel", "istio/ztunnel", "-n", "istio-system",
                           "--version", version, "--wait"], ["helm", "uninstall", "ztunnel", "-n", "istio-system"]))
    if gateway and profile != "minimal":  # no --wait: it would wait for a LoadBalancer address forever on
        # clusters without one; install_verify checks the pods instead
        steps.append(Step("install the ingress gateway (istio/gateway)",
                          ["helm", "upgrade", "--install", "istio-ingress", "istio/gateway", "-n", "istio-ingress",
                           "--create-namespace", "--version", version]
                          + (["--set", f"revision={revision}"] if revision else []),
                          ["helm", "uninstall", "istio-ingress", "-n", "istio-ingress"]))
    return steps


def linkerd_steps(profile: str, version: str, values_text: str, viz: bool) -> list[Step]:
    repo = "linkerd-edge" if version.startswith("edge") else "linkerd"
    url = "https://helm.linkerd.io/edge" if repo == "linkerd-edge" else "https://helm.linkerd.io/stable"
    # edge releases edge-YY.M.P are published as chart versions 20YY.M.P
    chart_version = "20" + version.removeprefix("edge-") if repo == "linkerd-edge" else version
    steps = [Step("add the Linkerd Helm repository", ["helm", "repo", "add", repo, url]),
             Step("generate the trust anchor and the identity issuer (step CLI; keep the keys out of git)",
                  ["sh", "-c", "step certificate create root.linkerd.cluster.local ca.crt ca.key --profile root-ca "
                               "--no-password --insecure && step certificate create identity.linkerd.cluster.local "
                               "issuer.crt issuer.key --profile intermediate-ca --not-after 8760h --no-password "
                               "--insecure --ca ca.crt --ca-key ca.key"]),
             Step("install the CRDs (linkerd-crds)",
                  ["helm", "upgrade", "--install", "linkerd-crds", f"{repo}/linkerd-crds", "-n", "linkerd",
                   "--create-namespace", "--version", chart_version, "--wait"],
                  ["helm", "uninstall", "linkerd-crds", "-n", "linkerd"]),
             Step(f"install the control plane (linkerd-control-plane, profile {profile})",
                  ["helm", "upgrade", "--install", "linkerd-control-plane", f"{repo}/linkerd-control-plane", "-n",
                   "linkerd", "--version", chart_version, "-f", "linkerd-values.yaml",
                   "--set-file", "identityTrustAnchorsPEM=ca.crt", "--set-file", "identity.issuer.tls.crtPEM=issuer.crt",
                   "--set-file", "identity.issuer.tls.keyPEM=issuer.key", "--wait"],
                  ["helm", "uninstall", "linkerd-control-plane", "-n", "linkerd"], {"linkerd-values.yaml": values_text})]
    if viz:
        steps.append(Step("install the viz extension (Prometheus, dashboard)",
                          ["helm", "upgrade", "--install", "linkerd-viz", f"{repo}/linkerd-viz", "-n", "linkerd-viz",
                           "--create-namespace", "--version", chart_version, "--wait"],
                          ["helm", "uninstall", "linkerd-viz", "-n", "linkerd-viz"]))
    return steps


#: extra values: a key or a dotted path of keys (as helm --set takes them), identifiers only, never YAML syntax
VALUE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,7}$")


def values_doc(mesh: str, profile: str, revision: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """The control-plane chart's values as data, with the keys the pinned charts read (istiod: top-level
    ``replicaCount``, ``autoscaleEnabled``, ``traceSampling``, ``profile``, ``global``, ``meshConfig``; see
    manifests/charts/istio-control/istio-discovery/values.yaml)."""
    bad = [k for k in values if not isinstance(k, str) or not VALUE_KEY.match(k)]
    if bad:
        raise InvalidInput(f"Invalid Helm values key {str(bad[0])[:80]!r}: a key is a name or a dotted path of "
                           "names (letters, digits, _), e.g. meshConfig.accessLogFile.",
                           hint="fix the key; values are scalars (string, number, boolean).")
    small = profile in ("minimal", "demo")
    if mesh == "istio":
        doc: dict[str, Any] = {}
        if revision:
            doc["revision"] = revision
        if profile in ("ambient", "demo"):
            doc["profile"] = profile
        doc["autoscaleEnabled"] = not small
        doc["replicaCount"] = 1 if small else 2
        if profile == "demo":
            doc["traceSampling"] = 100.0
        doc["global"] = {"proxy": {"resources": {"requests": {"cpu": "10m" if profile == "demo" else "100m",
                                                              "memory": "40Mi" if profile == "demo" else "128Mi"}}}}
        doc["meshConfig"] = {"enableAutoMtls": True, **({"accessLogFile": "/dev/stdout"} if profile == "demo" else {})}
    else:
        # the issuer certificate and key are passed with --set-file identity.issuer.tls.{crt,key}PEM: that is the
        # linkerd.io/tls scheme (the chart creates the issuer Secret); kubernetes.io/tls would wait for a Secret
        # made elsewhere and the identity pod would never start
        doc = {"identity": {"issuer": {"scheme": "linkerd.io/tls"}}}
        if profile == "ha":
            doc.update({"controllerReplicas": 3, "enablePodDisruptionBudget": True, "enablePodAntiAffinity": True,
                        "webhookFailurePolicy": "Fail",
                        "deploymentStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}})
        else:
            doc["controllerReplicas"] = 1
    for key, value in values.items():  # dotted paths become nested mappings, as with helm --set
        *parents, leaf = key.split(".")
        node = doc
        for p in parents:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise InvalidInput(f"Helm values key {key!r} goes through {p!r}, which is already a value.",
                                   hint="set the whole path once.")
            node = child
        node[leaf] = value
    return doc


def render_values(mesh: str, profile: str, revision: str | None, values: dict[str, Any]) -> str:
    """The values file: a fixed comment, then the values dumped as YAML (no argument is pasted into text)."""
    import yaml

    doc = values_doc(mesh, profile, revision, values)
    if mesh == "istio":
        head = (f"# istiod values for profile {profile}" + (f", revision {revision}" if revision else "")
                + " (rendered by mesh-plugin install_plan)\n")
    else:
        head = (f"# linkerd-control-plane values for profile {profile} (rendered by mesh-plugin install_plan)\n"
                "# The trust anchor and issuer come from the files of step 2, passed with --set-file (never commit "
                "the keys).\n")
    return head + yaml.safe_dump(doc, sort_keys=False)


def validate(mesh: str, profile: str, version: str) -> None:
    if profile not in PROFILES[mesh]:
        raise InvalidInput(f"Unknown {mesh} profile {profile!r}.", hint=f"use one of: {', '.join(PROFILES[mesh])}.")
    if version not in SUPPORTED[mesh]:
        raise InvalidInput(f"Unknown {mesh} version {version!r}.", hint=f"use one of: {', '.join(SUPPORTED[mesh])}.")


def verify(snap: Snapshot, mesh: str, injected_probe: bool | None) -> list[CheckResult]:
    out = []
    meshes = {m.mesh: m for m in detect_meshes(snap)}
    m = meshes.get(mesh)
    if m is None or m.components_ready == "0/0":
        return [CheckResult("control-plane", "fail", f"no {mesh} control plane found", "run the install plan")]
    ready, total = (int(x) for x in m.components_ready.split("/"))
    out.append(CheckResult("control-plane", "pass" if ready == total else "fail",
                           f"{m.components_ready} control-plane pods ready in {m.namespace} ({m.version})",
                           None if ready == total else f"kubectl -n {m.namespace} describe pods"))
    hooks = [w for w in snap.of("MutatingWebhookConfiguration")
             if ("istio" in name_of(w) if mesh == "istio" else "linkerd" in name_of(w))]
    backing_ok = True
    for w in hooks:
        for wh in w.get("webhooks") or []:
            svc = ((wh.get("clientConfig") or {}).get("service")) or {}
            if svc:
                s = snap.get("Service", svc.get("name", ""), svc.get("namespace", ""))
                sel = ((s or {}).get("spec") or {}).get("selector") or {}
                pods = [p for p in snap.of("Pod", svc.get("namespace")) if sel and all(
                    labels_of(p).get(k) == v for k, v in sel.items())]
                backing_ok = backing_ok and bool(pods) and any(is_ready(p) for p in pods)
    out.append(CheckResult("webhooks", "pass" if hooks and backing_ok else "fail",
                           f"{len(hooks)} injector webhook(s)" + ("" if backing_ok else ", without a ready backend"),
                           None if hooks and backing_ok else "check the injector Service and its pods"))
    group = ".istio.io" if mesh == "istio" else ".linkerd.io"
    crds = [c for c in snap.of("CustomResourceDefinition") if name_of(c).endswith(group)]
    not_est = [name_of(c) for c in crds if not any(
        x.get("type") == "Established" and x.get("status") == "True" for x in (c.get("status") or {}).get(
            "conditions") or [])]
    out.append(CheckResult("crds", "pass" if crds and not not_est else "fail",
                           f"{len(crds)} CRDs" + (f", not established: {', '.join(not_est)}" if not_est else
                                                  " established"),
                           None if crds and not not_est else "reinstall the CRDs chart"))
    if injected_probe is not None:
        out.append(CheckResult("injection", "pass" if injected_probe else "fail",
                               "a dry-run pod in an injected test namespace gets a sidecar" if injected_probe else
                               "a dry-run pod in an injected test namespace gets NO sidecar",
                               None if injected_probe else "check the webhook's namespaceSelector and its logs"))
    return out


def uninstall_steps(mesh: str, revision: str | None = None) -> list[Step]:
    if mesh == "istio":
        rev = f"-{revision}" if revision else ""
        steps = [Step("remove the ingress gateway", ["helm", "uninstall", "istio-ingress", "-n", "istio-ingress"]),
                 Step(f"remove istiod{rev}", ["helm", "uninstall", f"istiod{rev}", "-n", "istio-system"])]
        if not revision:
            steps += [Step("remove the base chart", ["helm", "uninstall", "istio-base", "-n", "istio-system"]),
                      Step("delete the Istio CRDs (this deletes every Istio resource)",
                           ["sh", "-c", "kubectl get crd -oname | grep --color=never 'istio.io' | xargs kubectl delete"]),
                      Step("delete the namespace", ["kubectl", "delete", "namespace", "istio-system"])]
    else:
        steps = [Step("remove viz", ["helm", "uninstall", "linkerd-viz", "-n", "linkerd-viz"]),
                 Step("remove the control plane", ["helm", "uninstall", "linkerd-control-plane", "-n", "linkerd"]),
                 Step("remove the CRDs (this deletes every Linkerd policy resource)",
                      ["helm", "uninstall", "linkerd-crds", "-n", "linkerd"]),
                 Step("delete the namespaces", ["kubectl", "delete", "namespace", "linkerd", "linkerd-viz"])]
    return steps

