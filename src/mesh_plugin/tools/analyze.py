"""`analyze`: istioctl-compatible configuration analysis, on the live cluster or on files."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from ..render import note
from ..runtime import RUNTIME
from .registry import Files, Limit, Offset, OptNamespace, op

LEVELS = ("Error", "Warning", "Info")


class AnalysisMessage(BaseModel):
    code: str
    level: Literal["Error", "Warning", "Info"]
    message: str
    origin: str = Field(description='"Kind ns/name", or "Kind name" for cluster-scoped resources')
    documentationUrl: str  # noqa: N815 - istioctl's JSON field name
    analyzer: str = ""


from ..models import Page  # noqa: E402


class AnalysisResult(BaseModel):
    paged_field: ClassVar[str] = "messages"
    source: str
    namespace: str | None = Field(description="the namespace analyzed, or null for all")
    analyzers: int = Field(description="analyzers that ran")
    counts: dict[str, int] = Field(description="messages per level (after suppression and threshold)")
    messages: list[AnalysisMessage] = Field(description="most severe first")
    page: Page
    suppressed: int = 0


def default_resources() -> list[dict]:
    """What istioctl assumes offline when the files have none: the default ingress gateway pod and Service."""
    labels = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    return [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "istio-ingressgateway-default", "namespace": "istio-system", "labels": labels},
         "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2", "args": ["proxy", "router"]}]},
         "status": {"phase": "Running"}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "labels": labels},
         "spec": {"selector": labels, "ports": [
             {"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
             {"name": "http2", "port": 80, "targetPort": 8080, "protocol": "TCP"},
             {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]}},
    ]


def load_mesh_config(snap: object, mesh_config_file: str | None) -> object:
    """The MeshConfig: from ``mesh_config_file`` (read by ``Runtime.read_file``: confined to the files root,
    a regular file of at most MAX_FILE_BYTES; parsed by mesh/meshconfig.py), else from the ``istio`` ConfigMap
    of the snapshot, else the defaults."""
    from ..errors import InvalidInput
    from ..kube.snapshot import MAX_FILE_BYTES
    from ..mesh.meshconfig import HINT, mesh_config_from_text, mesh_config_of
    from ..runtime import clip_path

    if mesh_config_file is None:
        return mesh_config_of(snap)  # type: ignore[arg-type]
    data = RUNTIME.read_file(mesh_config_file, max_bytes=MAX_FILE_BYTES, what="mesh config file", hint=HINT)
    shown = clip_path(mesh_config_file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"The mesh config file {shown} is not UTF-8 text.", hint=HINT) from None
    return mesh_config_from_text(text, shown)


def run_analysis(files: list[str] | None, namespace: str | None, only: list[str] | None,
                 suppress: list[str] | None, mesh_config_file: str | None, output_threshold: str = "Info", *,
                 mesh_networks_file: str | None = None, file_runtime_kinds: bool = True):
    """Messages (sorted, most severe first) and the source description. Shared by the tool and the CLI.

    ``mesh_networks_file``: a MeshNetworks YAML (istioctl's --meshNetworksFile; default: the ``meshNetworks``
    key of ConfigMap istio). ``file_runtime_kinds=False`` reads files as ``istioctl analyze
    --use-kube=false`` does (see ``analyzers.runner.analyze_snapshot``)."""
    from ..analyzers import input_kinds, select, suppressed
    from ..analyzers.runner import analyze_snapshot
    from ..errors import InvalidInput

    analyzers = select(only)
    if not analyzers:
        raise InvalidInput(f"No analyzer matches {only}.",
                           hint="list them with --list-analyzers; e.g. --only virtualservice.GatewayAnalyzer.")
    if files:
        from ..kube.snapshot import Snapshot

        snap = Snapshot.from_paths([RUNTIME.check_path(f) for f in files])
    else:
        snap = RUNTIME.snapshot(input_kinds(analyzers), None, None)
        if namespace:
            if namespace not in snap.namespaces():
                RUNTIME.require_namespace(namespace)
    if not files:
        from ..mesh.detect import detect_meshes

        if not any(m.mesh == "istio" for m in detect_meshes(snap)):
            # no Istio here: its injection checks would only say every namespace lacks Istio
            analyzers = [a for a in analyzers if not a.name.startswith("injection.")]
    mesh = load_mesh_config(snap, mesh_config_file)
    networks = _load_mesh_networks(mesh_networks_file) if mesh_networks_file is not None else None
    msgs = analyze_snapshot(snap, analyzers, mesh, files=bool(files),  # type: ignore[arg-type]
                            runtime_kinds=file_runtime_kinds, mesh_networks=networks, report_unknown=not only)
    if namespace:
        msgs = [m for m in msgs if m.namespace == namespace or (
            m.namespace is None and (m.kind != "Namespace" or m.name == namespace))]
    rules = suppress or []
    kept = [m for m in msgs if not suppressed(m, rules)]
    threshold = LEVELS.index(output_threshold)
    kept = [m for m in kept if LEVELS.index(m.level) <= threshold]
    return kept, len(msgs) - len([m for m in msgs if not suppressed(m, rules)]), snap, len(analyzers)


def _load_mesh_networks(path: str) -> dict:
    """A MeshNetworks YAML file (``networks: {...}``), read with the same bounds as the mesh config."""
    from ..errors import InvalidInput
    from ..kube.snapshot import MAX_FILE_BYTES, safe_load_all

    hint = "pass a MeshNetworks YAML file (the 'meshNetworks' key of ConfigMap istio)."
    real = RUNTIME.check_path(path)
    try:
        with open(real, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise InvalidInput(f"Cannot read the mesh networks file: {e.strerror}.", hint=hint) from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("The mesh networks file is too large.", hint=hint)
    try:
        docs = safe_load_all(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("The mesh networks file is not UTF-8 text.", hint=hint) from None
    doc = docs[0] if docs else {}
    if not isinstance(doc, dict):
        raise InvalidInput("The mesh networks file is not a mapping.", hint=hint)
    return doc


def render_analysis(r: AnalysisResult) -> str:
    if not r.messages:
        where = f"namespace: {r.namespace}" if r.namespace else "all namespaces"
        return f"\u2714 No validation issues found when analyzing {where}."
    return "\n".join(f"{m.level} [{m.code}] ({m.origin}) {m.message}" for m in r.messages) + note(r.page)


@op("analyze", cli="analyze", args="files...", render=render_analysis)
def analyze(namespace: OptNamespace = None,
            files: Files = None,
            only: Annotated[list[str] | None, Field(default=None, max_length=50, description=(
                "analyzer names or globs to run, e.g. ['virtualservice.*']; default all"))] = None,
            suppress: Annotated[list[str] | None, Field(default=None, max_length=100, description=(
                'suppress messages: "CODE=Kind ns/name", globs allowed, e.g. "IST0102=Namespace *"'))] = None,
            level: Annotated[Literal["Error", "Warning", "Info"], Field(
                description="lowest level to return")] = "Info",
            mesh_config_file: Annotated[str | None, Field(default=None, max_length=4096, description=(
                "MeshConfig YAML to use instead of the cluster's"))] = None,
            limit: Limit = 30, offset: Offset = 0) -> AnalysisResult:
    """istioctl analyze on the cluster or files: IST and MESH messages, most severe first.

    istioctl-compatible analysis of Istio (and Linkerd) configuration, live (namespace=, or all) or on
    files (files=[...], offline: YAML files/folders). Messages use Istio's IST codes (same meaning as
    istioctl analyze) and our MESH codes for checks istioctl lacks (mTLS DISABLE toward STRICT, outlier
    detection that can eject every replica, RequestAuthentication without a required token, ALLOW with no
    rules, ambient policies ztunnel enforces differently, HTTPRoutes istiod refuses, Linkerd checks). Errors first; the
    answer says 'showing N of M' - narrow with namespace=, only= or level=."""
    from ..models import page

    msgs, n_suppressed, snap, n = run_analysis(files, namespace, only, suppress, mesh_config_file, level)
    rows = [AnalysisMessage(code=m.code, level=m.level, message=m.message, origin=m.origin,  # type: ignore[arg-type]
                            documentationUrl=m.documentation_url, analyzer=m.analyzer) for m in msgs]
    counts = {lv: sum(1 for m in msgs if m.level == lv) for lv in LEVELS}
    shown, pg = page(rows, limit, offset, "messages", "namespace=, only= or level=Error")
    return AnalysisResult(source=snap.source, namespace=namespace, analyzers=n, counts=counts, messages=shown,
                          page=pg, suppressed=n_suppressed)
