"""Shared fixtures: the sandbox cluster (kube API + real Envoy sidecars), started once per session."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from mesh_plugin.kube import KubeClient
from mesh_plugin.runtime import configure
from mesh_plugin.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def sandbox():
    sb = Sandbox().start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def amb_istiod():
    """The ambient variant with istiod, one per test module (the modules change its objects); skips without the
    oracle (fails under CI)."""
    import oracle

    oracle.require_oracle()
    sb = Sandbox(variant="ambient", config="istiod").start()
    yield sb
    sb.stop()


@pytest.fixture()
def fresh_sandbox():
    """A kube-API-only sandbox of its own, for tests that change objects or inject faults."""
    sb = Sandbox(envoy=False).start()
    yield sb
    sb.stop()


@pytest.fixture()
def client(sandbox) -> KubeClient:
    sandbox.clear_faults()
    return KubeClient.connect(sandbox.kubeconfig)


@pytest.fixture()
def runtime(sandbox):
    sandbox.clear_faults()
    return configure(sandbox.kubeconfig, "sandbox")


@pytest.fixture(scope="session")
def claude_bin() -> str:
    path = os.environ.get("MESH_PLUGIN_CLAUDE") or str(ROOT / ".tools/claude/node_modules/.bin/claude")
    if not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail(f"Claude Code is not installed at {path}: run `make claude`")
        pytest.skip("Claude Code not installed (make claude)")
    return path


@pytest.fixture(scope="session")
def kubectl() -> str:
    path = shutil.which("kubectl")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("kubectl is not on PATH")
        pytest.skip("kubectl not on PATH")
    return path


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@contextlib.contextmanager
def prometheus_at(url: str):
    """Run with the operator's Prometheus set to ``url`` (what --prometheus-url configures), then unset it."""
    from mesh_plugin.runtime import RUNTIME

    before, RUNTIME.prometheus_url = RUNTIME.prometheus_url, url
    try:
        yield
    finally:
        RUNTIME.prometheus_url = before
