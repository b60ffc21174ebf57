"""mesh-plugin: the command line, generated from the operations' typed signatures (tools/registry.py).

Each operation declares its command(s) and positionals (``@op(..., cli="traffic split", args="host
weights=K=V...")``). Everything else comes from the signature: ``--kebab-case`` flags, short flags from the
shared parameter types (``-n``, ``-f``), choices from ``Literal``, repeatable flags for lists, ``K=V`` pairs for
dicts, ``--no-x`` for booleans that default to true. The pipeline (``registry.run``) does the rest.

Positionals: ``name`` (one), ``name?`` (optional), ``name...`` (zero or more), ``name=K=V...`` (one or more
pairs into a dict), ``pod.namespace`` (POD or POD.NS, split at the last dot: namespaces have no dots).
"""
from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence
from typing import Any

EPILOG = """examples:
  mesh-plugin demo                          start the sandbox and print a mesh health report
  mesh-plugin overview                      meshes, namespaces, sidecar coverage, findings
  mesh-plugin workloads -n production       workloads with data plane and identity
  mesh-plugin workloads -f manifests/       the same, offline, from YAML files
  mesh-plugin proxy-config cluster frontend-abc.production --fqdn payment-api
  mesh-plugin analyze -A                    istioctl-compatible analysis of the cluster
  mesh-plugin traffic split reviews v1=90 v2=10 -n production      dry-run diff (--apply to change)
  mesh-plugin serve --read-only             MCP server on stdio, without write tools
  mesh-plugin sandbox                       run the sandbox cluster until Ctrl-C (for kubectl)
"""
AUTHZ_ANALYZERS = ["auth.*", "authn.*", "mesh.security.*", "mesh.ambient.*"]
ALIASES = {"authz lint": ("analyze", {"only": AUTHZ_ANALYZERS})}  # a command = another with fixed arguments
OUTPUT_ALIASES = {"short": "table"}  # ``-o`` values the CLI adds to an operation's own ``output`` parameter
#: other spellings of a parameter's flag
EXTRA_FLAGS = {"show_diff": ["--diff"], "values": ["--set"], "mesh_config_file": ["--meshConfigFile"],
               "suppress": ["-S"], "level": ["--output-threshold"], "source": ["--from"]}


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--kubeconfig", default=argparse.SUPPRESS, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    g.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context (default: the current one)")
    g.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per API request (default 10)")
    g.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="remove every write tool/command")
    g.add_argument("--prometheus-url", default=argparse.SUPPRESS, metavar="URL",
                   help="Prometheus base URL (default: $MESH_PLUGIN_PROMETHEUS_URL, else the cluster's)")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _meta(annotation: Any) -> tuple[Any, str, str | None]:
    """(base type, description, short flag) of a parameter annotation."""
    from .tools.registry import Flag

    base, desc, short = annotation, "", None
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        for m in extra:
            desc = getattr(m, "description", None) or desc
            short = m.short if isinstance(m, Flag) else short
    args = [a for a in typing.get_args(base) if a is not type(None)]
    if typing.get_origin(base) in (typing.Union, getattr(__import__("types"), "UnionType")) and len(args) == 1:
        base = args[0]
    return base, desc, short


def _add_param(p: argparse.ArgumentParser, name: str, param: Any, positional: str | None) -> None:
    base, desc, short = _meta(param.annotation)
    origin = typing.get_origin(base)
    default = None if param.default is param.empty else param.default
    if positional is not None:
        nargs = ("+" if "=" in positional else "*") if positional.endswith("...") else (
            "?" if positional.endswith("?") else None)
        metavar = "K=V" if "=" in positional else name.upper()
        p.add_argument(name, nargs=nargs, metavar=metavar, help=desc)
        if not short:
            return
        name, positional = f"{name}__flag", None  # and the flag too (analyze PATH... and -f PATH)
    names = [n for n in (short, _flag(name.removesuffix("__flag"))) if n]
    if name.startswith("files"):
        names = [n for n in (short, "--file") if n]
    if name in ("output", "file"):  # istioctl's -o, and -f for a saved dump
        names = [f"-{name[0]}", f"--{name}"]
    names += EXTRA_FLAGS.get(name, [])
    if base is bool:
        if default is True:
            p.add_argument(_flag("no_" + name), dest=name, action="store_false", default=None, help=f"not: {desc}")
        else:
            p.add_argument(*names, dest=name, action="store_true", default=None, help=desc)
    elif origin is list:
        p.add_argument(*names, dest=name, action="append", help=desc + " (repeatable)")
    elif origin is dict:
        p.add_argument(*names, dest=name, action="append", metavar="K=V", help=desc + " (repeatable K=V)")
    elif origin is typing.Literal:
        choices = list(typing.get_args(base))
        if name == "output":
            choices += list(OUTPUT_ALIASES)
        if name == "kind":  # istioctl takes plurals too: clusters, routes...
            choices += [c + "s" for c in choices if not c.endswith("s") and c not in ("all", "log", "bootstrap")]
        p.add_argument(*names, dest=name, choices=choices, help=desc)
    else:
        p.add_argument(*names, dest=name, help=desc)


