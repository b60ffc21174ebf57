"""The sandbox's Kubernetes API: kmock's emulator, extended to behave like a real API server.

kmock gives us a real aiohttp server, request parsing and Status-shaped errors.
This subclass adds what our tools and kubectl rely on and kmock lacks:
label and field selectors, LIST pagination (limit/continue, 410 on a stale
token), 201 on create, resourceVersion bumps with 409 on stale writes, PUT,
merge/strategic/JSON patches, ``dryRun=All`` that persists nothing, discovery
that kubectl accepts, the pod and service proxy subresources, a request
counter and injectable faults (status, delay, Retry-After) for fault tests.
"""
from __future__ import annotations

import asyncio
import base64
import copy
import datetime as _dt
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.web
import kmock

from ..kube.kinds import ALL_KINDS, NET, SEC, Kind

SHORT_NAMES = {
    "namespaces": ["ns"], "pods": ["po"], "services": ["svc"], "serviceaccounts": ["sa"], "configmaps": ["cm"],
    "deployments": ["deploy"], "statefulsets": ["sts"], "daemonsets": ["ds"], "customresourcedefinitions": ["crd"],
    "virtualservices": ["vs"], "destinationrules": ["dr"], "gateways": ["gw"], "serviceentries": ["se"],
    "peerauthentications": ["pa"], "requestauthentications": ["ra"], "workloadentries": ["we"],
}
KUBE_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.4", "gitCommit": "sandbox", "gitTreeState": "clean",
                "buildDate": "2026-08-12T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc",
                "platform": "linux/amd64"}
_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/(pods|services)/([^/:]+)(?::([^/]+))?/proxy(/.*)?$")


@dataclass
class Fault:
    """Answer matching requests with ``status`` (after ``delay`` seconds), ``times`` times (None: always).

    With ``status=0`` the request is served normally, then: ``after()`` runs (another writer acting between
    a tool's read and its write), and with ``drop`` the connection is cut instead of answering (the write is
    applied but its answer is lost)."""

    method: str | None
    path: re.Pattern[str]
    status: int = 500
    delay: float = 0.0
    times: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0
    #: only requests whose query carries this key (e.g. "continue"); "!key": only those without it
    query_key: str | None = None
    after: Any = None
    drop: bool = False


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str, details: dict | None = None) -> aiohttp.web.Response:
    return aiohttp.web.json_response(
        {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "code": code,
         "reason": reason, "message": message, "details": details or {}},
        status=code,
    )


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also used for strategic merge: lists are replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


