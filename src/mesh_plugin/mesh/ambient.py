"""Istio ambient mode over a Snapshot. Pure, no I/O.

Four questions, each answered the way Istio's own code answers it at the pinned module (1.31-dev,
``istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad``):

(a) **Who is in ambient.** The intent is the istio-cni agent's enablement selectors
    (``cni/pkg/util/enablement_selector.go``: host-network pods and pods with an injected sidecar never
    match; default selectors from ``manifests/charts/istio-cni/values.yaml``); the fact is the
    ``ambient.istio.io/redirection`` annotation the agent writes (``enabled`` / ``pending``), which istioctl
    and the analyzers trust (``istioctl/pkg/util/ambient/util.go``, ``analyzers/util/in_mesh.go``). The
    components: the ztunnel DaemonSet, the istio-cni DaemonSet and its ConfigMap, istiod's
    ``PILOT_ENABLE_AMBIENT``.
(b) **Waypoints.** ``pilot/pkg/serviceregistry/ambient/waypoints.go``: a Gateway is usable as a waypoint once
    it has ``status.addresses``; ``istio.io/waypoint-for`` from the Gateway, else its GatewayClass, else
    ``service``; ``istio.io/use-waypoint`` (+ ``-namespace``) on the object, else on its namespace; the
    checks and their reasons (``status.go``).
(c) **PeerAuthentication for ztunnel.** ``authorization.go`` ``convertedSelectorPeerAuthentications`` and
    ``convertPeerAuthentication``; ``policies.go`` (the static STRICT policy only when a PeerAuthentication
    exists); ``workloads.go`` ``buildWorkloadPolicies`` / ``fetchPeerAuthentications``.
(d) **AuthorizationPolicy for ztunnel.** ``authorization.go`` ``convertAuthorizationPolicy`` / ``handleRule``
    (exact port: same fields, same L7 detection, same status messages), ``policies.go``
    ``WaypointPolicyStatusCollection`` (targetRefs), ``pilot/pkg/model/policyattachment.go``
    ``ShouldAttachPolicy`` (what a waypoint or a sidecar takes). ztunnel's decision (``assert_rbac``,
    ``Authorization::matches`` in istio/ztunnel ``src/state.rs`` and ``src/rbac.rs``) is ported from the
    reference ``ambient-and-gateway-api.md`` section 4.4: ztunnel's Rust source is not in the Go module
    cache.

Policies come in two forms. ``convert_*`` return the **xDS form** istiod sends (``security.Authorization``
as ``protomarshal`` writes it: ``groups`` > ``rules`` > ``matches``, enum names, addresses as base64 bytes),
which Istio's golden files use. :func:`ztunnel_form` turns that into the **config_dump form** ztunnel
serves at ``/config_dump`` (``rules`` = list of rules, a rule a list of clauses, a clause a list of
matches; ``{"Exact": v}`` string matches; CIDR strings); :func:`policy_matches` and :func:`assert_rbac`
evaluate that form, so they also work on a live ztunnel dump.
"""
from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..kube.snapshot import Snapshot, annotations_of, labels_of, name_of, ns_of

# -- labels, annotations and names (istio/api label/annotation, pkg/config/constants) --------------------------
DATAPLANE_MODE = "istio.io/dataplane-mode"
AMBIENT, NONE = "ambient", "none"
REDIRECTION = "ambient.istio.io/redirection"
SIDECAR_STATUS = "sidecar.istio.io/status"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NS = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
INGRESS_USE_WAYPOINT = "istio.io/ingress-use-waypoint"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"
GATEWAY_MANAGED = "gateway.istio.io/managed"
MESH_CONTROLLER_LABEL = "istio.io-mesh-controller"
EAST_WEST_CONTROLLER_LABEL = "istio.io-eastwest-controller"
MESH_CONTROLLER = "istio.io/mesh-controller"
WAYPOINT_CLASS = "istio-waypoint"
TUNNEL_LABEL = "networking.istio.io/tunnel"
REV_LABEL = "istio.io/rev"
DRY_RUN = "istio.io/dry-run"
GW = "gateway.networking.k8s.io"
GATEWAY_KEY = f"{GW}/Gateway"
#: snapshot keys a GatewayClass may be under (kube/kinds.py names it "GatewayClass")
GATEWAY_CLASS_KEYS = ("GatewayClass", f"{GW}/GatewayClass")
STATIC_STRICT = "istio_converted_static_strict"
CONVERTED_PA_PREFIX = "converted_peer_authentication_"
TRAFFIC_TYPES = ("service", "workload", "all", "none")
#: ztunnel's ports (istio/ztunnel src/config.rs)
HBONE_PORT = 15008
#: the kinds the functions of this module read (one LIST each)
AMBIENT_KINDS = ("Namespace", "Pod", "Service", "DaemonSet", "ConfigMap", GATEWAY_KEY, "PeerAuthentication",
                 "AuthorizationPolicy")
#: the CNI's default enablement selectors (manifests/charts/istio-cni/values.yaml ambient.enablementSelectors)
DEFAULT_ENABLEMENT = (
    {"podSelector": {"matchLabels": {DATAPLANE_MODE: AMBIENT}}},
    {"podSelector": {"matchExpressions": [{"key": DATAPLANE_MODE, "operator": "NotIn", "values": [NONE]}]},
     "namespaceSelector": {"matchLabels": {DATAPLANE_MODE: AMBIENT}}},
)
DEFAULT_EXCLUDED_NAMESPACES = ("kube-system",)


