"""The sandbox's Prometheus (sandbox/prometheus.py): a real Prometheus scrapes the sandbox's real Envoys, and its
recording rules derive istio_requests_total from their cluster counters, so the product's unchanged queries
(metrics/prometheus.py, traffic_step's gate) work on the sandbox. Both config sources: istiod (when the oracle can
run here) and the built-in generator. Every figure is checked against the Envoys' own counters."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mesh_plugin.errors import InvalidInput, Unreachable
from mesh_plugin.metrics.prometheus import Prometheus, service_traffic
from mesh_plugin.runtime import RUNTIME, configure
from mesh_plugin.sandbox import Sandbox
from mesh_plugin.tools import get_tool

from promhelper import binaries

PAYMENT = "payment-api.production.svc.cluster.local"


@pytest.fixture(scope="module", params=["auto", "generator"])
def msb(request):
    """A sandbox of this module's own (nothing else sends through it), with its Prometheus."""
    binaries()
    sb = Sandbox(config=request.param, prometheus=True).start()
    if request.param == "auto" and sb.config_source != "istiod":
        sb.stop()
        pytest.skip(f"istiod cannot run here ({sb.config_note}): the generator case covers this machine")
    yield sb
    sb.stop()


@pytest.fixture()
def configured(msb):
    """The product configured as an operator would: the sandbox's kubeconfig and its Prometheus URL."""
    before = (RUNTIME.kubeconfig, RUNTIME.context, RUNTIME.prometheus_url)
    configure(msb.kubeconfig, "sandbox", prometheus_url=msb.prometheus_url)
    yield msb
    configure(before[0], before[1], prometheus_url=before[2])


def envoy_counts(sb: Sandbox) -> dict[tuple[str, str], int]:
    """(subset, counter) -> value of the frontend sidecar's payment-api subset clusters, from its own admin /stats."""
    sc = sb.sidecar("frontend")
    url = (f"http://127.0.0.1:{sc.admin_port}/stats?filter=" +
           urllib.request.quote(r"^cluster\.outbound\|8080\|v[12]\|payment-api\."))
    out = {}
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            m = re.match(rf"^cluster\.outbound\|8080\|(v[12])\|{re.escape(PAYMENT)};?\.(\w+): (\d+)$", line)
            if m:
                out[(m.group(1), m.group(2))] = int(m.group(3))
    return out


def recorded(sb: Sandbox, selector: str) -> dict[tuple[str, str], float]:
    """(destination_version, response_code) -> the recorded istio_requests_total (cumulative) for a selector."""
    return {(m.get("destination_version", ""), m.get("response_code", "")): v for m, v in sb.prometheus.query(
        f"sum by (destination_version, response_code) (istio_requests_total{{{selector}}})")}


def send_canary_traffic(sb: Sandbox) -> None:
    sb.send("frontend", 8080, "payment-api:8080", 6, lb=0)    # the v1 subset: 200s
    sb.send("frontend", 8080, "payment-api:8080", 3, lb=95)   # the v2 canary: 503s (then ejected: 503 UH)
    sb.wait_metrics()


def test_recorded_istio_requests_match_the_envoys_counters(msb):
    send_canary_traffic(msb)
    envoy = envoy_counts(msb)
    assert envoy[("v2", "upstream_rq_503")] >= 3 and envoy[("v1", "upstream_rq_200")] >= 6, envoy
    # reporter=source: the frontend's outbound subset clusters, every answer it got (its own 503 UH included)
    src = recorded(msb, 'reporter="source",source_workload="frontend",destination_service_name="payment-api"')
    assert src == {("v1", "200"): envoy[("v1", "upstream_rq_200")], ("v2", "503"): envoy[("v2", "upstream_rq_503")]}
    # reporter=destination: what reached the pods (the v2 requests its sidecar answered 503 UH never did)
    dst = recorded(msb, 'reporter="destination",destination_service_name="payment-api",'
                        'destination_service_namespace="production"')
    assert dst == {("v1", "200"): envoy[("v1", "upstream_rq_200")], ("v2", "503"): envoy[("v2", "upstream_rq_total")]}
    if envoy[("v2", "upstream_cx_none_healthy")]:   # an ejection happened: the two reporters differ, as in Istio
        assert dst[("v2", "503")] < src[("v2", "503")]
    labels = {(m["reporter"], m["destination_workload"], m["connection_security_policy"], m["sandbox_derived_from"],
               m["source_workload"], m["destination_principal"])
              for m, _ in msb.prometheus.query('istio_requests_total{destination_service_name="payment-api"}')}
    v2 = "spiffe://cluster.local/ns/production/sa/payment-api"
    if msb.config_source == "istiod":   # the server sidecars' inbound clusters; STRICT: their listener wants certs
        want = {("destination", "payment-api-v1", "mutual_tls", "inbound_cluster", "unknown", v2),
                ("destination", "payment-api-v2", "mutual_tls", "inbound_cluster", "unknown", v2)}
    else:   # no server sidecar on the generator's path: the callers' clusters, plaintext to the apps
        want = {("destination", "payment-api-v1", "none", "outbound_cluster", "frontend", v2),
                ("destination", "payment-api-v2", "none", "outbound_cluster", "frontend", v2)}
    want |= {("source", "payment-api-v1", "unknown", "outbound_cluster", "frontend", v2),
             ("source", "payment-api-v2", "unknown", "outbound_cluster", "frontend", v2)}
    assert labels == want