def _add_operation(p: argparse.ArgumentParser, o: Any) -> None:
    _common(p)
    pos = {t.split("=")[0].rstrip(".?").split(".")[0]: t for t in o.args.split()}
    for name, param in o.params().items():
        _add_param(p, name, param, pos.get(name))
    for flag, target in o.cli_flags.items():
        path, on = target.partition("=")[0].removesuffix("..."), target.endswith(("=true", "=false"))
        p.add_argument(flag, dest="x:" + target, action="store_true" if on else "append" if target.endswith("...")
                       else "store", default=None, help=f"sets {target}", **({} if on else {
                           "metavar": "K=V" if target.endswith("K=V...") else path.rpartition(".")[2].upper()}))
    ns = o.params().get("namespace")
    if ns is not None and ns.default is None and "namespace" not in pos:
        p.add_argument("-A", "--all-namespaces", action="store_true", help="all namespaces")
    if "output" not in o.params():
        p.add_argument("-o", "--output", dest="cli_output", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(operation=o.name)


#: commands declared here, not generated: parsing them needs no tool module (serve answers at once)
FIXED = ("serve", "chat", "tools", "sandbox", "demo")


def build_parser(operations: bool = True) -> argparse.ArgumentParser:
    from . import __version__
    from .agent.chat import DEFAULT_MODEL
    from .tools.registry import load_operations

    ap = argparse.ArgumentParser(prog="mesh-plugin", description="Service-mesh copilot for Istio and Linkerd: "
                                 "MCP server, CLI and agent.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"mesh-plugin {__version__}")
    _common(ap)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("serve", help="run the MCP server (stdio by default)",
                       description="HTTP: set MESH_PLUGIN_AUTH_TOKEN and clients must send 'Authorization: Bearer "
                                   "<token>' (required on a non-loopback --host). Sessions: MESH_PLUGIN_MAX_SESSIONS "
                                   "(100), idle ones end after MESH_PLUGIN_SESSION_IDLE seconds (600).")
    _common(p)
    p.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="bind address for streamable-http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port for streamable-http (default 8000)")
    p.add_argument("--sandbox", action="store_true", help="start the embedded sandbox cluster and serve it")
    p = sub.add_parser("chat", help="ask the mesh-engineer agent (Anthropic API; same tools, in-process)")
    _common(p)
    p.add_argument("prompt", nargs="?", help="one question (default: interactive, or stdin)")
    p.add_argument("--model", help=f"model id (default: $MESH_PLUGIN_MODEL or {DEFAULT_MODEL})")
    p.add_argument("--max-turns", type=int, default=8)
    p.add_argument("--token-budget", type=int, default=200_000, help="stop after this many tokens in total")
    p.add_argument("--yes", action="store_true", help="apply writes without asking (needed without a terminal)")
    p = sub.add_parser("tools", help="list the tools the MCP server exposes, and their views")
    _common(p)
    p = sub.add_parser("sandbox", help="run the embedded sandbox cluster until interrupted")
    p.add_argument("--no-envoy", action="store_true", help="kube API only, no Envoy sidecars")
    p.add_argument("--ambient", action="store_true", help="the ambient variant (ztunnel, a waypoint, an ambient namespace)")
    sub.add_parser("demo", help="start the sandbox and print a mesh health report")

    groups: dict[str, Any] = {}
    if not operations:
        return ap
    commands = [(c, o) for o in load_operations() for c in o.cli] + [
        (alias, o) for alias, (name, _) in ALIASES.items() for o in load_operations() if o.name == name]
    for command, o in commands:
        words = command.split()
        parent = sub
        if len(words) == 2:
            if words[0] not in groups:
                g = sub.add_parser(words[0], help=f"{words[0]}: " + ", ".join(
                    c.split()[1] for c, _ in commands if c.split()[0] == words[0] and " " in c))
                _common(g)
                groups[words[0]] = g.add_subparsers(dest="action", metavar="ACTION", required=True)
            parent = groups[words[0]]
        q = parent.add_parser(words[-1], help=o.summary)
        _add_operation(q, o)
        if command in ALIASES:
            q.set_defaults(alias=command)
        if o.name == "analyze":  # istioctl analyze's own flags (authz lint's too)
            q.add_argument("--list-analyzers", action="store_true", help="list the analyzers and exit")
            q.add_argument("--failure-threshold", choices=["Error", "Warning", "Info"], default="Error",
                           help="lowest level that makes the exit code 79 (default Error)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    from .errors import InternalError, MeshError, clip

    pre = argparse.ArgumentParser(add_help=False)
    _common(pre)
    pre.add_argument("command", nargs="?")
    first = pre.parse_known_args(argv)[0].command
    ap = build_parser(operations=first not in FIXED)
    args = ap.parse_args(argv)
    if not args.command:
        ap.print_help()
        return 0
    if not os.environ.get("MESH_PLUGIN_DEBUG"):  # tracebacks of internal errors only on request
        logging.getLogger("mesh_plugin.internal").disabled = True
    try:
        from .runtime import configure

        configure(getattr(args, "kubeconfig", None), getattr(args, "context", None), getattr(args, "timeout", None),
                  getattr(args, "read_only", False), getattr(args, "prometheus_url", None))
        return _run(args)
    except InternalError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except MeshError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `mesh-plugin demo | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - never a traceback
        print(f"Error: internal error ({type(e).__name__}): {clip(str(e), 300)}. Next: set MESH_PLUGIN_DEBUG=1 "
              "for details, and report it.", file=sys.stderr)
        return 1


def _arguments(args: argparse.Namespace, o: Any) -> dict[str, Any]:
    """The operation's arguments from the parsed command line."""
    from .errors import InvalidInput

    params = o.params()
    out: dict[str, Any] = {}
    for name, param in params.items():
        value = getattr(args, name, None)
        extra = getattr(args, f"{name}__flag", None)
        if extra:
            value = list(value or []) + list(extra)
        if value is None or value == []:
            continue
        base = _meta(param.annotation)[0]
        if typing.get_origin(base) is dict:
            value = _pairs(value, nested=name in ("settings", "values"))
        elif typing.get_origin(base) is list and typing.get_args(base) and typing.get_args(base)[0] is int:
            value = [int(x) for v in value for x in str(v).split(",") if x.strip()]
        if name == "output":
            value = OUTPUT_ALIASES.get(value, value)
        if name == "kind" and isinstance(value, str) and value.endswith("s") and value[:-1] in typing.get_args(base):
            value = value[:-1]
        out[name] = value
    for flag, target in o.cli_flags.items():
        value = getattr(args, "x:" + target, None)
        if value in (None, False, []):
            continue
        path, _, kind = target.partition("=")
        path = path.removesuffix("...")
        if kind in ("true", "false"):
            value = kind == "true"
        elif kind == "K=V...":
            value = _pairs(value)
        root, _, key = path.partition(".")
        if key:
            out.setdefault(root, {})[key] = value
        else:
            out[root] = value
    spec = next((t for t in o.args.split() if t.startswith("pod.namespace")), None)
    if spec and out.get("pod"):
        pod, dot, ns = out["pod"].rpartition(".")
        if dot:
            out["pod"] = pod
            out.setdefault("namespace", ns)
        if not out.get("namespace") and not out.get("file"):
            from .kube.client import context_namespace
            from .runtime import RUNTIME

            out["namespace"] = context_namespace(RUNTIME.kubeconfig, RUNTIME.context)
    if getattr(args, "all_namespaces", False):
        if out.get("namespace"):
            raise InvalidInput("-A and -n together.", hint="pass one of them.")
        out.pop("namespace", None)
    alias = getattr(args, "alias", None)
    if alias:
        out.update(ALIASES[alias][1])
    for key, value in o.cli_defaults.items():
        out.setdefault(key, value)
    return {k: v for k, v in out.items() if k in params}


def _run(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "serve":
        return _serve(args)
    if cmd == "tools":
        return _tools()
    if cmd == "sandbox":
        from .sandbox import run_until_interrupted

        return run_until_interrupted(envoy=not args.no_envoy, variant="ambient" if args.ambient else None)
    if cmd == "chat":
        from .agent import run_chat
        from .runtime import RUNTIME

        return run_chat(args.prompt, model=args.model, max_turns=args.max_turns, token_budget=args.token_budget,
                        assume_yes=args.yes, read_only=RUNTIME.read_only)
    if cmd == "demo":
        from .demo import run_demo

        return run_demo()
    from .tools.registry import get_tool

    o = get_tool(args.operation)
    if o.name == "analyze" and args.list_analyzers:
        from .analyzers import ALL
        from .render import table

        print(table(["ANALYZER", "DESCRIPTION"], [[a.name, a.description] for a in ALL]))
        return 0
    kwargs = _arguments(args, o)
    if o.name == "analyze":
        kwargs.setdefault("limit", 500)
    result = o.call(**kwargs)
    fmt = getattr(args, "cli_output", None) or "table"
    if o.name == "analyze":  # istioctl's output and exit code (79 at or above --failure-threshold)
        from .render import istioctl_analysis

        text, failed = istioctl_analysis(result, fmt, args.failure_threshold)
        print(text)
        if result.page.note:
            print(f"({result.page.note})", file=sys.stderr)
        return 79 if failed else 0
    from .render import to_json, to_yaml

    if fmt == "json":
        print(to_json(result))
    elif fmt == "yaml":
        print(to_yaml(result), end="")
    else:
        print(o.render(result) if o.render else to_json(result))
    return 0 if getattr(result, "ok", True) is not False and not getattr(result, "failed", None) else 1


def _pairs(items: list[str], nested: bool = False) -> dict[str, Any]:
    """K=V arguments into a dict: whole numbers become ints, true/false booleans; with ``nested``, a dotted key
    (tcp.maxConnections) becomes nested mappings."""
    from .errors import InvalidInput

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{item[:80]!r} is not K=V.", hint="e.g. v1=90 v2=10, or tcp.maxConnections=100.")
        parsed: Any = int(value) if value.lstrip("-").isdigit() else {"true": True, "false": False}.get(
            value.lower(), value)
        node, parts = out, key.split(".") if nested else [key]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = parsed
    return out


def _serve(args: argparse.Namespace) -> int:
    from .runtime import RUNTIME, configure
    from .server import serve

    sb = None
    if args.sandbox:
        from .sandbox import Sandbox

        sb = Sandbox().start()
        configure(sb.kubeconfig, "sandbox", getattr(args, "timeout", None), getattr(args, "read_only", False),
                  getattr(args, "prometheus_url", None))
        print(f"sandbox cluster: KUBECONFIG={sb.kubeconfig}", file=sys.stderr)
        import signal

        def stop(*_: object) -> None:  # SIGTERM (even mid-call): no Envoy, netns or temp folder left behind
            sb.stop()
            os._exit(143)
        signal.signal(signal.SIGTERM, stop)
    try:
        serve(args.transport, args.host, args.port, read_only=RUNTIME.read_only)
    finally:
        if sb:
            sb.stop()
    return 0


def _tools() -> int:
    from .render import table
    from .runtime import RUNTIME
    from .tools.registry import load_tools

    rows = [[t.name, t.title, "read" if t.read_only else "write" + (", destructive" if t.destructive else ""),
             ", ".join(o.view for o in t.operations if o.view) or "-"] for t in load_tools(read_only=RUNTIME.read_only)]
    print(table(["TOOL", "TITLE", "KIND", "VIEWS / ACTIONS"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
