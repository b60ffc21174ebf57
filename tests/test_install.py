"""Installing a mesh: pre-flight and verify against sandbox variants, plan snapshots, apply with a stub helm."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest


from mesh_plugin.errors import InvalidInput
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import Sandbox
from mesh_plugin.tools import get_tool

GOLDEN = Path(__file__).resolve().parent / "data" / "install"


def statuses(result):
    return {c.check: c.status for c in result.checks}


@pytest.fixture()
def cluster(request):
    sb = Sandbox(mesh=request.param, envoy=False).start()
    configure(sb.kubeconfig, "sandbox")
    yield sb
    sb.stop()


@pytest.mark.parametrize("cluster", ["none"], indirect=True)
def test_preflight_on_a_cluster_without_mesh(cluster):
    r = get_tool("install_preflight").call(mesh="istio")
    assert r.ok and statuses(r) == {"version-support": "pass", "kubernetes-version": "pass", "existing-install": "pass",
                                    "injected-namespaces": "pass", "pod-security": "pass", "webhooks": "pass",
                                    "rbac": "pass"}
    v = get_tool("install_verify").call(mesh="istio")
    assert not v.ok and statuses(v) == {"control-plane": "fail"}


@pytest.mark.parametrize("cluster", ["istio"], indirect=True)
def test_istio_installed_verify_and_upgrade_advice(cluster):
    r = get_tool("install_preflight").call(mesh="istio")
    assert statuses(r)["existing-install"] == "warn" and "revision" in next(
        c.fix for c in r.checks if c.check == "existing-install")
    assert statuses(r)["injected-namespaces"] == "warn"
    v = get_tool("install_verify").call(mesh="istio")
    assert v.ok and statuses(v) == {"control-plane": "pass", "webhooks": "pass", "crds": "pass", "injection": "pass"}


@pytest.mark.parametrize("cluster", ["linkerd"], indirect=True)
def test_the_other_mesh_stops_the_install(cluster, tmp_path, monkeypatch):
    r = get_tool("install_preflight").call(mesh="istio")
    assert not r.ok and statuses(r)["existing-mesh"] == "fail"
    _stub_helm(tmp_path, monkeypatch)
    with pytest.raises(InvalidInput, match="already runs linkerd"):
        get_tool("install_apply").call(mesh="istio", apply=True)
    assert not (tmp_path / "helm.log").exists()  # nothing ran
    v = get_tool("install_verify").call(mesh="linkerd")
    assert v.ok, v.checks


@pytest.mark.parametrize("cluster", ["istio"], indirect=True)
def test_leftovers_pod_security_rbac_and_versions(cluster):
    api = cluster.api
    for key in list(api.store[("", "pods")]):
        if key[0] == "istio-system":
            del api.store[("", "pods")][key]
    ns = api.store[("", "namespaces")][("", "production")]
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    api.denied_access.add(("create", "apiextensions.k8s.io", "customresourcedefinitions"))
    r = get_tool("install_preflight").call(mesh="istio")
    by = {c.check: c for c in r.checks}
    assert by["existing-install"].status == "warn" and "half-removed" in by["existing-install"].detail
    assert by["pod-security"].status == "fail" and "CNI" in by["pod-security"].fix
    assert by["rbac"].status == "fail" and "customresourcedefinitions" in by["rbac"].detail
    old = get_tool("install_preflight").call(mesh="linkerd", version="2.18.0")
    assert {c.check: c.status for c in old.checks}["kubernetes-version"] == "fail"
    with pytest.raises(InvalidInput, match="Unknown istio version"):
        get_tool("install_preflight").call(mesh="istio", version="9.9.9")


@pytest.mark.parametrize("name,kw", [("istio-default", {"mesh": "istio"}),
                                     ("istio-ambient", {"mesh": "istio", "profile": "ambient"}),
                                     ("istio-canary-1-28", {"mesh": "istio", "revision": "1-28",
                                                            "values": {"meshConfig.accessLogFile": "/dev/stdout"}}),
                                     ("linkerd-ha", {"mesh": "linkerd", "profile": "ha"})])
def test_plan_snapshots(name, kw):
    t = get_tool("install_plan")
    assert t.render(t.call(**kw)) + "\n" == (GOLDEN / f"{name}.txt").read_text()


def test_plan_bad_input():
    with pytest.raises(InvalidInput, match="Unknown linkerd profile 'ambient'"):
        get_tool("install_plan").call(mesh="linkerd", profile="ambient")
    with pytest.raises(InvalidInput, match="Invalid arguments to"):
        get_tool("install_plan").call(mesh="consul")
    with pytest.raises(InvalidInput, match="Revisions are an Istio feature"):
        get_tool("install_plan").call(mesh="linkerd", revision="1-28")


def _stub_helm(tmp: Path, monkeypatch, fail_on: str | None = None) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    helm = bin_dir / "helm"
    helm.write_text("#!/bin/sh\n"
                    f'echo "$*" >> "{tmp}/helm.log"\n'
                    + (f'case "$*" in *{fail_on}*) echo "Error: INSTALLATION FAILED: timed out" >&2; exit 1;; esac\n'
                       if fail_on else "")
                    + "exit 0\n")
    helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp / "helm.log"


@pytest.mark.parametrize("cluster", ["none"], indirect=True)
def test_apply_runs_helm_step_by_step(cluster, tmp_path, monkeypatch):
    log = _stub_helm(tmp_path, monkeypatch)
    dry = get_tool("install_apply").call(mesh="istio")
    assert not dry.ran and dry.commands[0].startswith("helm repo add istio") and not log.exists()
    done = get_tool("install_apply").call(mesh="istio", apply=True)
    assert done.ran and done.failed is None and len(done.completed) == 5
    calls = log.read_text().splitlines()
    assert calls[0] == "repo add istio https://istio-release.storage.googleapis.com/charts"
    assert calls[2].startswith("upgrade --install istio-base istio/base -n istio-system --create-namespace")
    assert "-f istiod-values.yaml" in calls[3]


@pytest.mark.parametrize("cluster", ["none"], indirect=True)
def test_apply_stops_at_the_first_failure_with_the_way_back(cluster, tmp_path, monkeypatch):
    log = _stub_helm(tmp_path, monkeypatch, fail_on="istiod")
    r = get_tool("install_apply").call(mesh="istio", apply=True)
    assert r.failed.startswith("install istiod") and "timed out" in r.output
    assert r.way_back == ["helm uninstall istio-base -n istio-system"]
    assert not any("istio-ingress" in line for line in log.read_text().splitlines())  # stopped there


def test_uninstall_plan():
    p = get_tool("uninstall_plan").call(mesh="istio")
    assert [s.title for s in p.steps][:2] == ["remove the ingress gateway", "remove istiod"]
    assert any("CRDs" in w or "deleting the CRDs" in w for w in p.warnings)
    rev = get_tool("uninstall_plan").call(mesh="istio", revision="1-27")
    assert [s.command for s in rev.steps][-1] == "helm uninstall istiod-1-27 -n istio-system"


def test_versions_carry_their_dates_and_end_of_life():
    from mesh_plugin.mesh import install as I

    assert I.DEFAULT_VERSION["istio"].startswith("1.31.")  # the oracle's pin is 1.31-dev: its release line
    for mesh, rels in I.RELEASES.items():
        minors = [r.version.rsplit(".", 1)[0] for r in rels]
        assert len(minors) == len(set(minors)), f"{mesh}: one latest patch per minor"
    eol = I.support_check("istio", "1.28.10", today="2026-11-25")
    assert eol.status == "fail" and "end of life on 2026-07-15" in eol.detail and "1.31.4" in eol.fix
    soon = I.support_check("istio", "1.30.8", today="2026-12-20")
    assert soon.status == "warn" and "26 days" in soon.detail
    assert I.support_check("istio", "1.31.4", today="2026-11-25").status == "pass"
    plan = get_tool("install_plan").call(mesh="istio", version="1.28.10")
    assert plan.notes[0].startswith("FAIL: istio 1.28.10 reached end of life")


def test_ambient_needs_no_restart_and_commands_paste():
    import shlex

    plan = get_tool("install_plan").call(mesh="istio", profile="ambient")
    assert not any("rollout restart" in n for n in plan.notes) and any("no pod restarts" in n for n in plan.notes)
    lk = get_tool("install_plan").call(mesh="linkerd")
    step = next(s for s in lk.steps if s.command.startswith("sh -c "))
    assert shlex.split(step.command)[:2] == ["sh", "-c"] and len(shlex.split(step.command)) == 3
