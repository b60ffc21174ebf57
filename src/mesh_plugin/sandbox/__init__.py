"""The embedded sandbox cluster: a Kubernetes API (kmock, extended) plus real Envoy sidecars.

    with Sandbox().start() as sb:
        os.environ["KUBECONFIG"] = sb.kubeconfig
        ...

Everything binds to 127.0.0.1 on random free ports; ``stop()`` ends every
process it started (Envoys also die with their parent).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from .api import APIServerThread, Fault, SandboxAPI
from .certs import MeshCA
from .envoy import OutboundCluster, OutboundRoute, Sidecar, SidecarSpec
from . import seed

__all__ = ["Sandbox", "SandboxAPI", "Fault"]

T = TypeVar("T")


class Sandbox:
    """Start with :meth:`start`; use as a context manager to stop cleanly."""

    def __init__(self, *, envoy: bool = True, seed_cluster: bool = True, mesh: str = "istio") -> None:
        """``mesh``: "istio" (the production namespace, Envoy sidecars), "linkerd" (a Linkerd mesh with the
        emojivoto namespace), "both", or "none" (a cluster with workloads and no mesh)."""
        self.with_envoy = envoy and mesh in ("istio", "both")
        self.seed_cluster = seed_cluster
        self.mesh = mesh
        self.server = APIServerThread()
        self.api: SandboxAPI = self.server.api
        self.dir = tempfile.mkdtemp(prefix="mesh-sandbox-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.sidecars: dict[str, Sidecar] = {}
        self.apps: list[seed.App] = []
        self.app_ports: dict[str, int] = {}   # pod name -> 127.0.0.1 port of its app process
        self.ca = MeshCA(seed.TRUST_DOMAIN)
        self._runners: list[Any] = []
        self.started_in = 0.0

    @property
    def url(self) -> str:
        return self.server.url

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        t0 = time.monotonic()
        self.server.start()
        try:
            if self.seed_cluster:
                self._seed()
            self._write_kubeconfig()
            if self.with_envoy and self.seed_cluster:
                self._start_sidecars()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for sc in self.sidecars.values():
            sc.stop()
        self.sidecars.clear()
        if self._runners and self.server.loop.is_running():
            for r in self._runners:
                try:
                    self.server.call(r.cleanup(), timeout=5)
                except Exception:  # noqa: S110 - best effort on shutdown
                    pass
        self._runners.clear()
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self if self.server.port else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------------
    def _seed(self) -> None:
        objs, self.apps = seed.production()
        if self.mesh in ("istio", "both"):
            objs = seed.istio_control_plane() + objs
        elif self.mesh in ("linkerd", "none"):
            objs = [o for o in objs if not o["apiVersion"].startswith(("networking.istio.io", "security.istio.io"))]
            for o in objs:
                if o["kind"] == "Namespace" and o["metadata"]["name"] == seed.NS:
                    o["metadata"]["labels"].pop("istio-injection", None)
                if o["kind"] == "Pod":
                    o["spec"]["containers"] = [c for c in o["spec"]["containers"] if c["name"] != "istio-proxy"]
                    o["spec"]["initContainers"] = []
        if self.mesh in ("linkerd", "both"):
            issuer = MeshCA("root.linkerd.cluster.local")
            objs += seed.linkerd_cluster(issuer.cert_pem)
        for obj in objs:
            self.api.put_object(obj)

    def apply(self, objs: list[dict]) -> None:
        """Add objects directly (test set-up), bypassing the HTTP API."""
        for o in objs:
            self.api.put_object(o)

    def _write_kubeconfig(self) -> None:
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "sandbox",
               "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
               "users": [{"name": "sandbox-admin", "user": {"token": "sandbox-token"}}],
               "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox-admin",
                                                            "namespace": seed.NS}}]}
        with open(self.kubeconfig, "w") as fh:
            yaml.safe_dump(cfg, fh)

    # -- app processes and sidecars --------------------------------------------------------------
    async def _start_app(self, pod: str, app: seed.App) -> int:
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            return web.json_response({"service": app.app, "version": app.version, "pod": pod,
                                      "path": request.path, "headers": dict(request.headers)}, status=app.status)

        webapp = web.Application()
        webapp.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(webapp, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    def _start_sidecars(self) -> None:
        for a in self.apps:
            for pod in a.pods:
                name = pod["metadata"]["name"]
                port = self.server.call(self._start_app(name, a))
                self.app_ports[name] = port
                self.api.pod_ports[(seed.NS, name, a.port)] = port
        by = {a.deployment: a for a in self.apps}

        def ports(dep: str) -> list[int]:
            return [self.app_ports[p["metadata"]["name"]] for p in by[dep].pods]

        fqdn = f"payment-api.{seed.NS}.svc.cluster.local"
        rfqdn = f"reviews.{seed.NS}.svc.cluster.local"
        od = seed.payment_outlier_detection()
        frontend_clusters = [
            OutboundCluster(f"outbound|8080||{fqdn}", ports("payment-api-v1") + ports("payment-api-v2"), od),
            OutboundCluster(f"outbound|8080|v1|{fqdn}", ports("payment-api-v1"), od),
            OutboundCluster(f"outbound|8080|v2|{fqdn}", ports("payment-api-v2"), od),
            OutboundCluster(f"outbound|9080||{rfqdn}", ports("reviews-v1") + ports("reviews-v2")),
            OutboundCluster(f"outbound|9080|v1|{rfqdn}", ports("reviews-v1")),
            OutboundCluster(f"outbound|9080|v2|{rfqdn}", ports("reviews-v2")),
        ]
        frontend_routes = [
            OutboundRoute(8080, fqdn, f"{seed.NS}/payment-api",
                          [(f"outbound|8080|{s}|{fqdn}", w) for s, w in seed.PAYMENT_WEIGHTS.items()]),
            OutboundRoute(9080, rfqdn, None, [(f"outbound|9080||{rfqdn}", 100)]),
        ]
        plan = [("frontend", frontend_clusters, frontend_routes), ("payment-api-v1", [], [])]
        for dep, clusters, routes in plan:
            a = by[dep]
            pod = a.pods[0]
            name = pod["metadata"]["name"]
            spec = SidecarSpec(namespace=seed.NS, pod=name, pod_ip=pod["status"]["podIP"],
                               service_account=a.service_account, app_port=a.port,
                               app_real_port=self.app_ports[name],
                               certs=self.ca.issue(seed.NS, a.service_account), root_pem=self.ca.cert_pem,
                               clusters=clusters, routes=routes, istio_version=seed.ISTIO_VERSION)
            self.sidecars[name] = Sidecar(spec, os.path.join(self.dir, f"sidecar-{name}")).start()
        for name, sc in self.sidecars.items():
            sc.wait_ready()
            self.api.pod_ports[(seed.NS, name, 15000)] = sc.admin_port
        time.sleep(0)  # sidecars are LIVE; xDS files were loaded before /ready answered

    # -- helpers for tests and the demo ---------------------------------------------------------
    def sidecar(self, deployment: str) -> Sidecar:
        for name, sc in self.sidecars.items():
            if name.startswith(deployment + "-"):
                return sc
        raise KeyError(deployment)

    def pod_name(self, deployment: str, index: int = 0) -> str:
        for a in self.apps:
            if a.deployment == deployment:
                return str(a.pods[index]["metadata"]["name"])
        raise KeyError(deployment)

    def push_routes(self) -> int:
        """Play istiod: push each sidecar route the current weights of its VirtualService. Returns pushes."""
        pushed = 0
        for sc in self.sidecars.values():
            routes = []
            changed = False
            for r in sc.spec.routes:
                if not r.virtual_service:
                    routes.append(r)
                    continue
                ns, name = r.virtual_service.split("/")
                vs = self.api.store[("networking.istio.io", "virtualservices")].get((ns, name))
                http = ((vs or {}).get("spec") or {}).get("http") or []
                main = next((h for h in reversed(http) if not h.get("match")), http[-1] if http else None)
                dests = (main or {}).get("route") or []
                weights = [(f"outbound|{r.port}|{(d.get('destination') or {}).get('subset') or ''}|{r.fqdn}",
                            int(d.get("weight", 100 if len(dests) == 1 else 0))) for d in dests]
                if weights and weights != r.weights:
                    changed = True
                    r = OutboundRoute(r.port, r.fqdn, r.virtual_service, weights)
                routes.append(r)
            if changed:
                sc.push_routes(routes)
                pushed += 1
        return pushed

    def send(self, from_deployment: str, port: int, host: str, n: int = 1, *, lb: int | None = None,
             path: str = "/api") -> dict[int, int]:
        """Send ``n`` HTTP requests out through a sidecar's outbound listener for ``port``; count status codes.

        ``lb`` picks the weighted cluster deterministically (value mod total weight, in route order).
        """
        import urllib.error
        import urllib.request

        from .envoy import LB_HEADER

        sc = self.sidecar(from_deployment)
        headers = {"Host": host, **({LB_HEADER: str(lb)} if lb is not None else {})}
        codes: dict[int, int] = {}
        for _ in range(n):
            req = urllib.request.Request(f"http://127.0.0.1:{sc.route_ports[port]}{path}", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except OSError:
                code = 0
            codes[code] = codes.get(code, 0) + 1
        return codes

    def _ejected(self, sc: Sidecar) -> bool:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{sc.admin_port}/clusters", timeout=5) as r:
            return "failed_outlier_check" in r.read().decode()

    def eject(self, from_deployment: str, port: int, host: str, *, lb: int, timeout: float = 10.0) -> dict[int, int]:
        """Send requests to a failing backend until the caller's sidecar shows an outlier ejection; count codes."""
        sc = self.sidecar(from_deployment)
        codes: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while True:
            for code, n in self.send(from_deployment, port, host, 3, lb=lb).items():
                codes[code] = codes.get(code, 0) + n
            if self._ejected(sc) or time.monotonic() > deadline:
                return codes
            time.sleep(0.2)

    def during_ejection(self, from_deployment: str, port: int, host: str, read: Callable[[], T], *, lb: int,
                        attempts: int = 5) -> tuple[dict[int, int], T]:
        """Eject (see ``eject``), then ``read()``, and make sure the ejection held across the read.

        An ejection made earlier in a run ends after baseEjectionTime, possibly between ``eject`` seeing it and
        ``read`` running: when it is gone after the read, eject again and read again. Nothing is sent between
        the two checks, so ejected before and after means ejected during the read.
        """
        sc = self.sidecar(from_deployment)
        codes: dict[int, int] = {}
        for _ in range(attempts):
            for code, n in self.eject(from_deployment, port, host, lb=lb).items():
                codes[code] = codes.get(code, 0) + n
            out = read()
            if self._ejected(sc):
                break
        return codes, out

    def inject_fault(self, path_regex: str, status: int = 500, *, method: str | None = None, delay: float = 0.0,
                     times: int | None = None, headers: dict[str, str] | None = None,
                     query_key: str | None = None, after: Callable[[], None] | None = None,
                     drop: bool = False) -> Fault:
        """Fault matching requests. ``status=0`` serves them normally, then runs ``after`` and/or (``drop``) cuts
        the connection instead of answering."""
        import re

        f = Fault(method, re.compile(path_regex), status, delay, times, headers or {}, query_key=query_key,
                  after=after, drop=drop)
        self.api.faults.append(f)
        return f

    def edit(self, group: str, plural: str, namespace: str, name: str, change: Callable[[dict], None]) -> dict:
        """Another writer: change a stored object in place (its resourceVersion moves on), as kubectl would."""
        obj = self.api.store[(group, plural)][(namespace, name)]
        change(obj)
        self.api._stamp(obj, new=False)
        return obj

    def after_read(self, path_regex: str, change: Callable[[], None], times: int = 1) -> Fault:
        """Run ``change`` (another writer) right after the next matching GET has been answered: the edit lands
        between a tool's read and its write."""
        return self.inject_fault(path_regex, 0, method="GET", times=times, after=change)

    def clear_faults(self) -> None:
        self.api.faults.clear()


def run_until_interrupted(envoy: bool = True) -> int:
    """`mesh-plugin sandbox`: start the sandbox, print how to reach it, serve until Ctrl-C or SIGTERM."""
    import signal
    import threading

    sb = Sandbox(envoy=envoy).start()
    print(f"Sandbox cluster ready in {sb.started_in:.2f}s at {sb.url} with {len(sb.sidecars)} Envoy sidecar(s).")
    print(f"  export KUBECONFIG={sb.kubeconfig}")
    print("  kubectl get pods -n production; mesh-plugin overview")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0
