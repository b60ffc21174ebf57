"""The sandbox behaves like a real API server for kubectl, and its Envoys are real and cleaned up."""
from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from mesh_plugin.sandbox import Sandbox


def _kubectl(kubectl, sb, *args, stdin=None):
    env = {**os.environ, "KUBECONFIG": sb.kubeconfig}
    return subprocess.run([kubectl, "--request-timeout=10s", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=60)


def test_kubectl_gets_patches_and_dry_runs(kubectl, fresh_sandbox):
    sb = fresh_sandbox
    r = _kubectl(kubectl, sb, "get", "pods", "-n", "production", "-l", "app=payment-api", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 3
    r = _kubectl(kubectl, sb, "get", "vs,dr,pa", "-n", "production", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert "virtualservice.networking.istio.io/payment-api" in r.stdout
    assert "peerauthentication.security.istio.io/default" in r.stdout
    r = _kubectl(kubectl, sb, "patch", "dr", "reviews", "-n", "production", "--type=merge",
                 "-p", '{"spec":{"trafficPolicy":{"tls":{"mode":"ISTIO_MUTUAL"}}}}')
    assert r.returncode == 0, r.stderr
    r = _kubectl(kubectl, sb, "get", "dr", "reviews", "-n", "production", "-o", "jsonpath={.spec.trafficPolicy.tls.mode}")
    assert r.stdout == "ISTIO_MUTUAL"
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": "dry", "namespace": "production"}, "spec": {"hosts": ["reviews"]}}
    r = _kubectl(kubectl, sb, "apply", "--validate=false", "--dry-run=server", "-f", "-", stdin=json.dumps(vs))
    assert r.returncode == 0 and "server dry run" in r.stdout, r.stderr
    r = _kubectl(kubectl, sb, "get", "vs", "dry", "-n", "production")
    assert r.returncode != 0 and "NotFound" in r.stderr
    r = _kubectl(kubectl, sb, "patch", "pa", "default", "-n", "production", "--type=merge", "--dry-run=server",
                 "-p", '{"spec":{"mtls":{"mode":"PERMISSIVE"}}}')
    assert r.returncode == 0, r.stderr
    r = _kubectl(kubectl, sb, "get", "pa", "default", "-n", "production", "-o", "jsonpath={.spec.mtls.mode}")
    assert r.stdout == "STRICT"


def test_kubectl_reaches_a_sidecar_admin_through_the_pod_proxy(kubectl, sandbox):
    pod = sandbox.pod_name("frontend")
    r = _kubectl(kubectl, sandbox, "get", "--raw", f"/api/v1/namespaces/production/pods/{pod}:15000/proxy/ready")
    assert r.returncode == 0 and r.stdout.strip() == "LIVE", r.stderr


def test_strict_inbound_listener_refuses_plaintext_for_real(sandbox):
    sc = sandbox.sidecar("payment-api-v1")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{sc.inbound_port}/api", timeout=3).read()


def _envoy_pids_under(path: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "envoy" in cmd and path in cmd:
                pids.append(int(entry))
    return pids


def test_sandbox_starts_fast_and_stops_without_orphans():
    sb = Sandbox().start()
    try:
        assert len(sb.sidecars) == 2
        assert len(_envoy_pids_under(sb.dir)) == 2
        assert sb.started_in < 10
    finally:
        sb.stop()
    assert _envoy_pids_under(sb.dir) == []