def _map(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _seq(v: Any) -> list:
    return v if isinstance(v, list) else []


def _spec(o: dict) -> dict:
    return _map(o.get("spec"))


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels): an empty (or missing) selector matches
    everything, an invalid one nothing."""
    sel = _map(selector)
    for k, v in _map(sel.get("matchLabels")).items():
        if str(labels.get(k)) != str(v) or k not in labels:
            return False
    for expr in _seq(sel.get("matchExpressions")):
        if not isinstance(expr, dict):
            return False
        key, op = str(expr.get("key") or ""), str(expr.get("operator") or "")
        values = [str(v) for v in _seq(expr.get("values"))]
        has = key in labels
        if op == "In":
            if not has or str(labels[key]) not in values:
                return False
        elif op == "NotIn":
            if has and str(labels[key]) in values:
                return False
        elif op == "Exists":
            if not has:
                return False
        elif op == "DoesNotExist":
            if has:
                return False
        else:
            return False
    return True


def _subset(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """labels.Instance(selector).SubsetOf(labels)."""
    return all(k in labels and str(labels[k]) == str(v) for k, v in selector.items())


def _oldest(objs: Iterable[dict]) -> dict | None:
    """The oldest object (creationTimestamp; a missing one is the zero time); ties by namespace/name."""
    items = sorted(objs, key=lambda o: (str(_map(o.get("metadata")).get("creationTimestamp") or ""),
                                        ns_of(o), name_of(o)))
    return items[0] if items else None


def _key(o: dict) -> str:
    return f"{ns_of(o)}/{name_of(o)}"


# =====================================================================================================
# (a) detection and inventory
# =====================================================================================================
@dataclass(frozen=True)
class ZtunnelInfo:
    """The ztunnel DaemonSet (manifests/charts/ztunnel/templates/daemonset.yaml)."""

    namespace: str
    name: str
    desired: int | None
    ready: int | None
    version: str | None
    revision: str
    #: node name -> ztunnel pod name (running pods)
    pods_by_node: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CniInfo:
    """The istio-cni node agent (DaemonSet istio-cni-node) and its ConfigMap istio-cni-config."""

    namespace: str
    daemonset: str | None
    desired: int | None
    ready: int | None
    #: AMBIENT_ENABLED of the ConfigMap (None: no ConfigMap)
    ambient_enabled: bool | None
    enablement_selectors: tuple[dict, ...] = DEFAULT_ENABLEMENT
    excluded_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED_NAMESPACES
    dns_capture: bool | None = None


@dataclass(frozen=True)
class AmbientComponents:
    ztunnel: ZtunnelInfo | None
    cni: CniInfo | None
    #: PILOT_ENABLE_AMBIENT on the istiod pods (None: no istiod pod, or not set)
    istiod_ambient: bool | None
    problems: tuple[str, ...] = ()

    @property
    def installed(self) -> bool:
        return self.ztunnel is not None or bool(self.cni and self.cni.ambient_enabled)


def _image_tag(obj: dict) -> str | None:
    tmpl = _map(_spec(obj).get("template")) if obj.get("kind") == "DaemonSet" else obj
    for c in _seq(_spec(tmpl).get("containers")):
        image = str(_map(c).get("image") or "")
        last = image.rsplit("/", 1)[-1]
        if ":" in last:
            return last.rsplit(":", 1)[1].split("@")[0]
    return None


def _ds_counts(ds: dict) -> tuple[int | None, int | None]:
    st = _map(ds.get("status"))
    d, r = st.get("desiredNumberScheduled"), st.get("numberReady")
    return (int(d) if isinstance(d, int) else None), (int(r) if isinstance(r, int) else None)


def is_ztunnel_pod(pod: dict) -> bool:
    """A ztunnel pod: label app=ztunnel (the DaemonSet's selector) with an istio-proxy container."""
    labels = labels_of(pod)
    if labels.get("app") != "ztunnel" and labels.get("app.kubernetes.io/name") != "ztunnel":
        return False
    return any(_map(c).get("name") == "istio-proxy" for c in _seq(_spec(pod).get("containers")))


def is_waypoint_pod(pod: dict) -> bool:
    """A waypoint's pod (files/waypoint.yaml): managed by the mesh controller, or args ``proxy waypoint``."""
    labels = labels_of(pod)
    if labels.get(GATEWAY_MANAGED) == MESH_CONTROLLER_LABEL:
        return True
    for c in _seq(_spec(pod).get("containers")):
        if _map(c).get("name") == "istio-proxy" and "waypoint" in [str(a) for a in _seq(_map(c).get("args"))]:
            return True
    return False


def _cni_config(snap: Snapshot) -> dict | None:
    for cm in snap.of("ConfigMap"):
        if name_of(cm) == "istio-cni-config":
            return cm
    return None


def _bool(v: Any) -> bool | None:
    if v is None:
        return None
    return str(v).strip().lower() in ("true", "1", "t", "yes")


def ambient_components(snap: Snapshot) -> AmbientComponents:
    """The ztunnel DaemonSet, istio-cni and istiod's ambient switch, with what looks wrong."""
    import yaml

    problems: list[str] = []
    zt = None
    ds_z = [d for d in snap.of("DaemonSet") if name_of(d) == "ztunnel"
            or _map(_map(_spec(d).get("selector")).get("matchLabels")).get("app") == "ztunnel"]
    zpods = [p for p in snap.of("Pod") if is_ztunnel_pod(p)]
    if ds_z or zpods:
        d = ds_z[0] if ds_z else None
        ns = ns_of(d) if d else ns_of(zpods[0])
        desired, ready = _ds_counts(d) if d else (None, None)
        rev = str(annotations_of(d).get(REV_LABEL) or labels_of(d).get(REV_LABEL) or "default") if d else \
            str(annotations_of(zpods[0]).get(REV_LABEL) or "default")
        by_node = {str(_spec(p).get("nodeName")): name_of(p) for p in zpods
                   if ns_of(p) == ns and _map(p.get("status")).get("phase") == "Running" and _spec(p).get("nodeName")}
        zt = ZtunnelInfo(ns, name_of(d) if d else "ztunnel", desired, ready,
                         _image_tag(d) if d else _image_tag(zpods[0]), rev, by_node)
        if desired is not None and ready is not None and ready < desired:
            problems.append(f"ztunnel: {ready}/{desired} pods ready: ambient pods on the other nodes have no "
                            "data plane (their traffic is blocked until a ztunnel takes them)")
    cni = None
    ds_c = [d for d in snap.of("DaemonSet") if name_of(d) == "istio-cni-node"
            or labels_of(d).get("k8s-app") == "istio-cni-node"]
    cm = _cni_config(snap)
    if ds_c or cm:
        d = ds_c[0] if ds_c else None
        data = _map(cm.get("data")) if cm else {}
        selectors: tuple[dict, ...] = DEFAULT_ENABLEMENT
        raw = data.get("AMBIENT_ENABLEMENT_SELECTOR")
        if raw:
            try:
                parsed = yaml.safe_load(str(raw))
                if isinstance(parsed, list) and all(isinstance(s, dict) for s in parsed):
                    selectors = tuple(parsed)
            except yaml.YAMLError:
                problems.append("istio-cni-config AMBIENT_ENABLEMENT_SELECTOR is not YAML: the defaults are assumed")
        excluded = DEFAULT_EXCLUDED_NAMESPACES
        if "EXCLUDE_NAMESPACES" in data:
            excluded = tuple(n.strip() for n in str(data["EXCLUDE_NAMESPACES"]).split(",") if n.strip())
        desired, ready = _ds_counts(d) if d else (None, None)
        cni = CniInfo(ns_of(d) if d else ns_of(cm), name_of(d) if d else None, desired, ready,
                      _bool(data.get("AMBIENT_ENABLED")) if cm else None, selectors, excluded,
                      _bool(data.get("AMBIENT_DNS_CAPTURE")))
        if desired is not None and ready is not None and ready < desired:
            problems.append(f"istio-cni: {ready}/{desired} node agents ready: new ambient pods on the other nodes "
                            "are not captured")
    istiod_ambient = None
    for p in snap.of("Pod"):
        if labels_of(p).get("app") != "istiod":
            continue
        for c in _seq(_spec(p).get("containers")):
            for e in _seq(_map(c).get("env")):
                if _map(e).get("name") == "PILOT_ENABLE_AMBIENT":
                    istiod_ambient = bool(_bool(_map(e).get("value")))
    if zt and cni is None:
        problems.append("ztunnel runs but istio-cni does not: no pod is redirected to ztunnel")
    if cni and cni.ambient_enabled and zt is None:
        problems.append("istio-cni has AMBIENT_ENABLED but no ztunnel DaemonSet runs: captured pods have no data "
                        "plane")
    if (zt or (cni and cni.ambient_enabled)) and istiod_ambient is False:
        problems.append("istiod runs with PILOT_ENABLE_AMBIENT=false: ztunnel and waypoints get no configuration")
    return AmbientComponents(zt, cni, istiod_ambient, tuple(problems))


@dataclass(frozen=True)
class NamespaceAmbient:
    namespace: str
    #: istio.io/dataplane-mode=ambient on the namespace (the CNI's intent)
    labelled: bool
    #: istioctl's and the analyzers' rule (InAmbient(ns), NamespaceInAmbientMode): labelled, no
    #: istio-injection=enabled and no non-empty istio.io/rev
    ambient: bool
    #: the label that injects sidecars, if any ("istio-injection=enabled", "istio.io/rev=canary")
    sidecar_injection: str | None
    #: istio.io/use-waypoint on the namespace ("ns/name"), or "none"
    use_waypoint: str | None
    notes: tuple[str, ...] = ()


def namespace_ambient(ns_obj: dict | None, name: str = "") -> NamespaceAmbient:
    labels = labels_of(ns_obj or {})
    ns = name_of(ns_obj or {}) or name
    labelled = labels.get(DATAPLANE_MODE) == AMBIENT
    inj = None
    if labels.get("istio-injection") == "enabled":
        inj = "istio-injection=enabled"
    elif labels.get(REV_LABEL):
        inj = f"{REV_LABEL}={labels[REV_LABEL]}"
    ambient = labelled and labels.get("istio-injection") != "enabled" and not labels.get(REV_LABEL)
    wp = None
    if USE_WAYPOINT in labels:
        v = str(labels[USE_WAYPOINT])
        wp = "none" if v == NONE else f"{labels.get(USE_WAYPOINT_NS, ns)}/{v}"
    notes = []
    if labelled and inj:
        notes.append(f"{DATAPLANE_MODE}=ambient and {inj}: new pods get sidecars (the sidecar wins over ambient); "
                     "istioctl and the analyzers do not count the namespace as ambient")
    return NamespaceAmbient(ns, labelled, ambient, inj, wp, tuple(notes))


@dataclass(frozen=True)
class PodDataPlane:
    """What carries a pod's traffic.

    ``mode``: ``sidecar`` (an injected sidecar), ``ambient`` (captured: ambient.istio.io/redirection=enabled),
    ``ambient-pending`` (redirection rules in, no ztunnel has taken it: its traffic is blocked),
    ``waypoint`` / ``ztunnel`` / ``gateway`` (mesh infrastructure pods), ``none``."""

    mode: Literal["sidecar", "ambient", "ambient-pending", "waypoint", "ztunnel", "gateway", "none"]
    #: the CNI's enablement selectors match the pod (labels), whatever the annotation says
    intended: bool
    #: ztunnel lists the pod with protocol HBONE (captured, or a sidecar with networking.istio.io/tunnel=http)
    hbone: bool
    reason: str


def has_sidecar(pod: dict) -> bool:
    """An injected Istio sidecar: the injector's status annotation or an istio-proxy container (not a gateway,
    waypoint or ztunnel)."""
    if SIDECAR_STATUS in annotations_of(pod):
        return True
    from .workloads import sidecar_of

    return sidecar_of(pod) in ("istio", "linkerd")


def pod_intended(pod: dict, ns_obj: dict | None, cni: CniInfo | None = None) -> bool:
    """CompiledEnablementSelectors.Matches: host-network pods and pods with a sidecar never; excluded
    namespaces never; else any enablement selector (pod selector and namespace selector both match)."""
    if _spec(pod).get("hostNetwork") or SIDECAR_STATUS in annotations_of(pod):
        return False
    excluded = cni.excluded_namespaces if cni else DEFAULT_EXCLUDED_NAMESPACES
    if ns_of(pod) in excluded:
        return False
    selectors = cni.enablement_selectors if cni else DEFAULT_ENABLEMENT
    ns_labels = labels_of(ns_obj or {})
    for s in selectors:
        if selector_matches(s.get("podSelector"), labels_of(pod)) and \
                selector_matches(s.get("namespaceSelector"), ns_labels):
            return True
    return False


def pod_data_plane(pod: dict, ns_obj: dict | None = None, cni: CniInfo | None = None) -> PodDataPlane:
    from .workloads import sidecar_of

    labels, ann = labels_of(pod), annotations_of(pod)
    intended = pod_intended(pod, ns_obj, cni)
    red = ann.get(REDIRECTION)
    native = labels.get(TUNNEL_LABEL) == "http"
    if is_ztunnel_pod(pod):
        return PodDataPlane("ztunnel", False, False, "a ztunnel pod (the node's ambient data plane)")
    if is_waypoint_pod(pod):
        gw = labels.get(GATEWAY_NAME)
        return PodDataPlane("waypoint", False, False, f"a pod of waypoint {ns_of(pod)}/{gw}" if gw else
                            "a waypoint proxy pod")
    kind = sidecar_of(pod)
    if kind == "istio-gateway":
        return PodDataPlane("gateway", False, native, "an Istio gateway (Envoy)")
    if kind in ("istio", "linkerd"):
        why = f"{kind} sidecar"
        if kind == "istio" and (labels.get(DATAPLANE_MODE) == AMBIENT or
                                labels_of(ns_obj or {}).get(DATAPLANE_MODE) == AMBIENT):
            why += " (the sidecar wins over istio.io/dataplane-mode=ambient; restart without injection to move " \
                   "it to ambient)"
        if native:
            why += "; HBONE-capable (networking.istio.io/tunnel=http)"
        return PodDataPlane("sidecar", intended, native, why)
    if _spec(pod).get("hostNetwork"):
        return PodDataPlane("none", False, False, "hostNetwork pod: ambient cannot capture it")
    if red == "enabled":
        src = _intent_source(pod, ns_obj)
        return PodDataPlane("ambient", intended, True, "captured by ztunnel (ambient.istio.io/redirection=enabled"
                            + (f"; {src}" if src else "") + ")")
    if red == "pending":
        return PodDataPlane("ambient-pending", intended, False,
                            "redirection rules are in but no ztunnel has taken the pod "
                            "(ambient.istio.io/redirection=pending): its traffic is blocked until one does")
    if intended:
        return PodDataPlane("none", True, False, f"{_intent_source(pod, ns_obj)} but the pod is not captured (no "
                            f"{REDIRECTION} annotation): is istio-cni running on its node?")
    if labels.get(DATAPLANE_MODE) == NONE and labels_of(ns_obj or {}).get(DATAPLANE_MODE) == AMBIENT:
        return PodDataPlane("none", False, False, f"opted out of ambient with {DATAPLANE_MODE}=none")
    return PodDataPlane("none", False, False, "no sidecar and not in ambient")


def _intent_source(pod: dict, ns_obj: dict | None) -> str:
    if labels_of(pod).get(DATAPLANE_MODE) == AMBIENT:
        return f"pod label {DATAPLANE_MODE}=ambient"
    if labels_of(ns_obj or {}).get(DATAPLANE_MODE) == AMBIENT:
        return f"namespace label {DATAPLANE_MODE}=ambient"
    return ""


def in_ambient(pod: dict) -> bool:
    """istioctl's InAmbient / the analyzers' PodInAmbientMode: the redirection annotation is ``enabled``."""
    return annotations_of(pod).get(REDIRECTION) == "enabled"


def ztunnel_for_node(snap: Snapshot, node: str) -> dict | None:
    """The ztunnel pod on ``node`` (what istioctl ztunnel-config picks for a workload pod)."""
    for p in snap.of("Pod"):
        if is_ztunnel_pod(p) and _spec(p).get("nodeName") == node and \
                _map(p.get("status")).get("phase") == "Running":
            return p
    return None


# =====================================================================================================
# (b) waypoints
# =====================================================================================================
@dataclass(frozen=True)
class Waypoint:
    namespace: str
    name: str
    gateway_class: str
    #: istio.io/waypoint-for in effect: Gateway label > GatewayClass label > "service"
    traffic_type: str
    traffic_type_from: Literal["Gateway", "GatewayClass", "default"]
    #: has status.addresses: istiod uses it as a waypoint only then
    ready: bool
    address: str | None
    #: the Gateway's Programmed condition (None: no status)
    programmed: bool | None
    programmed_reason: str | None
    #: one listener on 15008 with protocol HBONE (else istiod refuses it: UnsupportedProtocol)
    listener_ok: bool
    #: the HBONE listener's allowedRoutes.namespaces.from ("Same" by default), and its selector
    allowed_from: str
    allowed_selector: dict | None
    revision: str
    pods: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_waypoint_class(self) -> bool:
        return self.gateway_class == WAYPOINT_CLASS

    def admits(self, namespace: str, ns_labels: Mapping[str, Any]) -> bool:
        """AllowsAttachmentFromNamespace."""
        if self.allowed_from == "All":
            return True
        if self.allowed_from == "Selector":
            return selector_matches(self.allowed_selector or {}, ns_labels)
        return self.namespace == namespace


def gateway_classes(snap: Snapshot) -> list[dict]:
    return [gc for k in GATEWAY_CLASS_KEYS for gc in snap.of(k)]


def _gateway_class_labels(snap: Snapshot, cls: str) -> dict[str, str] | None:
    for gc in gateway_classes(snap):
        if name_of(gc) == cls:
            return labels_of(gc)
    return None


def _condition(obj: dict, ctype: str) -> dict | None:
    for c in _seq(_map(obj.get("status")).get("conditions")):
        if _map(c).get("type") == ctype:
            return _map(c)
    return None


def gateway_as_waypoint(snap: Snapshot, gw: dict) -> Waypoint:
    """Any Gateway API Gateway as istiod's ambient index sees it (gatewayToWaypointTransform)."""
    labels, spec = labels_of(gw), _spec(gw)
    cls = str(spec.get("gatewayClassName") or "")
    tt, src = "service", "default"
    cl = _gateway_class_labels(snap, cls)
    if cl is not None and WAYPOINT_FOR in cl:
        tt, src = str(cl[WAYPOINT_FOR]), "GatewayClass"
    if WAYPOINT_FOR in labels:
        tt, src = str(labels[WAYPOINT_FOR]), "Gateway"
    addrs = [_map(a) for a in _seq(_map(gw.get("status")).get("addresses"))]
    addr = next((str(a.get("value")) for a in addrs if a.get("type") == "Hostname"), None) or \
        next((str(a.get("value")) for a in addrs if a.get("type") in ("IPAddress", None)), None)
    ready = any(a.get("type") in ("Hostname", "IPAddress") for a in addrs)
    prog = _condition(gw, "Programmed")
    listeners = [_map(lst) for lst in _seq(spec.get("listeners"))]
    hbone = [lst for lst in listeners if lst.get("protocol") == "HBONE" and lst.get("port") == HBONE_PORT]
    allowed_from, allowed_sel = "Same", None
    if hbone:
        ns_sel = _map(_map(hbone[0].get("allowedRoutes")).get("namespaces"))
        allowed_from = str(ns_sel.get("from") or "Same")
        allowed_sel = _map(ns_sel.get("selector")) if allowed_from == "Selector" else None
    pods = [p for p in snap.of("Pod", ns_of(gw)) if labels_of(p).get(GATEWAY_NAME) == name_of(gw)]
    ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == ns_of(gw)), None)
    rev = str(labels.get(REV_LABEL) or labels_of(ns_obj or {}).get(REV_LABEL) or "default")
    return Waypoint(ns_of(gw), name_of(gw), cls, tt, src, ready, addr,  # type: ignore[arg-type]
                    (prog.get("status") == "True") if prog else None, str(prog.get("reason")) if prog else None,
                    len(listeners) == 1 and len(hbone) == 1, allowed_from, allowed_sel, rev,
                    tuple(sorted(name_of(p) for p in pods)),
                    tuple(sorted({str(_spec(p).get("serviceAccountName") or "default") for p in pods})))