def test_product_client_sees_the_canary_503_share(msb):
    """metrics/prometheus.py's service_traffic (what traffic_step's gate calls), unchanged, on the sandbox."""
    send_canary_traffic(msb)
    traffic = service_traffic(Prometheus(msb.prometheus_url), "payment-api", "production", "10m",
                              by="destination_version")
    assert set(traffic) == {"v1", "v2"}, traffic
    (v1_total, v1_bad), (v2_total, v2_bad) = traffic["v1"], traffic["v2"]
    assert v1_total > 0 and v1_bad == 0
    # every request that reached v2 got a 503: all and 5xx come from one query at one instant, so exactly equal
    assert v2_total > 0 and v2_bad == v2_total


def test_traffic_step_refuses_citing_prometheus(configured):
    sb = configured
    send_canary_traffic(sb)
    step = get_tool("traffic_step")
    with pytest.raises(InvalidInput) as e:
        step.call(host="payment-api", canary="v2", namespace="production")
    assert "Refusing to move v2 from 10% to 25%" in str(e.value)
    assert re.search(r"canary v2 fails 100\.0% of requests vs 0\.0% for v1", str(e.value)), str(e.value)
    # the same gate, forced (a dry run: nothing is applied), says where its figures came from
    forced = step.call(host="payment-api", canary="v2", namespace="production", force=True)
    assert forced.metrics == f"Prometheus at {sb.prometheus_url}, istio_requests_total over 10m"
    assert forced.error_rates["v1"] == 0.0 and forced.error_rates["v2"] == 1.0
    assert any(re.search(r"canary v2 fails 100\.0% of requests", w) for w in forced.warnings)


def _prometheus_processes(folder: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().decode(errors="replace")
        except OSError:
            continue
        if "prometheus" in cmd and folder in cmd:
            out.append(int(pid))
    return out


@pytest.mark.parametrize("config", ["auto", "generator"])
def test_stop_leaves_no_prometheus_process_or_folder(config):
    binaries()
    sb = Sandbox(config=config, prometheus=True).start()
    try:
        sb.prometheus.wait_ready()
        folder, pid = sb.prometheus.dir, sb.prometheus.proc.pid
        assert folder.startswith(sb.dir + os.sep) and os.path.isdir(folder)
        assert _prometheus_processes(folder) == [pid]
    finally:
        sb.stop()
    assert sb.prometheus_url is None
    assert not os.path.exists(folder) and not os.path.exists(sb.dir)
    assert _prometheus_processes(folder) == [] and not os.path.exists(f"/proc/{pid}")


def test_stop_right_after_start_leaves_nothing():
    """Stopped before its supervisor has started the process (or just as it does): nothing is left either."""
    binaries()
    sb = Sandbox(config="generator", prometheus=True).start()
    folder = sb.prometheus.dir
    sb.stop()
    assert not os.path.exists(folder) and _prometheus_processes(folder) == []


def test_opt_out_and_missing_binary_say_why(monkeypatch):
    monkeypatch.setenv("MESH_SANDBOX_PROMETHEUS", "0")
    sb = Sandbox(config="generator").start()
    try:
        assert sb.prometheus_url is None and "MESH_SANDBOX_PROMETHEUS=0" in sb.prometheus_note
        with pytest.raises(RuntimeError, match="no Prometheus: turned off"):
            sb.wait_metrics()
    finally:
        sb.stop()
    monkeypatch.delenv("MESH_SANDBOX_PROMETHEUS")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))   # the venv's binaries, no prometheus
    sb = Sandbox(config="generator").start()
    try:
        assert sb.prometheus_url is None and "not on PATH" in sb.prometheus_note
        assert "none: the prometheus binary is not on PATH" in sb.describe_prometheus()
    finally:
        sb.stop()


def test_mesh_plugin_sandbox_prints_and_serves_its_prometheus():
    """`mesh-plugin sandbox` prints the Prometheus URL to export; it answers istio_requests_total after traffic."""
    binaries()
    p = subprocess.Popen([str(Path(sys.executable).parent / "mesh-plugin"), "sandbox"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "MESH_SANDBOX_CONFIG": "generator", "MESH_SANDBOX_VARIANT": ""})
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Ctrl-C" in x for x in lines):
            lines.append(p.stdout.readline())
        head = "".join(lines)
        m = re.search(r"export MESH_PLUGIN_PROMETHEUS_URL=(http://127\.0\.0\.1:\d+)\n", head)
        assert m and "prometheus: http://127.0.0.1:" in head, head
        url = m.group(1)
        r = Prometheus(url)
        end = time.monotonic() + 30   # it starts in the background; its first scrape comes 5-10 s later
        up: list = []
        while time.monotonic() < end and not (len(up) == 2 and all(v == 1 for _, v in up)):
            try:
                up = r.query('up{job="sandbox-envoy"}')
            except Unreachable:
                pass
            time.sleep(0.5)
        assert sorted(m["workload"] for m, _ in up) == ["frontend", "payment-api-v1"]
        assert all(v == 1 for _, v in up)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/-/ready", timeout=2)
