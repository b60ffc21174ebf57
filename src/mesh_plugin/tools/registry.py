"""The one tool registry: MCP server, CLI and chat agent are thin adapters over it.

A tool is a plain function whose signature is its input schema (``Annotated``
types with pydantic ``Field``s) and whose return type is a pydantic model (the
output schema). The decorator records its title and hints.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

#: Kubernetes names: DNS-1123 labels (namespaces) and subdomains (most objects)
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

Namespace = Annotated[str, Field(pattern=DNS1123_LABEL, max_length=63,
                                 description="Kubernetes namespace (DNS-1123 label)")]
OptNamespace = Annotated[str | None, Field(pattern=DNS1123_LABEL, max_length=63,
                                           description="Kubernetes namespace; omit for all namespaces")]
ObjName = Annotated[str, Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="Kubernetes object name")]
Files = Annotated[list[str] | None, Field(
    default=None, max_length=50,
    description="offline mode: YAML files or folders to read instead of the cluster")]
Limit = Annotated[int, Field(ge=1, le=500, description="rows to return (the answer says 'showing N of M')")]
Offset = Annotated[int, Field(ge=0, description="rows to skip, for the next page")]

# the parts of "may this client reach that workload?", shared by authz_check and linkerd_authz_check
Target = Annotated[str, Field(max_length=300, pattern=r"^[a-z0-9-]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                              description="the destination: NAMESPACE/WORKLOAD")]
TargetPort = Annotated[int | None, Field(ge=1, le=65535)]
FromNamespace = Annotated[str | None, Field(max_length=63)]
FromSA = Annotated[str | None, Field(max_length=253)]
FromIP = Annotated[str | None, Field(max_length=45)]

TOOL_MODULES = ("mesh_plugin.tools.cluster", "mesh_plugin.tools.analyze", "mesh_plugin.tools.proxy",
                "mesh_plugin.tools.mtls", "mesh_plugin.tools.changes", "mesh_plugin.tools.traffic",
                "mesh_plugin.tools.resilience", "mesh_plugin.tools.authz",
                "mesh_plugin.tools.linkerd", "mesh_plugin.tools.install")


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    fn: Callable[..., BaseModel]
    description: str
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = True
    render: Callable[[Any], str] | None = None

    @property
    def output_model(self) -> type[BaseModel]:
        return inspect.signature(self.fn).return_annotation  # type: ignore[no-any-return]

    def call(self, **kwargs: Any) -> BaseModel:
        """Validate the arguments against the signature and run the tool (:func:`run_tool`)."""
        return run_tool(self.name, _validated(self.fn), kwargs)


@functools.cache
def _validated(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
    from pydantic import validate_call

    return validate_call(fn)  # type: ignore[no-any-return]


def schema_errors(e: Any) -> str:
    """pydantic's errors as one short line: where and what, without echoing the (possibly huge) input."""
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "kwargs") or "arguments"
        parts.append(f"{loc[:80]}: {str(err.get('msg', 'invalid'))[:200]}")
    more = len(e.errors()) - 5
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def run_tool(name: str, fn: Callable[..., BaseModel], kwargs: dict[str, Any]) -> BaseModel:
    """The one way every surface runs a tool: inside the call's overall deadline, the answer fitted to the
    budget, and every failure a typed MeshError (an unexpected exception becomes InternalError, its traceback
    logged to stderr, never sent)."""
    from ..budget import fit
    from ..deadline import call_deadline, default_seconds
    from ..errors import InvalidInput, MeshError
    from ..runtime import RUNTIME

    from pydantic import ValidationError

    try:
        with call_deadline(default_seconds(RUNTIME.timeout)):
            return fit(fn(**kwargs))
    except MeshError:
        raise
    except ValidationError as e:
        if e.title != name:  # not the arguments: a model the tool built (a bug)
            raise _internal(name, e) from None
        raise InvalidInput(f"Invalid arguments to {name}: {schema_errors(e)}",
                           hint=f"fix the argument(s) named above (`mesh-plugin tools` lists {name}'s parameters)."
                           ) from None
    except RecursionError:
        raise InvalidInput("The input is nested too deeply to read.",
                           hint="pass an ordinary manifest or config dump (nesting of a few dozen levels).") from None
    except Exception as e:  # noqa: BLE001 - a bug: typed for the caller, logged with its traceback for us
        raise _internal(name, e) from None


def _internal(name: str, e: Exception) -> Exception:
    import logging

    from ..errors import InternalError

    logging.getLogger("mesh_plugin.internal").error("tool %s failed", name, exc_info=e)
    return InternalError(f"{name} failed unexpectedly ({type(e).__name__}).",
                         hint="retry with narrower arguments; if it persists, report it with the arguments (the "
                              "server's stderr has the details).")


REGISTRY: dict[str, ToolDef] = {}


def tool(title: str, *, read_only: bool = True, destructive: bool = False, idempotent: bool = True,
         open_world: bool = True, render: Callable[[Any], str] | None = None) -> Callable[[Callable], Callable]:
    def deco(fn: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
        doc = inspect.getdoc(fn) or ""
        if not doc:
            raise ValueError(f"tool {fn.__name__} needs a docstring (its description)")
        REGISTRY[fn.__name__] = ToolDef(fn.__name__, title, fn, doc, read_only, destructive, idempotent,
                                        open_world, render)
        return fn

    return deco


def load_tools(read_only: bool = False) -> list[ToolDef]:
    for mod in TOOL_MODULES:
        importlib.import_module(mod)
    tools = sorted(REGISTRY.values(), key=lambda t: t.name)
    return [t for t in tools if t.read_only or not read_only]


def get_tool(name: str) -> ToolDef:
    load_tools()
    return REGISTRY[name]