def waypoints(snap: Snapshot, namespace: str | None = None) -> list[Waypoint]:
    """The waypoints: Gateways of class istio-waypoint (and any other Gateway some object's
    istio.io/use-waypoint names, since istiod accepts any Gateway with an address)."""
    named = _requested_waypoints(snap)
    out = []
    for gw in snap.of(GATEWAY_KEY, namespace):
        if _spec(gw).get("gatewayClassName") == WAYPOINT_CLASS or _key(gw) in named:
            out.append(gateway_as_waypoint(snap, gw))
    return sorted(out, key=lambda w: (w.namespace, w.name))


def _requested_waypoints(snap: Snapshot) -> set[str]:
    out = set()
    for key in ("Namespace", "Service", "Pod", "ServiceEntry", "WorkloadEntry"):
        for o in snap.of(key):
            labels = labels_of(o)
            if USE_WAYPOINT in labels and labels[USE_WAYPOINT] != NONE:
                ns = name_of(o) if key == "Namespace" else ns_of(o)
                out.add(f"{labels.get(USE_WAYPOINT_NS, ns)}/{labels[USE_WAYPOINT]}")
    return out


def waypoint_index(snap: Snapshot) -> dict[str, Waypoint]:
    """istiod's Waypoints collection: every Gateway that has status.addresses, by "ns/name"."""
    out = {}
    for gw in snap.of(GATEWAY_KEY):
        w = gateway_as_waypoint(snap, gw)
        if w.ready:
            out[w.key] = w
    return out


@dataclass(frozen=True)
class WaypointBinding:
    """Which waypoint an object uses, as istiod decides it (fetchWaypointForTarget and the traffic-type check)."""

    #: the bound waypoint "ns/name" (None: no waypoint)
    waypoint: str | None
    #: what the labels ask for ("ns/name"), and where the label is ("Service production/reviews", "Namespace
    #: production"); None when nothing asks
    requested: str | None = None
    source: str | None = None
    #: istio.io/use-waypoint: none on the object itself
    opted_out: bool = False
    #: istiod's reason when the binding fails (WaypointIsNotReady, AttachmentDenied, UnsupportedTrafficType)
    reason: str | None = None
    message: str | None = None


def use_waypoint(labels: Mapping[str, Any], default_ns: str) -> tuple[str | None, bool]:
    """GetUseWaypoint: ("ns/name" or None, is_none)."""
    if USE_WAYPOINT not in labels:
        return None, False
    v = str(labels[USE_WAYPOINT])
    if v == NONE:
        return None, True
    return f"{labels.get(USE_WAYPOINT_NS, default_ns)}/{v}", False


def _not_ready(key: str) -> tuple[str, str]:
    return "WaypointIsNotReady", f'waypoint "{key}" is not ready'


def _denied(key: str) -> tuple[str, str]:
    return "AttachmentDenied", f'we are not permitted to attach to waypoint "{key}" (missing allowedRoutes?)'


def _unsupported(key: str, ttype: str) -> tuple[str, str]:
    return "UnsupportedTrafficType", (f'attempting to bind to traffic type "{ttype}" which the waypoint "{key}" '
                                      "does not support")


def _fetch_for_target(snap: Snapshot, obj: dict, kind: str, index: dict[str, Waypoint] | None = None
                      ) -> WaypointBinding:
    """fetchWaypointForTarget: the object's own label, else its namespace's."""
    index = waypoint_index(snap) if index is None else index
    ns = ns_of(obj)
    wanted, is_none = use_waypoint(labels_of(obj), ns)
    if is_none:
        return WaypointBinding(None, None, f"{kind} {ns}/{name_of(obj)}", True)
    ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == ns), None)
    ns_labels = labels_of(ns_obj or {})
    if wanted:
        src = f"{kind} {ns}/{name_of(obj)}"
    else:
        wanted, _ = use_waypoint(ns_labels, ns)
        src = f"Namespace {ns}"
        if not wanted:
            return WaypointBinding(None)
    w = index.get(wanted)
    if w is None:
        r, m = _not_ready(wanted)
        return WaypointBinding(None, wanted, src, False, r, m)
    if not w.admits(ns, ns_labels):
        r, m = _denied(w.key)
        return WaypointBinding(None, wanted, src, False, r, m)
    return WaypointBinding(w.key, wanted, src)


def service_waypoint(snap: Snapshot, svc: dict, index: dict[str, Waypoint] | None = None) -> WaypointBinding:
    """fetchWaypointForService: waypoints and east-west gateways have none; the waypoint must take service
    traffic (waypoint-for service or all)."""
    managed = labels_of(svc).get(GATEWAY_MANAGED)
    if managed in (MESH_CONTROLLER_LABEL, EAST_WEST_CONTROLLER_LABEL):
        return WaypointBinding(None)
    kind = str(svc.get("kind") or "Service")
    index = waypoint_index(snap) if index is None else index
    b = _fetch_for_target(snap, svc, kind, index)
    if b.waypoint is None:
        return b
    w = index[b.waypoint]
    if w.traffic_type not in ("service", "all"):
        r, m = _unsupported(w.key, "service")
        return WaypointBinding(None, b.requested, b.source, False, r, m)
    return b


def workload_waypoint(snap: Snapshot, pod: dict, index: dict[str, Waypoint] | None = None) -> WaypointBinding:
    """computeWaypoint for a pod: an instance of a waypoint (or of any Gateway with an address) has none;
    else fetchWaypointForWorkload: the waypoint must take workload traffic (workload or all); a binding only
    inherited from the namespace to a service-only waypoint is dropped silently (no error)."""
    index = waypoint_index(snap) if index is None else index
    gw = labels_of(pod).get(GATEWAY_NAME)
    if gw and f"{ns_of(pod)}/{gw}" in index:
        return WaypointBinding(None)
    b = _fetch_for_target(snap, pod, "Pod", index)
    if b.waypoint is None:
        return b
    w = index[b.waypoint]
    if w.traffic_type in ("workload", "all"):
        return b
    if USE_WAYPOINT not in labels_of(pod):
        return WaypointBinding(None, b.requested, b.source, False, None,
                               f"waypoint {w.key} takes {w.traffic_type} traffic only: the namespace's binding "
                               "does not apply to the pod itself (its Services' traffic still goes through it)")
    r, m = _unsupported(w.key, "workload")
    return WaypointBinding(None, b.requested, b.source, False, r, m)


