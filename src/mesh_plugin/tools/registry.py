"""The one declaration of every tool, and the one pipeline that runs them for every surface.

An *operation* is a plain function whose signature is its input schema (``Annotated`` types with pydantic
``Field``s, every parameter described) and whose return type is a pydantic model (the output). Operations
are grouped into the few MCP tools a model sees (:data:`TOOLS`): a read tool per area with a ``view``
parameter, and writes grouped with an ``action`` parameter, never mixed, so read-only mode removes exactly
the write tools. The MCP tool's input schema, the chat tool definitions and the CLI (commands, positionals,
flags) are all generated from the operations' signatures.

:func:`run` is the pipeline every surface uses: validate the arguments, apply the read-only policy, resolve
the scope once (the namespace must exist, live or in the files), run within the call's deadline, fit the
answer to the budget, and turn every failure into a typed error with a next step.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Flag:
    """CLI short flag(s) of a shared parameter type, e.g. ``Flag("-n")`` on Namespace."""

    short: str


#: Kubernetes names: DNS-1123 labels (namespaces) and subdomains (most objects)
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Namespace = Annotated[str, Field(pattern=DNS1123_LABEL, max_length=63, description="namespace"), Flag("-n")]
OptNamespace = Annotated[str | None, Field(pattern=DNS1123_LABEL, max_length=63,
                                           description="namespace; omit for all"), Flag("-n")]
ObjName = Annotated[str, Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="object name")]
Pod = Annotated[str, Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="pod name")]
Workload = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                                description="workload (Deployment...) name")]
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                            description="Service name or FQDN")]
Files = Annotated[list[str] | None, Field(default=None, max_length=50, description=(
    "offline: YAML files/folders to read")), Flag("-f")]
Limit = Annotated[int, Field(ge=1, le=500, description="rows per page")]
Offset = Annotated[int, Field(ge=0, description="rows to skip")]
Apply = Annotated[bool, Field(description="true: make the change; default: dry-run diff")]
Confirm = Annotated[str | None, Field(max_length=63, description="namespace name, to apply in a production namespace")]
ShowDiff = Annotated[bool, Field(description="offline: a diff instead of manifests")]
Force = Annotated[bool, Field(description="go ahead despite the blockers found")]
Window = Annotated[str, Field(pattern=r"^\d+(s|m|h|d)$", description="metrics window, e.g. 1h")]
Subset = Annotated[str | None, Field(max_length=63, description="one subset only")]
Weights = Annotated[dict[str, int], Field(description=(
    'relative weights, e.g. {"v1": 90, "v2": 10}: subsets (VirtualService) or backend Services (HTTPRoute)'))]
Settings = Annotated[dict[str, Any], Field(description=(
    "fields to set (others kept): outlier: outlierDetection; pool: connectionPool {tcp, http}; failure_accrual: "
    "maxFailures, minPenalty, maxPenalty, jitterRatio"))]

# "may this client reach that workload?", shared by the Istio and Linkerd checks
Target = Annotated[str, Field(max_length=300, pattern=r"^[a-z0-9-]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                              description="destination NAMESPACE/WORKLOAD")]
TargetPort = Annotated[int | str | None, Field(description="destination port (number; Linkerd also a name)")]
Caller = Annotated[dict[str, Any] | None, Field(description=(
    'who calls: {"namespace","sa"}, or "principal" (Istio) / "identity" (Linkerd); "ip"; "plaintext": true'))]


ProxyFilter = Annotated[dict[str, Any] | None, Field(description=(
    'narrow rows: fqdn, port, subset, direction (clusters); name, address (listeners, routes, secrets, loggers); '
    'cluster, status (endpoints)'))]


class ProxyFilterSpec(BaseModel):
    """The ``filter`` argument of proxy_inspect, checked (istioctl's ClusterFilter, ListenerFilter...)."""

    model_config = ConfigDict(extra="forbid")
    fqdn: str | None = Field(default=None, max_length=253)
    port: int | None = Field(default=None, ge=0, le=65535)
    subset: str | None = Field(default=None, max_length=63)
    direction: Literal["inbound", "outbound", "inbound-vip", "outbound-vip"] | None = None
    name: str | None = Field(default=None, max_length=253)
    address: str | None = Field(default=None, max_length=253)
    cluster: str | None = Field(default=None, max_length=253)
    status: str | None = Field(default=None, max_length=20)


class CallerSpec(BaseModel):
    """The ``caller`` argument, checked."""

    model_config = ConfigDict(extra="forbid")
    principal: str | None = Field(default=None, max_length=300)
    identity: str | None = Field(default=None, max_length=300)
    namespace: str | None = Field(default=None, max_length=63)
    sa: str | None = Field(default=None, max_length=253)
    ip: str | None = Field(default=None, max_length=45)
    plaintext: bool = False


def parse_arg(model: type[Any], value: Any, name: str) -> Any:
    """A dict argument checked against its model: unknown keys and bad values are InvalidInput."""
    from pydantic import ValidationError

    from ..errors import InvalidInput

    try:
        return model.model_validate(value or {})
    except ValidationError as e:
        keys = ", ".join(model.model_fields)
        raise InvalidInput(f"Invalid {name}: {schema_errors(e)}.", hint=f"{name} takes: {keys}.") from None

TOOL_MODULES = ("mesh_plugin.tools.cluster", "mesh_plugin.tools.analyze", "mesh_plugin.tools.proxy",
                "mesh_plugin.tools.mtls", "mesh_plugin.tools.changes", "mesh_plugin.tools.traffic",
                "mesh_plugin.tools.resilience", "mesh_plugin.tools.authz",
                "mesh_plugin.tools.linkerd", "mesh_plugin.tools.install", "mesh_plugin.tools.diagnose")


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: what a model sees. ``key`` names the parameter choosing the operation."""

    name: str
    title: str
    intro: str
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = True
    key: str | None = "view"


#: The tools, in the order a model should consider them.
TOOLS: dict[str, ToolSpec] = {t.name: t for t in (
    ToolSpec("mesh_overview", "Mesh overview", "Start here: meshes, namespaces, workloads and their data plane."),
    ToolSpec("analyze", "Analyze mesh configuration", "istioctl analyze of the cluster or files: Istio's IST "
             "messages, plus MESH checks; most severe first.", key=None),
    ToolSpec("proxy_inspect", "Inspect proxies", "A proxy's Envoy state, live or from a saved dump."),
    ToolSpec("security_status", "mTLS and authorization", "Who is encrypted and who may call whom."),
    ToolSpec("traffic_status", "Routing and resilience", "How a host is routed and protected, and how traffic "
             "flows (Linkerd metrics)."),
    ToolSpec("install_plan", "Install planning", "Install, check or remove Istio or Linkerd: checks and exact "
             "steps."),
    ToolSpec("traffic_change", "Change traffic", "Writes: dry-run diff unless apply=true; rollback handles.",
             read_only=False, destructive=True, idempotent=False, key="action"),
    ToolSpec("security_change", "Change security", "Writes: dry-run diff unless apply=true; rollback handles.",
             read_only=False, destructive=True, key="action"),
    ToolSpec("proxy_log_level", "Set Envoy log level", "Set a sidecar's Envoy log levels (dry-run unless "
             "apply=true).", read_only=False, key=None),
    ToolSpec("rollback_change", "Roll back a change", "Restore what a write changed, from its rollback handle "
             "(dry-run unless apply=true; refused if the object changed since).", read_only=False,
             destructive=True, idempotent=False, key=None),
    ToolSpec("install_apply", "Run an install plan", "Run install_plan's Helm steps (commands only unless "
             "apply=true).", read_only=False, destructive=True, idempotent=False, key=None),
)}


@dataclass(frozen=True)
class Operation:
    """One capability: a typed function, the MCP tool and view it is served as, and its CLI command(s)."""

    name: str
    tool: str
    view: str
    fn: Callable[..., BaseModel]
    summary: str
    cli: tuple[str, ...] = ()
    args: str = ""
    render: Callable[[Any], str] | None = None
    cli_defaults: dict[str, Any] = field(default_factory=dict)
    #: extra CLI flags that set a key of a dict parameter, e.g. {"--max-failures": "settings.maxFailures"}
    cli_flags: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> ToolSpec:
        return TOOLS[self.tool]

    @property
    def read_only(self) -> bool:
        return self.spec.read_only

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def description(self) -> str:
        return self.summary

    @property
    def output_model(self) -> type[BaseModel]:
        return inspect.signature(self.fn, eval_str=True).return_annotation  # type: ignore[no-any-return]

    def params(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.fn, eval_str=True).parameters)

    def call(self, **kwargs: Any) -> BaseModel:
        """Run through the pipeline (:func:`run`): what every surface does."""
        return run(self, kwargs)


REGISTRY: dict[str, Operation] = {}


def op(tool: str, view: str = "", *, cli: str | tuple[str, ...] = (), args: str = "",
       render: Callable[[Any], str] | None = None, flags: dict[str, str] | None = None,
       **cli_defaults: Any) -> Callable[[Callable], Callable]:
    """Declare an operation of ``tool`` (as ``view=``/``action=`` ``view``). ``cli``: the command and its
    aliases (``"traffic split"``); ``args``: its positionals, in order (``"host weights=K=V..."``, see cli.py);
    ``cli_defaults``: argument values the CLI command implies."""
    def deco(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
        doc = inspect.getdoc(fn) or ""
        if not doc:
            raise ValueError(f"operation {fn.__name__} needs a docstring")
        summary = doc.split("\n")[0].strip()
        if len(summary) > 110:
            raise ValueError(f"operation {fn.__name__}: the docstring's first line (what a model reads) is over "
                             f"110 characters")
        REGISTRY[fn.__name__] = Operation(fn.__name__, tool, view, fn, summary,
                                          (cli,) if isinstance(cli, str) else tuple(cli), args, render,
                                          cli_defaults, flags or {})
        return fn

    return deco


def load_operations() -> list[Operation]:
    for mod in TOOL_MODULES:
        importlib.import_module(mod)
    return list(REGISTRY.values())


def get_tool(name: str) -> Operation:
    """An operation by its name (e.g. ``mtls_status``), for in-process use (tests, the demo)."""
    load_operations()
    return REGISTRY[name]


def operations_of(tool: str) -> list[Operation]:
    load_operations()
    return [o for o in REGISTRY.values() if o.tool == tool]


# -- the pipeline -------------------------------------------------------------------------------
def schema_errors(e: Any) -> str:
    """pydantic's errors as one short line: where and what, without echoing the (possibly huge) input."""
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "kwargs") or "arguments"
        parts.append(f"{loc[:80]}: {str(err.get('msg', 'invalid'))[:200]}")
    more = len(e.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@functools.cache
def _validated(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
    from pydantic import validate_call

    return validate_call(fn)  # type: ignore[no-any-return]


def run(operation: Operation, kwargs: dict[str, Any]) -> BaseModel:
    """The one way every surface runs an operation.

    Validate the arguments against its signature, refuse a write in read-only mode, check the namespace
    exists (in the cluster, or in the files), run inside the call's overall deadline, fit the answer to
    the budget; every failure is a typed MeshError (an unexpected exception becomes InternalError, its
    traceback logged to stderr, never sent)."""
    from pydantic import ValidationError

    from ..budget import fit
    from ..deadline import call_deadline, default_seconds
    from ..errors import InvalidInput, MeshError
    from ..kube.kinds import DNS1123_LABEL_RE
    from ..runtime import RUNTIME, call_scope

    name = operation.name
    try:
        if not operation.read_only and RUNTIME.read_only:
            raise InvalidInput(f"{name} changes the cluster, and this server runs read-only.",
                               hint="use the read tools, or restart without --read-only / MESH_PLUGIN_READ_ONLY.")
        with call_deadline(default_seconds(RUNTIME.timeout)), call_scope():
            ns = kwargs.get("namespace")
            files = kwargs.get("files")
            if isinstance(ns, str) and DNS1123_LABEL_RE.match(ns) and "namespace" in operation.params() and (
                    files is None or isinstance(files, list)) and not kwargs.get("file"):  # a dump: no namespace
                RUNTIME.resolve_scope(ns, files)
            return fit(_validated(operation.fn)(**kwargs))
    except MeshError:
        raise
    except ValidationError as e:
        if e.title != name:  # not the arguments: a model the operation built (a bug)
            raise _internal(name, e) from None
        raise InvalidInput(f"Invalid arguments to {name}: {schema_errors(e)}",
                           hint="fix the argument(s) named above (the tool's input schema describes each)."
                           ) from None
    except RecursionError:
        raise InvalidInput("The input is nested too deeply to read.",
                           hint="pass an ordinary manifest or config dump (nesting of a few dozen levels).") from None
    except Exception as e:  # noqa: BLE001 - a bug: typed for the caller, logged with its traceback for us
        raise _internal(name, e) from None


def _internal(name: str, e: Exception) -> Exception:
    import logging

    from ..errors import InternalError

    logging.getLogger("mesh_plugin.internal").error("%s failed", name, exc_info=e)
    return InternalError(f"{name} failed unexpectedly ({type(e).__name__}).",
                         hint="retry with narrower arguments; if it persists, report it with the arguments (the "
                              "server's stderr has the details).")


# -- the MCP tools, generated from the operations -------------------------------------------------
@dataclass(frozen=True)
class ToolDef:
    """An MCP tool built from its operations: the function the server registers, its description, hints."""

    spec: ToolSpec
    fn: Callable[..., BaseModel]
    description: str
    operations: tuple[Operation, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def read_only(self) -> bool:
        return self.spec.read_only

    @property
    def destructive(self) -> bool:
        return self.spec.destructive

    @property
    def idempotent(self) -> bool:
        return self.spec.idempotent

    @property
    def open_world(self) -> bool:
        return self.spec.open_world

    def call(self, **arguments: Any) -> BaseModel:
        """Call the tool as a model would (chat): unknown arguments refused, then the operation's pipeline."""
        from ..errors import InvalidInput

        known = inspect.signature(self.fn).parameters
        unknown = sorted(k for k in arguments if k not in known)
        if unknown:
            raise InvalidInput(f"{self.name} has no parameter {unknown[0][:60]!r}.",
                               hint=f"use only: {', '.join(known)}.")
        return self.fn(**arguments)

    def input_schema(self) -> dict:
        """The JSON schema a client hands the model: compact (no titles), closed (no unknown arguments)."""
        from pydantic import TypeAdapter

        fields = {n: (p.annotation, ... if p.default is p.empty else p.default)
                  for n, p in inspect.signature(self.fn).parameters.items()}
        from pydantic import create_model

        model = create_model(f"{self.name}_args", **fields)  # type: ignore[call-overload]
        return {**slim_schema(TypeAdapter(model).json_schema()), "additionalProperties": False}


#: JSON-schema keywords left out of what the model sees: the operation's own signature still validates them
_NOT_SHOWN = {"title", "pattern", "maxLength", "minLength", "maxItems", "minItems", "format"}


def slim_schema(schema: dict) -> dict:
    """What a model needs to call the tool: types, enums, ranges and descriptions. Titles, patterns and
    length limits are left out (the operation validates them and says what is wrong); nulls are implied by
    optional; the arguments object is closed."""
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: walk(v) for k, v in node.items() if k not in _NOT_SHOWN}
            alts = node.get("anyOf")
            if isinstance(alts, list):
                rest = [a for a in alts if a != {"type": "null"}]
                if len(rest) == 1 and len(rest) < len(alts):
                    node = {**{k: v for k, v in node.items() if k != "anyOf"}, **rest[0]}
                elif rest and all(set(a) == {"type"} and isinstance(a["type"], str) for a in rest):
                    node = {**{k: v for k, v in node.items() if k != "anyOf"}, "type": [a["type"] for a in rest]}
            if node.get("default", 0) is None:
                node.pop("default")
            if "enum" in node and node.get("type") == "string":
                node.pop("type")  # implied by the enum
            node.pop("maxProperties", None)
            if node.get("additionalProperties") is True:
                node.pop("additionalProperties")  # the default
            return node
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def _optional(annotation: Any) -> Any:
    """``annotation`` that also accepts None (a union parameter is optional unless its operation needs it)."""
    import types
    import typing

    base, meta = annotation, ()
    if typing.get_origin(annotation) is Annotated:
        base, *meta_l = typing.get_args(annotation)
        meta = tuple(meta_l)
    args = typing.get_args(base)
    if base is type(None) or (args and type(None) in args):
        return annotation
    opt = base | None if not isinstance(base, types.UnionType) else base | None
    return Annotated[(opt, *meta)] if meta else opt  # type: ignore[valid-type]


def build_tool(spec: ToolSpec) -> ToolDef:
    """The MCP tool of ``spec``: the ``view``/``action`` parameter, then the union of its operations'
    parameters (same name, same type and description), dispatched to the chosen operation."""
    ops = tuple(operations_of(spec.name))
    if not ops:
        raise ValueError(f"tool {spec.name} has no operations")
    if spec.key is None:
        (only,) = ops
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in only.params().values()]

        def single(**kwargs: Any) -> BaseModel:
            return run(only, kwargs)

        _sign(single, spec.name, params, only.output_model)
        return ToolDef(spec, single, spec.intro, ops)
    union: dict[str, inspect.Parameter] = {}
    used_by: dict[str, list[str]] = {}
    for o in ops:
        for name, p in o.params().items():
            used_by.setdefault(name, []).append(o.view)
            if name not in union:  # omitted: the operation's own default applies
                union[name] = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                                annotation=_optional(p.annotation), default=None)
    from typing import Literal

    key_type = Annotated[Literal[tuple(o.view for o in ops)], Field(  # type: ignore[misc]
        description="what to show" if spec.key == "view" else "what to change")]
    # a read tool shows its first view by default; a write tool always names its action
    key = inspect.Parameter(spec.key, inspect.Parameter.KEYWORD_ONLY, annotation=key_type,
                            default=ops[0].view if spec.read_only else inspect.Parameter.empty)
    by_view = {o.view: o for o in ops}
    answer = _answer_model(spec, ops)

    def dispatch(**kwargs: Any) -> BaseModel:
        from ..errors import InvalidInput

        chosen = kwargs.pop(spec.key, None) or (ops[0].view if spec.read_only else None)
        if not isinstance(chosen, str) or chosen not in by_view:
            raise InvalidInput(f"{spec.name} needs {spec.key}= one of {', '.join(by_view)}"
                               + (f", not {str(chosen)[:40]!r}." if chosen else "."),
                               hint=f"the tool's description says what each {spec.key} does.")
        operation = by_view[chosen]
        accepted = operation.params()
        extra = sorted(k for k, v in kwargs.items() if k not in accepted and v is not None)
        if extra:
            raise InvalidInput(f"{spec.name} {spec.key}={operation.view} takes no {', '.join(extra)}.",
                               hint=f"its parameters: {', '.join(accepted) or 'none'}.")
        args = {k: v for k, v in kwargs.items() if k in accepted and v is not None}
        return answer(**{operation.view: run(operation, args)})

    _sign(dispatch, spec.name, [key, *union.values()], answer)
    lines = [spec.intro] + [f"{spec.key}={o.view}: {o.summary}" for o in ops]
    return ToolDef(spec, dispatch, "\n".join(lines), ops)


def _answer_model(spec: ToolSpec, ops: tuple[Operation, ...]) -> type[BaseModel]:
    """The structured answer of a multi-operation tool: one field per view, only the chosen one set."""
    from pydantic import create_model

    fields = {o.view: (o.output_model | None, Field(default=None, description=o.summary[:120])) for o in ops}
    camel = "".join(w.title() for w in spec.name.split("_"))
    return create_model(f"{camel}Answer", **fields)  # type: ignore[call-overload,no-any-return]


def _sign(fn: Callable, name: str, params: list[inspect.Parameter], returns: Any) -> None:
    fn.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    fn.__annotations__ = {**{p.name: p.annotation for p in params}, "return": returns}
    fn.__name__ = fn.__qualname__ = name


@functools.cache
def _tools() -> tuple[ToolDef, ...]:
    load_operations()
    return tuple(build_tool(spec) for spec in TOOLS.values())


def load_tools(read_only: bool = False) -> list[ToolDef]:
    """The MCP tools (without the write tools when ``read_only``), in :data:`TOOLS` order."""
    return [t for t in _tools() if t.read_only or not read_only]


def tool_named(name: str) -> ToolDef:
    for t in _tools():
        if t.name == name:
            return t
    raise KeyError(name)
