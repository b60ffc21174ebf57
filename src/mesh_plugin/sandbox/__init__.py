"""The embedded sandbox cluster: a Kubernetes API (kmock, extended) plus real Envoy sidecars.

    with Sandbox().start() as sb:
        os.environ["KUBECONFIG"] = sb.kubeconfig
        ...

The sidecars' configuration comes from one of two sources (``Sandbox.config_source``):

- ``istiod``: when the Istio oracle is built (``.tools/oracle/mesh-oracle``, or MESH_ORACLE_DIR) and this
  process may make network namespaces, istiod's own config generator (``mesh-oracle serve``) serves ADS to an
  Envoy in every injected pod and the ingress gateway. Each pod has its own network namespace with its
  ``status.podIP`` on a bridge, istio-init's redirection, and its app process listening there, so the
  endpoints istiod pushes are where the apps are. Every write to the API reaches istiod (debounced).
- ``generator``: otherwise (``make demo`` without Go), ``envoy.py``'s Istio-like config on 127.0.0.1 ports for
  the frontend and payment-api-v1 sidecars, pushed through watched files.

The kube API, the port-forwards and the admin ports bind 127.0.0.1 on random free ports; pods' addresses
exist only in namespaces this process holds. ``stop()`` ends every process it started (Envoys and istiod also
die with their parent) and frees the namespaces and the temp dir.

With the ``prometheus`` binary on PATH, a Prometheus scrapes the sandbox's Envoys and records Istio's
``istio_requests_total`` from their counters (``prometheus.py``; ``Sandbox.prometheus_url``, ``wait_metrics()``;
MESH_SANDBOX_PROMETHEUS=0 turns it off). It starts in the background: ``start()`` does not wait for it.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import yaml

from .api import APIServerThread, Fault, SandboxAPI
from .certs import MeshCA
from .envoy import OutboundCluster, OutboundRoute, Sidecar, SidecarSpec
from . import pin, seed

__all__ = ["Sandbox", "SandboxAPI", "Fault"]

T = TypeVar("T")

#: kinds whose writes change what istiod generates (the generator only follows VirtualServices)
_ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io",
                 "gateway.networking.k8s.io", "discovery.k8s.io")
_CORE = ("pods", "services", "namespaces", "secrets", "configmaps", "endpoints")
PUSH_DEBOUNCE = 0.05


class Sandbox:
    """Start with :meth:`start`; use as a context manager to stop cleanly."""

    def __init__(self, *, envoy: bool = True, seed_cluster: bool = True, mesh: str = "istio",
                 config: str | None = None, variant: str | None = None, prometheus: bool | None = None) -> None:
        """``mesh``: "istio" (the production namespace, Envoy sidecars), "linkerd" (a Linkerd mesh with the
        emojivoto namespace), "both", or "none" (a cluster with workloads and no mesh).

        ``config``: where the sidecars' configuration comes from: "istiod" (the oracle; an error if it cannot
        run), "generator" (envoy.py), or "auto" (istiod when it can run, else the generator; the default,
        or MESH_SANDBOX_CONFIG).

        ``variant``: "default", or "ambient" (or MESH_SANDBOX_VARIANT): the ambient profile on top, i.e. istiod
        with ambient on, ztunnel and istio-cni DaemonSets, and the ``orders`` namespace in ambient mode with a
        waypoint (see ``seed.ambient_namespace``). Its ztunnel answers ``/config_dump`` on port 15000 through the
        pod proxy; its waypoint runs a real Envoy with istiod's waypoint config when istiod runs.

        ``prometheus``: run a Prometheus that scrapes the Envoys (``prometheus.py``) when the binary is on PATH:
        None (the default) unless MESH_SANDBOX_PROMETHEUS=0, True whatever that says, False never."""
        self.variant = variant or os.environ.get("MESH_SANDBOX_VARIANT") or "default"
        if self.variant not in ("default", "ambient"):
            raise ValueError(f"variant must be default or ambient, not {self.variant!r}")
        if self.variant == "ambient" and mesh not in ("istio", "both"):
            raise ValueError("the ambient variant is an Istio mesh: use mesh='istio'")
        self.ambient = self.variant == "ambient"
        self.with_envoy = envoy and mesh in ("istio", "both")
        self.seed_cluster = seed_cluster
        self.mesh = mesh
        self.config_wanted = config or os.environ.get("MESH_SANDBOX_CONFIG") or "auto"
        if self.config_wanted not in ("auto", "istiod", "generator"):
            raise ValueError(f"config must be auto, istiod or generator, not {self.config_wanted!r}")
        #: "istiod" or "generator" once started with sidecars, else "none"
        self.config_source = "none"
        #: why the generator runs instead of istiod (empty when istiod runs)
        self.config_note = ""
        self.server = APIServerThread()
        self.api: SandboxAPI = self.server.api
        self.dir = tempfile.mkdtemp(prefix="mesh-sandbox-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.sidecars: dict[str, Any] = {}      # pod name -> Sidecar (generator) or IstioProxy (istiod)
        self.apps: list[seed.App] = []
        self.app_ports: dict[str, int] = {}   # pod name -> 127.0.0.1 port of its app process (a port-forward)
        self.ca = MeshCA(seed.TRUST_DOMAIN)
        self.istiod: Any = None
        self.net: Any = None
        self._runners: list[Any] = []
        self._closers: list[Any] = []           # async closables on the API loop (agents, forwarders)
        self._agents: dict[str, tuple[Any, Any]] = {}   # pod -> (SDSServer, XDSRelay)
        #: seeded objects left out because the API does not serve their kind
        self.unserved: list[str] = []
        #: ztunnel pod name -> its admin (ambient variant)
        self.ztunnels: dict[str, Any] = {}
        self.prometheus_wanted = prometheus
        #: the sandbox's Prometheus (prometheus.SandboxPrometheus) while it runs, else None
        self.prometheus: Any = None
        #: why there is no Prometheus (empty when there is one)
        self.prometheus_note = ""
        self._certs: dict[tuple[str, str], bytes] = {}
        self._held: set[str] = set()
        self._pusher: threading.Thread | None = None
        self._push_cond = threading.Condition()
        self._gen = 0
        self._flushed = 0
        self._due = 0.0
        self._stopping = False
        self.pushes = 0
        self.started_in = 0.0
        self.stopped_in = 0.0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def prometheus_url(self) -> str | None:
        """The sandbox's Prometheus (http://127.0.0.1:PORT), or None (``prometheus_note`` says why)."""
        return self.prometheus.url if self.prometheus is not None else None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        t0 = time.monotonic()
        self.server.start()
        try:
            if self.seed_cluster:
                self._seed()
            self._write_kubeconfig()
            if self.with_envoy and self.seed_cluster:
                if self._use_istiod():
                    self._start_istiod_mesh()
                else:
                    self._start_sidecars()
                self._start_pusher()
            if self.ambient and self.seed_cluster:
                self._start_ztunnels()
            self._start_prometheus()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def _use_istiod(self) -> bool:
        if self.config_wanted == "generator":
            self.config_note = "the built-in generator was asked for"
            return False
        from . import istiod, netns

        binary, why = istiod.find_binary()
        if binary is not None:
            ok, why = netns.available()
            if ok:
                return True
            why = f"pods need network namespaces: {why}"
        if self.config_wanted == "istiod":
            raise RuntimeError(f"the sandbox cannot run istiod: {why}")
        self.config_note = why
        return False

    def stop(self) -> None:
        t0 = time.monotonic()
        self._stopping = True
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        with self._push_cond:
            self._push_cond.notify_all()
        if self._pusher is not None:
            self._pusher.join(10)
            self._pusher = None
        for sc in self.sidecars.values():
            sc.stop()
        self.sidecars.clear()
        if self.istiod is not None:
            self.istiod.stop()
            self.istiod = None
        if self.server.loop.is_running():
            for c in [*self._closers, *self._runners]:
                try:
                    self.server.call(c.close() if hasattr(c, "close") else c.cleanup(), timeout=5)
                except Exception:  # noqa: S110 - best effort on shutdown
                    pass
        self._closers.clear()
        self._runners.clear()
        self.server.stop()
        if self.net is not None:
            self.net.close()
            self.net = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.stopped_in = time.monotonic() - t0

    def __enter__(self) -> "Sandbox":
        return self if self.server.port else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- metrics -----------------------------------------------------------------------------------
    def _start_prometheus(self) -> None:
        """Start the sandbox's Prometheus in the background (see prometheus.py), or say why not."""
        from . import prometheus

        if self.prometheus_wanted is False:
            self.prometheus_note = "turned off (Sandbox(prometheus=False))"
            return
        if not self.sidecars:
            self.prometheus_note = "no Envoy proxies to scrape"
            return
        binary, why = prometheus.find_binary(ignore_env=self.prometheus_wanted is True)
        if binary is None:
            self.prometheus_note = why
            return
        self.prometheus = prometheus.SandboxPrometheus(self, binary, os.path.join(self.dir, "prometheus")).start()

    def wait_metrics(self, timeout: float = 30.0) -> None:
        """Wait until the sandbox's Prometheus has scraped every Envoy after this call and recorded
        istio_requests_total from that scrape: requests sent before the call are then in the metrics."""
        if self.prometheus is None:
            raise RuntimeError(f"the sandbox has no Prometheus: {self.prometheus_note}")
        self.prometheus.wait_metrics(timeout)

    def describe_prometheus(self) -> str:
        return self.prometheus.describe() if self.prometheus is not None else f"none: {self.prometheus_note}"

    # -- content ---------------------------------------------------------------------------------
    def _seed(self) -> None:
        objs, self.apps = seed.production()
        if self.mesh in ("istio", "both"):
            control = seed.istio_control_plane()
            if self.ambient:
                seed.istiod_ambient_env(control)
                control += seed.ambient_control_plane()
            objs = control + objs + seed.gateway_api_crds() + seed.gateway_classes(self.ambient) + \
                seed.gateway_api(self.ambient)
            if self.ambient:
                more, apps = seed.ambient_namespace()
                objs += more
                self.apps += apps
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
            try:
                self.api.put_object(obj)
            except KeyError:  # a kind the API does not serve (kube/kinds.py): left out, and said
                self.unserved.append(f"{obj.get('apiVersion')} {obj.get('kind')} "
                                     f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}".replace(" /", " "))

    def apply(self, objs: list[dict]) -> None:
        """Add objects directly (test set-up), bypassing the HTTP API. The control plane sees them."""
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

    # -- app processes ---------------------------------------------------------------------------
    def _app_handler(self, pod: str, app: seed.App) -> Any:
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            return web.json_response({"service": app.app, "version": app.version, "pod": pod,
                                      "path": request.path, "headers": dict(request.headers)}, status=app.status)

        webapp = web.Application()
        webapp.router.add_route("*", "/{tail:.*}", handle)
        return webapp

    async def _start_app(self, pod: str, app: seed.App, sock: socket.socket | None = None) -> int:
        """The app process of a pod: on 127.0.0.1 (generator), or on ``sock`` in the pod's namespace."""
        from aiohttp import web

        runner = web.AppRunner(self._app_handler(pod, app), access_log=None)
        await runner.setup()
        site: Any = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    # -- generator mode: envoy.py's config on 127.0.0.1 -------------------------------------------
    def _start_sidecars(self) -> None:
        self.config_source = "generator"
        for a in self.apps:
            for pod in a.pods:
                name = pod["metadata"]["name"]
                port = self.server.call(self._start_app(name, a))
                self.app_ports[name] = port
                self.api.pod_ports[(a.namespace, name, a.port)] = port
        by = {a.deployment: a for a in self.apps}

        def ports(dep: str) -> list[int]:
            return [self.app_ports[p["metadata"]["name"]] for p in by[dep].pods]

        fqdn = f"payment-api.{seed.NS}.svc.cluster.local"
        rfqdn = f"reviews.{seed.NS}.svc.cluster.local"
        od = seed.payment_outlier_detection()
        pool = seed.payment_circuit_breakers()
        pdr, rdr = f"{seed.NS}/payment-api", f"{seed.NS}/reviews"
        frontend_clusters = [
            OutboundCluster(f"outbound|8080||{fqdn}", ports("payment-api-v1") + ports("payment-api-v2"), od, pool,
                            destination_rule=pdr),
            OutboundCluster(f"outbound|8080|v1|{fqdn}", ports("payment-api-v1"), od, pool, destination_rule=pdr),
            OutboundCluster(f"outbound|8080|v2|{fqdn}", ports("payment-api-v2"), od, pool, destination_rule=pdr),
            OutboundCluster(f"outbound|9080||{rfqdn}", ports("reviews-v1") + ports("reviews-v2"), destination_rule=rdr),
            OutboundCluster(f"outbound|9080|v1|{rfqdn}", ports("reviews-v1"), destination_rule=rdr),
            OutboundCluster(f"outbound|9080|v2|{rfqdn}", ports("reviews-v2"), destination_rule=rdr),
        ]
        frontend_routes = self._generator_routes()
        plan = [("frontend", frontend_clusters, frontend_routes), ("payment-api-v1", [], [])]
        for dep, clusters, routes in plan:
            a = by[dep]
            pod = a.pods[0]
            name = pod["metadata"]["name"]
            spec = SidecarSpec(namespace=seed.NS, pod=name, pod_ip=pod["status"]["podIP"],
                               service_account=a.service_account, app_port=a.port,
                               app_real_port=self.app_ports[name],
                               certs=self.ca.issue(seed.NS, a.service_account), root_pem=self.ca.cert_pem,
                               clusters=clusters, routes=routes, istio_version=seed.ISTIO_VERSION,
                               inbound_services=self._services_selecting(pod),
                               inbound_destination_rule=pdr if a.app == "payment-api" else None,
                               inbound_pool=pool if a.app == "payment-api" else None)
            self.sidecars[name] = Sidecar(spec, os.path.join(self.dir, f"sidecar-{name}")).start()
        for name, sc in self.sidecars.items():
            sc.wait_ready()
            self.api.pod_ports[(seed.NS, name, 15000)] = sc.admin_port

    def _services_selecting(self, pod: dict) -> list[dict]:
        """The Services of a pod's namespace whose selector matches it, as istiod lists them in the inbound
        cluster's metadata (by hostname)."""
        ns, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
        out = []
        for svc in self.api.store[("", "services")].values():
            sel = (svc.get("spec") or {}).get("selector")
            if svc["metadata"].get("namespace") == ns and sel and all(labels.get(k) == v for k, v in sel.items()):
                name = svc["metadata"]["name"]
                out.append({"host": f"{name}.{ns}.svc.cluster.local", "name": name, "namespace": ns})
        return sorted(out, key=lambda x: x["host"])

    #: the services the generator's frontend sidecar calls
    GENERATOR_SERVICES = (("payment-api", 8080), ("reviews", 9080))

    def _generator_routes(self) -> list[OutboundRoute]:
        from .envoy import routes_from_virtual_services

        vss = list(self.api.store[("networking.istio.io", "virtualservices")].values())
        out: list[OutboundRoute] = []
        for name, port in self.GENERATOR_SERVICES:
            svc = self.api.store[("", "services")].get((seed.NS, name)) or {}
            out += routes_from_virtual_services(vss, f"{name}.{seed.NS}.svc.cluster.local", port,
                                                (svc.get("spec") or {}).get("clusterIP"))
        return out

    # -- istiod mode: the oracle's istiod, pods in network namespaces -----------------------------
    def _mesh_pods(self) -> list[tuple[dict, seed.App | None, bool]]:
        """(pod, its app or None, has a sidecar) for the pods that get a network namespace: the seeded
        production pods and the ingress gateway."""
        out: list[tuple[dict, seed.App | None, bool]] = []
        for a in self.apps:
            for pod in a.pods:
                out.append((pod, a, a.inject))
        for pod in self.api.store[("", "pods")].values():
            labels = (pod.get("metadata") or {}).get("labels") or {}
            if pod["metadata"].get("namespace") == seed.ROOT_NS and labels.get("istio") == "ingressgateway":
                out.append((pod, None, True))
            elif labels.get("gateway.istio.io/managed") == "istio.io-mesh-controller":  # a waypoint
                out.append((pod, None, True))
        return out

    def _start_istiod_mesh(self) -> None:
        from . import agent, istiod, netns
        from .forward import Forwarder
        from .proxy import ADMIN_PORT, IstioProxy, ProxySpec, agent_bootstrap

        self.config_source = "istiod"
        binary, _ = istiod.find_binary()
        assert binary is not None
        self.istiod = istiod.Istiod(binary, os.path.join(self.dir, "istiod"), ambient=self.ambient)
        os.makedirs(self.istiod.workdir, exist_ok=True)
        self.istiod.spawn(self._objects())            # istiod starts while the pods are set up
        self.net = netns.PodNetwork()
        pods = self._mesh_pods()
        keys = {p["metadata"]["name"]: p for p, _, _ in pods}
        self.net.add_pods({name: (p["status"]["podIP"], bool(a is not None and inject))
                           for name, (p, a, inject) in zip(keys, pods)})

        async def forward(ns: Any, host: str, port: int) -> int:
            f = await Forwarder(ns, host, port).start()
            self._closers.append(f)
            return f.local_port

        async def setup() -> list[tuple[Any, dict]]:
            planned = []
            for pod, app, inject in pods:
                name, ns_name = pod["metadata"]["name"], pod["metadata"]["namespace"]
                pod_ns = self.net.pods[name]
                if app is not None:
                    sock = pod_ns.listen("0.0.0.0", app.port)
                    await self._start_app(name, app, sock)
                    # kubectl port-forward: inside the pod, to the app's port (the sidecar is not in the way)
                    self.app_ports[name] = await forward(pod_ns, "127.0.0.1", app.port)
                    # the API server's pod proxy dials the pod IP from the node: through the sidecar when there is one
                    self.api.pod_ports[(ns_name, name, app.port)] = await forward(
                        self.net.node, pod["status"]["podIP"], app.port)
                if not inject:
                    continue
                sa = pod["spec"].get("serviceAccountName") or "default"
                pdir = os.path.join(self.dir, "pods", name)
                os.makedirs(pdir, exist_ok=True)
                kp = self.ca.issue(ns_name, sa)
                sds = await agent.SDSServer(os.path.join(pdir, "sds.sock"), {
                    "default": agent.tls_certificate_secret("default", kp.cert_pem, kp.key_pem),
                    "ROOTCA": agent.validation_context_secret("ROOTCA", self.ca.cert_pem)}).start()
                relay = await agent.XDSRelay(os.path.join(pdir, "xds.sock"), self.istiod.ads_path).start()
                self._closers += [sds, relay]
                self._agents[name] = (sds, relay)
                waypoint = (pod["metadata"].get("labels") or {}).get("gateway.istio.io/managed") == \
                    "istio.io-mesh-controller"
                spec = ProxySpec(namespace=ns_name, pod=name, pod_ip=pod["status"]["podIP"], service_account=sa,
                                 app_port=app.port if app is not None else None,
                                 kind="sidecar" if app is not None else "waypoint" if waypoint else "router")
                admin = await forward(pod_ns, "127.0.0.1", ADMIN_PORT)
                inbound = await forward(self.net.node, spec.pod_ip, app.port) if app is not None else 0
                planned.append((spec, {"admin": admin, "inbound": inbound, "dir": pdir}))
            return planned

        planned = self.server.call(setup(), timeout=60)
        self.istiod.wait_started()
        for spec, ports in planned:
            boot = agent_bootstrap(self.istiod.bootstrap(spec.proxy_id, f"127.0.0.1:{ADMIN_PORT}"),
                                   os.path.join(ports["dir"], "xds.sock"), os.path.join(ports["dir"], "sds.sock"))
            px = IstioProxy(spec, self.net.pods[spec.pod], os.path.join(ports["dir"], "envoy"), boot)
            px.admin_port, px.inbound_port = ports["admin"], ports["inbound"]
            self.sidecars[spec.pod] = px.start()
            self.api.pod_ports[(spec.namespace, spec.pod, ADMIN_PORT)] = px.admin_port
        for px in self.sidecars.values():
            px.wait_ready()

    def _objects(self) -> list[dict]:
        """A copy of every stored object (taken on the API's loop, so it is consistent)."""
        import copy

        async def snap() -> list[dict]:
            return [copy.deepcopy(o) for store in self.api.store.values() for o in store.values()]

        if threading.current_thread() is self.server._thread:  # noqa: SLF001
            raise RuntimeError("_objects() must not run on the API loop")
        return self.server.call(snap())

    # -- ambient: the ztunnel's admin ---------------------------------------------------------------
    def _start_ztunnels(self) -> None:
        """An admin endpoint per ztunnel pod (``ztunnel.Ztunnel``), on a 127.0.0.1 port the pod proxy reaches as
        the pod's port 15000. Its state is what istiod serves that ztunnel (istiod mode), else what
        ``ztunnel.workload_xds`` builds from the objects."""
        from . import ztunnel

        pods = [p for p in self.api.store[("", "pods")].values()
                if (p["metadata"].get("labels") or {}).get("app") == "ztunnel"
                and p["metadata"].get("namespace") == seed.ROOT_NS]
        for pod in pods:
            proxy = f"{pod['metadata']['name']}.{pod['metadata']['namespace']}"
            if self.config_source == "istiod":
                fetch, source = (lambda proxy=proxy: self.istiod.ztunnel(proxy)), "istiod"
            else:
                fetch, source = (lambda: ztunnel.workload_xds(self._objects())), "objects"
            node = pod["spec"].get("nodeName") or seed.NODE
            zt = ztunnel.Ztunnel(pod, fetch, source, lambda node=node: self._captured_pods(node), self._ztunnel_certs)
            runner_port = self.server.call(self._serve_admin(zt.app()))
            zt.admin_port = runner_port
            self.api.pod_ports[(seed.ROOT_NS, zt.name, seed.ZTUNNEL_ADMIN_PORT)] = runner_port
            self.ztunnels[zt.name] = zt

    async def _serve_admin(self, app: Any) -> int:
        from aiohttp import web

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    def _captured_pods(self, node: str) -> list[dict]:
        """The pods a ztunnel on ``node`` captures: Running, with ``ambient.istio.io/redirection: enabled``."""
        import copy

        async def snap() -> list[dict]:
            return [copy.deepcopy(p) for p in self.api.store[("", "pods")].values()
                    if ((p["metadata"].get("annotations") or {}).get("ambient.istio.io/redirection") == "enabled"
                        and (p.get("spec") or {}).get("nodeName") == node
                        and (p.get("status") or {}).get("phase") == "Running")]

        return sorted(self.server.call(snap()), key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))

    def _ztunnel_certs(self, pods: list[dict]) -> list[dict]:
        """The certificates a ztunnel holds for its pods' identities, from the sandbox CA (one per identity)."""
        from .ztunnel import cert_dump

        out = []
        for ns, sa in sorted({(p["metadata"]["namespace"], p["spec"].get("serviceAccountName") or "default")
                              for p in pods}):
            if (ns, sa) not in self._certs:
                self._certs[(ns, sa)] = self.ca.issue(ns, sa).cert_pem
            out.append(cert_dump(self.ca.spiffe_id(ns, sa), self._certs[(ns, sa)]))
        return out

    def ztunnel(self, name: str | None = None) -> Any:
        """The ztunnel (the first one, or by pod name) of the ambient variant."""
        if not self.ztunnels:
            raise KeyError("no ztunnel: start Sandbox(variant='ambient')")
        return self.ztunnels[name] if name else next(iter(self.ztunnels.values()))

    # -- pushes -----------------------------------------------------------------------------------
    def _start_pusher(self) -> None:
        self.api.on_change = self._changed
        self._pusher = threading.Thread(target=self._push_loop, name="sandbox-push", daemon=True)
        self._pusher.start()

    def _changed(self, group: str, plural: str) -> None:
        """A write reached the API: push the new config after PUSH_DEBOUNCE (writes in that window share it)."""
        relevant = group in _ISTIO_GROUPS or (group == "" and plural in _CORE)
        if self.config_source == "generator":
            relevant = (group, plural) == ("networking.istio.io", "virtualservices")
        if not relevant:
            return
        with self._push_cond:
            self._gen += 1
            self._due = time.monotonic() + PUSH_DEBOUNCE
            self._push_cond.notify_all()

    def _push_loop(self) -> None:
        while True:
            with self._push_cond:
                while not self._stopping and (self._flushed >= self._gen or time.monotonic() < self._due):
                    wait = self._due - time.monotonic() if self._flushed < self._gen else None
                    self._push_cond.wait(wait if wait is None or wait > 0 else 0.001)
                if self._stopping:
                    return
                gen = self._gen
            try:
                self._push_now()
            except Exception as e:  # noqa: BLE001 - a failed push is reported, the sandbox keeps running
                self.last_push_error = f"{type(e).__name__}: {e}"
            with self._push_cond:
                self._flushed = max(self._flushed, gen)
                self.pushes += 1
                self._push_cond.notify_all()

    def _push_now(self) -> None:
        if self.config_source == "istiod":
            self.istiod.reload(self._objects())
        else:
            self._push_generator_routes()

    def flush(self, timeout: float = 30.0) -> None:
        """Push any pending change now and wait until it is handed to the control plane."""
        with self._push_cond:
            if self._pusher is None:
                return
            target = self._gen
            self._due = time.monotonic()
            self._push_cond.notify_all()
            end = time.monotonic() + timeout
            while self._flushed < target and not self._stopping:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the sandbox's control plane did not take the change")
                self._push_cond.wait(left)

    def wait_synced(self, timeout: float = 30.0) -> None:
        """Flush, then wait until every connected sidecar has ACKed what istiod sent (stable for ~0.1 s)."""
        self.flush(timeout)
        if self.config_source != "istiod":
            time.sleep(0.1)  # Envoy reloads watched files within ~25 ms
            return
        from .istiod import acked

        end = time.monotonic() + timeout
        stable, last = 0, None
        while time.monotonic() < end:
            sync = self.istiod.syncz()
            state = sorted((s.get("proxy"), s.get("route_sent"), s.get("cluster_sent"), s.get("listener_sent"),
                            s.get("endpoint_sent")) for s in sync)
            connected = {s.get("proxy") for s in sync}
            want = {px.spec.proxy_id for pod, px in self.sidecars.items() if pod not in self._held and px.proc}
            if want <= connected and all(acked(s) for s in sync if s.get("proxy") in want) and state == last:
                stable += 1
                # a listener warming on its SDS secret asks for its routes only once the secret is in: not
                # synced until no Envoy warms a listener or a cluster (the gateway's 8443 listener does)
                if stable >= 3 and not self._warming():
                    return
            else:
                stable = 0
            last = state
            time.sleep(0.03)
        raise TimeoutError(f"sidecars not in sync with istiod after {timeout}s")

    def _warming(self) -> bool:
        """Does a running sidecar still warm a listener or a cluster (Envoy's own counters)?"""
        for pod, px in self.sidecars.items():
            if pod in self._held or not px.proc:
                continue
            try:
                st = px.config_state()
            except OSError:
                return True
            if st.get("listener_manager.total_listeners_warming") or st.get("cluster_manager.warming_clusters"):
                return True
        return False

    def push_routes(self) -> int:
        """Play (or wait for) the control plane: push the pending change to the sidecars now. Returns how many
        sidecars got new routes from this call (a change already pushed by the debounce counts 0)."""
        if self.config_source == "istiod":
            def routes() -> dict[str, str]:
                return {s.get("proxy"): s.get("route_sent", "") for s in self.istiod.syncz()}

            before = routes()
            self.wait_synced()
            after = routes()
            return sum(1 for px in self.sidecars.values()
                       if px.spec.proxy_id in before and before.get(px.spec.proxy_id) != after.get(px.spec.proxy_id))
        with self._push_cond:
            pending = self._flushed < self._gen
        if pending:
            before = self.pushes
            self.flush()
            pushed = self._last_generator_pushes if self.pushes > before else 0
        else:
            pushed = self._push_generator_routes()
        time.sleep(0.1)  # Envoy reloads watched files within ~25 ms
        return pushed

    _last_generator_pushes = 0

    def _push_generator_routes(self) -> int:
        """Generator mode: push each sidecar the routes of the current VirtualServices. Returns pushes."""
        pushed = 0
        routes = self._generator_routes()
        for name, sc in self.sidecars.items():
            if name in self._held or not sc.spec.routes:
                continue
            if routes != sc.spec.routes:
                sc.push_routes(routes)
                pushed += 1
        self._last_generator_pushes = pushed
        return pushed

    @contextlib.contextmanager
    def hold_pushes(self, deployment: str) -> Iterator[None]:
        """Keep the control plane's pushes from a deployment's sidecar (the first pod's) until the block ends:
        it keeps applying the config it had, as a proxy a push did not reach. Then it catches up. ``deployment``
        may also name one pod (a key of ``sidecars``). The hold is in force when the block starts."""
        sc = self.sidecars[deployment] if deployment in self.sidecars else self.sidecar(deployment)
        pod = sc.spec.pod
        self._held.add(pod)
        relay = self._agents.get(pod, (None, None))[1]
        if relay is not None:
            import asyncio

            async def hold() -> None:
                relay.hold()
            asyncio.run_coroutine_threadsafe(hold(), self.server.loop).result(timeout=10)
        try:
            yield
        finally:
            self._held.discard(pod)
            if relay is not None:
                self.server.loop.call_soon_threadsafe(relay.release)
            else:
                self._changed("networking.istio.io", "virtualservices")

    @contextlib.contextmanager
    def sidecar_down(self, deployment: str) -> Iterator[None]:
        """The sidecar of a deployment's first pod is not running during the block (its admin is unreachable);
        afterwards it starts again and takes its config. A deployment without a running Envoy: nothing to do."""
        name = self.pod_name(deployment)
        sc = self.sidecars.get(name)
        if sc is None or not hasattr(sc, "kill"):
            yield
            return
        sc.kill()
        try:
            yield
        finally:
            sc.start()
            sc.wait_ready()

    # -- helpers for tests and the demo ---------------------------------------------------------
    def sidecar(self, deployment: str) -> Any:
        for name, sc in self.sidecars.items():
            if name.startswith(deployment + "-"):
                return sc
        raise KeyError(deployment)

    def pod_name(self, deployment: str, index: int = 0) -> str:
        for a in self.apps:
            if a.deployment == deployment:
                return str(a.pods[index]["metadata"]["name"])
        raise KeyError(deployment)

    def endpoint(self, pod: str) -> str:
        """The address a sidecar's endpoints list for a pod's app: ``POD_IP:PORT`` with istiod, the app's
        127.0.0.1 port with the generator."""
        for a in self.apps:
            for p in a.pods:
                if p["metadata"]["name"] == pod:
                    if self.config_source == "istiod":
                        return f"{p['status']['podIP']}:{a.port}"
                    return f"127.0.0.1:{self.app_ports[pod]}"
        raise KeyError(pod)

    def describe_config_source(self) -> str:
        if self.config_source == "istiod":
            out = (f"istiod {pin.ISTIO_VERSION} (Istio {pin.ISTIO_COMMIT}, the oracle's mesh-oracle serve"
                   f"{' --ambient' if self.ambient else ''}) over ADS to {len(self.sidecars)} Envoys in their pods' "
                   "network namespaces")
        elif self.config_source == "generator":
            out = (f"the built-in generator (src/mesh_plugin/sandbox/envoy.py, Istio-like) over watched files to "
                   f"{len(self.sidecars)} Envoys on 127.0.0.1" + (f"; not istiod: {self.config_note}"
                                                                 if self.config_note else ""))
        else:
            out = "no sidecars"
        if self.ambient:
            out += "; " + self.describe_ambient()
        return out

    def describe_ambient(self) -> str:
        """Where the ambient variant's ztunnel state and waypoint config come from."""
        if not self.ztunnels:
            return "ambient: no ztunnel"
        zt = self.ztunnel()
        waypoints = [n for n, px in self.sidecars.items() if getattr(px.spec, "kind", "") == "waypoint"]
        src = ("istiod's workload xDS (delta ADS as the ztunnel pod: istio.workload.Address, "
               "istio.security.Authorization)" if zt.source == "istiod" else
               "the objects (ztunnel.workload_xds, istiod's ambient index rules; no istiod here)")
        wp = (f"waypoint {', '.join(waypoints)} runs Envoy with istiod's waypoint config" if waypoints else
              "the waypoint pod runs no Envoy (its config needs istiod)")
        return f"ambient: ztunnel {zt.name} /config_dump from {src}; {wp}"

    def _service(self, host: str, namespace: str) -> tuple[str, str, dict | None]:
        name = host.split(":")[0]
        parts = name.split(".")
        ns = parts[1] if len(parts) > 1 and parts[1] != "svc" else namespace
        return parts[0], ns, self.api.store[("", "services")].get((ns, parts[0]))

    def send(self, from_deployment: str, port: int, host: str, n: int = 1, *, lb: int | None = None,
             path: str = "/api/pay") -> dict[int, int]:
        """Send ``n`` HTTP requests out through a sidecar's outbound listener for ``port``; count status codes.

        ``lb`` picks the weighted cluster of the route (``lb`` mod the total weight, in route order).
        With the generator the route carries ``weighted_clusters.header_name`` and Envoy picks it from a header.
        istiod's routes pick at random, as Envoy does: requests the sidecar sent to another cluster (told by
        its per-cluster counters) are not counted and are sent again. Without ``lb`` every request counts.
        """
        if self.config_source == "istiod":
            return self._send_in_pod(from_deployment, port, host, n, lb, path)
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

    def _send_in_pod(self, from_deployment: str, port: int, host: str, n: int, lb: int | None,
                     path: str) -> dict[int, int]:
        """The app of the deployment's first pod calls ``host:port`` (the Service's ClusterIP); istio-init's
        redirection hands the connection to its sidecar."""
        sc = self.sidecar(from_deployment)
        name, ns, svc = self._service(host, sc.spec.namespace)
        if svc is None:
            raise KeyError(f"no Service {ns}/{name}")
        ip = (svc.get("spec") or {}).get("clusterIP") or ""
        pod_ns = self.net.pods[sc.spec.pod]
        target = self._lb_cluster(sc, port, host, lb) if lb is not None else None
        codes: dict[int, int] = {}
        counted = attempts = 0
        while counted < n:
            attempts += 1
            if attempts > 100 * n:
                raise RuntimeError(f"{attempts - 1} requests and the sidecar never picked {target}")
            before = self._cluster_counts(sc, port) if target else {}
            code = 0
            try:
                sock = pod_ns.connect(ip, port)
                conn = http.client.HTTPConnection(ip, port, timeout=5)
                conn.sock = sock
                try:
                    conn.request("GET", path, headers={"Host": host})
                    resp = conn.getresponse()
                    resp.read()
                    code = resp.status
                finally:
                    conn.close()
            except OSError:
                code = 0
            if target:
                after = self._cluster_counts(sc, port)
                served = {c for c, v in after.items() if v != before.get(c, 0)}
                if served != {target}:
                    continue
            counted += 1
            codes[code] = codes.get(code, 0) + 1
        return codes

    def _lb_cluster(self, sc: Any, port: int, host: str, lb: int) -> str:
        """The cluster Envoy's route for ``host`` on ``port`` picks for the value ``lb``."""
        import json

        dump = json.loads(sc.admin("config_dump?resource=dynamic_route_configs"))
        name = host.split(":")[0]
        for rc in dump.get("configs") or []:
            cfg = rc.get("route_config") or {}
            if cfg.get("name") != str(port):
                continue
            for vh in cfg.get("virtual_hosts") or []:
                if host not in vh.get("domains", []) and name not in vh.get("domains", []):
                    continue
                for r in vh.get("routes") or []:
                    m = r.get("match") or {}
                    if m.get("headers") or m.get("query_parameters") or "route" not in r:
                        continue
                    action = r["route"]
                    if "cluster" in action:
                        return str(action["cluster"])
                    clusters = (action.get("weighted_clusters") or {}).get("clusters") or []
                    total = sum(int(c.get("weight", 0)) for c in clusters)
                    value, acc = lb % total, 0
                    for c in clusters:
                        acc += int(c.get("weight", 0))
                        if value < acc:
                            return str(c["name"])
        raise KeyError(f"no route for {host} on port {port} in {sc.spec.pod}")

    def _cluster_counts(self, sc: Any, port: int) -> dict[str, int]:
        """Requests (and no-healthy-host refusals) per outbound cluster of a port, from Envoy's counters."""
        text = sc.admin(f"stats?filter=^cluster\\.outbound\\|{port}\\|.*\\.(upstream_rq_total|upstream_cx_none_healthy)$"
                        ).decode()
        out: dict[str, int] = {}
        for line in text.splitlines():
            m = re.match(r"^cluster\.(outbound\|.+)\.(upstream_rq_total|upstream_cx_none_healthy): (\d+)$", line)
            if m:  # istiod sets alt_stat_name "NAME;" (its stats tag regexes split on ';')
                name = m.group(1).rstrip(";")
                out[name] = out.get(name, 0) + int(m.group(3))
        return out

    def _ejected(self, sc: Any) -> bool:
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
        f = Fault(method, re.compile(path_regex), status, delay, times, headers or {}, query_key=query_key,
                  after=after, drop=drop)
        self.api.faults.append(f)
        return f

    def edit(self, group: str, plural: str, namespace: str, name: str, change: Callable[[dict], None]) -> dict:
        """Another writer: change a stored object in place (its resourceVersion moves on), as kubectl would.
        The control plane sees the change."""
        obj = self.api.store[(group, plural)][(namespace, name)]
        change(obj)
        self.api._stamp(obj, new=False)
        if self.api.on_change is not None:
            self.api.on_change(group, plural)
        return obj

    def after_read(self, path_regex: str, change: Callable[[], None], times: int = 1) -> Fault:
        """Run ``change`` (another writer) right after the next matching GET has been answered: the edit lands
        between a tool's read and its write."""
        return self.inject_fault(path_regex, 0, method="GET", times=times, after=change)

    def clear_faults(self) -> None:
        self.api.faults.clear()


