"""istiod for the sandbox: the Istio oracle's ``mesh-oracle serve`` (oracle/README.md) on the sandbox's objects.

``mesh-oracle`` runs istiod's own config generator (``pilot/test/xds.NewFakeDiscoveryServer``) from the
pinned ``istio.io/istio`` module and serves it over ADS. The sandbox writes what istiod reads from the API
server (Namespaces, Pods, Services, Secrets, ConfigMaps, EndpointSlices if any, and every Istio kind) to a
directory, starts ``serve`` on a unix socket, asks it for each proxy's Envoy bootstrap, and after each write
to the API rewrites the directory and posts ``/reload`` (istiod then pushes what changed).

Product code cannot import ``tests/oracle.py``; the few calls it needs are here.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from . import pin

#: API groups whose objects istiod reads (oracle/input.go pilotReads and istioGroups)
ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io")
KUBE_GROUPS = ("discovery.k8s.io", "networking.k8s.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io")
CORE_KINDS = ("Namespace", "Pod", "Service", "Node", "Secret", "ConfigMap", "ServiceAccount", "Endpoints")


def oracle_dir() -> Path:
    """MESH_ORACLE_DIR, else ``.tools/oracle`` of the checkout (``make oracle`` builds it there)."""
    env = os.environ.get("MESH_ORACLE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".tools" / "oracle"


def find_binary() -> tuple[Path | None, str]:
    """(path of mesh-oracle, "") or (None, why not)."""
    p = oracle_dir() / "mesh-oracle"
    if p.is_file() and os.access(p, os.X_OK):
        return p, ""
    return None, f"the Istio oracle is not built ({p} missing; `make oracle` builds it when Go is installed)"


def istiod_reads(obj: dict) -> bool:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if group in ISTIO_GROUPS or group in KUBE_GROUPS:
        return True
    return group == "" and obj.get("kind") in CORE_KINDS


class OracleError(RuntimeError):
    pass


class Istiod:
    """One ``mesh-oracle serve`` process: ADS on ``workdir/ads.sock``, its debug HTTP on 127.0.0.1."""

    def __init__(self, binary: Path, workdir: str, proxy_version: str = pin.ISTIO_VERSION,
                 ambient: bool = False) -> None:
        self.binary = binary
        #: istiod's ambient mode (``serve --ambient``: waypoint config, the ztunnel's workload xDS)
        self.ambient = ambient
        self.workdir = workdir
        self.input_dir = os.path.join(workdir, "in")
        self.ads_path = os.path.join(workdir, "ads.sock")
        self.proxy_version = proxy_version
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.debug = ""
        self.reloads = 0
        self.last_reload: dict[str, Any] = {}
        self._log: Any = None

    # -- inputs ----------------------------------------------------------------------------------
    def write_inputs(self, objects: list[dict]) -> None:
        """Write what istiod reads as one ``kind: List`` JSON file (atomically: serve may be reading)."""
        os.makedirs(self.input_dir, exist_ok=True)
        items = []
        for o in objects:
            if istiod_reads(o):
                # istiod's config store refuses an update whose resourceVersion is not the one it holds (the
                # API server's versions are not the store's): the objects go in without one, as kubectl applies
                o = {**o, "metadata": {k: v for k, v in (o.get("metadata") or {}).items() if k != "resourceVersion"}}
                items.append(o)
        path = os.path.join(self.input_dir, "objects.json")
        with open(path + ".tmp", "w") as fh:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, fh)
        os.replace(path + ".tmp", path)

    # -- process ---------------------------------------------------------------------------------
    def start(self, objects: list[dict], timeout: float = 60.0) -> dict[str, Any]:
        self.spawn(objects)
        return self.wait_started(timeout)

    def spawn(self, objects: list[dict]) -> None:
        """Start ``serve`` on the objects (returns at once; ``wait_started`` waits for its ready line)."""
        self.write_inputs(objects)
        self._log = open(os.path.join(self.workdir, "istiod.log"), "wb")
        # istiod fetches remote JWKS itself; in the sandbox nothing outside is reachable: a proxy that refuses
        # makes the fetch fail at once (as an unreachable jwksUri would), and Envoy gets Istio's fake JWKS.
        env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        from .envoy import _die_with_parent

        self.proc = subprocess.Popen(
            [str(self.binary), "serve", self.input_dir, "--listen", f"unix://{self.ads_path}",
             "--sds-listen", f"unix://{os.path.join(self.workdir, 'oracle-sds.sock')}",
             "--debug-listen", "127.0.0.1:0", "--proxy-version", self.proxy_version,
             *(["--ambient"] if self.ambient else [])],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_die_with_parent)

    def wait_started(self, timeout: float = 60.0) -> dict[str, Any]:
        if self.ready:
            return self.ready
        line = self._readline(timeout)
        if not line:
            self.stop()
            raise OracleError(f"mesh-oracle serve did not start: {self.log_tail()}")
        self.ready = json.loads(line)
        self.debug = self.ready["debug"]
        return self.ready

    def _readline(self, timeout: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if sel.select(0.2):
                    return self.proc.stdout.readline()
                if self.proc.poll() is not None:
                    return b""
            return b""
        finally:
            sel.close()

    def log_tail(self) -> str:
        try:
            return Path(self.workdir, "istiod.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- API ---------------------------------------------------------------------------------------
    def _get(self, path: str, timeout: float = 30.0) -> Any:
        with urllib.request.urlopen(self.debug + path, timeout=timeout) as r:
            return json.loads(r.read())

    def bootstrap(self, proxy: str, admin: str) -> dict:
        """The Envoy bootstrap the agent would write for POD.NS (node ID and metadata, xds-grpc, sds-grpc)."""
        return self._get("/bootstrap?" + urllib.parse.urlencode({"proxy": proxy, "admin": admin}))

    def reload(self, objects: list[dict]) -> dict:
        """Rewrite the inputs and apply the difference (istiod pushes to the connected proxies)."""
        self.write_inputs(objects)
        req = urllib.request.Request(self.debug + "/reload", method="POST", data=b"")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out = json.loads(r.read())
        except urllib.error.HTTPError as e:  # inputs istiod cannot load: keep the last good config
            out = {"error": e.read().decode(errors="replace")[:2000]}
        self.reloads += 1
        self.last_reload = out
        return out

    def syncz(self) -> list[dict]:
        """istiod's /debug/syncz: per connected proxy, the nonces sent and ACKed per type."""
        return self._get("/debug/syncz", timeout=10) or []

    def ztunnel(self, proxy: str) -> dict:
        """What istiod serves the ztunnel pod POD.NS over delta xDS now (``serve --ambient``, ``GET /ztunnel``):
        ``addresses`` (istio.workload.Address) and ``authorizations`` (istio.security.Authorization) as protobuf
        JSON, each ``{"name", "resource"}``."""
        return self._get("/ztunnel?" + urllib.parse.urlencode({"proxy": proxy}))

    def config_dump(self, proxy: str) -> dict:
        return self._get("/debug/config_dump?" + urllib.parse.urlencode({"proxyID": proxy}) + "&include_eds")


def acked(status: dict) -> bool:
    """Every xDS type istiod sent to this proxy is ACKed."""
    for typ in ("cluster", "listener", "route", "endpoint", "extensionconfig"):
        if status.get(f"{typ}_sent", "") != status.get(f"{typ}_acked", ""):
            return False
    return bool(status.get("cluster_sent")) and bool(status.get("listener_sent"))
