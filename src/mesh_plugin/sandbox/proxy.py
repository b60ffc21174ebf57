"""A sidecar (or gateway) Envoy that takes its configuration from istiod, in its pod's network namespace.

As in a pod: Envoy runs in the pod's namespace with the bootstrap the agent would write (node ID and
metadata from istiod's view of the pod), its admin on 127.0.0.1:15000 there, ADS and SDS through the pod's
agent sockets (``agent.XDSRelay``, ``agent.SDSServer``), and istio-init's redirection in front of it
(``netns.redirect_rules``). ``admin_port`` and ``inbound_port`` are 127.0.0.1 ports of the sandbox process:
port-forwards to the admin and to the pod's IP and service port (which the redirection sends to Envoy's
inbound listener), so callers reach them as before.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .envoy import _die_with_parent, envoy_binary
from .netns import NetNS

ADMIN_PORT = 15000


@dataclass
class ProxySpec:
    namespace: str
    pod: str
    pod_ip: str
    service_account: str
    app_port: int | None        # the container port of the app behind the sidecar (None: a gateway)
    kind: str = "sidecar"       # or "router", "waypoint" (the xDS node type)

    @property
    def proxy_id(self) -> str:
        return f"{self.pod}.{self.namespace}"


#: what Istio's bootstrap template always carries (tools/packaging/common/envoy_bootstrap.json): the internal
#: listeners waypoints (and HBONE-sending sidecars) use
INTERNAL_LISTENER = {"name": "envoy.bootstrap.internal_listener", "typed_config": {
    "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
    "type_url": "type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener",
    "value": {"buffer_size_kb": 64}}}


def agent_bootstrap(boot: dict, xds_path: str, sds_path: str) -> dict:
    """istiod's bootstrap for the proxy with xds-grpc and sds-grpc pointing at the pod's agent sockets, and the
    internal-listener extension of Istio's bootstrap template."""
    boot = json.loads(json.dumps(boot))
    exts = boot.setdefault("bootstrap_extensions", [])
    if not any(e.get("name") == INTERNAL_LISTENER["name"] for e in exts):
        exts.append(json.loads(json.dumps(INTERNAL_LISTENER)))
    for c in (boot.get("static_resources") or {}).get("clusters") or []:
        path = {"xds-grpc": xds_path, "sds-grpc": sds_path}.get(c.get("name"))
        if path:
            c["load_assignment"] = {"cluster_name": c["name"], "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"pipe": {"path": path}}}}]}]}
    return boot


def _setns_and_die_with_parent(fd: int) -> Any:
    def pre() -> None:  # pragma: no cover - runs in the child
        from .netns import _setns

        _setns(fd)
        _die_with_parent()

    return pre


class IstioProxy:
    """One Envoy fed by istiod. ``start`` launches it; ``wait_ready`` waits for its first config."""

    config_source = "istiod"

    def __init__(self, spec: ProxySpec, netns: NetNS, workdir: str, bootstrap: dict) -> None:
        self.spec = spec
        self.netns = netns
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.bootstrap_path = os.path.join(workdir, "bootstrap.json")
        with open(self.bootstrap_path, "w") as fh:
            json.dump(bootstrap, fh)
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_port = 0          # 127.0.0.1 port-forward to the admin (set by the sandbox)
        self.inbound_port = 0        # 127.0.0.1 port-forward to POD_IP:app_port, i.e. Envoy's inbound listener
        self.started = 0.0

    def start(self) -> "IstioProxy":
        log = open(os.path.join(self.dir, "envoy.log"), "ab")
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", self.bootstrap_path, "--disable-hot-restart", "--concurrency", "1",
             "--log-level", "warning", "--drain-time-s", "0", "--parent-shutdown-time-s", "1"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_setns_and_die_with_parent(self.netns.fd), pass_fds=(self.netns.fd,))
        log.close()
        self.started = time.monotonic()
        return self

    def admin(self, path: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/{path.lstrip('/')}", timeout=timeout) as r:
            return r.read()

    def config_state(self) -> dict[str, int]:
        """Envoy's own view of its xDS state (server.state 0 is LIVE)."""
        names = ("server.state", "cluster_manager.cds.update_success", "cluster_manager.warming_clusters",
                 "listener_manager.lds.update_success", "listener_manager.total_listeners_warming",
                 "listener_manager.total_listeners_active", "cluster_manager.cds.update_rejected",
                 "listener_manager.lds.update_rejected")
        text = self.admin("stats?filter=^(server\\.state|cluster_manager\\.|listener_manager\\.)").decode()
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(": ")
            if k in names and v.strip().isdigit():
                out[k] = int(v)
        return out

    def ready(self) -> bool:
        try:
            s = self.config_state()
        except (OSError, urllib.error.URLError):
            return False
        return (s.get("server.state") == 0 and s.get("cluster_manager.cds.update_success", 0) >= 1
                and s.get("listener_manager.lds.update_success", 0) >= 1
                and s.get("cluster_manager.warming_clusters", 1) == 0
                and s.get("listener_manager.total_listeners_warming", 1) == 0
                and s.get("listener_manager.total_listeners_active", 0) >= 1)

    def wait_ready(self, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"envoy for {self.spec.pod} exited: {self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.02)
        state: Any
        try:
            state = self.config_state()
        except (OSError, urllib.error.URLError) as e:
            state = e
        raise RuntimeError(f"envoy for {self.spec.pod} got no complete config from istiod after {timeout}s "
                           f"({state}): {self.log_tail()}")

    def push_routes(self, routes: Any) -> None:
        raise RuntimeError("this sidecar takes its routes from istiod: change the VirtualService instead "
                           "(Sandbox.edit/apply or the API), and Sandbox.hold_pushes() to keep a push from it")

    def log_tail(self) -> str:
        try:
            return open(os.path.join(self.dir, "envoy.log"), errors="replace").read()[-2000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """End the Envoy process (the sidecar is down); ``start`` brings it back."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