def run_until_interrupted(envoy: bool = True, variant: str | None = None) -> int:
    """`mesh-plugin sandbox`: start the sandbox, print how to reach it, serve until Ctrl-C or SIGTERM.
    ``variant`` (or MESH_SANDBOX_VARIANT): "ambient" adds the ambient profile and the ``orders`` namespace."""
    import signal

    sb = Sandbox(envoy=envoy, variant=variant).start()
    print(f"Sandbox cluster ({sb.variant}) ready in {sb.started_in:.2f}s at {sb.url} with {len(sb.sidecars)} "
          "Envoy sidecar(s).")
    if sb.sidecars or sb.ambient:
        print(f"  config: {sb.describe_config_source()}")
    if sb.sidecars:
        print(f"  prometheus: {sb.describe_prometheus()}")
    print(f"  export KUBECONFIG={sb.kubeconfig}")
    if sb.prometheus_url:
        print(f"  export MESH_PLUGIN_PROMETHEUS_URL={sb.prometheus_url}")
    print("  kubectl get pods -n production; mesh-plugin overview")
    if sb.ambient:
        zt = sb.ztunnel()
        print(f"  kubectl get --raw /api/v1/namespaces/{zt.namespace}/pods/{zt.name}:15000/proxy/config_dump")
    else:
        print("  MESH_SANDBOX_VARIANT=ambient mesh-plugin sandbox: the ambient variant (ztunnel, waypoint)")
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