def _json_patch(doc: Any, ops: list[dict]) -> Any:
    """RFC 6902 add/remove/replace/test (what kubectl --type=json sends)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ValueError(f"test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise ValueError(f"no value at {op['path']}")
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        else:
            raise ValueError(f"unsupported op {kind}")
    return doc


def _match_labels(labels: dict[str, str], selector: str) -> bool:
    """Equality- and set-based label selectors, as the API server parses them."""
    for req in _split_selector(selector):
        req = req.strip()
        if not req:
            continue
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", req)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in" and labels.get(key) not in vals:
                return False
            if op == "notin" and key in labels and labels[key] in vals:
                return False
            continue
        if req.startswith("!"):
            if req[1:] in labels:
                return False
            continue
        m = re.match(r"^([^!=]+)(==|=|!=)(.*)$", req)
        if m:
            key, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
            if op == "!=":
                if labels.get(key) == val:
                    return False
            elif labels.get(key) != val:
                return False
            continue
        if req not in labels:
            return False
    return True


def _split_selector(selector: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _field(obj: dict, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _match_fields(obj: dict, selector: str) -> bool:
    for req in selector.split(","):
        if not req.strip():
            continue
        m = re.match(r"^([^!=]+)(==|=|!=)(.*)$", req.strip())
        if not m:
            return False
        val = _field(obj, m.group(1).strip())
        if (m.group(2) == "!=") == (val == m.group(3).strip()):
            return False
    return True


@dataclass
class _Req:
    method: str
    url: Any
    path: str
    params: Any
    headers: Any
    body: bytes
    #: status-0 faults this request matched (run after it is served)
    passed: list[Fault] = field(default_factory=list)


class SandboxAPI(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with real API-server semantics for the kinds we serve."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.kinds: dict[tuple[str, str], Kind] = {(k.group, k.plural): k for k in ALL_KINDS}
        self.store: dict[tuple[str, str], dict[tuple[str, str], dict]] = {k: {} for k in self.kinds}
        self.rv = itertools.count(1000)
        self.last_rv = 1000
        self.requests_made = 0
        self.request_log: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        #: (namespace, pod, container port) -> real 127.0.0.1 port of the process playing it
        self.pod_ports: dict[tuple[str, str, int], int] = {}
        #: (namespace, service, port) -> real 127.0.0.1 port
        self.service_ports: dict[tuple[str, str, str], int] = {}
        self.served_kinds: set[tuple[str, str]] = set(self.kinds)
        #: (verb, group, resource) that SelfSubjectAccessReviews deny (default: everything allowed)
        self.denied_access: set[tuple[str, str, str]] = set()
        #: called with (group, plural) after every write that changed the store (the control plane's watch)
        self.on_change: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[int, list[tuple[str, str]]]] = {}

    # -- seeding and inspection (thread-safe enough: called before serving or from tests) -----
    def put_object(self, obj: dict) -> dict:
        kind = self._kind_of(obj)
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "") if kind.namespaced else ""
        if kind.namespaced and not ns:
            meta["namespace"] = ns = "default"
        if kind.kind == "Service":
            self._allocate_cluster_ip(obj)
        self._stamp(obj, new=True)
        self.store[(kind.group, kind.plural)][(ns, meta["name"])] = obj
        self._changed(kind)
        return obj

    def _changed(self, kind: Kind) -> None:
        if self.on_change is not None:
            self.on_change(kind.group, kind.plural)

    def _kind_of(self, obj: dict) -> Kind:
        api_version, k = obj.get("apiVersion", ""), obj.get("kind", "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        for kind in self.kinds.values():
            if kind.group == group and kind.kind == k:
                return kind
        raise KeyError(f"the sandbox does not serve {api_version} {k}")

    def objects_of(self, key_group: str, plural: str) -> list[dict]:
        return list(self.store[(key_group, plural)].values())

    def remove_kind(self, group: str, plural: str) -> None:
        """Stop serving a kind, as when its CRD is not installed."""
        self.served_kinds.discard((group, plural))

    def _allocate_cluster_ip(self, svc: dict) -> None:
        """What the API server does for a Service without ``spec.clusterIP``: an address from the Service range
        (10.96.0.0/12), derived from namespace/name as the Istio oracle derives it (oracle/input.go
        allocateClusterIPs), so istiod and the API agree."""
        import hashlib

        spec = svc.setdefault("spec", {})
        if spec.get("clusterIP") or spec.get("type") == "ExternalName":
            return
        used = {(o.get("spec") or {}).get("clusterIP") for o in self.store[("", "services")].values()}
        m = svc.get("metadata") or {}
        n = int.from_bytes(hashlib.sha256(f"{m.get('namespace', '')}/{m.get('name', '')}".encode()).digest()[:4], "big")
        while True:
            ip = f"10.{96 + (n >> 16) % 16}.{(n >> 8) & 0xFF}.{1 + n % 254}"
            if ip not in used:
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
                return
            n = (n + 1) & 0xFFFFFFFF

    def _stamp(self, obj: dict, new: bool) -> None:
        meta = obj.setdefault("metadata", {})
        rv = next(self.rv)
        self.last_rv = rv
        meta["resourceVersion"] = str(rv)
        if new:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta.setdefault("generation", 1)
        else:
            meta["generation"] = int(meta.get("generation", 1)) + 1

    # -- request entry -------------------------------------------------------------------------
    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Serve what we emulate ourselves; hand anything else (/version, /) to kmock."""
        body = await raw.read()
        request = _Req(raw.method.upper(), raw.rel_url, raw.rel_url.path, raw.rel_url.query, raw.headers, body)
        try:
            resp = await self._serve(request)
        except Exception as e:  # a bug in the emulator: answer like an API server would
            return _status(500, "InternalError", f"sandbox API error: {type(e).__name__}: {e}")
        for fault in request.passed:  # served: now the other writer acts, or the answer is lost
            if fault.after is not None:
                fault.after()
            if fault.drop and raw.transport is not None:
                raw.transport.abort()
        if resp is not None:
            return resp
        return await super().__call__(raw)

    async def _serve(self, request: "_Req") -> aiohttp.web.StreamResponse | None:
        self.requests_made += 1
        path, method = request.path, request.method
        if len(self.request_log) < 100_000:
            self.request_log.append((method, str(request.url.path_qs)))
        for fault in self.faults:
            if (fault.method in (None, method) and fault.path.search(path)
                    and (fault.query_key is None or (fault.query_key[1:] not in request.params
                                                     if fault.query_key.startswith("!")
                                                     else fault.query_key in request.params))
                    and (fault.times is None or fault.hits < fault.times)):
                fault.hits += 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if not fault.status:
                    request.passed.append(fault)
                if fault.status:
                    resp = _status(fault.status, "InjectedFault", f"sandbox fault {fault.status}")
                    resp.headers.update(fault.headers)
                    return resp
        if path == "/version":
            return aiohttp.web.json_response(KUBE_VERSION)
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and method == "POST":
            review = json.loads(request.body or b"{}")
            attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
            key = (attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", ""))
            review["status"] = {"allowed": key not in self.denied_access}
            return aiohttp.web.json_response(review, status=201)
        m = _PROXY.match(path)
        if m and method in ("GET", "POST"):
            return await self._proxy(m, request)
        parsed = self._parse(path)
        if parsed is not None:
            return self._serve_resource(method, request, *parsed)
        if path in ("/api", "/apis") or path.startswith(("/api/", "/apis/")):
            return self._serve_discovery(path)
        return None

    # -- discovery -------------------------------------------------------------------------------
    def _served(self) -> list[Kind]:
        return [k for (g, p), k in self.kinds.items() if (g, p) in self.served_kinds]

    def _serve_discovery(self, path: str) -> aiohttp.web.Response:
        served = self._served()
        if path == "/api":
            return aiohttp.web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                              "serverAddressByClientCIDRs": [
                                                  {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        groups: dict[str, list[str]] = {}
        for k in served:
            if k.group:
                vs = groups.setdefault(k.group, [])
                for v in (k.version, *k.fallback_versions):
                    if v not in vs:
                        vs.append(v)
        if path == "/apis":
            return aiohttp.web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in sorted(groups.items())]})
        segs = path.strip("/").split("/")
        if segs[0] == "api" and len(segs) == 2:
            group, version = "", segs[1]
        elif segs[0] == "apis" and len(segs) == 2 and segs[1] in groups:
            g, vs = segs[1], groups[segs[1]]
            return aiohttp.web.json_response({"kind": "APIGroup", "apiVersion": "v1", "name": g,
                                              "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                                              "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}})
        elif segs[0] == "apis" and len(segs) == 3:
            group, version = segs[1], segs[2]
        else:
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        kinds = [k for k in served if k.group == group and version in (k.version, *k.fallback_versions)]
        if not kinds:
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        verbs = ["create", "delete", "get", "list", "patch", "update"]
        resources = []
        for k in kinds:
            resources.append({"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced,
                              "kind": k.kind, "verbs": verbs,
                              "shortNames": SHORT_NAMES.get(k.plural, []) if k.group in ("", "apps", NET, SEC,
                                                                                     "apiextensions.k8s.io") else []})
            if k.kind in ("Pod", "Service"):
                resources.append({"name": f"{k.plural}/proxy", "singularName": "", "namespaced": True,
                                  "kind": f"{k.kind}ProxyOptions", "verbs": ["get"]})
        gv = f"{group}/{version}" if group else version
        return aiohttp.web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                          "resources": resources})

    # -- resources ------------------------------------------------------------------------------
    def _parse(self, path: str) -> tuple[Kind, str, str | None, str | None, str | None] | None:
        segs = path.strip("/").split("/")
        if segs[0] == "api" and len(segs) >= 3:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 4:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return None
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        kind = self.kinds.get((group, plural))
        if kind is None or (group, plural) not in self.served_kinds:
            return None
        if version not in (kind.version, *kind.fallback_versions):
            return None
        return kind, version, ns, name, sub

    def _serve_resource(self, method: str, request: "_Req", kind: Kind, version: str, ns: str | None,
                        name: str | None, sub: str | None) -> aiohttp.web.Response:
        store = self.store[(kind.group, kind.plural)]
        api_version = f"{kind.group}/{version}" if kind.group else version
        params = request.params
        dry = params.get("dryRun") == "All"
        if ns and kind.namespaced and kind.plural != "namespaces" and method in ("POST", "PUT", "PATCH"):
            if ("", ns) not in self.store[("", "namespaces")] and ns != "default":
                return _status(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})
        if sub not in (None, "status"):
            return _status(404, "NotFound", f"the server could not find the requested resource ({sub})")

        def out(obj: dict) -> dict:
            o = copy.deepcopy(obj)
            o["apiVersion"], o["kind"] = api_version, kind.kind
            return o

        def not_found() -> aiohttp.web.Response:
            return _status(404, "NotFound", f'{kind.resource} "{name}" not found',
                           {"name": name, "group": kind.group, "kind": kind.plural})

        key = (ns or "" if kind.namespaced else "", name or "")
        if method == "GET" and name is None:
            if params.get("watch") in ("true", "1"):
                return _status(405, "MethodNotAllowed", "the sandbox does not serve watches")
            return self._list(kind, api_version, store, ns, params)
        if method == "GET":
            obj = store.get(key)
            return aiohttp.web.json_response(out(obj)) if obj else not_found()
        if method == "POST" and name is None:
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return _status(400, "BadRequest", "the request body is not JSON")
            meta = body.setdefault("metadata", {})
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                else:
                    return _status(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value")
            if kind.namespaced:
                if ns and meta.get("namespace") not in (None, ns):
                    return _status(400, "BadRequest", "the namespace of the object does not match the URL")
                meta["namespace"] = ns or meta.get("namespace") or "default"
            key = (meta.get("namespace", "") if kind.namespaced else "", meta["name"])
            if kind.kind == "Pod":
                self._inject(body)
            if kind.kind == "Service":
                self._allocate_cluster_ip(body)
            if key in store:
                return _status(409, "AlreadyExists", f'{kind.resource} "{meta["name"]}" already exists',
                               {"name": meta["name"], "group": kind.group, "kind": kind.plural})
            meta.pop("resourceVersion", None)
            self._stamp(body, new=True)
            body["apiVersion"], body["kind"] = api_version, kind.kind
            if not dry:
                store[key] = body
                self._changed(kind)
            return aiohttp.web.json_response(out(body), status=201)
        if method in ("PUT", "PATCH") and name:
            cur = store.get(key)
            if cur is None:
                return not_found()
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return _status(400, "BadRequest", "the request body is not JSON")
            if method == "PUT":
                new = body
            else:
                ctype = request.headers.get("Content-Type", "")
                try:
                    new = _json_patch(cur, body) if "json-patch" in ctype else _merge_patch(cur, body)
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    return _status(422, "Invalid", f"the patch could not be applied: {e}")
            want_rv = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion")
            if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
                return _status(409, "Conflict",
                               f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been '
                               "modified; please apply your changes to the latest version and try again",
                               {"name": name, "group": kind.group, "kind": kind.plural})
            new = copy.deepcopy(new)
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                return _status(400, "BadRequest", "the name of the object does not match the URL")
            for k in ("uid", "creationTimestamp", "namespace"):
                if k in cur["metadata"]:
                    meta[k] = cur["metadata"][k]
            meta["name"] = name
            meta["generation"] = cur["metadata"].get("generation", 1)
            if new == cur:
                return aiohttp.web.json_response(out(cur))
            self._stamp(new, new=False)
            new["apiVersion"], new["kind"] = api_version, kind.kind
            if not dry:
                store[key] = new
                self._changed(kind)
            return aiohttp.web.json_response(out(new))
        if method == "DELETE" and name:
            cur = store.get(key)
            if cur is None:
                return not_found()
            if not dry:
                del store[key]
                self.last_rv = next(self.rv)
                self._changed(kind)
            return aiohttp.web.json_response(out(cur))
        return _status(405, "MethodNotAllowed", f"{method} is not allowed on {request.url.path}")

    def _list(self, kind: Kind, api_version: str, store: dict, ns: str | None,
              params: Any) -> aiohttp.web.Response:
        token = params.get("continue")
        if token:
            entry = self._tokens.get(token)
            if entry is None:
                return _status(410, "Expired", "The provided continue parameter is too old to display a "
                                               "consistent list result. You can start a new list without the "
                                               "continue parameter.")
            offset, keys = entry
        else:
            ls, fs = params.get("labelSelector"), params.get("fieldSelector")
            keys = []
            for k in sorted(store):
                obj = store[k]
                if kind.namespaced and ns and k[0] != ns:
                    continue
                if ls and not _match_labels((obj.get("metadata") or {}).get("labels") or {}, ls):
                    continue
                if fs and not _match_fields(obj, fs):
                    continue
                keys.append(k)
            offset = 0
        limit = int(params.get("limit") or 0)
        end = offset + limit if limit > 0 else len(keys)
        items = []
        for k in keys[offset:end]:
            obj = store.get(k)
            if obj is not None:
                o = copy.deepcopy(obj)
                o.pop("apiVersion", None)
                o.pop("kind", None)
                items.append(o)
        meta: dict[str, Any] = {"resourceVersion": str(self.last_rv)}
        if end < len(keys):
            t = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            self._tokens[t] = (end, keys)
            meta["continue"] = t
            meta["remainingItemCount"] = len(keys) - end
        return aiohttp.web.json_response({"apiVersion": api_version, "kind": f"{kind.kind}List",
                                          "metadata": meta, "items": items})

    def _inject(self, pod: dict) -> None:
        """Play the sidecar injector webhooks: when a mesh's injector is configured and its pods are ready,
        a pod created in an injected namespace gets the proxy container (also on dry-run, as webhooks do)."""
        ns = self.store[("", "namespaces")].get(("", (pod.get("metadata") or {}).get("namespace", "")))
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        ann = ((ns or {}).get("metadata") or {}).get("annotations") or {}
        hooks = [name for (_, name) in self.store[("admissionregistration.k8s.io", "mutatingwebhookconfigurations")]]
        pods = list(self.store[("", "pods")].values())

        def ready(label: str, value: str) -> bool:
            return any(((p.get("metadata") or {}).get("labels") or {}).get(label) == value
                       and (p.get("status") or {}).get("phase") == "Running" for p in pods)

        containers = (pod.setdefault("spec", {})).setdefault("containers", [])
        if labels.get("istio-injection") == "enabled" and any("istio" in h for h in hooks) and ready("app", "istiod"):
            containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2"})
        elif ann.get("linkerd.io/inject") == "enabled" and any("linkerd" in h for h in hooks) and ready(
                "linkerd.io/control-plane-component", "proxy-injector"):
            containers.append({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy"})

    def expire_continue_tokens(self) -> None:
        """Forget every issued continue token (as after etcd compaction): the next use gets 410."""
        self._tokens.clear()

    # -- pod and service proxy ----------------------------------------------------------------------
    async def _proxy(self, m: re.Match[str], request: "_Req") -> aiohttp.web.StreamResponse:
        ns, what, name, port, rest = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5) or "/"
        if what == "pods":
            obj = self.store[("", "pods")].get((ns, name))
            if obj is None:
                return _status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
            real = self.pod_ports.get((ns, name, int(port))) if port and port.isdigit() else None
            target = f"{(obj.get('status') or {}).get('podIP', '?')}:{port or 80}"
        else:
            obj = self.store[("", "services")].get((ns, name))
            if obj is None:
                return _status(404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"})
            real = self.service_ports.get((ns, name, port or ""))
            target = f"{name}.{ns}:{port}"
        if real is None:
            return _status(503, "ServiceUnavailable",
                           f"error trying to reach service: dial tcp {target}: connect: connection refused")
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        url = f"http://127.0.0.1:{real}{rest}"
        try:
            async with self._http.request(request.method, url, params=list(request.url.query.items()),
                                          data=request.body if request.method == "POST" else None) as r:
                body = await r.read()
                ctype = r.headers.get("Content-Type", "application/octet-stream")
                return aiohttp.web.Response(body=body, status=r.status, headers={"Content-Type": ctype})
        except (aiohttp.ClientError, OSError) as e:
            return _status(503, "ServiceUnavailable",
                           f"error trying to reach service: dial tcp {target}: {type(e).__name__}")

    async def close_http(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


class APIServerThread:
    """Runs a SandboxAPI on 127.0.0.1:<random port> in a background event loop."""

    def __init__(self, api: SandboxAPI | None = None) -> None:
        self.api = api or SandboxAPI()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "APIServerThread":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the sandbox API server did not start")
        if self._error:
            raise RuntimeError(f"the sandbox API server failed: {self._error}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as e:  # pragma: no cover - reported through start()
            self._error = e
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self.api, kmock.Server(self.api) as srv:
            self.port = srv.port
            self._ready.set()
            await self._stop.wait()
            await self.api.close_http()

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop from another thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        if not self.loop.is_closed() and not self._thread.is_alive():
            self.loop.close()


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False