def services_of_pod(snap: Snapshot, pod: dict) -> list[dict]:
    """The Services whose selector selects the pod (same namespace, non-empty selector)."""
    out = []
    for s in snap.of("Service", ns_of(pod)):
        sel = _map(_spec(s).get("selector"))
        if sel and _subset(sel, labels_of(pod)):
            out.append(s)
    return out


@dataclass(frozen=True)
class WaypointStatus:
    waypoint: Waypoint
    #: "ns/name" of the Services bound to it, and of the pods bound to it (workload traffic)
    services: tuple[str, ...]
    workloads: tuple[str, ...]
    #: objects that ask for it and are refused, with istiod's reason: ("Service ns/x", "AttachmentDenied")
    refused: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]


def waypoint_status(snap: Snapshot, namespace: str | None = None) -> list[WaypointStatus]:
    """Every waypoint with what is bound to it and what it refuses (`istioctl waypoint status` and
    `list`, plus the bindings istiod computes)."""
    index = waypoint_index(snap)
    out = []
    svc_bind = [(s, service_waypoint(snap, s, index)) for s in snap.of("Service")]
    pod_bind = [(p, workload_waypoint(snap, p, index)) for p in snap.of("Pod")
                if _map(p.get("status")).get("phase") not in ("Succeeded", "Failed")]
    for w in waypoints(snap, namespace):
        services = tuple(sorted(_key(s) for s, b in svc_bind if b.waypoint == w.key))
        pods = tuple(sorted(_key(p) for p, b in pod_bind if b.waypoint == w.key))
        refused = tuple(sorted({(f"{b.source}", str(b.reason)) for _, b in svc_bind + pod_bind
                                if b.requested == w.key and b.reason}))
        problems = []
        if not w.listener_ok and w.is_waypoint_class:
            problems.append('listener refused (UnsupportedProtocol): expected a single listener on port 15008 with '
                            'protocol "HBONE"')
        if not w.ready:
            problems.append("no status.addresses: istiod does not use it yet (no ready waypoint pod, or the files "
                            "carry no status); bindings report WaypointIsNotReady")
        if w.programmed is False:
            problems.append(f"Programmed=False ({w.programmed_reason})")
        if w.traffic_type not in TRAFFIC_TYPES:
            problems.append(f"{WAYPOINT_FOR}={w.traffic_type} is not one of {', '.join(TRAFFIC_TYPES)}: "
                            "nothing can bind to it")
        out.append(WaypointStatus(w, services, pods, refused, tuple(problems)))
    return out


# =====================================================================================================
# (c) PeerAuthentication as istiod converts it for ztunnel
# =====================================================================================================
def _mtls_mode(mtls: Any) -> str:
    """UNSET, DISABLE, PERMISSIVE or STRICT (a missing mtls is UNSET)."""
    return str(_map(mtls).get("mode") or "UNSET").upper()


def _pa_selector_labels(pa: dict) -> dict | None:
    sel = _spec(pa).get("selector")
    if sel is None:
        return None
    return _map(_map(sel).get("matchLabels"))


def _presence() -> dict:
    return {"presence": {}}


def _deny_no_identity(**extra: Any) -> dict:
    return {"matches": [{"notPrincipals": [_presence()], **extra}]}


def convert_peer_authentication(pa: dict, ns_pa: dict | None, root_pa: dict | None,
                                root_namespace: str = "istio-system") -> dict | None:
    """convertPeerAuthentication: the Deny policy istiod derives from a workload PeerAuthentication with
    port-level mTLS, merged with the namespace's and the mesh's mode; None when none is needed."""
    spec = _spec(pa)
    mode = _mtls_mode(spec.get("mtls"))
    port_level = _map(spec.get("portLevelMtls"))
    if ns_of(pa) == root_namespace or spec.get("selector") is None or not port_level:
        return None
    ns_mode = _mtls_mode(_spec(ns_pa).get("mtls")) if ns_pa else None
    root_mode = _mtls_mode(_spec(root_pa).get("mtls")) if root_pa else None
    rules: list[dict] = []
    groups: list[dict] = []
    if mode == "STRICT":
        rules.append(_deny_no_identity())
    found_non_strict = False
    for port in sorted(port_level, key=lambda p: int(p) if str(p).isdigit() else 0):  # maps.SeqStable
        pmode = _mtls_mode(port_level[port])
        try:
            pnum = int(port)
        except (TypeError, ValueError):
            continue
        if pmode == "STRICT":
            if mode == "STRICT" or (mode == "UNSET" and ns_mode == "STRICT") or \
                    ((ns_pa is None or ns_mode == "UNSET") and root_mode == "STRICT"):
                continue
            groups.append({"rules": [{"matches": [{"notPrincipals": [_presence()], "destinationPorts": [pnum]}]}]})
        elif pmode in ("PERMISSIVE", "DISABLE"):
            if mode in ("PERMISSIVE", "DISABLE"):
                continue
            if mode == "UNSET" and ((ns_pa is not None and ns_mode != "STRICT") or
                                    (ns_pa is None and root_pa is not None and root_mode != "STRICT") or
                                    (ns_pa is None and root_pa is None)):
                continue
            found_non_strict = True
            rules.append({"matches": [{"notDestinationPorts": [pnum]}]})
    if mode == "STRICT" and not found_non_strict:
        return None
    if not rules and not groups:
        return None
    merge = (root_mode == "STRICT" and (ns_pa is None or ns_mode in ("UNSET", "STRICT"))) or ns_mode == "STRICT"
    if merge and found_non_strict:
        rules.append(_deny_no_identity())
    if rules:
        groups.append({"rules": rules})
    return {"name": CONVERTED_PA_PREFIX + name_of(pa), "namespace": ns_of(pa), "scope": "WORKLOAD_SELECTOR",
            "action": "DENY", "groups": groups}


def static_strict_policy(root_namespace: str = "istio-system") -> dict:
    """The policy istiod pushes when any PeerAuthentication exists (DefaultPolicy in policies.go)."""
    return {"name": STATIC_STRICT, "namespace": root_namespace, "scope": "WORKLOAD_SELECTOR", "action": "DENY",
            "groups": [{"rules": [_deny_no_identity()]}]}


def _peer_authentications_for(snap: Snapshot, namespace: str, labels: Mapping[str, Any],
                              root_namespace: str) -> list[dict]:
    """fetchPeerAuthentications: root-namespace policies without a selector, and the namespace's own that
    select the workload (no selector = all)."""
    out = []
    for pa in snap.of("PeerAuthentication"):
        sel = _spec(pa).get("selector")
        if ns_of(pa) == root_namespace and sel is None:
            out.append(pa)
            continue
        if ns_of(pa) != namespace:
            continue
        if sel is None or _subset(_map(_map(sel).get("matchLabels")), labels):
            out.append(pa)
    return out


def _levels(configs: list[dict], root_namespace: str) -> tuple[dict | None, dict | None, dict | None]:
    """(mesh, namespace, workload) PeerAuthentication, oldest per level (convertedSelectorPeerAuthentications)."""
    mesh = _oldest(c for c in configs if not _pa_selector_labels(c) and ns_of(c) == root_namespace)
    nsl = _oldest(c for c in configs if not _pa_selector_labels(c) and ns_of(c) != root_namespace)
    wl = _oldest(c for c in configs if _pa_selector_labels(c) and ns_of(c) != root_namespace)
    return mesh, nsl, wl


def peer_authentication_policy_keys(snap: Snapshot, namespace: str, labels: Mapping[str, Any],
                                    root_namespace: str = "istio-system") -> list[str]:
    """convertedSelectorPeerAuthentications: the PeerAuthentication-derived names istiod puts in a workload's
    ``authorizationPolicies`` (the static STRICT policy and/or ``converted_peer_authentication_<name>``)."""
    mesh, nsl, wl = _levels(_peer_authentications_for(snap, namespace, labels, root_namespace), root_namespace)
    strict = False
    port_key = ""
    if mesh is not None:
        strict = _mtls_mode(_spec(mesh).get("mtls")) == "STRICT"
    if nsl is not None and _mtls_mode(_spec(nsl).get("mtls")) != "UNSET":
        strict = _mtls_mode(_spec(nsl).get("mtls")) == "STRICT"
    if wl is not None:
        spec = _spec(wl)
        mode = _mtls_mode(spec.get("mtls"))
        if mode == "STRICT":
            strict = True
        if mode in ("PERMISSIVE", "DISABLE"):
            strict = False
        ports = _map(spec.get("portLevelMtls"))
        modes = [_mtls_mode(m) for m in ports.values()]
        key = f"{ns_of(wl)}/{CONVERTED_PA_PREFIX}{name_of(wl)}"
        if spec.get("portLevelMtls") is not None:
            if mode == "STRICT":
                if any(m in ("PERMISSIVE", "DISABLE") for m in modes):
                    port_key, strict = key, False
            elif mode in ("PERMISSIVE", "DISABLE"):
                if "STRICT" in modes:
                    port_key = key
            elif strict:
                if "PERMISSIVE" in modes:
                    port_key, strict = key, False
            else:
                strict = False
                if "STRICT" in modes:
                    port_key = key
    out = set()
    if strict:
        out.add(f"{root_namespace}/{STATIC_STRICT}")
    if port_key:
        out.add(port_key)
    return sorted(out)


def peer_authentication_policies(snap: Snapshot, root_namespace: str = "istio-system") -> dict[str, dict]:
    """Every PeerAuthentication-derived policy istiod sends to ztunnel, by "ns/name" (xDS form):
    PeerAuthDerivedPolicies plus the static STRICT policy when any PeerAuthentication exists."""
    pas = snap.of("PeerAuthentication")
    out: dict[str, dict] = {}
    if pas:
        out[f"{root_namespace}/{STATIC_STRICT}"] = static_strict_policy(root_namespace)
    for pa in pas:
        if ns_of(pa) == root_namespace or _spec(pa).get("selector") is None or not _spec(pa).get("portLevelMtls"):
            continue
        ns_pa = _oldest(p for p in snap.of("PeerAuthentication", ns_of(pa)) if _spec(p).get("selector") is None)
        root_pa = _oldest(p for p in snap.of("PeerAuthentication", root_namespace)
                          if _spec(p).get("selector") is None)
        pol = convert_peer_authentication(pa, ns_pa, root_pa, root_namespace)
        if pol is not None:
            out[f"{pol['namespace']}/{pol['name']}"] = pol
    return out


@dataclass(frozen=True)
class AmbientMtls:
    """What ztunnel does with plaintext for one ambient workload (HBONE between mesh workloads is always mTLS).

    ``mode`` is for ports PeerAuthentication does not name; ``port_modes`` the ports it does. STRICT: a
    connection without a peer identity (plaintext through ztunnel's 15006) is refused; PERMISSIVE: accepted.
    DISABLE is PERMISSIVE for ztunnel (it never turns HBONE off)."""

    mode: Literal["STRICT", "PERMISSIVE"]
    port_modes: dict[int, str]
    #: the names istiod lists in the workload's authorizationPolicies for PeerAuthentication
    policies: tuple[str, ...]
    #: the PeerAuthentications that decide, "mesh ns/name", "namespace ns/name", "workload ns/name"
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()


