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


def _pids_with(*needles: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if all(n in cmd for n in needles):
                pids.append(int(entry))
    return pids


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _own_netns_fds() -> set[str]:
    return {link for fd in os.listdir("/proc/self/fd") if (link := _readlink(f"/proc/self/fd/{fd}")).startswith("net:[")}


def _netns_inodes_in_use() -> set[int]:
    """Inodes of every network namespace a process is in or holds an fd of."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        paths = [f"/proc/{entry}/ns/net"]
        try:
            paths += [f"/proc/{entry}/fd/{fd}" for fd in os.listdir(f"/proc/{entry}/fd")]
        except OSError:
            continue
        for p in paths:
            try:
                if os.readlink(p).startswith("net:["):
                    out.add(os.stat(p).st_ino)
            except OSError:
                pass
    return out


@pytest.mark.parametrize("config", ["generator", "auto"])
def test_sandbox_starts_fast_and_stops_without_orphans(config):
    before = _own_netns_fds()
    sb = Sandbox(config=config).start()
    try:
        assert sb.config_source in ("istiod", "generator")
        if sb.config_source == "generator":
            assert len(sb.sidecars) == 2 and sb.net is None
        else:  # every injected pod and the ingress gateway, each in its own network namespace
            assert len(sb.sidecars) == 8 and len(sb.net.pods) == 9
            assert _pids_with("mesh-oracle", "serve", sb.dir) == [sb.istiod.proc.pid]
        assert len(_pids_with("envoy", sb.dir)) == len(sb.sidecars)
        assert sb.started_in < 10
        pod_netns = {os.fstat(ns.fd).st_ino for ns in sb.net.pods.values()} if sb.net else set()
        assert pod_netns and pod_netns <= _netns_inodes_in_use() if sb.net else True
    finally:
        sb.stop()
    assert _pids_with("envoy", sb.dir) == [] and _pids_with("mesh-oracle", sb.dir) == []
    assert not os.path.exists(sb.dir)
    # no namespace of its pods is held by any process, and this process holds no more than before (the session's
    # sandbox and other people's may run)
    assert not (pod_netns & _netns_inodes_in_use())
    assert _own_netns_fds() <= before


def test_generator_fallback_pushes_virtualservice_writes():
    """Without istiod, the generator follows VirtualService writes by itself (debounced), and hold_pushes keeps a
    push from one sidecar until the block ends."""
    sb = Sandbox(config="generator").start()
    try:
        assert sb.config_source == "generator" and sb.config_note
        assert "built-in generator" in sb.describe_config_source()

        def weights(v1: int, v2: int):
            def change(vs):
                vs["spec"]["http"][0]["route"][0]["weight"], vs["spec"]["http"][0]["route"][1]["weight"] = v1, v2
            return change

        fe = sb.sidecar("frontend")
        with sb.hold_pushes("frontend"):
            sb.edit("networking.istio.io", "virtualservices", "production", "payment-api", weights(50, 50))
            sb.flush()
            assert fe.spec.routes[0].weights[1][1] == 10
        sb.wait_synced()
        assert [w for _, w in fe.spec.routes[0].weights] == [50, 50]
        assert sb.send("frontend", 8080, "payment-api", 2, lb=50) == {503: 2}
    finally:
        sb.stop()
