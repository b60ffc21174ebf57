"""`make demo` (mesh-plugin demo): without the Istio oracle (no Go) it runs on the built-in generator and still
diagnoses the seeded 503 canary, lists the Gateway API routes and says how to run the ambient variant; the ambient
variant shows the ztunnel's view. Run as the real command, in a subprocess."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import oracle

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def _demo(tmp_path: Path, **env: str) -> str:
    r = subprocess.run([BIN, "demo"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MESH_SANDBOX_CONFIG": "", "MESH_SANDBOX_VARIANT": "", **env})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    kube = re.search(r"KUBECONFIG=(\S+?)/kubeconfig\)", r.stdout)
    assert kube and not os.path.exists(kube.group(1)), "the sandbox's temp dir is left behind"
    return r.stdout


def test_demo_without_the_oracle_diagnoses_the_canary(tmp_path):
    # an oracle directory with nothing in it: what a machine without Go has
    out = _demo(tmp_path, MESH_ORACLE_DIR=str(tmp_path))
    assert "config: the built-in generator" in out and "not istiod: the Istio oracle is not built" in out
    diag = out[out.index("== Diagnosis"):out.index("== Gateway API")]
    assert "[tool traffic_status view=diagnose]" in diag
    assert "CAUSE: subset v2 fails" in diag and "10% of the route" in diag
    assert "FIX: send v2's share to the other subsets: weights v1=90 v2=0" in diag and "+      weight: 0" in diag
    assert re.search(r"HTTPRoute production/frontend, mesh \(GAMMA\), parent Service production/frontend:80: "
                     r"frontend-v1:80 w90, frontend-v2:80 w10 +\[ResolvedRefs=False BackendNotFound", out)
    assert "HTTPRoute production/shop-api, ingress, parent Gateway istio-system/shop-gateway" in out
    assert "MESH_SANDBOX_VARIANT=ambient make demo" in out
    assert "payment-api: 1 endpoint(s) ejected by outlier detection (v2 subset)" in out
    # the canary gate reads the sandbox's Prometheus (istio_requests_total recorded from the Envoys' counters)
    gate = out[out.index("== Canary gate"):out.index("== Diagnosis")]
    if shutil.which("prometheus"):
        assert re.search(r"gate input, Prometheus at http://127\.0\.0\.1:\d+, istio_requests_total over 10m: "
                         r"v1 0\.0% 5xx, v2 100\.0% 5xx", gate), gate
    assert "REFUSED: Refusing to move v2 from 10% to 25%" in gate and "canary v2 fails 100.0%" in gate, gate


def test_demo_ambient_variant(tmp_path):
    out = _demo(tmp_path, MESH_SANDBOX_VARIANT="ambient")
    assert out.startswith("== Sandbox cluster (ambient)")
    amb = out[out.index("== Ambient: ztunnel"):out.index("== Health report")]
    assert re.search(r"workload checkout-\S+: HBONE, waypoint None, policies orders/checkout-get-only", amb)
    assert re.search(r"workload legacy-cron-\S+: TCP", amb)
    assert "service inventory.orders.svc.cluster.local goes through waypoint orders/waypoint.orders.svc.cluster.local" \
        in amb
    assert "policy orders/checkout-get-only: an ALLOW with no rules at ztunnel" in amb
    if oracle.available():
        assert "from istiod's workload xDS" in amb and "runs Envoy with istiod's waypoint config" in amb
        assert "istiod gave the payment-api sidecar route frontend.production.svc.cluster.local:80" in out
    else:
        assert "from the objects" in amb


@pytest.mark.oracle
def test_demo_with_istiod_shows_the_routes_istiod_gave(tmp_path):
    oracle.require_oracle()
    out = _demo(tmp_path)
    assert "config: istiod 1.31-dev" in out
    assert ("istiod gave the payment-api sidecar route frontend.production.svc.cluster.local:80: "
            "outbound|80||frontend-v1.production.svc.cluster.local 90, "
            "outbound|80||frontend-v2.production.svc.cluster.local 10") in out
    assert "CAUSE: subset v2 fails" in out