def ambient_mtls(snap: Snapshot, namespace: str, labels: Mapping[str, Any],
                 root_namespace: str = "istio-system") -> AmbientMtls:
    """The effective mTLS mode of an ambient workload, by evaluating the Deny policies istiod sends for it
    with ztunnel's matching on a plaintext connection (no identity) per port."""
    keys = peer_authentication_policy_keys(snap, namespace, labels, root_namespace)
    sent = peer_authentication_policies(snap, root_namespace)
    policies = [ztunnel_form(sent[k]) for k in keys if k in sent]
    mesh, nsl, wl = _levels(_peer_authentications_for(snap, namespace, labels, root_namespace), root_namespace)
    named = sorted({int(p) for p in _map(_spec(wl).get("portLevelMtls") if wl else {}) if str(p).isdigit()})
    other = next(p for p in range(1, 65536) if p not in named)

    def mode_at(port: int) -> str:
        conn = L4Connection(destination_port=port)
        return "STRICT" if any(policy_matches(p, conn) for p in policies) else "PERMISSIVE"

    mode = mode_at(other)
    sources = tuple(f"{lvl} {_key(o)}" for lvl, o in (("mesh", mesh), ("namespace", nsl), ("workload", wl)) if o)
    notes = []
    if any(_mtls_mode(_spec(o).get("mtls")) == "DISABLE" for o in (mesh, nsl, wl) if o) or any(
            _mtls_mode(m) == "DISABLE" for m in _map(_spec(wl).get("portLevelMtls") if wl else {}).values()):
        notes.append("DISABLE acts as PERMISSIVE in ambient: traffic between ambient workloads stays HBONE (mTLS)")
    if not snap.of("PeerAuthentication"):
        notes.append("no PeerAuthentication exists: istiod sends no STRICT policy, plaintext is accepted")
    return AmbientMtls(mode, {p: mode_at(p) for p in named}, tuple(keys), sources,  # type: ignore[arg-type]
                       tuple(notes))


# =====================================================================================================
# (d) AuthorizationPolicy as istiod converts it for ztunnel
# =====================================================================================================
HTTP_RULE_FMT = ("ztunnel does not support HTTP attributes (found: %s). In ambient mode you must use a waypoint "
                 "proxy to enforce HTTP rules. %s")
HTTP_DENY_BOILERPLATE = ("DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more "
                         "restrictive than requested.")
HTTP_ALLOW_BOILERPLATE = ("Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more "
                          "restrictive than requested.")
L4_WHEN = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")
_HTTP_OPERATIONS = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
_HTTP_SOURCES = ("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals")


def _string_match(v: str) -> dict:
    """stringToMatch: * = presence, *x = suffix, x* = prefix, else exact."""
    if v == "*":
        return _presence()
    if v.startswith("*"):
        return {"suffix": v[1:]}
    if v.endswith("*"):
        return {"prefix": v[:-1]}
    return {"exact": v}


def _ports(values: Iterable[Any]) -> list[int]:
    out = []
    for v in values:
        s = str(v)
        if s.isdigit() and int(s) <= 65535:
            out.append(int(s))
    return out


def _addresses(values: Iterable[Any]) -> list[dict]:
    """stringToIP: CIDRs and IPs as {address: base64 bytes, length}; unparsable values are dropped."""
    out = []
    for v in values:
        s = str(v)
        if not s:
            continue
        try:
            if "/" in s:
                net = ipaddress.ip_network(s, strict=False)
                addr, length = ipaddress.ip_address(s.split("/", 1)[0]), net.prefixlen
            else:
                addr = ipaddress.ip_address(s)
                length = addr.max_prefixlen
        except ValueError:
            continue
        out.append({"address": base64.b64encode(addr.packed).decode(), "length": length})
    return out


def _service_accounts(values: Iterable[Any], ns: str) -> list[dict]:
    out = []
    for v in values:
        s = str(v)
        if "/" in s:
            a, _, b = s.partition("/")
            out.append({"namespace": a, "serviceAccount": b})
        else:
            out.append({"namespace": ns, "serviceAccount": s})
    return out


def _strs(v: Any) -> list[str]:
    return [str(x) for x in _seq(v)]


def _clean(match: dict) -> dict:
    return {k: v for k, v in match.items() if v}


def handle_rule(action: str, rule: dict, rule_namespace: str) -> tuple[list[dict] | None, list[str]]:
    """handleRule: the rule's ``Rules`` (clauses) for ztunnel and the HTTP attributes found. For ALLOW a rule
    with any HTTP attribute is dropped whole (None); for DENY only the HTTP fields are removed."""
    found: list[str] = []
    l7 = False
    to_matches = []
    for to in _seq(rule.get("to")):
        op = _map(_map(to).get("operation"))
        problems = [k for k in _HTTP_OPERATIONS if _seq(op.get(k))]
        if problems:
            l7 = True
            found += problems
        to_matches.append(_clean({"destinationPorts": _ports(_seq(op.get("ports"))),
                                  "notDestinationPorts": _ports(_seq(op.get("notPorts")))}))
    from_matches = []
    for fr in _seq(rule.get("from")):
        src = _map(_map(fr).get("source"))
        problems = [k for k in _HTTP_SOURCES if _seq(src.get(k))]
        if problems:
            l7 = True
            found += problems
        from_matches.append(_clean({
            "sourceIps": _addresses(_seq(src.get("ipBlocks"))),
            "notSourceIps": _addresses(_seq(src.get("notIpBlocks"))),
            "namespaces": [_string_match(v) for v in _strs(src.get("namespaces"))],
            "notNamespaces": [_string_match(v) for v in _strs(src.get("notNamespaces"))],
            "serviceAccounts": _service_accounts(_strs(src.get("serviceAccounts")), rule_namespace),
            "notServiceAccounts": _service_accounts(_strs(src.get("notServiceAccounts")), rule_namespace),
            "principals": [_string_match(v) for v in _strs(src.get("principals"))],
            "notPrincipals": [_string_match(v) for v in _strs(src.get("notPrincipals"))]}))
    rules: list[dict] = []
    if to_matches:
        rules.append({"matches": to_matches})
    if from_matches:
        rules.append({"matches": from_matches})
    for when in _seq(rule.get("when")):
        when = _map(when)
        k = str(when.get("key") or "")
        if k not in L4_WHEN:
            l7 = True
            found.append(k)
        vals, nots = _strs(when.get("values")), _strs(when.get("notValues"))
        m: dict[str, Any] = {}
        if k == "source.namespace":
            m = {"namespaces": [_string_match(v) for v in vals], "notNamespaces": [_string_match(v) for v in nots]}
        elif k == "source.principal":
            m = {"principals": [_string_match(v) for v in vals], "notPrincipals": [_string_match(v) for v in nots]}
        elif k == "source.ip":
            m = {"sourceIps": _addresses(vals), "notSourceIps": _addresses(nots)}
        elif k == "destination.port":
            m = {"destinationPorts": _ports(vals), "notDestinationPorts": _ports(nots)}
        elif k == "destination.ip":
            m = {"destinationIps": _addresses(vals), "notDestinationIps": _addresses(nots)}
        rules.append({"matches": [_clean(m)]})
    if action == "ALLOW" and l7:
        return None, found
    return rules, found


@dataclass(frozen=True)
class ZtunnelConversion:
    """convertAuthorizationPolicy's answer: the policy sent to ztunnel (xDS form; None: not sent) and the
    ZtunnelAccepted condition istiod writes (None: no condition, e.g. targetRefs policies)."""

    policy: dict | None
    #: the condition: "True"/"False", its reason and message (None when istiod writes none but "attached")
    accepted: str | None
    reason: str | None
    message: str | None
    l7_fields: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        return self.policy is not None


def target_refs(ap: dict) -> list[dict]:
    """GetTargetRefs: targetRefs, else the singular targetRef."""
    spec = _spec(ap)
    refs = [_map(r) for r in _seq(spec.get("targetRefs"))]
    if not refs and isinstance(spec.get("targetRef"), dict):
        refs = [_map(spec["targetRef"])]
    return refs


def convert_authorization_policy(ap: dict, root_namespace: str = "istio-system",
                                 dry_run_enabled: bool = False) -> ZtunnelConversion:
    """convertAuthorizationPolicy, exactly (AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY is
    ``dry_run_enabled``, default false as in istiod)."""
    spec = _spec(ap)
    ns, name = ns_of(ap), name_of(ap)
    dry = False
    val = annotations_of(ap).get(DRY_RUN)
    if val:
        dry = str(val).lower() in ("1", "t", "true")
    if dry and not dry_run_enabled:
        return ZtunnelConversion(None, "False", "UnsupportedValue",
                                 f'found policy "{ns}/{name}" using dry-run annotation, but support for ambient '
                                 "dry-run authorizationPolicies isn't enabled")
    if target_refs(ap):
        return ZtunnelConversion(None, None, None, None)
    scope = "WORKLOAD_SELECTOR"
    if spec.get("selector") is None:
        scope = "GLOBAL" if ns == root_namespace else "NAMESPACE"
    action = str(spec.get("action") or "ALLOW").upper()
    if action not in ("ALLOW", "DENY"):
        return ZtunnelConversion(None, "False", "UnsupportedValue", f"ztunnel does not support the {action} action")
    boiler = HTTP_ALLOW_BOILERPLATE if action == "ALLOW" else HTTP_DENY_BOILERPLATE
    pol: dict[str, Any] = {"name": name, "namespace": ns, "scope": scope, "action": action, "groups": []}
    if dry:
        pol["dryRun"] = True
    found: set[str] = set()
    for rule in _seq(spec.get("rules")):
        rules, l7 = handle_rule(action, _map(rule), ns)
        if rules is not None:
            pol["groups"].append({"rules": rules})
        found.update(l7)
    if found:
        fields = ", ".join(sorted(found))
        return ZtunnelConversion(pol, "True", "UnsupportedValue", HTTP_RULE_FMT % (fields, boiler),
                                 tuple(sorted(found)))
    return ZtunnelConversion(pol, "True", "Accepted", "attached to ztunnel")


# -- the config_dump form and ztunnel's matching ----------------------------------------------------------
_SCOPES = {"GLOBAL": "Global", "NAMESPACE": "Namespace", "WORKLOAD_SELECTOR": "WorkloadSelector"}
_ACTIONS = {"ALLOW": "Allow", "DENY": "Deny"}


def _dump_string(m: dict) -> dict:
    if "presence" in m:
        return {"Presence": []}
    for k in ("exact", "prefix", "suffix"):
        if k in m:
            return {k.title(): m[k]}
    return {}


