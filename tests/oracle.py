"""Test helper for the Istio oracle (oracle/: Istio's own config generation at a pinned commit).

The binaries are built by ``make oracle`` (``bash oracle/build.sh .tools/oracle``) into ORACLE_DIR:
``mesh-oracle`` (dump, simulate, serve, bootstrap, inputs) and ``istioctl`` from the same pin.

    require_oracle()                      # skip (or fail when CI=true) if the binaries are missing
    dumps = dump(objs)                    # {"POD.NS": Envoy admin config dump istiod would push}
    results = simulate(objs, "frontend-x.production", [{"port": 80, "host": "reviews"}])
    istioctl("analyze", "--use-kube=false", "a.yaml", "-o", "json")
    with serve(objs) as ads: ...          # ads is the ADS address, with .sds, .debug, .bootstrap()

Objects may be given as a directory, a file, or a list of dicts (written as YAML to a temp dir).
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ORACLE_DIR = Path(os.environ.get("MESH_ORACLE_DIR", ROOT / ".tools" / "oracle"))
MESH_ORACLE = ORACLE_DIR / "mesh-oracle"
ISTIOCTL = ORACLE_DIR / "istioctl"


def available() -> bool:
    """Both binaries are built."""
    return all(p.is_file() and os.access(p, os.X_OK) for p in (MESH_ORACLE, ISTIOCTL))


def missing_reason() -> str:
    missing = ", ".join(p.name for p in (MESH_ORACLE, ISTIOCTL) if not (p.is_file() and os.access(p, os.X_OK)))
    if shutil.which("go") is None:
        return f"Istio oracle not built ({missing} missing from {ORACLE_DIR}) and `go` is not installed"
    return f"Istio oracle not built ({missing} missing from {ORACLE_DIR}): run `make oracle`"


def require_oracle() -> None:
    """Skip the calling test when the oracle is missing; fail instead when CI=true."""
    if available():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(missing_reason() + " (CI=true: the oracle lane must not skip)")
    pytest.skip(missing_reason())


# -- inputs -----------------------------------------------------------------------------------------

def write_objects(objs: Iterable[dict], directory: str | os.PathLike[str]) -> Path:
    """Write objects as one multi-document YAML file; returns the directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "objects.yaml").write_text(yaml.safe_dump_all(list(objs), sort_keys=False))
    return d


@contextlib.contextmanager
def _input_dir(objs_or_dir: Any) -> Iterator[Path]:
    if isinstance(objs_or_dir, (str, os.PathLike)):
        yield Path(objs_or_dir)
        return
    with tempfile.TemporaryDirectory(prefix="oracle-in-") as d:
        yield write_objects(objs_or_dir, d)


def _mesh_args(mesh_config: Any, tmp: Path) -> list[str]:
    """mesh_config: None, a path, YAML text, or a dict (the mesh config itself)."""
    if mesh_config is None:
        return []
    if isinstance(mesh_config, dict):
        path = tmp / "mesh.yaml"
        path.write_text(yaml.safe_dump(mesh_config))
    elif isinstance(mesh_config, os.PathLike) or (isinstance(mesh_config, str) and "\n" not in mesh_config
                                                   and os.path.exists(mesh_config)):
        path = Path(mesh_config)
    else:
        path = tmp / "mesh.yaml"
        path.write_text(str(mesh_config))
    return ["--mesh-config", str(path)]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([str(MESH_ORACLE), *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise OracleError(f"mesh-oracle {args[0]} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return p


class OracleError(RuntimeError):
    pass


# -- dump / simulate --------------------------------------------------------------------------------

def dump_files(objs_or_dir: Any, out_dir: str | os.PathLike[str], proxies: Iterable[str] | None = None,
               mesh_config: Any = None, *, extra_args: Iterable[str] = (), timeout: float = 300) -> dict:
    """Run ``mesh-oracle dump`` into out_dir (POD.NS.json, POD.NS.clusters.json); returns its summary."""
    with _input_dir(objs_or_dir) as d, tempfile.TemporaryDirectory(prefix="oracle-mesh-") as tmp:
        args = ["dump", str(d), "--out", str(out_dir), *_mesh_args(mesh_config, Path(tmp)), *extra_args]
        for p in proxies or ():
            args += ["--proxy", p]
        return json.loads(_run(args, timeout).stdout)


def dump(objs_or_dir: Any, proxies: Iterable[str] | None = None, mesh_config: Any = None, *,
         extra_args: Iterable[str] = (), timeout: float = 300) -> dict[str, dict]:
    """The Envoy config dump istiod would push to each proxy: {"POD.NS": config_dump}."""
    with tempfile.TemporaryDirectory(prefix="oracle-out-") as out:
        summary = dump_files(objs_or_dir, out, proxies, mesh_config, extra_args=extra_args, timeout=timeout)
        return {pid: json.loads(Path(s["file"]).read_text()) for pid, s in summary["proxies"].items()}


def simulate(objs_or_dir: Any, proxy: str, calls: list[dict], mesh_config: Any = None, *,
             extra_args: Iterable[str] = (), timeout: float = 300) -> list[dict]:
    """Istio's traffic simulation of calls through a proxy; one result per call (see oracle/README.md)."""
    with _input_dir(objs_or_dir) as d, tempfile.TemporaryDirectory(prefix="oracle-calls-") as tmp:
        calls_file = Path(tmp) / "calls.json"
        calls_file.write_text(json.dumps(calls))
        args = ["simulate", str(d), "--proxy", proxy, "--calls", str(calls_file),
                *_mesh_args(mesh_config, Path(tmp)), *extra_args]
        return json.loads(_run(args, timeout).stdout)


# -- istioctl ---------------------------------------------------------------------------------------

_DUMMY_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def istioctl(*args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the pinned istioctl offline: a dummy kubeconfig (an unreachable 127.0.0.1:9) is set, since
    proxy-config -f and x authz check -f build a kube client before they read the file."""
    with tempfile.TemporaryDirectory(prefix="oracle-kube-") as d:
        kc = Path(d) / "kubeconfig"
        kc.write_text(_DUMMY_KUBECONFIG)
        env = {**os.environ, "KUBECONFIG": str(kc), "HOME": d}
        return subprocess.run([str(ISTIOCTL), *args], capture_output=True, text=True, timeout=timeout,
                              env=env, check=check, stdin=subprocess.DEVNULL)


# -- serve ------------------------------------------------------------------------------------------

class ServeInfo(str):
    """The ADS address (str: host:port or unix:///path) of a running ``mesh-oracle serve``, with the
    SDS address, the debug URL (reload, bootstrap, istiod's /debug/ handlers) and the process."""

    ads: str
    sds: str
    debug: str
    proc: subprocess.Popen[str]
    ready: dict

    def bootstrap(self, proxy: str, admin: str = "127.0.0.1:15000") -> dict:
        """An Envoy bootstrap for the proxy: node ID/metadata, xds-grpc and sds-grpc clusters."""
        q = urllib.parse.urlencode({"proxy": proxy, "admin": admin})
        return self.get_json(f"/bootstrap?{q}")

    def reload(self) -> dict:
        """Re-read the input directory and push the difference (POST /reload)."""
        req = urllib.request.Request(self.debug + "/reload", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def config_dump(self, proxy: str) -> dict:
        """istiod's view of a connected proxy (/debug/config_dump?proxyID=POD.NS&include_eds)."""
        return self.get_json(f"/debug/config_dump?proxyID={urllib.parse.quote(proxy)}&include_eds")

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.debug + path, timeout=60) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def serve(objs_or_dir: Any, mesh_config: Any = None, *, listen: str = "127.0.0.1:0",
          extra_args: Iterable[str] = (), startup_timeout: float = 120) -> Iterator[ServeInfo]:
    """Run ``mesh-oracle serve`` on the objects; yields the ADS address (a ServeInfo). With a list of
    objects the temp input dir is ``info.ready["dir"]``: edit it and call ``info.reload()``."""
    with _input_dir(objs_or_dir) as d, tempfile.TemporaryDirectory(prefix="oracle-serve-") as tmp:
        log = open(Path(tmp) / "serve.log", "w+")
        proc = subprocess.Popen([str(MESH_ORACLE), "serve", str(d), "--listen", listen,
                                 *_mesh_args(mesh_config, Path(tmp)), *extra_args],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
        try:
            line = _readline(proc, startup_timeout)
            if not line:
                log.seek(0)
                raise OracleError(f"mesh-oracle serve did not start:\n{log.read()[-4000:]}")
            ready = json.loads(line)
            ready["dir"] = str(d)
            ready["log"] = log.name
            info = ServeInfo(ready["ads"])
            info.ads, info.sds, info.debug, info.proc, info.ready = (
                ready["ads"], ready["sds"], ready["debug"], proc, ready)
            yield info
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=0.5):
            return proc.stdout.readline()
        if proc.poll() is not None:
            return ""
    return ""


# -- talking to an Envoy admin on a unix socket -----------------------------------------------------

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def unix_http_get(socket_path: str, path: str, timeout: float = 10) -> tuple[int, str]:
    """GET path over a unix socket (an Envoy admin bound to a pipe address)."""
    c = _UnixHTTPConnection(socket_path, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()