def _dump_address(a: dict) -> str:
    raw = base64.b64decode(str(a.get("address") or ""))
    ip = ipaddress.ip_address(raw)
    return f"{ip}/{a.get('length', ip.max_prefixlen)}"


def ztunnel_form(policy: dict) -> dict:
    """The xDS-form policy as ztunnel shows it in /config_dump (istio/ztunnel src/rbac.rs serde)."""
    rules = []
    for g in _seq(policy.get("groups")):
        rule = []
        for clause in _seq(_map(g).get("rules")):
            matches = []
            for m in _seq(_map(clause).get("matches")):
                m = _map(m)
                out: dict[str, Any] = {}
                for k in ("namespaces", "notNamespaces", "principals", "notPrincipals"):
                    if m.get(k):
                        out[k] = [_dump_string(_map(x)) for x in m[k]]
                for k in ("serviceAccounts", "notServiceAccounts"):
                    if m.get(k):
                        out[k] = [dict(x) for x in m[k]]
                for k in ("sourceIps", "notSourceIps", "destinationIps", "notDestinationIps"):
                    if m.get(k):
                        out[k] = [_dump_address(_map(x)) for x in m[k]]
                for k in ("destinationPorts", "notDestinationPorts"):
                    if m.get(k):
                        out[k] = list(m[k])
                matches.append(out)
            rule.append(matches)
        rules.append(rule)
    out = {"name": policy.get("name", ""), "namespace": policy.get("namespace", ""),
           "scope": _SCOPES.get(str(policy.get("scope") or "GLOBAL"), "Global"),
           "action": _ACTIONS.get(str(policy.get("action") or "ALLOW"), "Allow"), "rules": rules}
    if policy.get("dryRun"):
        out["dryRun"] = True
    return out


@dataclass(frozen=True)
class L4Connection:
    """What ztunnel knows of a connection at the destination: the peer identity (None: plaintext, e.g.
    through 15006 from a pod outside the mesh), source IP, destination IP and port."""

    principal: str | None = None
    source_ip: str | None = None
    destination_ip: str | None = None
    destination_port: int = 0

    @property
    def identity(self) -> tuple[str, str, str] | None:
        """(trust domain, namespace, service account) of a SPIFFE principal."""
        if not self.principal:
            return None
        p = self.principal.removeprefix("spiffe://")
        parts = p.split("/")
        if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
            return parts[0], parts[2], parts[4]
        return None


def connection(*, principal: str | None = None, namespace: str | None = None, service_account: str | None = None,
               trust_domain: str = "cluster.local", source_ip: str | None = None, destination_ip: str | None = None,
               port: int = 0, plaintext: bool = False) -> L4Connection:
    """An L4Connection from what a caller says: a principal, or a namespace and service account (the SPIFFE
    identity is built with the trust domain); plaintext drops the identity."""
    if plaintext:
        principal = None
    elif not principal and namespace:
        principal = f"{trust_domain}/ns/{namespace}/sa/{service_account or 'default'}"
    if principal:
        principal = principal.removeprefix("spiffe://")
    return L4Connection(principal, source_ip, destination_ip, port)


def _str_matches(m: Any, value: str) -> bool:
    m = _map(m)
    if "Exact" in m:
        return value == str(m["Exact"])
    if "Prefix" in m:
        return value.startswith(str(m["Prefix"]))
    if "Suffix" in m:
        return value.endswith(str(m["Suffix"]))
    if "Presence" in m:
        return value != ""
    return False


def _ip_in(cidr: str, ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return False


def _field_match(m: dict, pos: str, neg: str, test: Any) -> bool:
    """A positive list (empty = no constraint: true; else any matches) AND a negative list (none matches)."""
    ok = True
    if m.get(pos):
        ok = any(test(x) for x in m[pos])
    if ok and m.get(neg):
        ok = not any(test(x) for x in m[neg])
    return ok


_MATCH_KEYS = ("namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals", "notPrincipals",
               "sourceIps", "notSourceIps", "destinationIps", "notDestinationIps", "destinationPorts",
               "notDestinationPorts")


def match_matches(m: dict, conn: L4Connection) -> bool:
    """One RbacMatch: every field (AND), list values OR, not* lists negate. Without an identity principals,
    namespaces and service accounts never match (so their not* lists hold)."""
    ident = conn.identity
    principal = conn.principal or ""

    def by_ns(x: Any) -> bool:
        return ident is not None and _str_matches(x, ident[1])

    def by_principal(x: Any) -> bool:
        return conn.principal is not None and _str_matches(x, principal)

    def by_sa(x: Any) -> bool:
        x = _map(x)
        return ident is not None and ident[1] == str(x.get("namespace")) and ident[2] == str(x.get("serviceAccount"))

    return (_field_match(m, "namespaces", "notNamespaces", by_ns)
            and _field_match(m, "serviceAccounts", "notServiceAccounts", by_sa)
            and _field_match(m, "principals", "notPrincipals", by_principal)
            and _field_match(m, "sourceIps", "notSourceIps", lambda c: _ip_in(c, conn.source_ip))
            and _field_match(m, "destinationIps", "notDestinationIps", lambda c: _ip_in(c, conn.destination_ip))
            and _field_match(m, "destinationPorts", "notDestinationPorts", lambda p: int(p) == conn.destination_port))


def policy_matches(policy: dict, conn: L4Connection) -> bool:
    """Authorization::matches on the config_dump form: any rule; a rule is all of its clauses (no clauses:
    matches everything); a clause is any of its non-empty matches (an empty match is skipped, so a clause
    of only empty matches never holds; a clause with no matches holds). No rules: never matches."""
    for rule in _seq(policy.get("rules")):
        ok = True
        for clause in _seq(rule):
            matches = [_map(m) for m in _seq(clause)]
            if not matches:
                continue
            if not any(match_matches(m, conn) for m in matches if any(m.get(k) for k in _MATCH_KEYS)):
                ok = False
                break
        if ok:
            return True
    return False


@dataclass(frozen=True)
class L4Decision:
    allowed: bool
    #: "denied" (a DENY matched), "no-allow" (no ALLOW policy: allowed), "allowed" (an ALLOW matched),
    #: "not-allowed" (ALLOW policies exist, none matched)
    reason: Literal["denied", "no-allow", "allowed", "not-allowed"]
    #: "ns/name" of the deciding policy (denied / allowed)
    policy: str | None
    #: the policies ztunnel considered, "ns/name (Action)", in its order (DENY first)
    considered: tuple[str, ...]
    text: str


def assert_rbac(policies: Iterable[dict], conn: L4Connection) -> L4Decision:
    """ztunnel's assert_rbac at the destination over config_dump-form policies: any matching DENY rejects;
    no ALLOW allows; a matching ALLOW allows; else rejected. Dry-run policies are only logged."""
    pols = [p for p in policies if not p.get("dryRun")]
    deny = [p for p in pols if p.get("action") == "Deny"]
    allow = [p for p in pols if p.get("action") != "Deny"]
    considered = tuple(f"{p.get('namespace')}/{p.get('name')} ({p.get('action')})" for p in deny + allow)
    for p in deny:
        if policy_matches(p, conn):
            k = f"{p.get('namespace')}/{p.get('name')}"
            return L4Decision(False, "denied", k, considered, f"denied by DENY policy {k}")
    if not allow:
        return L4Decision(True, "no-allow", None, considered, "allowed: no ALLOW policy applies at ztunnel")
    for p in allow:
        if policy_matches(p, conn):
            k = f"{p.get('namespace')}/{p.get('name')}"
            return L4Decision(True, "allowed", k, considered, f"allowed by ALLOW policy {k}")
    return L4Decision(False, "not-allowed", None, considered,
                      f"denied: {len(allow)} ALLOW polic{'y applies' if len(allow) == 1 else 'ies apply'} and none "
                      "matches")


def _selects(ap: dict, labels: Mapping[str, Any]) -> bool:
    """A WorkloadSelector policy is listed on a workload when its matchLabels (present, possibly empty) are a
    subset of the workload's labels (buildWorkloadPolicies: GetLabelSelector() != nil and FilterSelects); a
    selector without matchLabels attaches to no workload."""
    sel = _map(_spec(ap).get("selector"))
    if "matchLabels" not in sel or not isinstance(sel.get("matchLabels"), dict):
        return False
    return _subset(sel["matchLabels"], labels)


def authorization_policy_keys(snap: Snapshot, namespace: str, labels: Mapping[str, Any],
                              root_namespace: str = "istio-system") -> list[str]:
    """buildWorkloadPolicies: a workload's ``authorizationPolicies`` ("ns/name"): the selector policies sent to
    ztunnel from its namespace and the root namespace that select it, sorted, then the PeerAuthentication-derived
    names (namespace- and mesh-scoped policies are not listed: ztunnel applies them by scope)."""
    keys = []
    for ap in snap.of("AuthorizationPolicy"):
        if ns_of(ap) not in (namespace, root_namespace) or _spec(ap).get("selector") is None:
            continue
        if convert_authorization_policy(ap, root_namespace).policy is not None and _selects(ap, labels):
            keys.append(_key(ap))
    return sorted(keys) + peer_authentication_policy_keys(snap, namespace, labels, root_namespace)


def ztunnel_policies(snap: Snapshot, namespace: str, labels: Mapping[str, Any],
                     root_namespace: str = "istio-system") -> list[dict]:
    """The policies ztunnel evaluates for a workload (config_dump form): the Namespace-scoped ones of its
    namespace, the Global ones, and the names in its authorizationPolicies (selector policies of its
    namespace and the root namespace, then the PeerAuthentication-derived ones). Not the waypoint's."""
    ns_pols, global_pols, selected = [], [], []
    for ap in snap.of("AuthorizationPolicy"):
        conv = convert_authorization_policy(ap, root_namespace)
        if conv.policy is None:
            continue
        scope = conv.policy["scope"]
        if scope == "NAMESPACE" and ns_of(ap) == namespace:
            ns_pols.append(conv.policy)
        elif scope == "GLOBAL":
            global_pols.append(conv.policy)
        elif scope == "WORKLOAD_SELECTOR" and ns_of(ap) in (namespace, root_namespace) and _selects(ap, labels):
            selected.append(conv.policy)
    selected.sort(key=lambda p: f"{p['namespace']}/{p['name']}")
    sent = peer_authentication_policies(snap, root_namespace)
    for k in peer_authentication_policy_keys(snap, namespace, labels, root_namespace):
        if k in sent:
            selected.append(sent[k])
    by_key = lambda ps: sorted(ps, key=lambda p: f"{p['namespace']}/{p['name']}")  # noqa: E731
    return [ztunnel_form(p) for p in by_key(ns_pols) + by_key(global_pols) + selected]


def check_l4(snap: Snapshot, pod: dict, conn: L4Connection, root_namespace: str = "istio-system") -> L4Decision:
    """ztunnel's decision for a connection to an ambient pod (the destination IP defaults to the pod's IP)."""
    if conn.destination_ip is None:
        ip = _map(pod.get("status")).get("podIP")
        conn = L4Connection(conn.principal, conn.source_ip, str(ip) if ip else None, conn.destination_port)
    return assert_rbac(ztunnel_policies(snap, ns_of(pod), labels_of(pod), root_namespace), conn)


# -- who enforces a policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaypointAccepted:
    """One targetRef's WaypointAccepted entry (WaypointPolicyStatusCollection)."""

    ancestor: str
    bound: bool
    reason: str
    message: str


@dataclass(frozen=True)
class PolicyEnforcement:
    policy: str
    action: str
    #: ambient pods ("ns/name") whose ztunnel holds the policy (L4 part only)
    ztunnel: tuple[str, ...]
    #: sidecar pods that enforce it (selector/namespace policies; sidecars ignore targetRefs)
    sidecars: tuple[str, ...]
    #: waypoints ("ns/name") that take it through targetRefs
    waypoints: tuple[str, ...]
    #: the ZtunnelAccepted condition (None for targetRefs policies) and the WaypointAccepted entries
    ztunnel_status: ZtunnelConversion
    waypoint_status: tuple[WaypointAccepted, ...]
    #: what the policy does at ztunnel, in words (None when ztunnel does not hold it)
    effect: str | None
    #: the policy has HTTP rules or a CUSTOM/AUDIT action that only a waypoint (targetRefs) can enforce
    needs_waypoint: bool
    notes: tuple[str, ...] = ()

    @property
    def enforced(self) -> bool:
        return bool(self.ztunnel or self.sidecars or self.waypoints)


def _ztunnel_effect(conv: ZtunnelConversion) -> str | None:
    pol = conv.policy
    if pol is None:
        return None
    form = ztunnel_form(pol)
    if pol["action"] == "ALLOW":
        if not form["rules"]:
            if conv.l7_fields:
                return ("denies every connection at ztunnel: each rule has HTTP fields, so none reaches ztunnel and "
                        "an ALLOW policy with no rules matches nothing (fails closed)")
            return "denies every connection at ztunnel (an ALLOW policy with no rules matches nothing)"
        if conv.l7_fields:
            return (f"allows only what its L4-only rules allow ({len(form['rules'])} kept; the rules with HTTP "
                    f"fields ({', '.join(conv.l7_fields)}) are dropped: more restrictive than written)")
        return "enforced at L4 as written"
    # DENY
    live = [r for r in form["rules"] if rule_can_fire(r)]
    if conv.l7_fields:
        if not live:
            return ("denies nothing at ztunnel: with the HTTP fields removed no rule can match (the HTTP "
                    "conditions need a waypoint)")
        return (f"{len(live)} rule(s) deny without their HTTP conditions ({', '.join(conv.l7_fields)}): "
                "more restrictive than written")
    if not form["rules"]:
        return "denies nothing (a DENY policy with no rules)"
    return "enforced at L4 as written"


def rule_can_fire(rule: list) -> bool:
    """False when some clause has only empty matches (ztunnel skips empty matches: the clause never holds)."""
    for clause in _seq(rule):
        ms = [_map(m) for m in _seq(clause)]
        if ms and not any(any(m.get(k) for k in _MATCH_KEYS) for m in ms):
            return False
    return True


def _ancestor(kind: str, group: str, key: str) -> str:
    return f"{kind}.{group or 'core'}:{key}"


def waypoint_policy_status(snap: Snapshot, ap: dict, root_namespace: str = "istio-system",
                           index: dict[str, Waypoint] | None = None) -> tuple[WaypointAccepted, ...]:
    """WaypointPolicyStatusCollection: one entry per targetRef."""
    index = waypoint_index(snap) if index is None else index
    out = []
    for t in target_refs(ap):
        kind, group, name = str(t.get("kind") or ""), str(t.get("group") or ""), str(t.get("name") or "")
        ns = str(t.get("namespace") or ns_of(ap))
        key = f"{ns}/{name}"
        bound, reason, msg = False, "unknown", "not bound"
        if kind == "GatewayClass":
            if ns != root_namespace:
                reason = "Invalid"
                msg = f"AuthorizationPolicy must be in the root namespace `{root_namespace}` when referencing a " \
                      "GatewayClass"
            else:
                gc = next((c for c in gateway_classes(snap) if name_of(c) == name), None)
                if gc is None:
                    if name == WAYPOINT_CLASS and not gateway_classes(snap):
                        bound, reason, msg = True, "Accepted", f"bound to {name}"  # istiod creates it with ambient
                    else:
                        reason = "TargetNotFound"
                elif _spec(gc).get("controllerName") != MESH_CONTROLLER:
                    reason = "Invalid"
                    msg = f"GatewayClass must use controller name `{MESH_CONTROLLER}` for waypoints"
                else:
                    bound, reason, msg = True, "Accepted", f"bound to {name}"
        elif kind == "Gateway":
            if key in index:
                bound, reason, msg = True, "Accepted", f"bound to {key}"
            else:
                reason = "TargetNotFound"
        elif kind in ("Service", "ServiceEntry"):
            skey = "Service" if kind == "Service" else "ServiceEntry"
            objs = [s for s in snap.of(skey, ns) if name_of(s) == name]
            if objs:
                b = service_waypoint(snap, objs[0], index)
                if b.waypoint:
                    bound, reason, msg = True, "Accepted", f"bound to {b.waypoint}"
                else:
                    reason, msg = "AncestorNotBound", f"{kind} {key} is not bound to a waypoint"
            else:
                reason, msg = "TargetNotFound", f"{kind} {key} was not found"
        out.append(WaypointAccepted(_ancestor(kind, group, key), bound, reason, msg))
    return tuple(out)


def policy_enforcement(snap: Snapshot, ap: dict, root_namespace: str = "istio-system") -> PolicyEnforcement:
    """Who enforces an AuthorizationPolicy, and what it does there: ztunnel (selector/namespace/mesh policies
    on captured pods, L4 part only), sidecars (the same policies on injected pods), waypoints (targetRefs:
    the Gateway itself, the waypoint of a Service/ServiceEntry, every waypoint for GatewayClass
    istio-waypoint in the root namespace), or nobody."""
    from .workloads import sidecar_of

    index = waypoint_index(snap)
    conv = convert_authorization_policy(ap, root_namespace)
    spec = _spec(ap)
    action = str(spec.get("action") or "ALLOW").upper()
    refs = target_refs(ap)
    ns = ns_of(ap)
    zt, sc, wps = [], [], []
    notes: list[str] = []
    if not refs:
        for pod in selected_pods(snap, ap, root_namespace):
            kind = sidecar_of(pod)
            if kind == "istio" or kind == "istio-gateway":
                sc.append(_key(pod))
        if conv.policy is not None:
            zt = [_key(p) for p in ztunnel_pods(snap, ap, root_namespace)]
    wstatus = waypoint_policy_status(snap, ap, root_namespace, index) if refs else ()
    if refs:
        for t in refs:
            kind, name = str(t.get("kind") or ""), str(t.get("name") or "")
            tns = str(t.get("namespace") or "")
            if kind == "Gateway" and (not tns or tns == ns) and f"{ns}/{name}" in index:
                wps.append(f"{ns}/{name}")
            elif kind in ("Service", "ServiceEntry"):
                obj = next((s for s in snap.of(kind, ns) if name_of(s) == name), None)
                if obj is not None:
                    b = service_waypoint(snap, obj, index)
                    if b.waypoint:
                        wps.append(b.waypoint)
            elif kind == "GatewayClass" and name == WAYPOINT_CLASS and ns == root_namespace:
                wps += [w.key for w in index.values() if w.gateway_class == WAYPOINT_CLASS]
            if tns and tns != ns:
                notes.append(f"targetRef {kind}/{name} names namespace {tns}: a policy applies only in its own "
                             "namespace, so this reference never matches")
        if not wps:
            notes.append("targetRefs that reach no waypoint: enforced nowhere (sidecars and ztunnel ignore "
                         "targetRefs policies)")
    for b in waypoint_blocked(snap, ap, root_namespace, _trust_domain(snap, root_namespace))[:3]:
        notes.append(f"{b.pod} is reached through waypoint {b.waypoint}, whose identity {b.principal} this ALLOW "
                     "does not allow: ztunnel sees the waypoint, not the client, and refuses that traffic")
    needs_waypoint = bool(conv.l7_fields) or action in ("CUSTOM", "AUDIT")
    if needs_waypoint and zt:
        notes.append("ztunnel enforces L4 only: attach the policy to a waypoint with targetRefs (Service or "
                     "Gateway) to enforce its HTTP rules / action")
    if action in ("CUSTOM", "AUDIT") and not refs and in_any_ambient(snap, ns, root_namespace):
        notes.append(f"ztunnel does not support the {action} action: the policy is not enforced for ambient pods")
    if conv.policy is not None and conv.policy["scope"] == "WORKLOAD_SELECTOR" and \
            "matchLabels" not in _map(spec.get("selector")):
        notes.append("a selector without matchLabels: istiod lists the policy on no ambient workload")
    return PolicyEnforcement(_key(ap), action, tuple(sorted(zt)), tuple(sorted(sc)), tuple(sorted(set(wps))), conv,
                             wstatus, _ztunnel_effect(conv) if zt else None, needs_waypoint, tuple(notes))


def _trust_domain(snap: Snapshot, root_namespace: str) -> str:
    from .workloads import trust_domain

    return trust_domain(snap, root_namespace)


def ambient_view(snap: Snapshot) -> Snapshot:
    """The snapshot with only the pods ztunnel can hold policies for (no sidecar, captured or going to be), plus
    the waypoint and ztunnel pods (waypoints are described from their pods): what ``ztunnel_pods`` and the
    analyzers' not-sent branch select from (both leave waypoint pods out). Built once per
    analysis (O(pods)), so checking each policy costs the ambient pods of its namespace, not every pod."""
    from .workloads import sidecar_of

    ns_objs = {name_of(n): n for n in snap.of("Namespace")}
    pods = [p for p in snap.of("Pod") if is_waypoint_pod(p) or is_ztunnel_pod(p) or (
        sidecar_of(p) == "none" and (in_ambient(p) or pod_intended(p, ns_objs.get(ns_of(p)))))]
    return Snapshot(objects={**snap.objects, "Pod": pods}, absent=snap.absent, source=snap.source,
                    namespace=snap.namespace)


def selected_pods(snap: Snapshot, ap: dict, root_namespace: str) -> list[dict]:
    """The live pods a selector/namespace/mesh policy selects (waypoint pods never use selectors)."""
    ns = ns_of(ap)
    sel = _spec(ap).get("selector")
    out = []
    for pod in snap.of("Pod") if ns == root_namespace else snap.of("Pod", ns):
        if _map(pod.get("status")).get("phase") in ("Succeeded", "Failed") or is_waypoint_pod(pod):
            continue
        if sel is None or _subset(_map(_map(sel).get("matchLabels")), labels_of(pod)):
            out.append(pod)
    return out


def ztunnel_pods(snap: Snapshot, ap: dict, root_namespace: str = "istio-system", *, intended: bool = False
                 ) -> list[dict]:
    """The ambient pods whose ztunnel would hold the policy if istiod sends it (captured pods; with
    ``intended``, also pods the CNI's default selectors will capture, for manifests without the annotation).
    A WorkloadSelector policy is listed only on workloads its matchLabels select (a selector without
    matchLabels: none)."""
    from .workloads import sidecar_of

    if target_refs(ap):
        return []
    ns_objs = {name_of(n): n for n in snap.of("Namespace")} if intended else {}
    selector = _spec(ap).get("selector") is not None
    out = []
    for pod in selected_pods(snap, ap, root_namespace):
        if sidecar_of(pod) != "none":
            continue
        if not (in_ambient(pod) or (intended and REDIRECTION not in annotations_of(pod)
                                    and pod_intended(pod, ns_objs.get(ns_of(pod))))):
            continue
        if selector and not _selects(ap, labels_of(pod)):
            continue
        out.append(pod)
    return out


def pod_waypoints(snap: Snapshot, pod: dict, index: dict[str, Waypoint] | None = None
                  ) -> list[tuple[Waypoint, list[int]]]:
    """The waypoints traffic to a pod goes through, with the pod ports it arrives on: its own (workload
    traffic, any port) and those of the Services that select it (their target ports)."""
    index = waypoint_index(snap) if index is None else index
    out: dict[str, tuple[Waypoint, list[int]]] = {}
    b = workload_waypoint(snap, pod, index)
    if b.waypoint:
        out[b.waypoint] = (index[b.waypoint], [])
    for svc in services_of_pod(snap, pod):
        sb = service_waypoint(snap, svc, index)
        if not sb.waypoint:
            continue
        ports = [int(p["targetPort"]) if str(_map(p).get("targetPort", "")).isdigit() else int(_map(p).get("port") or 0)
                 for p in _seq(_spec(svc).get("ports")) if isinstance(p, dict)]
        w, known = out.setdefault(sb.waypoint, (index[sb.waypoint], []))
        known += [p for p in ports if p and p not in known]
    return list(out.values())


@dataclass(frozen=True)
class BlockedWaypoint:
    pod: str
    waypoint: str
    principal: str


def waypoint_blocked(snap: Snapshot, ap: dict, root_namespace: str = "istio-system",
                     trust_domain: str = "cluster.local", *, intended: bool = False) -> list[BlockedWaypoint]:
    """An L4 ALLOW policy at ztunnel on pods reached through a waypoint, that does not allow the waypoint's
    identity: behind a waypoint the destination ztunnel sees the waypoint's identity, not the client's, so
    that traffic is refused unless another ALLOW matches (reference 4.4)."""
    conv = convert_authorization_policy(ap, root_namespace)
    if conv.policy is None or conv.policy["action"] != "ALLOW":
        return []
    form = ztunnel_form(conv.policy)
    if not form["rules"]:
        return []  # denies everything anyway (reported on its own)
    index = waypoint_index(snap)
    out = []
    for pod in ztunnel_pods(snap, ap, root_namespace, intended=intended):
        ip = _map(pod.get("status")).get("podIP")
        for w, ports in pod_waypoints(snap, pod, index):
            sas = w.service_accounts or (w.name,)  # the waypoint Deployment's service account is the Gateway's name
            for sa in sas:
                principal = f"{trust_domain}/ns/{w.namespace}/sa/{sa}"
                ok = any(policy_matches(form, L4Connection(principal, None, str(ip) if ip else None, port))
                         for port in (ports or [0]))
                if not ok:
                    out.append(BlockedWaypoint(_key(pod), w.key, principal))
    return out


def waypoint_policies(snap: Snapshot, waypoint: str, service: dict | None = None,
                      root_namespace: str = "istio-system") -> list[dict]:
    """The AuthorizationPolicies a waypoint applies to traffic for ``service`` (ShouldAttachPolicy for a waypoint
    proxy): targetRefs to that Service or ServiceEntry from its namespace, to the waypoint's Gateway from the
    waypoint's namespace, and to GatewayClass istio-waypoint from the root namespace. Never selector policies.
    Evaluate them with Envoy's (sidecar) semantics: the waypoint is an Envoy."""
    wns, _, wname = waypoint.partition("/")
    out = []
    for ap in snap.of("AuthorizationPolicy"):
        pns = ns_of(ap)
        for t in target_refs(ap):
            kind, name, tns = str(t.get("kind") or ""), str(t.get("name") or ""), str(t.get("namespace") or "")
            if kind in ("Service", "ServiceEntry") and service is not None and name == name_of(service) and \
                    pns == ns_of(service) and (kind == "Service") == (str(service.get("kind") or "Service") ==
                                                                      "Service"):
                out.append(ap)
                break
            if kind == "GatewayClass" and name == WAYPOINT_CLASS and pns == root_namespace:
                out.append(ap)
                break
            if kind == "Gateway" and name == wname and pns == wns and tns in ("", wns):
                out.append(ap)
                break
    return out


@dataclass(frozen=True)
class AmbientHop:
    """One enforcement point on the way to an ambient pod."""

    #: "waypoint ns/name" or "ztunnel (destination)"
    at: str
    #: the principal this hop sees (None: plaintext, no identity)
    principal: str | None
    #: the waypoint's policies (AuthorizationPolicy "ns/name"), evaluated there with Envoy's L7 semantics; empty
    #: at ztunnel
    policies: tuple[str, ...] = ()
    #: ztunnel's L4 decision (None at a waypoint: the L7 simulator decides there)
    decision: L4Decision | None = None


@dataclass(frozen=True)
class AmbientCheck:
    destination: str
    #: the waypoint the traffic goes through ("ns/name"), and why (or why not)
    waypoint: str | None
    path: str
    hops: tuple[AmbientHop, ...]


def ambient_check(snap: Snapshot, pod: dict, conn: L4Connection, *, caller: str = "ambient",
                  service: dict | None = None, root_namespace: str = "istio-system") -> AmbientCheck:
    """Who decides a connection to an ambient pod, and what ztunnel decides (reference 2.4, 4.4).

    ``caller``: ``ambient`` (a captured pod: its ztunnel sends service traffic to the Service's waypoint, pod-IP
    traffic to the pod's workload waypoint), ``sidecar`` (sidecars do not use service waypoints: straight to the
    pod), ``ingress`` (an ingress gateway: the service waypoint only with istio.io/ingress-use-waypoint=true on the
    Service or its namespace), ``outside`` (no mesh identity: plaintext to the pod through ztunnel's 15006).
    ``service``: the Service called (None: the pod's IP). Behind a waypoint the destination ztunnel sees the
    waypoint's identity."""
    index = waypoint_index(snap)
    wp: str | None = None
    why = ""
    if caller == "outside":
        conn = L4Connection(None, conn.source_ip, conn.destination_ip, conn.destination_port)
        why = "no mesh identity: plaintext to the pod through ztunnel (a waypoint is not in the path)"
    elif service is not None:
        b = service_waypoint(snap, service, index)
        if caller == "sidecar":
            why = "a sidecar client sends service traffic straight to the pod (sidecars do not use service waypoints)"
        elif b.waypoint and caller == "ingress":
            ns_obj = next((n for n in snap.of("Namespace") if name_of(n) == ns_of(service)), None)
            flag = labels_of(service).get(INGRESS_USE_WAYPOINT, labels_of(ns_obj or {}).get(INGRESS_USE_WAYPOINT))
            if str(flag).lower() in ("true", "1", "t"):
                wp, why = b.waypoint, f"{INGRESS_USE_WAYPOINT}=true: the ingress gateway sends it to the waypoint"
            else:
                why = f"an ingress gateway skips the waypoint unless {INGRESS_USE_WAYPOINT}=true"
        elif b.waypoint:
            wp, why = b.waypoint, f"Service {_key(service)} is bound to waypoint {b.waypoint}"
        else:
            why = f"Service {_key(service)} has no waypoint" + (f" ({b.reason})" if b.reason else "")
    else:
        b = workload_waypoint(snap, pod, index)
        if caller == "ambient" and b.waypoint:
            wp, why = b.waypoint, f"the pod is bound to waypoint {b.waypoint} for workload traffic"
        else:
            why = "to the pod's IP: " + ("no workload waypoint" if not b.waypoint else
                                          f"a {caller} client goes straight to the pod")
    hops: list[AmbientHop] = []
    seen = conn
    if wp:
        w = index[wp]
        hops.append(AmbientHop(f"waypoint {wp}", conn.principal,
                               tuple(_key(a) for a in waypoint_policies(snap, wp, service, root_namespace))))
        sa = (w.service_accounts or (w.name,))[0]
        seen = L4Connection(f"{_trust_domain(snap, root_namespace)}/ns/{w.namespace}/sa/{sa}",
                            None, conn.destination_ip, conn.destination_port)
    d = check_l4(snap, pod, seen, root_namespace)
    hops.append(AmbientHop("ztunnel (destination)", seen.principal, (), d))
    return AmbientCheck(_key(pod), wp, why, tuple(hops))


def in_any_ambient(snap: Snapshot, namespace: str, root_namespace: str = "istio-system") -> bool:
    pods = snap.of("Pod") if namespace == root_namespace else snap.of("Pod", namespace)
    return any(in_ambient(p) for p in pods)


__all__ = [
    "AMBIENT_KINDS", "L4Connection", "L4Decision", "AmbientCheck", "AmbientComponents", "AmbientHop", "AmbientMtls", "BlockedWaypoint", "CniInfo",
    "NamespaceAmbient", "PodDataPlane", "PolicyEnforcement", "Waypoint", "WaypointAccepted", "WaypointBinding",
    "WaypointStatus", "ZtunnelConversion", "ZtunnelInfo", "ambient_check", "ambient_components", "ambient_mtls",
    "assert_rbac", "authorization_policy_keys", "connection", "convert_authorization_policy",
    "convert_peer_authentication", "gateway_as_waypoint", "handle_rule", "in_ambient", "is_waypoint_pod",
    "is_ztunnel_pod", "namespace_ambient", "peer_authentication_policies", "peer_authentication_policy_keys",
    "pod_data_plane", "pod_intended", "pod_waypoints", "policy_enforcement", "policy_matches", "service_waypoint",
    "services_of_pod", "static_strict_policy", "waypoint_blocked", "waypoint_policies", "waypoint_policy_status",
    "waypoint_status", "waypoints", "workload_waypoint", "ztunnel_for_node", "ztunnel_form", "ztunnel_pods",
    "ztunnel_policies", "waypoint_index", "use_waypoint", "rule_can_fire", "selected_pods",
]
